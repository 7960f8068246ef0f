"""Figures of an evaluation as matplotlib ``Figure`` objects: one place for Python and HTML.

``plot_roc``, ``plot_loss``, ``plot_degree_breakdown`` and ``plot_cross_boundary`` accept an
``EvaluationResult`` (or anything with ``scores`` / ``to_dict()`` / ``metrics``), and return a
Figure the caller may show, save or close. The HTML report (``report/figures.py``) renders the
same functions to PNG. Nothing here calls ``plt.show()`` or changes the global backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

COLORS = {
    "cal": "#1b6ca8",
    "sage": "#8e44ad",
    "hybrid": "#c0392b",
    "cosine": "#9a9a9a",
    "degree": "#d08c2f",
    "adamic_adar": "#6a9f3a",
    "tanimoto": "#2a9d8f",
}
LABELS = {
    "cal": "CAL",
    "sage": "GraphSAGE",
    "hybrid": "hybrid",
    "cosine": "cosine",
    "degree": "degree",
    "adamic_adar": "Adamic-Adar",
    "tanimoto": "Tanimoto",
}
MODEL_ORDER = ("cal", "sage", "hybrid")
SHORTCUT_ORDER = ("cosine", "degree", "adamic_adar", "tanimoto")
METHOD_ORDER = MODEL_ORDER + SHORTCUT_ORDER
# Columns of a score table that are not scores of a method.
META_COLUMNS = {"dataset", "a", "b", "degree_a", "degree_b", "set", "label"}
_EXTRA_COLORS = ("#e377c2", "#17becf", "#bcbd22", "#8c564b", "#7f7f7f", "#1f77b4")


def color(method: str) -> str:
    """The colour of a method in every figure (a stable fallback for unknown names)."""
    if method in COLORS:
        return COLORS[method]
    return _EXTRA_COLORS[sum(map(ord, method)) % len(_EXTRA_COLORS)]


def label(method: str) -> str:
    """The display name of a method (its own name when calbio has no nicer one)."""
    return LABELS.get(method, method)


def _new_figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, Any]:
    """A pyplot-free Figure (safe in scripts, servers and notebooks) with ``ncols`` axes."""
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def result_scores(result: Any) -> pd.DataFrame:
    """The per-pair score table of a result (``EvaluationResult.scores``) or a DataFrame."""
    scores = result if isinstance(result, pd.DataFrame) else getattr(result, "scores", None)
    if scores is None or "label" not in scores:
        raise ValueError(
            "this figure needs per-pair scores (EvaluationResult.scores or test_scores.csv.gz)"
        )
    if "dataset" in scores:  # validation sets are scored in the same table
        scores = scores[scores["dataset"] == "test"]
    return scores


def result_metrics(result: Any) -> dict[str, Any]:
    """The metrics.json payload of a result (``to_dict()``, ``.metrics`` or a plain dict)."""
    if isinstance(result, dict):
        return result
    if isinstance(result, pd.DataFrame):
        raise ValueError("a score table carries no metrics")
    if hasattr(result, "to_dict"):
        return result.to_dict()
    metrics = getattr(result, "metrics", None)
    if isinstance(metrics, dict):
        return metrics
    raise ValueError(f"cannot read metrics from {type(result).__name__}")


def uniform_sets(scores: pd.DataFrame) -> pd.DataFrame:
    """Held-out positives and uniform negatives (degree-matched negatives left out)."""
    if "set" not in scores:
        return scores
    return scores[scores["set"].isin(["positive", "negative"])]


def split_methods(metrics: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(models, shortcuts) of a metrics.json payload, models first in the order evaluated.

    Uses the ``models`` / ``shortcuts`` lists when recorded, else calbio's known shortcut names.
    """
    methods = list(metrics.get("methods") or {})
    models = [m for m in metrics.get("models") or [] if m in methods]
    shortcuts = [m for m in metrics.get("shortcuts") or [] if m in methods]
    if not models:
        models = [m for m in methods if m not in SHORTCUT_ORDER and m not in shortcuts]
    if not shortcuts:
        shortcuts = [m for m in methods if m not in models]
    return models, shortcuts


def methods_of(result: Any, scores: pd.DataFrame | None = None) -> list[str]:
    """Every scored method of ``result`` (models first, then shortcuts) present in ``scores``."""
    try:
        models, shortcuts = split_methods(result_metrics(result))
    except ValueError:
        models, shortcuts = [], []
    order = models + shortcuts
    if scores is None:
        return order
    if not order:  # a bare score table: known names first, then any other numeric column
        known = [m for m in METHOD_ORDER if m in scores]
        rest = [
            c
            for c in scores.columns
            if c not in META_COLUMNS and c not in known and pd.api.types.is_numeric_dtype(scores[c])
        ]
        order = known + rest
    return [m for m in order if m in scores]


