"""Read associated pairs (CSV/TSV/space-separated text, STRING's native format) and clean them."""

from __future__ import annotations

import csv
import logging
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calbio.core.errors import CalbioInputError
from calbio.core.graph import pair_key
from calbio.core.io import sha256_file
from calbio.data.embeddings import (
    _COMPRESSION_SUFFIX,
    NA_STRINGS,
    _examples,
    _one_line,
    open_text,
    text_compression,
)
from calbio.data.types import Pairs

# Known identifier column pairs, in order of preference (compared case-insensitively, '#' ignored).
KNOWN_COLUMN_PAIRS: tuple[tuple[str, str], ...] = (
    ("gene1", "gene2"),
    ("entity1", "entity2"),
    ("protein1", "protein2"),
    ("a", "b"),
    ("source", "target"),
    ("gene_a", "gene_b"),
    ("symbol1", "symbol2"),
)

log = logging.getLogger("calbio")

_STRING_ID = re.compile(r"^\d+\.ENS[A-Z]*P\d+")
_SAMPLE_ROWS = 2000


def parse_min_score(items: Iterable[str]) -> dict[str, float]:
    """Parse CLI thresholds like ``["combined_score=900", "experimental>=700"]`` into a dict."""
    out: dict[str, float] = {}
    for item in items:
        if not isinstance(item, str) or "=" not in item:
            raise CalbioInputError(f"min-score {item!r} is not of the form COLUMN=VALUE")
        name, _, value = item.partition("=")
        name = name.strip()
        if name.endswith(">"):
            name = name[:-1].rstrip()
        if not name:
            raise CalbioInputError(f"min-score {item!r} has no column name (COLUMN=VALUE)")
        try:
            number = float(value.strip())
        except ValueError:
            raise CalbioInputError(
                f"min-score {item!r}: {value.strip()!r} is not a number"
            ) from None
        if not math.isfinite(number):
            raise CalbioInputError(f"min-score {item!r}: value must be finite")
        if name in out:
            raise CalbioInputError(f"min-score column {name!r} is given twice")
        out[name] = number
    return out


def _norm_col(c: Any) -> str:
    return str(c).strip().lstrip("#").strip().casefold()


def _detect_columns(
    df: pd.DataFrame,
    columns: Sequence[str] | None,
    path: str | Path | None,
    notes: list[str] | None = None,
) -> tuple[Any, Any]:
    """Pick the two identifier columns (given, known names, or first two non-numeric).

    When other text columns are left out, say which two are used and which were ignored (an
    info line when the two have known names, a warning when they are only the first two).
    """
    ca, cb, known = _pick_columns(df, columns, path)
    if columns is None:
        others = [
            c
            for c in df.columns
            if c not in (ca, cb)
            and not pd.api.types.is_numeric_dtype(df[c])
            and df[c].notna().any()
        ]
        if others:
            msg = (
                f"identifier columns {str(ca)!r} and {str(cb)!r} "
                f"({'known names' if known else 'the first two text columns'}); ignored text "
                f"column{'' if len(others) == 1 else 's'} {_examples(others, 5)}; choose others "
                "with --columns A,B (API: columns=)"
            )
            if notes is not None:
                notes.append(msg)
            log.log(logging.INFO if known else logging.WARNING, "%s: %s", path, msg)
    return ca, cb


