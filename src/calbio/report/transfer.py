"""Heatmaps of a transfer run (``transfer.json`` / ``TransferResult.to_dict()``).

``plot_transfer(d, model, metric)`` draws one method's train x test matrix; the diagonal is
the held-out split of the training file (framed, marked "held-out"). ``plot_transfer_grid``
draws every method side by side on one colour scale, for the HTML report. Both take the plain
dict, so a report can be rebuilt from the JSON file alone; nothing here calls ``plt.show()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_transfer", "plot_transfer_grid", "transfer_matrix"]


def transfer_matrix(d: dict[str, Any], method: str, metric: str = "auc") -> np.ndarray:
    """(train x test) float array of one method and metric from transfer.json (NaN: none)."""
    if method not in d.get("matrix", {}):
        raise ValueError(f"method {method!r} not in this transfer ({', '.join(d['matrix'])})")
    grid = d["matrix"][method].get(metric)
    if grid is None:
        raise ValueError(f"metric {metric!r} not in this transfer ({', '.join(d['metrics'])})")
    files = d["files"]
    out = np.full((len(files), len(files)), np.nan)
    for i, tr in enumerate(files):
        for j, te in enumerate(files):
            v = grid[tr][te]["value"]
            out[i, j] = np.nan if v is None else float(v)
    return out


def _draw(
    ax: Any,
    d: dict[str, Any],
    method: str,
    metric: str,
    vmin: float,
    vmax: float,
    ylabels: bool = True,
) -> Any:
    files = d["files"]
    m = transfer_matrix(d, method, metric)
    im = ax.imshow(np.ma.masked_invalid(m), cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(files)), files, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(files)), files if ylabels else [""] * len(files), fontsize=8)
    ax.set_xlabel("scored on", fontsize=8)
    if ylabels:
        ax.set_ylabel("trained on", fontsize=8)
    grid = d["matrix"][method][metric]
    mid = (vmin + vmax) / 2
    for i, tr in enumerate(files):
        for j, te in enumerate(files):
            v, ci = m[i, j], grid[tr][te].get("ci")
            if np.isnan(v):
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=7, color="gray")
                continue
            text = f"{v:.3f}" + (f"\n[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
            if i == j:
                text += "\nheld-out"
                ax.add_patch(_hatch(j, i))
            color = "black" if v > mid else "white"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    ax.set_title(method, fontsize=9)
    return im


def _hatch(x: int, y: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.48, y - 0.48), 0.96, 0.96, fill=False, edgecolor="white", lw=2, ls="--")


def _limits(d: dict[str, Any], methods: list[str], metric: str) -> tuple[float, float]:
    vals = np.concatenate([transfer_matrix(d, m, metric).ravel() for m in methods])
    vals = vals[np.isfinite(vals)]
    if not len(vals):
        return 0.0, 1.0
    lo, hi = float(vals.min()), float(vals.max())
    return (lo, hi) if hi > lo else (lo - 0.05, hi + 0.05)


def plot_transfer(d: dict[str, Any], model: str, metric: str = "auc") -> Figure:
    """Heatmap of one method's train x test matrix (value, CI; the diagonal is held-out)."""
    n = len(d["files"])
    fig = Figure(figsize=(1.6 + 1.3 * n, 1.2 + 1.1 * n), layout="constrained")
    ax = fig.subplots()
    vmin, vmax = _limits(d, [model], metric)
    im = _draw(ax, d, model, metric, vmin, vmax)
    fig.colorbar(im, ax=ax, shrink=0.8, label=d.get("metrics", {}).get(metric, metric))
    return fig


def plot_transfer_grid(
    d: dict[str, Any], metric: str = "auc", methods: list[str] | None = None
) -> Figure:
    """Every method's matrix side by side on one colour scale (models first, then shortcuts)."""
    methods = methods or [*d["models"], *d["shortcuts"]]
    n = len(d["files"])
    fig = Figure(
        figsize=(1.0 + (1.1 * n + 0.6) * len(methods), 1.4 + 1.1 * n), layout="constrained"
    )
    axes = np.atleast_1d(fig.subplots(1, len(methods)))
    vmin, vmax = _limits(d, methods, metric)
    im = None
    for k, (ax, m) in enumerate(zip(axes, methods, strict=True)):
        im = _draw(ax, d, m, metric, vmin, vmax, ylabels=k == 0)
    fig.colorbar(im, ax=list(axes), shrink=0.8, label=d.get("metrics", {}).get(metric, metric))
    return fig
