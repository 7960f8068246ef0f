"""The transfer heatmaps draw exactly the numbers of transfer.json."""

from __future__ import annotations

import numpy as np
import pytest

from calbio.report.transfer import plot_transfer, plot_transfer_grid, transfer_matrix

FILES = ["A", "B"]


def _d() -> dict:
    def grid(vals):
        return {
            tr: {
                te: {"value": vals[i][j], "ci": None if vals[i][j] is None else [0.1, 0.9],
                     "n_pairs": 10, "heldout": tr == te}
                for j, te in enumerate(FILES)
            }
            for i, tr in enumerate(FILES)
        }  # fmt: skip

    return {
        "files": FILES,
        "models": ["cal"],
        "shortcuts": ["cosine"],
        "metrics": {"auc": "AUC"},
        "matrix": {
            "cal": {"auc": grid([[0.9, 0.7], [None, 0.8]])},
            "cosine": {"auc": grid([[0.6, 0.65], [0.61, 0.62]])},
        },
    }


def test_heatmap_shows_the_matrix_with_labels() -> None:
    fig = plot_transfer(_d(), "cal", "auc")
    ax = fig.axes[0]
    arr = ax.images[0].get_array()
    np.testing.assert_allclose(arr.filled(np.nan), [[0.9, 0.7], [np.nan, 0.8]])
    assert [t.get_text() for t in ax.get_xticklabels()] == FILES
    texts = [t.get_text() for t in ax.texts]
    assert sum("held-out" in t for t in texts) == 2 and "n/a" in texts
    assert ax.get_title() == "cal"


def test_grid_has_one_panel_per_method_on_one_scale() -> None:
    fig = plot_transfer_grid(_d(), "auc")
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["cal", "cosine"]
    assert len({ax.images[0].get_clim() for ax in panels}) == 1
    with pytest.raises(ValueError, match="method"):
        transfer_matrix(_d(), "sage")
