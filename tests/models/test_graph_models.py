"""Tests for calbio.models.graph.heuristics."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from calbio.models.graph import heuristics as B


def _random_graph(n: int = 40, m: int = 120, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.integers(0, n, (4 * m, 2))
    e = e[e[:, 0] != e[:, 1]]
    e = np.sort(e, axis=1)
    e = np.unique(e, axis=0)
    return e[rng.permutation(e.shape[0])[:m]].astype(np.int64)


def _nx_graph(edges: np.ndarray, n: int) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(map(tuple, edges.tolist()))
    return g


def _all_pairs(n: int) -> np.ndarray:
    a, b = np.triu_indices(n, k=1)
    return np.stack([a, b], axis=1).astype(np.int64)


def test_training_degree_matches_networkx() -> None:
    n, e = 40, _random_graph()
    g = _nx_graph(e, n)
    deg = B.training_degree(e, n)
    assert deg.dtype == np.int64 and deg.shape == (n,)
    np.testing.assert_array_equal(deg, [g.degree(i) for i in range(n)])
    assert deg.sum() == 2 * e.shape[0]


def test_degree_product() -> None:
    deg = np.array([1, 2, 3, 0])
    s = B.degree_product_score(deg, np.array([[0, 1], [1, 2], [2, 3]]))
    assert s.dtype == np.float64
    np.testing.assert_array_equal(s, [2.0, 6.0, 0.0])


def test_adjacency_symmetric_binary() -> None:
    n, e = 40, _random_graph()
    a = B.adjacency(e, n)
    dense = a.toarray()
    np.testing.assert_array_equal(dense, dense.T)
    assert set(np.unique(dense)) <= {0.0, 1.0}
    assert dense.sum() == 2 * e.shape[0]
    np.testing.assert_array_equal(dense.sum(1), B.training_degree(e, n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adamic_adar_matches_networkx(seed: int) -> None:
    n = 40
    e = _random_graph(n=n, m=120, seed=seed)
    g = _nx_graph(e, n)
    pairs = _all_pairs(n)
    expected = np.array(
        [p for _, _, p in nx.adamic_adar_index(g, [tuple(p) for p in pairs.tolist()])]
    )
    got = B.adamic_adar_score(e, n, pairs)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_adamic_adar_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 40
    e = _random_graph(n=n, seed=3)
    pairs = _all_pairs(n)
    ref = B.adamic_adar_score(e, n, pairs)
    monkeypatch.setattr(B, "_PAIR_BLOCK", 7)
    np.testing.assert_allclose(B.adamic_adar_score(e, n, pairs), ref, atol=1e-12)


def test_common_neighbors_matches_networkx() -> None:
    n = 40
    e = _random_graph(n=n, seed=4)
    g = _nx_graph(e, n)
    pairs = _all_pairs(n)
    expected = [len(list(nx.common_neighbors(g, a, b))) for a, b in pairs.tolist()]
    np.testing.assert_array_equal(B.common_neighbors_score(e, n, pairs), expected)


def test_scores_symmetric_in_pair_order() -> None:
    n = 40
    e = _random_graph(n=n, seed=5)
    pairs = _all_pairs(n)
    flipped = pairs[:, ::-1]
    deg = B.training_degree(e, n)
    for f in (
        lambda p: B.adamic_adar_score(e, n, p),
        lambda p: B.common_neighbors_score(e, n, p),
        lambda p: B.degree_product_score(deg, p),
    ):
        np.testing.assert_allclose(f(pairs), f(flipped), atol=1e-12)


def test_adamic_adar_rows_matches_pairwise() -> None:
    n = 40
    e = _random_graph(n=n, seed=6)
    queries = np.array([0, 5, 5, 39])
    rows = B.adamic_adar_rows(e, n, queries)
    assert rows.shape == (4, n)
    pairs = np.stack([np.repeat(queries, n), np.tile(np.arange(n), len(queries))], axis=1)
    expected = B.adamic_adar_score(e, n, pairs).reshape(len(queries), n)
    np.testing.assert_allclose(rows, expected, atol=1e-12)


def test_adamic_adar_rows_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 40
    e = _random_graph(n=n, seed=7)
    queries = np.arange(n)
    ref = B.adamic_adar_rows(e, n, queries)
    monkeypatch.setattr(B, "_ROWS_BLOCK_ELEMS", 3 * n)
    np.testing.assert_allclose(B.adamic_adar_rows(e, n, queries), ref, atol=1e-12)
    np.testing.assert_allclose(ref, ref.T, atol=1e-12)


def test_isolated_and_empty_graph() -> None:
    n = 5
    e = np.empty((0, 2), np.int64)
    assert B.training_degree(e, n).tolist() == [0] * n
    np.testing.assert_array_equal(B.adamic_adar_score(e, n, _all_pairs(n)), 0.0)
    assert B.adamic_adar_rows(e, n, np.array([1, 2])).shape == (2, n)


def test_out_of_range_raises() -> None:
    with pytest.raises(ValueError):
        B.training_degree(np.array([[0, 5]]), 5)
    with pytest.raises(ValueError):
        B.adamic_adar_score(np.array([[0, 1]]), 3, np.array([[0, 3]]))
