"""Numbers to words for the report: best model per set, grouped verdicts, the verdict sentence.

Verdict records follow metrics.json's schema: ``{"model", "metric", "label", "where",
"against", "against_kind", "model_value", "against_value", "diff", "diff_ci", "verdict"}``
where ``verdict`` (wins / ties / loses) is the MODEL's outcome against ``against``. Records of
the older schema (``shortcut``, ``shortcut_value``, verdict from the shortcut's side) are
converted on reading.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from calbio.report.plots import label, split_methods

VERDICT_ORDER = ("wins", "ties", "loses")
_FLIP = {"wins": "loses", "loses": "wins", "ties": "ties"}


def number(v: Any) -> float | None:
    """A finite float, else None ("undefined", NaN, missing)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def get(methods: dict[str, Any], m: str, key: str) -> float | None:
    """``methods[m][key]`` as a finite float, or None."""
    return number((methods.get(m) or {}).get(key))


def normalize_verdicts(verdicts: Any) -> list[dict[str, Any]]:
    """Verdict records in the current schema (older ``shortcut`` records converted)."""
    out = []
    for v in verdicts or []:
        if not isinstance(v, dict) or "model" not in v or "verdict" not in v:
            continue
        if "against" not in v and "shortcut" in v:  # older schema: the shortcut's viewpoint
            mv, sv = number(v.get("model_value")), number(v.get("shortcut_value"))
            v = {
                **v,
                "against": v["shortcut"],
                "against_kind": "shortcut",
                "against_value": sv,
                "diff": None if mv is None or sv is None else mv - sv,
                "diff_ci": None,
                "verdict": _FLIP.get(v["verdict"], v["verdict"]),
            }
        out.append({"where": "test", "label": v.get("metric"), **v})
    return out


def compare(mine: dict[str, Any], other: dict[str, Any], key: str = "auc") -> str | None:
    """The outcome of ``mine`` against ``other`` on ``key``: CIs apart decide, else the values."""
    a, b = number(mine.get(key)), number(other.get(key))
    if a is None or b is None:
        return None
    ca, cb = mine.get(f"{key}_ci"), other.get(f"{key}_ci")
    if isinstance(ca, list | tuple) and isinstance(cb, list | tuple) and len(ca) == len(cb) == 2:
        vals = [number(x) for x in (*ca, *cb)]
        if None not in vals:
            lo_a, hi_a, lo_b, hi_b = vals
            return "wins" if lo_a > hi_b else "loses" if hi_a < lo_b else "ties"
    return "wins" if a > b else "loses" if a < b else "ties"


def _best(methods: dict[str, Any], names: list[str], key: str) -> tuple[str | None, float | None]:
    vals = [(m, get(methods, m, key)) for m in names]
    vals = [(m, v) for m, v in vals if v is not None]
    return max(vals, key=lambda t: t[1]) if vals else (None, None)


def best_model(metrics: dict[str, Any], key: str = "auc") -> str | None:
    """The chosen model with the highest ``key`` on the test pairs (None without models)."""
    models, _ = split_methods(metrics)
    return _best(metrics.get("methods") or {}, models, key)[0]


def _lookup(
    verdicts: list[dict[str, Any]], model: str, against: str, where: str, key: str
) -> str | None:
    for v in verdicts:
        if (v["model"], v.get("against"), v.get("where"), v.get("metric")) == (
            model,
            against,
            where,
            key,
        ):
            return v["verdict"]
    return None


def summary_rows(metrics: dict[str, Any], key: str = "auc") -> list[dict[str, Any]]:
    """Per set (test, then each validation set): the best model, and how it fares against the
    best shortcut and the best other model (recorded verdicts first, else the 95% CIs)."""
    models, shortcuts = split_methods(metrics)
    verdicts = normalize_verdicts(metrics.get("verdicts"))
    sets = [("test", metrics.get("methods") or {})]
    for name, v in (metrics.get("validation") or {}).items():
        if isinstance(v, dict) and isinstance(v.get("methods"), dict):
            sets.append((name, v["methods"]))
    rows = []
    for where, methods in sets:
        best, value = _best(methods, [m for m in models if m in methods], key)
        if best is None:
            continue
        row: dict[str, Any] = {"where": where, "model": best, "value": value}
        row["ci"] = (methods[best] or {}).get(f"{key}_ci")
        others = [m for m in models if m != best and m in methods]
        for kind, names in (("vs_shortcut", shortcuts), ("vs_model", others)):
            rival, rv = _best(methods, [m for m in names if m in methods], key)
            if rival is None:
                row[kind] = None
                continue
            outcome = _lookup(verdicts, best, rival, where, key) or compare(
                methods[best], methods[rival], key
            )
            row[kind] = {"name": rival, "value": rv, "verdict": outcome}
        rows.append(row)
    return rows