def _methods(scores: pd.DataFrame) -> list[str]:
    return methods_of(scores, scores)


def _is_shortcut(result: Any, method: str) -> bool:
    try:
        return method in split_methods(result_metrics(result))[1]
    except ValueError:
        return method in SHORTCUT_ORDER


def plot_roc(result: Any, methods: list[str] | None = None) -> Figure:
    """ROC curve of every method on held-out positives vs uniform negatives, AUC in the legend."""
    from sklearn.metrics import roc_auc_score, roc_curve

    df = uniform_sets(result_scores(result))
    y = df["label"].to_numpy()
    fig, ax = _new_figure(5.2, 4.6)
    for m in methods or methods_of(result, df):
        s = df[m].to_numpy(float)
        ok = np.isfinite(s)
        if not (0 < y[ok].sum() < ok.sum()):
            continue
        fpr, tpr, _ = roc_curve(y[ok], s[ok])
        auc = roc_auc_score(y[ok], s[ok])
        ls = "--" if _is_shortcut(result, m) else "-"
        ax.plot(fpr, tpr, color=color(m), lw=1.6, ls=ls, label=f"{label(m)} ({auc:.3f})")
    ax.plot([0, 1], [0, 1], color="black", lw=0.6, ls=":")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_aspect("equal")
    title = "AUC (dashed: shortcut)"
    ax.legend(frameon=False, fontsize=8, loc="lower right", title=title, title_fontsize=8)
    ax.set_title("ROC on held-out pairs", fontsize=10)
    return fig


def _history_frame(history: Any) -> pd.DataFrame:
    """epoch / loss (/ val_loss) from a TrainHistory, a CAL model, a result or a DataFrame."""
    if isinstance(history, pd.DataFrame):
        return history
    model = getattr(history, "model", None)
    if model is not None and hasattr(model, "history_"):
        history = model.history_
    history = getattr(history, "history_", history)
    loss = list(getattr(history, "loss", []) or [])
    if not loss:
        raise ValueError("no training loss recorded")
    frame = pd.DataFrame({"epoch": np.arange(1, len(loss) + 1), "loss": loss})
    val = list(getattr(history, "val_loss", []) or [])
    if len(val) == len(loss):
        frame["val_loss"] = val
    return frame


