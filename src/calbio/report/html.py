"""``calbio report``: one self-contained HTML page for an evaluation run or a model directory.

Inputs it understands (all optional except one of metrics.json / config.json):
- an evaluate run directory (``calbio evaluate --out DIR``): ``metrics.json``,
  ``test_scores.csv.gz``, ``model/`` (``config.json``, ``metadata.json``, ``loss_curve.csv``);
- a runner directory whose sub-directories are evaluate runs (one section per protocol);
- a model directory (``calbio fit --out DIR``): training curve and configuration only;
- ``clusters/`` from ``calbio clusters --out RUN/clusters`` (or ``clusters_dir=``);
- sweep tables (``*sweep*.csv`` or ``sweeps/*.csv``) and ``doctor.json`` when present;
- experiment-runner step JSONs (``NAME.json`` with ``kind`` and ``result``): threshold, lambda and
  cross-boundary sweeps are plotted, doctor verdicts and every step's tables are shown.
Figures are matplotlib PNGs embedded as base64 ``data:`` URIs; the page loads no URL.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calbio.core.metrics import bootstrap_auc_ci, roc_auc
from calbio.errors import CalbioInputError
from calbio.report import figures

METHOD_ORDER = ("cal", "cosine", "degree", "adamic_adar")
NAMES = figures.LABELS


@dataclass
class RunSection:
    """One evaluation (one protocol) found in the run directory."""

    name: str
    path: Path
    metrics: dict[str, Any]
    scores: pd.DataFrame | None = None


@dataclass
class RunData:
    """Everything the report reads from disk."""

    root: Path
    sections: list[RunSection] = field(default_factory=list)
    model_dir: Path | None = None
    model_config: dict[str, Any] | None = None
    model_meta: dict[str, Any] | None = None
    loss_curve: pd.DataFrame | None = None
    sweeps: dict[str, pd.DataFrame] = field(default_factory=dict)
    doctor: Any = None
    clusters_dir: Path | None = None
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # experiment-runner steps


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CalbioInputError(f"cannot read JSON: {exc.__class__.__name__}", path) from None


def _read_section(d: Path, name: str) -> RunSection:
    metrics = _read_json(d / "metrics.json")
    scores_file = d / "test_scores.csv.gz"
    scores = pd.read_csv(scores_file) if scores_file.is_file() else None
    return RunSection(name, d, metrics, scores)


def load_run(path: str | Path, clusters_dir: str | Path | None = None) -> RunData:
    """Discover metrics, scores, model, sweeps, doctor verdicts and clusters under ``path``."""
    root = Path(path)
    if not root.is_dir():
        raise CalbioInputError("not a directory (expected a run or model directory)", root)
    run = RunData(root)
    if (root / "metrics.json").is_file():
        run.sections.append(_read_section(root, run_name(root)))
    else:  # a runner directory: STEP/metrics.json or STEP/seedN/metrics.json
        found = sorted(root.glob("*/metrics.json")) or sorted(root.glob("*/*/metrics.json"))
        for f in found:
            run.sections.append(_read_section(f.parent, str(f.parent.relative_to(root))))
    for cand in [root, root / "model", *(s.path / "model" for s in run.sections)]:
        if (cand / "config.json").is_file() and (cand / "model.safetensors").is_file():
            run.model_dir = cand
            break
    if run.model_dir is not None:
        run.model_config = _read_json(run.model_dir / "config.json")
        if (run.model_dir / "metadata.json").is_file():
            run.model_meta = _read_json(run.model_dir / "metadata.json")
        if (run.model_dir / "loss_curve.csv").is_file():
            run.loss_curve = pd.read_csv(run.model_dir / "loss_curve.csv")
    if not run.sections and run.model_dir is None:
        raise CalbioInputError(
            "neither metrics.json (an evaluate run) nor a model (config.json) found", root
        )
    sweep_files = sorted(root.glob("*sweep*.csv")) + sorted(root.glob("sweeps/*.csv"))
    for f in sweep_files:
        df = pd.read_csv(f)
        if len(df.columns) >= 2 and len(df):
            run.sweeps[f.stem] = df
    if (root / "doctor.json").is_file():
        run.doctor = _read_json(root / "doctor.json")
    for f in sorted(root.glob("*.json")):
        if f.name in ("doctor.json", "metrics.json", "environment.json"):
            continue
        rec = _read_json(f)
        if isinstance(rec, dict) and isinstance(rec.get("result"), dict) and "kind" in rec:
            run.steps[f.stem] = rec
            if rec["kind"] == "doctor" and run.doctor is None:
                run.doctor = rec["result"]
            if rec["kind"] == "sweep":
                df = figures.sweep_frame(rec["result"])
                if df is not None and len(df):
                    run.sweeps[f"{f.stem} ({rec['result'].get('sweep')})"] = df
    cdir = Path(clusters_dir) if clusters_dir else root / "clusters"
    if (cdir / "clusters.csv").is_file():
        run.clusters_dir = cdir
    elif clusters_dir:
        raise CalbioInputError("no clusters.csv here (write it with `calbio clusters`)", cdir)
    return run


def run_name(path: Path) -> str:
    """A readable name for a run directory."""
    return path.resolve().name


# ------------------------------------------------------------------ numbers -> words
def _get(methods: dict[str, Any], m: str, key: str) -> float | None:
    v = methods.get(m, {}).get(key)
    return float(v) if isinstance(v, int | float) and np.isfinite(v) else None


def verdict(metrics: dict[str, Any]) -> str:
    """A plain-language verdict generated from the headline numbers of one evaluation."""
    methods = metrics.get("methods", {})
    proto = metrics.get("protocol", "?")
    where = {
        "edge": "held-out pairs",
        "node": "pairs of held-out entities",
        "transductive": "the training pairs themselves (transductive: fit, not generalisation)",
    }.get(proto, f"the {proto} test pairs")
    cal = _get(methods, "cal", "auc")
    if cal is None:
        return "No CAL AUC was recorded for this run."
    parts = []
    cos = _get(methods, "cosine", "auc")
    if cos is not None:
        d = cal - cos
        verb = "beats" if d > 0 else "trails"
        parts.append(
            f"On {where} CAL reaches AUC {cal:.2f} and {verb} cosine similarity by {abs(d):.2f} AUC"
        )
    else:
        parts.append(f"On {where} CAL reaches AUC {cal:.2f}")
    others = {m: _get(methods, m, "auc") for m in methods if m not in ("cal", "cosine")}
    others = {m: v for m, v in others.items() if v is not None}
    if others:
        best, bv = max(others.items(), key=lambda t: t[1])
        if bv > cal:
            conj = "but" if cos is None or cal > cos else "and"
            parts.append(
                f"{conj} the shortcut {NAMES.get(best, best)} does better ({bv:.2f}), so the "
                "known graph alone predicts these pairs at least as well"
            )
        else:
            parts.append(
                f"and stays ahead of every shortcut (best: {NAMES.get(best, best)} {bv:.2f})"
            )
    sent = [", ".join(parts) + "."]
    cb = {m: _get(methods, m, "cb_auc") for m in methods}
    cb = {m: v for m, v in cb.items() if v is not None}
    if "cal" in cb and len(cb) > 1:
        best, bv = max(((m, v) for m, v in cb.items() if m != "cal"), key=lambda t: t[1])
        thr = metrics.get("cb_threshold", 0.2)
        if bv > cb["cal"]:
            hint = " - see the degree-matched AUC" if best == "degree" else ""
            sent.append(
                f"In the cross-boundary regime (|cosine| < {thr}) {NAMES.get(best, best)} beats "
                f"CAL ({bv:.2f} vs {cb['cal']:.2f}){hint}."
            )
        else:
            sent.append(
                f"In the cross-boundary regime (|cosine| < {thr}), where similarity search is "
                f"blind, CAL scores {cb['cal']:.2f} vs {bv:.2f} for the best alternative "
                f"({NAMES.get(best, best)})."
            )
    dm = _get(methods, "cal", "auc_degree_matched")
    dd = _get(methods, "degree", "auc_degree_matched")
    if dm is not None:
        s = f"Against degree-matched negatives CAL scores {dm:.2f}"
        if dm < cal - 0.05:
            s += f" (down from {cal:.2f}: part of its AUC comes from recognising hubs)"
        if dd is not None:
            s += f"; the degree baseline scores {dd:.2f} there"
        sent.append(s + ".")
    for stem, v in metrics.get("validation", {}).items():
        vm = v.get("methods", {})
        vc, vcos = _get(vm, "cal", "auc"), _get(vm, "cosine", "auc")
        if vc is None:
            continue
        s = f"On the independent {stem} pairs CAL scores AUC {vc:.2f}"
        if vcos is not None:
            s += f" (cosine {vcos:.2f})"
        rest = {m: _get(vm, m, "auc") for m in vm if m not in ("cal", "cosine")}
        rest = {m: x for m, x in rest.items() if x is not None and x > vc}
        if rest:
            best, bv = max(rest.items(), key=lambda t: t[1])
            s += f", below the shortcut {NAMES.get(best, best)} ({bv:.2f})"
        sent.append(s + ".")
    if metrics.get("data", {}).get("synthetic"):
        sent.append("These numbers come from calbio's SYNTHETIC demo data, not biology.")
    return " ".join(sent)


# ------------------------------------------------------------------ tables
def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, list | tuple) and len(v) == 2:
        return f"{_fmt(v[0], 2)}-{_fmt(v[1], 2)}"
    if isinstance(v, float | np.floating):
        return "nan" if not np.isfinite(v) else f"{v:.{digits}f}"
    return html.escape(str(v))


def headline_table(metrics: dict[str, Any]) -> str:
    """HTML table of the headline metrics per method, best value per column in bold."""
    cols = [
        ("auc", "AUC"),
        ("auc_ci", "95% CI"),
        ("ap", "AP"),
        ("cb_auc", "CB AUC"),
        ("auc_degree_matched", "AUC vs degree-matched"),
        ("mrr", "MRR"),
        ("hits@10", "Hits@10"),
    ]
    methods = metrics.get("methods", {})
    cols = [(k, h) for k, h in cols if any(k in m for m in methods.values())]
    order = [m for m in METHOD_ORDER if m in methods] + [
        m for m in methods if m not in METHOD_ORDER
    ]
    best = {}
    for k, _ in cols:
        vals = [_get(methods, m, k) for m in order]
        vals = [v for v in vals if v is not None]
        best[k] = max(vals) if vals else None
    head = "".join(f"<th>{h}</th>" for _, h in cols)
    body = []
    for m in order:
        cells = []
        for k, _ in cols:
            v = methods[m].get(k)
            s = _fmt(v)
            if best.get(k) is not None and _get(methods, m, k) == best[k]:
                s = f"<b>{s}</b>"
            cells.append(f"<td>{s}</td>")
        cls = ' class="cal"' if m == "cal" else ""
        body.append(f"<tr{cls}><td>{html.escape(NAMES.get(m, m))}</td>{''.join(cells)}</tr>")
    return f"<table><tr><th>method</th>{head}</tr>{''.join(body)}</table>"


P_COLUMNS = {"p", "p_adj", "adj. p", "top_term_p_adj"}


def _fmt_p(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return _fmt(v)
    return "nan" if not np.isfinite(f) else f"{f:.1e}"


def frame_table(df: pd.DataFrame, digits: int = 3) -> str:
    """A DataFrame as an escaped HTML table."""
    if df is None or not len(df):
        return "<p class='muted'>none</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    is_p = [str(c) in P_COLUMNS for c in df.columns]
    rows = []
    for r in df.itertuples(index=False):
        cells = [
            f"<td>{_fmt_p(v) if p else _fmt(v, digits)}</td>" for v, p in zip(r, is_p, strict=True)
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def top_lift_pairs(scores: pd.DataFrame, top: int = 15) -> pd.DataFrame:
    """Held-out positives that CAL ranks much higher than cosine (percentile among test pairs)."""
    df = figures.uniform_sets(scores)
    pct_cal = df["cal"].rank(pct=True)
    pct_cos = df["cosine"].rank(pct=True)
    out = df.assign(cal_percentile=pct_cal, cosine_percentile=pct_cos)
    out = out[out["label"] == 1].assign(lift=lambda d: d.cal_percentile - d.cosine_percentile)
    out = out.sort_values("lift", ascending=False).head(top)
    return out[
        ["a", "b", "cosine", "cal", "degree_a", "degree_b", "cosine_percentile", "cal_percentile"]
    ].reset_index(drop=True)


def auc_rows(section: RunSection, n_boot: int = 300) -> pd.DataFrame:
    """AUC (CI from metrics.json) and CB AUC (CI bootstrapped here from the score table)."""
    methods = section.metrics.get("methods", {})
    thr = section.metrics.get("cb_threshold", 0.2)
    rows = []
    cb_mask = None
    if section.scores is not None:
        uni = figures.uniform_sets(section.scores)
        cb_mask = np.abs(uni["cosine"].to_numpy()) < thr
    for m in [k for k in METHOD_ORDER if k in methods]:
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
    df = pd.DataFrame(rows)
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    return df


def tables_html(tables: list[dict[str, Any]]) -> str:
    """Analysis tables ({title, columns, rows, notes}) as HTML."""
    out = []
    for t in tables:
        out.append(f"<h3>{html.escape(str(t.get('title', '')))}</h3>")
        out.append(frame_table(pd.DataFrame(t.get("rows", []), columns=t.get("columns"))))
        for note in t.get("notes", []):
            tag = "pre" if "\n" in str(note) else "p"
            out.append(f"<{tag} class='muted'>{html.escape(str(note))}</{tag}>")
    return "\n".join(out)


def doctor_table(doctor: Any) -> str:
    """Doctor verdicts in whichever shape they were saved (tables, list of checks, mapping)."""
    if isinstance(doctor, dict) and isinstance(doctor.get("result"), dict):
        doctor = doctor["result"]  # an experiment-runner step record
    if isinstance(doctor, dict) and isinstance(doctor.get("tables"), list):
        return tables_html(doctor["tables"])
    if isinstance(doctor, dict) and isinstance(doctor.get("checks"), list):
        doctor = doctor["checks"]
    if isinstance(doctor, list) and all(isinstance(d, dict) for d in doctor):
        return frame_table(pd.DataFrame(doctor))
    if isinstance(doctor, dict):
        rows = [
            {"check": k, "verdict": v if not isinstance(v, dict | list) else json.dumps(v)}
            for k, v in doctor.items()
        ]
        return frame_table(pd.DataFrame(rows))
    return f"<pre>{html.escape(json.dumps(doctor, indent=1))}</pre>"


# ------------------------------------------------------------------ page
CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1060px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f4f6f8}
tr.cal td{background:#eef5fb}.verdict{background:#f6f9ee;border-left:4px solid #6a9f3a;
padding:.6em 1em;font-size:1.05em}.warn{color:#a00;font-weight:600}.muted{color:#777}
td{max-width:24em;overflow-wrap:break-word}figure{margin:1em 0}
figcaption{font-size:.85em;color:#555}img{max-width:100%}
"""


