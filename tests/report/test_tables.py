"""Analysis tables: mean ± SD cells and their markdown rendering."""

from __future__ import annotations

import math

from calbio.analysis.tables import fmt_ms, mean_sd, table
from calbio.report.tables import tables_markdown


def test_mean_sd_ignores_missing_values() -> None:
    m, s, k = mean_sd([1.0, None, 3.0, float("nan")])
    assert (m, k) == (2.0, 2)
    assert math.isclose(s, math.sqrt(2.0))
    assert mean_sd([None])[2] == 0


def test_fmt_ms_one_seed_many_seeds_and_none() -> None:
    assert fmt_ms([0.5]) == "0.500"
    assert fmt_ms([0.1, 0.3], digits=2, signed=True) == "+0.20 ± 0.14"
    assert fmt_ms([None]) == "-"


def test_tables_markdown_escapes_pipes_and_fences_multiline_notes() -> None:
    t = table("T", ["a|b", "c"], [["1", "x\ny"]], ["short", "head\nbody"])
    md = tables_markdown([t], level=2)
    assert md.startswith("## T\n")
    assert "| a\\|b | c |" in md
    assert "| 1 | x y |" in md
    assert "- short" in md
    assert "head\n\n```\nbody\n```" in md
