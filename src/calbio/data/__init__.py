"""Data at the door: files and objects into prepared arrays, once.

Readers (``embeddings``, ``pairs``, ``molecules``), identifiers and matching, input coercion,
context tables, synthetic worlds, public datasets (``fetch``) and ``$CALBIO_DATA`` (``paths``).
The types load on first use, so ``calbio fetch --list`` does not import pandas.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Embeddings", "MappedPairs", "Pairs"]


def __getattr__(name: str) -> Any:
    """Load the data types on first access (PEP 562)."""
    if name in __all__:
        from calbio.data import types

        return getattr(types, name)
    raise AttributeError(f"module 'calbio.data' has no attribute {name!r}")