def _pick_columns(
    df: pd.DataFrame, columns: Sequence[str] | None, path: str | Path | None
) -> tuple[Any, Any, bool]:
    """The two identifier columns and whether they were chosen by name (given or known)."""
    cols = list(df.columns)
    if len(cols) < 2:
        raise CalbioInputError(
            f"fewer than two columns (found {_examples(cols, 8) or 'none'})", path
        )
    if columns is not None:
        if isinstance(columns, str) or len(columns) != 2:
            raise CalbioInputError(f"columns must name exactly two columns (got {columns!r})", path)
        missing = [c for c in columns if c not in cols]
        if missing:
            raise CalbioInputError(
                f"column(s) {', '.join(repr(str(c)) for c in missing)} not found; "
                f"available columns: {', '.join(repr(str(c)) for c in cols)}",
                path,
            )
        if columns[0] == columns[1]:
            raise CalbioInputError(
                f"the two identifier columns are the same ({columns[0]!r})", path
            )
        return columns[0], columns[1], True
    normed: dict[str, Any] = {}
    for c in cols:
        normed.setdefault(_norm_col(c), c)
    for x, y in KNOWN_COLUMN_PAIRS:
        if x in normed and y in normed:
            return normed[x], normed[y], True
    text_cols = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c])]
    if len(text_cols) >= 2:
        return text_cols[0], text_cols[1], False
    if len(cols) == 2:
        return cols[0], cols[1], False
    raise CalbioInputError(
        f"cannot tell which two columns hold the identifiers (columns: "
        f"{', '.join(repr(str(c)) for c in cols)}); pass columns (--columns A B)",
        path,
    )


def _as_id_series(values: Any) -> pd.Series:
    s = pd.Series(np.asarray(values, dtype=object), dtype=object)
    s = s.where(s.notna(), "")
    return s.astype(str).str.strip()


def _clean(
    a: pd.Series, b: pd.Series, evidence: pd.DataFrame | None, keep_rows: bool = False
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame | None, dict[str, int]]:
    """Strip ids, drop empty ids, self-pairs and undirected duplicates (keeping the first).

    ``keep_rows``: count them but keep every row, in order (``calbio score`` answers each row).
    """
    if keep_rows:
        a, b = _as_id_series(a).reset_index(drop=True), _as_id_series(b).reset_index(drop=True)
        _, _, _, st = _clean(a, b, evidence)
        st["n_pairs"] = int(len(a))
        ev = None if evidence is None else evidence.reset_index(drop=True)
        return a.to_numpy(dtype=object), b.to_numpy(dtype=object), ev, st
    a = _as_id_series(a)
    b = _as_id_series(b)
    if evidence is not None:
        evidence = evidence.reset_index(drop=True)
    empty = ((a == "") | (b == "")).to_numpy(bool)
    selfp = (a == b).to_numpy(bool) & ~empty
    keep = ~(empty | selfp)
    a, b = a[keep].reset_index(drop=True), b[keep].reset_index(drop=True)
    if evidence is not None:
        evidence = evidence.loc[keep].reset_index(drop=True)

    n = len(a)
    if n:
        codes, uniques = pd.factorize(pd.concat([a, b], ignore_index=True), sort=False)
        ca, cb = codes[:n].astype(np.int64), codes[n:].astype(np.int64)
        key = pair_key(ca, cb, len(uniques))
        dup = pd.Series(key).duplicated(keep="first").to_numpy(bool)
    else:
        dup = np.zeros(0, dtype=bool)
    a, b = a[~dup], b[~dup]
    if evidence is not None:
        evidence = evidence.loc[~dup].reset_index(drop=True)
    stats = {
        "n_empty_dropped": int(empty.sum()),
        "n_self_dropped": int(selfp.sum()),
        "n_duplicates_dropped": int(dup.sum()),
        "n_pairs": int((~dup).sum()),
    }
    return a.to_numpy(dtype=object), b.to_numpy(dtype=object), evidence, stats


def _numeric_columns(df: pd.DataFrame, exclude: Sequence[Any]) -> list[Any]:
    return [
        c
        for c in df.columns
        if c not in exclude
        and pd.api.types.is_numeric_dtype(df[c])
        and not pd.api.types.is_bool_dtype(df[c])
    ]


def _apply_min_score(
    df: pd.DataFrame, numeric: list[Any], min_score: dict[str, float] | None, path: Any
) -> tuple[pd.DataFrame, int]:
    if not min_score:
        return df, 0
    keep = np.ones(len(df), dtype=bool)
    for col, value in min_score.items():
        if col not in numeric:
            raise CalbioInputError(
                f"min-score column {col!r} not found; numeric columns: "
                f"{', '.join(repr(str(c)) for c in numeric) or 'none'}",
                path,
            )
        keep &= (df[col] >= value).to_numpy(bool)
    return df.loc[keep], int((~keep).sum())


