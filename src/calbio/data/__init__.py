"""Data loading: embedding tables, pair lists, matching, synthetic worlds."""

from calbio.data.types import Embeddings, MappedPairs, Pairs

__all__ = ["Embeddings", "MappedPairs", "Pairs"]
