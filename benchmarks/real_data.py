"""Real-data benchmark for the core (paper preset): writes sections of benchmarks/RESULTS.md.

DepMap CRISPR gene-effect PCA-50 x STRING >= 950 (../shared/data), Reactome as independent
validation. All three protocols with the paper preset (100 epochs), then the negative-mode
comparison on the edge protocol (same split and seed).

    python benchmarks/real_data.py                 # ~45 min on 2 cores
    python benchmarks/real_data.py --compare-epochs 100   # comparison at full length (slower)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import calbio
from calbio.evaluation.result import EvaluationResult

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import SHARED, git_revision, update_section  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
RAW = HERE / "results"
FLOORS = {"transductive": 0.95, "edge": 0.87, "node": 0.83}
EMB = "embeddings/depmap_crispr_gene_effect_pca50.csv"
PAIRS = "associations/string_ge950_pairs.csv"
VALID = "associations/reactome_pairs.csv"
NEGATIVE_MODES = {
    "in-batch (paper)": {},
    "in-batch + mask false negatives": {"mask_false_negatives": True},
    "in-batch + both orientations": {"both_orientations": True},
    "random": {"negatives": "random"},
    "degree": {"negatives": "degree"},
}


def fmt(v: float | None) -> str:
    """Three decimals, or '-'."""
    return "-" if v is None or v != v else f"{v:.3f}"


def protocol_table(results: dict[str, EvaluationResult]) -> str:
    """Markdown: one row per protocol x method."""
    lines = [
        "| protocol | method | AUC (95% CI) | AP | CB AUC | AUC vs degree-matched | MRR "
        "| Hits@10 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for proto, r in results.items():
        label = "transductive (trains on test)" if proto == "transductive" else proto
        for name, m in r.methods.items():
            ci = m["auc_ci"]
            lines.append(
                f"| {label} | {name} | {fmt(m['auc'])} ({fmt(ci[0])}-{fmt(ci[1])}) | "
                f"{fmt(m['ap'])} | {fmt(m['cb_auc'])} | {fmt(m['auc_degree_matched'])} | "
                f"{fmt(m.get('mrr'))} | {fmt(m.get('hits@10'))} |"
            )
    return "\n".join(lines)


def validation_table(results: dict[str, EvaluationResult]) -> str:
    """Markdown: Reactome pairs absent from the STRING file, per protocol (cold/warm in node)."""
    lines = [
        "| protocol | method | Reactome AUC | CB AUC | AUC vs degree-matched | n pairs |",
        "|---|---|---|---|---|---|",
    ]
    for proto, r in results.items():
        for stem, v in r.validation.items():
            for name, m in v["methods"].items():
                lines.append(
                    f"| {proto} | {name} | {fmt(m['auc'])} | {fmt(m['cb_auc'])} | "
                    f"{fmt(m['auc_degree_matched'])} | {v['n_pairs']:,} ({stem}) |"
                )
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark and rewrite the generated sections."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=SHARED)
    ap.add_argument("--epochs", type=int, default=100, help="protocol runs (paper: 100)")
    ap.add_argument("--compare-epochs", type=int, default=30, help="negative-mode comparison")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a busy box)"
    )
    args = ap.parse_args()
    if not (args.data / EMB).is_file():
        sys.exit(f"shared data not found under {args.data}")
    emb = calbio.load_embeddings(args.data / EMB)
    pairs = calbio.load_pairs(args.data / PAIRS)
    reactome = calbio.load_pairs(args.data / VALID)
    RAW.mkdir(exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    results: dict[str, EvaluationResult] = {}
    for proto in ("transductive", "edge", "node"):
        t0 = time.perf_counter()
        r = calbio.evaluate(
            emb,
            pairs,
            protocol=proto,
            preset="paper",
            epochs=args.epochs,
            seed=args.seed,
            validate_with=[reactome],
        )
        results[proto] = r
        (RAW / f"core_{proto}.json").write_text(json.dumps(r.to_dict(), indent=1, default=str))
        print(
            f"{proto}: CAL AUC {r.methods['cal']['auc']:.3f} in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )

    compare: dict[str, EvaluationResult] = {}
    for label, opts in NEGATIVE_MODES.items():
        t0 = time.perf_counter()
        compare[label] = calbio.evaluate(
            emb,
            pairs,
            protocol="edge",
            preset="paper",
            epochs=args.compare_epochs,
            seed=args.seed,
            rank=False,
            n_boot=200,
            **opts,
        )
        slug = label.split(" (")[0].replace(" + ", "_").replace(" ", "_")
        (RAW / f"negatives_{slug}.json").write_text(
            json.dumps(compare[label].to_dict(), indent=1, default=str)
        )
        print(
            f"{label}: {compare[label].methods['cal']['auc']:.3f} "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )

    floors = []
    for proto, floor in FLOORS.items():
        auc = results[proto].methods["cal"]["auc"]
        floors.append(f"| {proto} | {fmt(auc)} | {floor} | {'PASS' if auc >= floor else 'FAIL'} |")
    warnings = "\n".join(f"- {proto}: {w}" for proto, r in results.items() for w in r.warnings)
    e = results["edge"]
    head = (
        f"Generated by `python benchmarks/real_data.py` on {started} (commit {git_revision()}). "
        f"Embedding: `{EMB}` ({len(emb):,} genes x {emb.dim}); pairs: `{PAIRS}` "
        f"({e.data['mapping'].get('n_mapped', 0):,} pairs map onto {e.n_entities:,} genes). "
        f"Paper preset, {args.epochs} epochs, seed {args.seed}; negatives = 5x positives "
        f"(uniform over the {e.n_entities:,} genes in any pair) plus as many degree-matched "
        f"negatives; CB = |cosine| < 0.2. Raw JSON in `benchmarks/results/`."
    )
    body = "\n\n".join(
        [
            "## Core protocols (DepMap PCA-50 x STRING >= 950)",
            head,
            protocol_table(results),
            "### Floors (CAL AUC)\n\n| protocol | CAL AUC | floor | |\n|---|---|---|---|\n"
            + "\n".join(floors),
            "### Shortcut warnings printed by `calbio evaluate`\n\n" + (warnings or "none"),
            "### Independent validation: Reactome pairs absent from the STRING file\n\n"
            + validation_table(results),
        ]
    )
    update_section(RESULTS, "core_protocols", body, "calbio benchmark results")

    rows = [
        "| negatives | CAL AUC | CB AUC | AUC vs degree-matched | run time (s) |",
        "|---|---|---|---|---|",
    ]
    for label, r in compare.items():
        m = r.methods["cal"]
        rows.append(
            f"| {label} | {fmt(m['auc'])} | {fmt(m['cb_auc'])} | "
            f"{fmt(m['auc_degree_matched'])} | {r.timings['total_seconds']:.0f} |"
        )
    base = compare["in-batch (paper)"].methods
    rows.append(
        f"| *cosine baseline* | {fmt(base['cosine']['auc'])} | "
        f"{fmt(base['cosine']['cb_auc'])} | {fmt(base['cosine']['auc_degree_matched'])} | |"
    )
    rows.append(
        f"| *degree baseline* | {fmt(base['degree']['auc'])} | "
        f"{fmt(base['degree']['cb_auc'])} | {fmt(base['degree']['auc_degree_matched'])} | |"
    )
    body2 = "\n\n".join(
        [
            "## Training-negative modes (edge protocol, same split and seed)",
            f"Paper preset with {args.compare_epochs} epochs for every mode (stated; the 100-epoch "
            "in-batch run is in the table above). Bootstrap 200.",
            "\n".join(rows),
        ]
    )
    update_section(RESULTS, "negative_modes", body2)


if __name__ == "__main__":
    main()
