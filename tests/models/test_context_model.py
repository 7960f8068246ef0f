"""ContextCAL: what it learns, how it scores, trains, calibrates, saves; the model contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import calbio.models.context.estimator as mctx
from calbio.core.errors import CalbioInputError
from calbio.core.graph import pair_keys
from calbio.core.metrics import roc_auc
from calbio.data.context import (
    ContextEmbeddings,
    ContextPairs,
    map_context_pairs,
    within_context_negatives,
)
from calbio.data.synthetic_dose import make_dose_world
from calbio.data.types import Embeddings
from calbio.models.cal.config import TrainConfig
from calbio.models.context.estimator import ContextCAL, context_batches
from calbio.models.context.module import ContextFiLMMLP
from calbio.models.registry import resolve_model

TINY = dict(hidden=32, depth=2, epochs=4, batch_size=64, lr=1e-3, threads=1)


@pytest.fixture(scope="module")
def world():
    return make_dose_world(
        n_mechanisms=4, per_mechanism=8, n_features=12, n_lines=2, doses=(0.3, 3.0, 30.0), seed=3
    )


@pytest.fixture(scope="module")
def fitted(world):
    return ContextCAL(random_state=0, context_dim=4, **TINY).fit(world.embeddings, world.pairs)


def two_context_world(n: int = 200, d: int = 8, seed: int = 0):
    """One embedding table, measured identically in contexts A and B.

    Entity i (< n) has partner n + i = R_A e_i in A and partner 2n + i = R_B e_i in B (random
    rotations R_A, R_B): which pair holds depends on the context alone.
    """
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(n, d))
    ra, rb = (np.linalg.qr(rng.normal(size=(d, d)))[0] for _ in range(2))
    X = np.concatenate([U, U @ ra.T, U @ rb.T]).astype(np.float32)
    names = np.array([f"g{i}" for i in range(len(X))], dtype=object)
    cemb = ContextEmbeddings(
        names,
        np.array(["A", "B"], dtype=object),
        np.concatenate([X, X]),
        np.tile(np.arange(len(X)), 2),
        np.repeat(np.arange(2), len(X)),
    )
    i = np.arange(n)
    return cemb, names, np.stack([i, n + i], 1), np.stack([i, 2 * n + i], 1)


# ---------------------------------------------------------------------------- what it learns
def test_held_out_pairs_score_higher_in_their_own_context_than_in_another():
    """Identical embeddings in A and B: only the context can tell which pairs hold where."""
    cemb, names, pa, pb = two_context_world()
    tr, te = np.arange(150), np.arange(150, 200)
    pairs = ContextPairs(
        np.r_[names[pa[tr, 0]], names[pb[tr, 0]]],
        np.r_[names[pa[tr, 1]], names[pb[tr, 1]]],
        np.repeat(np.array(["A", "B"], dtype=object), len(tr)),
    )
    m = ContextCAL(
        calibration="none",
        context_dropout=0.0,
        context_dim=8,
        random_state=0,
        **{**TINY, "epochs": 40, "lr": 1e-2},
    ).fit(cemb, pairs)
    for own, other, p in ((0, 1, pa[te]), (1, 0, pb[te])):  # pairs never trained on
        assert np.mean(m.score_idx(p, own) > m.score_idx(p, other)) > 0.85
    # the context-free view cannot do this: cosine is the same in both contexts
    assert np.array_equal(m.score_idx(pa, 0, kind="cosine"), m.score_idx(pa, 1, kind="cosine"))


def test_platt_calibration_and_learning_signal(world):
    m = ContextCAL(random_state=1, calibration="platt", **{**TINY, "epochs": 40, "lr": 3e-3}).fit(
        world.embeddings, world.pairs
    )
    assert m.cal_x_[0] > 0  # higher g -> higher probability
    mapped = map_context_pairs(world.pairs, world.embeddings)
    tr = m.train_rows_
    neg = within_context_negatives(tr, 1, world.embeddings, mapped, np.random.default_rng(0))
    s = np.r_[m.score_idx(tr.idx, tr.context), m.score_idx(neg.idx, neg.context)]
    y = np.r_[np.ones(len(tr)), np.zeros(len(neg))]
    assert roc_auc(y, s) > 0.8


# ---------------------------------------------------------------------------- training
def test_context_batches_are_single_context_and_cover_every_row():
    rng = np.random.default_rng(0)
    ctx = rng.integers(0, 5, size=503)
    batches = context_batches(ctx, 16, rng)
    assert all(len(np.unique(ctx[b])) == 1 for b in batches)
    seen = np.concatenate(batches)
    assert len(seen) == len(np.unique(seen))
    # only singleton leftovers (< 2 rows) may be dropped, at most one per context
    assert len(seen) >= len(ctx) - 5


def test_training_uses_the_core_loop_within_context_batches_and_leaks_no_threads(
    world, monkeypatch
):
    """Every batch is one context; threads are the recipe's while training, restored after."""
    record: list[tuple[np.ndarray, list[np.ndarray], int]] = []
    real = mctx.context_batches

    def spy(context, batch_size, rng, drop_last=False):
        out = real(context, batch_size, rng, drop_last)
        record.append((np.asarray(context), out, torch.get_num_threads()))
        return out

    calls = []
    real_train = mctx.train_module

    def spy_train(*args, **kwargs):
        calls.append(kwargs)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(mctx, "context_batches", spy)
    monkeypatch.setattr(mctx, "train_module", spy_train)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        ContextCAL(random_state=0, calibration="none", **{**TINY, "epochs": 2}).fit(
            world.embeddings, world.pairs
        )
        assert torch.get_num_threads() == 2  # the recipe's threads=1 did not leak
    finally:
        torch.set_num_threads(before)
    assert len(calls) == 1 and calls[0]["batch_loss"] is not None  # the one core loop
    assert len(record) == 2  # one batch plan per epoch
    for ctx, batches, threads in record:
        assert threads == 1
        for b in batches:
            assert (ctx[b] == ctx[b[0]]).all()


