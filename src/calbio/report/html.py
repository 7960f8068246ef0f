"""``calbio report``: one self-contained HTML page for an evaluation run or a model directory.

What is read from disk is described in :mod:`calbio.report.load`; the words in
:mod:`calbio.report.summary`. This module turns both into a page through the jinja2 template
``templates/report.html.j2`` (autoescaped). Every evaluated model appears in every figure beside
the shortcuts; figures are matplotlib PNGs embedded as base64 ``data:`` URIs; the page loads
no URL and runs no script.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calbio.core.metrics import bootstrap_auc_ci, roc_auc
from calbio.report import figures, plots
from calbio.report.figures import RenderedFigure, render
from calbio.report.load import (  # noqa: F401  (re-exported: the report's reading API)
    ModelInfo,
    RunData,
    RunSection,
    load_run,
    read_json,
    run_name,
)
from calbio.report.plots import label, split_methods
from calbio.report.summary import (  # noqa: F401  (verdict is re-exported)
    best_model,
    grouped_verdicts,
    number,
    summary_rows,
    verdict,
)

NAMES = figures.LABELS
P_COLUMNS = {"p", "p_adj", "adj. p", "top_term_p_adj"}


# ------------------------------------------------------------------ tables
@dataclass
class Cell:
    """One table cell: its text, bold when it is the best of its column, a CSS class."""

    text: str
    bold: bool = False
    cls: str = ""


@dataclass
class Table:
    """A table the template renders (header, rows of cells, optional row classes)."""

    columns: list[str]
    rows: list[list[Cell]]
    row_classes: list[str] = field(default_factory=list)
    cls: str = ""


def fmt(v: Any, digits: int = 3) -> str:
    """A value as table text: floats to ``digits``, a pair as ``lo-hi``, None as ``-``."""
    if v is None:
        return "-"
    if isinstance(v, list | tuple) and len(v) == 2:
        return f"{fmt(v[0], 2)}-{fmt(v[1], 2)}"
    if isinstance(v, float | np.floating):
        return "nan" if not np.isfinite(v) else f"{v:.{digits}f}"
    return str(v)


def _is_nan(v: Any) -> bool:
    return isinstance(v, float | np.floating) and np.isnan(v)


def _fmt_p(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return fmt(v)
    return "nan" if not np.isfinite(f) else f"{f:.1e}"


def frame_table(df: pd.DataFrame | None, digits: int = 3, nan: str = "nan") -> Table | None:
    """A DataFrame as a :class:`Table` (p-value columns in scientific notation, NaN as
    ``nan``)."""
    if df is None or not len(df):
        return None
    is_p = [str(c) in P_COLUMNS for c in df.columns]
    rows = [
        [
            Cell(nan if _is_nan(v) else _fmt_p(v) if p else fmt(v, digits))
            for v, p in zip(r, is_p, strict=True)
        ]
        for r in df.itertuples(index=False)
    ]
    return Table([str(c) for c in df.columns], rows)


HEADLINE = [
    ("auc", "AUC"),
    ("auc_ci", "95% CI"),
    ("ap", "AP"),
    ("cb_auc", "CB AUC"),
    ("auc_degree_matched", "AUC vs degree-matched"),
    ("mrr", "MRR"),
    ("hits@10", "Hits@10"),
]


def headline_table(metrics: dict[str, Any]) -> Table:
    """Headline metrics per method (models first, then shortcuts), best per column in bold."""
    methods = metrics.get("methods") or {}
    models, shortcuts = split_methods(metrics)
    cols = [(k, h) for k, h in HEADLINE if any(k in m for m in methods.values())]
    order = models + [m for m in shortcuts if m not in models]
    best = {}
    for k, _ in cols:
        vals = [v for v in (number(methods[m].get(k)) for m in order) if v is not None]
        best[k] = max(vals) if vals else None
    rows, classes = [], []
    for m in order:
        cells = [Cell(label(m) + ("" if m in models else " (shortcut)"))]
        for k, _ in cols:
            v = methods[m].get(k)
            bold = best[k] is not None and number(v) == best[k]
            cells.append(Cell(fmt(v), bold=bold))
        rows.append(cells)
        classes.append("model" if m in models else "shortcut")
    return Table(["method"] + [h for _, h in cols], rows, classes)


def _outcome_text(rival: dict[str, Any] | None) -> Cell:
    if rival is None:
        return Cell("-")
    v = rival["verdict"] or "?"
    return Cell(f"{v} against {label(rival['name'])} ({fmt(rival['value'])})", cls=f"v-{v}")


def summary_table(metrics: dict[str, Any]) -> Table | None:
    """Best model per set with its verdict against the best shortcut and best other model."""
    rows = summary_rows(metrics)
    if not rows:
        return None
    body = [
        [
            Cell(r["where"]),
            Cell(label(r["model"]), bold=True),
            Cell(f"{fmt(r['value'])} ({fmt(r['ci'])})" if r["ci"] else fmt(r["value"])),
            _outcome_text(r["vs_shortcut"]),
            _outcome_text(r["vs_model"]),
        ]
        for r in rows
    ]
    cols = ["set", "best model", "AUC (95% CI)", "vs best shortcut", "vs best other model"]
    return Table(cols, body, cls="summary-table")


def verdict_table(metrics: dict[str, Any]) -> tuple[Table | None, str]:
    """All verdicts in one table, wins then ties then losses, and a count line."""
    vs = grouped_verdicts(metrics)
    if not vs:
        return None, ""
    rows = []
    for v in vs:
        kind = v.get("against_kind") or "shortcut"
        d = number(v.get("diff"))
        diff = "-" if d is None else f"{d:+.3f}"
        ci = [number(x) for x in v.get("diff_ci") or []]
        if len(ci) == 2 and None not in ci:
            diff += f" [{ci[0]:+.3f}, {ci[1]:+.3f}]"
        rows.append(
            [
                Cell(v["verdict"], cls=f"v-{v['verdict']}"),
                Cell(label(v["model"])),
                Cell(str(v.get("label") or v.get("metric"))),
                Cell(str(v.get("where", "test"))),
                Cell(f"{label(str(v.get('against')))} ({kind})"),
                Cell(fmt(number(v.get("model_value")))),
                Cell(fmt(number(v.get("against_value")))),
                Cell(diff),
            ]
        )
    counts = {k: sum(v["verdict"] == k for v in vs) for k in ("wins", "ties", "loses")}
    line = f"{counts['wins']} wins, {counts['ties']} ties, {counts['loses']} losses"
    cols = ["outcome", "model", "metric", "set", "against", "model value", "rival value"]
    cols.append("difference (95% CI)" if any(v.get("diff_ci") for v in vs) else "difference")
    return Table(cols, rows, cls="verdicts"), line


# ------------------------------------------------------------------ per-pair tables
def top_lift_pairs(scores: pd.DataFrame, top: int = 15, method: str = "cal") -> pd.DataFrame:
    """Held-out positives that ``method`` ranks much higher than cosine (percentile among
    test pairs)."""
    df = figures.uniform_sets(scores)
    pct = df[method].rank(pct=True)
    pct_cos = df["cosine"].rank(pct=True)
    col = f"{method}_percentile"
    out = df.assign(**{col: pct, "cosine_percentile": pct_cos})
    out = out[out["label"] == 1].assign(lift=lambda d: d[col] - d.cosine_percentile)
    out = out.sort_values("lift", ascending=False).head(top)
    keep = ["a", "b", "cosine", method, "degree_a", "degree_b", "cosine_percentile", col]
    return out[[c for c in keep if c in out]].reset_index(drop=True)


def auc_rows(section: RunSection, n_boot: int = 300) -> pd.DataFrame:
    """AUC (CI from metrics.json) and CB AUC (CI bootstrapped here from the score table) for
    every model and shortcut."""
    methods = section.metrics.get("methods") or {}
    models, shortcuts = split_methods(section.metrics)
    thr = section.metrics.get("cb_threshold", 0.2)
    rows = []
    uni = figures.uniform_sets(section.scores) if section.scores is not None else None
    cb_mask = None
    if uni is not None and "cosine" in uni:
        cb_mask = np.abs(uni["cosine"].to_numpy()) < thr
    for m in models + shortcuts:
        e = methods[m]
        ci = e.get("auc_ci") or [np.nan, np.nan]
        rows.append({"method": m, "metric": "AUC", "value": e.get("auc"), "lo": ci[0], "hi": ci[1]})
        lo = hi = np.nan
        cbv = e.get("cb_auc")
        if cb_mask is not None and m in uni and cb_mask.any():
            y = uni["label"].to_numpy()[cb_mask]
            s = uni[m].to_numpy()[cb_mask]
            if 0 < y.sum() < len(y):
                cbv = roc_auc(y, s)
                lo, hi = bootstrap_auc_ci(y, s, n_boot=n_boot, seed=0)
        rows.append({"method": m, "metric": "CB AUC", "value": cbv, "lo": lo, "hi": hi})
    df = pd.DataFrame(rows, columns=["method", "metric", "value", "lo", "hi"])
    for c in ("value", "lo", "hi"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


# ------------------------------------------------------------------ sections of the page
def _counts_line(m: dict[str, Any]) -> str:
    def n(key: str) -> str:
        v = m.get(key)
        return f"{v:,}" if isinstance(v, int) else "?"

    return (
        f"{n('n_entities')} entities; {n('n_train_pairs')} training / {n('n_test_pairs')} test "
        f"pairs; {n('n_negatives')} negatives (+{n('n_negatives_degree_matched')} "
        f"degree-matched); cross-boundary = |cosine| < {m.get('cb_threshold', 0.2)}; "
        f"seed {m.get('seed', '?')}."
    )


def _score_figures(i: int, sec: RunSection, best: str | None) -> list[RenderedFigure]:
    """ROC, cross-boundary histogram, cosine bins (best model) and the degree breakdown."""
    models, shortcuts = split_methods(sec.metrics)
    names = ", ".join(label(m) for m in models + shortcuts)
    out = [
        render(
            plots.plot_roc(_Scored(sec), models + shortcuts),
            f"roc-{i}",
            f"ROC of every method ({names}) on held-out positives vs uniform negatives; "
            "shortcuts dashed.",
        ),
        render(
            plots.plot_cross_boundary(_Scored(sec)),
            f"cb-{i}",
            "Embedding cosine of held-out positives and negatives; pairs in the shaded "
            "band are the cross-boundary pairs that similarity search cannot rank.",
        ),
    ]
    if best is not None and best in sec.scores:
        out.append(
            render(
                figures.score_by_cosine_bin_figure(sec.scores, best),
                f"bins-{i}",
                f"Scores of the best model ({label(best)}) for held-out positives vs negatives "
                "within embedding-cosine bins (the paper's Fig. 4A): separation in low-cosine "
                "bins is what similarity search cannot give.",
            )
        )
    return out


@dataclass
class _Scored:
    """A run section seen by plots.py: ``scores`` plus metrics via ``to_dict()``."""

    section: RunSection

    @property
    def scores(self) -> pd.DataFrame | None:  # noqa: D102
        return self.section.scores

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        return self.section.metrics


def _degree_part(i: int, sec: RunSection) -> tuple[RenderedFigure | None, Table | None]:
    has_bins = any((e or {}).get("by_degree") for e in sec.metrics["methods"].values())
    has_degrees = sec.scores is not None and {"degree_a", "degree_b"} <= set(sec.scores.columns)
    if not (has_bins or has_degrees):
        return None, None
    src = _Scored(sec)
    table = plots.degree_table(src)
    fig = render(
        plots.plot_degree_breakdown(src),
        f"quintiles-{i}",
        "AUC of every method within bins of the training degree of each pair (by_degree "
        "from metrics.json when present, else quintiles of the degree product); right: each "
        "model's AUC minus cosine's.",
    )
    show = table.rename(columns={m: label(m) for m in plots.table_methods(table)})
    return fig, frame_table(show, nan="undefined")  # one class only in the bin


def section_context(i: int, sec: RunSection) -> dict[str, Any]:
    """Everything the template shows for one evaluation (numbers, verdicts, figures)."""
    m = sec.metrics
    best = best_model(m)
    models, shortcuts = split_methods(m)
    verdicts, counts = verdict_table(m)
    ctx: dict[str, Any] = {
        "name": sec.name,
        "protocol": str(m.get("protocol", "?")),
        "synthetic": bool((m.get("data") or {}).get("synthetic")),
        "note": m.get("note"),
        "verdict": verdict(m),
        "summary": summary_table(m),
        "counts": _counts_line(m),
        "headline": headline_table(m),
        "validation": [
            {"name": k, "n_pairs": f"{v.get('n_pairs', 0):,}", "table": headline_table(v)}
            for k, v in (m.get("validation") or {}).items()
            if isinstance(v, dict) and isinstance(v.get("methods"), dict)
        ],
        "verdicts": verdicts,
        "verdict_counts": counts,
        "warnings": [str(w) for w in m.get("warnings") or []],
        "has_scores": sec.scores is not None,
        "lift": None,
    }
    figs = [
        render(
            figures.auc_bars_figure(auc_rows(sec), shortcuts),
            f"auc-{i}",
            "AUC and cross-boundary AUC per method (models plain, shortcuts hatched); whiskers "
            "are 95% bootstrap CIs.",
        )
    ]
    if sec.scores is not None and "label" in sec.scores and "cosine" in sec.scores:
        figs += _score_figures(i, sec, best)
        if best is not None and best in sec.scores:
            ctx["lift"] = frame_table(top_lift_pairs(sec.scores, method=best))
            ctx["lift_model"] = label(best)
    deg_fig, ctx["degree_table"] = _degree_part(i, sec)
    figs += [deg_fig] if deg_fig is not None else []
    ctx["figures"] = figs
    return ctx


def models_table(models: list[ModelInfo]) -> Table | None:
    """One row per saved model: kind, preset, learned parameters, epochs, time and settings."""
    if not models:
        return None
    rows = []
    for mi in models:
        settings = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in mi.settings.items()
        )
        rows.append(
            [
                Cell(label(mi.name), bold=True),
                Cell(mi.kind),
                Cell(mi.preset or "-"),
                Cell(f"{mi.n_parameters:,}"),
                Cell(str(len(mi.loss)) if mi.loss is not None else "-"),
                Cell(f"{mi.fit_seconds:.0f} s" if mi.fit_seconds is not None else "-"),
                Cell(mi.note or settings, cls="settings"),
            ]
        )
    cols = ["model", "kind", "preset", "parameters", "epochs", "fit time", "settings"]
    return Table(cols, rows)


def model_context(run: RunData) -> dict[str, Any]:
    """The "Model and training" part: one row per model and every model's loss curve."""
    curves = {m.name: m.loss for m in run.models if m.loss is not None and len(m.loss)}
    loss = None
    if curves:
        loss = render(
            figures.loss_curves_figure(curves),
            "loss",
            "Training loss per epoch of every model (each model its own loss and scale).",
        )
    return {"models": models_table(run.models), "loss_figure": loss}


