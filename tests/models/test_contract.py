"""One contract for every registered model (a new registration is tested without a new test).

fit -> self; NotFittedError before fit; get_params / set_params / clone (sklearn); score_pairs
by names or rows; score_rows equal to score_pairs on the grid; score_vectors (when factorised)
equal to the scores; query agrees with the scores; save / load gives identical scores.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from calbio.data.types import Embeddings
from calbio.models import AssociationModel, available_models, resolve_model
from calbio.models.persistence import load_model

# Tiny training options per model (any model not listed here is fitted with its defaults).
TINY: dict[str, dict] = {
    "cal": {"preset": "fast", "hidden": 32, "epochs": 2, "batch_size": 128},
    "context": {
        "calibration": "none",
        "hidden": 32,
        "depth": 2,
        "epochs": 2,
        "batch_size": 64,
        "threads": 1,
    },
    "sage": {"hidden": 16, "out": 8, "epochs": 3},
    "hybrid": {"hidden": 32, "epochs": 2, "batch_size": 128, "gnn": False},
}
# Models that need a particular table (Tanimoto: binary fingerprints).
BINARY = {"tanimoto"}
PAIRS = np.array([[0, 1], [1, 0], [2, 3], [5, 40], [7, 7]])


def _params(name: str) -> dict:
    opts = dict(TINY.get(name, {}))
    if "random_state" in resolve_model(name).get_params():
        opts["random_state"] = 0
    return opts


@pytest.fixture(scope="module")
def tables(synthetic) -> dict[str, Embeddings]:
    emb = synthetic.embeddings
    bits = Embeddings(emb.names, (emb.X > 0.3).astype(np.float32))
    return {"dense": emb, "binary": bits}


@pytest.fixture(scope="module", params=available_models())
def fitted(request, synthetic, tables):
    name = request.param
    if name == "sage":
        pytest.importorskip("torch_geometric")
    emb = tables["binary" if name in BINARY else "dense"]
    model = resolve_model(name, **_params(name))
    assert model.fit(emb, synthetic.pairs) is model
    return name, model, emb


@pytest.mark.parametrize("name", available_models())
def test_unfitted_contract(name: str) -> None:
    model = resolve_model(name, **_params(name))
    assert isinstance(model, AssociationModel)
    for call in (
        lambda: model.score_pairs(np.array([[0, 1]])),
        lambda: model.score_rows(np.array([0]), np.array([1])),
        lambda: check_is_fitted(model),
    ):
        with pytest.raises(NotFittedError):
            call()
    params = model.get_params()
    assert model.set_params(**params) is model and model.get_params() == params
    twin = clone(model)
    assert twin is not model and twin.get_params() == params


def test_scores(fitted) -> None:
    name, model, emb = fitted
    check_is_fitted(model)
    s = model.score_pairs(PAIRS)
    assert s.shape == (len(PAIRS),) and s.dtype == np.float64 and np.isfinite(s).all()
    distinct = PAIRS[[0, 2, 3]]  # names go through the pair reader (no self-pairs, no repeats)
    np.testing.assert_array_equal(model.score_pairs(emb.names[distinct]), s[[0, 2, 3]])
    q, c = np.array([0, 2, 5]), np.array([1, 3, 40, 7])
    grid = model.score_rows(q, c)
    assert grid.shape == (3, 4)
    want = model.score_pairs(np.array([[a, b] for a in q for b in c])).reshape(3, 4)
    np.testing.assert_allclose(grid, want, rtol=1e-5, atol=1e-6)
    vectors = model.score_vectors()
    if vectors is not None:
        left, right = vectors
        np.testing.assert_allclose(left[q] @ right[c].T, want, rtol=1e-4, atol=1e-5)


def test_query_agrees_with_scores(fitted) -> None:
    name, model, emb = fitted
    table = model.query(emb.names[2], top=5)
    assert len(table) == 5 and emb.names[2] not in set(table["partner"])
    assert np.all(np.diff(table["association"].to_numpy()) <= 1e-12)  # best first
    rows = np.array([model.index_of(p) for p in table["partner"]])
    direct = model.score_pairs(np.stack([np.full(5, 2), rows], axis=1))
    np.testing.assert_allclose(table["association"].to_numpy(), direct, rtol=1e-5, atol=1e-6)


def test_clone_of_fitted_is_unfitted(fitted) -> None:
    name, model, emb = fitted
    fresh = clone(model)
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)
    assert fresh.get_params() == model.get_params()


def test_save_load_round_trip_gives_identical_scores(fitted, tmp_path) -> None:
    name, model, emb = fitted
    back = load_model(model.save(tmp_path / name))
    assert type(back) is type(model)
    assert back.get_params() == model.get_params()
    np.testing.assert_array_equal(back.score_pairs(PAIRS), model.score_pairs(PAIRS))
    q, c = np.array([0, 2]), np.array([1, 3, 40])
    np.testing.assert_array_equal(back.score_rows(q, c), model.score_rows(q, c))
