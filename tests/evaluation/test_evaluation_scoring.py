"""evaluation.scoring: held-out pairs scored per model, cross-boundary subsets, tie-safe scores."""

from __future__ import annotations

import numpy as np
import pytest

from calbio.core.graph import known_csr
from calbio.core.metrics import roc_auc
from calbio.evaluation.pairsets import PairSets
from calbio.evaluation.scoring import score_sets, tie_safe

# kills the mutation cross_boundary_inverted (tests/mutations/run.py)


class _FixedScores:
    """A stand-in fitted model that scores pair i with ``scores[i]`` (in stacking order)."""

    cold_start = True

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def score_pairs(self, pairs: np.ndarray) -> np.ndarray:
        return self.scores[: len(pairs)]


def test_cross_boundary_selects_pairs_with_small_cosine() -> None:
    # Entity k is a unit vector at angle theta_k; pair (0, k) has cosine cos(theta_k).
    theta = np.deg2rad([0, 10, 20, 80, 85, 88, 95, 100, 170, 30, 60, 89])
    emb = np.stack([np.cos(theta), np.sin(theta)], 1)
    cos_of = np.cos(theta)
    pos = np.array([[0, 1], [0, 3], [0, 4], [0, 6]])  # |cos| .98 .17 .09 .09
    neg = np.array([[0, 2], [0, 5], [0, 7], [0, 8], [0, 9], [0, 11]])  # .94 .03 .17 .98 .87 .02
    ps = PairSets("test", pos, neg, np.zeros((0, 2), np.int64), np.arange(12), known_csr(pos, 12))
    rng = np.random.default_rng(0)
    scores = rng.standard_normal(len(pos) + len(neg))
    res, table = score_sets(
        {"m": _FixedScores(scores)}, ps, emb, np.ones(12), 0.5, n_boot=20, seed=0, rank=False
    )
    np.testing.assert_allclose(table["cosine"], cos_of[np.r_[pos[:, 1], neg[:, 1]]], atol=1e-12)
    small = np.abs(table["cosine"].to_numpy()) < 0.5
    assert res["m"]["cb_n_pos"] == 3 and res["m"]["cb_n_neg"] == 3
    label = table["label"].to_numpy()
    assert res["m"]["cb_auc"] == pytest.approx(roc_auc(label[small], scores[small]))


# kills the mutation tie_safe_noop (tests/mutations/run.py)


def test_tie_safe_merges_float_noise_but_keeps_real_differences() -> None:
    s = np.array([0.1 + 0.2, 0.3, 0.3 + 1e-15, 0.31, -2.0])
    t = tie_safe(s)
    assert t[0] == t[1] == t[2]
    assert t[3] > t[1] and t[4] < t[1]
    assert roc_auc(np.array([1, 0, 0]), tie_safe(np.array([0.1 + 0.2, 0.3, 0.0]))) == 0.75
