"""report.console: short reprs of evaluation results."""

from __future__ import annotations


def test_evaluation_repr_is_short(result):
    from calbio.report.console import evaluation_repr

    r = evaluation_repr(result)
    assert r.startswith("EvaluationResult (edge protocol, seed 42)")
    assert "cal 0." in r and len(r.splitlines()) <= 6 and len(r) < 800
