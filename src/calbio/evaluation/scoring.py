"""Score every model on one pair set: AUCs with CIs, filtered ranks, per-degree metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from calbio.core.metrics import average_precision, bootstrap_auc_ci, roc_auc
from calbio.core.seeds import child_seed
from calbio.evaluation.pairsets import PairSets
from calbio.evaluation.ranking import filtered_ranks, rank_summary
from calbio.evaluation.timing import Timer

# Relative precision below which two scores count as tied (float noise of sparse products).
TIE_DIGITS = 9
TERCILES = ("low", "mid", "high")
UNDEFINED = "undefined"  # a per-degree metric of a bin without positives or negatives


def tie_safe(s: np.ndarray) -> np.ndarray:
    """Scores rounded to ``TIE_DIGITS`` significant digits of their scale, so float noise ties."""
    s = np.asarray(s, dtype=np.float64)
    finite = np.isfinite(s)
    scale = float(np.max(np.abs(s[finite]))) if finite.any() else 0.0
    if scale == 0.0:
        return s
    q = 10.0 ** (np.floor(np.log10(scale)) - TIE_DIGITS)
    return np.round(s / q) * q


def model_ranks(
    model: Any,
    positives: np.ndarray,
    candidates: np.ndarray,
    known: sp.csr_matrix,
    *,
    rank_sample: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Filtered ranks of each held-out partner (both orientations) under any model.

    Factorised models hand their vectors to the blocked ranking; others their ``score_rows``.
    Returns (ranks, (query, target) pairs); scores equal to 1e-9 relative tie (counted half).
    """
    vec = model.score_vectors()
    kw: dict[str, Any] = {"vectors": vec} if vec is not None else {"rows": model.score_rows}
    return filtered_ranks(positives, candidates, known, rank_sample=rank_sample, seed=seed, **kw)


def _auc_ci(y: np.ndarray, s: np.ndarray, n_boot: int, seed: int) -> tuple[float, list[float]]:
    lo, hi = bootstrap_auc_ci(y, s, n_boot=n_boot, seed=seed)
    return roc_auc(y, s), [lo, hi]


@dataclass(frozen=True)
class DegreeBins:
    """Three training-degree bins fixed before any test pair is seen.

    Edges: the terciles of the training degree over every entity of the training graph
    (degree >= 1), taken at observed degrees and kept strictly increasing; ``low`` = [0, e1]
    (entities without training pairs included), ``mid`` = [e1 + 1, e2], ``high`` = [e2 + 1, max].
    """

    e1: int
    e2: int
    top: int

    @classmethod
    def from_degrees(cls, degree: np.ndarray) -> DegreeBins:
        """Bins from the training degree of every table row."""
        d = np.asarray(degree)
        d = d[d > 0]
        if not len(d):
            return cls(0, 1, 1)
        e1 = int(np.quantile(d, 1 / 3, method="lower"))
        e2 = max(int(np.quantile(d, 2 / 3, method="lower")), e1 + 1)
        return cls(e1, e2, max(int(d.max()), e2 + 1))

    def of(self, values: np.ndarray) -> np.ndarray:
        """Bin (0, 1, 2) of each degree."""
        return np.searchsorted([self.e1, self.e2], np.asarray(values), side="left").astype(np.int64)

    def ranges(self) -> list[list[int]]:
        """Inclusive [lo, hi] degree range of each bin."""
        return [[0, self.e1], [self.e1 + 1, self.e2], [self.e2 + 1, self.top]]


@dataclass
class ScoredSet:
    """Per-pair scores and per-query ranks of every method on one pair set (for paired CIs)."""

    pairsets: PairSets
    label: np.ndarray  # 1 positive, 0 negative (stacked order of ``PairSets.stacked``)
    uniform: np.ndarray  # mask: positives + uniform negatives
    degree_matched: np.ndarray  # mask: positives + degree-matched negatives
    cross_boundary: np.ndarray  # mask: uniform pairs with |cosine| below the threshold
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    ranks: dict[str, np.ndarray] = field(default_factory=dict)
    queries: np.ndarray | None = None  # (query, target) rows the ranks belong to


def _pair_table(
    sets: np.ndarray, label: np.ndarray, kind: np.ndarray, cosine: np.ndarray, degree: np.ndarray
) -> pd.DataFrame:
    cos = np.einsum("ij,ij->i", cosine[sets[:, 0]], cosine[sets[:, 1]], dtype=np.float64)
    return pd.DataFrame(
        {
            "a": sets[:, 0],
            "b": sets[:, 1],
            "degree_a": degree[sets[:, 0]],
            "degree_b": degree[sets[:, 1]],
            "set": kind,
            "label": label,
            "cosine": cos,
        }
    )


