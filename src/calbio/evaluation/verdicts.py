"""Verdicts: does each chosen model win, tie or lose against the shortcuts and other models?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from calbio.models.graph import SHORTCUTS

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
