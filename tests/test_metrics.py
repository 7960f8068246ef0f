"""Tests for calbio.evaluation.metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from calbio.evaluation import metrics as M

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


def test_binary_summary_keys() -> None:
    y, s = _data(200, seed=6)
    out = M.binary_summary(y, s, n_boot=100, seed=0)
    assert set(out) == {"auc", "auc_ci", "ap", "n_pos", "n_neg"}
    assert out["n_pos"] == int(y.sum()) and out["n_neg"] == int((~y).sum())
    assert out["auc_ci"][0] <= out["auc"] <= out["auc_ci"][1]
    assert out["ap"] == pytest.approx(average_precision_score(y, s))


# ---------------------------------------------------------------- ranking metrics


def test_target_ranks_hand_example() -> None:
    scores = np.array(
        [
            [0.9, 0.5, 0.5, 0.5, 0.1],  # target 1: one greater, two ties -> 1 + 1 + 0.5*2 = 3
            [0.9, 0.5, 0.5, 0.5, 0.1],  # target 1, exclude col 0 and col 2 -> 1 + 0 + 0.5*1 = 1.5
            [
                0.2,
                0.8,
                0.8,
                0.3,
                0.9,
            ],  # target 2, exclude col 2 (itself!) and col 4 -> 1+0+0.5 = 1.5
            [0.0, 0.0, 0.0, 0.0, 0.0],  # constant scorer, target 0 -> 1 + 0 + 0.5*4 = 3
        ]
    )
    targets = np.array([1, 1, 2, 0])
    ex_r = np.array([1, 1, 2, 2, 1])
    ex_c = np.array([0, 2, 2, 4, 0])  # duplicate exclusion (1, 0) must count once
    ranks = M.target_ranks(scores, targets, ex_r, ex_c)
    np.testing.assert_allclose(ranks, [3.0, 1.5, 1.5, 3.0])


def test_target_ranks_target_never_excluded() -> None:
    scores = np.array([[0.1, 0.9, 0.5]])
    ranks = M.target_ranks(scores, np.array([2]), np.array([0, 0]), np.array([2, 1]))
    # column 1 excluded, the target column 2 listed but kept -> only column 0 remains, lower.
    np.testing.assert_allclose(ranks, [1.0])


def test_target_ranks_no_exclusions_and_float32() -> None:
    scores = np.array([[3, 1, 2], [1, 2, 3]], dtype=np.float32)
    ranks = M.target_ranks(scores, np.array([2, 2]), np.array([], int), np.array([], int))
    np.testing.assert_allclose(ranks, [2.0, 1.0])


def _naive_ranks(scores, targets, ex_r, ex_c) -> np.ndarray:
    q, n = scores.shape
    excluded = [set() for _ in range(q)]
    for r, c in zip(ex_r, ex_c, strict=True):
        excluded[r].add(c)
    out = []
    for i in range(q):
        t = targets[i]
        greater = ties = 0
        for j in range(n):
            if j == t or j in excluded[i]:
                continue
            if scores[i, j] > scores[i, t]:
                greater += 1
            elif scores[i, j] == scores[i, t]:
                ties += 1
        out.append(1 + greater + 0.5 * ties)
    return np.array(out)


@settings(max_examples=50, deadline=None)
@given(
    q=st.integers(1, 6),
    n=st.integers(1, 12),
    n_ex=st.integers(0, 20),
    seed=st.integers(0, 100_000),
)
def test_target_ranks_matches_naive(q: int, n: int, n_ex: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, (q, n)).astype(float)
    scores[rng.random((q, n)) < 0.1] = -np.inf
    targets = rng.integers(0, n, q)
    ex_r = rng.integers(0, q, n_ex)
    ex_c = rng.integers(0, n, n_ex)
    got = M.target_ranks(scores, targets, ex_r, ex_c)
    np.testing.assert_allclose(got, _naive_ranks(scores, targets, ex_r, ex_c))


def test_target_ranks_blocking(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, (40, 30)).astype(float)
    targets = rng.integers(0, 30, 40)
    ex_r, ex_c = rng.integers(0, 40, 100), rng.integers(0, 30, 100)
    ref = M.target_ranks(scores, targets, ex_r, ex_c)
    monkeypatch.setattr(M, "_RANK_BLOCK_ELEMS", 7)
    np.testing.assert_allclose(M.target_ranks(scores, targets, ex_r, ex_c), ref)


def test_target_ranks_validates() -> None:
    with pytest.raises(ValueError):
        M.target_ranks(np.zeros((2, 3)), np.array([0]), np.array([], int), np.array([], int))
    with pytest.raises(ValueError):
        M.target_ranks(np.zeros((2, 3)), np.array([0, 3]), np.array([], int), np.array([], int))
    with pytest.raises(ValueError):
        M.target_ranks(np.full((1, 2), np.nan), np.array([0]), np.array([], int), np.array([], int))


def test_ranking_summary_hand_example() -> None:
    ranks = np.array([1.0, 2.0, 10.0, 11.5, 60.0])
    out = M.ranking_summary(ranks)
    assert out["mrr"] == pytest.approx((1 + 0.5 + 0.1 + 1 / 11.5 + 1 / 60) / 5)
    assert out["hits@10"] == pytest.approx(3 / 5)
    assert out["hits@50"] == pytest.approx(4 / 5)
    assert out["mean_rank"] == pytest.approx(84.5 / 5)
    assert out["n_queries"] == 5
    assert set(M.ranking_summary(ranks, ks=(1,))) == {"mrr", "hits@1", "mean_rank", "n_queries"}


def test_ranking_summary_empty() -> None:
    out = M.ranking_summary(np.array([]))
    assert out["n_queries"] == 0 and math.isnan(out["mrr"])
