"""Entity x context embeddings and context-aware pairs.

An entity (gene, compound) can have one embedding per *context* (cell line, assay condition,
dose). :class:`ContextEmbeddings` stores them flat: row ``r`` is entity ``entity[r]`` measured in
context ``context[r]``. Each context also has

* a categorical **label** (what the model learns an embedding for; by default the context's own
  name, but e.g. the cell line when contexts are ``(cell line, dose)`` combinations), and
* optional numeric **covariates** (dose, time...; pass log-dose rather than dose so that the
  model's covariate MLP sees a roughly linear scale and can interpolate between doses).

Three input layouts are read into the same object:

1. a long table: one row per (entity, context) with feature columns
   (:func:`context_embeddings_from_frame`, :func:`load_context_table` for CSV/TSV/Parquet);
2. one ordinary embedding table per context (:func:`context_embeddings_from_tables`);
3. AnnData whose ``obs`` has an entity and a context column (``.h5ad`` via
   :func:`load_context_table`, or :func:`context_embeddings_from_anndata`).

Pairs (:class:`ContextPairs`) are either context-free (they hold in every context where both
entities are measured) or carry a context; :func:`map_context_pairs` expands them to
(entity row, entity row, context) triples.

DepMap lineages (:func:`depmap_lineage_embeddings`) builds real contexts from the shared rank-50
factorisation; see its docstring for exactly how.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from calbio.core.errors import CalbioInputError
from calbio.core.graph import known_keys, pair_key, pair_keys, sample_uniform_negatives
from calbio.core.seeds import stream
from calbio.data.matching import resolve_identifiers
from calbio.data.types import Embeddings

if TYPE_CHECKING:
    from calbio.data.identifiers import IdTablesLike

__all__ = [
    "ContextEmbeddings",
    "ContextMappedPairs",
    "ContextPairs",
    "DEPMAP_LINEAGES",
    "context_embeddings_from_anndata",
    "context_embeddings_from_frame",
    "context_embeddings_from_tables",
    "context_indices",
    "context_pairs_from_frame",
    "depmap_lineage_embeddings",
    "load_context_pairs",
    "load_context_table",
    "map_context_pairs",
    "split_by_pair",
    "within_context_negatives",
]

DEPMAP_LINEAGES: tuple[str, ...] = ("liver", "melanoma", "neuroblastoma")


@dataclass
class ContextEmbeddings:
    """Embeddings of entities in contexts, stored flat: row r = (entity[r], context[r], X[r])."""

    entities: np.ndarray  # (n,) unique entity identifiers
    contexts: np.ndarray  # (k,) unique context names
    X: np.ndarray  # (r, d) float32 features
    entity: np.ndarray  # (r,) int64 index into entities
    context: np.ndarray  # (r,) int64 index into contexts
    labels: np.ndarray | None = None  # (k,) categorical label per context (default: its name)
    covariates: pd.DataFrame | None = None  # (k, q) numeric covariates, index = contexts
    source: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.entities = np.asarray(self.entities, dtype=object)
        self.contexts = np.asarray(self.contexts, dtype=object)
        self.X = np.ascontiguousarray(self.X, dtype=np.float32)
        self.entity = np.asarray(self.entity, dtype=np.int64)
        self.context = np.asarray(self.context, dtype=np.int64)
        if self.X.ndim != 2 or len(self.entity) != len(self.X) or len(self.context) != len(self.X):
            raise ValueError("X, entity and context must have the same number of rows")
        if len(set(map(str, self.entities))) != len(self.entities):
            raise ValueError("entity identifiers must be unique")
        if len(set(map(str, self.contexts))) != len(self.contexts):
            raise ValueError("context names must be unique")
        self.labels = (
            self.contexts.copy() if self.labels is None else np.asarray(self.labels, dtype=object)
        )
        if self.labels.shape != self.contexts.shape:
            raise ValueError("one label per context is required")
        if self.covariates is None:
            self.covariates = pd.DataFrame(index=pd.Index(self.contexts, name="context"))
        self.covariates = self.covariates.reindex(self.contexts).astype(np.float64)
        if self.covariates.isna().any().any():
            raise ValueError("every context needs a value for every covariate")
        k, n = len(self.contexts), len(self.entities)
        row_of = np.full((k, n), -1, dtype=np.int64)
        row_of[self.context, self.entity] = np.arange(len(self.X))
        if (row_of >= 0).sum() != len(self.X):
            raise ValueError("an (entity, context) combination appears twice")
        self.row_of = row_of

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def dim(self) -> int:
        """Number of features."""
        return int(self.X.shape[1])

    @property
    def n_entities(self) -> int:
        """Number of distinct entities."""
        return int(len(self.entities))

    @property
    def n_contexts(self) -> int:
        """Number of contexts."""
        return int(len(self.contexts))

    @property
    def covariate_names(self) -> list[str]:
        """Names of the numeric covariates."""
        return [str(c) for c in self.covariates.columns]

    def entity_table(self) -> Embeddings:
        """The entity index as an ``Embeddings`` (for identifier matching; features unused)."""
        return Embeddings(self.entities, np.zeros((self.n_entities, 0), np.float32))

    def entity_index(self) -> dict[str, int]:
        """Map entity identifier -> entity index."""
        return {str(e): i for i, e in enumerate(self.entities)}

    def context_index(self) -> dict[str, int]:
        """Map context name -> context index."""
        return {str(c): i for i, c in enumerate(self.contexts)}

    def context_of(self, name: str) -> int:
        """Index of a context by name; CalbioInputError listing the choices otherwise."""
        return int(context_indices(self.contexts, [name])[0])

    def rows(self, entity_idx: np.ndarray, context_idx: np.ndarray) -> np.ndarray:
        """Row of each (entity, context) combination; -1 where the entity is not measured."""
        return self.row_of[np.asarray(context_idx, np.int64), np.asarray(entity_idx, np.int64)]

    def embeddings_for(self, context: str | int) -> Embeddings:
        """The ordinary embedding table of one context."""
        c = context if isinstance(context, int | np.integer) else self.context_of(str(context))
        sel = np.flatnonzero(self.context == c)
        return Embeddings(
            self.entities[self.entity[sel]],
            self.X[sel],
            source=f"{self.source}#{self.contexts[c]}",
            meta={"context": str(self.contexts[c])},
        )

    def subset(self, contexts: Sequence[str]) -> ContextEmbeddings:
        """A copy restricted to some contexts (entity index kept)."""
        keep_c = np.array([self.context_of(c) for c in contexts], dtype=np.int64)
        new_of = np.full(self.n_contexts, -1, dtype=np.int64)
        new_of[keep_c] = np.arange(len(keep_c))
        rows = np.flatnonzero(new_of[self.context] >= 0)
        return ContextEmbeddings(
            self.entities,
            self.contexts[keep_c],
            self.X[rows],
            self.entity[rows],
            new_of[self.context[rows]],
            self.labels[keep_c],
            self.covariates.iloc[keep_c],
            self.source,
            dict(self.meta),
        )

    def to_frame(
        self, entity_column: str = "entity", context_column: str = "context"
    ) -> pd.DataFrame:
        """Long table: entity, context, label, covariates..., f0..f{d-1}."""
        df = pd.DataFrame(
            {
                entity_column: self.entities[self.entity],
                context_column: self.contexts[self.context],
                "label": self.labels[self.context],
            }
        )
        for col in self.covariates.columns:
            df[str(col)] = self.covariates[col].to_numpy()[self.context]
        feats = pd.DataFrame(self.X, columns=[f"f{i}" for i in range(self.dim)])
        return pd.concat([df, feats], axis=1)


def context_indices(contexts: np.ndarray, names: Any) -> np.ndarray:
    """Index of each context name in ``contexts``; CalbioInputError naming the choices otherwise."""
    lookup = {str(c): i for i, c in enumerate(contexts)}
    wanted = [str(n) for n in np.atleast_1d(np.asarray(names, dtype=object))]
    unknown = [n for n in wanted if n not in lookup]
    if unknown:
        raise CalbioInputError(
            f"unknown context {unknown[0]!r}; contexts: {', '.join(map(str, contexts[:10]))}"
            + (" ..." if len(contexts) > 10 else "")
        )
    return np.array([lookup[n] for n in wanted], dtype=np.int64)


def _require_columns(
    present: Any, wanted: Sequence[str | None], source: str, where: str = "table"
) -> list[str]:
    """The named columns (None skipped); CalbioInputError listing what is there otherwise."""
    named = [c for c in wanted if c]
    missing = [c for c in named if c not in present]
    if missing:
        raise CalbioInputError(
            f"column(s) {missing} not found in the {where}; it has {list(map(str, present[:12]))}",
            source,
        )
    return named


def _factorize(values: Any) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(pd.Series(values, dtype=object).astype(str), sort=False)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _feature_matrix(
    df: pd.DataFrame, named: list[str], feature_columns: Sequence[str] | None, source: str
) -> tuple[np.ndarray, Sequence[str]]:
    """The finite float32 feature matrix and its columns (default: every other numeric column)."""
    if feature_columns is None:
        rest = [c for c in df.columns if c not in named]
        feature_columns = [c for c in rest if pd.api.types.is_numeric_dtype(df[c])]
        dropped = [str(c) for c in rest if c not in feature_columns]
        if dropped and len(dropped) == len(rest):
            raise CalbioInputError(
                f"no numeric feature columns (non-numeric: {dropped[:5]})", source
            )
    if not feature_columns:
        raise CalbioInputError("no feature columns", source)
    try:
        X = df[list(feature_columns)].to_numpy(dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise CalbioInputError(f"feature columns are not numeric: {exc}", source) from None
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X).all(axis=1)).sum())
        raise CalbioInputError(f"{bad:,} rows have missing or infinite feature values", source)
    return X, feature_columns


def _per_context_labels(
    df: pd.DataFrame, label_column: str | None, ctx: np.ndarray, first: np.ndarray, source: str
) -> np.ndarray | None:
    """Each context's label (None without a label column); it must not vary within a context."""
    if not label_column:
        return None
    lab = df[label_column].astype(str).to_numpy(dtype=object)
    per_ctx = pd.Series(lab).groupby(ctx).nunique()
    if (per_ctx > 1).any():
        raise CalbioInputError(f"label column {label_column!r} varies within a context", source)
    return lab[first]


