"""Tests for calbio.data.synthetic: the documented ground truth actually holds."""

from __future__ import annotations

import numpy as np
import pytest

from calbio.core.metrics import roc_auc
from calbio.data.synthetic import SyntheticData, compatibility, make_synthetic, unit_vectors
from calbio.data.types import Embeddings, Pairs
from calbio.models.graph.heuristics import degree_product_score, training_degree


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return make_synthetic()


def _idx(d: SyntheticData) -> np.ndarray:
    index = d.embeddings.index
    a = np.array([index[x] for x in d.pairs.a])
    b = np.array([index[x] for x in d.pairs.b])
    return np.stack([a, b], axis=1)


def _random_non_pairs(pos: np.ndarray, n: int, k: int, seed: int = 123) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r = rng.integers(0, n, (3 * k, 2))
    r = r[r[:, 0] != r[:, 1]]
    codes = np.minimum(r[:, 0], r[:, 1]) * n + np.maximum(r[:, 0], r[:, 1])
    pos_codes = np.minimum(pos[:, 0], pos[:, 1]) * n + np.maximum(pos[:, 0], pos[:, 1])
    r = r[~np.isin(codes, pos_codes)]
    return r[:k]


def test_types_and_labels(data: SyntheticData) -> None:
    assert isinstance(data.embeddings, Embeddings) and isinstance(data.pairs, Pairs)
    assert data.embeddings.source == "synthetic" and data.pairs.source == "synthetic"
    assert len(data.embeddings) == 800 and data.embeddings.dim == 32 and len(data.pairs) == 4000
    assert data.embeddings.names[0] == "SYN0001" and data.embeddings.names[-1] == "SYN0800"
    assert isinstance(data.truth["description"], str) and "ynthetic" in data.truth["description"]
    np.testing.assert_allclose(np.linalg.norm(data.embeddings.X, axis=1), 1.0, atol=1e-5)


def test_map_is_symmetric_orthogonal(data: SyntheticData) -> None:
    t = np.asarray(data.truth["map"])
    np.testing.assert_allclose(t, t.T, atol=1e-12)
    np.testing.assert_allclose(t @ t, np.eye(t.shape[0]), atol=1e-10)
    assert abs(np.trace(t)) < 1e-8  # half the eigenvalues are -1


def test_deterministic_for_seed() -> None:
    a = make_synthetic(200, 16, 600, seed=3)
    b = make_synthetic(200, 16, 600, seed=3)
    c = make_synthetic(200, 16, 600, seed=4)
    np.testing.assert_array_equal(a.embeddings.X, b.embeddings.X)
    np.testing.assert_array_equal(a.pairs.a, b.pairs.a)
    np.testing.assert_array_equal(a.pairs.b, b.pairs.b)
    assert not np.array_equal(a.embeddings.X, c.embeddings.X)


def test_no_self_or_duplicate_pairs(data: SyntheticData) -> None:
    idx = _idx(data)
    assert (idx[:, 0] != idx[:, 1]).all()
    und = np.sort(idx, axis=1)
    assert np.unique(und, axis=0).shape[0] == idx.shape[0]


def test_positives_dissimilar_but_compatible(data: SyntheticData) -> None:
    x = data.embeddings.X.astype(np.float64)
    idx = _idx(data)
    cos = np.einsum("ij,ij->i", x[idx[:, 0]], x[idx[:, 1]])
    assert np.abs(cos).mean() < 0.2
    assert data.truth["mean_positive_cosine"] == pytest.approx(cos.mean(), abs=1e-5)
    assert data.truth["cross_boundary_fraction"] == pytest.approx(np.mean(np.abs(cos) < 0.2))
    neg = _random_non_pairs(idx, len(x), len(idx))
    c_pos = compatibility(x, data.truth["map"], idx)
    c_neg = compatibility(x, data.truth["map"], neg)
    assert c_pos.mean() > c_neg.mean() + 5 * c_neg.std() / np.sqrt(len(c_neg))
    assert c_pos.mean() > 0.25 and abs(c_neg.mean()) < 0.05
    # compatibility is symmetric in the pair order
    np.testing.assert_allclose(c_pos, compatibility(x, data.truth["map"], idx[:, ::-1]))


def test_degree_heterogeneity(data: SyntheticData) -> None:
    deg = training_degree(_idx(data), len(data.embeddings))
    assert deg.max() >= 5 * np.median(deg)


def test_shortcut_and_oracle_auc(data: SyntheticData) -> None:
    x = data.embeddings.X
    n = len(x)
    pos = _idx(data)
    neg = _random_non_pairs(pos, n, len(pos))
    pairs = np.concatenate([pos, neg])
    y = np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)]
    deg = training_degree(pos, n)
    assert roc_auc(y, degree_product_score(deg, pairs)) > 0.65  # the hub shortcut exists
    assert roc_auc(y, compatibility(x, data.truth["map"], pairs)) > 0.9  # the rule is learnable
    cos = np.einsum("ij,ij->i", x[pairs[:, 0]], x[pairs[:, 1]])
    assert abs(roc_auc(y, cos) - 0.5) < 0.1  # plain similarity does not find partners


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        make_synthetic(5)
    with pytest.raises(ValueError):
        make_synthetic(30, 8, 1000)  # more pairs than the rule can produce


def test_unit_vectors_are_seeded_unit_rows() -> None:
    v = unit_vectors(np.random.default_rng(0), 7, 3)
    assert v.shape == (7, 3)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0)
    np.testing.assert_array_equal(v, unit_vectors(np.random.default_rng(0), 7, 3))
