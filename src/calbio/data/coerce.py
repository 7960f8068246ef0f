"""The entrance: any embedding or pair input becomes ``Embeddings`` / ``MappedPairs``, once.

This module is the one door for pairs. Every model (``fit``, ``score_pairs``, ``pair_index``,
the context model's ``fit`` / ``adapt_context``), every evaluation and every command turns the
pairs a user gives (a ``Pairs``, a DataFrame, a file path, a list of tuples, a ``MappedPairs``,
an (m, 2) integer array of rows; for the context model also ``ContextPairs`` /
``ContextMappedPairs``) into row indices through :func:`as_mapped_pairs` or
:func:`as_context_mapped_pairs`, with the identifier tables passed in explicitly (``id_tables``:
an ``IdResolver``). Nothing outside ``calbio.data`` calls the matching engine
(:func:`calbio.data.matching.map_pairs`) directly (tests/data/test_coerce.py checks it). The
mapping report (pairs mapped, ids converted, unknown ids) comes back on ``MappedPairs.stats``
and ``.id_mapping``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from calbio.core.errors import CalbioInputError
from calbio.data.types import Embeddings, MappedPairs, Pairs

if TYPE_CHECKING:
    from calbio.data.context import ContextEmbeddings, ContextMappedPairs, ContextPairs
    from calbio.data.identifiers import IdTablesLike

EmbeddingsLike = Embeddings | pd.DataFrame | Any  # Any: an AnnData (anndata is imported lazily)
PairsLike = (
    Pairs | MappedPairs | pd.DataFrame | np.ndarray | str | os.PathLike | Sequence[tuple[str, str]]
)
# the context model's pairs: ContextPairs, ContextMappedPairs, a DataFrame (optional
# ``context`` column) or any plain pair input (context-free: the pair holds in every context)
ContextPairsLike = Any


def as_embeddings(
    embeddings: EmbeddingsLike | np.ndarray, names: Sequence[str] | None = None
) -> Embeddings:
    """Coerce an AnnData, a DataFrame (index = identifiers), a path, or an array (+ names)."""
    from calbio.data.embeddings import embeddings_from_array, load_embeddings

    if isinstance(embeddings, Embeddings):
        return embeddings
    if not isinstance(embeddings, np.ndarray | list):
        return load_embeddings(embeddings)  # AnnData, DataFrame, file path
    X = np.asarray(embeddings)
    if names is None:
        names = [str(i) for i in range(X.shape[0])]
    return embeddings_from_array(X, names)


def as_pairs(pairs: Pairs | pd.DataFrame | str | os.PathLike | Sequence[Sequence[Any]]) -> Pairs:
    """Coerce pairs given by identifier: a ``Pairs``, a DataFrame, a file path, a list of tuples."""
    from calbio.data.pairs import load_pairs, pairs_from_frame, pairs_from_list

    if isinstance(pairs, Pairs):
        return pairs
    if isinstance(pairs, str | os.PathLike):  # a file, read as `calbio fit` reads it
        return load_pairs(pairs)
    if isinstance(pairs, pd.DataFrame):
        return pairs_from_frame(pairs)
    return pairs_from_list(list(pairs))


def _check_rows(idx: np.ndarray, n: int) -> np.ndarray:
    """(m, 2) int64 rows, refused when any is outside a table of ``n`` rows."""
    idx = idx.reshape(-1, 2).astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise CalbioInputError(f"pair indices out of range of the {n:,} entities")
    return idx


def as_mapped_pairs(
    pairs: PairsLike,
    embeddings: Embeddings,
    min_mapped: float | None = None,
    id_tables: IdTablesLike = None,
) -> MappedPairs:
    """Resolve any supported pair input to row indices of ``embeddings`` (the one door).

    An (m, 2) integer array is taken as rows (checked, kept in order, not deduplicated); names
    are matched by :func:`calbio.data.matching.map_pairs` (exact, case, then ``id_tables``: an
    ``IdResolver``, a folder or loaded tables, default $CALBIO_ID_TABLES), which deduplicates
    and drops pairs with an unknown id. ``min_mapped``: the strict rule (share of pairs that
    must map). The report is on the result: ``stats`` and ``id_mapping``.
    """
    from calbio.data.matching import map_pairs

    if isinstance(pairs, MappedPairs):
        if pairs.n_entities != len(embeddings):
            raise CalbioInputError(
                f"pairs index a table of {pairs.n_entities} rows, the embedding has "
                f"{len(embeddings)}"
            )
        return pairs
    if isinstance(pairs, np.ndarray) and np.issubdtype(pairs.dtype, np.integer):
        idx = _check_rows(pairs, len(embeddings))
        return MappedPairs(idx, len(embeddings), {"n_input": len(idx), "n_mapped": len(idx)})
    return map_pairs(as_pairs(pairs), embeddings, min_fraction=min_mapped, id_tables=id_tables)


def as_context_mapped_pairs(
    pairs: ContextPairsLike,
    cemb: ContextEmbeddings,
    min_mapped: float,
    id_tables: IdTablesLike = None,
) -> ContextMappedPairs:
    """The door for the context model: resolve pairs to (entity, entity, context) rows.

    ``ContextMappedPairs`` pass (checked against ``cemb``); a DataFrame with a ``context``
    column and ``ContextPairs`` map per context; any plain pair input (rows included) holds in
    every context and maps through :func:`as_mapped_pairs` first.
    """
    from calbio.data.context import (
        ContextMappedPairs,
        ContextPairs,
        context_pairs_from_frame,
        map_context_pairs,
    )

    if isinstance(pairs, ContextMappedPairs):
        if pairs.n_entities != cemb.n_entities or pairs.n_contexts != cemb.n_contexts:
            raise CalbioInputError("context pairs were mapped onto another table")
        return pairs
    if isinstance(pairs, pd.DataFrame):
        ctx_col = "context" if "context" in pairs.columns else None
        pairs = context_pairs_from_frame(pairs, context_column=ctx_col)
    if not isinstance(pairs, ContextPairs):  # plain pairs hold in every context
        mp = as_mapped_pairs(pairs, cemb.entity_table(), min_mapped, id_tables)
        names = cemb.entities
        pairs = _context_free(names[mp.idx[:, 0]], names[mp.idx[:, 1]])
    return map_context_pairs(pairs, cemb, min_fraction=min_mapped, id_tables=id_tables)


def _context_free(a: np.ndarray, b: np.ndarray) -> ContextPairs:
    from calbio.data.context import ContextPairs

    return ContextPairs(a, b, np.full(len(a), "", dtype=object))
