"""Matplotlib figures for the HTML report, returned as base64 PNG strings (no files, no URLs)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from calbio.report import plots  # noqa: E402
from calbio.report.plots import COLORS, LABELS, color, label, uniform_sets  # noqa: E402,F401

COSINE_BINS = (-1.0, 0.0, 0.2, 0.4, 0.6, 1.0)


@dataclass
class RenderedFigure:
    """A figure as the page embeds it, plus what its legends said before it became pixels."""

    id: str
    caption: str
    png_base64: str
    legend: list[str] = field(default_factory=list)
    axes_legends: list[list[str]] = field(default_factory=list)  # per axes, in axes order


def legend_labels(fig: Any) -> list[str]:
    """Every legend entry of every axes (and figure legend) of a matplotlib figure."""
    legends = [ax.get_legend() for ax in fig.axes] + list(getattr(fig, "legends", []))
    return [t.get_text() for leg in legends if leg is not None for t in leg.get_texts()]


def render(fig: Any, fig_id: str, caption: str) -> RenderedFigure:
    """Encode ``fig`` as a base64 PNG (closing it) and keep its legend labels for checks."""
    labels = legend_labels(fig)
    per_axes = [
        [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else []
        for ax in fig.axes
    ]
    return RenderedFigure(fig_id, caption, to_base64_png(fig), labels, per_axes)


def to_base64_png(fig: Any, dpi: int = 110) -> str:
    """Render a figure to a base64-encoded PNG and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def roc(result: Any) -> str:
    """ROC of every method (``plots.plot_roc``) as base64 PNG."""
    return to_base64_png(plots.plot_roc(result))


def cross_boundary(result: Any) -> str:
    """Cosine histogram of positives vs negatives (``plots.plot_cross_boundary``) as PNG."""
    return to_base64_png(plots.plot_cross_boundary(result))


def score_by_cosine_bin(scores: pd.DataFrame, method: str = "cal") -> str:
    """The paper's Fig. 4A: association scores of positives vs negatives within cosine bins."""
    return to_base64_png(score_by_cosine_bin_figure(scores, method))


def score_by_cosine_bin_figure(scores: pd.DataFrame, method: str = "cal") -> Any:
    """:func:`score_by_cosine_bin` as a matplotlib figure (not encoded)."""
    df = uniform_sets(scores)
    bins = pd.cut(df["cosine"], COSINE_BINS, include_lowest=True)
    cats = bins.cat.categories
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    width = 0.36
    for j, (lab, fill) in enumerate(((1.0, "#1b6ca8"), (0.0, "#c9c9c9"))):
        data, pos = [], []
        for i, cat in enumerate(cats):
            v = df.loc[(bins == cat) & (df["label"] == lab), method].to_numpy()
            if len(v):
                data.append(v)
                pos.append(i + (j - 0.5) * width)
        if data:
            bp = ax.boxplot(
                data, positions=pos, widths=width * 0.9, patch_artist=True, showfliers=False
            )
            for patch in bp["boxes"]:
                patch.set_facecolor(fill)
    counts = [
        f"{c}\n+{int(((bins == c) & (df['label'] == 1)).sum())} "
        f"/ -{int(((bins == c) & (df['label'] == 0)).sum())}"
        for c in cats
    ]
    ax.set_xticks(range(len(cats)), counts, fontsize=8)
    ax.set_xlabel("embedding cosine of the pair (bin; held-out positives / negatives)")
    ax.set_ylabel(f"{label(method)} score")
    ax.plot([], [], color="#1b6ca8", lw=8, label=f"{label(method)}: held-out positives")
    ax.plot([], [], color="#c9c9c9", lw=8, label=f"{label(method)}: negatives")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.set_title(f"{label(method)} scores by cosine bin", fontsize=10)
    return fig


def auc_bars(rows: pd.DataFrame) -> str:
    """AUC and CB AUC per method with 95% CIs (columns: method, metric, value, lo, hi)."""
    return to_base64_png(auc_bars_figure(rows))


