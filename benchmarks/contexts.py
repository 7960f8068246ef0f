"""Context benchmark: DepMap lineages x STRING>=950 and the synthetic dose-response world.

Writes two sections of benchmarks/RESULTS.md (via ``_results.update_section``):

* ``contexts_depmap``: per-lineage AUC / CB AUC / degree-matched AUC of the context-conditioned
  model, pooled context-agnostic CAL, per-lineage CAL and cosine within the lineage; leave-one-
  lineage-out with each unseen-context representation; calibration (Brier, reliability).
* ``dose_simulator``: AUC of same-mechanism (equivalence) detection by dose for cosine vs g,
  with doses never seen in training marked; leave-one-cell-line-out.

* ``contexts_coessential``: lineage-specific co-essential pairs (labels from one half of each
  lineage's cell lines, embeddings from the other half): the context model against pooled CAL,
  per-context CAL and cosine, held out and leave-one-lineage-out; and the circularity trap
  (cosine AUC when labels and embedding come from the same lines).

Run: ``nice -n 10 python benchmarks/contexts.py`` (about 10-20 min on 2 shared CPU cores);
``--only-coessential --threads 1`` runs the co-essential section alone (fast preset, minutes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import SHARED, git_revision, update_section  # noqa: E402
from calbio.analysis.context import evaluate_contexts, metrics_by  # noqa: E402
from calbio.data.context import (  # noqa: E402
    DEPMAP_LINEAGES,
    ContextEmbeddings,
    ContextPairs,
    depmap_lineage_embeddings,
    load_context_pairs,
)
from calbio.data.derive import derive_pairs  # noqa: E402
from calbio.data.synthetic_dose import make_dose_world  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SEEN_DOSES = ("0.03", "0.3", "3", "30", "100")
METHOD_NAMES = {
    "context": "context-conditioned g (FiLM)",
    "pooled": "pooled CAL (context-agnostic)",
    "per_context": "per-context CAL",
    "cosine": "cosine within context",
    "null": "null label (+ covariates), no labelled data",
    "few_shot": "few-shot context vector",
}


def f3(v: object) -> str:
    """Three decimals, '-' for missing."""
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "-"
    return "-" if not np.isfinite(x) else f"{x:.3f}"


def ci(r: dict) -> str:
    """AUC with its bootstrap CI."""
    lo, hi = (r.get("auc_ci") or [np.nan, np.nan])[:2]
    if not np.isfinite(lo):
        return f3(r["auc"])
    return f"{f3(r['auc'])} [{f3(lo)}, {f3(hi)}]"


def settings_line(res, args) -> str:
    """The training settings actually used."""
    t = res.config["train"]
    return (
        f"Settings: hidden {t['hidden']}, depth {t['depth']}, {t['epochs']} epochs, batch "
        f"{t['batch_size']}, lr {t['lr']}, tau {t['tau']}, "
        f"context_dim {res.config['context_dim']}, "
        f"context dropout {res.config['context_dropout']}, seed {t['seed']}, test fraction "
        f"{res.config['test_fraction']}, {res.config['negative_ratio']} uniform within-context "
        f"negatives per positive, k-shot {res.config['k_shot']}, calibration "
        f"{res.config['calibration']} on a 20% pair split; {args.threads} torch thread(s)."
    )


def per_context_md(res, key: str = "context_name") -> list[str]:
    """Markdown table of per-context metrics."""
    lines = [
        "| context | method | test pos | AUC [95% CI] | CB AUC (n pos) | degree-matched AUC |",
        "|---|---|---:|---|---|---:|",
    ]
    for r in res.per_context.to_dict(orient="records"):
        lines.append(
            f"| {r[key]} | {METHOD_NAMES.get(r['method'], r['method'])} | {r['n_pos']:,} | "
            f"{ci(r)} | {f3(r.get('cb_auc'))} ({r.get('cb_n_pos', 0)}) | "
            f"{f3(r.get('auc_degree_matched'))} |"
        )
    return lines


def loco_md(res) -> list[str]:
    """Markdown table of leave-one-out results."""
    lines = [
        "| held out | unseen-context representation | test pos | AUC | CB AUC "
        "| degree-matched AUC |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in res.loco.to_dict(orient="records"):
        lines.append(
            f"| {r['held_out']} | {METHOD_NAMES.get(r['representation'], r['representation'])} | "
            f"{r['n_pos']:,} | {f3(r['auc'])} | {f3(r.get('cb_auc'))} | "
            f"{f3(r.get('auc_degree_matched'))} |"
        )
    return lines


def calibration_md(res) -> list[str]:
    """Brier score and reliability curve lines."""
    c = res.calibration
    lines = [
        f"Calibration ({c['method']}, test positives + 1 uniform negative each, base rate "
        f"{c['base_rate']:.2f}, n = {c['n']:,}): Brier {c['brier']:.4f} vs "
        f"{c['brier_constant']:.4f} for a constant predictor. Per context: "
        + ", ".join(f"{k} {v:.4f}" for k, v in c["brier_per_context"].items())
        + ".",
        "",
        "| mean predicted P | observed fraction equivalent | n |",
        "|---:|---:|---:|",
    ]
    for r in res.reliability.to_dict(orient="records"):
        lines.append(f"| {r['mean_predicted']:.3f} | {r['fraction_positive']:.3f} | {r['n']:,} |")
    return lines


def verdict(res) -> str:
    """A plain sentence, computed from the numbers, on whether conditioning helps."""
    pc = res.per_context.pivot(index=res.per_context.columns[0], columns="method", values="auc")
    diff = (pc["context"] - pc[["pooled", "per_context"]].max(axis=1)).dropna()
    rows = res.per_context.set_index([res.per_context.columns[0], "method"])
    beats = worse = 0
    for ctx in diff.index:
        lo, hi = rows.loc[(ctx, "context"), "auc_ci"][:2]
        base = [rows.loc[(ctx, m), "auc_ci"] for m in ("pooled", "per_context")]
        beats += int(np.isfinite(lo) and lo > max(b[1] for b in base))
        worse += int(np.isfinite(hi) and hi < max(b[0] for b in base))
    mean = float(diff.mean())
    if beats == len(diff) and mean > 0:
        word = "helps"
    elif beats > 0 and mean > 0:
        word = "helps in some contexts only"
    elif worse > 0 and mean < 0:
        word = "does NOT help (it is worse than the best unconditioned CAL in some contexts)"
    else:
        word = "does NOT help measurably (within bootstrap noise of the best unconditioned CAL)"
    return (
        f"**Verdict: context conditioning {word} here.** Mean per-context AUC difference, "
        f"context-conditioned minus the better of pooled / per-context CAL: {mean:+.3f}; "
        f"its 95% CI lies entirely above both baselines' CIs in {beats} and entirely below the "
        f"better one's in {worse} of {len(diff)} contexts."
    )


def run_depmap(args) -> str:
    """The DepMap-lineage section."""
    t0 = time.perf_counter()
    cemb = depmap_lineage_embeddings(SHARED)
    pairs = load_context_pairs(SHARED / "associations" / "string_ge950_pairs.csv")
    res = evaluate_contexts(
        cemb,
        pairs,
        preset="paper",
        hidden=args.hidden,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        threads=args.threads,
        seed=42,
        n_boot=args.n_boot,
        k_shot=args.k_shot,
        loco_by="context",
        min_mapped=0.1,
        progress=lambda m: print("[depmap]", m, flush=True),
    )
    lines_used = cemb.meta["cell_lines"]
    d = res.data
    out = [
        "## Context-conditioned equivalence: DepMap lineages x STRING >= 950",
        "",
        f"Generated by `benchmarks/contexts.py` (commit {git_revision()}, "
        f"{time.perf_counter() - t0:.0f} s). Contexts: "
        + ", ".join(f"{k} ({len(v)} cell lines)" for k, v in lines_used.items())
        + f"; {d['n_entities']:,} genes each, 50-d per-lineage embedding = rank-50 gene-effect "
        "profiles over the lineage's lines, centred, in the shared PCA axes "
        "(`depmap_lineage_embeddings`, cosine = within-lineage Pearson correlation). STRING >= 950 "
        f"pairs are context-free (one pair applies in every lineage): {d['n_pair_rows']:,} "
        f"(pair, lineage) rows; {d['n_train_rows']:,} training rows, "
        f"{d['n_calibration_rows']:,} calibration rows, {d['n_test_positive_rows']:,} test "
        "positive rows. A pair is train or test in every lineage alike.",
        "",
        settings_line(res, args),
        "",
        verdict(res),
        "",
        "### Per lineage",
        "",
        *per_context_md(res),
        "",
        "### Leave-one-lineage-out",
        "",
        "Training pairs of the other two lineages only; test pairs of the held-out lineage. "
        "`null`: the held-out lineage gets the learned null context (no labelled data). "
        f"`few-shot`: its context vector is fitted on {args.k_shot} of its training-split pairs "
        "(network frozen). `pooled`: context-agnostic CAL on the other lineages.",
        "",
        *loco_md(res),
        "",
        "### Calibration of P(equivalent)",
        "",
        *calibration_md(res),
    ]
    return "\n".join(out)


def half_split(lines: list[str], seed: int) -> tuple[list[str], list[str]]:
    """Two disjoint halves of a lineage's cell lines (seeded)."""
    perm = np.random.default_rng(seed).permutation(len(lines))
    half = len(lines) // 2
    return [lines[i] for i in perm[:half]], [lines[i] for i in perm[half:]]


