"""report.figures: the HTML report's figures are the report.plots figures."""

from __future__ import annotations

from calbio.report import figures, plots


def test_report_figures_come_from_plots(result, monkeypatch):
    seen = []
    real = plots.plot_roc

    def spy(r):
        seen.append(r)
        return real(r)

    monkeypatch.setattr(plots, "plot_roc", spy)
    b64 = figures.roc(result)
    assert seen and len(b64) > 1000
