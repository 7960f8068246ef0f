"""Context-conditioned equivalence g(A, B | c): entity x context tables, FiLM-conditioned CAL.

See docs/context.md. Main entry points: :class:`ContextCAL`, :func:`evaluate_contexts`,
:func:`load_context_table`, :func:`depmap_lineage_embeddings`.
"""

from calbio.context.data import (
    ContextEmbeddings,
    ContextMappedPairs,
    ContextPairs,
    context_embeddings_from_anndata,
    context_embeddings_from_frame,
    context_embeddings_from_tables,
    depmap_lineage_embeddings,
    load_context_pairs,
    load_context_table,
    map_context_pairs,
)
from calbio.context.estimator import ContextCAL
from calbio.context.evaluation import evaluate_contexts

__all__ = [
    "ContextCAL",
    "ContextEmbeddings",
    "ContextMappedPairs",
    "ContextPairs",
    "context_embeddings_from_anndata",
    "context_embeddings_from_frame",
    "context_embeddings_from_tables",
    "depmap_lineage_embeddings",
    "evaluate_contexts",
    "load_context_pairs",
    "load_context_table",
    "map_context_pairs",
]
