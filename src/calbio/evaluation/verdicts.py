"""Verdicts: does each chosen model win, tie or lose against the shortcuts and other models?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from calbio.core.metrics import _resample_auc_batch, roc_auc
from calbio.core.seeds import stream
from calbio.models.graph.heuristics import SHORTCUTS
from calbio.report.text import verdict_sentence

HEADLINE_METRICS = {
    "auc": "AUC",
    "cb_auc": "cross-boundary AUC",
    "auc_degree_matched": "AUC vs degree-matched negatives",
    "mrr": "MRR",
}


def shortcut_verdicts(
    methods: dict[str, dict[str, Any]], chosen: Sequence[str], where: str = ""
) -> list[dict[str, Any]]:
    """For each chosen model and headline metric: does the best shortcut win, tie or lose?

    Decided with the 95% CIs: a shortcut wins when its CI lies above the model's, loses when it
    lies below, and ties when they overlap.
    """
    out = []
    for model in chosen:
        mine = methods.get(model)
        if mine is None:
            continue
        for key, label in HEADLINE_METRICS.items():
            v = mine.get(key)
            if v is None or not np.isfinite(v):
                continue
            rivals = [
                (m, r[key], r.get(f"{key}_ci"))
                for m, r in methods.items()
                if m in SHORTCUTS and m != model and r.get(key) is not None and np.isfinite(r[key])
            ]
            if not rivals:
                continue
            best, bv, bci = max(rivals, key=lambda t: t[1])
            ci = mine.get(f"{key}_ci")
            if ci and bci and np.all(np.isfinite(ci + bci)):
                verdict = "wins" if bci[0] > ci[1] else "loses" if bci[1] < ci[0] else "ties"
            else:
                verdict = "wins" if bv > v else "loses" if bv < v else "ties"
            out.append(
                {
                    "model": model,
                    "metric": key,
                    "label": label,
                    "shortcut": best,
                    "shortcut_value": bv,
                    "model_value": v,
                    "verdict": verdict,
                    "where": where.strip() or "test",
                }
            )
    return out


def verdict_warnings(verdicts: list[dict[str, Any]]) -> list[str]:
    """One line for every headline metric on which a shortcut wins (CIs apart) or ties."""
    lines = []
    for v in verdicts:
        where = "" if v["where"] == "test" else f" on {v['where']}"
        if v["verdict"] == "wins":
            lines.append(
                f"SHORTCUT WINS{where}: {v['shortcut']} beats {v['model']} on {v['label']} "
                f"({v['shortcut_value']:.3f} vs {v['model_value']:.3f}; 95% CIs apart)"
            )
        elif v["verdict"] == "ties" and v["shortcut_value"] >= v["model_value"]:
            lines.append(
                f"shortcut ties{where}: {v['shortcut']} matches {v['model']} on {v['label']} "
                f"({v['shortcut_value']:.3f} vs {v['model_value']:.3f}; 95% CIs overlap)"
            )
    return lines


def shortcut_warnings(methods: dict[str, dict[str, Any]], where: str = "") -> list[str]:
    """Warning lines for every non-shortcut method in ``methods`` (CIs used when present)."""
    chosen = [m for m in methods if m not in SHORTCUTS]
    return verdict_warnings(shortcut_verdicts(methods, chosen, where))


# ------------------------------------------------------------------ paired verdicts

# Which pairs each AUC metric is computed on (masks of ScoredSet).
_AUC_MASKS = {"auc": "uniform", "cb_auc": "cross_boundary", "auc_degree_matched": "degree_matched"}
_CHUNK_ELEMS = 8_000_000  # draws per bootstrap chunk (uint32)


def _auc_replicates(
    y: np.ndarray, scores: dict[str, np.ndarray], n_boot: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """AUC of every score vector on the SAME stratified resamples (positives, negatives apart)."""
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    n_p, n_n = len(pos), len(neg)
    prep = {}
    for name, s in scores.items():
        order = np.argsort(s[neg], kind="stable")
        rank_of = np.empty(n_n, dtype=np.uint32)
        rank_of[order] = np.arange(n_n, dtype=np.uint32)
        prep[name] = (s[pos], s[neg][order], rank_of)
    out = {name: np.empty(n_boot) for name in scores}
    chunk = max(1, _CHUNK_ELEMS // max(n_p + n_n, 1))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        pos_draws = rng.integers(0, n_p, size=(stop - start, n_p), dtype=np.uint32)
        neg_draws = rng.integers(0, n_n, size=(stop - start, n_n), dtype=np.uint32)
        for name, (s_pos, s_neg_sorted, rank_of) in prep.items():
            out[name][start:stop] = _resample_auc_batch(
                s_pos, s_neg_sorted, pos_draws, rank_of[neg_draws]
            )
    return out


def _mean_replicates(
    values: dict[str, np.ndarray], n_boot: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Mean of every vector on the SAME resamples of its entries (queries, for MRR)."""
    m = len(next(iter(values.values())))
    out = {name: np.empty(n_boot) for name in values}
    chunk = max(1, _CHUNK_ELEMS // max(m, 1))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        draws = rng.integers(0, m, size=(stop - start, m), dtype=np.uint32)
        for name, v in values.items():
            out[name][start:stop] = v[draws].mean(axis=1)
    return out


def paired_difference_ci(
    y: np.ndarray,
    s1: np.ndarray,
    s2: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    paired: bool = True,
) -> tuple[float, list[float]]:
    """AUC(s1) - AUC(s2) with its percentile bootstrap CI (stratified).

    ``paired``: both score vectors are resampled with the same draws, so what they share
    cancels; ``paired=False`` resamples them independently (the CI of two separate bootstraps).
    """
    yb = np.asarray(y).astype(bool)
    s1, s2 = (np.asarray(s, dtype=np.float64) for s in (s1, s2))
    rng = np.random.default_rng(seed)
    if paired:
        reps = _auc_replicates(yb, {"a": s1, "b": s2}, n_boot, rng)
        d = reps["a"] - reps["b"]
    else:
        d = (
            _auc_replicates(yb, {"a": s1}, n_boot, rng)["a"]
            - _auc_replicates(yb, {"b": s2}, n_boot, rng)["b"]
        )
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(d, [alpha, 1.0 - alpha])
    return roc_auc(yb, s1) - roc_auc(yb, s2), [float(lo), float(hi)]


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and np.isfinite(v)


def _rivals(
    methods: dict[str, dict[str, Any]], chosen: Sequence[str], model: str, key: str
) -> list[tuple[str, str]]:
    """(best shortcut, "shortcut") and (best other chosen model, "model") by point value."""
    out = []
    for kind, pool in (
        ("shortcut", [m for m in methods if m not in chosen]),
        ("model", [m for m in chosen if m != model and m in methods]),
    ):
        vals = [(m, methods[m].get(key)) for m in pool if _finite(methods[m].get(key))]
        if vals:
            out.append((max(vals, key=lambda t: t[1])[0], kind))
    return out


def paired_verdicts(
    sc: Any,
    methods: dict[str, dict[str, Any]],
    chosen: Sequence[str],
    where: str = "test",
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> list[dict[str, Any]]:
    """Each chosen model against the best shortcut and the best other chosen model, per metric.

    One bootstrap per metric shared by all methods (the same resampled pairs, stratified by
    label, for the AUCs; the same resampled ranking queries for MRR); the CI is that of the
    DIFFERENCE (model minus rival). The verdict is the model's: ``wins`` when the CI lies above
    0, ``loses`` when below, ``ties`` otherwise. ``sc`` is a :class:`~.scoring.ScoredSet`.
    """
    out: list[dict[str, Any]] = []
    alpha = (1.0 - level) / 2.0
    for key, label in HEADLINE_METRICS.items():
        todo = [
            (m, rival, kind)
            for m in chosen
            if m in methods and _finite(methods[m].get(key))
            for rival, kind in _rivals(methods, chosen, m, key)
        ]
        if not todo:
            continue
        needed = sorted({x for m, r, _ in todo for x in (m, r)})
        rng = stream(seed, f"paired/{where}/{key}")
        if key == "mrr":
            reps = _mean_replicates({m: 1.0 / sc.ranks[m] for m in needed}, n_boot, rng)
        else:
            mask = getattr(sc, _AUC_MASKS[key])
            y = sc.label[mask].astype(bool)
            reps = _auc_replicates(y, {m: sc.scores[m][mask] for m in needed}, n_boot, rng)
        for m, rival, kind in todo:
            mv, rv = float(methods[m][key]), float(methods[rival][key])
            lo, hi = np.quantile(reps[m] - reps[rival], [alpha, 1.0 - alpha])
            verdict = "wins" if lo > 0 else "loses" if hi < 0 else "ties"
            out.append(
                {
                    "model": m,
                    "metric": key,
                    "label": label,
                    "where": where,
                    "against": rival,
                    "against_kind": kind,
                    "model_value": mv,
                    "against_value": rv,
                    "diff": mv - rv,
                    "diff_ci": [float(lo), float(hi)],
                    "verdict": verdict,
                }
            )
    return out


def losing_warnings(verdicts: list[dict[str, Any]]) -> list[str]:
    """One line per verdict a chosen model loses against a shortcut (difference CI below 0)."""
    return [
        "SHORTCUT WINS: " + verdict_sentence(v)
        for v in verdicts
        if v["verdict"] == "loses" and v["against_kind"] == "shortcut"
    ]


def verdicts_over_seeds(per_seed: Sequence[Sequence[dict[str, Any]]]) -> list[str]:
    """One line per (model, rival, metric, set) that a chosen model loses, or ties against a
    shortcut, in any seed: the seeds' paired verdicts counted, with the mean difference.

    ``per_seed``: the ``verdicts`` of one :func:`paired_verdicts` run per seed. A seed whose
    best rival was another method does not count toward that rival's line (``in k of N``).
    """
    n = len(per_seed)
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for verdicts in per_seed:
        for v in verdicts:
            key = (v["model"], v["against"], v["metric"], v["where"])
            groups.setdefault(key, []).append(v)
    lines = []
    for vs in groups.values():
        v0 = vs[0]
        loses = sum(v["verdict"] == "loses" for v in vs)
        ties = sum(v["verdict"] == "ties" for v in vs)
        diff = float(np.mean([v["diff"] for v in vs]))
        where = "" if v0["where"] == "test" else f" on {v0['where']}"
        counts = f"loses in {loses}, ties in {ties} of {n} seed{'s' if n != 1 else ''}"
        tail = f" ({counts}; paired 95% CIs of the difference; mean difference {diff:+.3f})"
        shortcut = v0["against_kind"] == "shortcut"
        if shortcut and loses:
            head = f"SHORTCUT WINS{where}: {v0['against']} beats {v0['model']} on {v0['label']}"
        elif shortcut and ties and diff <= 0:
            head = f"shortcut ties{where}: {v0['against']} matches {v0['model']} on {v0['label']}"
        elif not shortcut and loses:
            head = f"{v0['model']} loses to {v0['against']} on {v0['label']}{where}"
        else:
            continue
        lines.append(head + tail)
    return lines
