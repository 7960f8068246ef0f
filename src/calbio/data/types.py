"""In-memory containers for an embedding table and a list of associated pairs."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd


def _keys_line(label: str, keys: list[str], limit: int = 8) -> str:
    """``    label: 'k1', 'k2', ...`` (AnnData's style), or '' when there are no keys."""
    if not keys:
        return ""
    shown = ", ".join(repr(str(k)) for k in keys[:limit])
    more = f", ... (+{len(keys) - limit})" if len(keys) > limit else ""
    return f"\n    {label}: {shown}{more}"


def _examples_line(names: np.ndarray, k: int = 3) -> str:
    if len(names) == 0:
        return ""
    shown = ", ".join(str(x) for x in names[:k])
    return f"\n    ids: {shown}{', ...' if len(names) > k else ''}"


def _source_line(source: str, sha256: str | None) -> str:
    if not source:
        return ""
    return f"\n    source: {source}" + (f" (sha256 {sha256[:12]}...)" if sha256 else "")


@dataclass
class Embeddings:
    """An n x d table of entity embeddings (raw values; preprocessing belongs to the model)."""

    names: np.ndarray  # (n,) unique identifiers, dtype object (str)
    X: np.ndarray  # (n, d) float32, finite, no zero-norm rows
    source: str = ""  # file path, or "synthetic"
    sha256: str | None = None  # of the source file, when there is one
    meta: dict = field(default_factory=dict)  # how it was read (format, id column, dropped rows)

    def __post_init__(self) -> None:
        self.names = np.asarray(self.names, dtype=object)
        self.X = np.ascontiguousarray(self.X, dtype=np.float32)
        if self.X.ndim != 2 or self.X.shape[0] != self.names.shape[0]:
            raise ValueError(f"names {self.names.shape} do not match X {self.X.shape}")

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __repr__(self) -> str:
        return (
            f"Embeddings with n_entities x n_features = {len(self):,} x {self.X.shape[1]:,}"
            f"{_examples_line(self.names)}{_source_line(self.source, self.sha256)}"
            f"{_keys_line('meta', list(self.meta))}"
        )

    @property
    def dim(self) -> int:
        """Number of features."""
        return int(self.X.shape[1])

    @cached_property
    def index(self) -> dict[str, int]:
        """Map identifier -> row."""
        return {str(n): i for i, n in enumerate(self.names)}

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame indexed by identifier."""
        return pd.DataFrame(self.X, index=pd.Index(self.names, name="id"))


@dataclass
class Pairs:
    """Undirected associated pairs by identifier, with optional numeric evidence columns."""

    a: np.ndarray  # (m,) identifiers, dtype object
    b: np.ndarray  # (m,)
    evidence: pd.DataFrame | None = None  # numeric columns aligned with rows (e.g. combined_score)
    source: str = ""
    sha256: str | None = None
    # n_rows_read, n_self_dropped, n_duplicates_dropped, ...
    stats: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.a = np.asarray(self.a, dtype=object)
        self.b = np.asarray(self.b, dtype=object)
        if self.a.shape != self.b.shape:
            raise ValueError("a and b must have the same length")

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def __repr__(self) -> str:
        n_ids = len(pd.unique(np.concatenate([self.a, self.b]))) if len(self) else 0
        first = f"\n    first: ({self.a[0]}, {self.b[0]})" if len(self) else ""
        ev = [] if self.evidence is None else list(self.evidence.columns)
        return (
            f"Pairs with n_pairs = {len(self):,} over {n_ids:,} identifiers{first}"
            f"{_source_line(self.source, self.sha256)}{_keys_line('evidence', ev)}"
            f"{_keys_line('stats', list(self.stats))}"
        )


@dataclass
class MappedPairs:
    """Pairs resolved to embedding rows: ``idx`` is (m, 2) int64, undirected, deduplicated."""

    idx: np.ndarray
    n_entities: int  # rows in the embedding table the indices refer to
    stats: dict = field(default_factory=dict)  # n_input, n_mapped, n_case_insensitive, ...
    # per input identifier: what it became and why (data/matching.map_pairs; None otherwise)
    id_mapping: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.idx = np.asarray(self.idx, dtype=np.int64).reshape(-1, 2)

    def __len__(self) -> int:
        return int(self.idx.shape[0])

    def __repr__(self) -> str:
        return (
            f"MappedPairs with n_pairs = {len(self):,} onto {self.n_entities:,} entities"
            f"{_keys_line('stats', list(self.stats))}"
        )