def transfer_context(run: RunData) -> dict[str, Any] | None:
    """Transfer runs: one heatmap grid (every method, one colour scale) for AUC and for MRR."""
    if run.transfer is None:
        return None
    from calbio.report.transfer import plot_transfer_grid

    metrics = [m for m in ("auc", "mrr") if m in run.transfer.get("metrics", {})]
    figures = [
        render(
            plot_transfer_grid(run.transfer, metric),
            f"transfer_{metric}",
            f"Transfer: {run.transfer['metrics'][metric]} of each method, trained on the row's "
            "file and scored on the column's pairs absent from it (framed diagonal: held out).",
        )
        for metric in metrics
    ]
    return {"figures": figures, "message": "" if figures else "transfer.json has no AUC or MRR."}


CLUSTER_HEADERS = {
    "association_specific": "assoc.-specific",
    "top_term": "best term",
    "top_term_p_adj": "adj. p",
    "top_term_coverage": "coverage",
    "mean_embedding_cosine": "emb. cos",
    "mean_association_cosine": "assoc. cos",
    "hub_fraction": "hubs",
}
CLUSTER_COLUMNS = (
    "cluster",
    "size",
    "association_specific",
    "class",
    "top_term",
    "top_term_p_adj",
    "top_term_coverage",
    "mean_embedding_cosine",
    "mean_association_cosine",
    "hub_fraction",
    "members",
)


