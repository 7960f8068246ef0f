"""Cluster benchmark (the paper's section 7, Table 9 shape): writes its section of RESULTS.md.

DepMap CRISPR PCA-50 x STRING >= 950 (../shared/data): CAL is trained on ALL mapped STRING
pairs with the paper recipe (fewer epochs by default; stated in the output), then HDBSCAN
(min_cluster_size 5, min_samples 3, 1 - cosine) clusters association space and embedding
space. GO BP enrichment (hypergeometric, background = the embedded genes, BH per cluster) is
compared with random clusters of matched sizes. Clusters are never scored by STRING edges (the
training source); Reactome pairs give an independent edge-density check.

    nice -n 10 python benchmarks/clusters.py                # ~4 min on 2 cores (30 epochs)
    python benchmarks/clusters.py --epochs 100 --reps 20    # the paper's full training length
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import calbio
from calbio.analysis.clusters import analyze_model
from calbio.analysis.enrichment import (
    CLASSES,
    KEYS,
    cluster_enrichment_table,
    drop_known_pairs,
    edge_density,
    enrich_membership,
    format_pct,
    random_matched_membership,
    restrict_to_background,
)
from calbio.data.coerce import as_mapped_pairs
from calbio.data.genesets import read_gmt
from calbio.models.cal.estimator import CAL

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import SHARED, git_revision, update_section  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
EMB = "embeddings/depmap_crispr_gene_effect_pca50.csv"
PAIRS = "associations/string_ge950_pairs.csv"
VALID = "associations/reactome_pairs.csv"
GMT = "genesets/GO_BP_propagated_5_500.gmt"


def genome_background_random(
    sizes: np.ndarray, names: np.ndarray, gmt, reps: int, seed: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """% coherent, % partial of random clusters tested against ALL annotated genes (wrong)."""
    universe = np.unique(np.concatenate(gmt.genes).astype(str))
    lib = restrict_to_background(gmt, universe, 5, 500)
    col = {g: i for i, g in enumerate(lib.background)}
    pos = np.array([col.get(str(n), -1) for n in names])
    inside = np.flatnonzero(pos >= 0)
    P = sp.csr_matrix(
        (np.ones(len(inside)), (np.arange(len(inside)), pos[inside])),
        shape=(len(inside), lib.n_background),
    )
    rng = np.random.default_rng(seed)
    pct = []
    for _ in range(reps):
        M = random_matched_membership(sizes, len(inside), rng) @ P
        res = enrich_membership(sp.csr_matrix(M), lib)
        s = res.summary()
        pct.append((s["pct_coherent"], s["pct_partial"]))
    v = np.asarray(pct)
    return v.mean(axis=0), v.std(axis=0, ddof=1), lib.n_background


def main() -> None:
    """Train, cluster, enrich, compare with random matched clusters; update RESULTS.md."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=SHARED)
    ap.add_argument("--epochs", type=int, default=30, help="paper recipe uses 100")
    ap.add_argument("--reps", type=int, default=20, help="random matched-size repetitions")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--save-model", type=Path, default=None, help="also write the model here")
    ap.add_argument("--model", type=Path, default=None, help="reuse a model saved by --save-model")
    args = ap.parse_args()
    if not (args.data / EMB).is_file():
        sys.exit(f"shared data not found under {args.data}")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    emb = calbio.load_embeddings(args.data / EMB)
    pairs = calbio.load_pairs(args.data / PAIRS)
    t0 = time.perf_counter()
    if args.model is not None:  # a model this script saved earlier (--save-model)
        model = CAL.load(args.model)
        if len(model.names_) != len(emb) or model.config.seed != args.seed:
            sys.exit(f"{args.model} was not trained by this script on {EMB} with seed {args.seed}")
        args.epochs = int(model.config.epochs)
        t_fit = float(model.fit_seconds_)
        provenance = "model loaded with `--model` (saved by an earlier run of this script); "
    else:
        model = CAL("paper", random_state=args.seed, epochs=args.epochs).fit(
            emb, pairs, min_mapped=0.1
        )
        t_fit = time.perf_counter() - t0
        provenance = ""
        if args.save_model:
            model.save(args.save_model, force=True)
    print(f"model: {args.epochs} epochs, fit {t_fit:.0f} s", flush=True)

    t0 = time.perf_counter()
    analysis = analyze_model(model, min_cluster_size=5, min_samples=3)
    t_clu = time.perf_counter() - t0
    gmt = read_gmt(args.data / GMT)
    lib = restrict_to_background(gmt, model.names_, 5, 500)
    t0 = time.perf_counter()
    table, ea, ee = cluster_enrichment_table(analysis, lib, reps=args.reps, seed=args.seed)
    t_enr = time.perf_counter() - t0
    print(table.to_string(), flush=True)
    g_mean, g_sd, g_n = genome_background_random(
        ea.cluster_sizes, model.names_, gmt, args.reps, args.seed
    )

    reactome = calbio.load_pairs(args.data / VALID)
    v_all = as_mapped_pairs(reactome, model.entity_table(), 0.0).idx
    vidx = drop_known_pairs(v_all, model.train_pairs_, len(model.names_))
    dens = {
        space: edge_density(labels, vidx, reps=args.reps, seed=args.seed)
        for space, labels in (
            ("association space", analysis.assoc_labels),
            ("embedding space", analysis.embed_labels),
        )
    }

    rows = [
        "| clusters | n | genes | % coherent | % partial | % no signal |",
        "|---|---|---|---|---|---|",
    ]
    for r in table.itertuples(index=False):
        cells = [format_pct(getattr(r, f"pct_{KEYS[c]}"), np.nan) for c in CLASSES]
        if r.clusters.startswith("random"):
            cells = [
                format_pct(
                    getattr(r, f"pct_{KEYS[c]}"),
                    getattr(r, f"sd_{KEYS[c]}"),
                )
                for c in CLASSES
            ]
        rows.append(f"| {r.clusters} | {r.n} | {r.entities:,} | " + " | ".join(cells) + " |")
    rows.append(
        f"| random, association sizes, *genome background* (the paper's flaw) | "
        f"{len(ea.cluster_sizes)} | {int(ea.cluster_sizes.sum()):,} | "
        f"{format_pct(g_mean[0], g_sd[0])} | {format_pct(g_mean[1], g_sd[1])} | |"
    )
    t = analysis.table
    spec = t[t["association_specific"]]
    drows = [
        "| clusters | Reactome edges inside | density | random matched density | fold |",
        "|---|---|---|---|---|",
    ]
    for space, d in dens.items():
        fold = "-" if d["fold_over_random"] is None else f"{d['fold_over_random']:.1f}x"
        drows.append(
            f"| {space} | {d['within_cluster_edges']:,} | {d['density']:.4f} | "
            f"{d['random_density_mean']:.4f} ± {d['random_density_sd']:.4f} | {fold} |"
        )
    top = ea.top_terms(top=1)
    top = top[top["class"] != "no signal"].merge(
        t[["cluster", "association_specific", "mean_embedding_cosine", "ratio"]], on="cluster"
    )
    top = top[top["association_specific"]].sort_values("p_adj").head(8)
    ex = [
        "| cluster | size | top GO BP term | coverage | adj. p | mean emb. cos |",
        "|---|---|---|---|---|---|",
    ]
    for r in top.itertuples(index=False):
        ex.append(
            f"| {r.cluster} | {r.cluster_size} | {r.term} | {r.coverage:.0%} | "
            f"{r.p_adj:.1e} | {r.mean_embedding_cosine:.2f} |"
        )
    head = (
        f"Generated by `python benchmarks/clusters.py` on {started} (commit {git_revision()}); "
        f"{provenance}CAL trained on all {len(model.train_pairs_):,} STRING >= 950 pairs that "
        f"map onto the {len(model.names_):,} DepMap PCA-50 genes (`min_mapped=0.1`), paper "
        f"recipe with **{args.epochs} epochs** (paper: 100), seed {args.seed}; fit {t_fit:.0f} s, "
        f"HDBSCAN of both spaces {t_clu:.0f} s, enrichment with {args.reps} random repetitions "
        f"{t_enr:.0f} s. HDBSCAN min_cluster_size=5, min_samples=3 on 1 - cosine. Enrichment: "
        f"`{GMT}`, one-sided hypergeometric test (scipy), **background = the "
        f"{lib.n_background:,} genes of the embedding**; {len(lib.terms):,} of "
        f"{lib.n_terms_read:,} terms keep 5-500 genes inside it and are tested; Benjamini-"
        f"Hochberg per cluster; coherent = adj. p < 0.05 and the term covers > 50% of members, "
        f"partial = adj. p < 0.05 otherwise. Random rows: disjoint random gene sets with the "
        f"same sizes drawn from the same background, mean ± SD over {args.reps} repetitions. "
        f"Association-specific = association cluster with > 50% of members noise in embedding "
        f"space or spanning >= 3 embedding clusters ({len(spec)} of {len(t)}). The last row "
        f"repeats the random baseline against all {g_n:,} GO-annotated genes as background (the "
        f"paper's mistake), to show how much it inflates coherence."
    )
    body = "\n\n".join(
        [
            "## Association-space clusters vs embedding clusters vs random (GO BP, Table 9 shape)",
            head,
            "\n".join(rows),
            "### Independent edge density (Reactome; STRING is the training source, so it is "
            "not used to score clusters)",
            f"{len(vidx):,} Reactome pairs inside the embedded genes that are not training pairs "
            f"({len(v_all) - len(vidx):,} of the {len(v_all):,} mapped Reactome pairs are also "
            "STRING >= 950 training pairs - STRING imports curated pathway databases - and are "
            "left out, since training put them together by construction). Density = such edges "
            "inside clusters / member pairs; random = matched-size clusters.",
            "\n".join(drows),
            "### Strongest association-specific clusters",
            "\n".join(ex) if len(top) else "none enriched",
        ]
    )
    update_section(RESULTS, "clusters", body, "calbio benchmark results")
    print(f"updated {RESULTS.name} section 'clusters'", flush=True)


if __name__ == "__main__":
    main()