def auc_bars_figure(rows: pd.DataFrame, shortcuts: tuple[str, ...] | list[str] = ()) -> Any:
    """:func:`auc_bars` as a matplotlib figure; ``shortcuts`` are drawn hatched."""
    metrics = list(dict.fromkeys(rows["metric"]))
    methods = list(dict.fromkeys(rows["method"]))
    fig, ax = plt.subplots(figsize=(8.0, 3.8))
    width = 0.8 / max(len(methods), 1)
    for j, m in enumerate(methods):
        sub = rows[rows["method"] == m].set_index("metric").reindex(metrics)
        x = np.arange(len(metrics)) + (j - (len(methods) - 1) / 2) * width
        v = sub["value"].to_numpy(float)
        err = np.vstack([v - sub["lo"].to_numpy(float), sub["hi"].to_numpy(float) - v])
        err = np.where(np.isfinite(err), np.abs(err), 0.0)
        hatch = "//" if m in shortcuts else None
        ax.bar(x, v, width * 0.95, color=color(m), label=label(m), hatch=hatch, edgecolor="white")
        ax.errorbar(x, v, yerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
    ax.axhline(0.5, color="black", lw=0.6, ls=":")
    ax.set_xticks(range(len(metrics)), metrics)
    vals = rows["value"].to_numpy(float)
    low = np.nanmin(vals) if np.isfinite(vals).any() else 0.5
    ax.set_ylim(min(0.3, np.floor(low * 10) / 10), 1.0)
    ax.set_ylabel("ROC AUC (95% bootstrap CI)")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Held-out discrimination per method (hatched: shortcut)", fontsize=10)
    return fig


def degree_quintiles(result: Any, methods: list[str] | None = None) -> tuple[str, pd.DataFrame]:
    """Per-degree breakdown (``plots.plot_degree_breakdown``) as PNG, with its table.

    ``result`` is a score table, or anything with ``scores`` and metrics (``by_degree`` is used
    when the metrics have it). ``methods`` is kept for compatibility; all present are drawn.
    """
    table = plots.degree_table(result)
    return to_base64_png(plots.plot_degree_breakdown(result)), table


def loss_curve(curve: pd.DataFrame) -> str:
    """Training (and validation, when present) loss per epoch (``plots.plot_loss``)."""
    return to_base64_png(plots.plot_loss(curve))


def _mean(values: list[Any]) -> float:
    v = [float(x) for x in values if isinstance(x, int | float) and np.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def sweep_frame(result: dict[str, Any]) -> pd.DataFrame | None:
    """A plottable table (x first, seed-averaged metrics after) from a runner's sweep result."""
    kind = result.get("sweep")
    if kind == "lambda" and result.get("curves"):
        curves = result["curves"]
        lams = list(curves[0])
        keys = ("test_auc", "test_cb_auc", "val_auc", "val_cb_auc")
        rows = [
            {"lambda": float(lam), **{k: _mean([c[lam].get(k) for c in curves]) for k in keys}}
            for lam in lams
        ]
        return pd.DataFrame(rows)
    if kind == "cb" and result.get("per_seed"):
        per = result["per_seed"]
        rows = []
        for t in result.get("thresholds", []):
            recs = [p[f"{t:g}"] for p in per]
            row = {"|cosine| below": float(t)}
            for m in ("cal", "cosine", "degree", "adamic_adar"):
                row[m] = _mean([r.get(m) for r in recs])
            rows.append(row)
        return pd.DataFrame(rows)
    if kind == "threshold" and result.get("rows"):
        rows = []
        for r in result["rows"]:
            seeds = r.get("per_seed") or []
            if not seeds:
                continue
            rows.append(
                {
                    "filter": str(r.get("filter")),
                    "CAL AUC": _mean([s.get("cal", {}).get("auc") for s in seeds]),
                    "CAL CB AUC": _mean([s.get("cal", {}).get("cb_auc") for s in seeds]),
                    "cosine AUC": _mean([s.get("cosine", {}).get("auc") for s in seeds]),
                }
            )
        return pd.DataFrame(rows)
    return None


def sweep_plot(df: pd.DataFrame, title: str) -> str:
    """A generic sweep: first column on x, every other numeric column as a line."""
    return to_base64_png(sweep_figure(df, title))


def sweep_figure(df: pd.DataFrame, title: str) -> Any:
    """:func:`sweep_plot` as a matplotlib figure."""
    x = df.columns[0]
    ys = [c for c in df.columns[1:] if pd.api.types.is_numeric_dtype(df[c])][:6]
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    for c in ys:
        ax.plot(df[x], df[c], marker="o", label=c, color=COLORS.get(c))
    ax.set_xlabel(x)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig


def cluster_classes(table: pd.DataFrame) -> str:
    """% coherent / partial / no signal per cluster family (Table 9 as bars, SD where known)."""
    return to_base64_png(cluster_classes_figure(table))


def cluster_classes_figure(table: pd.DataFrame) -> Any:
    """:func:`cluster_classes` as a matplotlib figure."""
    keys = [("pct_coherent", "coherent"), ("pct_partial", "partial"), ("pct_no_signal", "none")]
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    width = 0.8 / len(keys)
    for j, (k, name) in enumerate(keys):
        x = np.arange(len(table)) + (j - 1) * width
        sd = table.get(k.replace("pct_", "sd_"), pd.Series(np.nan, index=table.index))
        ax.bar(x, table[k], width * 0.95, label=name, color=("#1b6ca8", "#8fb8d8", "#ddd")[j])
        err = np.nan_to_num(sd.to_numpy(float))
        ax.errorbar(x, table[k], yerr=err, fmt="none", ecolor="black", capsize=2, lw=0.8)
    ax.set_xticks(range(len(table)), table["clusters"], fontsize=7, rotation=15)
    ax.set_ylabel("% of clusters")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("Gene-set enrichment of clusters (background = embedded entities)", fontsize=10)
    return fig


def loss_curves_figure(curves: dict[str, pd.DataFrame]) -> Any:
    """One panel per model: its training (and validation) loss per epoch.

    Models optimise different losses (InfoNCE, cross-entropy), so each keeps its own y axis.
    """
    n = len(curves)
    fig = Figure(figsize=(min(4.2 * n, 12.6), 3.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n))
    for ax, (name, curve) in zip(axes, curves.items(), strict=True):
        mk = "o" if len(curve) < 15 else None
        ax.plot(curve["epoch"], curve["loss"], color=color(name), marker=mk, label="training")
        if "val_loss" in curve:
            ax.plot(
                curve["epoch"], curve["val_loss"], color="#d08c2f", marker=mk, label="validation"
            )
        ax.set_xlabel("epoch")
        ax.set_title(f"{label(name)} training loss", fontsize=10)
        ax.legend(frameon=False, fontsize=8, title=label(name), title_fontsize=8)
    axes[0].set_ylabel("loss")
    return fig