def shorten_members(members: str, limit: int = 90, sep: str = ";") -> str:
    """Whole member symbols up to ``limit`` characters, then how many more (never cut a symbol)."""
    items = [m for m in members.split(sep) if m]
    kept: list[str] = []
    used = 0
    for m in items:
        if kept and used + len(m) + 1 > limit:
            break
        kept.append(m)
        used += len(m) + 1
    rest = len(items) - len(kept)
    return " ".join(kept) + (f" … (+{rest} more)" if rest else "")


def _cluster_classes(cdir: Path, ctx: dict[str, Any]) -> None:
    t9 = pd.read_csv(cdir / "table9.csv")
    params = read_json(cdir / "params.json") if (cdir / "params.json").is_file() else {}
    ctx["background"] = params.get("background")
    ctx["figure"] = render(
        figures.cluster_classes_figure(t9),
        "clusters",
        "Share of clusters with a coherent / partial / no enrichment signal; random rows "
        "are matched-size clusters from the same background (mean ± SD).",
    )
    show = t9[["clusters", "n", "entities"]].copy()
    for k in ("coherent", "partial", "no_signal"):
        sd = t9[f"sd_{k}"] if f"sd_{k}" in t9 else t9[f"pct_{k}"] * np.nan
        show[f"% {k.replace('_', ' ')}"] = [
            f"{m:.1f}" + ("" if not np.isfinite(s) else f" ± {s:.1f}")
            for m, s in zip(t9[f"pct_{k}"], sd, strict=True)
        ]
    ctx["classes"] = frame_table(show)


