"""FiLM network, within-context batches, ContextCAL fit / calibration / few-shot / save-load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import calbio.context.training as ctr
from calbio.context.data import map_context_pairs
from calbio.context.estimator import ContextCAL
from calbio.context.model import ContextFiLMMLP
from calbio.context.training import context_batches
from calbio.data.synthetic_dose import make_dose_world
from calbio.errors import CalbioInputError

TINY = dict(hidden=32, depth=2, epochs=4, batch_size=64, lr=1e-3, threads=1)


@pytest.fixture(scope="module")
def world():
    return make_dose_world(
        n_mechanisms=4, per_mechanism=8, n_features=12, n_lines=2, doses=(0.3, 3.0, 30.0), seed=3
    )


@pytest.fixture(scope="module")
def fitted(world):
    return ContextCAL(random_state=0, context_dim=4, **TINY).fit(world.embeddings, world.pairs)


def test_context_batches_are_single_context_and_cover_every_row():
    rng = np.random.default_rng(0)
    ctx = rng.integers(0, 5, size=503)
    batches = context_batches(ctx, 16, rng)
    assert all(len(np.unique(ctx[b])) == 1 for b in batches)
    seen = np.concatenate(batches)
    assert len(seen) == len(np.unique(seen))
    counts = np.bincount(ctx, minlength=5)
    # only singleton leftovers (< 2 rows) may be dropped, at most one per context
    assert len(seen) >= len(ctx) - 5 and all(c >= 2 for c in counts)


def test_training_negatives_share_the_anchor_context(world, monkeypatch):
    """Spy on the trainer: every in-batch negative is measured in the anchor's context."""
    record: list[np.ndarray] = []
    real = ctr.context_batches

    def spy(context, batch_size, rng, drop_last=False):
        out = real(context, batch_size, rng, drop_last)
        record.append((np.asarray(context), out))
        return out

    monkeypatch.setattr(ctr, "context_batches", spy)
    ContextCAL(random_state=0, calibration="none", **{**TINY, "epochs": 2}).fit(
        world.embeddings, world.pairs
    )
    assert record
    for ctx, batches in record:
        for b in batches:
            assert (ctx[b] == ctx[b[0]]).all()


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
    z0, z1, zh = (m.context_vector(lab1[:1], torch.tensor([[v]])) for v in (0.0, 1.0, 0.5))
    assert not torch.allclose(z0, z1) and torch.isfinite(zh).all()
    out = m(x, lab1, cov)
    assert torch.allclose(out.norm(dim=-1), torch.ones(5), atol=1e-5)


def test_fit_score_and_calibrated_probability(world, fitted):
    m = fitted
    assert m.calibration_stats_["n_positive"] > 0
    tr, cal = m.train_pairs_, m.calibration_pairs_
    assert not np.isin(cal.keys(), tr.keys()).any()  # calibration pairs never trained on
    names, ctxs = world.embeddings.entities, world.embeddings.contexts
    a, b, c = names[cal.idx[:5, 0]], names[cal.idx[:5, 1]], ctxs[cal.context[:5]]
    g = m.score(a, b, c)
    assert g.shape == (5,) and np.isfinite(g).all()
    p = m.predict_proba(a, b, c)
    assert ((0 <= p) & (p <= 1)).all()
    grid = np.linspace(-1, 1, 41)
    pg = m.proba_from_scores(grid)
    assert (np.diff(pg) >= -1e-12).all()  # isotonic: non-decreasing in g
    low = m.proba_from_scores(grid, prior=0.01)
    assert (low <= pg + 1e-12).all() and low.max() < 0.5
    with pytest.raises(CalbioInputError):
        m.score(["nope"], ["P001_M01"], [ctxs[0]])
    with pytest.raises(CalbioInputError, match="unknown context"):
        m.score(a[:1], b[:1], ["nowhere"])


def test_platt_calibration_and_learning_signal(world):
    m = ContextCAL(random_state=1, calibration="platt", **{**TINY, "epochs": 60, "lr": 3e-3}).fit(
        world.embeddings, world.pairs
    )
    assert m.cal_x_[0] > 0  # higher g -> higher probability
    mapped = map_context_pairs(world.pairs, world.embeddings)
    from calbio.context.estimator import within_context_negatives
    from calbio.evaluation.metrics import roc_auc

    tr = m.train_pairs_
    neg = within_context_negatives(tr, 1, world.embeddings, mapped, np.random.default_rng(0))
    s = np.r_[m.score_idx(tr.idx, tr.context), m.score_idx(neg.idx, neg.context)]
    y = np.r_[np.ones(len(tr)), np.zeros(len(neg))]
    assert roc_auc(y, s) > 0.8


def test_save_load_roundtrip_without_pickle(tmp_path, world, fitted):
    m = fitted
    c0 = str(world.embeddings.contexts[0])
    shots = map_context_pairs(world.pairs, world.embeddings)
    shots = shots.select(np.flatnonzero(shots.context == 0)[:6])
    before = m.score_idx(shots.idx, shots.context)
    m.adapt_context(c0, shots, steps=30)
    after = m.score_idx(shots.idx, shots.context)
    assert not np.allclose(before, after)  # few-shot changed this context's z ...
    other = np.flatnonzero(m.train_pairs_.context == 1)[:5]
    o = m.train_pairs_.select(other)
    out = m.save(tmp_path / "model")
    files = sorted(p.name for p in out.iterdir())
    assert files == ["config.json", "metadata.json", "model.safetensors"]
    assert json.loads((out / "config.json").read_text())["kind"] == "context-cal"
    m2 = ContextCAL.load(out)
    assert np.allclose(m2.score_idx(shots.idx, shots.context), after, atol=1e-5)
    assert np.allclose(m2.score_idx(o.idx, o.context), m.score_idx(o.idx, o.context), atol=1e-5)
    grid = np.linspace(-1, 1, 11)
    assert np.allclose(m2.proba_from_scores(grid), m.proba_from_scores(grid))
    with pytest.raises(CalbioInputError):
        m.save(out)  # exists, no force


def test_unsupported_core_options_are_refused() -> None:
    import pytest

    from calbio.context.estimator import ContextCAL
    from calbio.errors import CalbioInputError

    for bad in (
        {"negatives": "random"},
        {"patience": 3, "validation_fraction": 0.1},
        {"validation_fraction": 0.2},
    ):
        with pytest.raises(CalbioInputError, match="unsupported"):
            ContextCAL(**bad)
    # supported options pass
    ContextCAL(mask_false_negatives=True, both_orientations=True)
