"""Exact all-pairs top-k retrieval: blocked inner products plus a running partial sort.

Every calbio score is an inner product ``left[a] . right[b]`` of per-entity vectors
(:func:`calbio.scoring.score_vectors`; for the paper's half score ``left = [f(a); a] / sqrt 2``
and ``right = [b; f(b)] / sqrt 2``). The top-k partners of every entity are therefore one matrix
product, computed here tile by tile: each (query block x candidate block) tile of scores is
reduced to its row-wise top k with ``torch.topk``; the per-tile winners of a query block are
merged with one more ``topk``.
Peak memory is O(n*k + tile), tile = query block x candidate block; the n x n score
matrix never exists.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from calbio.core.graph import pair_key, pair_keys
from calbio.scoring import score_vectors

DEFAULT_TILE = 1 << 24  # scores held at once (64 MiB of float32)
MAX_CANDIDATE_BLOCK = 16384


@dataclass
class Neighbors:
    """Top-k partners of every query: ``index`` (n, k) int64 and ``score`` (n, k) float32.

    Rows are sorted by decreasing score; ``index == -1`` pads rows that have fewer than k
    candidates (then ``score`` is ``-inf``).
    """

    index: np.ndarray
    score: np.ndarray

    @property
    def k(self) -> int:
        """Partners per query."""
        return int(self.index.shape[1])


def topk_inner_product(
    left: np.ndarray,
    right: np.ndarray,
    k: int,
    *,
    exclude_self: bool = True,
    tile: int = DEFAULT_TILE,
    queries: np.ndarray | None = None,
    workers: int | None = None,
    device: str | torch.device | None = None,
) -> Neighbors:
    """Exact top-k of ``left[q] . right[c]`` over all candidates c for each query q.

    ``left`` and ``right`` are (n, D) with the same rows (entities). ``queries`` selects query
    rows (default: all). With ``exclude_self`` an entity is never its own partner. The work is
    tiled in both dimensions (``tile`` scores at a time per worker), so memory stays
    O(len(queries)*k + workers*tile). Query blocks run on ``workers`` threads (default: torch's
    thread count), each single-threaded inside torch: no per-operation barriers, which keeps
    a busy shared machine from stalling the search. With a ``device`` (``cuda``, ``mps``,
    ``auto``, or ``cpu`` for the same code path on the CPU) both factors are copied there once
    and the tiles run there in sequence (the device parallelises each tile); only the (n, k)
    winners come back.
    """
    dev = None
    if device is not None:
        from calbio.core.devices import resolve_device

        dev = resolve_device(device)
    L = torch.from_numpy(np.ascontiguousarray(left, dtype=np.float32))
    R = torch.from_numpy(np.ascontiguousarray(right, dtype=np.float32))
    if L.ndim != 2 or R.ndim != 2 or L.shape[1] != R.shape[1]:
        raise ValueError(f"left {tuple(L.shape)} and right {tuple(R.shape)} do not match")
    n = R.shape[0]
    q_rows = (
        torch.arange(L.shape[0]) if queries is None else torch.as_tensor(queries, dtype=torch.long)
    )
    if dev is not None:
        L, R, q_rows = L.to(dev), R.to(dev), q_rows.to(dev)
    k = int(k)
    if k < 1:
        raise ValueError("k must be >= 1")
    workers = max(1, int(workers or torch.get_num_threads())) if dev is None else 1
    nq = len(q_rows)
    bc = max(1, min(n, MAX_CANDIDATE_BLOCK))
    bq = max(1, min(int(tile) // bc, -(-nq // workers)))
    out_s = torch.full((nq, k), -torch.inf, device=L.device)
    out_i = torch.full((nq, k), -1, dtype=torch.long, device=L.device)

    def one_block(qs: int) -> None:
        qi = q_rows[qs : qs + bq]
        best_s, best_i = _block_topk(L[qi], qi, R, k, bc, exclude_self)
        out_s[qs : qs + len(qi), : best_s.shape[1]] = best_s
        out_i[qs : qs + len(qi), : best_s.shape[1]] = best_i

    _run_blocks(one_block, range(0, nq, bq), workers)
    out_i[torch.isneginf(out_s)] = -1
    return Neighbors(out_i.cpu().numpy(), out_s.cpu().numpy())


def _block_topk(
    Lq: torch.Tensor, qi: torch.Tensor, R: torch.Tensor, k: int, bc: int, exclude_self: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted top-k (scores, candidate rows) of one query block, candidate block by block.

    Each (query block x candidate block) tile is reduced to its row-wise top k; the tiles'
    winners are merged with one more ``topk``. Fewer than k columns when there are < k candidates.
    """
    n = R.shape[0]
    with torch.inference_mode():
        part_s, part_i = [], []
        for cs in range(0, n, bc):
            ce = min(cs + bc, n)
            scores = Lq @ R[cs:ce].T
            if exclude_self:
                local = qi - cs
                hit = (local >= 0) & (local < ce - cs)
                scores[torch.nonzero(hit).squeeze(1), local[hit]] = -torch.inf
            ts, ti = torch.topk(scores, min(k, ce - cs), dim=1, sorted=False)
            part_s.append(ts)
            part_i.append(ti + cs)
        cat_s, cat_i = torch.cat(part_s, dim=1), torch.cat(part_i, dim=1)
        best_s, pos = torch.topk(cat_s, min(k, cat_s.shape[1]), dim=1, sorted=True)
        return best_s, torch.gather(cat_i, 1, pos)


