"""Association pairs derived from screens: co-essentiality (genes) and co-lethality (drugs).

A *profile table* has one row per entity (gene, drug) and one column per screen (cell line).
Two entities are associated when their profiles correlate across screens:

* ``method="pearson"``: the Pearson correlation of the two profiles.
* ``method="gls"``: the generalised least-squares correlation of Wainberg et al. 2021 (Nat Genet
  53:638), which corrects for screens being related (cell lines of one lineage look alike). The
  screen covariance ``Sigma`` (screens x screens) is estimated over entities, with Ledoit-Wolf
  shrinkage so that it is invertible when the table has fewer entities than screens or is low
  rank; with ``Sigma^-1 = L L^T`` (Cholesky), every profile ``y`` becomes ``y @ L`` and so does the
  intercept column of ones. The GLS slope test of ``y`` on ``x`` (with intercept) is then the
  ordinary correlation test of the whitened profiles after projecting out the whitened intercept,
  which is what is computed.

P-values are one-sided (positive association, the co-essential direction) from Student's t with
``n_screens - 2`` degrees of freedom; q-values are Benjamini-Hochberg over all ``m (m - 1) / 2``
entity pairs. Selection is either the ``top_k`` strongest positive partners of every entity (the
union, undirected) or every pair with BH q-value <= ``fdr``.

Everything is vectorised and blocked: an entity block x all entities correlation tile at a time,
never the m x m matrix, so 17,000+ genes fit in memory. Under ``fdr`` only pairs whose p-value
is <= ``fdr`` are kept between blocks (a BH rejection needs p <= fdr), and BH on them with the
full test count is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from calbio.core.errors import CalbioInputError

__all__ = [
    "METHODS",
    "DerivedPairs",
    "benjamini_hochberg",
    "correlation_space",
    "derive_pairs",
    "derive_pairs_by_context",
    "load_contexts",
    "load_profiles",
    "pairs_from_genesets",
    "read_gene_sets",
]

METHODS = ("pearson", "gls")
MIN_SCREENS = 4
DEFAULT_MAX_PAIRS = 20_000_000


@dataclass
class DerivedPairs:
    """A derived pair table (``a, b, statistic, pvalue[, qvalue][, context]``) and its counts."""

    table: pd.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(len(self.table))


# ------------------------------------------------------------------------------------- reading
def _read_table(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    sep = "\t" if name.endswith((".tsv", ".tsv.gz", ".tab", ".txt", ".txt.gz")) else ","
    return pd.read_csv(path, sep=sep, low_memory=False)


def profiles_from_frame(
    df: pd.DataFrame,
    *,
    id_column: str | None = None,
    min_observed: float = 0.5,
    source: str = "dataframe",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Validate an entity x screen table; missing values become the entity's mean.

    Entities observed in fewer than ``min_observed`` of the screens are dropped (counted).
    Returns the float64 table indexed by identifier and the cleaning counts.
    """
    if id_column is not None:
        if id_column not in df.columns:
            raise CalbioInputError(f"id column {id_column!r} not found", source)
        df = df.set_index(id_column)
    elif isinstance(df.index, pd.RangeIndex):
        if df.shape[1] < 2:
            raise CalbioInputError("needs an id column and at least one screen column", source)
        df = df.set_index(df.columns[0])
    num = df.apply(pd.to_numeric, errors="coerce")
    bad_cols = [str(c) for c in df.columns if num[c].isna().sum() > df[c].isna().sum()]
    if bad_cols:
        raise CalbioInputError(
            f"non-numeric screen column(s) {bad_cols[:3]}"
            + (f" and {len(bad_cols) - 3} more" if len(bad_cols) > 3 else ""),
            source,
        )
    ids = num.index.astype(str)
    if ids.duplicated().any():
        dup = list(ids[ids.duplicated()].unique()[:3])
        raise CalbioInputError(f"duplicate identifiers {dup}", source)
    X = num.to_numpy(np.float64)
    if X.shape[1] < MIN_SCREENS:
        raise CalbioInputError(
            f"{X.shape[1]} screen column(s); at least {MIN_SCREENS} are needed to correlate", source
        )
    if np.isinf(X).any():
        raise CalbioInputError("infinite values in the table", source)
    observed = np.isfinite(X)
    keep = observed.mean(axis=1) >= min_observed
    n_missing = int((~observed[keep]).sum())
    X = X[keep]
    if n_missing:
        means = np.nanmean(X, axis=1)
        rr, cc = np.nonzero(~np.isfinite(X))
        X[rr, cc] = means[rr]
    if len(X) < 2:
        raise CalbioInputError("fewer than two entities left to correlate", source)
    out = pd.DataFrame(X, index=pd.Index(ids[keep], name="id"), columns=num.columns.astype(str))
    counts = {
        "n_entities_read": int(len(ids)),
        "n_screens": int(X.shape[1]),
        "n_dropped_sparse": int((~keep).sum()),
        "n_values_imputed": n_missing,
    }
    return out, counts