def _looks_like_string_ids(values: pd.Series) -> bool:
    sample = values.iloc[:1000].astype(str).str.strip()
    sample = sample[sample != ""]
    if sample.empty:
        return False
    return float(sample.str.match(_STRING_ID).mean()) >= 0.9


def _find_protein_info(path: Path, example_id: str) -> Path | None:
    """A sibling file whose name contains 'protein.info', preferring the same taxon prefix."""
    try:
        found = sorted(p for p in path.parent.iterdir() if "protein.info" in p.name and p.is_file())
    except OSError:
        return None
    if not found:
        return None
    taxon = example_id.split(".", 1)[0] + "."
    same = [p for p in found if p.name.startswith(taxon)]
    return (same or found)[0]


def _read_protein_info(info: Path) -> pd.Series:
    """STRING protein.info as a Series: protein id -> preferred_name."""
    if not info.is_file():
        raise CalbioInputError("protein info file not found", info)
    try:
        df = pd.read_csv(
            info,
            encoding="utf-8-sig",
            sep="\t",
            dtype=str,
            keep_default_na=False,
            quoting=csv.QUOTE_NONE,
            on_bad_lines="skip",
        )
    except Exception as exc:
        raise CalbioInputError(f"cannot read protein info: {_one_line(exc)}", info) from exc
    normed = {_norm_col(c): c for c in df.columns}
    if "preferred_name" not in normed or len(df.columns) < 2:
        raise CalbioInputError(
            "protein info needs a 'preferred_name' column (STRING protein.info format); "
            f"columns are {', '.join(repr(str(c)) for c in df.columns)}",
            info,
        )
    id_col = normed.get("string_protein_id", df.columns[0])
    ids = df[id_col].str.strip()
    names = df[normed["preferred_name"]].str.strip()
    ok = (ids != "") & (names != "")
    s = pd.Series(names[ok].to_numpy(), index=ids[ok].to_numpy())
    return s[~s.index.duplicated(keep="first")]


def _split(line: str, sep: str) -> list[str]:
    return line.split() if sep == r"\s+" else line.rstrip("\r\n").split(sep)


def _sep_of(line: str) -> str:
    if "\t" in line:
        return "\t"
    if "," in line:
        return ","
    return r"\s+"


def _sniff_separator(path: Path, compression: str | None) -> tuple[str | None, int]:
    """Separator from the first line that is not blank or a ``#`` comment, and how many lines
    to skip before the header (blank and ``#`` lines); (None, 0) for a file without such a line.

    A last ``#`` line split into as many fields (>= 2) as the line after it is a header that
    starts with ``#`` (BioGRID, STRING protein.info), unless that next line is itself a header
    of known column names (then the ``#`` line is a comment).
    """
    leading: list[str] = []
    try:
        with open_text(path, compression) as fh:
            for line in fh:
                text = line.strip()
                if not text or text.startswith("#"):
                    leading.append(text)
                    if len(leading) > 10_000:
                        break
                    continue
                sep = _sep_of(line)
                comments = [x for x in leading if x]
                if comments and len(comments[-1]) > 1:
                    last = comments[-1]
                    fields = _split(last, _sep_of(last))
                    nxt = {_norm_col(c) for c in _split(line, sep)}
                    known = any(x in nxt and y in nxt for x, y in KNOWN_COLUMN_PAIRS)
                    if len(fields) >= 2 and len(fields) == len(_split(line, sep)) and not known:
                        return _sep_of(last), _skip_before(leading, last)
                return sep, len(leading)
    except (OSError, EOFError, UnicodeError, ValueError) as exc:
        raise CalbioInputError(f"cannot read file: {_one_line(exc)}", path) from exc
    return None, len(leading)


def _skip_before(leading: list[str], header: str) -> int:
    """Lines before the last occurrence of ``header`` among the leading lines."""
    return len(leading) - 1 - leading[::-1].index(header)


