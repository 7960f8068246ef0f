"""Tests for calbio.evaluation.ranking (filtered ranks at scale) and the stage Timer."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from calbio.core.graph import known_csr
from calbio.evaluation.ranking import (
    bootstrap_mean_ci,
    filtered_ranking,
    filtered_ranks,
    rank_summary,
    rows_from_vectors,
)
from calbio.evaluation.timing import Timer


def _brute(scores: np.ndarray, qt: np.ndarray, cand: np.ndarray, known_idx: np.ndarray):
    """One query at a time: filter the query and its other known partners, ties count half."""
    partners: dict[int, set[int]] = {}
    for a, b in known_idx:
        partners.setdefault(int(a), set()).add(int(b))
        partners.setdefault(int(b), set()).add(int(a))
    out = []
    for q, t in qt:
        drop = (partners.get(int(q), set()) - {int(t)}) | {int(q)}
        keep = np.array([c for c in cand if c not in drop or c == t])
        row = scores[q, keep]
        v = scores[q, t]
        out.append(1 + (row > v).sum() + 0.5 * ((row == v).sum() - 1))
    return np.array(out, dtype=float)


def _world(n: int, m: int, seed: int, rounding: int | None = 1):
    rng = np.random.default_rng(seed)
    left = rng.standard_normal((n, 4))
    right = rng.standard_normal((n, 4))
    scores = left @ right.T
    if rounding is not None:
        scores = np.round(scores, rounding)  # many exact ties
    known = rng.integers(0, n, size=(m, 2))
    known = known[known[:, 0] != known[:, 1]]
    known = np.unique(np.sort(known, axis=1), axis=0)
    return scores, known


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(3, 30),
    m=st.integers(1, 60),
    seed=st.integers(0, 10_000),
    block=st.sampled_from([1, 7, 50, 10_000]),
    both=st.booleans(),
    kind=st.sampled_from(["float64", "float32", "torch"]),
)
def test_filtered_ranks_match_brute_force(n, m, seed, block, both, kind) -> None:
    scores, known = _world(n, m, seed)
    if kind == "float32":
        scores = scores.astype(np.float32)
    rng = np.random.default_rng(seed + 1)
    test = known[rng.random(len(known)) < 0.5]
    if len(test) == 0:
        test = known[:1]
    cand = np.unique(known)
    K = known_csr(known, n)
    if kind == "torch":  # the accelerator code path, run on the CPU

        def rows(q, c):
            return torch.from_numpy(scores[np.ix_(q, c)])
    else:

        def rows(q, c):
            return scores[np.ix_(q, c)]

    ranks, qt = filtered_ranks(
        test,
        cand,
        K,
        rows=rows,
        block_elems=block,
        both_orientations=both,
        _backend="torch" if kind == "torch" else "auto",
    )
    np.testing.assert_allclose(ranks, _brute(scores, qt, cand, known))


def test_vectors_and_rows_agree_and_each_query_row_computed_once() -> None:
    rng = np.random.default_rng(3)
    n = 60
    left = rng.standard_normal((n, 5)).astype(np.float32)
    right = rng.standard_normal((n, 5)).astype(np.float32)
    known = np.unique(np.sort(rng.integers(0, n, (200, 2)), axis=1), axis=0)
    known = known[known[:, 0] != known[:, 1]]
    cand = np.unique(known)
    K = known_csr(known, n)
    calls: list[np.ndarray] = []
    inner = rows_from_vectors(left, right)

    def counting_rows(q, c):
        calls.append(np.asarray(q))
        return inner(q, c)

    a = filtered_ranking(known, cand, K, rows=counting_rows, n_boot=50)
    b = filtered_ranking(known, cand, K, vectors=(left, right), n_boot=50)
    assert a == b
    queried = np.concatenate(calls)
    assert len(queried) == len(np.unique(queried)) == len(np.unique(known))  # once per entity
    assert a["n_queries"] == 2 * len(known)


def test_ties_within_float_roundoff_count_as_ties() -> None:
    # candidate scores equal to the target up to 1e-11 relative are ties (half each), not wins
    base = 0.3
    row = np.array([0.0, base, base * (1 + 1e-11), base * (1 - 1e-11), base + 1e-3, 0.1])
    scores = np.tile(row, (6, 1))
    known = np.array([[0, 1]])
    K = known_csr(known, 6)
    ranks, _ = filtered_ranks(
        known, np.arange(6), K, rows=lambda q, c: scores[np.ix_(q, c)], both_orientations=False
    )
    # query 0 excluded (self), target col 1; greater: base+1e-3 ; ties: cols 2 and 3
    assert ranks[0] == pytest.approx(1 + 1 + 0.5 * 2)
    exact, _ = filtered_ranks(
        known,
        np.arange(6),
        K,
        rows=lambda q, c: scores[np.ix_(q, c)],
        both_orientations=False,
        rtol=1e-12,
    )
    assert exact[0] == pytest.approx(1 + 2 + 0.5 * 0)  # a much finer grid separates them


def test_constant_scorer_gets_the_middle_rank() -> None:
    n = 11
    known = np.array([[0, 1]])
    ranks, _ = filtered_ranks(
        known, np.arange(n), known_csr(known, n), rows=lambda q, c: np.ones((len(q), len(c)))
    )
    # 11 candidates minus the query itself = 10, all tied: expected rank 1 + 9/2
    np.testing.assert_allclose(ranks, [5.5, 5.5])


def test_rank_sample_is_seeded_and_has_a_ci() -> None:
    scores, known = _world(200, 2000, 0, rounding=None)
    cand = np.unique(known)
    K = known_csr(known, 200)
    rows = lambda q, c: scores[np.ix_(q, c)]  # noqa: E731
    full = filtered_ranking(known, cand, K, rows=rows, n_boot=200)
    s1 = filtered_ranking(known, cand, K, rows=rows, rank_sample=300, seed=5, n_boot=200)
    s2 = filtered_ranking(known, cand, K, rows=rows, rank_sample=300, seed=5, n_boot=200)
    assert s1 == s2 and s1["n_queries"] == 300 and s1["rank_sample"] == 300
    assert s1["n_queries_total"] == full["n_queries"]
    lo, hi = s1["mrr_ci"]
    assert lo < s1["mrr"] < hi
    assert hi - lo > full["mrr_ci"][1] - full["mrr_ci"][0]  # a sample is less precise


def test_bad_inputs_raise() -> None:
    known = np.array([[0, 1]])
    K = known_csr(known, 3)
    with pytest.raises(ValueError, match="exactly one"):
        filtered_ranks(known, np.arange(3), K)
    with pytest.raises(ValueError, match="candidates"):
        filtered_ranks(known, np.array([0, 2]), K, rows=lambda q, c: np.zeros((len(q), len(c))))
    with pytest.raises(ValueError, match="NaN"):
        filtered_ranks(known, np.arange(3), K, rows=lambda q, c: np.full((len(q), len(c)), np.nan))


def test_bootstrap_mean_ci_covers_the_mean() -> None:
    v = np.random.default_rng(0).random(1000)
    lo, hi = bootstrap_mean_ci(v, n_boot=300, seed=1)
    assert lo < v.mean() < hi and hi - lo < 0.1


def test_timer_collects_stage_seconds() -> None:
    timer = Timer()
    with timer("a"):
        time.sleep(0.01)
    with timer("a"):
        pass
    timer.add("b", 2.0)
    d = timer.as_dict()
    assert list(d) == ["a", "b"] and d["a"] >= 0.01 and d["b"] == 2.0
    assert timer.total == pytest.approx(d["a"] + 2.0, abs=1e-3)


# ------------------------------------------------------------------ Adamic-Adar rows at scale


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 40), m=st.integers(1, 120), seed=st.integers(0, 10_000))
def test_adamic_adar_candidate_rows_match_baseline(n, m, seed) -> None:
    from calbio.data.types import Embeddings, MappedPairs
    from calbio.models.graph.heuristics import AdamicAdar, adamic_adar_rows

    rng = np.random.default_rng(seed)
    edges = rng.integers(0, n, size=(m, 2))
    edges = np.unique(np.sort(edges[edges[:, 0] != edges[:, 1]], axis=1), axis=0)
    q = rng.integers(0, n, size=rng.integers(1, 10))
    cand = np.sort(rng.choice(n, size=rng.integers(1, n + 1), replace=False))
    assume(len(edges) >= 2)  # a model needs two training pairs
    emb = Embeddings(np.array([str(i) for i in range(n)], dtype=object), np.eye(n, 2) + 1)
    rows = AdamicAdar().fit(emb, MappedPairs(edges, n, {})).score_rows
    np.testing.assert_allclose(rows(q, cand), adamic_adar_rows(edges, n, q)[:, cand], rtol=1e-12)
    np.testing.assert_allclose(rows(q, np.arange(n)), adamic_adar_rows(edges, n, q), rtol=1e-12)
    np.testing.assert_allclose(rows(q, cand), adamic_adar_rows(edges, n, q)[:, cand], rtol=1e-12)


def test_same_numbers_as_the_protocol_ranking() -> None:
    """evaluate()'s ranking of a model (rows or vectors) equals filtered_ranking's."""
    from calbio.evaluation.scoring import model_ranks

    scores, known = _world(50, 400, 11, rounding=2)
    test = known[::3]
    cand = np.unique(known)

    class RowsModel:
        def score_vectors(self):
            return None

        def score_rows(self, q, c):
            return scores[np.ix_(q, c)]

    ranks, _ = model_ranks(RowsModel(), test, cand, known_csr(known, 50))
    ref = rank_summary(ranks, n_boot=10, seed=0)
    got = filtered_ranking(test, cand, known_csr(known, 50), rows=RowsModel().score_rows, n_boot=10)
    for key in ("mrr", "hits@10", "hits@50", "mean_rank", "n_queries"):
        assert got[key] == pytest.approx(ref[key], rel=1e-12), key
