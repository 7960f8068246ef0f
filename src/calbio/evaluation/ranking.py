"""Filtered ranking metrics (MRR, Hits@k) at genome scale: blocked, vectorised, device-aware.

Each held-out positive (a, b) gives the query "rank b among the candidates for a" (and, with
``both_orientations``, "rank a for b"). Ranks are *filtered*: the query entity itself and every
other known partner of the query are removed from its candidates, so only unknown pairs can
outrank the target. They are *realistic*: candidates tying with the target count half.

Cost. Queries are grouped by query entity, so the score row of an entity is computed **once** for
all of its targets in both orientations (not once per positive). A block of rows is snapped to a
relative grid (``rtol``, default 1e-9 of the row's largest magnitude: scores equal up to float
round-off count as ties), sorted once per row, and every target of the block is located by binary
search in the flattened sorted block; exclusions are undone the same way on the (small) set of
excluded scores. Work per block: one rows call, one row-wise sort, O(targets * log) searches;
memory: ``block_elems`` scores. Rows can come from any ``rows(queries, candidates)`` function or
from factor vectors ``(left, right)`` with score(a, b) = left[a] . right[b]; the latter run on a
torch device in blocks.

``rank_sample=N`` ranks a seeded sample of N (query, target) pairs instead of all of them; the
bootstrap CI of MRR (always reported) then says how much the sample costs in precision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

__all__ = [
    "RowsFn",
    "bootstrap_mean_ci",
    "filtered_ranking",
    "filtered_ranks",
    "rank_summary",
    "rows_from_vectors",
]

RowsFn = Callable[[np.ndarray, np.ndarray], Any]  # (queries, candidates) -> (q, c) scores

DEFAULT_BLOCK_ELEMS = 4_000_000  # scores per block (32 MB of float64)
# Row offset in a flattened block of int64 keys: snapped keys lie in [-1/rtol, 1/rtol] with
# rtol >= 1e-12 (< 2**40) and float32 bit keys in int32 range, so rows never overlap.
_OFFSET = 2**41


def rows_from_vectors(
    left: np.ndarray | torch.Tensor,
    right: np.ndarray | torch.Tensor,
    device: str | torch.device = "cpu",
) -> RowsFn:
    """A rows function ``left[q] @ right[c].T`` whose factors live on ``device`` (float32)."""
    dev = torch.device(device)
    L = torch.as_tensor(np.asarray(left, dtype=np.float32) if not torch.is_tensor(left) else left)
    R = torch.as_tensor(
        np.asarray(right, dtype=np.float32) if not torch.is_tensor(right) else right
    )
    L, R = L.to(dev, torch.float32), R.to(dev, torch.float32)
    cache: dict[str, Any] = {}

    def rows(queries: np.ndarray, candidates: np.ndarray) -> torch.Tensor:
        key = cache.get("key")
        cand = np.asarray(candidates, dtype=np.int64)
        if key is None or key is not cand and not np.array_equal(key, cand):
            cache["key"] = cand
            cache["Rc"] = R[torch.as_tensor(cand, device=dev)]
        q = torch.as_tensor(np.asarray(queries, dtype=np.int64), device=dev)
        return L[q] @ cache["Rc"].T

    return rows


def filtered_ranks(
    positives: np.ndarray,
    candidates: np.ndarray,
    known: sp.csr_matrix,
    *,
    rows: RowsFn | None = None,
    vectors: tuple[np.ndarray, np.ndarray] | None = None,
    both_orientations: bool = True,
    rank_sample: int | None = None,
    seed: int = 0,
    block_elems: int = DEFAULT_BLOCK_ELEMS,
    rtol: float = 1e-9,
    device: str | torch.device = "cpu",
    _backend: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Filtered realistic 1-based rank of every (query, target) pair; returns (ranks, pairs).

    ``known`` is an (n, n) CSR of known pairs (see :func:`known_csr`); the query itself and its
    known partners other than the target are filtered out. Targets must be candidates.
    """
    if (rows is None) == (vectors is None):
        raise ValueError("give exactly one of rows= or vectors=")
    if not 1e-12 <= rtol < 1e-3:
        raise ValueError("rtol must be in [1e-12, 1e-3)")
    if rows is None:
        rows = rows_from_vectors(vectors[0], vectors[1], device)
    n = known.shape[0]
    pos = np.asarray(positives, dtype=np.int64).reshape(-1, 2)
    cand = np.asarray(candidates, dtype=np.int64).ravel()
    c = len(cand)
    col_of = np.full(n, -1, dtype=np.int64)
    col_of[cand] = np.arange(c)
    qt = _ranking_queries(pos, both_orientations, rank_sample, seed)
    if len(qt) == 0:
        return np.zeros(0), qt
    tcol_all = col_of[qt[:, 1]]
    if (tcol_all < 0).any():
        raise ValueError("every ranking target must be among the candidates")
    order = np.argsort(qt[:, 0], kind="stable")
    uq, first, counts = np.unique(qt[order, 0], return_index=True, return_counts=True)
    ranks_sorted = np.empty(len(qt), dtype=np.float64)
    per_block = max(1, int(block_elems) // max(c, 1))
    for i0 in range(0, len(uq), per_block):
        i1 = min(len(uq), i0 + per_block)
        qb = uq[i0:i1]
        u = len(qb)
        j0, j1 = first[i0], first[i1 - 1] + counts[i1 - 1]
        r = np.repeat(np.arange(u), counts[i0:i1])
        tcol = tcol_all[order[j0:j1]]
        S = rows(qb, cand)
        if tuple(S.shape) != (u, c):
            raise ValueError(f"rows() returned shape {tuple(S.shape)}, expected {(u, c)}")
        ex_r, ex_cc = _exclusions(known, qb, col_of, r, tcol, c)
        if torch.is_tensor(S) and (S.device.type != "cpu" or _backend == "torch"):
            rank = _block_ranks_torch(S, r, tcol, ex_r, ex_cc, rtol)
        else:
            S = S.numpy() if torch.is_tensor(S) else np.asarray(S)
            rank = _block_ranks_numpy(S, r, tcol, ex_r, ex_cc, rtol)
        ranks_sorted[j0:j1] = rank
    ranks = np.empty_like(ranks_sorted)
    ranks[order] = ranks_sorted
    return ranks, qt


def _ranking_queries(
    pos: np.ndarray, both_orientations: bool, rank_sample: int | None, seed: int
) -> np.ndarray:
    """The (query, target) rows to rank: both orientations if asked, a seeded sorted sample."""
    qt = np.concatenate([pos, pos[:, ::-1]]) if both_orientations else pos
    if rank_sample is not None:
        if rank_sample < 1:
            raise ValueError("rank_sample must be >= 1")
        if rank_sample < len(qt):
            pick = np.random.default_rng(seed).choice(len(qt), size=rank_sample, replace=False)
            qt = qt[np.sort(pick)]
    return qt


def _exclusions(
    known: sp.csr_matrix,
    qb: np.ndarray,
    col_of: np.ndarray,
    r: np.ndarray,
    tcol: np.ndarray,
    c: int,
) -> tuple[np.ndarray, np.ndarray]:
    """A block's filtered (row, column) cells, each once: known partners, the query, the target.

    The target itself is excluded so that its own tie cancels.
    """
    kn = known[qb].tocoo()
    ex_c = col_of[kn.col]
    keep = ex_c >= 0
    self_c = col_of[qb]
    self_ok = self_c >= 0
    codes = np.unique(
        np.concatenate(
            [
                kn.row[keep].astype(np.int64) * c + ex_c[keep],
                np.flatnonzero(self_ok) * c + self_c[self_ok],
                r * c + tcol,
            ]
        )
    )
    return codes // c, codes % c


def _order_keys(S: np.ndarray, rtol: float) -> np.ndarray:
    """Integer keys with the order of the scores; equal keys are ties.

    float64 rows are snapped to a grid of ``rtol * max|row|`` (so round-off differences tie);
    float32 rows (factor vectors) are keyed by their bit pattern, i.e. compared at float32
    resolution (~6e-8 relative, where values within 1e-9 relative are already equal).
    """
    if np.isnan(S).any():
        raise ValueError("scores contain NaN")
    if S.dtype == np.float32:
        bits = (S + np.float32(0.0)).view(np.int32)  # + 0 turns -0.0 into +0.0
        return bits ^ ((bits >> 31) & np.int32(0x7FFFFFFF))
    S = S.astype(np.float64, copy=False)
    big = np.abs(S).max(axis=1, keepdims=True)
    big[big == 0] = 1.0
    grid = 1.0 / rtol
    dtype = np.int32 if grid < 2**31 - 1 else np.int64
    return np.rint(S * (grid / big)).astype(dtype)


def _block_ranks_numpy(
    S: np.ndarray, r: np.ndarray, tcol: np.ndarray, ex_r: np.ndarray, ex_c: np.ndarray, rtol: float
) -> np.ndarray:
    """Ranks of the targets (r, tcol) of one block of rows, filtering (ex_r, ex_c)."""
    u, c = S.shape
    keys = _order_keys(S, rtol)
    off = np.arange(u, dtype=np.int64) * _OFFSET
    vals = keys[r, tcol].astype(np.int64) + off[r]
    flat = (np.sort(keys, axis=1).astype(np.int64) + off[:, None]).ravel()
    lo = np.searchsorted(flat, vals, side="left")
    hi = np.searchsorted(flat, vals, side="right")
    xs = np.sort(keys[ex_r, ex_c].astype(np.int64) + off[ex_r])
    lx = np.searchsorted(xs, vals, side="left")
    hx = np.searchsorted(xs, vals, side="right")
    end_x = np.cumsum(np.bincount(ex_r, minlength=u))[r]
    greater = (r + 1) * c - hi - (end_x - hx)
    ties = (hi - lo) - (hx - lx)  # the target ties with itself in both counts
    return 1.0 + greater + 0.5 * ties


def _block_ranks_torch(
    S: torch.Tensor,
    r: np.ndarray,
    tcol: np.ndarray,
    ex_r: np.ndarray,
    ex_c: np.ndarray,
    rtol: float,
) -> np.ndarray:
    """Same as :func:`_block_ranks_numpy`, on the tensor's device (sort/search on the GPU)."""
    dev = S.device
    u, c = S.shape
    S = S.to(torch.float32 if dev.type == "mps" else torch.float64)  # mps has no float64
    if torch.isnan(S).any():
        raise ValueError("scores contain NaN")
    big = S.abs().amax(dim=1, keepdim=True)
    big = torch.where(big > 0, big, torch.ones_like(big))
    snapped = torch.round(S / big * (1.0 / rtol)).to(torch.int64)
    del S
    r_t = torch.as_tensor(r, device=dev)
    t_t = torch.as_tensor(tcol, device=dev)
    xr = torch.as_tensor(ex_r, device=dev)
    xc = torch.as_tensor(ex_c, device=dev)
    off = torch.arange(u, device=dev, dtype=torch.int64) * _OFFSET
    vals = snapped[r_t, t_t] + off[r_t]
    flat = (torch.sort(snapped, dim=1).values + off[:, None]).ravel()
    lo = torch.searchsorted(flat, vals, right=False)
    hi = torch.searchsorted(flat, vals, right=True)
    xs = torch.sort(snapped[xr, xc] + off[xr]).values
    lx = torch.searchsorted(xs, vals, right=False)
    hx = torch.searchsorted(xs, vals, right=True)
    end_x = torch.cumsum(torch.bincount(xr, minlength=u), 0)[r_t]
    greater = (r_t + 1) * c - hi - (end_x - hx)
    ties = (hi - lo) - (hx - lx)
    return (1.0 + greater.double() + 0.5 * ties.double()).cpu().numpy()


def bootstrap_mean_ci(
    values: np.ndarray, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values`` (resampled with replacement, chunked)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or n_boot < 1:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    chunk = max(1, 8_000_000 // v.size)
    means = np.empty(n_boot)
    for s in range(0, n_boot, chunk):
        b = min(chunk, n_boot - s)
        means[s : s + b] = v[rng.integers(0, v.size, size=(b, v.size))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))


def rank_summary(
    ranks: np.ndarray, *, n_boot: int = 1000, seed: int = 0, ks: Sequence[int] = (10, 50)
) -> dict[str, Any]:
    """MRR with its bootstrap CI, Hits@k, mean rank and query count of 1-based ranks."""
    r = np.asarray(ranks, dtype=np.float64).ravel()
    empty = r.size == 0
    out: dict[str, Any] = {"mrr": float("nan") if empty else float(np.mean(1.0 / r))}
    out["mrr_ci"] = list(bootstrap_mean_ci(1.0 / r, n_boot=n_boot, seed=seed))
    out.update({f"hits@{k}": float("nan") if empty else float(np.mean(r <= k)) for k in ks})
    out["mean_rank"] = float("nan") if empty else float(np.mean(r))
    out["n_queries"] = int(r.size)
    return out


def filtered_ranking(
    positives: np.ndarray,
    candidates: np.ndarray,
    known: sp.csr_matrix,
    *,
    n_boot: int = 1000,
    ks: Sequence[int] = (10, 50),
    **rank_options: Any,
) -> dict[str, Any]:
    """MRR (with bootstrap CI), Hits@k, mean rank and query counts of the filtered ranks.

    ``rank_options`` are those of :func:`filtered_ranks` (``rows``/``vectors``, ``rank_sample``,
    ``seed``, ...).
    """
    both = rank_options.get("both_orientations", True)
    seed = rank_options.get("seed", 0)
    n_total = len(np.asarray(positives).reshape(-1, 2)) * (2 if both else 1)
    ranks, _ = filtered_ranks(positives, candidates, known, **rank_options)
    out = rank_summary(ranks, n_boot=n_boot, seed=seed, ks=ks)
    out["n_queries_total"] = int(n_total)
    out["rank_sample"] = rank_options.get("rank_sample")
    return out