def _per_context_covariates(
    df: pd.DataFrame,
    covariate_columns: Sequence[str],
    ctx: np.ndarray,
    first: np.ndarray,
    contexts: np.ndarray,
    source: str,
) -> pd.DataFrame | None:
    """Numeric covariates, one row per context (None without covariate columns)."""
    if not covariate_columns:
        return None
    cov_df = df[list(covariate_columns)].apply(pd.to_numeric, errors="coerce")
    if cov_df.isna().any().any():
        raise CalbioInputError(
            f"covariate columns {list(covariate_columns)} must be numeric and complete", source
        )
    spread = cov_df.groupby(ctx).nunique()
    if (spread > 1).any().any():
        raise CalbioInputError("a covariate varies within a context", source)
    return cov_df.iloc[first].set_axis(pd.Index(contexts, name="context"))


def context_embeddings_from_frame(
    df: pd.DataFrame,
    entity_column: str = "entity",
    context_column: str = "context",
    *,
    label_column: str | None = None,
    covariate_columns: Sequence[str] = (),
    feature_columns: Sequence[str] | None = None,
    source: str = "dataframe",
) -> ContextEmbeddings:
    """Build ContextEmbeddings from a long table (one row per entity x context)."""
    if not isinstance(df, pd.DataFrame):
        raise CalbioInputError(f"expected a pandas DataFrame, got {type(df).__name__}", source)
    named = _require_columns(
        df.columns, (entity_column, context_column, label_column, *covariate_columns), source
    )
    X, feature_columns = _feature_matrix(df, named, feature_columns, source)
    if df[entity_column].isna().any() or df[context_column].isna().any():
        raise CalbioInputError("empty entity or context identifiers", source)
    ent, entities = _factorize(df[entity_column])
    ctx, contexts = _factorize(df[context_column])
    keys = ctx * max(len(entities), 1) + ent
    if len(np.unique(keys)) != len(keys):
        raise CalbioInputError(
            f"an (entity, context) combination appears twice ({entity_column!r}, "
            f"{context_column!r})",
            source,
        )
    first = np.unique(ctx, return_index=True)[1]
    labels = _per_context_labels(df, label_column, ctx, first, source)
    cov = _per_context_covariates(df, covariate_columns, ctx, first, contexts, source)
    return ContextEmbeddings(
        entities,
        contexts,
        X,
        ent,
        ctx,
        labels,
        cov,
        source=source,
        meta={
            "format": "long",
            "entity_column": entity_column,
            "context_column": context_column,
            "label_column": label_column,
            "covariates": list(map(str, covariate_columns)),
            "features": [str(c) for c in feature_columns],
        },
    )