def test_within_context_negatives_never_contain_a_known_pair_of_that_context(world):
    ce = world.embeddings
    known = map_context_pairs(world.pairs, ce)
    neg = within_context_negatives(known, 3, ce, known, np.random.default_rng(1))
    n = ce.n_entities
    assert len(neg) > 0
    for c in np.unique(neg.context):
        kk = pair_keys(known.idx[known.context == c], n)
        assert not np.isin(pair_keys(neg.idx[neg.context == c], n), kk).any()
        # every negative is measured in its context
        assert (ce.row_of[c, neg.idx[neg.context == c]] >= 0).all()


def test_film_starts_as_identity_of_context_and_covariates_interpolate():
    torch.manual_seed(0)
    m = ContextFiLMMLP(8, n_labels=2, n_covariates=1, hidden=16, depth=2, context_dim=4)
    x = torch.nn.functional.normalize(torch.randn(5, 8), dim=-1)
    lab1, lab2 = torch.ones(5, dtype=torch.long), torch.full((5,), 2)
    cov = torch.zeros(5, 1)
    assert torch.allclose(m(x, lab1, cov), m(x, lab2, cov))  # zero-initialised FiLM
    for film in m.films:
        torch.nn.init.normal_(film.weight, std=0.5)
    assert not torch.allclose(m(x, lab1, cov), m(x, lab2, cov))


def test_unsupported_core_options_are_refused_at_fit(world) -> None:
    for bad in (
        TrainConfig(negatives="random"),
        TrainConfig(validation_fraction=0.2),
        TrainConfig(patience=3, validation_fraction=0.1),
    ):
        with pytest.raises(CalbioInputError, match="unsupported"):
            ContextCAL(bad).fit(world.embeddings, world.pairs)
    with pytest.raises(CalbioInputError, match="calibration"):
        ContextCAL(calibration="sigmoid").fit(world.embeddings, world.pairs)


