"""Matplotlib figures for the HTML report, returned as base64 PNG strings (no files, no URLs)."""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from calbio.evaluation.metrics import roc_auc  # noqa: E402

COLORS = {
    "cal": "#1b6ca8",
    "cosine": "#9a9a9a",
    "degree": "#d08c2f",
    "adamic_adar": "#6a9f3a",
}
LABELS = {"cal": "CAL", "cosine": "cosine", "degree": "degree", "adamic_adar": "Adamic-Adar"}
COSINE_BINS = (-1.0, 0.0, 0.2, 0.4, 0.6, 1.0)


def to_base64_png(fig: Any, dpi: int = 110) -> str:
    """Render a figure to a base64-encoded PNG and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def uniform_sets(scores: pd.DataFrame) -> pd.DataFrame:
    """Held-out positives and uniform negatives (degree-matched negatives left out)."""
    return scores[scores["set"].isin(["positive", "negative"])]


def score_by_cosine_bin(scores: pd.DataFrame, method: str = "cal") -> str:
    """The paper's Fig. 4A: association scores of positives vs negatives within cosine bins."""
    df = uniform_sets(scores)
    bins = pd.cut(df["cosine"], COSINE_BINS, include_lowest=True)
    cats = bins.cat.categories
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    width = 0.36
    for j, (label, color) in enumerate(((1.0, "#1b6ca8"), (0.0, "#c9c9c9"))):
        data, pos = [], []
        for i, cat in enumerate(cats):
            v = df.loc[(bins == cat) & (df["label"] == label), method].to_numpy()
            if len(v):
                data.append(v)
                pos.append(i + (j - 0.5) * width)
        if data:
            bp = ax.boxplot(
                data, positions=pos, widths=width * 0.9, patch_artist=True, showfliers=False
            )
            for patch in bp["boxes"]:
                patch.set_facecolor(color)
    counts = [
        f"{c}\n+{int(((bins == c) & (df['label'] == 1)).sum())} "
        f"/ -{int(((bins == c) & (df['label'] == 0)).sum())}"
        for c in cats
    ]
    ax.set_xticks(range(len(cats)), counts, fontsize=8)
    ax.set_xlabel("embedding cosine of the pair (bin; held-out positives / negatives)")
    ax.set_ylabel(f"{LABELS.get(method, method)} score")
    ax.plot([], [], color="#1b6ca8", lw=8, label="held-out positives")
    ax.plot([], [], color="#c9c9c9", lw=8, label="negatives")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.set_title("Association scores by cosine bin", fontsize=10)
    return to_base64_png(fig)


def auc_bars(rows: pd.DataFrame) -> str:
    """AUC and CB AUC per method with 95% CIs (columns: method, metric, value, lo, hi)."""
    metrics = list(dict.fromkeys(rows["metric"]))
    methods = list(dict.fromkeys(rows["method"]))
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    width = 0.8 / max(len(methods), 1)
    for j, m in enumerate(methods):
        sub = rows[rows["method"] == m].set_index("metric").reindex(metrics)
        x = np.arange(len(metrics)) + (j - (len(methods) - 1) / 2) * width
        v = sub["value"].to_numpy(float)
        err = np.vstack([v - sub["lo"].to_numpy(float), sub["hi"].to_numpy(float) - v])
        err = np.where(np.isfinite(err), np.abs(err), 0.0)
        ax.bar(x, v, width * 0.95, color=COLORS.get(m, "#555"), label=LABELS.get(m, m))
        ax.errorbar(x, v, yerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
    ax.axhline(0.5, color="black", lw=0.6, ls=":")
    ax.set_xticks(range(len(metrics)), metrics)
    ax.set_ylim(0.3, 1.0)
    ax.set_ylabel("ROC AUC (95% bootstrap CI)")
    ax.legend(frameon=False, fontsize=8, ncol=len(methods), loc="upper center")
    ax.set_title("Held-out discrimination per method", fontsize=10)
    return to_base64_png(fig)


def degree_quintiles(scores: pd.DataFrame, methods: list[str]) -> tuple[str, pd.DataFrame]:
    """AUC per quintile of the training-degree product, and CAL's improvement over cosine."""
    df = uniform_sets(scores)
    prod = df["degree_a"].to_numpy(float) * df["degree_b"].to_numpy(float)
    q = pd.qcut(pd.Series(prod).rank(method="first"), 5, labels=False).to_numpy()
    rows = []
    for k in range(5):
        sel = q == k
        y = df["label"].to_numpy()[sel]
        row = {"quintile": k + 1, "n_pos": int(y.sum()), "n_neg": int((1 - y).sum())}
        for m in methods:
            row[m] = roc_auc(y, df[m].to_numpy()[sel]) if 0 < y.sum() < len(y) else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.0, 3.2))
    for m in methods:
        a1.plot(table["quintile"], table[m], marker="o", color=COLORS.get(m), label=LABELS.get(m))
    a1.axhline(0.5, color="black", lw=0.6, ls=":")
    a1.set_xlabel("quintile of training degree product (1 = rarest)")
    a1.set_ylabel("AUC")
    a1.legend(frameon=False, fontsize=8)
    if "cal" in table and "cosine" in table:
        imp = (table["cal"] - table["cosine"]).to_numpy(float)
        a2.bar(table["quintile"], imp, color=np.where(imp >= 0, "#1b6ca8", "#b33"))
        a2.axhline(0, color="black", lw=0.6)
        a2.set_xlabel("quintile of training degree product")
        a2.set_ylabel("AUC(CAL) - AUC(cosine)")
    fig.suptitle("Does CAL's gain depend on hubs?", fontsize=10)
    return to_base64_png(fig), table


def loss_curve(curve: pd.DataFrame) -> str:
    """Training (and validation, when present) loss per epoch."""
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    mk = "o" if len(curve) < 15 else None
    ax.plot(curve["epoch"], curve["loss"], color="#1b6ca8", marker=mk, label="training loss")
    if "val_loss" in curve:
        ax.plot(
            curve["epoch"], curve["val_loss"], color="#d08c2f", marker=mk, label="validation loss"
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("symmetric InfoNCE loss")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("Training loss", fontsize=10)
    return to_base64_png(fig)


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
    x = df.columns[0]
    ys = [c for c in df.columns[1:] if pd.api.types.is_numeric_dtype(df[c])][:6]
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    for c in ys:
        ax.plot(df[x], df[c], marker="o", label=c, color=COLORS.get(c))
    ax.set_xlabel(x)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(title, fontsize=10)
    return to_base64_png(fig)


def cluster_classes(table: pd.DataFrame) -> str:
    """% coherent / partial / no signal per cluster family (Table 9 as bars, SD where known)."""
    keys = [("pct_coherent", "coherent"), ("pct_partial", "partial"), ("pct_no_signal", "none")]
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    width = 0.8 / len(keys)
    for j, (k, label) in enumerate(keys):
        x = np.arange(len(table)) + (j - 1) * width
        sd = table.get(k.replace("pct_", "sd_"), pd.Series(np.nan, index=table.index))
        ax.bar(x, table[k], width * 0.95, label=label, color=("#1b6ca8", "#8fb8d8", "#ddd")[j])
        err = np.nan_to_num(sd.to_numpy(float))
        ax.errorbar(x, table[k], yerr=err, fmt="none", ecolor="black", capsize=2, lw=0.8)
    ax.set_xticks(range(len(table)), table["clusters"], fontsize=7, rotation=15)
    ax.set_ylabel("% of clusters")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("Gene-set enrichment of clusters (background = embedded entities)", fontsize=10)
    return to_base64_png(fig)
