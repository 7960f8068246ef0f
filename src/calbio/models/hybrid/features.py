"""The hybrid's per-pair features: CAL, the embedding and training-graph evidence.

Per pair ``(a, b)`` (all symmetric in ``a, b``):

* ``cal``: CAL's score (its configured kind); ``cosine`` of the embeddings;
* ``log1p`` of common neighbours, Adamic-Adar and resource allocation in the training graph, and
  of degree-normalised paths of length 3 (``l3 = A D^-1/2 A D^-1/2 A``, Kovacs et al. 2019);
* ``log1p`` degrees: their sum and their minimum;
* CAL propagated over the graph: ``prop`` = mean CAL score between ``a`` and ``b``'s neighbours
  (and the reverse), ``prop2`` = mean CAL score between ``a``'s and ``b``'s neighbours; ``cprop``,
  the one-hop mean for cosine. Inner products of per-entity vectors (neighbour means of CAL's
  factors), so a dense row of scores is a few matrix products;
* ``sage``: the GraphSAGE link score ``h_a . h_b`` (0 when the hybrid has no GraphSAGE).

Memory: the length-3 paths are never materialised as an ``n x n`` matrix (the two-hop product
is nearly dense on heavy-tailed graphs: 4.8 GB at 20k entities); for pairs, each distinct
expanding end's two-hop row is computed once, in blocks of ends sized by their work (dense rows
plus lookups), and read at the other ends' neighbours; for query rows, per block of queries.
Common neighbours, Adamic-Adar and resource allocation share one intersection per pair block,
and the per-entity vectors are gathered once per (small) block (time and peak memory at 20k
entities x 400k pairs: ``python benchmarks/hybrid_speed.py``, benchmarks/SPEED.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from calbio.core.graph import pair_keys
from calbio.core.seeds import child_seed
from calbio.models.graph.heuristics import (
    _aa_weights,
    _ra_weights,
    _weighted,
    adjacency,
)

__all__ = ["FEATURES", "GRAPH_FEATURES", "GraphFeatures", "carve", "hash_unit", "transitivity"]

FEATURES: tuple[str, ...] = (
    "cal",
    "cosine",
    "log_cn",
    "log_aa",
    "log_ra",
    "log_deg_sum",
    "log_deg_min",
    "prop",
    "prop2",
    "cprop",
    "sage",
    "log_l3",
)
# Features read from the training graph (the rest: CAL, the embedding, GraphSAGE's vectors).
GRAPH_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f not in ("cal", "cosine", "sage"))
I_DEG_MIN = FEATURES.index("log_deg_min")
I_L3 = FEATURES.index("log_l3")
_PAIR_BLOCK = 8_192  # pairs per block: (8192, 256) float64 gathers of 16 MB
# Elements per block when counting length-3 paths: sparse two-hop products (transitivity), or
# dense two-hop rows of the expanded ends plus the other ends' neighbours read from them (pairs).
_L3_BLOCK_ELEMS = 4_000_000


def hash_unit(keys: np.ndarray, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per integer key, from a seeded splitmix64 hash (vectorised)."""
    x = np.asarray(keys, dtype=np.int64).astype(np.uint64)
    x = x + np.uint64((int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def carve(
    train_idx: np.ndarray, n: int, val_fraction: float, cold_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split training pairs into (fit, warm validation, cold validation) by hashed identity.

    An entity is held aside when its hash is below ``cold_fraction``; every pair touching one is
    a cold validation pair. Of the other pairs, those whose hash is below ``val_fraction`` are
    warm validation pairs. Whether a pair is carved never depends on the other pairs.
    """
    e = np.asarray(train_idx, dtype=np.int64).reshape(-1, 2)
    cold_ent = hash_unit(np.arange(n), child_seed(seed, "hybrid/cold_entities")) < cold_fraction
    cold = cold_ent[e[:, 0]] | cold_ent[e[:, 1]]
    keys = pair_keys(e, n)
    warm = ~cold & (hash_unit(keys, child_seed(seed, "hybrid/warm_pairs")) < val_fraction)
    return e[~cold & ~warm], e[warm], e[cold]


def transitivity(a: sp.csr_matrix) -> float:
    """Global clustering coefficient: closed two-paths / all two-paths (0 for no two-path).

    1 for a union of cliques (complex-like pairs), small for a sparse signalling graph. Counted
    in row blocks: ``sum((A[rows] @ A) * A[rows])`` closed paths, never the ``n x n`` product.
    """
    deg = np.asarray(a.sum(axis=1)).ravel()
    paths = float((deg * (deg - 1)).sum())
    if paths == 0:
        return 0.0
    closed = 0.0
    work = np.asarray(a @ deg).ravel()  # two-hop elements of each row
    for rows in _blocks(work, _L3_BLOCK_ELEMS):
        closed += float((a[rows] @ a).multiply(a[rows]).sum())
    return closed / paths


def _blocks(work: np.ndarray, budget: int) -> list[np.ndarray]:
    """Consecutive index blocks whose summed ``work`` stays near ``budget`` (at least one each)."""
    c = np.cumsum(np.maximum(work, 1.0))
    cuts = np.searchsorted(c, np.arange(budget, c[-1] if len(c) else 0, budget))
    edges = np.unique(np.r_[0, cuts, len(work)])
    return [np.arange(s, t) for s, t in zip(edges[:-1], edges[1:], strict=True) if t > s]


class GraphFeatures:
    """The combiner's features of any pair, from a training graph and CAL's score factors."""

    def __init__(
        self,
        train_idx: np.ndarray,
        n: int,
        left: np.ndarray,
        right: np.ndarray,
        E: np.ndarray,
        gnn: np.ndarray | None = None,
    ) -> None:
        a = adjacency(train_idx, n)
        self.A = a
        self.aa_w, self.ra_w = _aa_weights(a), _ra_weights(a)
        self.AW = _weighted(a, self.aa_w)
        self.AR = _weighted(a, self.ra_w)
        deg = np.asarray(a.sum(axis=1)).ravel()
        isq = np.zeros(n)
        isq[deg > 0] = 1.0 / np.sqrt(deg[deg > 0])
        self.B = (a @ sp.diags(isq)).tocsr()  # A D^-1/2: l3 = B A B^T, never formed
        self.BT = self.B.T.tocsr()
        self.hop2 = np.asarray(a @ deg).ravel()  # elements of row a of B A
        self.deg = deg
        self._cand: tuple[np.ndarray | None, sp.csc_matrix | None, sp.csc_matrix | None] = (
            None,
            None,
            None,
        )
        self.logdeg = np.log1p(deg)
        inv = np.zeros(n)
        inv[deg > 0] = 1.0 / deg[deg > 0]
        mean = (sp.diags(inv) @ a).tocsr()
        self.L = np.asarray(left, dtype=np.float64)
        self.R = np.asarray(right, dtype=np.float64)
        self.E = np.asarray(E, dtype=np.float64)
        self.ML = np.asarray(mean @ self.L)
        self.MR = np.asarray(mean @ self.R)
        self.ME = np.asarray(mean @ self.E)
        self.H = np.zeros((n, 1)) if gnn is None else np.asarray(gnn, dtype=np.float64)

    def l3(self, p: np.ndarray) -> np.ndarray:
        """Degree-normalised length-3 path counts of pairs ``p`` (k, 2), in two-hop blocks.

        Each pair is expanded from its end with the smaller two-hop neighbourhood, and each such
        end once for all its pairs: its two-hop row ``t = B[end] A`` is read at the other ends'
        neighbours (``l3 = sum_v t[v] B[other, v]``). Validation pairs share their anchors (a
        positive and its negatives), and 400k pairs have at most 20k distinct ends, so this is
        an order of magnitude less two-hop work than one expansion per pair.
        """
        p = np.asarray(p, dtype=np.int64).reshape(-1, 2)
        out = np.zeros(len(p))
        if not len(p):
            return out
        swap = self.hop2[p[:, 0]] > self.hop2[p[:, 1]]
        end = np.where(swap, p[:, 1], p[:, 0])
        other = np.where(swap, p[:, 0], p[:, 1])
        order = np.argsort(end, kind="stable")
        ends, first, count = np.unique(end[order], return_index=True, return_counts=True)
        # work of an end: its dense two-hop row, and the neighbours of its pairs' other ends
        work = len(self.deg) + self.hop2[ends] + np.add.reduceat(self.deg[other[order]], first)
        for blk in _blocks(work, _L3_BLOCK_ELEMS):
            rows = order[first[blk[0]] : first[blk[-1]] + count[blk[-1]]]  # grouped by end
            out[rows] = self._l3_block(ends[blk], count[blk], other[rows])
        return out

    def _l3_block(self, ends: np.ndarray, count: np.ndarray, other: np.ndarray) -> np.ndarray:
        """``l3`` of the pairs ``(ends[i], other[j])``, ``count[i]`` consecutive ``j`` per end."""
        t = (self.B[ends] @ self.A).toarray()  # (len(ends), n): its rows are the ends' B A
        nb = self.B[other]  # the other ends' neighbours v, valued isq[v]
        per = np.diff(nb.indptr)
        row = np.repeat(np.repeat(np.arange(len(ends)), count), per)
        prod = t[row, nb.indices] * nb.data
        pair = np.repeat(np.arange(len(other)), per)
        return np.bincount(pair, weights=prod, minlength=len(other))

    def pairs(self, idx: np.ndarray) -> np.ndarray:
        """(m, len(FEATURES)) feature matrix of the pairs ``idx`` (m, 2)."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1, 2)
        out = np.empty((len(idx), len(FEATURES)))
        # length-3 paths over all pairs at once (each expanded end once), the rest per block
        out[:, I_L3] = np.log1p(self.l3(idx))
        rest = [j for j in range(len(FEATURES)) if j != I_L3]
        for s in range(0, len(idx), _PAIR_BLOCK):
            p = idx[s : s + _PAIR_BLOCK]
            out[s : s + len(p), rest] = np.stack(self._pair_block(p), axis=1)
        return out

    def _pair_block(self, p: np.ndarray) -> list[np.ndarray]:
        """Every feature of the pairs ``p`` but ``log_l3``, in the order of FEATURES."""

        def dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return np.einsum("ij,ij->i", x, y)

        a, b = p[:, 0], p[:, 1]
        # the shared neighbours once, for common neighbours, Adamic-Adar and resource allocation
        common = self.A[a].multiply(self.A[b]).tocsr()

        def shared(w: np.ndarray) -> np.ndarray:
            c = sp.csr_matrix((w[common.indices], common.indices, common.indptr), common.shape)
            return np.log1p(np.asarray(c.sum(axis=1)).ravel())

        la, lb = self.logdeg[a], self.logdeg[b]
        La, Lb, Ea, Eb = self.L[a], self.L[b], self.E[a], self.E[b]  # each row gathered once
        MRa, MRb = self.MR[a], self.MR[b]
        return [
            dot(La, self.R[b]),
            dot(Ea, Eb),
            np.log1p(np.asarray(common.sum(axis=1)).ravel()),
            shared(self.aa_w),
            shared(self.ra_w),
            la + lb,
            np.minimum(la, lb),
            0.5 * (dot(La, MRb) + dot(MRa, Lb)),
            dot(self.ML[a], MRb),
            0.5 * (dot(Ea, self.ME[b]) + dot(self.ME[a], Eb)),
            dot(self.H[a], self.H[b]),
        ]

    def rows(self, q: np.ndarray, c: np.ndarray) -> list[np.ndarray]:
        """The features of every (query, candidate) pair, one dense (len(q), len(c)) block each."""
        key, at, bt = self._cand
        if key is None or not np.array_equal(key, c):  # ranking asks block after block
            at, bt = self.A[:, c].tocsc(), self.BT[:, c].tocsc()
            self._cand = (np.array(c, copy=True), at, bt)
        la, lb = self.logdeg[q][:, None], self.logdeg[c][None, :]
        return [
            self.L[q] @ self.R[c].T,
            self.E[q] @ self.E[c].T,
            np.log1p((self.A[q] @ at).toarray()),
            np.log1p((self.AW[q] @ at).toarray()),
            np.log1p((self.AR[q] @ at).toarray()),
            la + lb,
            np.minimum(la, lb),
            0.5 * (self.L[q] @ self.MR[c].T + self.MR[q] @ self.L[c].T),
            self.ML[q] @ self.MR[c].T,
            0.5 * (self.E[q] @ self.ME[c].T + self.ME[q] @ self.E[c].T),
            self.H[q] @ self.H[c].T,
            np.log1p(((self.B[q] @ self.A) @ bt).toarray()),
        ]

    def shared_neighbours(
        self, p: np.ndarray, names: np.ndarray, top: int = 3
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per pair: its shared neighbours with the largest Adamic-Adar weights (``;``-joined
        names, strongest first) and how many neighbours it shares in all."""
        p = np.asarray(p, dtype=np.int64).reshape(-1, 2)
        common = self.A[p[:, 0]].multiply(self.AW[p[:, 1]]).tocoo()  # weight 1/log(deg w)
        count = np.asarray(self.A[p[:, 0]].multiply(self.A[p[:, 1]]).sum(axis=1)).ravel()
        df = pd.DataFrame({"row": common.row, "w": common.data, "name": names[common.col]})
        df = df[df["w"] > 0].sort_values(["row", "w"], ascending=[True, False], kind="stable")
        df = df[df.groupby("row").cumcount() < top]
        joined = df.groupby("row")["name"].agg(";".join)
        out = np.full(len(p), "", dtype=object)
        out[joined.index.to_numpy()] = joined.to_numpy()
        return out, count.astype(np.int64)
