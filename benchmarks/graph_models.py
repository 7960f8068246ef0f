"""Graph-aware models against CAL and the shortcuts: writes benchmarks/GRAPH_MODELS.md.

DepMap CRISPR gene-effect PCA-50 x STRING >= 950 (../shared/data), seed 42, fast preset, one
torch thread. Edge and node protocols with ``model=["cal", "sage", "hybrid"]``; the shortcuts
(cosine, degree, Adamic-Adar) are always scored beside them; Reactome and SIGNOR pairs that are
absent from the STRING file are the independent validation sets.

    python benchmarks/graph_models.py        # ~10 min on 2 busy cores
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

import calbio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import SHARED, git_revision, update_section  # noqa: E402

HERE = Path(__file__).resolve().parent
REPORT = HERE / "GRAPH_MODELS.md"
README = HERE.parent / "README.md"
RAW = HERE / "results"
EMB = "embeddings/depmap_crispr_gene_effect_pca50.csv"
PAIRS = "associations/string_ge950_pairs.csv"
VALID = ("associations/reactome_pairs.csv", "associations/signor_pairs.csv")
MODELS = ["cal", "sage", "hybrid"]


def fmt(v: float | str | None) -> str:
    """Three decimals, or '-' (a string such as "undefined" as it is)."""
    if isinstance(v, str):
        return v
    return "-" if v is None or v != v else f"{v:.3f}"


def method_rows(methods: dict, fit: dict[str, float]) -> list[str]:
    """Markdown rows: one per method of one scored set."""
    rows = []
    for name, r in methods.items():
        ci = r.get("auc_ci") or [None, None]
        secs = fit.get(name)
        rows.append(
            f"| {name} | {fmt(r['auc'])} [{fmt(ci[0])}, {fmt(ci[1])}] "
            f"| {fmt(r.get('auc_degree_matched'))} | {fmt(r.get('mrr'))} "
            f"| {fmt(r.get('hits@10'))} | {'-' if secs is None else f'{secs:.1f}'} |"
        )
    return rows


def tercile_rows(methods: dict) -> list[str]:
    """Markdown rows: AUC / MRR per training-degree bin (edges fixed before any test pair)."""
    rows = []
    for name, r in methods.items():
        bd = r.get("by_degree") or {}
        cells = [f"{fmt(bd.get(t, {}).get('auc'))} / {fmt(bd.get(t, {}).get('mrr'))}" for t in bd]
        if cells:
            rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def section(protocol: str, d: dict) -> str:
    """The markdown block of one protocol (its metrics.json dict): test, terciles, validation."""
    fit = {k[4:]: v for k, v in d["timings"].items() if k.startswith("fit:")}
    head = "| method | AUC [95% CI] | AUC vs degree-matched | MRR | Hits@10 | fit s |"
    sep = "|---|---|---|---|---|---|"
    out = [
        f"### {protocol} protocol",
        "",
        f"{d['n_train_pairs']} training pairs, {d['n_test_pairs']} test pairs, "
        f"{d['n_negatives']} uniform and {d['n_negatives_degree_matched']} degree-matched "
        "negatives.",
        "",
        head,
        sep,
        *method_rows(d["methods"], fit),
        "",
    ]
    terc = tercile_rows(d["methods"])
    if terc:
        out += [
            "AUC / MRR by training-degree bin (low, mid, high: terciles of the training degrees "
            "of all entities of the training graph; AUC by the smaller degree of a pair, MRR by "
            "the query entity's degree; in cold sets by the known end):",
            "",
            "| method | low | mid | high |",
            "|---|---|---|---|",
            *terc,
            "",
        ]
    for vname, v in d["validation"].items():
        out += [
            f"Independent validation `{vname}`: {v['n_pairs']} pairs absent from the STRING "
            f"file ({v['n_removed_in_main_pairs']} removed as STRING pairs).",
            "",
            head,
            sep,
            *method_rows(v["methods"], {}),
            "",
        ]
    return "\n".join(out)


def _check(ok: bool) -> str:
    return "met" if ok else "**missed**"


def targets(results: dict[str, dict]) -> str:
    """The issue's targets, each checked against the numbers above (met / missed)."""
    lines = ["### Targets (hybrid)", ""]
    edge, node = results.get("edge"), results.get("node")
    if edge:
        m = edge["methods"]
        h, aa, cal = m["hybrid"], m["adamic_adar"], m["cal"]
        fit = edge["timings"]
        ratio = fit["fit:hybrid"] / fit["fit:cal"]
        lines.append(
            f"- fit time {fit['fit:hybrid']:.1f} s = {ratio:.1f}x CAL-fast's "
            f"{fit['fit:cal']:.1f} s (target <= 5x): {_check(ratio <= 5)}"
        )
        for key, label in (
            ("auc", "AUC"),
            ("auc_degree_matched", "AUC vs degree-matched"),
            ("mrr", "MRR"),
        ):
            ok = h[key] > aa[key] and h[key] > cal[key]
            lines.append(
                f"- edge {label}: hybrid {fmt(h[key])} vs Adamic-Adar {fmt(aa[key])}, "
                f"CAL {fmt(cal[key])}: {_check(ok)}"
            )
        lo = h["auc_ci"][0]
        lines.append(
            f"- edge AUC CI lower end {fmt(lo)} above Adamic-Adar's AUC {fmt(aa['auc'])}: "
            f"{_check(lo > aa['auc'])}"
        )
    if node:
        h, cal = node["methods"]["hybrid"], node["methods"]["cal"]
        lines.append(
            f"- node AUC: hybrid {fmt(h['auc'])} vs CAL {fmt(cal['auc'])}: "
            f"{_check(h['auc'] >= cal['auc'])}"
        )
    for protocol, d in results.items():
        for vname, v in d["validation"].items():
            for key in ("auc", "mrr"):
                vals = {k: r.get(key) for k, r in v["methods"].items() if r.get(key) is not None}
                others = {k: x for k, x in vals.items() if k != "hybrid"}
                best = max(others, key=others.get)
                lines.append(
                    f"- {protocol} `{vname}` {key.upper()}: hybrid {fmt(vals['hybrid'])}, best "
                    f"other {best} {fmt(vals[best])}: {_check(vals['hybrid'] >= vals[best])}"
                )
    return "\n".join(lines) + "\n"


