"""The ``hybrid`` model: leakage-free combiner, cold start, sklearn contract, persistence."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import calbio
from calbio.core.errors import CalbioInputError
from calbio.core.seeds import child_seed
from calbio.data.coerce import as_mapped_pairs
from calbio.models import resolve_model
from calbio.models.hybrid import FEATURES, GraphFeatures, Hybrid, carve, hash_unit


@pytest.fixture(scope="module")
def data(synthetic):
    emb = synthetic.embeddings
    return emb, as_mapped_pairs(synthetic.pairs, emb, 0.5).idx


def _hybrid(**kw) -> Hybrid:
    opts = {"hidden": 32, "epochs": 3, "batch_size": 128, "gnn": False, "random_state": 0}
    opts.update(kw)
    return Hybrid(**opts)


@pytest.fixture(scope="module")
def fitted(data):
    emb, idx = data
    return _hybrid(gnn=True).fit(emb, idx[:-40])  # the last 40 pairs are never trained on


def test_registered_and_sklearn_contract() -> None:
    model = resolve_model("hybrid", prior_strength=0.5, negatives="degree")
    assert isinstance(model, Hybrid) and model.get_params()["prior_strength"] == 0.5
    assert model.get_params()["negatives"] == "degree"
    twin = clone(model)
    assert twin is not model and twin.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        model.score_pairs(np.array([[0, 1]]))
    with pytest.raises(NotFittedError):
        model.score_rows(np.array([0]))


def test_bad_parameters_are_input_errors(data) -> None:
    emb, idx = data
    for bad in (
        {"val_fraction": 0.0},
        {"cold_fraction": 1.0},
        {"prior_strength": -1.0},
        {"gate": "x"},
        {"closure_gap": 0.0},
        {"prior": {"nope": 1.0}},
        {"val_negatives": 0},
        {"negatives": "nope"},
        {"cal_params": {"epochs": 2}},
        {"cal_params": {"no_such": 1}},
    ):
        with pytest.raises(CalbioInputError):
            _hybrid(**bad).fit(emb, idx)


def test_missing_torch_geometric_is_an_input_error(data, monkeypatch) -> None:
    emb, idx = data
    monkeypatch.setitem(sys.modules, "torch_geometric", None)
    with pytest.raises(CalbioInputError, match="gnn=False"):
        _hybrid(gnn=True).fit(emb, idx)
    # the default ("auto") fits without the GraphSAGE feature and says so
    model = _hybrid(gnn="auto").fit(emb, idx)
    assert model.gnn_used_ is False and model.gnn_vectors_ is None
    with pytest.raises(CalbioInputError, match="gnn must be"):
        _hybrid(gnn="sometimes").fit(emb, idx)


def test_hash_carve_does_not_depend_on_other_pairs(data) -> None:
    emb, idx = data
    n = len(emb)
    fit, warm, cold = carve(idx, n, 0.2, 0.1, 3)
    assert len(fit) + len(warm) + len(cold) == len(idx) and len(warm) and len(cold)
    # dropping a carved pair leaves the rest of the carve unchanged
    fit2, warm2, cold2 = carve(idx[~(idx == warm[0]).all(axis=1)], n, 0.2, 0.1, 3)
    np.testing.assert_array_equal(fit, fit2)
    np.testing.assert_array_equal(warm[1:], warm2)
    np.testing.assert_array_equal(cold, cold2)
    u = hash_unit(np.arange(100_000), 0)
    assert 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01


@pytest.mark.parametrize("which", ["warm", "cold"])
def test_validation_pair_never_contributes_to_its_own_features(data, which) -> None:
    """Features of a validation pair are identical whether or not it is a training pair."""
    emb, idx = data
    model = _hybrid(val_fraction=0.2, cold_fraction=0.1)
    with_pair = model.validation_features(emb, idx)
    labels = with_pair[which]["y"]
    v = with_pair[which]["pairs"][labels == 1][0]
    row = with_pair[which]["X"][labels == 1][0]
    is_v = ((idx == v) | (idx == v[::-1])).all(axis=1)
    assert is_v.sum() == 1
    without = model.validation_features(emb, idx[~is_v])
    graph, feats = ("warm_graph", "warm_features") if which == "warm" else ("pairs", "features")
    # the pair is absent from the graph its features come from, and from CAL's training ...
    for key in ("pairs", graph):
        g = with_pair["fit"][key]
        assert not ((g == v) | (g == v[::-1])).all(axis=1).any()
    np.testing.assert_array_equal(with_pair["fit"]["pairs"], without["fit"]["pairs"])
    # ... so its features come out the same when it is not a training pair at all
    np.testing.assert_allclose(without["fit"][feats].pairs(v[None]), row[None], rtol=1e-12)


def test_graph_features_match_dense_formulas() -> None:
    rng = np.random.default_rng(0)
    n = 30
    e = np.unique(np.sort(rng.integers(0, n, (90, 2)), axis=1), axis=0)
    e = e[e[:, 0] != e[:, 1]]
    L, R, E = (rng.standard_normal((n, 4)) for _ in range(3))
    f = GraphFeatures(e, n, L, R, E)
    A = np.zeros((n, n))
    A[e[:, 0], e[:, 1]] = A[e[:, 1], e[:, 0]] = 1
    deg = A.sum(1)
    isq = np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1)), 0)
    aa = np.where(deg >= 2, 1 / np.log(np.maximum(deg, 2)), 0)
    mean = A / np.maximum(deg, 1)[:, None]
    S = L @ R.T
    expect = {
        "cal": S,
        "log_cn": np.log1p(A @ A),
        "log_aa": np.log1p(A @ np.diag(aa) @ A),
        "log_l3": np.log1p(A @ np.diag(isq) @ A @ np.diag(isq) @ A),
        "prop2": mean @ S @ mean.T,
    }
    grid = np.stack(np.meshgrid(np.arange(n), np.arange(n), indexing="ij"), -1).reshape(-1, 2)
    X = f.pairs(grid)
    rows = f.rows(np.arange(n), np.arange(n))
    for name, want in expect.items():
        k = FEATURES.index(name)
        np.testing.assert_allclose(X[:, k].reshape(n, n), want, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(rows[k], want, atol=1e-9, err_msg=name)


def test_fit_score_and_rows_agree(fitted, data) -> None:
    emb, idx = data
    n = len(emb)
    assert set(fitted.combiners_) == {"warm", "cold"}
    assert fitted.combiners_["warm"]["coef"].shape == (len(FEATURES),)
    assert fitted.validation_["warm"]["n_pos"] > 0
    rows = fitted.score_rows(np.arange(10), None)
    assert rows.shape == (10, n) and np.isfinite(rows).all()
    grid = np.stack(np.meshgrid(np.arange(10), np.arange(n), indexing="ij"), -1).reshape(-1, 2)
    np.testing.assert_allclose(fitted.score_pairs(grid).reshape(10, n), rows, rtol=1e-9)
    # symmetric, and the held-out pairs score above random pairs on average
    np.testing.assert_allclose(fitted.score_pairs(idx[-40:]), fitted.score_pairs(idx[-40:, ::-1]))
    rnd = np.random.default_rng(0).integers(0, n, (400, 2))
    assert fitted.score_pairs(idx[-40:]).mean() > fitted.score_pairs(rnd).mean()


def test_cold_start_uses_the_cold_combiner(data) -> None:
    emb, idx = data
    lonely = int(idx[0, 0])
    keep = ~(idx == lonely).any(axis=1)
    model = _hybrid().fit(emb, idx[keep])
    pairs = np.stack([np.full(20, lonely), np.arange(20) + (np.arange(20) >= lonely)], 1)
    s = model.score_pairs(pairs)
    assert np.isfinite(s).all() and s.std() > 0
    f = model._features()
    X = f.pairs(pairs)
    assert (X[:, FEATURES.index("log_cn")] == 0).all()
    cold = model.combiners_["cold"]
    np.testing.assert_allclose(s, X @ cold["coef"] + cold["intercept"][0])


def test_save_load_round_trip(fitted, data, tmp_path) -> None:
    emb, idx = data
    fitted.save(tmp_path / "m")
    back = calbio.models.base.AssociationModelBase.load(tmp_path / "m")
    assert isinstance(back, Hybrid) and back.get_params() == fitted.get_params()
    assert back.validation_ == fitted.validation_
    np.testing.assert_array_equal(back.gnn_vectors_, fitted.gnn_vectors_)
    for name in ("warm", "cold"):
        np.testing.assert_array_equal(
            back.combiners_[name]["coef"], fitted.combiners_[name]["coef"]
        )
    np.testing.assert_allclose(back.score_pairs(idx), fitted.score_pairs(idx), rtol=1e-6)
    np.testing.assert_array_equal(back.train_pairs_, fitted.train_pairs_)
    # explanations survive the round trip (standardisation saved with the weights)
    pd.testing.assert_frame_equal(back.explain(idx[:20]), fitted.explain(idx[:20]), rtol=1e-6)
    assert back.graph_stats_ == fitted.graph_stats_ and back.strength_ == fitted.strength_
    assert back.closure_ == fitted.closure_


@pytest.mark.parametrize(
    "opts",
    [
        {"gate": "transitivity", "dense_warm_graph": False},
        {"refit_cal": False, "gnn": True},
    ],
)
def test_options_fit_and_score(data, opts) -> None:
    emb, idx = data
    model = _hybrid(**opts).fit(emb, idx)
    s = model.score_pairs(idx[:50])
    assert np.isfinite(s).all()
    if not opts.get("refit_cal", True):
        np.testing.assert_array_equal(model.cal_.train_pairs_, carve(idx, len(emb), 0.1, 0.1, 0)[0])


@pytest.mark.parametrize("protocol", ["edge", "node"])
def test_evaluate_runs_hybrid(synthetic, protocol) -> None:
    res = calbio.evaluate(
        synthetic.embeddings,
        synthetic.pairs,
        model="hybrid",
        model_kwargs={"hidden": 32, "epochs": 3, "gnn": False},
        protocol=protocol,
        n_boot=20,
    )
    m = res.methods["hybrid"]
    assert 0.5 < m["auc"] <= 1.0 and m["mrr"] > 0
    assert res.models["hybrid"].random_state == child_seed(42, "model/hybrid")  # set once


def test_nonnegative_bounds_every_evidence_weight_at_zero(data) -> None:
    from calbio.models.hybrid.estimator import EVIDENCE

    emb, idx = data
    free = _hybrid(prior_strength=0.0, gate="none", nonnegative=False).fit(emb, idx)
    bounded = _hybrid(prior_strength=0.0, gate="none").fit(emb, idx)  # bounded by default
    w_free, w_bounded = free.weights()[list(EVIDENCE)], bounded.weights()[list(EVIDENCE)]
    assert (w_bounded.to_numpy() >= -1e-12).all()
    assert (w_free.to_numpy() < -1e-6).any()  # unbounded, some evidence weight goes negative
    assert set(EVIDENCE) == set(FEATURES) - {"log_deg_sum", "log_deg_min"}


def test_cold_scores_sit_on_the_warm_combiners_scale(data) -> None:
    """cold_scale="warm": over the cold validation pairs, the cold combiner's scores have the
    mean and spread of the warm combiner's scores of the same pairs, and keep their order."""
    emb, idx = data
    model = _hybrid()
    val = model.validation_features(emb, idx)
    own = model.set_params(cold_scale="own").fit_combiners(val, 1.0)
    warm = model.set_params(cold_scale="warm").fit_combiners(val, 1.0)
    X = val["cold"]["X"]

    def score(c):
        return X @ c["coef"] + c["intercept"][0]

    assert np.allclose(warm["warm"]["coef"], own["warm"]["coef"])  # the warm combiner is as fitted
    s_ref, s_cold, s_own = score(warm["warm"]), score(warm["cold"]), score(own["cold"])
    assert s_cold.mean() == pytest.approx(s_ref.mean(), abs=1e-9)
    assert s_cold.std() == pytest.approx(s_ref.std(), rel=1e-9)
    assert np.corrcoef(s_cold, s_own)[0, 1] == pytest.approx(1.0)  # same order of cold pairs
    assert abs(s_own.mean() - s_ref.mean()) > 1e-3  # ... which their own scale does not give


