"""Read an embedding table (CSV/TSV, Parquet, .npy + names, AnnData .h5ad) and validate it."""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calbio.core.errors import CalbioInputError
from calbio.core.io import sha256_file
from calbio.data.types import Embeddings

# Strings read as missing values in numeric feature columns (never in the identifier column,
# so that gene symbols such as "NA" or "NULL" survive as identifiers).
NA_STRINGS = [
    "",
    "NA",
    "N/A",
    "n/a",
    "NaN",
    "nan",
    "-nan",
    "-NaN",
    "NAN",
    "NULL",
    "null",
    "None",
    "#N/A",
    "<NA>",
]

_TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".tab")
_DEDUPE_CHOICES = ("first", "mean")


def _one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's message squeezed onto one short line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _examples(items: Sequence[Any], k: int = 3) -> str:
    """Quote up to ``k`` items, saying how many more there are."""
    shown = ", ".join(repr(str(x)) for x in list(items)[:k])
    extra = len(items) - k
    return f"{shown} and {extra:,} more" if extra > 0 else shown


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


# Magic bytes of the compressions pandas reads (zstd needs the optional `zstandard` package).
COMPRESSION_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_COMPRESSION_SUFFIX = {".gz": "gzip", ".zip": "zip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}


def sniff_compression(path: str | Path) -> str | None:
    """The compression of a file from its first bytes (gzip, zip, bz2, xz, zstd), else None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise CalbioInputError(f"cannot read file: {_one_line(exc)}", path) from exc
    return next((name for magic, name in COMPRESSION_MAGIC if head.startswith(magic)), None)


def text_compression(path: Path) -> str | None:
    """Compression of a delimited text file, from its content (a name may lie).

    A compressed file whose name does not say so is read transparently, with an info line on
    the ``calbio`` logger; a compression pandas cannot read here is refused in one line.
    """
    import logging

    found = sniff_compression(path)
    named = _COMPRESSION_SUFFIX.get(path.suffix.lower())
    if found == "zstd":
        try:
            import zstandard  # noqa: F401
        except ImportError:
            raise CalbioInputError(
                "the file is zstd-compressed; decompress it first (zstd -d) or install the "
                "'zstandard' package",
                path,
            ) from None
    if named is not None and found is None:
        raise CalbioInputError(
            f"cannot read: the name says {named} but the file is not {named}-compressed "
            "(rename it, or compress it)",
            path,
        )
    if found is not None and found != named:
        logging.getLogger("calbio").info(
            "%s: the file is %s-compressed although its name does not say so; read as %s",
            path,
            found,
            found,
        )
    return found


def open_text(path: Path, compression: str | None) -> Any:
    """Open a (possibly compressed) text file for reading, as UTF-8 with replacement."""
    import bz2
    import io
    import lzma
    import zipfile

    kw: dict[str, Any] = {"encoding": "utf-8", "errors": "replace", "newline": ""}
    if compression == "gzip":
        return gzip.open(path, "rt", **kw)
    if compression == "bz2":
        return bz2.open(path, "rt", **kw)
    if compression == "xz":
        return lzma.open(path, "rt", **kw)
    if compression == "zip":
        zf = zipfile.ZipFile(path)
        names = [n for n in zf.namelist() if not n.endswith("/")]
        if len(names) != 1:
            raise CalbioInputError(
                f"a zip archive must hold exactly one file (it holds {len(names)})", path
            )
        return io.TextIOWrapper(zf.open(names[0]), **kw)
    if compression == "zstd":
        import zstandard

        return io.TextIOWrapper(zstandard.open(path, "rb"), **kw)
    return open(path, **kw)


def _detect_format(path: Path) -> tuple[str, bool]:
    """Return (format, gzipped) from the file name."""
    name = path.name.lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    if name.endswith(_TEXT_SUFFIXES):
        return ("tsv" if name.endswith((".tsv", ".tab")) else "csv"), gz
    if gz:
        raise CalbioInputError(
            "gzip is only supported for .csv, .tsv and .txt embedding tables", path
        )
    if name.endswith((".parquet", ".pq")):
        return "parquet", False
    if name.endswith(".npy"):
        return "npy", False
    if name.endswith(".h5ad"):
        return "h5ad", False
    raise CalbioInputError(
        "unsupported embedding format; expected .csv, .tsv, .txt (optionally .gz), "
        ".parquet, .npy (with a names file) or .h5ad",
        path,
    )


def _sniff_separator(path: Path, compression: str | None) -> str:
    """Tab if the first non-blank line holds a tab, else comma; empty files are an error."""
    try:
        with open_text(path, compression) as fh:
            for line in fh:
                if line.strip():
                    return "\t" if "\t" in line else ","
    except (OSError, EOFError, UnicodeError, ValueError) as exc:
        raise CalbioInputError(f"cannot read file: {_one_line(exc)}", path) from exc
    raise CalbioInputError("file is empty", path)


def _non_numeric_column_error(
    df: pd.DataFrame, columns: Sequence[Any], ids: Sequence[Any] | None, path: str | Path
) -> None:
    """Raise naming the first non-numeric column among ``columns`` (with an example value)."""
    for col in columns:
        series = df[col]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            continue
        if pd.api.types.is_bool_dtype(series):
            raise CalbioInputError(f"feature column {str(col)!r} is boolean, not numeric", path)
        coerced = pd.to_numeric(series, errors="coerce")
        bad = np.flatnonzero(coerced.isna().to_numpy() & series.notna().to_numpy())
        if not bad.size:  # e.g. an empty object column, or numbers stored as objects
            continue
        value = series.iloc[int(bad[0])]
        row = f" in row {str(ids[int(bad[0])])!r}" if ids is not None else ""
        raise CalbioInputError(
            f"feature column {str(col)!r} is not numeric (e.g. value {str(value)!r}{row})", path
        )


def _numeric_matrix(df: pd.DataFrame) -> np.ndarray:
    """Feature columns (already checked by _non_numeric_column_error) as a float64 matrix."""
    if all(pd.api.types.is_numeric_dtype(df[c]) for c in df.columns):
        return df.to_numpy(dtype=np.float64, na_value=np.nan)
    return df.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _clean_names(raw: Any) -> np.ndarray:
    """Identifiers as stripped str (missing values become empty strings)."""
    s = pd.Series(np.asarray(raw, dtype=object), dtype=object)
    s = s.where(s.notna(), "")
    return s.astype(str).str.strip().to_numpy(dtype=object)


def _check_dedupe(dedupe: str | None, path: str | Path | None) -> None:
    if dedupe is not None and dedupe not in _DEDUPE_CHOICES:
        raise CalbioInputError(f"dedupe must be 'first' or 'mean' (got {dedupe!r})", path)


# Rows are L2-normalised in float32. A norm outside these bounds is lost there: its squares
# underflow to 0 or overflow to inf, so the "unit" row comes out with a norm of 0, inf or 1e8.
NORM_BOUNDS = (1e-18, 1e18)


def _check_norms(X32: np.ndarray, names: np.ndarray, path: str | Path) -> None:
    """Refuse rows whose norm cannot be normalised in float32 (named, with their norms)."""
    n64 = np.linalg.norm(X32.astype(np.float64), axis=1)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        n32 = np.sqrt(np.einsum("ij,ij->i", X32, X32, dtype=np.float32))
        off = np.abs(n32.astype(np.float64) - n64) > 1e-3 * n64
    bad = (n64 < NORM_BOUNDS[0]) | (n64 > NORM_BOUNDS[1]) | ~np.isfinite(n32) | off
    if bad.any():
        which = np.flatnonzero(bad)
        shown = ", ".join(f"{names[i]} (norm {n64[i]:.3g})" for i in which[:5])
        more = f" and {len(which) - 5:,} more" if len(which) > 5 else ""
        raise CalbioInputError(
            f"{_plural(len(which), 'row')} with a norm too small or too large to normalise in "
            f"float32 (allowed {NORM_BOUNDS[0]:g} to {NORM_BOUNDS[1]:g}): {shown}{more}; "
            "rescale the table or drop these rows",
            path,
        )


def geometry_problem(X: np.ndarray) -> str | None:
    """Why a table has no usable geometry (one column, or every row the same direction)."""
    if X.shape[1] == 1:
        return (
            "the table has a single feature column (after L2 normalisation every row is +1 or -1)"
        )
    if X.shape[0] < 2:
        return None
    norms = np.linalg.norm(X, axis=1).astype(np.float64)
    cos = (X @ X[0]).astype(np.float64) / (norms * norms[0])  # O(n d), no copy of the table
    if float(np.min(cos)) > 1 - 1e-6:
        return f"all {X.shape[0]:,} rows point the same way (identical after L2 normalisation)"
    return None


def _as_real_matrix(names: np.ndarray, X: Any, path: str | Path) -> np.ndarray:
    """The values as a 2-D real array with one row per identifier, or a one-line error."""
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise CalbioInputError(f"expected a 2-D table, got {arr.ndim} dimension(s)", path)
    if arr.shape[0] != names.shape[0]:
        raise CalbioInputError(
            f"{names.shape[0]:,} identifiers but {arr.shape[0]:,} rows of values", path
        )
    real = np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype, np.complexfloating)
    if not real:
        raise CalbioInputError(f"values are not real numbers (dtype {arr.dtype})", path)
    return arr


def _drop_matching(
    names: np.ndarray, arr: np.ndarray, drop: str | None, path: str | Path
) -> tuple[np.ndarray, np.ndarray, int]:
    """Remove the rows whose identifier matches the ``drop`` regex; also return how many."""
    n_dropped = 0
    if drop:
        try:
            pattern = re.compile(drop)
        except re.error as exc:
            raise CalbioInputError(f"invalid drop regex {drop!r}: {exc}", path) from exc
        hit = pd.Series(names, dtype=object).str.contains(pattern, regex=True).to_numpy(bool)
        n_dropped = int(hit.sum())
        if n_dropped:
            names, arr = names[~hit], arr[~hit]
    return names, arr, n_dropped


def _check_not_empty(
    names: np.ndarray,
    arr: np.ndarray,
    n_rows_read: int,
    n_dropped: int,
    drop: str | None,
    path: str | Path,
) -> None:
    """Refuse a table without rows, without feature columns, or with an empty identifier."""
    if arr.shape[0] == 0:
        if n_dropped:
            raise CalbioInputError(
                f"all {n_rows_read:,} rows were removed by the drop regex {drop!r}", path
            )
        raise CalbioInputError("no rows (the table is empty)", path)
    if arr.shape[1] == 0:
        raise CalbioInputError("no feature columns (only identifiers)", path)

    empty = np.flatnonzero(names == "")
    if empty.size:
        raise CalbioInputError(
            f"{_plural(int(empty.size), 'row')} with an empty identifier "
            f"(first at data row {int(empty[0]) + 1:,})",
            path,
        )


def _finite_float32(arr: np.ndarray, names: np.ndarray, path: str | Path) -> np.ndarray:
    """The values as contiguous float32, refusing NaN and infinite (or overflowing) rows."""
    with np.errstate(over="ignore", invalid="ignore"):
        X32 = np.ascontiguousarray(arr, dtype=np.float32)
    finite = np.isfinite(X32)
    if not finite.all():
        nan_rows = np.isnan(X32).any(axis=1)
        inf_rows = np.isinf(X32).any(axis=1)
        parts = []
        if nan_rows.any():
            parts.append(f"{_plural(int(nan_rows.sum()), 'row')} with NaN/missing values")
        if inf_rows.any():
            parts.append(
                f"{_plural(int(inf_rows.sum()), 'row')} with infinite values "
                "(or values too large for float32)"
            )
        bad_names = names[nan_rows | inf_rows]
        raise CalbioInputError(f"{' and '.join(parts)}, e.g. {_examples(bad_names)}", path)
    return X32


def _deduplicate(
    names: np.ndarray, X32: np.ndarray, dedupe: str | None, path: str | Path
) -> tuple[np.ndarray, np.ndarray, int]:
    """Merge duplicate identifiers as ``dedupe`` says (refuse them without it); count merged."""
    n_dedup = 0
    idx = pd.Index(names)
    if not idx.is_unique:
        dup_mask = idx.duplicated(keep="first")
        if dedupe is None:
            dups = pd.unique(names[dup_mask])
            raise CalbioInputError(
                f"{_plural(len(dups), 'duplicate identifier')}: {_examples(dups)}; "
                "pass dedupe='first' or 'mean' (--dedupe) to merge them",
                path,
            )
        n_dedup = int(dup_mask.sum())
        if dedupe == "first":
            names, X32 = names[~dup_mask], X32[~dup_mask]
        else:  # mean, in float64, keeping the order of first appearance
            frame = pd.DataFrame(X32.astype(np.float64))
            means = frame.groupby(names, sort=False).mean()
            names = means.index.to_numpy(dtype=object)
            X32 = np.ascontiguousarray(means.to_numpy(), dtype=np.float32)
    return names, X32, n_dedup


def _check_geometry(X32: np.ndarray, names: np.ndarray, path: str | Path) -> None:
    """Refuse all-zero rows and bad norms; warn when cosine cannot tell the rows apart."""
    zero = ~np.any(X32 != 0, axis=1)
    if zero.any():
        raise CalbioInputError(
            f"{_plural(int(zero.sum()), 'row')} with all-zero values (zero norm): "
            f"{_examples(names[zero])}",
            path,
        )
    _check_norms(X32, names, path)
    flat = geometry_problem(X32)
    if flat:
        import logging

        logging.getLogger("calbio").warning(
            "%s: %s: no usable geometry (cosine cannot tell entities apart; learned scores "
            "only reflect the pairs)",
            path,
            flat,
        )


def _finish(
    names_raw: Any,
    X: Any,
    *,
    source: str,
    path: str | Path,
    drop: str | None = None,
    dedupe: str | None = None,
    sha256: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Embeddings:
    """Shared validation: drop by regex, check shape, finiteness, duplicates and zero rows."""
    _check_dedupe(dedupe, path)
    names = _clean_names(names_raw)
    arr = _as_real_matrix(names, X, path)
    n_rows_read = int(arr.shape[0])
    names, arr, n_dropped = _drop_matching(names, arr, drop, path)
    _check_not_empty(names, arr, n_rows_read, n_dropped, drop, path)
    X32 = _finite_float32(arr, names, path)
    names, X32, n_dedup = _deduplicate(names, X32, dedupe, path)
    _check_geometry(X32, names, path)

    info = dict(meta or {})
    info.update(
        n_rows_read=n_rows_read,
        n_dropped_regex=n_dropped,
        n_deduplicated=n_dedup,
        dedupe=dedupe,
        drop=drop,
    )
    return Embeddings(names=names, X=X32, source=source, sha256=sha256, meta=info)


def _read_text(
    path: Path, compression: str | None, id_column: str | None
) -> tuple[np.ndarray, pd.DataFrame, str, str]:
    """Read a delimited table: returns (identifiers, feature frame, id column, separator)."""
    sep = _sniff_separator(path, compression)
    try:
        header = pd.read_csv(path, sep=sep, nrows=0, encoding="utf-8-sig", compression=compression)
    except Exception as exc:  # pandas raises many types for malformed text
        raise CalbioInputError(f"cannot parse table: {_one_line(exc)}", path) from exc
    cols = list(header.columns)
    if not cols:
        raise CalbioInputError("file is empty", path)
    if id_column is None:
        id_col = cols[0]
    elif id_column in cols:
        id_col = id_column
    else:
        raise CalbioInputError(
            f"id column {id_column!r} not found; columns are {_examples(cols, 8)}", path
        )
    features = [c for c in cols if c != id_col]
    try:
        df = pd.read_csv(
            path,
            encoding="utf-8-sig",
            sep=sep,
            dtype={id_col: str},
            keep_default_na=False,
            na_values={c: NA_STRINGS for c in features},
            low_memory=False,
            compression=compression,
        )
    except Exception as exc:
        raise CalbioInputError(f"cannot parse table: {_one_line(exc)}", path) from exc
    ids = df[id_col].to_numpy(dtype=object)
    feats = df[features]
    _non_numeric_column_error(feats, features, ids, path)
    return ids, feats, str(id_col), sep


def _read_parquet(path: Path, id_column: str | None) -> tuple[np.ndarray, pd.DataFrame, str]:
    try:
        df = pd.read_parquet(path)
    except Exception as exc:
        raise CalbioInputError(f"cannot read parquet: {_one_line(exc)}", path) from exc
    cols = list(df.columns)
    if id_column is not None:
        if id_column in cols:
            return df[id_column].to_numpy(dtype=object), df.drop(columns=[id_column]), id_column
        if df.index.name == id_column:
            return df.index.to_numpy(dtype=object), df, id_column
        raise CalbioInputError(
            f"id column {id_column!r} not found; columns are {_examples(cols, 8)}", path
        )
    if cols and not pd.api.types.is_numeric_dtype(df[cols[0]]):
        return df[cols[0]].to_numpy(dtype=object), df.drop(columns=[cols[0]]), str(cols[0])
    index = df.index
    if not isinstance(index, pd.RangeIndex) and (
        pd.api.types.is_object_dtype(index) or pd.api.types.is_string_dtype(index)
    ):
        return index.to_numpy(dtype=object), df, str(index.name or "index")
    raise CalbioInputError(
        "cannot find an identifier column (first column is numeric and the index is not "
        "text); pass id_column (--id-column)",
        path,
    )


def _read_names_file(names_file: str | Path) -> list[str]:
    p = Path(names_file)
    if not p.is_file():
        raise CalbioInputError("names file not found", p)
    try:
        opener = gzip.open if p.name.lower().endswith(".gz") else open
        with opener(p, "rt", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, EOFError, UnicodeError) as exc:
        raise CalbioInputError(f"cannot read names file: {_one_line(exc)}", p) from exc
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise CalbioInputError("names file is empty", p)
    return lines


def _read_npy(path: Path, names_file: str | Path | None) -> tuple[list[str], np.ndarray]:
    if names_file is None:
        raise CalbioInputError(
            "a .npy table needs a names file (one identifier per line; --names-file)", path
        )
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise CalbioInputError(f"cannot read npy: {_one_line(exc)}", path) from exc
    if not isinstance(arr, np.ndarray):
        raise CalbioInputError("expected a single array in the .npy file", path)
    if arr.ndim != 2:
        raise CalbioInputError(f"expected a 2-D array, got shape {arr.shape}", path)
    names = _read_names_file(names_file)
    if len(names) != arr.shape[0]:
        raise CalbioInputError(
            f"array has {arr.shape[0]:,} rows but names file {str(names_file)!r} "
            f"has {len(names):,} identifiers",
            path,
        )
    return names, arr


def _read_h5ad(
    path: Path, id_column: str | None, layer: str | None, obsm: str | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    try:
        import anndata

        adata = anndata.read_h5ad(path)
    except Exception as exc:
        raise CalbioInputError(f"cannot read h5ad: {_one_line(exc)}", path) from exc
    return _anndata_matrix(adata, id_column, layer, obsm, path)


def _anndata_matrix(
    adata: Any, id_column: str | None, layer: str | None, obsm: str | None, path: Any
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Identifiers and the (dense) matrix of an AnnData: X, a layer, or an obsm key."""
    if layer is not None and obsm is not None:
        raise CalbioInputError("give layer or obsm, not both", path)
    dup_cols = pd.unique(adata.obs.columns[adata.obs.columns.duplicated()].astype(str))
    if len(dup_cols):
        raise CalbioInputError(
            f"obs has duplicated column name(s) {_examples(list(dup_cols), 5)}; obs column "
            "names must be unique (rename them in the file)",
            path,
        )
    if id_column is None:
        ids = np.asarray(adata.obs_names, dtype=object)
    elif id_column in adata.obs.columns:
        ids = adata.obs[id_column].astype(object).to_numpy(dtype=object)
    else:
        raise CalbioInputError(
            f"obs column {id_column!r} not found; obs columns are "
            f"{_examples(list(adata.obs.columns), 8) or 'none'}",
            path,
        )
    if obsm is not None:
        if obsm not in adata.obsm:
            raise CalbioInputError(
                f"obsm key {obsm!r} not found; obsm keys are "
                f"{_examples(list(adata.obsm), 8) or 'none'}",
                path,
            )
        mat = adata.obsm[obsm]
        if isinstance(mat, pd.DataFrame):
            mat = mat.to_numpy()
    elif layer is None:
        mat = adata.X
        if mat is None:
            raise CalbioInputError("AnnData has no X matrix; name a layer or an obsm key", path)
    elif layer in adata.layers:
        mat = adata.layers[layer]
    else:
        raise CalbioInputError(
            f"layer {layer!r} not found; layers are {_examples(list(adata.layers), 8) or 'none'}",
            path,
        )
    try:
        import scipy.sparse as sp

        if sp.issparse(mat):
            mat = mat.toarray()
        X = np.asarray(mat)
    except Exception as exc:
        raise CalbioInputError(f"cannot read the AnnData matrix: {_one_line(exc)}", path) from exc
    n_vars = int(adata.n_vars) if obsm is None else int(X.shape[1]) if X.ndim == 2 else 0
    return ids, X, {"layer": layer, "obsm": obsm, "n_vars": n_vars}


def load_embeddings(
    data: Any,
    *,
    id_column: str | None = None,
    layer: str | None = None,
    obsm: str | None = None,
    names_file: str | Path | None = None,
    drop: str | None = None,
    dedupe: str | None = None,
) -> Embeddings:
    """Load and validate an embedding table: a file path, an AnnData, a DataFrame or Embeddings.

    Files: CSV/TSV(.gz), Parquet, .npy + ``names_file``, .h5ad. An in-memory AnnData is read
    like an .h5ad (``id_column`` = an obs column, ``layer``, or ``obsm`` e.g. ``"X_pca"``); a
    DataFrame has identifiers as its index.
    """
    if isinstance(data, Embeddings):
        return data
    if isinstance(data, pd.DataFrame):
        if layer is not None or obsm is not None or names_file is not None:
            raise CalbioInputError("layer/obsm/names_file do not apply to a DataFrame", "dataframe")
        frame = data.set_index(id_column) if id_column is not None else data
        return embeddings_from_frame(frame, drop=drop, dedupe=dedupe)
    if _is_anndata(data):
        if names_file is not None:
            raise CalbioInputError("names_file does not apply to AnnData", "anndata")
        return embeddings_from_anndata(
            data, id_column=id_column, layer=layer, obsm=obsm, drop=drop, dedupe=dedupe
        )
    if not isinstance(data, str | Path):
        raise CalbioInputError(
            f"expected a file path, AnnData, DataFrame or Embeddings, got {type(data).__name__}",
            "embeddings",
        )
    if obsm is not None and _detect_format(Path(data))[0] != "h5ad":
        raise CalbioInputError("obsm only applies to AnnData / .h5ad", data)
    # a file path: CSV/TSV(.gz), Parquet, .npy + names or .h5ad
    p = Path(data)
    _check_dedupe(dedupe, p)
    fmt = _check_file_options(p, id_column=id_column, layer=layer, names_file=names_file)
    compression = _file_compression(p, fmt)
    ids, X, meta = _read_embedding_file(
        p, fmt, compression, id_column=id_column, layer=layer, obsm=obsm, names_file=names_file
    )
    return _finish(
        ids,
        X,
        source=str(p),
        path=p,
        drop=drop,
        dedupe=dedupe,
        sha256=sha256_file(p),
        meta=meta,
    )


def _check_file_options(
    p: Path,
    *,
    id_column: str | None,
    layer: str | None,
    names_file: str | Path | None,
) -> str:
    """Check the embedding file exists, is not empty and fits the options; return its format."""
    if not p.exists():
        raise CalbioInputError("file not found", p)
    if not p.is_file():
        raise CalbioInputError("not a file", p)
    fmt, _ = _detect_format(p)
    if p.stat().st_size == 0:
        raise CalbioInputError("file is empty", p)
    if layer is not None and fmt != "h5ad":
        raise CalbioInputError("layer only applies to .h5ad files", p)
    if names_file is not None and fmt != "npy":
        raise CalbioInputError("names_file only applies to .npy files", p)
    if id_column is not None and fmt == "npy":
        raise CalbioInputError("id_column does not apply to .npy (names come from the file)", p)
    return fmt


def _file_compression(p: Path, fmt: str) -> str | None:
    """The file's compression; only text tables may be compressed, other formats are refused."""
    if fmt in ("csv", "tsv"):
        return text_compression(p)
    compression = sniff_compression(p)
    if compression is not None:
        raise CalbioInputError(
            f"the file is {compression}-compressed; a .{fmt} file is read uncompressed "
            f"(decompress it first)",
            p,
        )
    return compression


def _read_embedding_file(
    p: Path,
    fmt: str,
    compression: str | None,
    *,
    id_column: str | None,
    layer: str | None,
    obsm: str | None,
    names_file: str | Path | None,
) -> tuple[Any, Any, dict[str, Any]]:
    """Read identifiers and values of one embedding file, with the metadata of how it was read."""
    suffix = {None: "", "gzip": ".gz"}.get(compression, f".{compression}")
    meta: dict[str, Any] = {"format": fmt + suffix}
    if fmt in ("csv", "tsv"):
        ids, feats, id_col, sep = _read_text(p, compression, id_column)
        meta.update(id_column=id_col, separator="tab" if sep == "\t" else "comma")
        X: Any = _numeric_matrix(feats)
    elif fmt == "parquet":
        ids, feats, id_col = _read_parquet(p, id_column)
        _non_numeric_column_error(feats, list(feats.columns), ids, p)
        meta.update(id_column=id_col)
        X = _numeric_matrix(feats)
    elif fmt == "npy":
        ids, X = _read_npy(p, names_file)
        meta.update(id_column=None, names_file=str(names_file))
    else:
        ids, X, extra = _read_h5ad(p, id_column, layer, obsm)
        meta.update(id_column=id_column or "obs_names", **extra)
    return ids, X, meta


def _is_anndata(obj: Any) -> bool:
    return type(obj).__name__ == "AnnData" and hasattr(obj, "obs_names") and hasattr(obj, "obsm")


def embeddings_from_anndata(
    adata: Any,
    *,
    id_column: str | None = None,
    layer: str | None = None,
    obsm: str | None = None,
    drop: str | None = None,
    dedupe: str | None = None,
    source: str = "anndata",
) -> Embeddings:
    """Validate an in-memory AnnData: rows = observations, values from X, a layer or an obsm key."""
    ids, X, extra = _anndata_matrix(adata, id_column, layer, obsm, source)
    meta = {"format": "anndata", "id_column": id_column or "obs_names", **extra}
    return _finish(ids, X, source=source, path=source, drop=drop, dedupe=dedupe, meta=meta)


def embeddings_from_frame(
    df: pd.DataFrame,
    source: str = "dataframe",
    *,
    drop: str | None = None,
    dedupe: str | None = None,
) -> Embeddings:
    """Validate a DataFrame (index = identifiers, numeric columns) into Embeddings."""
    if not isinstance(df, pd.DataFrame):
        raise CalbioInputError(f"expected a pandas DataFrame, got {type(df).__name__}", source)
    ids = df.index.to_numpy(dtype=object)
    _non_numeric_column_error(df, list(df.columns), ids, source)
    return _finish(
        ids,
        _numeric_matrix(df),
        source=source,
        path=source,
        drop=drop,
        dedupe=dedupe,
        meta={"format": "dataframe", "id_column": "index"},
    )


def embeddings_from_array(
    X: Any,
    names: Sequence[Any],
    source: str = "array",
    *,
    drop: str | None = None,
    dedupe: str | None = None,
) -> Embeddings:
    """Validate an (n, d) numeric array plus n identifiers into Embeddings."""
    try:
        arr = np.asarray(X)
        name_arr = np.asarray(names, dtype=object).reshape(-1)
    except Exception as exc:
        raise CalbioInputError(f"cannot convert to arrays: {_one_line(exc)}", source) from exc
    return _finish(
        name_arr,
        arr,
        source=source,
        path=source,
        drop=drop,
        dedupe=dedupe,
        meta={"format": "array", "id_column": None},
    )
