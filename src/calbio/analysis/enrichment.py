"""Offline gene-set enrichment of clusters with the right background, and matched baselines.

Statistics: a one-sided hypergeometric test per (cluster, term) with ``scipy.stats.hypergeom``:
P(X >= k) for X ~ Hypergeom(N = background size, K = term size within the background,
n = cluster size), computed as ``hypergeom.sf(k - 1, N, K, n)``. The background is the set of
entities present in the embedding table (never the whole genome); every term is intersected
with it, and terms outside ``[min_size, max_size]`` after intersection are not tested.
Multiple testing: Benjamini-Hochberg (``scipy.stats.false_discovery_control``) across all
tested terms, separately per cluster; ``correction="bonferroni"`` is the strict alternative.

Classes (the paper's rule): *coherent* = some term with adjusted p < alpha covering > 50% of the
members; *partial* = some term with adjusted p < alpha, none covering > 50%; else *no signal*.
Overlaps for all clusters and terms are one sparse product: (clusters x genes) @ (genes x terms).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import false_discovery_control, hypergeom

from calbio.analysis.clusters import ClusterAnalysis, membership_matrix
from calbio.core.errors import CalbioInputError
from calbio.data.genesets import GeneSets

if TYPE_CHECKING:
    from calbio.data.identifiers import IdTablesLike

COHERENT, PARTIAL, NO_SIGNAL = "coherent", "partial", "no signal"
CLASSES = (COHERENT, PARTIAL, NO_SIGNAL)
KEYS = {COHERENT: "coherent", PARTIAL: "partial", NO_SIGNAL: "no_signal"}  # column suffixes


def combine_gene_sets(sets: Sequence[GeneSets]) -> GeneSets:
    """Concatenate several libraries; term names are prefixed by their file stem when >1."""
    if len(sets) == 1:
        return sets[0]
    terms, descs, genes = [], [], []
    for gs in sets:
        stem = Path(gs.source).name.split(".")[0] or "sets"
        terms += [f"{stem}:{t}" for t in gs.terms]
        descs += list(gs.descriptions)
        genes += gs.genes
    src = ";".join(gs.source for gs in sets)
    return GeneSets(np.asarray(terms, object), np.asarray(descs, object), genes, src)


@dataclass
class Library:
    """Gene sets restricted to a background: a sparse (background x terms) membership matrix."""

    terms: np.ndarray
    descriptions: np.ndarray
    matrix: sp.csc_matrix  # (N background entities, T terms), 0/1
    sizes: np.ndarray  # (T,) term sizes inside the background
    background: np.ndarray  # (N,) entity names
    n_terms_read: int
    n_terms_dropped: int
    source: str = ""

    @property
    def n_background(self) -> int:
        """Background size N."""
        return len(self.background)


def restrict_to_background(
    gene_sets: GeneSets, background: Iterable[str], min_size: int = 5, max_size: int = 500
) -> Library:
    """Intersect every term with the background; keep terms with min..max members left."""
    bg = np.asarray(list(background), dtype=object)
    if len(bg) == 0:
        raise CalbioInputError("empty background: no entities to test against")
    if len(np.unique(bg)) != len(bg):
        raise CalbioInputError("background identifiers must be unique")
    lengths = np.fromiter((len(g) for g in gene_sets.genes), np.int64, len(gene_sets))
    flat = np.concatenate(gene_sets.genes).astype(str) if lengths.sum() else np.zeros(0, dtype=str)
    term_of = np.repeat(np.arange(len(gene_sets)), lengths)
    pos = pd.Index(bg.astype(str)).get_indexer(flat)
    hit = pos >= 0
    G = sp.csc_matrix(
        (np.ones(int(hit.sum()), np.float64), (pos[hit], term_of[hit])),
        shape=(len(bg), len(gene_sets)),
    )
    G.sum_duplicates()
    G.data[:] = 1.0
    sizes = np.asarray(G.sum(axis=0)).ravel().astype(np.int64)
    keep = np.flatnonzero((sizes >= min_size) & (sizes <= max_size))
    if keep.size == 0:
        raise CalbioInputError(
            f"no gene set has {min_size}-{max_size} members among the {len(bg):,} background "
            "entities; do the identifiers match (e.g. HGNC symbols)?",
            gene_sets.source or None,
        )
    return Library(
        terms=gene_sets.terms[keep],
        descriptions=gene_sets.descriptions[keep],
        matrix=G[:, keep].tocsc(),
        sizes=sizes[keep],
        background=bg,
        n_terms_read=len(gene_sets),
        n_terms_dropped=int(len(gene_sets) - keep.size),
        source=gene_sets.source,
    )


@dataclass
class Enrichment:
    """Per-cluster hypergeometric results over every tested term (dense k x T arrays)."""

    overlap: np.ndarray  # (k, T) int
    pvalues: np.ndarray  # (k, T)
    padj: np.ndarray  # (k, T)
    cluster_sizes: np.ndarray  # (k,)
    classes: np.ndarray  # (k,) coherent | partial | no signal
    library: Library
    alpha: float
    correction: str

    def summary(self) -> dict[str, float]:
        """Counts and percentages of clusters per class."""
        k = len(self.classes)
        out: dict[str, float] = {"n_clusters": k}
        for c in CLASSES:
            n = int((self.classes == c).sum())
            out[f"n_{KEYS[c]}"] = n
            out[f"pct_{KEYS[c]}"] = 100.0 * n / k if k else float("nan")
        return out

    def top_terms(self, top: int = 3, significant_only: bool = False) -> pd.DataFrame:
        """Long table: the ``top`` terms per cluster by p-value (optionally only p_adj < alpha)."""
        k, T = self.pvalues.shape
        if k == 0 or T == 0:
            cols = ["cluster", "rank", "term", "description", "overlap", "cluster_size"]
            cols += ["term_size", "coverage", "p", "p_adj", "class"]
            return pd.DataFrame(columns=cols)
        top = min(top, T)
        order = np.argsort(self.pvalues, axis=1, kind="stable")[:, :top]
        rows = np.repeat(np.arange(k), top)
        cols = order.ravel()
        lib = self.library
        df = pd.DataFrame(
            {
                "cluster": rows,
                "rank": np.tile(np.arange(1, top + 1), k),
                "term": lib.terms[cols],
                "description": lib.descriptions[cols],
                "overlap": self.overlap[rows, cols],
                "cluster_size": self.cluster_sizes[rows],
                "term_size": lib.sizes[cols],
                "coverage": self.overlap[rows, cols] / np.maximum(self.cluster_sizes[rows], 1),
                "p": self.pvalues[rows, cols],
                "p_adj": self.padj[rows, cols],
                "class": self.classes[rows],
            }
        )
        if significant_only:
            df = df[df["p_adj"] < self.alpha]
        return df.reset_index(drop=True)


def hypergeom_pvalues(
    overlap: np.ndarray, n_background: int, term_sizes: np.ndarray, cluster_sizes: np.ndarray
) -> np.ndarray:
    """P(X >= overlap), X ~ Hypergeom(N, K=term size, n=cluster size); vectorised over (k, T)."""
    overlap = np.asarray(overlap)
    K = np.broadcast_to(np.asarray(term_sizes)[None, :], overlap.shape)
    n = np.broadcast_to(np.asarray(cluster_sizes)[:, None], overlap.shape)
    p = np.ones(overlap.shape, np.float64)
    nz = overlap > 0  # P(X >= 0) = 1: no need to evaluate
    p[nz] = hypergeom.sf(overlap[nz] - 1, n_background, K[nz], n[nz])
    return np.clip(p, 0.0, 1.0)


def adjust_pvalues(p: np.ndarray, correction: str = "bh") -> np.ndarray:
    """Per-row multiple-testing correction: Benjamini-Hochberg ('bh') or 'bonferroni'."""
    p = np.asarray(p, np.float64)
    if p.size == 0:
        return p.copy()
    if correction == "bh":
        return false_discovery_control(p, axis=-1, method="bh")
    if correction == "bonferroni":
        return np.minimum(p * p.shape[-1], 1.0)
    raise CalbioInputError(f"correction must be 'bh' or 'bonferroni', got {correction!r}")


def classify(
    overlap: np.ndarray, padj: np.ndarray, cluster_sizes: np.ndarray, alpha: float = 0.05
) -> np.ndarray:
    """coherent / partial / no signal per cluster (the paper's rule, > 50% coverage)."""
    sig = padj < alpha
    covers = overlap > 0.5 * np.asarray(cluster_sizes)[:, None]
    out = np.full(len(cluster_sizes), NO_SIGNAL, dtype=object)
    out[sig.any(axis=1)] = PARTIAL
    out[(sig & covers).any(axis=1)] = COHERENT
    return out


def enrich_membership(
    membership: sp.csr_matrix, library: Library, alpha: float = 0.05, correction: str = "bh"
) -> Enrichment:
    """Enrichment of clusters given as a (k x N background) 0/1 matrix."""
    if membership.shape[1] != library.n_background:
        raise ValueError("membership columns must be the library's background")
    overlap = np.asarray((membership @ library.matrix).todense()).astype(np.int64)
    sizes = np.asarray(membership.sum(axis=1)).ravel().astype(np.int64)
    p = hypergeom_pvalues(overlap, library.n_background, library.sizes, sizes)
    padj = adjust_pvalues(p, correction)
    return Enrichment(
        overlap=overlap,
        pvalues=p,
        padj=padj,
        cluster_sizes=sizes,
        classes=classify(overlap, padj, sizes, alpha),
        library=library,
        alpha=alpha,
        correction=correction,
    )


def enrich_labels(
    labels: np.ndarray, library: Library, alpha: float = 0.05, correction: str = "bh"
) -> Enrichment:
    """Enrichment of HDBSCAN labels over the library's background (label -1 = noise, skipped)."""
    return enrich_membership(membership_matrix(labels), library, alpha, correction)


def random_matched_membership(
    sizes: np.ndarray, n_background: int, rng: np.random.Generator
) -> sp.csr_matrix:
    """Disjoint random clusters with the given sizes drawn from the background."""
    sizes = np.asarray(sizes, np.int64)
    if sizes.sum() > n_background:
        raise ValueError("matched sizes exceed the background")
    perm = rng.permutation(n_background)[: sizes.sum()]
    rows = np.repeat(np.arange(len(sizes)), sizes)
    return sp.csr_matrix(
        (np.ones(len(perm), np.float64), (rows, perm)), shape=(len(sizes), n_background)
    )


def random_baseline(
    sizes: np.ndarray,
    library: Library,
    reps: int = 10,
    seed: int = 0,
    alpha: float = 0.05,
    correction: str = "bh",
) -> dict[str, Any]:
    """% coherent / partial / no signal of random matched-size clusters: mean and SD over reps."""
    rng = np.random.default_rng(seed)
    pct = {c: [] for c in CLASSES}
    for _ in range(reps):
        res = enrich_membership(
            random_matched_membership(sizes, library.n_background, rng), library, alpha, correction
        )
        s = res.summary()
        for c in CLASSES:
            pct[c].append(s[f"pct_{KEYS[c]}"])
    out: dict[str, Any] = {"n_clusters": int(len(sizes)), "reps": reps, "seed": seed}
    for c in CLASSES:
        v = np.asarray(pct[c], np.float64)
        out[f"pct_{KEYS[c]}"] = float(v.mean()) if v.size else float("nan")
        out[f"sd_{KEYS[c]}"] = float(v.std(ddof=1)) if v.size > 1 else float("nan")
    return out


# ------------------------------------------------------------------ validation edges
def check_not_circular(
    train_source: dict[str, Any] | None,
    validation_path: str | Path,
    validation_sha256: str | None = None,
) -> None:
    """Refuse to validate clusters with the same pairs (or the same resource) CAL trained on."""
    if not train_source:
        return
    vpath = Path(str(validation_path))
    tpath = Path(str(train_source.get("path") or ""))
    same = bool(tpath.name) and tpath.name == vpath.name
    tsha = train_source.get("sha256")
    if not same and tsha and validation_sha256:
        same = tsha == validation_sha256
    both_string = "string" in tpath.name.lower() and "string" in vpath.name.lower()
    if same or both_string:
        raise CalbioInputError(
            f"circular validation: the model was trained on {tpath.name}; validate clusters with "
            "an independent resource (e.g. Reactome pairs), not the training source",
            vpath,
        )


def within_cluster_edges(labels: np.ndarray, pairs_idx: np.ndarray) -> np.ndarray:
    """Number of validation edges with both ends in the same cluster, per cluster."""
    labels = np.asarray(labels, np.int64)
    k = int(labels.max()) + 1 if (labels >= 0).any() else 0
    idx = np.asarray(pairs_idx, np.int64).reshape(-1, 2)
    la, lb = labels[idx[:, 0]], labels[idx[:, 1]]
    inside = (la == lb) & (la >= 0)
    return np.bincount(la[inside], minlength=k)


def drop_known_pairs(pairs_idx: np.ndarray, known_idx: np.ndarray, n: int) -> np.ndarray:
    """Validation pairs that are not among ``known_idx`` (e.g. training pairs), undirected."""
    from calbio.core.graph import pair_keys

    pairs_idx = np.asarray(pairs_idx, np.int64).reshape(-1, 2)
    if len(known_idx) == 0 or len(pairs_idx) == 0:
        return pairs_idx
    keep = ~np.isin(pair_keys(pairs_idx, n), pair_keys(np.asarray(known_idx, np.int64), n))
    return pairs_idx[keep]


def edge_density(
    labels: np.ndarray, pairs_idx: np.ndarray, reps: int = 10, seed: int = 0
) -> dict[str, Any]:
    """Within-cluster density of independent validation edges vs random matched clusters."""
    labels = np.asarray(labels, np.int64)
    C = membership_matrix(labels)
    sizes = np.asarray(C.sum(axis=1)).ravel().astype(np.int64)
    possible = sizes * (sizes - 1) / 2
    edges = within_cluster_edges(labels, pairs_idx)
    total = float(possible.sum())
    observed = float(edges.sum() / total) if total else float("nan")
    rng = np.random.default_rng(seed)
    n = len(labels)
    rand = []
    for _ in range(reps):
        perm_labels = np.full(n, -1, np.int64)
        chosen = rng.permutation(n)[: sizes.sum()]
        perm_labels[chosen] = np.repeat(np.arange(len(sizes)), sizes)
        rand.append(within_cluster_edges(perm_labels, pairs_idx).sum() / total if total else 0.0)
    r = np.asarray(rand, np.float64)
    return {
        "n_edges": int(len(pairs_idx)),
        "within_cluster_edges": int(edges.sum()),
        "density": observed,
        "random_density_mean": float(r.mean()) if r.size else float("nan"),
        "random_density_sd": float(r.std(ddof=1)) if r.size > 1 else float("nan"),
        "fold_over_random": float(observed / r.mean()) if r.size and r.mean() > 0 else None,
        "per_cluster_edges": edges,
    }


# ------------------------------------------------------------------ Table 9
def cluster_enrichment_table(
    analysis: ClusterAnalysis,
    library: Library,
    reps: int = 10,
    seed: int = 0,
    alpha: float = 0.05,
    correction: str = "bh",
) -> tuple[pd.DataFrame, Enrichment, Enrichment]:
    """The paper's Table 9 shape: association, association-specific, embedding and random rows."""
    if not np.array_equal(np.asarray(library.background), np.asarray(analysis.names)):
        raise ValueError("library background must be the analysed entities, in the same order")
    ea = enrich_labels(analysis.assoc_labels, library, alpha, correction)
    ee = enrich_labels(analysis.embed_labels, library, alpha, correction)
    spec = analysis.table["association_specific"].to_numpy(bool)
    rows = []

    def add(label: str, classes: np.ndarray, sizes: np.ndarray) -> None:
        k = len(classes)
        row: dict[str, Any] = {"clusters": label, "n": k, "entities": int(sizes.sum())}
        for c in CLASSES:
            row[f"pct_{KEYS[c]}"] = 100.0 * float((classes == c).sum()) / k if k else float("nan")
            row[f"sd_{KEYS[c]}"] = float("nan")
        rows.append(row)

    add("association space", ea.classes, ea.cluster_sizes)
    add("association-specific", ea.classes[spec], ea.cluster_sizes[spec])
    add("embedding space", ee.classes, ee.cluster_sizes)
    for label, sizes in (
        ("random, association sizes", ea.cluster_sizes),
        ("random, embedding sizes", ee.cluster_sizes),
    ):
        rb = random_baseline(sizes, library, reps, seed, alpha, correction)
        row = {"clusters": label, "n": int(len(sizes)), "entities": int(sizes.sum())}
        for c in CLASSES:
            row[f"pct_{KEYS[c]}"] = rb[f"pct_{KEYS[c]}"]
            row[f"sd_{KEYS[c]}"] = rb[f"sd_{KEYS[c]}"]
        rows.append(row)
    return pd.DataFrame(rows), ea, ee


def format_pct(mean: float, sd: float) -> str:
    """'41.0%' or '41.0 ± 3.2%' when an SD is known."""
    if mean != mean:
        return "-"
    return f"{mean:.1f}%" if sd != sd else f"{mean:.1f} ± {sd:.1f}%"


# ------------------------------------------------------------------ one call for the CLI
@dataclass
class ClusterReport:
    """Clusters of both spaces, their enrichment, baselines and independent validation."""

    analysis: ClusterAnalysis
    table9: pd.DataFrame | None
    assoc: Enrichment | None
    embed: Enrichment | None
    validation: dict[str, dict[str, Any]]
    params: dict[str, Any]

    def clusters_frame(self) -> pd.DataFrame:
        """Association clusters with enrichment class and best term."""
        t = self.analysis.table.copy()
        if self.assoc is not None:
            _add_best_term(t, self.assoc)
        return t

    def embedding_frame(self) -> pd.DataFrame:
        """Embedding clusters with enrichment class and best term."""
        t = self.analysis.embed_table.copy()
        if self.embed is not None:
            _add_best_term(t, self.embed)
        return t


def _add_best_term(t: pd.DataFrame, enr: Enrichment) -> None:
    best = enr.top_terms(top=1).set_index("cluster").reindex(t["cluster"])
    t["class"] = enr.classes
    t["top_term"] = best["term"].to_numpy()
    t["top_term_description"] = best["description"].to_numpy()
    t["top_term_overlap"] = best["overlap"].to_numpy()
    t["top_term_coverage"] = best["coverage"].to_numpy()
    t["top_term_p_adj"] = best["p_adj"].to_numpy()


def cluster_report(
    model: Any,
    gene_sets: Sequence[GeneSets] = (),
    validate_with: Sequence[Any] = (),
    *,
    min_cluster_size: int = 5,
    min_samples: int = 3,
    reps: int = 10,
    seed: int = 0,
    alpha: float = 0.05,
    correction: str = "bh",
    min_set_size: int = 5,
    max_set_size: int = 500,
    id_tables: IdTablesLike = None,
) -> ClusterReport:
    """Cluster a fitted CAL's two spaces, enrich against the embedded entities, validate.

    ``id_tables``: an ``IdResolver`` (or tables folder) converting validation identifiers.
    """
    from calbio.analysis.clusters import analyze_model
    from calbio.data.coerce import as_mapped_pairs

    if reps < 1:
        raise CalbioInputError("random repetitions must be >= 1 (use >= 10 for a baseline)")
    train_source = getattr(model, "sources_", {}).get("pairs")
    for vp in validate_with:  # refuse circular validation before any heavy work
        check_not_circular(train_source, vp.source, vp.sha256)
    analysis = analyze_model(model, min_cluster_size=min_cluster_size, min_samples=min_samples)
    params: dict[str, Any] = dict(analysis.params)
    table9 = ea = ee = None
    if gene_sets:
        lib = restrict_to_background(
            combine_gene_sets(list(gene_sets)), model.names_, min_set_size, max_set_size
        )
        table9, ea, ee = cluster_enrichment_table(analysis, lib, reps, seed, alpha, correction)
        params.update(
            {
                "gene_sets": lib.source,
                "background": f"the {lib.n_background:,} entities of the embedding table",
                "n_background": lib.n_background,
                "n_terms_read": lib.n_terms_read,
                "n_terms_tested": int(len(lib.terms)),
                "term_size_range": [min_set_size, max_set_size],
                "test": "one-sided hypergeometric (scipy.stats.hypergeom.sf)",
                "correction": f"{correction} across all tested terms, per cluster",
                "alpha": alpha,
                "random_reps": reps,
                "seed": seed,
            }
        )
    validation: dict[str, dict[str, Any]] = {}
    for vp in validate_with:
        mapped = as_mapped_pairs(vp, model.entity_table(), 0.0, id_tables).idx
        # pairs that are also training pairs would be in clusters by construction: drop them
        vidx = drop_known_pairs(mapped, model.train_pairs_, len(model.names_))
        stem = Path(vp.source).name.split(".")[0] or f"validation{len(validation)}"
        validation[stem] = {}
        for space, labels in (
            ("association", analysis.assoc_labels),
            ("embedding", analysis.embed_labels),
        ):
            d = edge_density(labels, vidx, reps=reps, seed=seed)
            d.pop("per_cluster_edges")
            d["n_mapped"] = int(len(mapped))
            d["n_training_pairs_dropped"] = int(len(mapped) - len(vidx))
            validation[stem][space] = d
    params["training_pairs"] = (train_source or {}).get("path")
    return ClusterReport(analysis, table9, ea, ee, validation, params)


def save_cluster_report(
    rep: ClusterReport, out: str | Path, *, force: bool = False, fmt: str = "csv"
) -> Path:
    """Write clusters, members, enrichment, Table 9, validation and params into a directory."""
    from calbio.core.io import atomic_dir, write_json_atomic

    if fmt not in ("csv", "parquet"):
        raise CalbioInputError(f"--format must be csv or parquet, got {fmt!r}")

    def put(df: pd.DataFrame, path: Path) -> None:
        if fmt == "csv":
            df.to_csv(path.with_suffix(".csv"), index=False)
        else:
            df.to_parquet(path.with_suffix(".parquet"), index=False)

    with atomic_dir(out, force=force) as tmp:
        clusters = rep.clusters_frame()
        clusters.to_csv(tmp / "clusters.csv", index=False)  # the report always reads CSV
        if fmt == "parquet":
            clusters.to_parquet(tmp / "clusters.parquet", index=False)
        put(rep.embedding_frame(), tmp / "embedding_clusters")
        put(rep.analysis.members_frame(), tmp / "members")
        if rep.assoc is not None:
            put(rep.assoc.top_terms(top=10), tmp / "enrichment")
            put(rep.embed.top_terms(top=10), tmp / "embedding_enrichment")
        if rep.table9 is not None:
            rep.table9.to_csv(tmp / "table9.csv", index=False)
        if rep.validation:
            write_json_atomic(tmp / "validation.json", rep.validation)
        write_json_atomic(tmp / "params.json", rep.params)
    return Path(out)