def _figure(b64: str, caption: str, fig_id: str) -> str:
    return (
        f'<figure><img id="{fig_id}" class="figure" alt="{html.escape(caption)}" '
        f'src="data:image/png;base64,{b64}"><figcaption>{html.escape(caption)}</figcaption>'
        "</figure>"
    )


CLUSTER_HEADERS = {
    "association_specific": "assoc.-specific",
    "top_term": "best term",
    "top_term_p_adj": "adj. p",
    "top_term_coverage": "coverage",
    "mean_embedding_cosine": "emb. cos",
    "mean_association_cosine": "assoc. cos",
    "hub_fraction": "hubs",
}


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


def _cluster_html(cdir: Path, figs: list[str]) -> str:
    parts = ["<h2>Association-space clusters</h2>"]
    summary = cdir / "table9.csv"
    if summary.is_file():
        t9 = pd.read_csv(summary)
        params = _read_json(cdir / "params.json") if (cdir / "params.json").is_file() else {}
        bg = params.get("background")
        if bg:
            parts.append(f"<p>Background: {html.escape(str(bg))}.</p>")
        figs.append("clusters")
        parts.append(
            _figure(
                figures.cluster_classes(t9),
                "Share of clusters with a coherent / partial / no enrichment signal; random rows "
                "are matched-size clusters from the same background (mean ± SD).",
                "fig-clusters",
            )
        )
        show = t9[["clusters", "n", "entities"]].copy()
        for k in ("coherent", "partial", "no_signal"):
            sd = t9[f"sd_{k}"] if f"sd_{k}" in t9 else t9[f"pct_{k}"] * np.nan
            show[f"% {k.replace('_', ' ')}"] = [
                f"{m:.1f}" + ("" if not np.isfinite(s) else f" ± {s:.1f}")
                for m, s in zip(t9[f"pct_{k}"], sd, strict=True)
            ]
        parts.append(frame_table(show))
    ct = pd.read_csv(cdir / "clusters.csv")
    cols = [
        c
        for c in (
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
        if c in ct
    ]
    ct = ct[cols]
    if "top_term_p_adj" in ct:
        ct = ct.sort_values("top_term_p_adj")
    parts.append("<p>Top 25 association clusters by their best term (members truncated):</p>")
    ct = ct.head(25).copy()
    if "members" in ct:
        ct["members"] = [shorten_members(v) for v in ct["members"].astype(str)]
    ct = ct.rename(columns=CLUSTER_HEADERS)
    parts.append(frame_table(ct, 2))
    if (cdir / "validation.json").is_file():
        v = _read_json(cdir / "validation.json")
        rows = []
        for src, spaces in v.items():
            for space, d in spaces.items():
                rows.append(
                    {
                        "pairs": src,
                        "space": space,
                        "edges inside": d.get("within_cluster_edges"),
                        "density": d.get("density"),
                        "random density": d.get("random_density_mean"),
                        "fold": d.get("fold_over_random"),
                    }
                )
        parts.append("<p>Independent validation pairs inside clusters vs random matched:</p>")
        parts.append(frame_table(pd.DataFrame(rows), 4))
    return "\n".join(parts)


def build_report(run: RunData, title: str | None = None) -> tuple[str, list[str]]:
    """Render the page; returns the HTML and the list of figure ids it embeds."""
    figs: list[str] = []
    title = title or f"calbio report: {run_name(run.root)}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='muted'>Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} from "
        f"<code>{html.escape(str(run.root))}</code>. Self-contained: no network needed.</p>",
    ]
    for i, sec in enumerate(run.sections):
        m = sec.metrics
        proto = m.get("protocol", "?")
        out.append(f"<h2>{html.escape(sec.name)}: {html.escape(proto)} protocol</h2>")
        if m.get("data", {}).get("synthetic"):
            out.append("<p class='warn'>SYNTHETIC DATA (calbio's demo generator).</p>")
        if m.get("note"):
            out.append(f"<p class='warn'>{html.escape(m['note'])}</p>")
        out.append(f"<p class='verdict'>{html.escape(verdict(m))}</p>")
        out.append(
            f"<p>{m.get('n_entities', 0):,} entities; {m.get('n_train_pairs', 0):,} training / "
            f"{m.get('n_test_pairs', 0):,} test pairs; {m.get('n_negatives', 0):,} negatives "
            f"(+{m.get('n_negatives_degree_matched', 0):,} degree-matched); cross-boundary = "
            f"|cosine| &lt; {m.get('cb_threshold', 0.2)}; seed {m.get('seed')}.</p>"
        )
        out.append(headline_table(m))
        for w in m.get("warnings", []):
            out.append(f"<p class='warn'>{html.escape(w)}</p>")
        for stem, v in m.get("validation", {}).items():
            out.append(
                f"<h3>Validation: {html.escape(stem)} ({v.get('n_pairs', 0):,} non-training "
                "pairs)</h3>"
            )
            out.append(headline_table(v))
        figs.append(f"auc-{i}")
        out.append(
            _figure(
                figures.auc_bars(auc_rows(sec)),
                "AUC and cross-boundary AUC per method; whiskers are 95% bootstrap CIs.",
                f"fig-auc-{i}",
            )
        )
        if sec.scores is not None and "cal" in sec.scores:
            figs.append(f"roc-{i}")
            out.append(
                _figure(
                    figures.roc(sec),
                    "ROC of every method on held-out positives vs uniform negatives.",
                    f"fig-roc-{i}",
                )
            )
            figs.append(f"cb-{i}")
            out.append(
                _figure(
                    figures.cross_boundary(sec),
                    "Embedding cosine of held-out positives and negatives; pairs in the shaded "
                    "band are the cross-boundary pairs that similarity search cannot rank.",
                    f"fig-cb-{i}",
                )
            )
            figs.append(f"bins-{i}")
            out.append(
                _figure(
                    figures.score_by_cosine_bin(sec.scores),
                    "CAL scores of held-out positives vs negatives within embedding-cosine bins "
                    "(the paper's Fig. 4A): separation in low-cosine bins is what similarity "
                    "search cannot give.",
                    f"fig-bins-{i}",
                )
            )
            if {"degree_a", "degree_b"} <= set(sec.scores.columns):
                b64, qt = figures.degree_quintiles(sec)
                figs.append(f"quintiles-{i}")
                out.append(
                    _figure(
                        b64,
                        "AUC within bins of the training degree of each pair (by_degree "
                        "from metrics.json when present, else quintiles of the degree product).",
                        f"fig-quintiles-{i}",
                    )
                )
                out.append(frame_table(qt))
            out.append("<h3>Held-out pairs CAL lifts most above cosine</h3>")
            out.append(frame_table(top_lift_pairs(sec.scores)))
        else:
            out.append("<p class='muted'>No test_scores.csv.gz: score figures skipped.</p>")
    out.append("<h2>Model and training</h2>")
    if run.model_config:
        tr = run.model_config.get("train", {})
        keys = ("hidden", "depth", "tau", "batch_size", "epochs", "lr", "negatives", "score")
        cfg = pd.DataFrame([{k: tr.get(k) for k in keys}])
        out.append(
            f"<p>Preset <b>{html.escape(str(run.model_config.get('preset')))}</b>, "
            f"{run.model_config.get('n_parameters', 0):,} parameters.</p>"
        )
        out.append(frame_table(cfg, 4))
    if run.loss_curve is not None and len(run.loss_curve):
        figs.append("loss")
        out.append(_figure(figures.loss_curve(run.loss_curve), "Training loss.", "fig-loss"))
    else:
        out.append("<p class='muted'>No loss curve found.</p>")
    if run.sweeps:
        out.append("<h2>Sweeps</h2>")
        for j, (name, df) in enumerate(run.sweeps.items()):
            figs.append(f"sweep-{j}")
            out.append(_figure(figures.sweep_plot(df, name), f"Sweep: {name}", f"fig-sweep-{j}"))
    else:
        out.append("<p class='muted'>No threshold or λ sweeps in this run directory.</p>")
    if run.clusters_dir is not None:
        out.append(_cluster_html(run.clusters_dir, figs))
    else:
        out.append(
            "<p class='muted'>No clusters (run <code>calbio clusters</code> or pass "
            "<code>--genesets</code> to <code>calbio report</code>).</p>"
        )
    if run.doctor is not None:
        out.append("<h2>Doctor verdicts</h2>")
        out.append(doctor_table(run.doctor))
    other = {k: v for k, v in run.steps.items() if v["kind"] != "doctor"}
    if other:
        out.append("<h2>Experiment steps</h2>")
        for name, rec in other.items():
            out.append(
                f"<p><b>{html.escape(name)}</b> ({html.escape(rec['kind'])}, "
                f"{float(rec.get('seconds', 0)):.0f} s)</p>"
            )
            out.append(tables_html(rec["result"].get("tables", [])))
    out.append("</body></html>")
    return "\n".join(out), figs


def write_report(
    run_dir: str | Path,
    out: str | Path,
    *,
    force: bool = False,
    clusters_dir: str | Path | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """Build the report for ``run_dir`` and write it atomically to ``out``."""
    from calbio._io import check_output_file, write_text_atomic

    check_output_file(out, force)
    run = load_run(run_dir, clusters_dir)
    page, figs = build_report(run, title)
    write_text_atomic(out, page)
    return {"out": str(out), "figures": figs, "sections": [s.name for s in run.sections]}
