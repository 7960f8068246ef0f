"""The entrance: any embedding or pair input becomes ``Embeddings`` / ``MappedPairs``, once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from calbio.core.errors import CalbioInputError
from calbio.data.types import Embeddings, MappedPairs, Pairs

if TYPE_CHECKING:
    from calbio.data.identifiers import IdTablesLike

EmbeddingsLike = Embeddings | pd.DataFrame | Any  # Any: an AnnData (anndata is imported lazily)
PairsLike = Pairs | MappedPairs | pd.DataFrame | np.ndarray | Sequence[tuple[str, str]]


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


def as_mapped_pairs(
    pairs: PairsLike,
    embeddings: Embeddings,
    min_mapped: float | None = None,
    id_tables: IdTablesLike = None,
) -> MappedPairs:
    """Resolve any supported pair input to row indices of ``embeddings``.

    ``id_tables`` (an IdResolver, a folder or loaded tables; default $CALBIO_ID_TABLES)
    converts identifiers between namespaces, as in :func:`calbio.data.matching.map_pairs`.
    """
    from calbio.data.matching import map_pairs
    from calbio.data.pairs import pairs_from_frame, pairs_from_list

    if isinstance(pairs, MappedPairs):
        if pairs.n_entities != len(embeddings):
            raise CalbioInputError(
                f"pairs index a table of {pairs.n_entities} rows, the embedding has "
                f"{len(embeddings)}"
            )
        return pairs
    if isinstance(pairs, np.ndarray) and np.issubdtype(pairs.dtype, np.integer):
        idx = pairs.reshape(-1, 2).astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(embeddings)):
            raise CalbioInputError("pair indices out of range of the embedding table")
        return MappedPairs(idx, len(embeddings), {"n_input": len(idx), "n_mapped": len(idx)})
    if isinstance(pairs, pd.DataFrame):
        pairs = pairs_from_frame(pairs)
    elif not isinstance(pairs, Pairs):
        pairs = pairs_from_list(list(pairs))
    return map_pairs(pairs, embeddings, min_fraction=min_mapped, id_tables=id_tables)