def _auc_entry(sc: ScoredSet, s: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    label, uni, cb, dmm = sc.label, sc.uniform, sc.cross_boundary, sc.degree_matched
    auc, ci = _auc_ci(label[uni], s[uni], n_boot, seed)
    cb_pos = int(label[cb].sum())
    cb_auc, cb_ci = _auc_ci(label[cb], s[cb], n_boot, seed)
    entry: dict[str, Any] = {
        "auc": auc,
        "auc_ci": ci,
        "ap": average_precision(label[uni], s[uni]),
        "cb_auc": cb_auc,
        "cb_auc_ci": cb_ci,
        "cb_n_pos": cb_pos,
        "cb_n_neg": int(cb.sum() - cb_pos),
        "auc_degree_matched": None,
        "auc_degree_matched_ci": None,
    }
    if len(sc.pairsets.dm_negatives):
        dm_auc, dm_ci = _auc_ci(label[dmm], s[dmm], n_boot, seed)
        entry["auc_degree_matched"], entry["auc_degree_matched_ci"] = dm_auc, dm_ci
    return entry


def _pair_degree(degree: np.ndarray, pairs: np.ndarray, cold: bool) -> np.ndarray:
    """Degree a pair is binned by: the smaller end's, or in a cold set the known (warm) end's."""
    da, db = degree[pairs[:, 0]], degree[pairs[:, 1]]
    return np.maximum(da, db) if cold else np.minimum(da, db)


def _by_degree(
    sc: ScoredSet,
    s: np.ndarray,
    ranks: np.ndarray | None,
    bins: DegreeBins,
    pair_bin: np.ndarray,
    query_bin: np.ndarray | None,
) -> dict[str, dict[str, Any]]:
    """AUC (uniform negatives) and MRR per training-degree bin; "undefined" where empty."""
    label, uni = sc.label, sc.uniform
    out: dict[str, dict[str, Any]] = {}
    for t, (tname, rng) in enumerate(zip(TERCILES, bins.ranges(), strict=True)):
        sel = uni & (pair_bin == t)
        n_pos = int(label[sel].sum())
        n_neg = int(sel.sum()) - n_pos
        part: dict[str, Any] = {
            "n_pos": n_pos,
            "n_neg": n_neg,
            "degree_range": rng,
            "auc": roc_auc(label[sel], s[sel]) if n_pos and n_neg else UNDEFINED,
        }
        if ranks is not None and query_bin is not None:
            r = ranks[query_bin == t]
            part["n_queries"] = int(len(r))
            part["mrr"] = float(np.mean(1.0 / r)) if len(r) else UNDEFINED
        out[tname] = part
    return out


def score_pairset(
    models: dict[str, Any],
    ps: PairSets,
    cosine: np.ndarray,
    degree: np.ndarray,
    cb_threshold: float,
    n_boot: int,
    seed: int,
    rank: bool = True,
    timer: Timer | None = None,
    rank_sample: int | None = None,
) -> tuple[dict[str, dict[str, Any]], pd.DataFrame, ScoredSet]:
    """Every metric of every model on one pair set, the per-pair table, and the raw scores.

    Models without ``cold_start`` are skipped on cold sets (a graph heuristic says nothing
    about entities without training pairs). ``rank_sample``: rank a seeded sample of that many
    (query, target) pairs instead of all (the MRR CI then includes the sampling).
    """
    timer = timer or Timer()
    sets, label, kind = ps.stacked()
    table = _pair_table(sets, label, kind, cosine, degree)
    uni = kind != "degree_matched_negative"
    cos = table["cosine"].to_numpy()
    cb = uni & (np.abs(cos) < cb_threshold)
    sc = ScoredSet(ps, label, uni, kind != "negative", cb)
    bins = DegreeBins.from_degrees(degree)  # from training degrees only, never test pairs
    pair_bin = bins.of(_pair_degree(degree, sets, ps.cold))
    boot_seed, rank_seed = child_seed(seed, "bootstrap"), child_seed(seed, "ranking")
    results: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        if ps.cold and not getattr(model, "cold_start", True):
            continue
        with timer(f"score:{name}"):
            s = tie_safe(model.score_pairs(sets))
        table[name] = sc.scores[name] = s
        with timer("bootstrap"):
            entry = _auc_entry(sc, s, n_boot, boot_seed)
        ranks = query_bin = None
        if rank:
            with timer(f"rank:{name}"):
                ranks, qt = model_ranks(
                    model,
                    ps.positives,
                    ps.candidates,
                    ps.known,
                    rank_sample=rank_sample,
                    seed=rank_seed,
                )
            entry.update(rank_summary(ranks, n_boot=n_boot, seed=boot_seed))
            sc.ranks[name], sc.queries = ranks, qt
            # ranking: the query entity's degree (a cold set: the known end's)
            q_deg = _pair_degree(degree, qt, True) if ps.cold else degree[qt[:, 0]]
            query_bin = bins.of(q_deg)
        entry["by_degree"] = _by_degree(sc, s, ranks, bins, pair_bin, query_bin)
        results[name] = entry
    return results, table, sc


def score_sets(
    models: dict[str, Any],
    ps: PairSets,
    cosine: np.ndarray,
    degree: np.ndarray,
    cb_threshold: float,
    n_boot: int,
    seed: int,
    rank: bool = True,
    timer: Timer | None = None,
    rank_sample: int | None = None,
) -> tuple[dict[str, dict[str, Any]], pd.DataFrame]:
    """Every metric of every model on one pair set; also the per-pair score table."""
    results, table, _ = score_pairset(
        models, ps, cosine, degree, cb_threshold, n_boot, seed, rank, timer, rank_sample
    )
    return results, table
