"""Shortcut baselines computed from the *training* graph only.

A model that learns associations must beat these: they use no embedding at all, only who is
connected to whom among the training pairs. The training graph is ``train_idx`` (m, 2) int64,
undirected edges over ``n`` entities (as in :class:`calbio.data.types.MappedPairs`), with
duplicates already removed.

* degree product: ``deg[a] * deg[b]`` (preferential attachment; captures hub bias);
* common neighbours: ``|N(a) & N(b)|``;
* Adamic-Adar: ``sum_{w in N(a) & N(b)} 1 / log(deg w)``, where neighbours of degree < 2
  contribute 0 (they cannot be a common neighbour of two distinct nodes anyway).

All scores are float64 and symmetric in ``(a, b)``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "adamic_adar_rows",
    "adamic_adar_score",
    "adjacency",
    "common_neighbors_score",
    "degree_product_score",
    "training_degree",
]

# Pairs (or query rows) processed per sparse block.
_PAIR_BLOCK = 65_536
# Upper bound on dense elements materialised per block in adamic_adar_rows.
_ROWS_BLOCK_ELEMS = 8_000_000


def _edges(train_idx: np.ndarray, n: int) -> np.ndarray:
    """Validate an (m, 2) edge array over ``n`` entities and return it as int64."""
    e = np.asarray(train_idx, dtype=np.int64).reshape(-1, 2)
    if e.size and (e.min() < 0 or e.max() >= n):
        raise ValueError(f"edge indices out of range for {n} entities")
    return e


def _pairs(pairs_idx: np.ndarray, n: int | None = None) -> np.ndarray:
    """Validate an (k, 2) pair array (optionally against ``n``) and return it as int64."""
    p = np.asarray(pairs_idx, dtype=np.int64).reshape(-1, 2)
    if n is not None and p.size and (p.min() < 0 or p.max() >= n):
        raise ValueError(f"pair indices out of range for {n} entities")
    return p


def training_degree(train_idx: np.ndarray, n: int) -> np.ndarray:
    """Degree of each of the ``n`` entities in the training graph, shape (n,) int64."""
    e = _edges(train_idx, n)
    return np.bincount(e.ravel(), minlength=n).astype(np.int64)


def degree_product_score(deg: np.ndarray, pairs_idx: np.ndarray) -> np.ndarray:
    """Preferential-attachment score ``deg[a] * deg[b]`` of each pair, float64."""
    d = np.asarray(deg, dtype=np.float64)
    p = _pairs(pairs_idx, d.shape[0])
    return d[p[:, 0]] * d[p[:, 1]]


def adjacency(train_idx: np.ndarray, n: int) -> sp.csr_matrix:
    """Symmetric 0/1 adjacency matrix (n, n) of the training graph, CSR float64."""
    e = _edges(train_idx, n)
    rows = np.concatenate([e[:, 0], e[:, 1]])
    cols = np.concatenate([e[:, 1], e[:, 0]])
    a = sp.csr_matrix((np.ones(rows.shape[0], dtype=np.float64), (rows, cols)), shape=(n, n))
    a.sum_duplicates()
    a.data[:] = 1.0
    return a


def _aa_weights(a: sp.csr_matrix) -> np.ndarray:
    """Adamic-Adar neighbour weights ``1 / log(deg)``, 0 for degree < 2."""
    deg = np.asarray(a.sum(axis=1)).ravel()
    w = np.zeros(deg.shape[0], dtype=np.float64)
    ok = deg >= 2
    w[ok] = 1.0 / np.log(deg[ok])
    return w


def _weighted_overlap(a: sp.csr_matrix, w: np.ndarray | None, p: np.ndarray) -> np.ndarray:
    """``sum_v A[a, v] * w[v] * A[b, v]`` for each pair row of ``p``, in sparse blocks."""
    aw = a if w is None else (a @ sp.diags(w)).tocsr()
    out = np.empty(p.shape[0], dtype=np.float64)
    for start in range(0, p.shape[0], _PAIR_BLOCK):
        blk = p[start : start + _PAIR_BLOCK]
        prod = a[blk[:, 0]].multiply(aw[blk[:, 1]])
        out[start : start + blk.shape[0]] = np.asarray(prod.sum(axis=1)).ravel()
    return out


def common_neighbors_score(train_idx: np.ndarray, n: int, pairs_idx: np.ndarray) -> np.ndarray:
    """Number of training neighbours shared by ``a`` and ``b`` for each pair, float64."""
    a = adjacency(train_idx, n)
    return _weighted_overlap(a, None, _pairs(pairs_idx, n))


def adamic_adar_score(train_idx: np.ndarray, n: int, pairs_idx: np.ndarray) -> np.ndarray:
    """Adamic-Adar index of each pair in the training graph, float64."""
    a = adjacency(train_idx, n)
    return _weighted_overlap(a, _aa_weights(a), _pairs(pairs_idx, n))


def adamic_adar_rows(train_idx: np.ndarray, n: int, queries: np.ndarray) -> np.ndarray:
    """Dense (len(queries), n) Adamic-Adar scores of each query entity against all entities."""
    a = adjacency(train_idx, n)
    q = np.asarray(queries, dtype=np.int64).ravel()
    if q.size and (q.min() < 0 or q.max() >= n):
        raise ValueError(f"query indices out of range for {n} entities")
    aw = (a @ sp.diags(_aa_weights(a))).tocsr()
    out = np.empty((q.shape[0], n), dtype=np.float64)
    block = max(1, min(_PAIR_BLOCK, _ROWS_BLOCK_ELEMS // max(n, 1)))
    for start in range(0, q.shape[0], block):
        blk = q[start : start + block]
        out[start : start + blk.shape[0]] = (aw[blk] @ a).toarray()
    return out