def load_profiles(
    path: str | Path, *, id_column: str | None = None, min_observed: float = 0.5
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read an entity x screen table (CSV/TSV(.gz)/Parquet; ids in the first column)."""
    p = Path(path)
    if not p.is_file():
        raise CalbioInputError("file not found", p)
    try:
        df = _read_table(p)
    except Exception as exc:  # unreadable: one line naming the file
        raise CalbioInputError(
            f"cannot read table: {' '.join(str(exc).split())[:200]}", p
        ) from None
    if df.empty:
        raise CalbioInputError("the table is empty", p)
    return profiles_from_frame(df, id_column=id_column, min_observed=min_observed, source=str(p))


def load_contexts(path: str | Path) -> dict[str, list[str]]:
    """Read screen -> context assignments (two columns: screen id, context name)."""
    p = Path(path)
    if not p.is_file():
        raise CalbioInputError("file not found", p)
    try:
        df = _read_table(p)
    except Exception as exc:
        raise CalbioInputError(
            f"cannot read table: {' '.join(str(exc).split())[:200]}", p
        ) from None
    if df.shape[1] < 2 or df.empty:
        raise CalbioInputError("needs two columns: screen id, context name", p)
    scr, ctx = df.iloc[:, 0], df.iloc[:, 1]
    if scr.isna().any() or ctx.isna().any():
        raise CalbioInputError("empty screen id or context name", p)
    scr = scr.astype(str)
    if scr.duplicated().any():
        raise CalbioInputError(f"screen {scr[scr.duplicated()].iloc[0]!r} is listed twice", p)
    out: dict[str, list[str]] = {}
    for s, c in zip(scr, ctx.astype(str)):
        out.setdefault(c, []).append(s)
    return out


# --------------------------------------------------------------------------------- statistics
def correlation_space(
    X: np.ndarray, method: str = "pearson", shrinkage: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors whose inner products are the correlations; and which rows are defined.

    Rows with no variance (after whitening, for GLS) cannot be correlated: they come back as
    zeros and ``False`` in the mask.
    """
    if method not in METHODS:
        raise CalbioInputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[1]
    if method == "pearson":
        Z = X - X.mean(axis=1, keepdims=True)
    else:
        from scipy.linalg import cholesky
        from sklearn.covariance import LedoitWolf, ShrunkCovariance

        est = LedoitWolf() if shrinkage is None else ShrunkCovariance(shrinkage=shrinkage)
        sigma = est.fit(X).covariance_  # screens x screens, over entities
        L = cholesky(np.linalg.inv(sigma), lower=True)  # inv(Sigma) = L @ L.T
        Z = X @ L
        u = np.ones(n) @ L
        u /= np.linalg.norm(u)
        Z = Z - np.outer(Z @ u, u)  # project out the whitened intercept
    norm = np.linalg.norm(Z, axis=1)
    ok = norm > 1e-12 * max(float(norm.max(initial=0.0)), 1e-300)
    Z = np.where(ok[:, None], Z / np.where(ok, norm, 1.0)[:, None], 0.0)
    return Z, ok


def _pvalues(r: np.ndarray, df: int) -> np.ndarray:
    """One-sided (r > 0) p-values of correlations with ``df`` degrees of freedom."""
    r = np.clip(np.asarray(r, np.float64), -1 + 1e-12, 1 - 1e-12)
    t = r * np.sqrt(df / (1.0 - r * r))
    return stats.t.sf(t, df)


def _r_critical(p: float, df: int) -> float:
    """The correlation whose one-sided p-value is ``p``."""
    t = float(stats.t.isf(p, df))
    return t / np.sqrt(df + t * t)


def benjamini_hochberg(p: np.ndarray, n_tests: int | None = None) -> np.ndarray:
    """BH q-values of ``p``; ``n_tests`` > len(p) when the other tests all have larger p-values."""
    p = np.asarray(p, np.float64)
    m = len(p) if n_tests is None else int(n_tests)
    if len(p) == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1.0)
    return out


