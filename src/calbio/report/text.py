"""Sentences for verdicts, shared by the console, the HTML report and evaluation's warnings."""

from __future__ import annotations

from typing import Any

__all__ = ["verdict_sentence"]


def verdict_sentence(v: dict[str, Any]) -> str:
    """ "hybrid loses to cal on AUC by 0.064 [0.050, 0.080]": margins as the winner's."""
    lo, hi = v["diff_ci"]
    where = "" if v["where"] == "test" else f" ({v['where']})"
    if "train" in v:  # a transfer cell
        where = f" ({v['train']} -> {v['test'] if v['train'] != v['test'] else v['where']})"
    head = f"{v['model']} {{}} {v['against']} on {v['label']}{where}"
    if v["verdict"] == "wins":
        return head.format("beats") + f" by {v['diff']:.3f} [{lo:.3f}, {hi:.3f}]"
    if v["verdict"] == "loses":
        return head.format("loses to") + f" by {-v['diff']:.3f} [{-hi:.3f}, {-lo:.3f}]"
    return head.format("ties with") + f" (difference {v['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}])"