def context_embeddings_from_anndata(
    adata: Any,
    entity_column: str,
    context_column: str,
    *,
    label_column: str | None = None,
    covariate_columns: Sequence[str] = (),
    layer: str | None = None,
    source: str = "anndata",
) -> ContextEmbeddings:
    """Build ContextEmbeddings from AnnData: obs names the entity and context of each row."""
    X = adata.layers[layer] if layer else adata.X
    if hasattr(X, "toarray"):
        X = X.toarray()
    obs = adata.obs
    cols = _require_columns(
        obs.columns,
        (entity_column, context_column, label_column, *covariate_columns),
        source,
        "obs",
    )
    feats = pd.DataFrame(np.asarray(X, dtype=np.float32)).add_prefix("f")
    frame = pd.concat([obs[cols].reset_index(drop=True).astype(object), feats], axis=1)
    for c in covariate_columns:
        frame[c] = pd.to_numeric(frame[c], errors="coerce")
    out = context_embeddings_from_frame(
        frame,
        entity_column,
        context_column,
        label_column=label_column,
        covariate_columns=covariate_columns,
        feature_columns=list(feats.columns),
        source=source,
    )
    out.meta["format"] = "h5ad"
    return out


def load_context_table(
    path: str | Path,
    entity_column: str = "entity",
    context_column: str = "context",
    *,
    label_column: str | None = None,
    covariate_columns: Sequence[str] = (),
    layer: str | None = None,
) -> ContextEmbeddings:
    """Read a long context table from CSV/TSV(.gz), Parquet or .h5ad (obs columns)."""
    p = Path(path)
    if not p.is_file():
        raise CalbioInputError("file not found", p)
    name = p.name.lower()
    kw = dict(label_column=label_column, covariate_columns=covariate_columns, source=str(p))
    try:
        if name.endswith(".h5ad"):
            import anndata

            adata = anndata.read_h5ad(p)
            return context_embeddings_from_anndata(
                adata, entity_column, context_column, layer=layer, **kw
            )
        if name.endswith((".parquet", ".pq")):
            df = pd.read_parquet(p)
        else:
            sep = "\t" if name.endswith((".tsv", ".tsv.gz", ".tab", ".txt", ".txt.gz")) else ","
            df = pd.read_csv(p, sep=sep, dtype={entity_column: str, context_column: str})
    except CalbioInputError:
        raise
    except Exception as exc:  # unreadable file: one line naming it
        raise CalbioInputError(
            f"cannot read table: {' '.join(str(exc).split())[:200]}", p
        ) from None
    return context_embeddings_from_frame(df, entity_column, context_column, **kw)