def test_cold_scale_is_checked_before_reading(tmp_path) -> None:
    with pytest.raises(CalbioInputError, match="cold_scale"):
        _hybrid(cold_scale="platt").fit(tmp_path / "missing.csv", tmp_path / "missing.csv")


def test_a_model_saved_before_cold_scale_loads_with_its_own_scale(data, tmp_path) -> None:
    """Models saved before ``cold_scale`` existed scored cold pairs on their own Platt scale;
    loading one says so in its parameters (a clone refits the same way); scores are unchanged."""
    import json

    from calbio.models.persistence import load_model

    emb, idx = data
    model = _hybrid(cold_scale="own").fit(emb, idx)
    model.save(tmp_path / "m")
    cfg_path = tmp_path / "m" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    del cfg["state"]["cold_scale"], cfg["params"]["cold_scale"]  # as session 4 wrote it
    del cfg["state"]["closure_gap"], cfg["params"]["closure_gap"]
    cfg_path.write_text(json.dumps(cfg))
    old = load_model(tmp_path / "m")
    assert old.get_params()["cold_scale"] == "own"
    assert old.get_params()["closure_gap"] is None  # nor had it a closure gate
    assert clone(old).cold_scale == "own"
    pairs = np.asarray(idx)[:20]
    np.testing.assert_allclose(old.score_pairs(pairs), model.score_pairs(pairs))
    assert load_model(tmp_path / "m").cold_scale == "own"


