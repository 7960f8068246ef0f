"""Gene sets from GMT files: the one GMT reader (enrichment and derived pairs both use it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calbio.core.errors import CalbioInputError


@dataclass
class GeneSets:
    """Named gene sets as read from GMT files (identifiers as written there)."""

    terms: np.ndarray  # (T,) term names
    descriptions: np.ndarray  # (T,)
    genes: list[np.ndarray]  # T arrays of unique identifiers
    source: str = ""

    def __len__(self) -> int:
        return len(self.terms)

    def by_name(self) -> dict[str, np.ndarray]:
        """name -> unique members; sets without genes dropped, a name listed twice united."""
        out: dict[str, np.ndarray] = {}
        for name, members in zip(self.terms, self.genes, strict=True):
            if len(members):
                out[name] = np.union1d(out.get(name, np.array([], dtype=object)), members)
        return out


def read_gmt(path: str | Path) -> GeneSets:
    """Read a GMT file: one set per line, ``name<TAB>description<TAB>gene<TAB>gene...``.

    Blank and ``#`` lines are skipped; a line with fewer than three fields or no name is refused
    with its line number.
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CalbioInputError(f"cannot read gene sets: {exc.__class__.__name__}", p) from None
    terms, descs, genes = [], [], []
    for no, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.rstrip("\n\r").split("\t")
        if len(fields) < 3 or not fields[0].strip():
            raise CalbioInputError(
                f"line {no} is not GMT (name<TAB>description<TAB>genes...): "
                f"{len(fields)} tab-separated field(s)",
                p,
            )
        terms.append(fields[0].strip())
        descs.append(fields[1].strip())
        genes.append(np.unique([g.strip() for g in fields[2:] if g.strip()]).astype(object))
    if not terms:
        raise CalbioInputError("no gene sets found (empty GMT file)", p)
    return GeneSets(np.asarray(terms, object), np.asarray(descs, object), genes, str(p))