def context_embeddings_from_tables(
    tables: Mapping[str, Embeddings | pd.DataFrame | str | Path],
    *,
    labels: Mapping[str, str] | None = None,
    covariates: pd.DataFrame | None = None,
    source: str = "tables",
) -> ContextEmbeddings:
    """One ordinary embedding table per context (same feature count) -> ContextEmbeddings.

    ``covariates`` is a DataFrame indexed by context name; ``labels`` maps context -> label.
    """
    from calbio.data.embeddings import embeddings_from_frame, load_embeddings

    if not tables:
        raise CalbioInputError("no context tables given", source)
    parts, dims = [], set()
    for ctx, tab in tables.items():
        if isinstance(tab, str | Path):
            tab = load_embeddings(tab)
        elif isinstance(tab, pd.DataFrame):
            tab = embeddings_from_frame(tab, source=f"{source}#{ctx}")
        dims.add(tab.dim)
        parts.append((str(ctx), tab))
    if len(dims) != 1:
        raise CalbioInputError(f"context tables differ in feature count: {sorted(dims)}", source)
    ent_codes, entities = _factorize(np.concatenate([t.names for _, t in parts]))
    ctx_codes = np.concatenate([np.full(len(t), i) for i, (_, t) in enumerate(parts)])
    contexts = np.array([c for c, _ in parts], dtype=object)
    lab = None if labels is None else np.array([labels.get(c, c) for c in contexts], dtype=object)
    return ContextEmbeddings(
        entities,
        contexts,
        np.concatenate([t.X for _, t in parts]),
        ent_codes,
        ctx_codes,
        lab,
        covariates,
        source=source,
        meta={"format": "tables", "tables": {c: t.source for c, t in parts}},
    )