# ---------------------------------------------------------------------------- scoring
def test_score_kinds_are_the_core_ones(world, fitted):
    m = fitted
    rows = m.train_rows_
    idx, ctx = rows.idx[:20], rows.context[:20]
    ra, rb = m.row_of_[ctx, idx[:, 0]], m.row_of_[ctx, idx[:, 1]]
    Z, X = m._association(), m.X_
    both = m.score_idx(idx, ctx, kind="both")
    half = m.score_idx(idx, ctx, kind="half")
    assert np.allclose(both, np.einsum("ij,ij->i", Z[ra], Z[rb]), atol=1e-6)  # f(a).f(b) in c
    assert np.allclose(
        half, 0.5 * (np.einsum("ij,ij->i", Z[ra], X[rb]) + np.einsum("ij,ij->i", Z[rb], X[ra]))
    )
    assert not np.allclose(both, half)
    assert np.allclose(m.score_idx(idx, ctx, kind="cosine"), np.einsum("ij,ij->i", X[ra], X[rb]))
    assert np.array_equal(m.score_idx(idx, ctx), half)  # the configured kind (default half)
    with pytest.raises(CalbioInputError, match="score must be one of"):
        m.score_idx(idx, ctx, kind="nonsense")
    with pytest.raises(CalbioInputError, match="score must be one of"):  # checked in fit
        ContextCAL(score_kind="nonsense", **TINY).fit(world.embeddings, world.pairs)


def test_names_match_like_the_core_and_unknowns_are_refused(world, fitted):
    m = fitted
    names, ctxs = world.embeddings.entities, world.embeddings.contexts
    a, b, c = names[0], names[1], ctxs[0]
    assert np.array_equal(m.score(a.lower(), b.upper(), c), m.score(a, b, c))  # case-insensitive
    with pytest.raises(CalbioInputError, match="not in the model's entity index"):
        m.score(["nope"], [b], [c])
    with pytest.raises(CalbioInputError, match="unknown context"):
        m.score([a], [b], ["nowhere"])


def test_protocol_scores_in_one_documented_context(world, fitted):
    m = fitted
    idx = m.train_rows_.idx[:5]
    with pytest.raises(CalbioInputError, match="set context=NAME"):
        m.score_pairs(idx)
    c1 = str(world.embeddings.contexts[1])
    m1 = m.without_adaptation().set_params(context=c1)
    assert np.array_equal(m1.score_pairs(idx), m.score_idx(idx, np.ones(len(idx), int)))
    grid = m1.score_rows(np.array([0, 1]), np.array([2, 3, 4]))
    pairs = np.array([[q, c] for q in (0, 1) for c in (2, 3, 4)])
    assert np.allclose(grid.ravel(), m.score_idx(pairs, np.ones(len(pairs), int)))


def test_plain_table_is_one_context_and_the_registry_builds_it():
    rng = np.random.default_rng(0)
    emb = Embeddings(np.array([f"e{i}" for i in range(30)], object), rng.normal(size=(30, 8)))
    pairs = rng.permutation(30).reshape(-1, 2)
    m = resolve_model("context", calibration="none", random_state=0, **TINY)
    assert isinstance(m, ContextCAL)
    m.fit(emb, pairs)
    assert list(m.contexts_) == ["all"]
    s = m.score_pairs(np.array([["e0", "e1"]], dtype=object))
    assert s.shape == (1,) and np.isfinite(s).all()
    assert m.query("e0", top=3).shape[0] == 3


def test_sklearn_contract(world, fitted):
    m = ContextCAL(epochs=3, context_dim=4)
    assert m.get_params()["epochs"] == 3 and m.get_params()["context_dim"] == 4
    with pytest.raises(NotFittedError):
        m.score_idx(np.array([[0, 1]]), np.array([0]))
    with pytest.raises(NotFittedError):
        m.score_pairs(np.array([[0, 1]]))
    check_is_fitted(fitted)
    c = clone(fitted)
    assert c.get_params() == fitted.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(c)


