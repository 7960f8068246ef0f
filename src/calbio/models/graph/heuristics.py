"""Shortcut baselines: embedding cosine, and heuristics computed from the *training* graph only.

A model that learns associations must beat these: they use no embedding at all, only who is
connected to whom among the training pairs. The training graph is ``train_idx`` (m, 2) int64,
undirected edges over ``n`` entities (as in :class:`calbio.data.types.MappedPairs`), with
duplicates already removed.

* degree product: ``deg[a] * deg[b]`` (preferential attachment; captures hub bias);
* common neighbours: ``|N(a) & N(b)|``;
* Adamic-Adar: ``sum_{w in N(a) & N(b)} 1 / log(deg w)``, where neighbours of degree < 2
  contribute 0 (they cannot be a common neighbour of two distinct nodes anyway).

* resource allocation: ``sum_{w in N(a) & N(b)} 1 / deg w``.

All scores are float64 and symmetric in ``(a, b)``. Each heuristic is also an
:class:`~calbio.models.base.AssociationModelBase` (``Cosine``, ``DegreeProduct``,
``CommonNeighbours``, ``AdamicAdar``, ``ResourceAllocation``), so evaluation scores them
exactly like any learned model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from calbio.core.graph import degrees, known_csr
from calbio.data.types import Embeddings, MappedPairs
from calbio.models.base import AssociationModelBase, Progress
from calbio.models.registry import register_model
from calbio.scoring import l2_normalize

__all__ = [
    "SHORTCUTS",
    "AdamicAdar",
    "Tanimoto",
    "CommonNeighbours",
    "Cosine",
    "DegreeProduct",
    "ResourceAllocation",
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
    return degrees(_edges(train_idx, n), n)


def degree_product_score(deg: np.ndarray, pairs_idx: np.ndarray) -> np.ndarray:
    """Preferential-attachment score ``deg[a] * deg[b]`` of each pair, float64."""
    d = np.asarray(deg, dtype=np.float64)
    p = _pairs(pairs_idx, d.shape[0])
    return d[p[:, 0]] * d[p[:, 1]]


def adjacency(train_idx: np.ndarray, n: int) -> sp.csr_matrix:
    """Symmetric 0/1 adjacency matrix (n, n) of the training graph, CSR float64."""
    return known_csr(_edges(train_idx, n), n).astype(np.float64)


def _ra_weights(a: sp.csr_matrix) -> np.ndarray:
    """Resource-allocation neighbour weights ``1 / deg``, 0 for degree 0."""
    deg = np.asarray(a.sum(axis=1)).ravel()
    w = np.zeros(deg.shape[0], dtype=np.float64)
    ok = deg > 0
    w[ok] = 1.0 / deg[ok]
    return w


def _aa_weights(a: sp.csr_matrix) -> np.ndarray:
    """Adamic-Adar neighbour weights ``1 / log(deg)``, 0 for degree < 2."""
    deg = np.asarray(a.sum(axis=1)).ravel()
    w = np.zeros(deg.shape[0], dtype=np.float64)
    ok = deg >= 2
    w[ok] = 1.0 / np.log(deg[ok])
    return w


def _weighted(a: sp.csr_matrix, w: np.ndarray | None) -> sp.csr_matrix:
    """``A W``: the adjacency with each neighbour column scaled by its weight (``A`` if none)."""
    return a if w is None else (a @ sp.diags(w)).tocsr()


def _weighted_overlap(a: sp.csr_matrix, aw: sp.csr_matrix, p: np.ndarray) -> np.ndarray:
    """``sum_v A[a, v] * w[v] * A[b, v]`` for each pair row of ``p`` (``aw = A W``), in blocks."""
    out = np.empty(p.shape[0], dtype=np.float64)
    for start in range(0, p.shape[0], _PAIR_BLOCK):
        blk = p[start : start + _PAIR_BLOCK]
        prod = a[blk[:, 0]].multiply(aw[blk[:, 1]])
        out[start : start + blk.shape[0]] = np.asarray(prod.sum(axis=1)).ravel()
    return out


def common_neighbors_score(train_idx: np.ndarray, n: int, pairs_idx: np.ndarray) -> np.ndarray:
    """Number of training neighbours shared by ``a`` and ``b`` for each pair, float64."""
    a = adjacency(train_idx, n)
    return _weighted_overlap(a, a, _pairs(pairs_idx, n))


def adamic_adar_score(train_idx: np.ndarray, n: int, pairs_idx: np.ndarray) -> np.ndarray:
    """Adamic-Adar index of each pair in the training graph, float64."""
    a = adjacency(train_idx, n)
    return _weighted_overlap(a, _weighted(a, _aa_weights(a)), _pairs(pairs_idx, n))


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


# ---------------------------------------------------------------------- models
@register_model("cosine")
class Cosine(AssociationModelBase):
    """Cosine similarity of the L2-normalised embeddings; ignores the pairs (the floor to beat)."""

    def __init__(self) -> None:
        pass

    def _fit(self, emb: Embeddings, mapped: MappedPairs, progress: Progress = None) -> None:
        self.embedding_ = l2_normalize(emb.X)

    def score_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(E, E)``: cosine is an inner product of normalised rows."""
        self._check_fitted()
        return self.embedding_, self.embedding_

    def _score_idx(self, idx: np.ndarray) -> np.ndarray:
        E = self.embedding_
        return np.einsum("ij,ij->i", E[idx[:, 0]], E[idx[:, 1]], dtype=np.float64)

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"embedding": self.embedding_}, {}

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self.embedding_ = arrays["embedding"]