# ---------------------------------------------------------------------------------------- pairs
@dataclass
class ContextPairs:
    """Undirected pairs by identifier; ``context`` is None/"" for context-free pairs."""

    a: np.ndarray
    b: np.ndarray
    context: np.ndarray  # (m,) object: context name, or "" meaning "every context"
    source: str = ""

    def __post_init__(self) -> None:
        self.a = np.asarray(self.a, dtype=object)
        self.b = np.asarray(self.b, dtype=object)
        ctx = pd.Series(self.context, dtype=object).fillna("").astype(str).to_numpy(dtype=object)
        self.context = ctx
        if not (self.a.shape == self.b.shape == self.context.shape):
            raise ValueError("a, b and context must have the same length")

    def __len__(self) -> int:
        return int(self.a.shape[0])

    @property
    def context_free(self) -> bool:
        """True when no pair names a context."""
        return bool((self.context == "").all())


@dataclass
class ContextMappedPairs:
    """Pairs resolved to entity indices in a context: idx (m, 2) entity rows, context (m,)."""

    idx: np.ndarray
    context: np.ndarray
    n_entities: int
    n_contexts: int
    stats: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.idx = np.asarray(self.idx, dtype=np.int64).reshape(-1, 2)
        self.context = np.asarray(self.context, dtype=np.int64).reshape(-1)
        if len(self.idx) != len(self.context):
            raise ValueError("idx and context must have the same length")

    def __len__(self) -> int:
        return int(self.idx.shape[0])

    def keys(self) -> np.ndarray:
        """Orientation-free entity-pair key of each row (ignores the context)."""
        return pair_keys(self.idx, self.n_entities)

    def context_keys(self) -> np.ndarray:
        """Key of each (pair, context) triple."""
        return self.context * (self.n_entities * self.n_entities) + self.keys()

    def select(self, mask: np.ndarray) -> ContextMappedPairs:
        """Rows where ``mask`` is true (or the given row indices)."""
        return ContextMappedPairs(
            self.idx[mask], self.context[mask], self.n_entities, self.n_contexts, dict(self.stats)
        )


