"""Exact all-pairs retrieval equals brute force; the faiss index and the CLI agree with it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from calbio.data.synthetic import make_synthetic
from calbio.models.cal.estimator import CAL
from calbio.retrieval.exact import (
    exact_neighbors,
    model_neighbors,
    neighbors_table,
    topk_inner_product,
)
from calbio.scoring import l2_normalize, score_rows


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return l2_normalize(rng.standard_normal((n, d)))


def _brute(Z: np.ndarray, E: np.ndarray, k: int, kind: str = "half") -> tuple:
    S = score_rows(Z, E, np.arange(len(E)), None, kind).astype(np.float64)
    np.fill_diagonal(S, -np.inf)
    order = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(S, order, 1)


@pytest.mark.parametrize("tile", [7, 64 * 64, 1 << 24])
@pytest.mark.parametrize("kind", ["half", "both", "cosine", "blend"])
def test_exact_equals_brute_force(tile: int, kind: str) -> None:
    """Same partners, same order and same scores as the dense n x n computation."""
    rng = np.random.default_rng(0)
    Z, E = _unit(rng, 257, 12), _unit(rng, 257, 12)
    nb = exact_neighbors(Z, E, 9, kind=kind, tile=tile)
    ref_i, ref_s = _brute(Z, E, 9, kind)
    np.testing.assert_allclose(nb.score, ref_s, atol=1e-5)
    assert (nb.index == ref_i).mean() > 0.999  # float ties may swap equal-score neighbours
    assert not (nb.index == np.arange(257)[:, None]).any()  # never its own partner
    assert (np.diff(nb.score, axis=1) <= 1e-7).all()  # sorted by decreasing score


def test_query_subset_and_k_larger_than_candidates() -> None:
    """A subset of query rows gets the same rows as the full run; k > n-1 pads with -1."""
    rng = np.random.default_rng(1)
    Z, E = _unit(rng, 40, 5), _unit(rng, 40, 5)
    full = exact_neighbors(Z, E, 6, tile=50)
    q = np.array([3, 17, 39])
    sub = exact_neighbors(Z, E, 6, queries=q, tile=50)
    np.testing.assert_array_equal(sub.index, full.index[q])
    small = topk_inner_product(E[:4], E[:4], 5)
    assert (small.index[:, 3:] == -1).all() and np.isneginf(small.score[:, 3:]).all()
    assert (small.index[:, :3] >= 0).all()


def test_table_ranks_cosine_and_known_flags() -> None:
    """Ranks 1..k per entity; cosine is e_a.e_b; `known` marks training pairs either way round."""
    rng = np.random.default_rng(2)
    Z, E = _unit(rng, 30, 6), _unit(rng, 30, 6)
    nb = exact_neighbors(Z, E, 4)
    names = np.array([f"G{i}" for i in range(30)], dtype=object)
    # make the best partner of 0 a training pair stored as (partner, 0), and one non-neighbour
    best = int(nb.index[0, 0])
    far = int(np.setdiff1d(np.arange(1, 30), nb.index[0])[0])
    table = neighbors_table(nb, names, E, np.array([[best, 0], [0, far]]))
    assert len(table) == 30 * 4
    assert list(table.columns) == ["entity", "rank", "partner", "association", "cosine", "known"]
    np.testing.assert_array_equal(table["rank"].to_numpy().reshape(30, 4), [[1, 2, 3, 4]] * 30)
    assert (table.entity.to_numpy().reshape(30, 4) == names[:, None]).all()
    row = table[(table.entity == "G0") & (table["rank"] == 1)].iloc[0]
    assert row.partner == f"G{best}" and bool(row.known)
    train = {frozenset((f"G{best}", "G0")), frozenset(("G0", f"G{far}"))}
    expected = [
        frozenset((e, p)) in train for e, p in zip(table.entity, table.partner, strict=True)
    ]
    np.testing.assert_array_equal(table.known.to_numpy(), expected)
    assert not ((table.entity == "G0") & (table.partner == f"G{far}")).any()
    i = names.tolist().index(table.entity[5])
    j = names.tolist().index(table.partner[5])
    assert table.cosine[5] == pytest.approx(float(E[i] @ E[j]), abs=1e-6)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> tuple:
    """A small fitted and saved CAL on synthetic data."""
    d = make_synthetic(n_entities=200, dim=8, n_pairs=600, seed=3)
    model = CAL("paper", random_state=0, hidden=16, epochs=2).fit(d.embeddings, d.pairs)
    path = tmp_path_factory.mktemp("m") / "model"
    model.save(path)
    return model, path


def test_model_neighbors_match_query(tiny_model) -> None:
    """All-entity table agrees with CAL.query for one entity (partners, scores, flags)."""
    model, _ = tiny_model
    table = model_neighbors(model, top=10)
    name = str(model.names_[5])
    q = model.query(name, top=10)
    mine = table[table.entity == name].reset_index(drop=True)
    np.testing.assert_allclose(mine.association, q.association, atol=1e-5)
    assert set(mine.partner) == set(q.partner)
    assert mine.known.sum() == q.training_pair.sum()


def test_flat_and_ivf_index_against_exact(tiny_model, tmp_path) -> None:
    """A flat index returns the exact neighbours; IVF searching every cell does too."""
    pytest.importorskip("faiss")
    from calbio.core.errors import CalbioInputError
    from calbio.retrieval.index import (
        build_index,
        build_model_index,
        load_index,
        model_index_neighbors,
        save_index,
        search_index,
    )

    model, _ = tiny_model
    exact = exact_neighbors(model.association_, model.embedding_, 10)
    idx, meta = build_model_index(model, "flat")
    save_index(idx, tmp_path / "ix", meta)
    with pytest.raises(CalbioInputError):
        save_index(idx, tmp_path / "ix", meta)  # no overwrite without force
    loaded, meta2 = load_index(tmp_path / "ix")
    nb = model_index_neighbors(model, loaded, meta2, 10)
    np.testing.assert_allclose(nb.score, exact.score, atol=1e-5)
    assert (nb.index == exact.index).mean() > 0.99
    rng = np.random.default_rng(4)
    X = _unit(rng, 2000, 16)
    ivf = build_index(X, "ivf", nlist=16, nprobe=16)
    ref = topk_inner_product(X, X, 5)
    got = search_index(ivf, X, 5)
    assert (got.index == ref.index).mean() > 0.99
    bad = dict(meta2, right_sha256="0" * 64)
    with pytest.raises(CalbioInputError):
        model_index_neighbors(model, loaded, bad, 10)


def test_cli_neighbors_and_index(tiny_model, tmp_path) -> None:
    """`calbio neighbors` writes Parquet/CSV; refuses to overwrite; --index path agrees."""
    from calbio.cli.main import app

    model, path = tiny_model
    runner = CliRunner()
    out = tmp_path / "nb.parquet"
    res = runner.invoke(app, ["neighbors", str(path), "--top", "7", "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(out)
    assert len(table) == len(model.names_) * 7
    assert set(table.columns) == {"entity", "rank", "partner", "association", "cosine", "known"}
    again = runner.invoke(app, ["neighbors", str(path), "--top", "7", "--out", str(out)])
    assert again.exit_code != 0
    bad = runner.invoke(app, ["neighbors", str(path), "--out", str(tmp_path / "x.txt")])
    assert bad.exit_code != 0
    pytest.importorskip("faiss")
    ix = tmp_path / "ix"
    assert runner.invoke(app, ["index", str(path), "--out", str(ix)]).exit_code == 0
    csv = tmp_path / "nb.csv"
    res = runner.invoke(
        app, ["neighbors", str(path), "--top", "7", "--out", str(csv), "--index", str(ix)]
    )
    assert res.exit_code == 0, res.output
    approx = pd.read_csv(csv)
    np.testing.assert_allclose(approx.association, table.association, atol=1e-5)


def test_missing_faiss_is_one_clear_error(monkeypatch) -> None:
    """Without faiss the index functions raise CalbioInputError naming the extra to install."""
    import sys

    from calbio.core.errors import CalbioInputError
    from calbio.retrieval.index import build_index

    monkeypatch.setitem(sys.modules, "faiss", None)  # makes `import faiss` raise ImportError
    with pytest.raises(CalbioInputError, match=r"calbio\[index\]"):
        build_index(np.eye(3, dtype=np.float32), "flat")


def test_topk_on_a_device_matches_the_threaded_cpu_path(monkeypatch) -> None:
    from calbio.retrieval.exact import topk_inner_product

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    rng = np.random.default_rng(0)
    left = rng.standard_normal((300, 6)).astype(np.float32)
    right = rng.standard_normal((300, 6)).astype(np.float32)
    ref = topk_inner_product(left, right, 7, tile=1000, workers=2)
    for device in ("cpu", "auto"):
        got = topk_inner_product(left, right, 7, tile=1000, device=device)
        np.testing.assert_array_equal(got.index, ref.index)
        np.testing.assert_array_equal(got.score, ref.score)
