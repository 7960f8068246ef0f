"""The ``sage`` GraphSAGE link predictor: learning, cold start, sklearn contract, persistence."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

pytest.importorskip("torch_geometric")

import calbio  # noqa: E402
from calbio.core.errors import CalbioInputError  # noqa: E402
from calbio.data.coerce import as_mapped_pairs  # noqa: E402
from calbio.models import resolve_model  # noqa: E402
from calbio.models.base import AssociationModelBase  # noqa: E402
from calbio.models.graph.sage import SAGE  # noqa: E402

HELD = 150  # the last pairs are never trained on


@pytest.fixture(scope="module")
def data(synthetic):
    emb = synthetic.embeddings
    return emb, as_mapped_pairs(synthetic.pairs, emb, 0.5).idx


@pytest.fixture(scope="module")
def fitted(data):
    emb, idx = data
    return SAGE(epochs=60, random_state=0).fit(emb, idx[:-HELD])


def test_sklearn_contract() -> None:
    model = resolve_model("sage", hidden=16)
    assert isinstance(model, SAGE) and model.get_params()["hidden"] == 16
    twin = clone(model)
    assert twin is not model and twin.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        model.score_pairs(np.array([[0, 1]]))


def test_missing_torch_geometric_is_an_input_error(data, monkeypatch) -> None:
    emb, idx = data
    monkeypatch.setitem(sys.modules, "torch_geometric.nn", None)
    with pytest.raises(CalbioInputError, match="calbio\\[graph\\]"):
        SAGE(epochs=1).fit(emb, idx)


def test_bad_parameters_are_input_errors(data) -> None:
    emb, idx = data
    for bad in ({"layers": 0}, {"supervision_fraction": 1.0}, {"node_dropout": -0.1}):
        with pytest.raises(CalbioInputError):
            SAGE(epochs=1, **bad).fit(emb, idx)


def test_learns_held_out_pairs(fitted, data) -> None:
    emb, idx = data
    rng = np.random.default_rng(1)
    neg = rng.integers(0, len(emb), (5 * HELD, 2))
    s = np.r_[fitted.score_pairs(idx[-HELD:]), fitted.score_pairs(neg)]
    y = np.r_[np.ones(HELD), np.zeros(len(neg))]
    assert roc_auc_score(y, s) > 0.7
    assert fitted.loss_[-1] < fitted.loss_[0]


def test_rows_match_pairs_and_are_symmetric(fitted, data) -> None:
    emb, idx = data
    rows = fitted.score_rows(np.arange(5))
    grid = np.stack(np.meshgrid(np.arange(5), np.arange(len(emb)), indexing="ij"), -1)
    np.testing.assert_allclose(
        fitted.score_pairs(grid.reshape(-1, 2)), rows.ravel(), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        fitted.score_pairs(idx), fitted.score_pairs(idx[:, ::-1]), rtol=1e-5, atol=1e-6
    )


def test_cold_start_entity_gets_a_vector_from_its_own_features(data) -> None:
    emb, idx = data
    lonely = np.unique(idx[:2, 0])
    assert len(lonely) == 2
    model = SAGE(epochs=20, random_state=0).fit(emb, idx[~np.isin(idx, lonely).any(axis=1)])
    h = model.node_vectors_[lonely]
    assert np.isfinite(h).all() and (np.linalg.norm(h, axis=1) > 0).all()
    # two entities without any neighbour differ only by their own features
    assert not np.allclose(h[0], h[1], atol=1e-4)
    s = model.score_pairs(np.stack([np.full(10, lonely[0]), np.arange(10) + 300 - 10], 1))
    assert np.isfinite(s).all() and s.std() > 0


def test_seeded_and_threads_restored(data) -> None:
    import torch

    emb, idx = data
    before = torch.get_num_threads()
    a = SAGE(epochs=5, random_state=3).fit(emb, idx)
    b = SAGE(epochs=5, random_state=3).fit(emb, idx)
    np.testing.assert_array_equal(a.node_vectors_, b.node_vectors_)
    assert torch.get_num_threads() == before


def test_save_load_round_trip(fitted, data, tmp_path) -> None:
    emb, idx = data
    fitted.save(tmp_path / "m")
    back = AssociationModelBase.load(tmp_path / "m")
    assert isinstance(back, SAGE) and back.get_params() == fitted.get_params()
    np.testing.assert_array_equal(back.node_vectors_, fitted.node_vectors_)
    assert back.loss_ == fitted.loss_
    np.testing.assert_array_equal(back.embed(idx[:-HELD]), fitted.node_vectors_)
    np.testing.assert_array_equal(back.score_pairs(idx), fitted.score_pairs(idx))


def test_evaluate_runs_sage_in_node_protocol(synthetic) -> None:
    res = calbio.evaluate(
        synthetic.embeddings,
        synthetic.pairs,
        model="sage",
        model_kwargs={"epochs": 30},
        protocol="node",
        n_boot=20,
    )
    assert 0.5 < res.methods["sage"]["auc"] <= 1.0


def test_sage_parameters_are_its_specs_and_checked_before_reading(tmp_path) -> None:
    import inspect

    from calbio.models.graph.sage import SAGE_SPECS

    params = inspect.signature(SAGE.__init__).parameters
    assert sorted(n for n in params if n not in ("self", "random_state")) == sorted(SAGE_SPECS)
    for name, spec in SAGE_SPECS.items():
        assert params[name].default == spec.default, name
    with pytest.raises(CalbioInputError, match=r"--supervision-fraction \(supervision_fraction\)"):
        SAGE(supervision_fraction=1.0).check_params()
    missing = tmp_path / "absent.csv"  # the option error comes first: nothing is read
    with pytest.raises(CalbioInputError, match=r"--hidden must be an integer >= 1"):
        calbio.evaluate(missing, missing, model=SAGE(hidden=0))
    with pytest.raises(CalbioInputError, match=r"--hidden must be an integer >= 1"):
        SAGE(hidden=0).fit(missing, missing)  # fit itself checks before reading too