def _header_looks_like_data(
    sample: pd.DataFrame, ca: Any, cb: Any, known_ids: Iterable[Any] | None = None
) -> bool:
    """True when both header cells are known identifiers (of ``known_ids`` or of the body)."""
    known = {x for pair in KNOWN_COLUMN_PAIRS for x in pair}
    heads = [_norm_col(ca), _norm_col(cb)]
    if any(h in known or h == "" or h.startswith("unnamed:") for h in heads):
        return False
    ids = [_as_id_series(sample[ca]), _as_id_series(sample[cb])]
    if known_ids is not None:
        ids.append(_as_id_series(list(known_ids)))
    body = set(pd.concat(ids, ignore_index=True).str.casefold().tolist())
    return all(str(c).strip().casefold() in body for c in (ca, cb))


def _count_comments(path: Path, compression: str | None, skip: int) -> int:
    """How many of the first ``skip`` lines are ``#`` comments (the rest are blank)."""
    if not skip:
        return 0
    with open_text(path, compression) as fh:
        head = [next(fh, "") for _ in range(skip)]
    return sum(line.strip().startswith("#") for line in head)


def _read_pairs_table(
    path: Path,
    columns: Sequence[str] | None,
    warnings: list[str] | None = None,
    known_ids: Iterable[Any] | None = None,
    notes: list[str] | None = None,
) -> tuple[pd.DataFrame, Any, Any, str]:
    """Read a pairs table with the identifier columns as text; returns (df, col_a, col_b, sep).

    A first line whose two identifier cells also occur as identifiers further down is data, not
    a header (a headerless file): it is read as a pair, with a warning appended to ``warnings``.
    Blank and ``#`` comment lines above the header are skipped; a compressed file is read
    whatever its name. What was done is appended to ``notes`` (and logged).
    """
    notes = [] if notes is None else notes
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return _read_parquet_pairs(path, columns, notes)
    compression, sep, skip = _text_layout(path, notes)
    read = {"sep": sep, "encoding": "utf-8-sig", "compression": compression, "skiprows": skip}
    try:
        sample = pd.read_csv(path, nrows=_SAMPLE_ROWS, **read)
    except pd.errors.EmptyDataError:
        raise CalbioInputError("file is empty", path) from None
    except Exception as exc:
        raise CalbioInputError(f"cannot parse table: {_one_line(exc)}", path) from exc
    ca, cb = _detect_columns(sample, columns, path, notes)
    if columns is None and _header_looks_like_data(sample, ca, cb, known_ids):
        if warnings is not None:
            warnings.append(
                f"the first line ({str(ca)!r}, {str(cb)!r}) looks like a pair, not a header (both "
                "are known identifiers); it is read as data. Pass columns (--columns) if the "
                "file has a header"
            )
        df, ia, ib = _read_headerless(path, read, list(sample.columns), ca, cb)
        return df, ia, ib, sep
    others = [c for c in sample.columns if c not in (ca, cb)]
    try:
        df = pd.read_csv(
            path,
            **read,
            dtype={ca: str, cb: str},
            keep_default_na=False,
            na_values={c: NA_STRINGS for c in others},
            low_memory=False,
        )
    except Exception as exc:
        raise CalbioInputError(f"cannot parse table: {_one_line(exc)}", path) from exc
    return df, ca, cb, sep


def _read_parquet_pairs(
    path: Path, columns: Sequence[str] | None, notes: list[str]
) -> tuple[pd.DataFrame, Any, Any, str]:
    """Read a Parquet pairs table and find its identifier columns."""
    try:
        df = pd.read_parquet(path)
    except Exception as exc:
        raise CalbioInputError(f"cannot read parquet: {_one_line(exc)}", path) from exc
    ca, cb = _detect_columns(df, columns, path, notes)
    return df, ca, cb, "parquet"


def _text_layout(path: Path, notes: list[str]) -> tuple[str | None, str, int]:
    """A text table's compression, separator and leading lines to skip (noting what was found)."""
    compression = text_compression(path)
    if compression is not None and compression != _COMPRESSION_SUFFIX.get(path.suffix.lower()):
        notes.append(f"read as {compression}-compressed text (found by content, not by name)")
    sep, skip = _sniff_separator(path, compression)
    if sep is None:
        n_comments = _count_comments(path, compression, skip)
        raise CalbioInputError(
            "file holds only '#' comment lines" if n_comments else "file is empty", path
        )
    n_comments = _count_comments(path, compression, skip)
    if n_comments:
        msg = (
            f"skipped {n_comments:,} comment line{'' if n_comments == 1 else 's'} starting with "
            "'#' at the top of the file"
        )
        notes.append(msg)
        log.info("%s: %s", path, msg)
    return compression, sep, skip


