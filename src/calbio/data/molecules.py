"""Molecules as entities: Morgan fingerprints from SMILES, and Tanimoto similarity.

RDKit is an optional extra (``pip install -e ".[chem]"``); only :func:`morgan_fingerprints` and
:func:`load_smiles_embeddings` need it. Tanimoto works on any binary (0/1) matrix: it is the
similarity baseline for fingerprints, where cosine is for dense embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calbio.core.errors import CalbioInputError
from calbio.data.types import Embeddings

__all__ = [
    "SmilesResult",
    "is_binary",
    "load_smiles_embeddings",
    "morgan_fingerprints",
    "tanimoto_pairs",
    "tanimoto_rows",
]

SMILES_COLUMNS = ("smiles", "canonical_smiles", "isomeric_smiles")


@dataclass
class SmilesResult:
    """Fingerprint embeddings of the valid molecules and the rows that failed."""

    embeddings: Embeddings
    invalid: pd.DataFrame  # columns: row (1-based data row), id, smiles, reason
    meta: dict[str, Any] = field(default_factory=dict)


def _rdkit() -> Any:
    try:
        from rdkit import Chem, RDLogger
        from rdkit.Chem import rdFingerprintGenerator
    except ImportError:  # pragma: no cover - depends on the environment
        raise CalbioInputError(
            "RDKit is needed for SMILES: pip install 'calbio[chem]' (or pip install rdkit)"
        ) from None
    RDLogger.DisableLog("rdApp.*")  # invalid SMILES are reported by us, one line each
    return Chem, rdFingerprintGenerator


def morgan_fingerprints(
    smiles: Sequence[str], *, radius: int = 2, n_bits: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Morgan bit vectors (uint8, len(smiles) x n_bits) and a mask of the SMILES RDKit parsed."""
    if radius < 0:
        raise CalbioInputError(f"--radius must be >= 0, got {radius}")
    if n_bits < 8:
        raise CalbioInputError(f"--bits must be >= 8, got {n_bits}")
    Chem, fpgen = _rdkit()
    gen = fpgen.GetMorganGenerator(radius=radius, fpSize=n_bits)
    X = np.zeros((len(smiles), n_bits), dtype=np.uint8)
    ok = np.zeros(len(smiles), dtype=bool)
    for i, s in enumerate(smiles):  # RDKit parses one molecule at a time
        mol = Chem.MolFromSmiles(s) if isinstance(s, str) and s.strip() else None
        if mol is None:
            continue
        X[i] = gen.GetFingerprintAsNumPy(mol)
        ok[i] = True
    return X, ok


def _pick(df: pd.DataFrame, wanted: str | None, known: Sequence[str], what: str, src: str) -> Any:
    if wanted is not None:
        if wanted not in df.columns:
            raise CalbioInputError(
                f"{what} column {wanted!r} not found; columns are {list(map(str, df.columns[:8]))}",
                src,
            )
        return wanted
    lower = {str(c).strip().casefold(): c for c in df.columns}
    for k in known:
        if k in lower:
            return lower[k]
    return None


def load_smiles_embeddings(
    path: str | Path,
    *,
    id_column: str | None = None,
    smiles_column: str | None = None,
    radius: int = 2,
    n_bits: int = 2048,
) -> SmilesResult:
    """Read a table of molecules (id + SMILES) and fingerprint them; invalid ones are listed."""
    p = Path(path)
    if not p.is_file():
        raise CalbioInputError("file not found", p)
    name = p.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            df = pd.read_parquet(p)
        else:
            sep = "\t" if name.endswith((".tsv", ".tsv.gz", ".tab", ".txt", ".txt.gz")) else ","
            df = pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise CalbioInputError(
            f"cannot read table: {' '.join(str(exc).split())[:200]}", p
        ) from None
    if df.empty:
        raise CalbioInputError("the table has no molecules", p)
    scol = _pick(df, smiles_column, SMILES_COLUMNS, "SMILES", str(p))
    if scol is None:
        raise CalbioInputError(
            "no SMILES column (looked for 'smiles'; name it with --smiles-column)", p
        )
    icol = _pick(df, id_column, (), "id", str(p))
    if icol is None:
        icol = next(c for c in df.columns if c != scol) if df.shape[1] > 1 else scol
    ids = df[icol].astype(str).str.strip()
    if (ids == "").any():
        raise CalbioInputError(f"empty identifier in column {icol!r}", p)
    if ids.duplicated().any():
        raise CalbioInputError(f"duplicate identifiers {list(ids[ids.duplicated()][:3])}", p)
    smiles = df[scol].astype(str).str.strip().to_numpy(dtype=object)
    X, ok = morgan_fingerprints(list(smiles), radius=radius, n_bits=n_bits)
    empty = ok & (X.sum(axis=1) == 0)  # e.g. a lone atom at radius 0 can set no bit
    reason = np.where(ok, "no fingerprint bits set", "RDKit cannot parse the SMILES")
    bad = ~ok | empty
    invalid = pd.DataFrame(
        {
            "row": np.flatnonzero(bad) + 1,
            "id": ids.to_numpy(dtype=object)[bad],
            "smiles": smiles[bad],
            "reason": reason[bad],
        }
    )
    if bad.all():
        raise CalbioInputError(
            f"none of the {len(df):,} SMILES could be fingerprinted (first: {smiles[0]!r})", p
        )
    meta = {
        "format": "smiles",
        "fingerprint": "morgan",
        "radius": radius,
        "n_bits": n_bits,
        "id_column": str(icol),
        "smiles_column": str(scol),
        "n_read": int(len(df)),
        "n_invalid": int(bad.sum()),
    }
    emb = Embeddings(ids.to_numpy(dtype=object)[~bad], X[~bad], source=str(p), meta=meta)
    return SmilesResult(emb, invalid, meta)


# ----------------------------------------------------------------------------------- Tanimoto
def is_binary(X: np.ndarray) -> bool:
    """True when every value is 0 or 1 (a fingerprint-like table)."""
    X = np.asarray(X)
    return bool(X.size) and bool(np.isin(X, (0, 1)).all())


def _as_bits(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X)
    if not is_binary(X):
        raise ValueError("Tanimoto needs a binary (0/1) matrix")
    return X.astype(np.float32)


def tanimoto_rows(
    X: np.ndarray, queries: np.ndarray, candidates: np.ndarray | None = None
) -> np.ndarray:
    """Tanimoto similarity of rows ``queries`` x rows ``candidates`` (all rows when None)."""
    B = _as_bits(X)
    q = B[np.asarray(queries, np.int64)]
    c = B if candidates is None else B[np.asarray(candidates, np.int64)]
    inter = q @ c.T  # exact in float32 for counts < 2**24
    union = q.sum(axis=1)[:, None] + c.sum(axis=1)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0).astype(np.float64)


def tanimoto_pairs(X: np.ndarray, idx: np.ndarray, block: int = 65_536) -> np.ndarray:
    """Tanimoto similarity of each row pair ``idx[i] = (a, b)`` (blocked over pairs)."""
    B = _as_bits(X)
    idx = np.asarray(idx, np.int64).reshape(-1, 2)
    counts = B.sum(axis=1)
    out = np.empty(len(idx), dtype=np.float64)
    for s in range(0, len(idx), block):
        a, b = idx[s : s + block, 0], idx[s : s + block, 1]
        inter = np.einsum("ij,ij->i", B[a], B[b])
        union = counts[a] + counts[b] - inter
        out[s : s + block] = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return out
