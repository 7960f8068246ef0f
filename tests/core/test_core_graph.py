"""core.graph: the one pair key, degree count and known-pair set agree with plain definitions."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from calbio.core.graph import (
    degrees,
    in_sorted,
    known_csr,
    known_keys,
    pair_key,
    pair_keys,
    pairs_from_keys,
    sample_uniform_negatives,
)

pairs_st = st.integers(2, 40).flatmap(
    lambda n: st.tuples(
        st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60)
    )
)


@given(pairs_st)
def test_pair_keys_are_orientation_free_and_distinct(data: tuple[int, list]) -> None:
    n, pairs = data
    idx = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    k = pair_keys(idx, n)
    np.testing.assert_array_equal(k, pair_keys(idx[:, ::-1], n))
    as_sets = {frozenset(p) for p in pairs}
    assert len(np.unique(k)) == len(as_sets)
    np.testing.assert_array_equal(pairs_from_keys(k, n), np.sort(idx, axis=1))
    # torch tensors get the same keys (the false-negative masks of training use them)
    t = pair_key(torch.from_numpy(idx[:, 0]), torch.from_numpy(idx[:, 1]), n)
    np.testing.assert_array_equal(t.numpy(), k)


@given(pairs_st)
def test_degrees_known_set_and_csr(data: tuple[int, list]) -> None:
    n, pairs = data
    idx = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    want = np.zeros(n, np.int64)
    for a, b in pairs:
        want[a] += 1
        want[b] += 1
    np.testing.assert_array_equal(degrees(idx, n), want)
    kk = known_keys(idx, n)
    assert np.all(np.diff(kk) > 0)
    probe = np.arange(n * n, dtype=np.int64)
    np.testing.assert_array_equal(in_sorted(probe, kk), np.isin(probe, kk))
    dense = known_csr(idx, n).toarray()
    assert (dense == dense.T).all()
    assert dense.sum() == sum(2 if a != b else 1 for a, b in {tuple(sorted(p)) for p in pairs})


def test_uniform_negatives_avoid_known_and_self_pairs() -> None:
    rng = np.random.default_rng(0)
    known = np.array([[0, 1], [1, 2], [2, 3]])
    neg = sample_uniform_negatives(20, np.arange(8), known_keys(known, 8), 8, rng)
    assert len(neg) == 20
    assert (neg[:, 0] != neg[:, 1]).all()
    assert not np.isin(pair_keys(neg, 8), known_keys(known, 8)).any()
    assert len(np.unique(pair_keys(neg, 8))) == 20


# kills the mutation known_matrix_one_orientation (tests/mutations/run.py)


def test_known_matrix_is_symmetric_and_filters_both_orientations() -> None:
    known = known_csr(np.array([[0, 2], [3, 1]]), 4).toarray()
    np.testing.assert_array_equal(known, known.T)
    assert known[2, 0] and known[0, 2] and known[1, 3] and known[3, 1]