def _top_k(Z: np.ndarray, ok: np.ndarray, k: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    m = len(Z)
    Z32 = Z.astype(np.float32)
    k = min(k, int(ok.sum()) - 1)
    rows_out, cols_out = [], []
    valid = np.flatnonzero(ok)
    Zv = Z32[valid]
    for s in range(0, len(valid), block):
        rows = valid[s : s + block]
        R = Z32[rows] @ Zv.T
        R[np.arange(len(rows)), np.arange(s, s + len(rows))] = -np.inf  # self
        top = np.argpartition(-R, k - 1, axis=1)[:, :k]
        rows_out.append(np.repeat(rows, k))
        cols_out.append(valid[top.ravel()])
    a, b = np.concatenate(rows_out), np.concatenate(cols_out)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = np.unique(lo.astype(np.int64) * m + hi)
    return key // m, key % m


def _rowwise_dot(Z: np.ndarray, a: np.ndarray, b: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """Float64 ``Z[a[i]] . Z[b[i]]`` in chunks of pairs (bounded memory)."""
    out = np.empty(len(a), dtype=np.float64)
    for s in range(0, len(a), chunk):
        out[s : s + chunk] = np.einsum("ij,ij->i", Z[a[s : s + chunk]], Z[b[s : s + chunk]])
    return out


def _above(
    Z: np.ndarray, ok: np.ndarray, r_min: float, block: int, max_pairs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    valid = np.flatnonzero(ok)
    Zv = np.ascontiguousarray(Z[valid])  # float64 tiles: p-values in the far tail need it
    ai, bi, rs = [], [], []
    kept = 0
    for s in range(0, len(valid), block):
        R = Zv[s : s + block] @ Zv[s:].T  # upper block-triangle only
        i, j = np.nonzero(R >= r_min)
        keep = j > i  # each pair once, no self
        i, j = i[keep], j[keep]
        kept += len(i)
        if kept > max_pairs:
            raise CalbioInputError(
                f"more than {max_pairs:,} pairs pass p <= FDR level; use a smaller --fdr or --top-k"
            )
        ai.append(valid[i + s])
        bi.append(valid[j + s])
        rs.append(R[i, j])
    return np.concatenate(ai), np.concatenate(bi), np.concatenate(rs)


MAX_LISTED = 20  # constant entities named in the statistics (the count is always complete)


def constant_warnings(info: Mapping[str, Any]) -> list[str]:
    """One warning per selection (whole table, or each context) where constant rows got no pairs."""
    per = info.get("contexts") or {None: info}
    out = []
    for ctx, st in per.items():
        n = int(st.get("n_constant_dropped", 0))
        if n:
            names = st.get("constant_entities", [])[:5]
            where = f" in context {ctx!r}" if ctx is not None else ""
            out.append(
                f"{n:,} entit{'y has' if n == 1 else 'ies have'} no variance across the "
                f"screens{where} and get no pairs: {', '.join(names)}"
                + (" ..." if n > len(names) else "")
            )
    return out


def derive_pairs(
    profiles: pd.DataFrame,
    *,
    method: str = "pearson",
    top_k: int | None = None,
    fdr: float | None = None,
    shrinkage: float | None = None,
    block: int = 1024,
    max_pairs: int = DEFAULT_MAX_PAIRS,
) -> DerivedPairs:
    """Correlated entity pairs of an entity x screen table (top-k per entity, or BH FDR)."""
    if (top_k is None) == (fdr is None):
        raise CalbioInputError("give exactly one of --top-k or --fdr")
    if top_k is not None and top_k < 1:
        raise CalbioInputError(f"--top-k must be >= 1, got {top_k}")
    if fdr is not None and not 0 < fdr < 1:
        raise CalbioInputError(f"--fdr must be in (0, 1), got {fdr}")
    if shrinkage is not None and not 0 <= shrinkage <= 1:
        raise CalbioInputError(f"--shrinkage must be in [0, 1], got {shrinkage}")
    names = profiles.index.astype(str).to_numpy(dtype=object)
    X = profiles.to_numpy(np.float64)
    n_screens = X.shape[1]
    if n_screens < MIN_SCREENS:
        raise CalbioInputError(f"{n_screens} screens; at least {MIN_SCREENS} are needed")
    Z, ok = correlation_space(X, method, shrinkage)
    if ok.sum() < 2:
        raise CalbioInputError("fewer than two entities vary across the screens")
    df = n_screens - 2
    m = int(ok.sum())
    n_tests = m * (m - 1) // 2
    if top_k is not None:
        a, b = _top_k(Z, ok, top_k, block)
        r = _rowwise_dot(Z, a, b)
        p = _pvalues(r, df)
        q = None
    else:
        a, b, r = _above(Z, ok, _r_critical(fdr, df), block, max_pairs)
        p = _pvalues(r, df)
        q = benjamini_hochberg(p, n_tests)
        sel = q <= fdr
        a, b, r, p, q = a[sel], b[sel], r[sel], p[sel], q[sel]
    order = np.lexsort((b, a, -r))
    table = pd.DataFrame(
        {"a": names[a[order]], "b": names[b[order]], "statistic": r[order], "pvalue": p[order]}
    )
    if q is not None:
        table["qvalue"] = q[order]
    return DerivedPairs(
        table,
        {
            "method": method,
            "selection": f"top_k={top_k}" if top_k is not None else f"fdr={fdr}",
            "n_entities": int(len(names)),
            "n_constant_dropped": int((~ok).sum()),
            # entities without variance across the screens: no correlation, so no pairs
            "constant_entities": [str(x) for x in names[~ok][:MAX_LISTED]],
            "n_screens": int(n_screens),
            "n_tests": int(n_tests),
            "n_pairs": int(len(table)),
        },
    )


def derive_pairs_by_context(
    profiles: pd.DataFrame,
    contexts: Mapping[str, Sequence[str]],
    *,
    progress: Callable[[str], None] | None = None,
    source: str | None = None,
    **options: Any,
) -> DerivedPairs:
    """``derive_pairs`` within each context's screens; adds a ``context`` column."""
    cols = pd.Index(profiles.columns.astype(str))
    parts, per = [], {}
    for ctx, screens in contexts.items():
        present = [s for s in map(str, screens) if s in cols]
        if len(present) < MIN_SCREENS:
            raise CalbioInputError(
                f"context {ctx!r} has {len(present)} of its {len(screens)} screens in the profile "
                f"table; at least {MIN_SCREENS} are needed",
                source,
            )
        sub = profiles.loc[:, cols.isin(present)]
        res = derive_pairs(sub, **options)
        res.table["context"] = str(ctx)
        parts.append(res.table)
        per[str(ctx)] = {**res.stats, "n_screens_missing": len(screens) - len(present)}
        if progress:
            progress(f"{ctx}: {len(res):,} pairs from {len(present)} screens")
    if not parts:
        raise CalbioInputError("no contexts given", source)
    table = pd.concat(parts, ignore_index=True)
    return DerivedPairs(table, {"n_pairs": int(len(table)), "contexts": per})


def read_gene_sets(path: str | Path) -> dict[str, np.ndarray]:
    """Gene sets of a GMT file: name -> unique members (``GeneSets.by_name`` of ``read_gmt``).

    Blank and ``#`` lines are skipped, so are sets without genes; a name listed twice unites
    its members.
    """
    from calbio.data.genesets import read_gmt

    sets = read_gmt(path).by_name()
    if not sets:
        raise CalbioInputError("no gene sets with genes found", Path(path))
    return sets


def pairs_from_genesets(
    sets: Mapping[str, Sequence[str] | np.ndarray], max_size: int = 30, min_size: int = 2
) -> pd.DataFrame:
    """Complex-like pairs: every pair of co-members of a set of ``min_size..max_size`` genes.

    Returns ``entity1, entity2, n_sets`` (one row per undirected pair, ``entity1 < entity2``,
    ``n_sets`` = how many qualifying sets hold both), sorted by the two names.
    """
    if min_size < 2 or max_size < min_size:
        raise CalbioInputError(
            f"need 2 <= --min-size <= --max-size, got min {min_size}, max {max_size}"
        )
    chunks = []
    for members in sets.values():
        g = np.unique(np.asarray(members, dtype=object).astype(str))
        if not min_size <= len(g) <= max_size:
            continue
        i, j = np.triu_indices(len(g), k=1)
        chunks.append(np.stack([g[i], g[j]], axis=1))
    if not chunks:
        return pd.DataFrame({"entity1": [], "entity2": [], "n_sets": []}).astype(
            {"entity1": object, "entity2": object, "n_sets": np.int64}
        )
    allp = pd.DataFrame(np.concatenate(chunks), columns=["entity1", "entity2"])
    out = allp.groupby(["entity1", "entity2"], sort=True).size().rename("n_sets").reset_index()
    out["n_sets"] = out["n_sets"].astype(np.int64)
    return out