def plot_loss(history: Any) -> Figure:
    """Training (and validation, when recorded) loss per epoch; marks the best epoch if known."""
    curve = _history_frame(history)
    fig, ax = _new_figure(6.0, 3.0)
    mk = "o" if len(curve) < 15 else None
    ax.plot(curve["epoch"], curve["loss"], color="#1b6ca8", marker=mk, label="training loss")
    if "val_loss" in curve:
        ax.plot(
            curve["epoch"], curve["val_loss"], color="#d08c2f", marker=mk, label="validation loss"
        )
    best = getattr(getattr(history, "history_", history), "best_epoch", None)
    if isinstance(best, int):
        ax.axvline(best + 1, color="black", lw=0.6, ls=":", label=f"best epoch ({best + 1})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("symmetric InfoNCE loss")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("Training loss", fontsize=10)
    return fig


def _number(v: Any) -> float:
    """A metric value as a float; "undefined", None and non-numbers become NaN."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _degree_range(rec: dict[str, Any]) -> str:
    lo_hi = rec.get("degree_range", rec.get("min_degree_range"))
    if isinstance(lo_hi, list | tuple) and len(lo_hi) == 2 and None not in lo_hi:
        return f"{lo_hi[0]}-{lo_hi[1]}"
    return ""


def degree_table(result: Any, metric: str = "auc") -> pd.DataFrame:
    """Per-degree-bin metrics: ``by_degree`` from metrics.json when present, else AUC per
    quintile of the training-degree product computed from the per-pair scores.

    Columns: ``bin``, ``degrees`` (training-degree range), ``n_pos`` / ``n_neg`` (held-out
    positives / negatives in the bin, when recorded), then ``metric`` per method.
    """
    try:
        metrics = result_metrics(result)
    except ValueError:
        metrics = {}
    methods = metrics.get("methods") or {}
    order = methods_of(metrics) or list(methods)
    bins: dict[str, dict[str, Any]] = {}
    for m in order:
        for b, rec in (methods.get(m, {}).get("by_degree") or {}).items():
            row = bins.setdefault(str(b), {"bin": str(b), "degrees": _degree_range(rec)})
            for k in ("n_pos", "n_neg", "n"):
                if k in rec and k not in row:
                    row[k] = rec[k]
            row[m] = _number(rec.get(metric))
    if bins:
        wide = pd.DataFrame(list(bins.values()))
        counts = [k for k in ("n", "n_pos", "n_neg") if k in wide]
        if not wide["degrees"].astype(bool).any():
            wide = wide.drop(columns="degrees")
        head = ["bin"] + (["degrees"] if "degrees" in wide else []) + counts
        return wide[head + [m for m in order if m in wide]]
    return _degree_quintiles(result_scores(result), methods_of(result, None) or None)


def _degree_quintiles(scores: pd.DataFrame, order: list[str] | None = None) -> pd.DataFrame:
    from calbio.core.metrics import roc_auc

    df = uniform_sets(scores)
    if not {"degree_a", "degree_b"} <= set(df.columns):
        raise ValueError("scores have no degree_a / degree_b columns and metrics no by_degree")
    prod = df["degree_a"].to_numpy(float) * df["degree_b"].to_numpy(float)
    q = pd.qcut(pd.Series(prod).rank(method="first"), 5, labels=False).to_numpy()
    y = df["label"].to_numpy()
    methods = [m for m in order if m in df] if order else _methods(df)
    rows = []
    for k in range(5):
        sel = q == k
        row: dict[str, Any] = {"bin": f"Q{k + 1}", "n": int(sel.sum())}
        row["n_pos"], row["n_neg"] = int(y[sel].sum()), int((1 - y[sel]).sum())
        for m in methods:
            ok = 0 < y[sel].sum() < sel.sum()
            row[m] = roc_auc(y[sel], df[m].to_numpy()[sel]) if ok else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def table_methods(table: pd.DataFrame) -> list[str]:
    """The method columns of a :func:`degree_table` (everything after bin, range and counts)."""
    return [c for c in table.columns if c not in ("bin", "degrees", "n", "n_pos", "n_neg")]


def plot_degree_breakdown(result: Any) -> Figure:
    """AUC per degree bin for every method (left) and each model minus cosine (right)."""
    table = degree_table(result)
    meths = table_methods(table)
    try:
        models = split_methods(result_metrics(result))[0]
    except ValueError:
        models = [m for m in meths if m not in SHORTCUT_ORDER]
    models = [m for m in models if m in meths]
    fig, (a1, a2) = _new_figure(9.5, 3.6, ncols=2)
    x = np.arange(len(table))
    for m in meths:
        ls = "-" if m in models else "--"
        y = table[m].to_numpy(float)
        a1.plot(x, y, marker="o", ls=ls, color=color(m), label=label(m))
    a1.axhline(0.5, color="black", lw=0.6, ls=":")
    a1.set_xticks(x, table["bin"].astype(str))
    a1.set_xlabel("training-degree bin (first = rarest)")
    a1.set_ylabel("AUC")
    a1.legend(frameon=False, fontsize=8)
    if models and "cosine" in table:
        width = 0.8 / len(models)
        for j, m in enumerate(models):
            imp = (table[m] - table["cosine"]).to_numpy(float)
            xs = x + (j - (len(models) - 1) / 2) * width
            a2.bar(xs, imp, width * 0.95, color=color(m), label=label(m))
        a2.axhline(0, color="black", lw=0.6)
        a2.set_xticks(x, table["bin"].astype(str))
        a2.set_xlabel("training-degree bin")
        a2.set_ylabel("AUC(model) - AUC(cosine)")
        a2.legend(frameon=False, fontsize=8)
    else:
        a2.set_axis_off()
    fig.suptitle("Does each model's gain over cosine depend on hubs?", fontsize=10)
    return fig


def plot_cross_boundary(result: Any, threshold: float | None = None, bins: int = 40) -> Figure:
    """Embedding cosine of held-out positives vs negatives, the cross-boundary band shaded."""
    df = uniform_sets(result_scores(result))
    if threshold is None:
        try:
            threshold = float(result_metrics(result).get("cb_threshold", 0.2))
        except ValueError:
            threshold = 0.2
    cos = df["cosine"].to_numpy(float)
    y = df["label"].to_numpy()
    edges = np.linspace(-1.0, 1.0, bins + 1)
    fig, ax = _new_figure(6.5, 3.2)
    ax.axvspan(
        -threshold, threshold, color="#f2e6c9", label=f"cross-boundary |cos| < {threshold:g}"
    )
    for lab, color, name in ((0, "#9a9a9a", "negatives"), (1, "#1b6ca8", "held-out positives")):
        v = cos[y == lab]
        if len(v):
            frac = float(np.mean(np.abs(v) < threshold))
            label = f"{name} ({len(v):,}; {frac:.0%} cross-boundary)"
            ax.hist(v, bins=edges, density=True, histtype="step", lw=1.6, color=color, label=label)
    ax.set_xlabel("embedding cosine of the pair")
    ax.set_ylabel("density")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.set_title("Which pairs can similarity search not reach?", fontsize=10)
    return fig