def lineage_embedding(W: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Rank-50 centred profiles over the lines ``S`` as an isometry in the shared PCA axes.

    Same construction as ``calbio.data.context.depmap_lineage_embeddings`` (shared
    representation), restricted to a subset of the lineage's lines.
    """
    Sc = S - S.mean(axis=0)
    _, sig, vt = np.linalg.svd(Sc, full_matrices=False)
    return (W @ (vt.T * sig) @ vt).astype(np.float32)


def cosine_auc(X: np.ndarray, a: np.ndarray, b: np.ndarray, seed: int) -> float:
    """AUC of cosine for pairs (a, b) against as many random pairs (5 per positive)."""
    from calbio.core.metrics import roc_auc

    E = X / np.linalg.norm(X, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    na, nb = rng.integers(0, len(E), (2, 5 * len(a)))
    keep = na != nb
    pos = np.einsum("ij,ij->i", E[a], E[b])
    neg = np.einsum("ij,ij->i", E[na[keep]], E[nb[keep]])
    return roc_auc(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg])


def run_coessential(args) -> str:
    """Co-essential pairs per lineage: labels from one half of its lines, embedding the other."""
    t0 = time.perf_counter()
    emb_dir = SHARED / "embeddings"
    loadings = pd.read_csv(emb_dir / "depmap_crispr_gene_effect_pca50.csv", index_col=0)
    scores = pd.read_csv(emb_dir / "depmap_crispr_cell_line_scores_pca50.csv.gz", index_col=0)
    scores = scores[loadings.columns]
    W = loadings.to_numpy(np.float64)
    genes = loadings.index.astype(str).to_numpy(dtype=object)
    gidx = {g: i for i, g in enumerate(genes)}
    blocks, a_all, b_all, c_all, info, pair_sets = [], [], [], [], [], {}
    for k, lin in enumerate(DEPMAP_LINEAGES):
        f = SHARED / "contexts" / f"depmap_{lin}_500_genes.csv"
        lines = [c for c in pd.read_csv(f, nrows=0).columns if str(c).startswith("ACH-")]
        emb_half, label_half = half_split(lines, seed=k)
        X = lineage_embedding(W, scores.loc[emb_half].to_numpy(np.float64))
        blocks.append(X)
        prof = pd.DataFrame(W @ scores.loc[label_half].to_numpy(np.float64).T, index=genes)
        der = derive_pairs(prof, method=args.coess_method, top_k=args.coess_top_k).table
        a_all.append(der.a.to_numpy(dtype=object))
        b_all.append(der.b.to_numpy(dtype=object))
        c_all.append(np.full(len(der), lin, dtype=object))
        ia = der.a.map(gidx).to_numpy()
        ib = der.b.map(gidx).to_numpy()
        # the circularity trap, measured: labels from the SAME lines as the embedding
        same = derive_pairs(
            pd.DataFrame(W @ scores.loc[emb_half].to_numpy(np.float64).T, index=genes),
            method=args.coess_method,
            top_k=args.coess_top_k,
        ).table
        info.append(
            {
                "lineage": lin,
                "emb_lines": len(emb_half),
                "label_lines": len(label_half),
                "pairs": len(der),
                "cos_other": cosine_auc(X, ia, ib, seed=k),
                "cos_same": cosine_auc(
                    X, same.a.map(gidx).to_numpy(), same.b.map(gidx).to_numpy(), seed=k
                ),
            }
        )
        pair_sets[lin] = set(zip(np.minimum(ia, ib).tolist(), np.maximum(ia, ib).tolist()))
        print(f"[coessential] {lin}: {len(der):,} pairs from {len(label_half)} lines", flush=True)
    n, k = len(genes), len(DEPMAP_LINEAGES)
    cemb = ContextEmbeddings(
        genes,
        np.array(DEPMAP_LINEAGES, dtype=object),
        np.concatenate(blocks),
        np.tile(np.arange(n), k),
        np.repeat(np.arange(k), n),
        source="depmap-halves",
    )
    pairs = ContextPairs(np.concatenate(a_all), np.concatenate(b_all), np.concatenate(c_all))
    t1 = time.perf_counter()
    res = evaluate_contexts(
        cemb,
        pairs,
        preset="fast",
        threads=args.threads,
        seed=42,
        n_boot=args.n_boot,
        k_shot=args.k_shot,
        loco_by="context",
        progress=lambda m: print("[coessential]", m, flush=True),
    )
    lins = list(DEPMAP_LINEAGES)
    jac = []
    for i in range(k):
        for j in range(i + 1, k):
            s1, s2 = pair_sets[lins[i]], pair_sets[lins[j]]
            jac.append(f"{lins[i]}/{lins[j]} {len(s1 & s2) / len(s1 | s2):.3f}")
    d = res.data
    trap = [
        "| lineage | embedding lines | label lines | pairs | cosine AUC, labels from the other "
        "half | cosine AUC, labels from the same lines (circular) |",
        "|---|---:|---:|---:|---:|---:|",
    ] + [
        f"| {r['lineage']} | {r['emb_lines']} | {r['label_lines']} | {r['pairs']:,} | "
        f"{r['cos_other']:.3f} | {r['cos_same']:.3f} |"
        for r in info
    ]
    out = [
        "## Context-conditioned equivalence: lineage-specific co-essential pairs (DepMap halves)",
        "",
        f"Generated by `benchmarks/contexts.py` (commit {git_revision()}, "
        f"{time.perf_counter() - t0:.0f} s, of which model fitting and scoring "
        f"{time.perf_counter() - t1:.0f} s). For each DepMap lineage in `contexts/`, its cell "
        "lines are split into two disjoint halves (seeded). **Embedding** (the context's 50-d "
        "table): the rank-50 gene-effect profiles over the first half, centred, in the shared PCA "
        "axes (the construction of `depmap_lineage_embeddings`). **Labels**: co-essential pairs "
        f"derived from the second half only (`calbio.data.derive.derive_pairs`, "
        f"{args.coess_method}, top {args.coess_top_k} partners per gene; the same as "
        "`calbio pairs coessential --by-context`). Each lineage has its own pairs; Jaccard "
        "overlap of the lineages' pair sets: " + ", ".join(jac) + ". "
        f"{d['n_entities']:,} genes; {d['n_pair_rows']:,} (pair, lineage) rows; "
        f"{d['n_train_rows']:,} training rows, {d['n_calibration_rows']:,} calibration rows, "
        f"{d['n_test_positive_rows']:,} test positive rows. A pair is train or test in every "
        "lineage alike. Preset `fast`. Note: pooled CAL's map f ignores the context, but it "
        "reads each lineage's own embedding rows, so lineage-specific profiles reach it through "
        "its input; per-context CAL trains one f per lineage.",
        "",
        "The circularity trap, measured: cosine of the embedding scores its pairs against random "
        "pairs at the AUC below. Labels from the same lines as the embedding make cosine look "
        "(nearly) perfect; labels from the other half are the honest test.",
        "",
        *trap,
        "",
        settings_line(res, args),
        "",
        verdict(res),
        "",
        "### Per lineage",
        "",
        *per_context_md(res),
        "",
        "### Leave-one-lineage-out",
        "",
        "Training pairs of the other two lineages only; test pairs of the held-out lineage "
        "(derived from its own label half). `null`: the learned null context; `few-shot`: "
        f"context vector fitted on {args.k_shot} of its training-split pairs (network frozen); "
        "`pooled`: context-agnostic CAL on the other lineages.",
        "",
        *loco_md(res),
    ]
    return "\n".join(out)


def run_dose(args) -> str:
    """The dose-simulator section."""
    t0 = time.perf_counter()
    world = make_dose_world(seed=0)
    ce = world.embeddings
    seen = [c for c in ce.contexts if c.split("@")[1] in SEEN_DOSES]
    res = evaluate_contexts(
        ce,
        world.pairs,
        preset="paper",
        hidden=args.hidden,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        threads=args.threads,
        seed=42,
        n_boot=0,
        k_shot=args.k_shot,
        train_contexts=seen,
        loco_by="label",
        progress=lambda m: print("[dose]", m, flush=True),
    )
    t = res.scores.copy()
    t["dose"] = [c.split("@")[1] for c in t["context_name"]]
    methods = ["cosine", "context", "pooled", "per_context"]
    by = metrics_by(t, methods, "dose", 0.2, 0)
    piv = by.pivot(index="dose", columns="method", values="auc")
    npos = by.groupby("dose")["n_pos"].first()
    doses = sorted(piv.index, key=float)
    lines = [
        "| dose | seen in training | equivalent test pairs | cosine | g (context) | "
        "pooled CAL | per-context CAL |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for dose in doses:
        r = piv.loc[dose]
        lines.append(
            f"| {dose} | {'yes' if dose in SEEN_DOSES else '**no**'} | {npos[dose]:,} | "
            f"{f3(r['cosine'])} | {f3(r['context'])} | {f3(r['pooled'])} | "
            f"{f3(r['per_context'])} |"
        )
    unseen = [d for d in doses if d not in SEEN_DOSES]
    high = [d for d in doses if float(d) >= 10]
    gain_unseen = float((piv.loc[unseen, "context"] - piv.loc[unseen, "cosine"]).mean())
    gain_high = float((piv.loc[high, "context"] - piv.loc[high, "cosine"]).mean())
    cz = piv.loc[unseen, "context"] - piv.loc[unseen, "pooled"]
    tr = world.truth
    out = [
        "## Context-conditioned equivalence: synthetic dose-response world",
        "",
        f"Generated by `benchmarks/contexts.py` (commit {git_revision()}, "
        f"{time.perf_counter() - t0:.0f} s). `make_dose_world(seed=0)`: "
        f"{ce.n_entities} perturbations ({len(set(tr['mechanism']))} mechanisms, "
        f"{int(tr['biphasic'].sum())} biphasic), {len(tr['lines'])} cell lines x "
        f"{len(tr['doses'])} doses = {ce.n_contexts} contexts, {ce.dim} features. Ground truth: "
        "A equivalent to B in (line, dose) iff same mechanism and both active there (see the "
        "module docstring). Training uses doses "
        + ", ".join(SEEN_DOSES)
        + " only; doses "
        + ", ".join(unseen)
        + " are never seen (their context vector comes from the line's label plus the "
        "covariate MLP on log10 dose). Test pairs are entity pairs never trained on in any "
        "context; negatives are 5 random non-equivalent pairs of the same context per positive.",
        "",
        settings_line(res, args),
        "",
        f"AUC of equivalence detection by dose (all lines pooled). Mean gain of g over cosine: "
        f"{gain_high:+.3f} at doses >= 10, {gain_unseen:+.3f} at unseen doses; g minus pooled "
        f"CAL at unseen doses: {float(cz.mean()):+.3f}. Per-context CAL has no model at unseen "
        "doses ('-').",
        "",
        *lines,
        "",
        "### Leave-one-cell-line-out",
        "",
        "All doses of one line held out (its label never trained on): `null` = null label + "
        f"log-dose covariate; `few-shot` = context vectors fitted on {args.k_shot} labelled "
        "pairs per held-out context.",
        "",
        *loco_md(res),
        "",
        "### Calibration of P(equivalent)",
        "",
        *calibration_md(res),
    ]
    return "\n".join(out)


def main() -> None:
    """Run the requested parts and update RESULTS.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--k-shot", type=int, default=50)
    ap.add_argument("--skip-depmap", action="store_true")
    ap.add_argument("--skip-dose", action="store_true")
    ap.add_argument("--skip-coessential", action="store_true")
    ap.add_argument(
        "--only-coessential",
        action="store_true",
        help="run only the lineage-specific co-essential section (~2-4 min at 1 thread)",
    )
    ap.add_argument("--coess-top-k", type=int, default=5)
    ap.add_argument("--coess-method", default="pearson", choices=("pearson", "gls"))
    ap.add_argument("--results", type=Path, default=RESULTS, help="default: RESULTS.md here")
    args = ap.parse_args()
    pd.set_option("display.width", 160)
    if args.only_coessential:
        args.skip_dose = args.skip_depmap = True
    if not args.skip_dose:
        body = run_dose(args)
        update_section(args.results, "dose_simulator", body, title="Benchmark results")
        print(body, flush=True)
    if not args.skip_depmap:
        if not (SHARED / "embeddings" / "depmap_crispr_gene_effect_pca50.csv").is_file():
            print(f"skipping DepMap lineages: {SHARED} not found", flush=True)
        else:
            body = run_depmap(args)
            update_section(args.results, "contexts_depmap", body, title="Benchmark results")
            print(body, flush=True)
    if not args.skip_coessential:
        if not (SHARED / "embeddings" / "depmap_crispr_gene_effect_pca50.csv").is_file():
            print(f"skipping co-essential lineages: {SHARED} not found", flush=True)
        else:
            body = run_coessential(args)
            update_section(args.results, "contexts_coessential", body, title="Benchmark results")
            print(body, flush=True)
    print(f"updated {args.results}")


if __name__ == "__main__":
    main()
