"""calbio.transfer / calbio transfer: train on each file, score the others' novel pairs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import calbio
import calbio.evaluation.transfer as T
from calbio.core.graph import pair_keys
from calbio.data.pairs import pairs_from_list


@pytest.fixture(scope="module")
def three_files(synthetic):
    """A; B = half of A's pairs REVERSED plus new pairs; C = a subset of A (no novel pairs)."""
    a, b = np.asarray(synthetic.pairs.a), np.asarray(synthetic.pairs.b)
    A = pairs_from_list(list(zip(a[:800], b[:800])), "A.csv")
    B = pairs_from_list(list(zip(b[:400], a[:400])) + list(zip(a[800:], b[800:])), "B.csv")
    C = pairs_from_list(list(zip(a[:200], b[:200])), "C.csv")
    return A, B, C


def _keys(pairs, emb) -> np.ndarray:
    idx = calbio.map_pairs(pairs, emb).idx
    return np.unique(pair_keys(idx, len(emb)))


def test_transfer_never_scores_a_pair_of_the_training_file(
    synthetic, three_files, tiny, monkeypatch
) -> None:
    emb = synthetic.embeddings
    seen: list[tuple[str, object]] = []
    real = T.score_pairset

    def spy(methods, ps, *args, **kwargs):
        seen.append((ps.name, ps))
        return real(methods, ps, *args, **kwargs)

    monkeypatch.setattr(T, "score_pairset", spy)
    r = calbio.transfer(emb, list(three_files), model="cal", n_boot=20, heldout=False, **tiny)
    keys = dict(zip(r.files, (_keys(p, emb) for p in three_files), strict=True))
    n = len(emb)
    assert len(seen) == 4  # C is inside A and B: A->C and B->C have no novel pair
    by_cell = iter(seen)
    for train in r.files:
        for test in r.files:
            if test == train or r.cells[train][test]["n_pairs"] == 0:
                continue
            name, ps = next(by_cell)
            assert name == test
            for part in (ps.positives, ps.negatives, ps.dm_negatives):
                assert not np.isin(pair_keys(part, n), keys[train]).any(), (train, test)
            k = ps.known.tocoo()  # ranking filters every training pair, both orientations
            known = set(zip(k.row.tolist(), k.col.tolist(), strict=True))
            for key in keys[train][:50]:
                i, j = divmod(int(key), n)
                assert (i, j) in known and (j, i) in known
    sc = r.scores
    ia = pd.Index(emb.names).get_indexer(sc["a"])
    ib = pd.Index(emb.names).get_indexer(sc["b"])
    kk = pair_keys(np.stack([ia, ib], 1), n)
    for train in r.files:
        rows = (sc["train"] == train).to_numpy()
        assert rows.any()
        assert not np.isin(kk[rows], keys[train]).any()
    # B's 400 reversed copies of A's pairs are not novel for a model trained on A
    assert r.cells["A"]["B"]["n_removed_in_train_pairs"] == 400
    assert r.cells["A"]["B"]["n_pairs"] == len(keys["B"]) - 400


def test_matrix_labels_diagonal_and_empty_cells(synthetic, three_files, tiny) -> None:
    r = calbio.transfer(synthetic.embeddings, list(three_files), model="cal", n_boot=20, **tiny)
    m = r.matrix("cal", "auc")
    assert list(m.index) == list(m.columns) == ["A", "B", "C"]
    assert m.index.name == "train" and m.columns.name == "test"
    for f in r.files:  # the diagonal is the held-out edge split of the training file
        assert m.loc[f, f] == r.heldout[f]["methods"]["cal"]["auc"]
    assert m.loc["A", "B"] == r.cells["A"]["B"]["methods"]["cal"]["auc"]
    assert np.isnan(m.loc["A", "C"]) and "0 novel pairs" in r.cells["A"]["C"]["note"]
    for metric in ("auc_degree_matched", "mrr", "hits@10"):
        assert r.matrix("adamic_adar", metric).shape == (3, 3)
    lo, hi = r.matrix("cal", "mrr", ci=True).loc["B", "A"]
    assert lo <= r.cells["B"]["A"]["methods"]["cal"]["mrr"] <= hi
    d = json.loads(json.dumps(r.to_dict()))
    assert d["matrix"]["cal"]["auc"]["A"]["B"]["value"] == m.loc["A", "B"]
    assert d["matrix"]["cal"]["auc"]["A"]["A"]["heldout"] is True
    cell_verdicts = [v for v in d["verdicts"] if v["train"] == "A" and v["test"] == "B"]
    assert {v["against_kind"] for v in cell_verdicts} == {"shortcut"}
    assert {v["metric"] for v in cell_verdicts} == {"auc", "cb_auc", "auc_degree_matched", "mrr"}
    with pytest.raises(calbio.core.errors.CalbioInputError, match="metric"):
        r.matrix("cal", "accuracy")
    assert r.plot("cal", "mrr").axes[0].get_title() == "cal"