def _clique_world(n: int = 240, n_sets: int = 40, size: int = 8, seed: int = 0):
    """Random embeddings (the cosine says nothing) and pairs of co-members of random sets."""
    rng = np.random.default_rng(seed)
    names = np.array([f"g{i}" for i in range(n)], dtype=object)
    emb = calbio.data.types.Embeddings(names, rng.normal(size=(n, 16)).astype(np.float32))
    members = [rng.choice(n, size=size, replace=False) for _ in range(n_sets)]
    pairs = {(min(a, b), max(a, b)) for m in members for a in m for b in m if a != b}
    return emb, np.array(sorted(pairs), dtype=np.int64)


def test_closure_gate_pulls_a_graph_of_cliques_to_the_prior() -> None:
    """Co-members of sets: Adamic-Adar gives the carve's pairs away and the cosine does not, so
    the closure gate raises the shrinkage far above the coverage gate's."""
    from calbio.models.hybrid.estimator import CLOSURE_POWER

    emb, idx = _clique_world()
    model = _hybrid().fit(emb, idx)
    plain = _hybrid(closure_gap=None).fit(emb, idx)
    assert model.closure_ > 0.4 and plain.closure_ == model.closure_
    want = model.prior_strength * (model.closure_ / model.closure_gap) ** CLOSURE_POWER
    assert model.strength_ == pytest.approx(max(want, plain.strength_))
    assert model.strength_ > 100 * max(plain.strength_, 1.0)