def _read_headerless(
    path: Path, read: dict[str, Any], cols: list[Any], ca: Any, cb: Any
) -> tuple[pd.DataFrame, int, int]:
    """Read a table whose first line is data, identifier columns as text; return their indices."""
    ia, ib = cols.index(ca), cols.index(cb)
    try:
        df = pd.read_csv(
            path,
            **read,
            header=None,
            dtype={ia: str, ib: str},
            keep_default_na=False,
            na_values={i: NA_STRINGS for i in range(len(cols)) if i not in (ia, ib)},
            low_memory=False,
        )
    except Exception as exc:
        raise CalbioInputError(f"cannot parse table: {_one_line(exc)}", path) from exc
    return df, ia, ib


def _build_pairs(
    df: pd.DataFrame,
    ca: Any,
    cb: Any,
    *,
    min_score: dict[str, float] | None,
    source: str,
    path: Any,
    protein_names: pd.Series | None = None,
    stats: dict[str, Any] | None = None,
    sha256: str | None = None,
    keep_rows: bool = False,
) -> Pairs:
    """Filter by score, map STRING protein ids, clean, and pack into Pairs."""
    st: dict[str, Any] = {"warnings": []}
    st.update(stats or {})
    st["n_rows_read"] = int(len(df))
    st["columns"] = [str(ca), str(cb)]
    numeric = _numeric_columns(df, (ca, cb))
    df, n_filtered = _apply_min_score(df, numeric, min_score, path)
    st["n_filtered_min_score"] = n_filtered
    a, b = df[ca], df[cb]
    if protein_names is not None:
        a_ids, b_ids = _as_id_series(a), _as_id_series(b)
        ma, mb = a_ids.map(protein_names), b_ids.map(protein_names)
        bad_a, bad_b = ma.isna().to_numpy(bool), mb.isna().to_numpy(bool)
        unmapped = pd.unique(
            pd.concat([a_ids[bad_a], b_ids[bad_b]], ignore_index=True).to_numpy(dtype=object)
        )
        unmapped = unmapped[unmapped != ""]
        keep = ~(bad_a | bad_b)
        st["n_unmapped_protein_ids"] = int(len(unmapped))
        st["n_rows_unmapped_protein"] = int((~keep).sum())
        if len(unmapped):
            st["examples_unmapped_protein_ids"] = [str(x) for x in unmapped[:5]]
        a, b = ma[keep], mb[keep]
        df = df.loc[keep]
    evidence = df[numeric].reset_index(drop=True) if numeric else None
    a_out, b_out, evidence, cleaned = _clean(a, b, evidence, keep_rows)
    st.update(cleaned)
    return Pairs(a=a_out, b=b_out, evidence=evidence, source=source, sha256=sha256, stats=st)