def test_inputs_are_checked_before_any_training(synthetic, three_files, monkeypatch) -> None:
    def boom(*a, **k):
        raise AssertionError("trained before the inputs were checked")

    monkeypatch.setattr(T, "fit_all", boom)
    emb = synthetic.embeddings
    A, B, _ = three_files
    with pytest.raises(calbio.core.errors.CalbioInputError, match="at least 2"):
        calbio.transfer(emb, [A])
    with pytest.raises(calbio.core.errors.CalbioInputError, match="no_such_model|unknown|not a"):
        calbio.transfer(emb, [A, B], model="no_such_model")
    alien = pairs_from_list([("x1", "x2"), ("x3", "x4")], "alien.csv")
    with pytest.raises(calbio.core.errors.CalbioInputError):
        calbio.transfer(emb, [A, B, alien])
    with pytest.raises(calbio.core.errors.CalbioInputError, match="names"):
        calbio.transfer(emb, [A, B], names=["x", "x"])


@pytest.fixture(scope="module")
def files(tmp_path_factory, three_files, synthetic):
    d = tmp_path_factory.mktemp("transfer_inputs")
    synthetic.embeddings.to_frame().to_csv(d / "emb.csv")
    for name, p in zip("ABC", three_files, strict=True):
        pd.DataFrame({"gene1": p.a, "gene2": p.b}).to_csv(d / f"{name}.csv", index=False)
    return d


def test_cli_transfer_writes_outputs(files, tmp_path, cli) -> None:
    out = tmp_path / "run"
    code, stdout, err = cli(
        ["transfer", files / "emb.csv", files / "A.csv", files / "B.csv", "--model", "cal",
         "--epochs", "2", "--hidden", "32", "--n-boot", "20", "--no-heldout", "--out", out]
    )  # fmt: skip
    assert code == 0, err
    d = json.loads((out / "transfer.json").read_text())
    assert d["files"] == ["A", "B"] and d["models"] == ["cal"]
    assert (out / "transfer_scores.csv.gz").is_file()
    assert "Transfer: AUC" in stdout and "wins" in stdout
    code, _, err = cli(["transfer", files / "emb.csv", files / "A.csv", files / "B.csv",
                        "--out", out])  # fmt: skip
    assert code == 2 and "--force" in err


@pytest.mark.parametrize("which", ["one_file", "missing_file"])
def test_cli_transfer_bad_input_is_one_line_exit_2(files, tmp_path, cli, which) -> None:
    out = tmp_path / "run"
    pairs = [files / "A.csv"] if which == "one_file" else [files / "A.csv", tmp_path / "nope.csv"]
    code, stdout, err = cli(["transfer", files / "emb.csv", *pairs, "--out", out])
    assert code == 2
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("calbio: error:"), err
    assert ("at least 2" in err) if which == "one_file" else ("nope.csv" in err)
    assert not out.exists()


def test_report_of_a_transfer_run_draws_auc_and_mrr_heatmaps(files, tmp_path, cli) -> None:
    out = tmp_path / "run"
    code, _, err = cli(
        ["transfer", files / "emb.csv", files / "A.csv", files / "B.csv", "--model", "cal",
         "--epochs", "2", "--hidden", "32", "--n-boot", "20", "--no-heldout", "--out", out]
    )  # fmt: skip
    assert code == 0, err
    page_path = tmp_path / "r.html"
    code, _, err = cli(["report", out, "--out", page_path])
    assert code == 0, err
    page = page_path.read_text()
    assert "<h2>Transfer</h2>" in page
    assert "Transfer: AUC of each method" in page
    assert "Transfer: MRR of each method" in page