def cluster_context(cdir: Path) -> dict[str, Any]:
    """Cluster classes (Table 9), the top clusters and validation densities of ``cdir``."""
    ctx: dict[str, Any] = {"figure": None, "validation": None, "background": None}
    if (cdir / "table9.csv").is_file():
        _cluster_classes(cdir, ctx)
    ct = pd.read_csv(cdir / "clusters.csv")
    ct = ct[[c for c in CLUSTER_COLUMNS if c in ct]]
    if "top_term_p_adj" in ct:
        ct = ct.sort_values("top_term_p_adj")
    ct = ct.head(25).copy()
    if "members" in ct:
        ct["members"] = [shorten_members(v) for v in ct["members"].astype(str)]
    ctx["table"] = frame_table(ct.rename(columns=CLUSTER_HEADERS), 2)
    if (cdir / "validation.json").is_file():
        v = read_json(cdir / "validation.json")
        rows = [
            {
                "pairs": src,
                "space": space,
                "edges inside": d.get("within_cluster_edges"),
                "density": d.get("density"),
                "random density": d.get("random_density_mean"),
                "fold": d.get("fold_over_random"),
            }
            for src, spaces in v.items()
            for space, d in spaces.items()
        ]
        ctx["validation"] = frame_table(pd.DataFrame(rows), 4)
    return ctx