def _run_blocks(one_block: Callable[[int], None], starts: range, workers: int) -> None:
    """Run ``one_block`` on every query-block start: in turn, or on ``workers`` threads.

    Threads run single-threaded inside torch (no per-operation barriers); torch's thread count
    is restored afterwards.
    """
    if workers == 1 or len(starts) == 1:
        for qs in starts:
            one_block(qs)
        return
    threads_before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one_block, starts))
    finally:
        torch.set_num_threads(threads_before)


def exact_neighbors(
    Z: np.ndarray,
    E: np.ndarray,
    k: int,
    *,
    kind: str = "half",
    blend_lambda: float = 0.5,
    tile: int = DEFAULT_TILE,
    queries: np.ndarray | None = None,
    workers: int | None = None,
    device: str | torch.device | None = None,
) -> Neighbors:
    """Top-k partners of every entity under a calbio score (association vectors Z, embedding E)."""
    left, right = score_vectors(np.asarray(Z), np.asarray(E), kind, blend_lambda)
    return topk_inner_product(
        left, right, k, tile=tile, queries=queries, workers=workers, device=device
    )


def neighbors_table(
    nb: Neighbors,
    names: np.ndarray,
    E: np.ndarray,
    known_pairs: np.ndarray | None = None,
    queries: np.ndarray | None = None,
) -> pd.DataFrame:
    """Long table: entity, rank, partner, association, cosine, known (a training pair)."""
    n = len(names)
    q = np.arange(nb.index.shape[0]) if queries is None else np.asarray(queries, dtype=np.int64)
    valid = nb.index >= 0
    qq = np.broadcast_to(q[:, None], nb.index.shape)[valid]
    pp = nb.index[valid]
    ranks = np.broadcast_to(np.arange(1, nb.k + 1), nb.index.shape)[valid]
    E = np.asarray(E, dtype=np.float32)
    cos = np.einsum("ij,ij->i", E[qq], E[pp], dtype=np.float64)
    if known_pairs is not None and len(known_pairs):
        kp = np.asarray(known_pairs, dtype=np.int64).reshape(-1, 2)
        known = np.isin(pair_key(qq, pp, n), pair_keys(kp, n))
    else:
        known = np.zeros(len(qq), dtype=bool)
    names = np.asarray(names, dtype=object)
    return pd.DataFrame(
        {
            "entity": names[qq],
            "rank": ranks.astype(np.int32),
            "partner": names[pp],
            "association": nb.score[valid].astype(np.float64),
            "cosine": cos,
            "known": known,
        }
    )


def model_topk(
    model: Any,
    k: int,
    *,
    queries: np.ndarray | None = None,
    tile: int = DEFAULT_TILE,
    exclude_self: bool = True,
) -> Neighbors:
    """Exact top-k partners under any fitted association model.

    Factorised models (``score_vectors()`` returns factors) use the blocked inner-product search;
    others are scored through ``score_rows`` one query block at a time.
    """
    vec = model.score_vectors()
    if vec is not None:
        left, right = vec
        return topk_inner_product(
            left, right, k, tile=tile, queries=queries, exclude_self=exclude_self
        )
    n = int(model.n_entities_)
    q = np.arange(n) if queries is None else np.asarray(queries, dtype=np.int64).ravel()
    k = min(int(k), n)
    out_i = np.full((len(q), k), -1, dtype=np.int64)
    out_s = np.full((len(q), k), -np.inf, dtype=np.float32)
    block = max(1, int(tile) // max(n, 1))
    for s in range(0, len(q), block):
        qb = q[s : s + block]
        scores = model.score_rows(qb).astype(np.float32)
        if exclude_self:
            scores[np.arange(len(qb)), qb] = -np.inf
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        ps = np.take_along_axis(scores, part, 1)
        order = np.argsort(-ps, axis=1, kind="stable")
        out_i[s : s + len(qb)] = np.take_along_axis(part, order, 1)
        out_s[s : s + len(qb)] = np.take_along_axis(ps, order, 1)
    out_i[np.isneginf(out_s)] = -1
    return Neighbors(out_i, out_s)


def model_neighbors(model: Any, top: int = 50, *, tile: int = DEFAULT_TILE) -> pd.DataFrame:
    """All-entity top partners of a fitted association model as a table."""
    nb = model_topk(model, min(top, len(model.names_) - 1), tile=tile)
    E = getattr(model, "embedding_", None)
    if E is None:
        E = np.zeros((len(model.names_), 1), np.float32)
    return neighbors_table(nb, model.names_, E, model.train_pairs_)