def grouped_verdicts(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Every verdict record, wins first, then ties, then losses (stable within each)."""
    vs = normalize_verdicts(metrics.get("verdicts"))
    rank = {v: i for i, v in enumerate(VERDICT_ORDER)}
    return sorted(vs, key=lambda v: rank.get(v["verdict"], len(rank)))


# ------------------------------------------------------------------ the verdict sentence
WHERE = {
    "edge": "held-out pairs",
    "node": "pairs of held-out entities",
    "transductive": "the training pairs themselves (transductive: fit, not generalisation)",
}


def _headline(methods: dict[str, Any], best: str, where: str, models: list[str]) -> str:
    name, auc = label(best), get(methods, best, "auc")
    cos = get(methods, "cosine", "auc")
    parts = [f"On {where} {name} reaches AUC {auc:.2f}"]
    if cos is not None:
        d = auc - cos
        verb = "beats" if d > 0 else "trails"
        parts[0] += f" and {verb} cosine similarity by {abs(d):.2f} AUC"
    others = {m: get(methods, m, "auc") for m in methods if m not in models and m != "cosine"}
    others = {m: v for m, v in others.items() if v is not None}
    if others:
        sc, bv = max(others.items(), key=lambda t: t[1])
        if bv > auc:
            conj = "but" if cos is None or auc > cos else "and"
            parts.append(
                f"{conj} the shortcut {label(sc)} does better ({bv:.2f}), so the "
                "known graph alone predicts these pairs at least as well"
            )
        else:
            parts.append(f"and stays ahead of every shortcut (best: {label(sc)} {bv:.2f})")
    return ", ".join(parts) + "."


def _cross_boundary(metrics: dict[str, Any], best: str, models: list[str]) -> str | None:
    methods = metrics.get("methods") or {}
    cb = {m: get(methods, m, "cb_auc") for m in methods if m == best or m not in models}
    cb = {m: v for m, v in cb.items() if v is not None}
    if best not in cb or len(cb) < 2:
        return None
    rival, bv = max(((m, v) for m, v in cb.items() if m != best), key=lambda t: t[1])
    thr, name = metrics.get("cb_threshold", 0.2), label(best)
    if bv > cb[best]:
        hint = " - see the degree-matched AUC" if rival == "degree" else ""
        return (
            f"In the cross-boundary regime (|cosine| < {thr}) {label(rival)} beats "
            f"{name} ({bv:.2f} vs {cb[best]:.2f}){hint}."
        )
    return (
        f"In the cross-boundary regime (|cosine| < {thr}), where similarity search is "
        f"blind, {name} scores {cb[best]:.2f} vs {bv:.2f} for the best alternative "
        f"({label(rival)})."
    )


def _degree_matched(methods: dict[str, Any], best: str) -> str | None:
    auc, dm = get(methods, best, "auc"), get(methods, best, "auc_degree_matched")
    if dm is None:
        return None
    s = f"Against degree-matched negatives {label(best)} scores {dm:.2f}"
    if auc is not None and dm < auc - 0.05:
        s += f" (down from {auc:.2f}: part of its AUC comes from recognising hubs)"
    dd = get(methods, "degree", "auc_degree_matched")
    if dd is not None:
        s += f"; the degree baseline scores {dd:.2f} there"
    return s + "."


def _validation(metrics: dict[str, Any], models: list[str]) -> list[str]:
    out = []
    for stem, v in (metrics.get("validation") or {}).items():
        vm = v.get("methods", {}) if isinstance(v, dict) else {}
        best, vc = _best(vm, [m for m in models if m in vm], "auc")
        if best is None:
            continue
        s = f"On the independent {stem} pairs {label(best)} scores AUC {vc:.2f}"
        vcos = get(vm, "cosine", "auc")
        if vcos is not None:
            s += f" (cosine {vcos:.2f})"
        rest = {m: get(vm, m, "auc") for m in vm if m not in models and m != "cosine"}
        rest = {m: x for m, x in rest.items() if x is not None and x > vc}
        if rest:
            sc, bv = max(rest.items(), key=lambda t: t[1])
            s += f", below the shortcut {label(sc)} ({bv:.2f})"
        out.append(s + ".")
    return out


def verdict(metrics: dict[str, Any]) -> str:
    """A plain-language verdict about the best model, generated from the headline numbers."""
    methods = metrics.get("methods") or {}
    models, _ = split_methods(metrics)
    best = best_model(metrics)
    if best is None:
        return "No model AUC was recorded for this run (shortcut baselines only)."
    proto = metrics.get("protocol", "?")
    where = WHERE.get(proto, f"the {proto} test pairs")
    lead = ""
    if len([m for m in models if get(methods, m, "auc") is not None]) > 1:
        lead = f"Best model by AUC: {label(best)}. "
    sent = [lead + _headline(methods, best, where, models)]
    extra = (_cross_boundary(metrics, best, models), _degree_matched(methods, best))
    sent += [s for s in extra if s]
    sent += _validation(metrics, models)
    if (metrics.get("data") or {}).get("synthetic"):
        sent.append("These numbers come from calbio's SYNTHETIC demo data, not biology.")
    return " ".join(sent)