# ---------------------------------------------------------------------------- calibration + I/O
def test_calibrated_probability(world, fitted):
    m = fitted
    tr, cal = m.train_rows_, m.calibration_rows_
    assert m.calibration_stats_["n_positive"] == len(cal) > 0
    assert not np.isin(cal.keys(), tr.keys()).any()  # calibration pairs never trained on
    grid = np.linspace(-1, 1, 41)
    pg = m.proba_from_scores(grid)
    assert (np.diff(pg) >= -1e-12).all() and pg[-1] > pg[0]  # isotonic: non-decreasing in g
    low = m.proba_from_scores(grid, prior=0.01)
    assert (low <= pg + 1e-9).all()  # the prior shift clips 0 to 1e-11
    inner = (pg > 1e-6) & (pg < 1 - 1e-6)  # a probability of 0 or 1 stays so under any prior
    assert inner.any() and (low[inner] < pg[inner]).all() and low[inner].max() < 0.5


@pytest.mark.parametrize("calibration", ["isotonic", "platt"])
def test_save_load_gives_identical_scores_probabilities_and_state(tmp_path, world, calibration):
    m = ContextCAL(random_state=2, calibration=calibration, context_dim=4, **TINY).fit(
        world.embeddings, world.pairs
    )
    shots = map_context_pairs(world.pairs, world.embeddings)
    shots = shots.select(np.flatnonzero(shots.context == 0)[:6])
    before = m.score_idx(shots.idx, shots.context)
    m.adapt_context(str(world.embeddings.contexts[0]), shots, steps=30)
    assert not np.allclose(before, m.score_idx(shots.idx, shots.context))  # few-shot changed z
    out = m.save(tmp_path / "model")
    m2 = ContextCAL.load(out)
    allrows = map_context_pairs(world.pairs, world.embeddings)
    for kind in ("half", "both", "cosine"):
        assert np.array_equal(
            m2.score_idx(allrows.idx, allrows.context, kind),
            m.score_idx(allrows.idx, allrows.context, kind),
        )
    names, ctxs = world.embeddings.entities, world.embeddings.contexts
    a, b, c = names[allrows.idx[:, 0]], names[allrows.idx[:, 1]], ctxs[allrows.context]
    assert np.array_equal(m2.predict_proba(a, b, c), m.predict_proba(a, b, c))
    assert np.array_equal(m2.predict_proba(a, b, c, prior=0.1), m.predict_proba(a, b, c, 0.1))
    assert np.array_equal(m2.cal_x_, m.cal_x_) and np.array_equal(m2.cal_y_, m.cal_y_)
    assert m2.history_.to_dict() == m.history_.to_dict()
    assert m2.calibration_stats_ == m.calibration_stats_
    assert np.array_equal(m2.train_rows_.idx, m.train_rows_.idx)
    assert np.array_equal(m2.calibration_rows_.context, m.calibration_rows_.context)
    assert m2.covariates_.equals(m.covariates_) and list(m2.label_names_) == list(m.label_names_)
    assert set(m2.z_override_) == set(m.z_override_)
    assert m2.get_params() == m.get_params()
    with pytest.raises(CalbioInputError):
        m.save(out)  # exists, no force


def test_evaluate_takes_the_context_model_by_name():
    from calbio.data.synthetic import make_synthetic
    from calbio.evaluation.protocol import evaluate

    w = make_synthetic(n_entities=150, n_pairs=600, seed=0)
    res = evaluate(
        w.embeddings,
        w.pairs,
        model="context",
        model_kwargs={**TINY, "epochs": 2, "calibration": "none"},
        n_boot=20,
    ).to_dict()
    assert {"context", "cosine", "degree"} <= set(res["methods"])
    assert 0.0 <= res["methods"]["context"]["auc"] <= 1.0