def context_pairs_from_frame(
    df: pd.DataFrame,
    columns: tuple[str, str] | None = None,
    context_column: str | None = None,
    source: str = "dataframe",
) -> ContextPairs:
    """Pairs from a DataFrame: two identifier columns and an optional context column."""
    if context_column is not None and context_column not in df.columns:
        raise CalbioInputError(f"context column {context_column!r} not found", source)
    if columns is None:
        lower = {str(c).strip().lstrip("#").casefold(): c for c in df.columns}
        for a, b in (("gene1", "gene2"), ("entity1", "entity2"), ("a", "b"), ("source", "target")):
            if a in lower and b in lower:
                columns = (lower[a], lower[b])
                break
        else:
            rest = [c for c in df.columns if c != context_column]
            if len(rest) < 2:
                raise CalbioInputError("need two identifier columns", source)
            columns = (rest[0], rest[1])
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CalbioInputError(f"pair column(s) {missing} not found", source)
    ctx = df[context_column] if context_column else np.full(len(df), "", dtype=object)
    return ContextPairs(
        df[columns[0]].astype(str).to_numpy(dtype=object),
        df[columns[1]].astype(str).to_numpy(dtype=object),
        np.asarray(ctx, dtype=object),
        source=source,
    )


def load_context_pairs(
    path: str | Path,
    columns: tuple[str, str] | None = None,
    context_column: str | None = None,
) -> ContextPairs:
    """Read pairs (CSV/TSV, gzip ok); with ``context_column`` each pair holds in one context."""
    p = Path(path)
    if not p.is_file():
        raise CalbioInputError("file not found", p)
    if context_column is None:
        from calbio.data.pairs import load_pairs

        prs = load_pairs(p, columns=columns)
        return ContextPairs(prs.a, prs.b, np.full(len(prs), "", dtype=object), source=str(p))
    name = p.name.lower()
    sep = "\t" if name.endswith((".tsv", ".tsv.gz", ".tab")) else ","
    try:
        df = pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise CalbioInputError(
            f"cannot read pairs: {' '.join(str(exc).split())[:200]}", p
        ) from None
    return context_pairs_from_frame(df, columns, context_column, source=str(p))


def map_context_pairs(
    pairs: ContextPairs,
    cemb: ContextEmbeddings,
    *,
    min_fraction: float = 0.5,
    id_tables: IdTablesLike = None,
) -> ContextMappedPairs:
    """Resolve pairs to (entity, entity, context) rows; context-free pairs go to every context.

    A pair is kept in a context only when both entities are measured there. Self-pairs and
    duplicates (either orientation, same context) are dropped. Identifiers match exactly, then
    case-insensitively when unambiguous, then through ``id_tables`` (an ``IdResolver``, a
    folder or tables; default $CALBIO_ID_TABLES). Fewer than ``min_fraction`` of the input
    pairs mapping onto the entity index is an error (the wrong identifier type, most likely).
    """
    if len(pairs) == 0:
        raise CalbioInputError("no pairs to map", pairs.source or None)
    m = len(pairs)
    codes, uniques = pd.factorize(pd.Series(np.concatenate([pairs.a, pairs.b]), dtype=object))
    uniques = np.asarray(uniques, dtype=object)
    rows, ci = resolve_identifiers(uniques, cemb.entity_table(), id_tables)
    ra, rb = rows[codes[:m]], rows[codes[m:]]
    ok = (ra >= 0) & (rb >= 0) & (ra != rb)
    frac = float(((ra >= 0) & (rb >= 0)).mean())
    if frac < min_fraction:
        raise CalbioInputError(
            f"only {frac:.1%} of pairs map onto the entity index (min_fraction {min_fraction}); "
            "check identifiers or lower min-mapped",
            pairs.source or None,
        )
    cidx = cemb.context_index()
    named = pairs.context != ""
    pc = np.full(len(pairs), -1, dtype=np.int64)
    if named.any():
        pc[named] = pd.Series(pairs.context[named]).map(cidx).fillna(-2).to_numpy(np.int64)
    unknown_ctx = int((pc == -2).sum())
    ok &= pc != -2
    k = cemb.n_contexts
    # context-free pairs: one row per context; context-specific pairs: their own context
    free = ok & ~named
    spec = ok & named
    fa, fb = np.repeat(ra[free], k), np.repeat(rb[free], k)
    fc = np.tile(np.arange(k, dtype=np.int64), int(free.sum()))
    a = np.concatenate([fa, ra[spec]])
    b = np.concatenate([fb, rb[spec]])
    c = np.concatenate([fc, pc[spec]])
    present = (cemb.row_of[c, a] >= 0) & (cemb.row_of[c, b] >= 0)
    a, b, c = a[present], b[present], c[present]
    n = cemb.n_entities
    key = c * (n * n) + pair_key(a, b, n)
    _, first = np.unique(key, return_index=True)
    first = np.sort(first)
    out = ContextMappedPairs(
        np.stack([a[first], b[first]], axis=1),
        c[first],
        n,
        k,
        {
            "n_input": len(pairs),
            "n_mapped_pairs": int(ok.sum()),
            "fraction_mapped": frac,
            "n_case_insensitive_ids": int(ci.sum()),
            "n_ids": int(len(uniques)),
            "n_ids_unmapped": int((rows < 0).sum()),
            "examples_unmapped": [str(x) for x in uniques[rows < 0][:5]],
            "n_context_free": int(free.sum()),
            "n_context_specific": int(spec.sum()),
            "n_unknown_context": unknown_ctx,
            "n_rows": int(len(first)),
            "rows_per_context": np.bincount(c[first], minlength=k).tolist(),
        },
    )
    if len(out) == 0:
        raise CalbioInputError("no pair has both entities measured in a context", pairs.source)
    return out


