"""report.plots: matplotlib figures from Python (ROC, degree breakdown, cross-boundary, loss)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from calbio.report import plots


def _by_degree_metrics() -> dict:
    aucs = {"cal": (0.62, 0.71, 0.83), "cosine": (0.60, 0.64, 0.66), "degree": (0.5, 0.7, 0.9)}
    return {
        "cb_threshold": 0.2,
        "methods": {
            m: {
                "by_degree": {
                    t: {"auc": a, "mrr": 0.1, "n": 100 + i}
                    for i, (t, a) in enumerate(zip(("low", "mid", "high"), v, strict=True))
                }
            }
            for m, v in aucs.items()
        },
    }


def _renderer(fig: Figure):
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def test_plot_functions_return_figures(result):
    for fn in (plots.plot_roc, plots.plot_degree_breakdown, plots.plot_cross_boundary):
        fig = fn(result)
        assert isinstance(fig, Figure) and fig.axes
    fig = plots.plot_roc(result)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    auc = result.to_dict()["methods"]["cal"]["auc"]
    assert any(t.startswith("CAL (") and f"{auc:.3f}" in t for t in labels)
    assert {"CAL", "cosine", "degree"} <= {t.split(" (")[0] for t in labels}
    loss = plots.plot_loss(result.model.history_)
    assert len(loss.axes[0].lines[0].get_xdata()) == len(result.model.history_.loss)
    assert isinstance(plots.plot_loss(result), Figure)  # a result: its model's history


def test_cross_boundary_histogram_marks_threshold(result):
    fig = plots.plot_cross_boundary(result)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts[0] == "cross-boundary |cos| < 0.2"
    assert any(t.startswith("held-out positives (") for t in texts)
    fig = plots.plot_cross_boundary(result, threshold=0.35)
    assert "0.35" in fig.axes[0].get_legend().get_texts()[0].get_text()


def test_degree_breakdown_uses_by_degree_when_present():
    metrics = _by_degree_metrics()
    table = plots.degree_table(metrics)
    assert list(table["bin"]) == ["low", "mid", "high"]
    np.testing.assert_allclose(table["cal"], [0.62, 0.71, 0.83])
    fig = plots.plot_degree_breakdown(metrics)
    a1, a2 = fig.axes
    assert [t.get_text() for t in a1.get_xticklabels()] == ["low", "mid", "high"]
    heights = [p.get_height() for p in a2.patches]
    np.testing.assert_allclose(heights, [0.02, 0.07, 0.17], atol=1e-9)


def test_degree_breakdown_right_label_does_not_overlap_left_panel(result):
    for source in (_by_degree_metrics(), result):
        fig = plots.plot_degree_breakdown(source)
        r = _renderer(fig)
        a1, a2 = fig.axes
        label = a2.yaxis.label.get_window_extent(r)
        left = a1.get_tightbbox(r)
        assert label.x0 > left.x1, (label, left)


def test_degree_breakdown_from_scores_without_by_degree(result):
    table = plots.degree_table(result.scores)
    assert list(table["bin"]) == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert table["n"].sum() == len(plots.uniform_sets(result.scores))
    with pytest.raises(ValueError, match="per-pair scores"):
        plots.plot_roc({"methods": {}})