def test_closure_gate_leaves_a_graph_the_embedding_explains_alone(data) -> None:
    """The synthetic world's pairs follow its embedding: the closure stays far under the gap,
    its pull is negligible, and the fit is the coverage gate's."""
    emb, idx = data
    model = _hybrid().fit(emb, idx)
    plain = _hybrid(closure_gap=None).fit(emb, idx)
    assert model.closure_ < 0.8 * model.closure_gap
    assert model.strength_ < max(plain.strength_, 1e-6)
    for name in ("warm", "cold"):
        np.testing.assert_allclose(
            model.combiners_[name]["coef"], plain.combiners_[name]["coef"], atol=1e-6
        )


def test_closure_is_adamic_adars_lead_over_the_cosine_within_queries() -> None:
    """closure(): Adamic-Adar's within-query AUC minus the cosine's (CAL, which learns the
    graph, is not the reference); ties count half."""
    from calbio.models.hybrid.estimator import closure

    # two queries: positive rows 0 and 1, each with two negatives at its anchor (src)
    src = np.array([0, 1, 0, 0, 1, 1])
    y = np.array([1, 1, 0, 0, 0, 0])
    X = np.zeros((6, len(FEATURES)))
    X[:, FEATURES.index("log_aa")] = [2, 2, 1, 1, 1, 2]  # wins 3 contrasts, ties 1: AUC 0.875
    X[:, FEATURES.index("cosine")] = [0, 0, 1, 0, 1, 1]  # wins none, ties 1: AUC 0.125
    X[:, FEATURES.index("cal")] = X[:, FEATURES.index("log_aa")]
    val = {"warm": {"X": X, "y": y, "src": src}}
    assert closure(val) == pytest.approx(0.875 - 0.125)
    empty = {"warm": {"X": X[2:], "y": y[2:], "src": src[2:]}}  # no positive: no contrast
    assert closure(empty) == 0.0