def split_by_pair(
    pairs: ContextMappedPairs, fraction: float, seed: int
) -> tuple[ContextMappedPairs, ContextMappedPairs]:
    """Seeded split of distinct entity pairs: a pair is on the same side in every context."""
    keys = pairs.keys()
    uniq = np.unique(keys)
    rng = stream(seed, "split")
    n_out = int(round(fraction * len(uniq)))
    out_keys = rng.choice(uniq, size=n_out, replace=False) if n_out else uniq[:0]
    held = np.isin(keys, out_keys)
    return pairs.select(~held), pairs.select(held)


def within_context_negatives(
    positives: ContextMappedPairs,
    per_positive: int,
    cemb: ContextEmbeddings,
    known: ContextMappedPairs,
    rng: np.random.Generator,
) -> ContextMappedPairs:
    """Uniform non-pairs inside each positive's context (never a known pair of that context)."""
    n = cemb.n_entities
    out_idx, out_ctx = [], []
    for c in np.unique(positives.context):  # loop over contexts only
        m = int((positives.context == c).sum()) * per_positive
        universe = np.flatnonzero(cemb.row_of[c] >= 0)
        kk = known_keys(known.idx[known.context == c], n)
        neg = sample_uniform_negatives(m, universe, kk, n, rng)
        out_idx.append(neg)
        out_ctx.append(np.full(len(neg), c, dtype=np.int64))
    idx = np.concatenate(out_idx) if out_idx else np.zeros((0, 2), np.int64)
    ctx = np.concatenate(out_ctx) if out_ctx else np.zeros(0, np.int64)
    return ContextMappedPairs(idx, ctx, n, cemb.n_contexts)


# ---------------------------------------------------------------------------- DepMap lineages
def _lineage_cell_lines(root: Path, lineage: str, scored: pd.Index) -> list[str]:
    """The cell lines (``ACH-...`` header columns) of a lineage file; all must have scores."""
    f = root / "contexts" / f"depmap_{lineage}_500_genes.csv"
    if not f.is_file():
        raise CalbioInputError("lineage file not found", f)
    ach = [c for c in pd.read_csv(f, nrows=0).columns if str(c).startswith("ACH-")]
    missing = [a for a in ach if a not in scored]
    if missing:
        raise CalbioInputError(f"cell lines missing from the score table: {missing[:3]}", f)
    return ach