def render(results: dict[str, dict], seed: int = 42) -> None:
    """Write the generated section of GRAPH_MODELS.md from the metrics dicts."""
    cmd = "python benchmarks/graph_models.py" + ("" if seed == 42 else f" --seed {seed}")
    body = (
        f"Generated by `{cmd}` at commit {git_revision()} "
        f"(DepMap PCA-50 x STRING >= 950, seed {seed}, fast preset, 1 torch thread).\n\n"
        + targets(results)
        + "\n"
        + "\n".join(section(p, d) for p, d in results.items())
    )
    name = "graph_models" if seed == 42 else f"graph_models_seed{seed}"
    update_section(REPORT, name, body, title="Graph-aware models vs CAL and shortcuts")
    if seed == 42 and {"edge", "node"} <= set(results):
        update_section(README, "real_data_table", readme_table(results))


def readme_table(results: dict[str, dict]) -> str:
    """README's real-data table: one row per method, held-out edge and cold-start node columns."""
    edge, node = results["edge"], results["node"]
    rv = edge["validation"].get("reactome_pairs", {}).get("methods", {})
    moved = transfer_means(RAW / "transfer_42.json")
    rows = [
        "| method | edge AUC [95% CI] | edge AUC vs degree-matched | edge MRR | node (cold start) "
        "AUC | Reactome AUC (edge) | transfer AUC / MRR |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in edge["methods"].items():
        ci = m.get("auc_ci") or [None, None]
        nm = node["methods"].get(name, {})
        tr = moved.get(name)
        rows.append(
            f"| {name} | {fmt(m['auc'])} [{fmt(ci[0])}, {fmt(ci[1])}] "
            f"| {fmt(m.get('auc_degree_matched'))} | {fmt(m.get('mrr'))} "
            f"| {fmt(nm.get('auc'))} | {fmt(rv.get(name, {}).get('auc'))} "
            f"| {'-' if tr is None else f'{fmt(tr[0])} / {fmt(tr[1])}'} |"
        )
    return "\n".join(rows) + (
        f"\n\n(generated by `python benchmarks/graph_models.py` at commit {git_revision()}; fast "
        "preset, seed 42; '-' = not defined there: Adamic-Adar cannot score unseen genes; full "
        "tables, per-degree bins and SIGNOR in benchmarks/GRAPH_MODELS.md. *Transfer*: mean over "
        "the 12 cells of `python benchmarks/transfer.py` (seed 42): trained on all pairs of one of "
        "STRING, Reactome, SIGNOR, GO-CC complex-like pairs, scored on another's pairs absent "
        "from it; per-cell matrices and the hybrid's targets in GRAPH_MODELS.md)"
    )


def transfer_means(path: Path) -> dict[str, tuple[float, float]]:
    """Per method, the mean AUC and MRR over the off-diagonal cells of a saved transfer run."""
    if not path.is_file():
        return {}
    matrix = json.loads(path.read_text())["matrix"]
    out = {}
    for method, metrics in matrix.items():
        means = []
        for metric in ("auc", "mrr"):
            cells = [
                cell["value"]
                for row in metrics[metric].values()
                for cell in row.values()
                if not cell.get("heldout") and cell.get("value") is not None
            ]
            means.append(sum(cells) / len(cells) if cells else float("nan"))
        out[method] = (means[0], means[1])
    return out


# Hybrid variants compared on the inner split (the design choices; defaults first).
DESIGN = {
    "hybrid (defaults)": {},
    "no shrinkage (prior_strength=0)": {"prior_strength": 0.0},
    "no GraphSAGE feature (gnn=False)": {"gnn": False},
    "warm features on the carved graph (dense_warm_graph=False)": {"dense_warm_graph": False},
    "carved CAL kept (refit_cal=False)": {"refit_cal": False},
    "half degree-proportional negatives (degree_negatives=0.5)": {"degree_negatives": 0.5},
}


def design(emb: calbio.Embeddings, pairs: calbio.Pairs, n_boot: int) -> None:
    """Design choices, judged only on the TRAINING pairs of the benchmark's edge split.

    Those pairs are split again (edge protocol, 15% inner test, seed 7); the benchmark's test
    pairs are never scored, nor used as filters, so every graph method's inner MRR is deflated by
    true pairs ranked as candidates (compare methods within this table only).
    """
    from calbio.data.coerce import as_mapped_pairs
    from calbio.evaluation.splits import make_split
    from calbio.models.hybrid import Hybrid

    mapped = as_mapped_pairs(pairs, emb, 0.1)
    tr = make_split(mapped.idx, len(emb), "edge", 0.3, 42).train_idx
    inner = calbio.Pairs(emb.names[tr[:, 0]], emb.names[tr[:, 1]], source="inner")
    rows, raw = [], {}
    for i, (label, kw) in enumerate(DESIGN.items()):
        models = ["cal", "sage", Hybrid(**kw)] if i == 0 else [Hybrid(**kw)]
        res = calbio.evaluate(
            emb,
            inner,
            model=models,
            preset="fast",
            seed=7,
            test_fraction=0.15,
            n_boot=n_boot,
            min_mapped=0.0,
        )
        d = res.to_dict()
        raw[label] = {"params": kw, "methods": d["methods"], "timings": d["timings"]}
        for name, r in d["methods"].items():
            if name == "hybrid" or i == 0:
                shown = label if name == "hybrid" else name
                rows.append(
                    f"| {shown} | {fmt(r['auc'])} | {fmt(r['auc_degree_matched'])} "
                    f"| {fmt(r['mrr'])} | {fmt(r['hits@10'])} |"
                )
        print(rows[-1])
    (RAW / "graph_models_design.json").write_text(json.dumps(raw, indent=1))
    body = "\n".join(
        [
            f"Generated by `python benchmarks/graph_models.py --design` at commit "
            f"{git_revision()}. {len(tr)} training pairs of the benchmark's edge split, split "
            "again (85/15, seed 7); the benchmark's test pairs are never used.",
            "",
            "| method / variant | AUC | AUC vs degree-matched | MRR | Hits@10 |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    update_section(REPORT, "graph_models_design", body)


def main() -> None:
    """Run both protocols, print a table, write the JSON results and GRAPH_MODELS.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocols", nargs="+", default=["edge", "node"])
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument(
        "--seed",
        type=int,
        default=42,
        help="split seed; 42 is the headline, others confirm on splits no design choice saw",
    )
    ap.add_argument(
        "--from-json", action="store_true", help="only re-render the markdown from results/"
    )
    ap.add_argument(
        "--design", action="store_true", help="compare hybrid variants on training pairs only"
    )
    args = ap.parse_args()
    tag = "" if args.seed == 42 else f"_seed{args.seed}"
    if args.from_json:
        render(
            {
                p: json.loads((RAW / f"graph_models_{p}{tag}.json").read_text())
                for p in args.protocols
            },
            args.seed,
        )
        return
    torch.set_num_threads(1)
    emb = calbio.load_embeddings(SHARED / EMB)
    pairs = calbio.load_pairs(SHARED / PAIRS)
    RAW.mkdir(exist_ok=True)
    if args.design:
        design(emb, pairs, min(args.n_boot, 50))
        return
    valid = [calbio.load_pairs(SHARED / v) for v in VALID]
    RAW.mkdir(exist_ok=True)
    results = {}
    for protocol in args.protocols:
        t0 = time.perf_counter()
        res = calbio.evaluate(
            emb,
            pairs,
            model=MODELS,
            protocol=protocol,
            preset="fast",
            seed=args.seed,
            validate_with=valid,
            n_boot=args.n_boot,
            min_mapped=0.1,
        )
        d = res.to_dict()
        d["benchmark_seconds"] = time.perf_counter() - t0
        (RAW / f"graph_models_{protocol}{tag}.json").write_text(json.dumps(d, indent=1))
        print(section(protocol, d))
        results[protocol] = d
    print(targets(results))
    render(results, args.seed)


if __name__ == "__main__":
    main()