def load_pairs(
    data: Any,
    *,
    columns: tuple[str, str] | None = None,
    min_score: dict[str, float] | None = None,
    protein_info: str | Path | None = None,
    min_mapped: float | None = 0.5,
    known_ids: Iterable[Any] | None = None,
    keep_rows: bool = False,
) -> Pairs:
    """Load associated pairs: a file (CSV/TSV/space-separated, gzip ok, STRING links), a
    DataFrame (identifier columns auto-detected or ``columns``), a list of (a, b) tuples, or
    ``Pairs``. ``min_mapped``, ``known_ids`` and ``keep_rows`` apply to files only.

    ``keep_rows``: keep empty ids, self-pairs and duplicates (counted in ``stats``), one pair per
    row in file order, for commands that answer every input row (``calbio score``).

    With a protein.info file, rows whose protein ids have no name are lost; when more than
    ``1 - min_mapped`` of the rows (after the score filter) are lost that way, this refuses, the
    same rule as for identifiers that do not map onto the embedding table. ``known_ids`` (e.g.
    the embedding's names) help tell a header from a first pair in a file without a header.
    """
    if isinstance(data, Pairs):
        return data
    if isinstance(data, pd.DataFrame):
        return pairs_from_frame(data, columns, min_score=min_score)
    if isinstance(data, list | tuple) or (
        isinstance(data, np.ndarray) and data.ndim == 2 and data.shape[1] == 2
    ):
        if columns is not None or min_score is not None:
            raise CalbioInputError("columns/min_score apply to files and DataFrames only", "list")
        return pairs_from_list([tuple(r) for r in data])
    if not isinstance(data, str | Path):
        raise CalbioInputError(
            "expected a file path, DataFrame, list of (a, b) tuples or Pairs, "
            f"got {type(data).__name__}",
            "pairs",
        )
    p = Path(data)
    _check_pairs_file(p)
    stats: dict[str, Any] = {"warnings": [], "notes": []}
    df, ca, cb, sep = _read_pairs_table(p, columns, stats["warnings"], known_ids, stats["notes"])
    if len(df) == 0:
        raise CalbioInputError("no data rows (only a header)", p)
    if sep != "parquet":
        df = _drop_comment_rows(df, ca, p, stats["notes"])

    is_string = sep == r"\s+" and _norm_col(ca) == "protein1" and _norm_col(cb) == "protein2"
    stats["format"] = "string-links" if is_string else ("parquet" if sep == "parquet" else "text")
    protein_names = _protein_names_for(p, df[ca], protein_info, stats)

    pairs = _build_pairs(
        df,
        ca,
        cb,
        min_score=min_score,
        source=str(p),
        path=p,
        protein_names=protein_names,
        stats=stats,
        sha256=sha256_file(p),
        keep_rows=keep_rows,
    )
    _check_pairs_left(pairs, p)
    _check_protein_mapping(pairs, min_mapped, p)
    return pairs


def _check_pairs_file(p: Path) -> None:
    """Refuse a pairs path that is missing, not a file, or empty."""
    if not p.exists():
        raise CalbioInputError("file not found", p)
    if not p.is_file():
        raise CalbioInputError("not a file", p)
    if p.stat().st_size == 0:
        raise CalbioInputError("file is empty", p)


def _drop_comment_rows(df: pd.DataFrame, ca: str, p: Path, notes: list[str]) -> pd.DataFrame:
    """Skip rows whose first identifier starts with '#' (noted and logged); refuse if none left."""
    comment = _as_id_series(df[ca]).str.startswith("#").to_numpy(bool)
    if comment.any():
        msg = f"skipped {int(comment.sum()):,} line(s) starting with '#' below the header"
        notes.append(msg)
        log.info("%s: %s", p, msg)
        df = df.loc[~comment]
        if len(df) == 0:
            raise CalbioInputError("no data rows (only a header and '#' lines)", p)
    return df


def _protein_names_for(
    p: Path, first_ids: pd.Series, protein_info: str | Path | None, stats: dict[str, Any]
) -> pd.Series | None:
    """STRING protein id -> name from the given or found protein.info file (None without one)."""
    info_path: Path | None = Path(protein_info) if protein_info is not None else None
    if info_path is None:
        first = _as_id_series(first_ids.iloc[:1000])
        if _looks_like_string_ids(first):
            example = str(first[first != ""].iloc[0])
            info_path = _find_protein_info(p, example)
            if info_path is None:
                stats["warnings"].append(
                    f"identifiers look like STRING protein ids (e.g. {example!r}) but no "
                    "protein.info file was given or found beside the file; ids are kept as they "
                    "are and will not match gene symbols"
                )
    if info_path is None:
        return None
    protein_names = _read_protein_info(info_path)
    stats["protein_info"] = str(info_path)
    return protein_names


