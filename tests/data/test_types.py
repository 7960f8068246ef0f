"""data.types: short reprs of Embeddings, Pairs and MappedPairs (no arrays printed)."""

from __future__ import annotations

import numpy as np

import calbio
from calbio.data.types import Embeddings, MappedPairs, Pairs


def test_short_reprs(synthetic):
    emb, prs = synthetic.embeddings, synthetic.pairs
    r = repr(emb)
    assert r.startswith("Embeddings with n_entities x n_features = 300 x 16")
    assert len(r.splitlines()) <= 5 and "[[" not in r and "array" not in r
    r = repr(prs)
    assert r.startswith("Pairs with n_pairs = 1,500") and "array" not in r
    m = calbio.map_pairs(prs, emb)
    assert repr(m).startswith("MappedPairs with n_pairs = ") and "array" not in repr(m)
    big = Embeddings(np.array([f"x{i}" for i in range(5000)]), np.ones((5000, 64)))
    assert len(repr(big)) < 300
    assert "MappedPairs" in repr(MappedPairs(np.zeros((0, 2)), 3))
    assert "n_pairs = 0" in repr(Pairs(np.array([]), np.array([])))
