"""Top-k partner retrieval: exact blocked search and approximate faiss indexes."""

from calbio.retrieval.exact import (
    Neighbors,
    exact_neighbors,
    model_neighbors,
    neighbors_table,
    topk_inner_product,
)

__all__ = [
    "Neighbors",
    "exact_neighbors",
    "model_neighbors",
    "neighbors_table",
    "topk_inner_product",
]