def _check_pairs_left(pairs: Pairs, p: Path) -> None:
    """Refuse a file where cleanup left no pair, saying how many rows each step removed."""
    if len(pairs) == 0:
        st = pairs.stats
        raise CalbioInputError(
            f"no pairs left after cleanup ({st['n_rows_read']:,} rows read, "
            f"{st['n_filtered_min_score']:,} below min-score, "
            f"{st.get('n_rows_unmapped_protein', 0):,} with unmapped protein ids, "
            f"{st['n_self_dropped']:,} self-pairs, {st['n_empty_dropped']:,} empty ids)",
            p,
        )


def _check_protein_mapping(pairs: Pairs, min_mapped: float | None, path: Path) -> None:
    """The minimum-mapped rule, applied to rows lost for protein ids without a name.

    Unset (None) means half: unlike coverage of an embedding, a protein.info file that names
    under half of a links file's proteins is the wrong (or a truncated) file.
    """
    st = pairs.stats
    lost = int(st.get("n_rows_unmapped_protein", 0))
    min_mapped = 0.5 if min_mapped is None else min_mapped
    if not lost:
        return
    n = int(st["n_rows_read"]) - int(st["n_filtered_min_score"])
    if n and (n - lost) / n < min_mapped:
        ex = ", ".join(repr(x) for x in st.get("examples_unmapped_protein_ids", [])[:3])
        raise CalbioInputError(
            f"only {n - lost:,} of {n:,} rows ({100 * (n - lost) / n:.1f}%) have both protein ids "
            f"in {st.get('protein_info')} (need >= {100 * min_mapped:g}%); ids without a name, "
            f"e.g. {ex}. Use the complete protein.info file, or lower --min-mapped (API: "
            "min_mapped)",
            path,
        )


def describe_drops(pairs: Pairs) -> str:
    """One line: rows read from the raw file and what each cleaning step dropped."""
    st = pairs.stats
    steps = [
        ("n_filtered_min_score", "below min-score"),
        ("n_rows_unmapped_protein", "with protein ids missing from protein.info"),
        ("n_empty_dropped", "with an empty id"),
        ("n_self_dropped", "self-pairs"),
        ("n_duplicates_dropped", "duplicates (incl. reversed)"),
    ]
    dropped = [f"{int(st.get(k, 0)):,} {label}" for k, label in steps if k in st]
    n_read = int(st.get("n_rows_read", len(pairs)))
    return (
        f"{pairs.source}: {n_read:,} rows read; dropped {', '.join(dropped) or 'none'}; "
        f"{len(pairs):,} pairs kept"
    )


def pairs_from_frame(
    df: pd.DataFrame,
    columns: tuple[str, str] | None = None,
    source: str = "dataframe",
    *,
    min_score: dict[str, float] | None = None,
) -> Pairs:
    """Build cleaned Pairs from a DataFrame (identifier columns + optional numeric evidence)."""
    if not isinstance(df, pd.DataFrame):
        raise CalbioInputError(f"expected a pandas DataFrame, got {type(df).__name__}", source)
    ca, cb = _detect_columns(df, columns, source)
    return _build_pairs(df, ca, cb, min_score=min_score, source=source, path=source)


def pairs_from_list(pairs: Iterable[Sequence[Any]], source: str = "list") -> Pairs:
    """Build cleaned Pairs from an iterable of (a, b) tuples."""
    rows = list(pairs)
    if not rows:
        empty = np.empty(0, dtype=object)
        stats = {
            "warnings": [],
            "n_rows_read": 0,
            "n_filtered_min_score": 0,
            "n_empty_dropped": 0,
            "n_self_dropped": 0,
            "n_duplicates_dropped": 0,
            "n_pairs": 0,
        }
        return Pairs(a=empty, b=empty.copy(), evidence=None, source=source, stats=stats)
    bad = [r for r in rows if isinstance(r, str) or not hasattr(r, "__len__") or len(r) != 2]
    if bad:
        raise CalbioInputError(
            f"every pair must have exactly two items, e.g. not {bad[0]!r}", source
        )
    df = pd.DataFrame({"a": [r[0] for r in rows], "b": [r[1] for r in rows]}, dtype=object)
    return _build_pairs(df, "a", "b", min_score=None, source=source, path=source)
