"""HDBSCAN on cosine distances, per-cluster statistics, association-specific clusters, memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from calbio.analysis.clusters import (
    analyze_clusters,
    cosine_distance_matrix,
    hdbscan_cosine,
    mean_pairwise_cosine,
    membership_matrix,
)
from calbio.core.errors import CalbioInputError


def blobs(n_groups: int, per: int, dim: int, spread: float, seed: int) -> np.ndarray:
    """Unit vectors in tight angular groups (labels = row // per)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_groups, dim))
    X = np.repeat(centers, per, axis=0) + spread * rng.standard_normal((n_groups * per, dim))
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two labelings group the items identically (up to renaming)."""
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_cosine_distance_matrix_is_one_minus_cosine():
    X = np.random.default_rng(0).standard_normal((30, 5))
    D = cosine_distance_matrix(X)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    np.testing.assert_allclose(D, np.clip(1 - U @ U.T, 0, 2) * (1 - np.eye(30)), atol=1e-12)
    assert D.dtype == np.float64 and np.array_equal(D, D.T)


def test_hdbscan_recovers_angular_groups_and_ignores_scale():
    X = blobs(4, 15, 16, 0.1, seed=1)
    labels = hdbscan_cosine(X, min_cluster_size=5, min_samples=3)
    truth = np.repeat(np.arange(4), 15)
    assert (labels >= 0).all() and same_partition(labels, truth)
    scaled = X * np.random.default_rng(2).uniform(0.1, 10, size=(60, 1))  # cosine: scale-free
    assert np.array_equal(hdbscan_cosine(scaled, 5, 3), labels)


def test_hdbscan_rejects_bad_input():
    with pytest.raises(CalbioInputError):
        hdbscan_cosine(np.ones((1, 3)))
    with pytest.raises(CalbioInputError):
        hdbscan_cosine(np.full((5, 3), np.nan))


def test_mean_pairwise_cosine_matches_brute_force():
    X = np.random.default_rng(3).standard_normal((40, 6))
    labels = np.random.default_rng(4).integers(-1, 4, 40)
    got = mean_pairwise_cosine(X, labels)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    for c in range(4):
        idx = np.flatnonzero(labels == c)
        S = U[idx] @ U[idx].T
        expected = (S.sum() - len(idx)) / (len(idx) * (len(idx) - 1))
        assert got[c] == pytest.approx(expected)
    assert membership_matrix(labels).shape == (4, 40)


def test_association_specific_clusters_and_hub_fraction():
    per = 12
    Z = blobs(4, per, 12, 0.08, seed=5)  # four tight groups in association space
    E = Z.copy()
    # group 0 is scattered in embedding space: 4 members sit in each of groups 1, 2 and 3
    rng = np.random.default_rng(6)
    donors = np.repeat([per, 2 * per, 3 * per], 4)
    E[:per] = Z[donors] + 0.02 * rng.standard_normal((per, 12))
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    names = np.array([f"g{i}" for i in range(4 * per)], object)
    star = np.array([[per, j] for j in range(per + 1, 4 * per)] * 2)  # entity 12: degree 70
    res = analyze_clusters(names, E, Z, star, min_cluster_size=5, min_samples=3)
    t = res.table.set_index("cluster")
    assert len(t) == 4
    spec0 = t.loc[res.assoc_labels[0]]
    spec1 = t.loc[res.assoc_labels[per]]
    assert spec0["other_space_clusters_spanned"] == 3
    assert bool(spec0["association_specific"]) and not bool(spec1["association_specific"])
    assert spec0["mean_embedding_cosine"] < 0.5 < spec1["mean_embedding_cosine"]
    assert spec0["ratio"] > spec1["ratio"]
    assert spec1["hub_fraction"] == pytest.approx(1 / per)  # one hub (degree > 50) in group 1
    assert spec0["hub_fraction"] == 0
    members = res.members("association")
    assert sum(len(m) for m in members) == int((res.assoc_labels >= 0).sum())
    assert set(res.members_frame().columns) == {
        "entity",
        "association_cluster",
        "embedding_cluster",
    }


def test_memory_is_one_dense_matrix_plus_sklearn_transients():
    n = 700
    X = blobs(10, n // 10, 16, 0.3, seed=7)
    tracemalloc.start()
    try:
        hdbscan_cosine(X, 5, 3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    dense = n * n * 8
    # one float64 n x n held by calbio plus sklearn's symmetry-check temporaries (~3.1x measured)
    assert dense <= peak < 4 * dense
