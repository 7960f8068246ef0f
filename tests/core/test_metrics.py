"""Tests for calbio.core.metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from calbio.core import metrics as M

# ---------------------------------------------------------------- binary metrics


def _data(n: int, seed: int = 0, shift: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    s = np.round(rng.standard_normal(n) + shift * y, 1)  # rounding creates ties
    return y, s


def test_roc_auc_matches_sklearn() -> None:
    y, s = _data(500)
    assert M.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert M.roc_auc(y.astype(int), s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_average_precision_matches_sklearn() -> None:
    y, s = _data(500, seed=1)
    assert M.average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_undefined_metrics_are_nan() -> None:
    s = np.array([0.1, 0.5, 0.2])
    assert math.isnan(M.roc_auc(np.ones(3, bool), s))
    assert math.isnan(M.roc_auc(np.zeros(3, bool), s))
    assert math.isnan(M.average_precision(np.zeros(3, bool), s))
    lo, hi = M.bootstrap_auc_ci(np.zeros(3, bool), s, n_boot=10)
    assert math.isnan(lo) and math.isnan(hi)


def test_labels_must_be_binary() -> None:
    with pytest.raises(ValueError):
        M.roc_auc(np.array([0, 1, 2]), np.array([0.1, 0.2, 0.3]))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(-3, 3)), min_size=2, max_size=60),
)
def test_roc_auc_is_mann_whitney_with_half_ties(rows: list[tuple[bool, int]]) -> None:
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows], dtype=float)
    got = M.roc_auc(y, s)
    if y.all() or not y.any():
        assert math.isnan(got)
    else:
        diff = s[y][:, None] - s[~y][None, :]  # every (positive, negative) comparison
        assert got == pytest.approx(np.mean((diff > 0) + 0.5 * (diff == 0)), abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    n_pos=st.integers(1, 25),
    n_neg=st.integers(1, 25),
    n_boot=st.integers(1, 6),
    seed=st.integers(0, 10_000),
)
def test_resample_auc_batch_matches_sklearn(n_pos: int, n_neg: int, n_boot: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    s_pos = rng.integers(-3, 4, n_pos).astype(float)  # few values: many ties
    s_neg = np.sort(rng.integers(-3, 4, n_neg).astype(float))
    pd_ = rng.integers(0, n_pos, (n_boot, n_pos))
    nd_ = rng.integers(0, n_neg, (n_boot, n_neg))
    got = M._resample_auc_batch(s_pos, s_neg, pd_, nd_)
    for b in range(n_boot):
        sp_, sn_ = s_pos[pd_[b]], s_neg[nd_[b]]
        y = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
        assert got[b] == pytest.approx(roc_auc_score(y, np.r_[sp_, sn_]), abs=1e-12)


def test_bootstrap_ci_contains_estimate_and_narrows() -> None:
    y, s = _data(300, seed=2)
    lo, hi = M.bootstrap_auc_ci(y, s, n_boot=500, seed=0)
    auc = M.roc_auc(y, s)
    assert lo < auc < hi
    y2, s2 = _data(5000, seed=2)
    lo2, hi2 = M.bootstrap_auc_ci(y2, s2, n_boot=500, seed=0)
    assert lo2 < M.roc_auc(y2, s2) < hi2
    assert (hi2 - lo2) < 0.5 * (hi - lo)


@pytest.mark.parametrize(("n_pos", "n_neg"), [(3000, 15), (15, 3000)])
@pytest.mark.parametrize("seed", [0, 1])
def test_bootstrap_ci_width_matches_both_sides_variance(n_pos: int, n_neg: int, seed: int) -> None:
    # The stratified bootstrap variance of the AUC is var(V_neg)/n_neg + var(V_pos)/n_pos, with
    # V the placement values (fraction of the other class each point beats). With few negatives
    # (or few positives) that side dominates: a bootstrap that kept one class fixed would give a
    # CI many times narrower.
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    s = np.r_[rng.standard_normal(n_pos) + 1.0, rng.standard_normal(n_neg)]
    sp, sn = s[y], s[~y]
    beats = sp[:, None] > sn[None, :]
    sd = np.sqrt(beats.mean(0).var() / n_neg + beats.mean(1).var() / n_pos)
    lo, hi = M.bootstrap_auc_ci(y, s, n_boot=400, seed=0)
    assert 0.8 < (hi - lo) / (2 * 1.96 * sd) < 1.25


def test_bootstrap_deterministic_by_seed() -> None:
    y, s = _data(400, seed=3)
    a = M.bootstrap_auc_ci(y, s, n_boot=200, seed=7)
    b = M.bootstrap_auc_ci(y, s, n_boot=200, seed=7)
    c = M.bootstrap_auc_ci(y, s, n_boot=200, seed=8)
    assert a == b
    assert a != c


def test_bootstrap_chunking_does_not_change_result(monkeypatch: pytest.MonkeyPatch) -> None:
    y, s = _data(400, seed=4)
    ref = M.bootstrap_auc_ci(y, s, n_boot=300, seed=1)
    monkeypatch.setattr(M, "_BOOT_CHUNK_ELEMS", 400 * 7)  # 7 resamples per chunk
    small = M.bootstrap_auc_ci(y, s, n_boot=300, seed=1)
    # Different chunking draws random numbers in a different shape, so only closeness holds.
    assert small[0] == pytest.approx(ref[0], abs=0.03)
    assert small[1] == pytest.approx(ref[1], abs=0.03)


def test_bootstrap_on_large_input_brackets_estimate() -> None:
    # Speed is measured by benchmarks, not here; this checks the chunked path on 50k points.
    y, s = _data(50_000, seed=5)
    lo, hi = M.bootstrap_auc_ci(y, s, n_boot=200, seed=0)
    assert lo < M.roc_auc(y, s) < hi
    assert hi - lo < 0.05
