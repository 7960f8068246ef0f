"""Resolve pair identifiers to rows of an embedding table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from calbio.data.types import Embeddings, MappedPairs, Pairs
from calbio.errors import CalbioInputError


def _resolve(uniques: np.ndarray, embeddings: Embeddings) -> tuple[np.ndarray, np.ndarray]:
    """Row for each unique identifier (-1 if none) and a mask of case-insensitive matches."""
    ids = pd.Series(uniques, dtype=object).astype(str)
    rows = ids.map(embeddings.index).fillna(-1).to_numpy().astype(np.int64)
    missing = rows < 0
    ci = np.zeros(len(ids), dtype=bool)
    if missing.any():
        folded = pd.Series(embeddings.names, dtype=object).astype(str).str.casefold()
        counts = folded.value_counts()
        unique_folds = folded[folded.map(counts).to_numpy() == 1]
        fold_to_row = pd.Series(unique_folds.index.to_numpy(np.int64), index=unique_folds.values)
        found = ids[missing].str.casefold().map(fold_to_row)
        hit = found.notna().to_numpy()
        where = np.flatnonzero(missing)
        rows[where[hit]] = found[hit].to_numpy().astype(np.int64)
        ci[where[hit]] = True
    return rows, ci


def map_pairs(pairs: Pairs, embeddings: Embeddings, *, min_fraction: float = 0.5) -> MappedPairs:
    """Map pair identifiers to embedding rows (exact, then unambiguous case-insensitive)."""
    m = len(pairs)
    if m == 0:
        raise CalbioInputError("no pairs to map", pairs.source or None)
    allids = pd.Series(np.concatenate([pairs.a, pairs.b]), dtype=object)
    codes, uniques = pd.factorize(allids, sort=False)
    uniques = np.asarray(uniques, dtype=object)
    rows, ci = _resolve(uniques, embeddings)

    ra, rb = rows[codes[:m]], rows[codes[m:]]
    ok = (ra >= 0) & (rb >= 0)
    n_unmapped = int((~ok).sum())
    ra, rb = ra[ok], rb[ok]
    selfp = ra == rb
    lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
    key = lo * np.int64(max(len(embeddings), 1)) + hi
    dup = pd.Series(key).duplicated(keep="first").to_numpy(bool) & ~selfp
    keep = ~(selfp | dup)
    idx = np.stack([ra[keep], rb[keep]], axis=1) if keep.any() else np.empty((0, 2), np.int64)
    n_mapped = int(idx.shape[0])

    failed = uniques[rows < 0]  # in order of first appearance
    failed_first = [str(x) for x in failed[:5]]
    stats = {
        "n_input": m,
        "n_mapped": n_mapped,
        "n_unmapped": n_unmapped,
        "n_collapsed": int(selfp.sum() + dup.sum()),
        "n_case_insensitive_ids": int(ci.sum()),
        "n_ids": int(len(uniques)),
        "n_ids_unmapped": int(len(failed)),
        "n_entities_mapped": int(np.unique(idx).size),
        "fraction_mapped": n_mapped / m,
        "examples_unmapped": failed_first,
    }
    if stats["fraction_mapped"] < min_fraction:
        pct = f"{100 * n_mapped / m:.1f}"
        examples = ", ".join(repr(x) for x in failed_first) or "none (pairs collapsed)"
        raise CalbioInputError(
            f"only {n_mapped:,} of {m:,} pairs ({pct}%) map to the embedding identifiers "
            f"(need >= {100 * min_fraction:g}%); examples of unmatched ids: {examples}. If the "
            f"pairs cover a larger universe than the table (e.g. genome-wide STRING), lower "
            f"the threshold with --min-mapped (API: min_mapped)",
            pairs.source or None,
        )
    return MappedPairs(idx=idx, n_entities=len(embeddings), stats=stats)


def summarize_mapping(mapped: MappedPairs) -> str:
    """One human-readable line describing how pairs mapped onto the embedding table."""
    st = mapped.stats
    n_in = int(st.get("n_input", len(mapped)))
    n_map = int(st.get("n_mapped", len(mapped)))
    pct = 100.0 * n_map / n_in if n_in else 0.0
    n_ent = int(st.get("n_entities_mapped", np.unique(mapped.idx).size))
    n_ci = int(st.get("n_case_insensitive_ids", 0))
    line = f"{n_map:,} of {n_in:,} pairs mapped ({pct:.1f}%) onto {n_ent:,} entities"
    line += f"; {n_ci:,} id{'' if n_ci == 1 else 's'} matched case-insensitively"
    n_col = int(st.get("n_collapsed", 0))
    if n_col:
        line += f"; {n_col:,} pair{'' if n_col == 1 else 's'} collapsed after mapping"
    return line


def resolve_identifiers(ids: np.ndarray, embeddings: Embeddings) -> tuple[np.ndarray, np.ndarray]:
    """Row of each identifier (-1 if none; exact, then unambiguous case-insensitive) and a mask
    of the case-insensitive matches; the one matching rule for every pair reader."""
    return _resolve(np.asarray(ids, dtype=object), embeddings)
