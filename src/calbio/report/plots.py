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
    "cosine": "#9a9a9a",
    "degree": "#d08c2f",
    "adamic_adar": "#6a9f3a",
}
LABELS = {"cal": "CAL", "cosine": "cosine", "degree": "degree", "adamic_adar": "Adamic-Adar"}
METHOD_ORDER = ("cal", "cosine", "degree", "adamic_adar")


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


def _methods(scores: pd.DataFrame) -> list[str]:
    return [m for m in METHOD_ORDER if m in scores]


def plot_roc(result: Any, methods: list[str] | None = None) -> Figure:
    """ROC curve of every method on held-out positives vs uniform negatives, AUC in the legend."""
    from sklearn.metrics import roc_auc_score, roc_curve

    df = uniform_sets(result_scores(result))
    y = df["label"].to_numpy()
    fig, ax = _new_figure(4.8, 4.2)
    for m in methods or _methods(df):
        s = df[m].to_numpy(float)
        ok = np.isfinite(s)
        if not (0 < y[ok].sum() < ok.sum()):
            continue
        fpr, tpr, _ = roc_curve(y[ok], s[ok])
        auc = roc_auc_score(y[ok], s[ok])
        ax.plot(fpr, tpr, color=COLORS.get(m), lw=1.6, label=f"{LABELS.get(m, m)} ({auc:.3f})")
    ax.plot([0, 1], [0, 1], color="black", lw=0.6, ls=":")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_aspect("equal")
    ax.legend(frameon=False, fontsize=8, loc="lower right", title="AUC", title_fontsize=8)
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


def degree_table(result: Any) -> pd.DataFrame:
    """Per-degree-bin metrics: ``by_degree`` from metrics.json when present, else AUC per
    quintile of the training-degree product computed from the per-pair scores."""
    try:
        methods = result_metrics(result).get("methods", {})
    except ValueError:
        methods = {}
    rows = []
    for m in METHOD_ORDER:
        for b, rec in (methods.get(m, {}).get("by_degree") or {}).items():
            rows.append(
                {"bin": str(b), "method": m, **{k: rec.get(k) for k in ("auc", "mrr", "n")}}
            )
    if rows:
        long = pd.DataFrame(rows)
        order = list(dict.fromkeys(long["bin"]))
        wide = long.pivot(index="bin", columns="method", values="auc").reindex(order)
        n = long.groupby("bin", sort=False)["n"].first().reindex(order)
        wide.insert(0, "n", n.to_numpy())
        return wide.reset_index()
    return _degree_quintiles(result_scores(result))


def _degree_quintiles(scores: pd.DataFrame) -> pd.DataFrame:
    from calbio.core.metrics import roc_auc

    df = uniform_sets(scores)
    if not {"degree_a", "degree_b"} <= set(df.columns):
        raise ValueError("scores have no degree_a / degree_b columns and metrics no by_degree")
    prod = df["degree_a"].to_numpy(float) * df["degree_b"].to_numpy(float)
    q = pd.qcut(pd.Series(prod).rank(method="first"), 5, labels=False).to_numpy()
    y = df["label"].to_numpy()
    rows = []
    for k in range(5):
        sel = q == k
        row: dict[str, Any] = {"bin": f"Q{k + 1}", "n": int(sel.sum())}
        row["n_pos"], row["n_neg"] = int(y[sel].sum()), int((1 - y[sel]).sum())
        for m in _methods(df):
            ok = 0 < y[sel].sum() < sel.sum()
            row[m] = roc_auc(y[sel], df[m].to_numpy()[sel]) if ok else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def plot_degree_breakdown(result: Any) -> Figure:
    """AUC per degree bin for every method (left) and CAL minus cosine (right)."""
    table = degree_table(result)
    meths = [m for m in METHOD_ORDER if m in table]
    fig, (a1, a2) = _new_figure(9.5, 3.4, ncols=2)
    x = np.arange(len(table))
    for m in meths:
        a1.plot(x, table[m].to_numpy(float), marker="o", color=COLORS.get(m), label=LABELS[m])
    a1.axhline(0.5, color="black", lw=0.6, ls=":")
    a1.set_xticks(x, table["bin"].astype(str))
    a1.set_xlabel("training-degree bin (first = rarest)")
    a1.set_ylabel("AUC")
    a1.legend(frameon=False, fontsize=8)
    if "cal" in table and "cosine" in table:
        imp = (table["cal"] - table["cosine"]).to_numpy(float)
        a2.bar(x, imp, color=np.where(imp >= 0, "#1b6ca8", "#b33"))
        a2.axhline(0, color="black", lw=0.6)
        a2.set_xticks(x, table["bin"].astype(str))
        a2.set_xlabel("training-degree bin")
        a2.set_ylabel("AUC(CAL) - AUC(cosine)")
    else:
        a2.set_axis_off()
    fig.suptitle("Does CAL's gain depend on hubs?", fontsize=10)
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