def named_tables(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Analysis tables ({title, columns, rows, notes}) ready for the template."""
    return [
        {
            "title": str(t.get("title", "")),
            "table": frame_table(pd.DataFrame(t.get("rows", []), columns=t.get("columns"))),
            "notes": [str(n) for n in t.get("notes", [])],
        }
        for t in tables
    ]


def doctor_context(doctor: Any) -> dict[str, Any]:
    """Doctor verdicts in whichever shape they were saved (tables, list of checks, mapping)."""
    if isinstance(doctor, dict) and isinstance(doctor.get("result"), dict):
        doctor = doctor["result"]  # an experiment-runner step record
    if isinstance(doctor, dict) and isinstance(doctor.get("tables"), list):
        return {"tables": named_tables(doctor["tables"])}
    if isinstance(doctor, dict) and isinstance(doctor.get("checks"), list):
        doctor = doctor["checks"]
    if isinstance(doctor, list) and all(isinstance(d, dict) for d in doctor):
        return {"table": frame_table(pd.DataFrame(doctor))}
    if isinstance(doctor, dict):
        rows = [
            {"check": k, "verdict": v if not isinstance(v, dict | list) else json.dumps(v)}
            for k, v in doctor.items()
        ]
        return {"table": frame_table(pd.DataFrame(rows))}
    return {"text": json.dumps(doctor, indent=1)}


# ------------------------------------------------------------------ page
CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f4f6f8}
tr.model td{background:#eef5fb}tr.shortcut td{color:#555}
.summary{background:#f6f9ee;border-left:4px solid #6a9f3a;padding:.4em 1em;margin:1em 0}
.verdict{font-size:1.05em}.warn{color:#a00;font-weight:600}.muted{color:#777}
td.v-wins{background:#e3f1dc;color:#245a12;font-weight:600}
td.v-ties{background:#f3f0dc;color:#6b5a10}
td.v-loses{background:#f7e1df;color:#8a1f14;font-weight:600}
table.verdicts td,table.summary-table td,table.verdicts th,table.summary-table th{text-align:left}
td.settings,th:last-child.settings{text-align:left;font-size:.9em;color:#444;max-width:36em}
td{max-width:24em;overflow-wrap:break-word}figure{margin:1em 0}
figcaption{font-size:.85em;color:#555}img{max-width:100%}details{margin:.6em 0}
"""


@cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("calbio.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


@dataclass
class BuiltReport:
    """The rendered page and every figure it embeds (with the figures' legend labels)."""

    html: str
    figures: list[RenderedFigure]
    sections: list[dict[str, Any]] = field(default_factory=list)

    @property
    def figure_ids(self) -> list[str]:
        """Ids of the embedded figures (``fig-ID`` in the page), in page order."""
        return [f.id for f in self.figures]


def page_context(run: RunData, title: str | None = None) -> dict[str, Any]:
    """Everything the template needs, figures rendered."""
    sweeps = [
        render(figures.sweep_figure(df, name), f"sweep-{j}", f"Sweep: {name}")
        for j, (name, df) in enumerate(run.sweeps.items())
    ]
    steps = [
        {
            "name": name,
            "kind": rec["kind"],
            "seconds": f"{float(rec.get('seconds', 0)):.0f}",
            "tables": named_tables(rec["result"].get("tables", [])),
        }
        for name, rec in run.steps.items()
        if rec["kind"] != "doctor"
    ]
    return {
        "title": title or f"calbio report: {run_name(run.root)}",
        "css": CSS,
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "root": str(run.root),
        "sections": [section_context(i, s) for i, s in enumerate(run.sections)],
        "transfer": transfer_context(run),
        **model_context(run),
        "sweeps": sweeps,
        "clusters": cluster_context(run.clusters_dir) if run.clusters_dir else None,
        "doctor": doctor_context(run.doctor) if run.doctor is not None else None,
        "steps": steps,
    }


def build_report(run: RunData, title: str | None = None) -> BuiltReport:
    """Render the page from the template; returns it with the figures it embeds."""
    ctx = page_context(run, title)
    figs = [f for s in ctx["sections"] for f in s["figures"]]
    figs += ctx["transfer"]["figures"] if ctx["transfer"] else []
    figs += [ctx["loss_figure"]] if ctx["loss_figure"] else []
    figs += ctx["sweeps"]
    figs += [ctx["clusters"]["figure"]] if ctx["clusters"] and ctx["clusters"]["figure"] else []
    page = _environment().get_template("report.html.j2").render(**ctx)
    return BuiltReport(page, figs, ctx["sections"])


def write_report(
    run_dir: str | Path,
    out: str | Path,
    *,
    force: bool = False,
    clusters_dir: str | Path | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """Build the report for ``run_dir`` and write it atomically to ``out``."""
    from calbio.core.io import check_output_file, write_text_atomic

    check_output_file(out, force)
    run = load_run(run_dir, clusters_dir)
    built = build_report(run, title)
    write_text_atomic(out, built.html)
    return {
        "out": str(out),
        "figures": built.figure_ids,
        "legends": {f.id: f.legend for f in built.figures},
        "sections": [s.name for s in run.sections],
        "models": [m.name for m in run.models],
    }