@register_model("tanimoto")
class Tanimoto(AssociationModelBase):
    """Tanimoto (Jaccard) similarity of binary fingerprints; the floor for molecule tables."""

    def __init__(self) -> None:
        pass

    def _fit(self, emb: Embeddings, mapped: MappedPairs, progress: Progress = None) -> None:
        from calbio.data.molecules import is_binary

        if not is_binary(emb.X):
            from calbio.core.errors import CalbioInputError

            raise CalbioInputError("the tanimoto model needs a binary (0/1) fingerprint table")
        self.fingerprints_ = np.ascontiguousarray(emb.X, dtype=np.float32)

    def _score_idx(self, idx: np.ndarray) -> np.ndarray:
        from calbio.data.molecules import tanimoto_pairs

        return tanimoto_pairs(self.fingerprints_, idx)

    def score_rows(self, queries: np.ndarray, candidates: np.ndarray | None = None) -> np.ndarray:
        """Dense Tanimoto rows (one matrix product for the intersections)."""
        from calbio.data.molecules import tanimoto_rows

        self._check_fitted()
        return tanimoto_rows(self.fingerprints_, queries, candidates)

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"fingerprints": self.fingerprints_}, {}

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self.fingerprints_ = arrays["fingerprints"]


class _GraphHeuristic(AssociationModelBase):
    """A zero-parameter score of the training graph; undefined for unseen entities."""

    uses_graph: ClassVar[bool] = True
    cold_start: ClassVar[bool] = False
    weights: ClassVar[Callable[[sp.csr_matrix], np.ndarray] | None] = None

    def __init__(self) -> None:
        pass

    def _fit(self, emb: Embeddings, mapped: MappedPairs, progress: Progress = None) -> None:
        self._graph_cache = None
        self._cand_cache = (None, None)
        self._degree_cache = None

    def _graph(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """(A, A W): adjacency and adjacency times neighbour weights, built once."""
        cache = getattr(self, "_graph_cache", None)
        if cache is None:
            a = adjacency(self.train_pairs_, self.n_entities_)
            w = type(self).weights
            cache = self._graph_cache = (a, _weighted(a, None if w is None else w(a)))
        return cache

    def _score_idx(self, idx: np.ndarray) -> np.ndarray:
        a, aw = self._graph()
        return _weighted_overlap(a, aw, idx)

    def score_rows(self, queries: np.ndarray, candidates: np.ndarray | None = None) -> np.ndarray:
        """Dense rows by one sparse product per block: ``(A W)[q] @ A[:, c]``.

        The candidate columns of A are sliced once and cached (ranking asks for the same
        candidates block after block), so a block costs its two-step paths into the candidates.
        """
        self._check_fitted()
        a, aw = self._graph()
        q = np.asarray(queries, dtype=np.int64).ravel()
        if candidates is None:
            return np.asarray((aw[q] @ a).toarray(), dtype=np.float64)
        c = np.asarray(candidates, dtype=np.int64).ravel()
        key, cols = getattr(self, "_cand_cache", (None, None))
        if key is None or not np.array_equal(key, c):
            cols = a.tocsc()[:, c].tocsr()
            self._cand_cache = (c.copy(), cols)
        return np.asarray((aw[q] @ cols).toarray(), dtype=np.float64)

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {}

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self._graph_cache = None
        self._cand_cache = (None, None)
        self._degree_cache = None


@register_model("common_neighbours")
class CommonNeighbours(_GraphHeuristic):
    """Number of shared training neighbours."""


@register_model("adamic_adar")
class AdamicAdar(_GraphHeuristic):
    """Adamic-Adar index: shared neighbours weighted by 1 / log(degree)."""

    weights = staticmethod(_aa_weights)


@register_model("resource_allocation")
class ResourceAllocation(_GraphHeuristic):
    """Resource allocation index: shared neighbours weighted by 1 / degree."""

    weights = staticmethod(_ra_weights)


@register_model("degree")
class DegreeProduct(_GraphHeuristic):
    """Preferential attachment ``deg(a) * deg(b)`` in the training graph (the hub shortcut).

    Defined for every entity (an unseen one has degree 0), so it is scored in cold start too:
    there it shows how much of a test set's signal is node popularity.
    """

    cold_start: ClassVar[bool] = True

    def _degree(self) -> np.ndarray:
        """Training degree of every entity, float64 (n, 1), counted once per fit or load."""
        cache = getattr(self, "_degree_cache", None)
        if cache is None:
            deg = training_degree(self.train_pairs_, self.n_entities_).astype(np.float64)
            cache = self._degree_cache = deg[:, None]
        return cache

    def score_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(deg, deg)`` as (n, 1) columns: the score is their outer product."""
        self._check_fitted()
        d = self._degree()
        return d, d

    def _score_idx(self, idx: np.ndarray) -> np.ndarray:
        d = self._degree()[:, 0]
        return d[idx[:, 0]] * d[idx[:, 1]]

    score_rows = AssociationModelBase.score_rows  # the outer product of the degree factors


# The shortcuts printed beside every model, in this order (plus "tanimoto" for fingerprints).
SHORTCUTS: tuple[str, ...] = ("cosine", "degree", "adamic_adar", "tanimoto")


def shortcuts_for(X: np.ndarray) -> tuple[str, ...]:
    """The shortcut baselines that apply to a table: Tanimoto only for binary fingerprints."""
    from calbio.data.molecules import is_binary

    return SHORTCUTS if is_binary(X) else tuple(s for s in SHORTCUTS if s != "tanimoto")