def _lineage_gene_embedding(
    W: np.ndarray, S: np.ndarray, lineage: str, representation: str, n_components: int
) -> np.ndarray:
    """Gene rows of one lineage (float32): shared-axes isometry or per-lineage PCA (see above)."""
    Sc = S - S.mean(axis=0)
    if representation == "shared":
        _, sig, vt = np.linalg.svd(Sc, full_matrices=False)
        X = W @ (vt.T * sig) @ vt  # rows: V Sigma V^T w_g
    else:
        n_lines = len(S)
        k = min(n_components, n_lines - 1)
        if k < n_components:
            raise CalbioInputError(
                f"lineage {lineage!r} has {n_lines} lines: n_components must be <= {n_lines - 1}"
            )
        prof = W @ Sc.T  # genes x n_L centred profiles
        from sklearn.decomposition import PCA

        Z = PCA(n_components=k, random_state=0).fit_transform(prof)
        X = Z / Z.std(axis=0, keepdims=True)
    return X.astype(np.float32)


def depmap_lineage_embeddings(
    data_dir: str | Path,
    lineages: Sequence[str] = DEPMAP_LINEAGES,
    *,
    representation: str = "shared",
    n_components: int = 16,
) -> ContextEmbeddings:
    """Per-lineage gene embeddings rebuilt from DepMap's rank-50 CRISPR factorisation.

    Inputs (``data_dir`` = ``../shared/data``): gene loadings ``W`` (genes x 50,
    ``embeddings/depmap_crispr_gene_effect_pca50.csv``), cell-line scores ``S`` (lines x 50,
    ``embeddings/depmap_crispr_cell_line_scores_pca50.csv.gz``) and, per lineage, the cell lines
    (``ACH-...`` column names of ``contexts/depmap_<lineage>_500_genes.csv``; only the header is
    read). For lineage L with scores ``S_L`` (n_L x 50):

    1. profiles ``P_L = S_L @ W.T`` (n_L x genes): the rank-50 gene effect of every gene in every
       line of the lineage; centred over the lineage's lines: ``Pc = P_L - mean``.
    2. ``representation="shared"`` (default): with the SVD of the centred scores
       ``S_Lc = U Sigma V^T``, gene g gets ``x_gL = V Sigma V^T w_g`` (50-d) = ``(U V^T)^T`` applied
       to its centred profile. This is an isometry of the centred profiles (``x_gL . x_hL =
       Pc_g . Pc_h``, so L2-normalised it gives exactly the within-lineage Pearson correlation of
       gene effects) expressed in the shared 50 PCA axes, so all lineages share one coordinate
       system and one model can read all of them.
       ``representation="pca"``: per-lineage PCA of the centred profiles (genes as samples) to
       ``n_components`` (<= n_L - 1), each component standardised; axes are lineage-specific.

    The label of each context is the lineage name; there are no numeric covariates.
    """
    root = Path(data_dir)
    load_f = root / "embeddings" / "depmap_crispr_gene_effect_pca50.csv"
    score_f = root / "embeddings" / "depmap_crispr_cell_line_scores_pca50.csv.gz"
    for f in (load_f, score_f):
        if not f.is_file():
            raise CalbioInputError("DepMap factor file not found", f)
    if representation not in ("shared", "pca"):
        raise CalbioInputError(f"representation must be 'shared' or 'pca', got {representation!r}")
    loadings = pd.read_csv(load_f, index_col=0)
    scores = pd.read_csv(score_f, index_col=0)
    W = loadings.to_numpy(np.float64)
    scores = scores[loadings.columns]
    genes = loadings.index.astype(str).to_numpy(dtype=object)
    blocks, lines_used = [], {}
    for lin in lineages:
        ach = _lineage_cell_lines(root, lin, scores.index)
        S = scores.loc[ach].to_numpy(np.float64)
        blocks.append(_lineage_gene_embedding(W, S, lin, representation, n_components))
        lines_used[lin] = list(ach)
    n, k = len(genes), len(lineages)
    return ContextEmbeddings(
        genes,
        np.array(list(lineages), dtype=object),
        np.concatenate(blocks),
        np.tile(np.arange(n), k),
        np.repeat(np.arange(k), n),
        source=str(root),
        meta={
            "format": "depmap-lineages",
            "representation": representation,
            "n_components": n_components if representation == "pca" else W.shape[1],
            "cell_lines": lines_used,
        },
    )
