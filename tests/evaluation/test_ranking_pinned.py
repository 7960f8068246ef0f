"""Hits@k, MRR and mean rank pinned on a hand-computed example (issue 19 section 7).

A partner ranked exactly k must count as a hit at k (``rank <= k``), and a tie counts half.
Six entities, three held-out queries, a fixed score matrix (rows: query, columns: candidate):

- query 0, target 1 (score .5): only entity 2 (.9) scores higher; the query itself (1.0) is
  filtered -> rank **2**.
- query 3, target 4 (score .4): entity 0 (.8) higher, entity 2 ties (.4) and counts half
  -> rank 1 + 1 + 0.5 = **2.5**.
- query 5, target 0 (score .7): entity 1 (.95) scores higher but (5, 1) is a known pair, so it
  is filtered -> rank **1**.

Ranks (2, 2.5, 1): MRR = (1/2 + 1/2.5 + 1) / 3 = 1.9 / 3; Hits@1 = 1/3; Hits@2 = 2/3 (rank 2
counts, 2.5 does not); Hits@3 = 1; mean rank = 5.5 / 3.
"""

from __future__ import annotations

import numpy as np
import pytest

from calbio.core.graph import known_csr
from calbio.evaluation.ranking import filtered_ranking, rank_summary

S = np.array(
    [
        [1.0, 0.5, 0.9, 0.1, 0.2, 0.3],
        [0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
        [0.8, 0.1, 0.4, 1.0, 0.4, 0.2],
        [0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        [0.7, 0.95, 0.1, 0.2, 0.3, 1.0],
    ]
)
POSITIVES = np.array([[0, 1], [3, 4], [5, 0]])
KNOWN = np.array([[0, 1], [3, 4], [5, 0], [5, 1]])
EXPECTED = {
    "mrr": 1.9 / 3,
    "hits@1": 1 / 3,
    "hits@2": 2 / 3,
    "hits@3": 1.0,
    "mean_rank": 5.5 / 3,
    "n_queries": 3,
}


def rows(queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Scores of the fixed matrix."""
    return S[np.ix_(queries, candidates)]


def test_hand_computed_filtered_ranking() -> None:
    out = filtered_ranking(
        POSITIVES,
        np.arange(6),
        known_csr(KNOWN, 6),
        rows=rows,
        both_orientations=False,
        ks=(1, 2, 3),
        n_boot=50,
    )
    for key, value in EXPECTED.items():
        assert out[key] == pytest.approx(value, abs=1e-12), key


def test_rank_exactly_k_is_a_hit() -> None:
    out = rank_summary(np.array([2.0, 2.5, 1.0]), ks=(1, 2, 3), n_boot=50)
    assert out["hits@2"] == pytest.approx(2 / 3)
    assert out["hits@1"] == pytest.approx(1 / 3)
    assert out["hits@3"] == 1.0
    # every rank exactly k: all hits at k, none at k - 1
    at_k = rank_summary(np.full(4, 10.0), ks=(9, 10), n_boot=50)
    assert (at_k["hits@9"], at_k["hits@10"]) == (0.0, 1.0)
