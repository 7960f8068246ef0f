"""Renderable tables for analysis results: cells are text, numbers are ``mean ± SD`` over seeds.

Every analysis (ablation, sweep, degree, doctor) and the experiments runner builds its tables
with these helpers, so one table format is shared; ``calbio.report.tables`` renders them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def mean_sd(values: Sequence[float | None]) -> tuple[float, float, int]:
    """Mean, sample SD (0 for one value) and count of the finite values."""
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if not len(arr):
        return float("nan"), float("nan"), 0
    sd = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return float(arr.mean()), sd, int(len(arr))


def fmt_ms(values: Sequence[float | None], digits: int = 3, signed: bool = False) -> str:
    """``mean ± SD`` over seeds (just the value for one seed; '-' when nothing is finite)."""
    m, s, k = mean_sd(values)
    if k == 0:
        return "-"
    f = f"{{:{'+' if signed else ''}.{digits}f}}"
    return f.format(m) if k == 1 else f"{f.format(m)} ± {s:.{digits}f}"


def table(
    title: str, columns: list[str], rows: list[list[str]], notes: Sequence[str] = ()
) -> dict[str, Any]:
    """A renderable table (cells are text)."""
    return {"title": title, "columns": columns, "rows": rows, "notes": list(notes)}
