"""Per-degree metrics (issue 17 §6): bins fixed from training degrees, counts, "undefined"."""

from __future__ import annotations

import numpy as np

import calbio
from calbio.evaluation.pairsets import PairSets
from calbio.evaluation.ranking import known_csr
from calbio.evaluation.scoring import DegreeBins, score_sets


class _Fixed:
    cold_start = True

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def score_pairs(self, pairs: np.ndarray) -> np.ndarray:
        return self.scores[: len(pairs)]


def test_bin_edges_come_from_training_degrees_only() -> None:
    deg = np.array([0, 1, 1, 2, 2, 3, 5, 8, 13, 40])
    bins = DegreeBins.from_degrees(deg)
    assert bins.ranges() == [[0, 2], [3, 5], [6, 40]]
    np.testing.assert_array_equal(bins.of([0, 2, 3, 5, 6, 40]), [0, 0, 1, 1, 2, 2])
    flat = DegreeBins.from_degrees(np.array([0, 1, 1, 1, 1]))  # ties: still 3 ordered bins
    assert flat.ranges() == [[0, 1], [2, 2], [3, 3]]


def _ps(pos, neg, n=12):
    pos, neg = np.asarray(pos), np.asarray(neg)
    return PairSets("test", pos, neg, np.zeros((0, 2), np.int64), np.arange(n), known_csr(pos, n))


def test_bins_do_not_move_with_the_test_pairs_and_empty_bins_are_undefined() -> None:
    deg = np.array([1, 1, 1, 1, 4, 4, 4, 4, 9, 9, 9, 9])  # bins [0,1] [2,4] [5,9]
    emb = np.eye(12)
    # every positive and negative in the low bin (min degree 1), except one high negative
    pos, neg = [[0, 1], [2, 3], [0, 8]], [[1, 2], [0, 3], [8, 9]]
    res, _ = score_sets(
        {"m": _Fixed(np.arange(6.0))}, _ps(pos, neg), emb, deg, 0.2, 10, 0, rank=False
    )
    bd = res["m"]["by_degree"]
    assert [bd[b]["degree_range"] for b in bd] == [[0, 1], [2, 4], [5, 9]]
    assert (bd["low"]["n_pos"], bd["low"]["n_neg"]) == (3, 2)
    assert (bd["high"]["n_pos"], bd["high"]["n_neg"]) == (0, 1)
    assert bd["high"]["auc"] == "undefined" and bd["mid"]["auc"] == "undefined"
    assert isinstance(bd["low"]["auc"], float)
    # other test pairs, same training degrees: the same bins
    res2, _ = score_sets(
        {"m": _Fixed(np.arange(4.0))}, _ps([[8, 9], [4, 5]], [[9, 10], [5, 6]]), emb, deg, 0.2,
        10, 0, rank=False,
    )  # fmt: skip
    assert [res2["m"]["by_degree"][b]["degree_range"] for b in bd] == [[0, 1], [2, 4], [5, 9]]


def test_node_protocol_bins_by_the_known_end(synthetic, tiny) -> None:
    r = calbio.evaluate(synthetic.embeddings, synthetic.pairs, protocol="node", n_boot=10, **tiny)
    bd = r.methods["cal"]["by_degree"]
    assert sum(p["n_pos"] for p in bd.values()) == r.n_test_pairs
    assert sum(p["n_neg"] for p in bd.values()) == r.n_negatives
    assert sum(p["n_queries"] for p in bd.values()) == 2 * r.n_test_pairs
    # the cold end has degree 0: binning by the smaller end would put every pair in "low"
    assert sum(p["n_pos"] > 0 for p in bd.values()) >= 2
    assert all(p["mrr"] == "undefined" or 0 < p["mrr"] <= 1 for p in bd.values())
