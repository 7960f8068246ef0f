"""Gene identifier namespaces: detection, conversion tables, Excel-mangled symbols.

Namespaces: ``symbol`` (HGNC symbol), ``entrez`` (NCBI GeneID), ``ensembl_gene`` (ENSG...),
``ensembl_protein`` (ENSP... or STRING's ``9606.ENSP...``), ``uniprot`` (UniProt accession),
``unknown`` (anything else). Detection is a set of regular expressions applied to a pandas
string Series (vectorised); a list of identifiers gets the namespace most of them match.

Conversion goes through NCBI GeneIDs: :class:`IdentifierTables` reads NCBI's
``Homo_sapiens.gene_info.gz`` (current ``Symbol``, ``Synonyms`` = previous symbols and
aliases, ``dbXrefs`` = ``Ensembl:ENSG...``) and a GeneID -> UniProt table, and resolves any
identifier to a GeneID. An alias is used only when it names exactly one gene and is not
itself any gene's current symbol; ambiguous aliases resolve to :data:`AMBIGUOUS`.

Where tables come from: an :class:`IdResolver` passed explicitly as ``id_tables=`` (the CLI
builds one per command from ``--id-tables``), a folder or loaded tables, else the environment
variable ``CALBIO_ID_TABLES`` (read only in :func:`id_resolver`). Parsed
tables are cached per process (keyed on path, size and modification time).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from calbio.core.errors import CalbioInputError

log = logging.getLogger("calbio")

ENV_VAR = "CALBIO_ID_TABLES"
GENE_INFO = "Homo_sapiens.gene_info.gz"
# GeneID -> UniProt: the two-column layout (``GeneID<TAB>UniProtKB_AC``), or UniProt's own
# ``HUMAN_9606_idmapping_selected.tab.gz`` (what ``calbio fetch gene-uniprot`` downloads).
UNIPROT_FILES = ("gene2uniprot_human.tsv.gz", "HUMAN_9606_idmapping_selected.tab.gz")

UNKNOWN = -1  # GeneID code: not found
AMBIGUOUS = -2  # GeneID code: names more than one gene

NAMESPACES = ("ensembl_gene", "ensembl_protein", "entrez", "uniprot", "symbol")
LABELS = {
    "symbol": "HGNC symbol",
    "entrez": "Entrez GeneID",
    "ensembl_gene": "Ensembl gene",
    "ensembl_protein": "Ensembl protein / STRING",
    "uniprot": "UniProt accession",
    "unknown": "unrecognised identifiers",
    "empty": "no identifiers",
}
# Checked in this order; an identifier gets the first namespace whose pattern it matches.
_PATTERNS = {
    "ensembl_gene": r"ENSG\d{11}(?:\.\d+)?",
    "ensembl_protein": r"(?:9606\.)?ENSP\d{11}(?:\.\d+)?",
    "entrez": r"[1-9]\d{0,9}",
    "uniprot": r"(?:[OPQ]\d[A-Z\d]{3}\d|[A-NR-Z]\d(?:[A-Z][A-Z\d]{2}\d){1,2})(?:-\d+)?",
    "symbol": r"[A-Za-z][A-Za-z\d]*(?:[-._@/][A-Za-z\d]+)*",
}

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# Gene families whose symbols Excel turns into dates (MARCH1 -> 1-Mar, SEPT7 -> 7-Sep, ...).
_MONTH_FAMILY = {"mar": "MARCH", "sep": "SEPT", "oct": "OCT", "dec": "DEC"}
_MON = "|".join(_MONTHS)
_EXCEL_DAY_MON = rf"(?i)^(?P<day>\d{{1,2}})-(?P<mon>{_MON})[a-z]*$"
_EXCEL_MON_DAY = rf"(?i)^(?P<mon>{_MON})[a-z]*-(?P<day>\d{{1,2}})$"
_EXCEL_ISO = r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})(?:[ T]00:00:00)?$"
_EXCEL_ANY = rf"(?i)^(?:\d{{1,2}}-(?:{_MON})[a-z]*|(?:{_MON})[a-z]*-\d{{1,2}}|\d{{4}}-\d\d-\d\d)"


def _as_str_series(ids: Iterable[object] | pd.Series | np.ndarray) -> pd.Series:
    s = ids if isinstance(ids, pd.Series) else pd.Series(np.asarray(list(ids), dtype=object))
    return s.astype(str).str.strip().reset_index(drop=True)


def classify_ids(ids: Iterable[object] | pd.Series | np.ndarray) -> pd.Series:
    """Namespace of each identifier (first matching pattern; 'unknown' if none)."""
    s = _as_str_series(ids)
    out = pd.Series("unknown", index=s.index, dtype=object)
    todo = np.ones(len(s), dtype=bool)
    for name in NAMESPACES:
        if not todo.any():
            break
        hit = s.str.fullmatch(_PATTERNS[name]).to_numpy(dtype=bool) & todo
        out[hit] = name
        todo &= ~hit
    return out


@dataclass(frozen=True)
class NamespaceGuess:
    """The namespace most identifiers match, its share, and counts per namespace."""

    namespace: str
    fraction: float
    counts: dict[str, int]

    @property
    def label(self) -> str:
        """Human-readable name of the namespace."""
        return LABELS.get(self.namespace, self.namespace)


def detect_namespace(
    ids: Iterable[object] | pd.Series | np.ndarray, *, classes: pd.Series | None = None
) -> NamespaceGuess:
    """Namespace of a list of identifiers: the one most of them match (vectorised regexes).

    ``classes``: the identifiers' namespaces from :func:`classify_ids`, when already known.
    """
    if classes is None:
        classes = classify_ids(ids)
    if len(classes) == 0:
        return NamespaceGuess("empty", 0.0, {})
    counts = classes.value_counts()
    top = str(counts.index[0])
    return NamespaceGuess(
        top, float(counts.iloc[0] / len(classes)), {str(k): int(v) for k, v in counts.items()}
    )


# A stricter look for symbols when no gene_info table can confirm them: starts upper-case, no
# lower case but an 'orf' (C1orf112), and not a zero-padded counter (SYN0001, GENE_0042).
_STRICT_SYMBOL = r"[A-Z][A-Z\d]*(?:orf\d+)?(?:[-.@/][A-Z\d]+)*"
_COUNTER = r"[A-Za-z_]+0\d+"
SYMBOL_LIKE = "symbol-like names"
NOT_SYMBOLS = "names that are not HGNC symbols"


def namespace_label(
    ids: Iterable[object] | pd.Series | np.ndarray,
    namespace: str,
    tables: IdentifierTables | None = None,
    sample: int = 2000,
) -> str:
    """How to call ``ids`` in a message: the namespace's label, but 'HGNC symbol' only when
    most of them are real symbols.

    With identifier tables, most (of an evenly spaced sample) must name a gene (current or
    previous symbol); without, most must pass a stricter pattern and the label says they only
    look like symbols. Anything else keeps its namespace label.
    """
    if namespace != "symbol":
        return LABELS.get(namespace, namespace)
    s = _as_str_series(ids)
    s = s.iloc[:: max(1, len(s) // sample)]
    if s.empty:
        return LABELS["empty"]
    if tables is not None:
        gid, _ = tables.to_geneid(s)
        return LABELS["symbol"] if float(np.mean(gid != UNKNOWN)) > 0.5 else NOT_SYMBOLS
    strict = s.str.fullmatch(_STRICT_SYMBOL) & ~s.str.fullmatch(_COUNTER)
    return SYMBOL_LIKE if float(strict.mean()) > 0.5 else LABELS["unknown"]


# --------------------------------------------------------------------------- Excel-mangled


def find_excel_mangled(ids: Iterable[object] | pd.Series | np.ndarray) -> pd.DataFrame:
    """Identifiers that look like dates Excel made of symbols, with the likely symbol.

    Columns: ``id``, ``suggestion`` (e.g. ``7-Sep`` -> ``SEPT7``; empty when the month is
    no known gene family). Nothing is converted: this only names them.
    """
    s = pd.Series(pd.unique(_as_str_series(ids)), dtype=object)
    s = s[s.str.contains(_EXCEL_ANY, regex=True).to_numpy(dtype=bool)].reset_index(drop=True)
    mon = np.full(len(s), "", dtype=object)
    day = np.zeros(len(s), dtype=np.int64)
    for pat in (_EXCEL_DAY_MON, _EXCEL_MON_DAY):
        m = s.str.extract(pat)
        take = m["mon"].notna().to_numpy() & (mon == "")
        mon[take] = m["mon"][take].str.lower().to_numpy()
        day[take] = m["day"][take].astype(np.int64).to_numpy()
    iso = s.str.extract(_EXCEL_ISO)
    month_no = pd.to_numeric(iso["month"], errors="coerce").fillna(0).to_numpy(np.int64)
    iso_day = pd.to_numeric(iso["day"], errors="coerce").fillna(0).to_numpy(np.int64)
    take = (month_no >= 1) & (month_no <= 12) & (mon == "")
    mon[take] = np.asarray(_MONTHS, dtype=object)[month_no[take] - 1]
    day[take] = iso_day[take]
    hit = (mon != "") & (day >= 1) & (day <= 31)
    family = pd.Series(mon).map(_MONTH_FAMILY)
    suggestion = (family + pd.Series(day).astype(str)).where(family.notna(), "")
    return pd.DataFrame({"id": s[hit].to_numpy(), "suggestion": suggestion[hit].to_numpy()})


def describe_excel_mangled(
    found: pd.DataFrame, what: str, tables: IdentifierTables | None = None, n_examples: int = 3
) -> str:
    """One warning line: how many ids look Excel-mangled, with examples and likely symbols."""
    parts = []
    for ident, sug in found.head(n_examples).itertuples(index=False):
        if sug:
            now = tables.current_symbol(sug) if tables is not None else None
            sug = f"{sug} (now {now})" if now and now != sug else sug
            parts.append(f"{ident!r} (likely {sug})")
        else:
            parts.append(repr(ident))
    n = len(found)
    return (
        f"{what}: {n:,} identifier{'' if n == 1 else 's'} look{'s' if n == 1 else ''} like "
        f"dates Excel made of gene symbols, e.g. {', '.join(parts)}; they are not converted: "
        "fix the file (import the column as text) or rename them"
    )


def warn_excel_mangled(
    ids: Iterable[object] | pd.Series | np.ndarray,
    what: str,
    tables: IdentifierTables | None = None,
) -> dict[str, object] | None:
    """Log a warning (logger 'calbio') for Excel-mangled ids; return count and examples."""
    found = find_excel_mangled(ids)
    if found.empty:
        return None
    log.warning(describe_excel_mangled(found, what, tables))
    return {
        "n": len(found),
        "examples": found["id"].head(5).tolist(),
        "suggestions": found["suggestion"].head(5).tolist(),
    }


# --------------------------------------------------------------------------- tables


def _unique_map(keys: pd.Series, values: pd.Series) -> pd.Series:
    """key -> value where the key names one value; keys naming several map to AMBIGUOUS."""
    df = pd.DataFrame({"k": keys.to_numpy(), "v": values.to_numpy()}).dropna().drop_duplicates()
    n = df.groupby("k", sort=False)["v"].transform("size")
    df.loc[n.to_numpy() > 1, "v"] = AMBIGUOUS
    df = df.drop_duplicates("k")
    return pd.Series(df["v"].to_numpy(np.int64), index=pd.Index(df["k"].to_numpy(), dtype=object))


def _read_uniprot(path: Path) -> pd.DataFrame:
    """GeneID, accession pairs from either supported GeneID -> UniProt layout."""
    try:
        if path.name.startswith("HUMAN_9606_idmapping_selected"):
            raw = pd.read_csv(
                path, sep="\t", header=None, usecols=[0, 2], dtype=str, names=None
            ).rename(columns={0: "acc", 2: "gid"})
            raw["gid"] = raw["gid"].str.split(";")
            raw = raw.explode("gid")
        else:
            raw = pd.read_csv(path, sep="\t", dtype=str)
            raw = raw.rename(columns={raw.columns[0]: "gid", raw.columns[1]: "acc"})
    except (OSError, ValueError, IndexError, pd.errors.ParserError) as exc:
        raise CalbioInputError(f"unreadable GeneID -> UniProt table ({exc})", path) from None
    gid = pd.to_numeric(raw["gid"].str.strip(), errors="coerce")
    ok = gid.notna() & raw["acc"].notna()
    return pd.DataFrame(
        {"gid": gid[ok].astype(np.int64).to_numpy(), "acc": raw["acc"][ok].str.strip().to_numpy()}
    )


@dataclass
class IdentifierTables:
    """Lookups from every supported namespace to NCBI GeneIDs, built from gene_info."""

    symbol: pd.Series  # GeneID by current symbol (AMBIGUOUS where a symbol repeats)
    symbol_folded: pd.Series  # GeneID by casefolded current symbol
    alias: pd.Series  # GeneID by casefolded alias (never a current symbol; AMBIGUOUS if > 1)
    ensembl: pd.Series  # GeneID by ENSG id
    uniprot: pd.Series  # GeneID by UniProt accession
    gene_symbol: pd.Series  # current symbol by GeneID
    source: str = ""
    stats: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_files(
        cls, gene_info: str | Path, uniprot: str | Path | None = None
    ) -> IdentifierTables:
        """Parse NCBI gene_info (and optionally a GeneID -> UniProt table)."""
        gene_info = Path(gene_info)
        cols = ["GeneID", "Symbol", "Synonyms", "dbXrefs"]
        try:
            gi = pd.read_csv(gene_info, sep="\t", dtype=str, usecols=cols, na_values=["-"])
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise CalbioInputError(
                f"unreadable NCBI gene_info (need columns {', '.join(cols)}): {exc}", gene_info
            ) from None
        gid = pd.to_numeric(gi["GeneID"], errors="coerce")
        gi = gi[gid.notna() & gi["Symbol"].notna()].assign(GeneID=gid.dropna().astype(np.int64))
        gids = gi["GeneID"]
        symbol = _unique_map(gi["Symbol"], gids)
        folded = _unique_map(gi["Symbol"].str.casefold(), gids)
        syn = gi[["GeneID", "Synonyms"]].dropna()
        syn = syn.assign(alias=syn["Synonyms"].str.split("|")).explode("alias")
        syn["alias"] = syn["alias"].str.strip().str.casefold()
        # an alias that is any gene's current symbol is never an alias
        syn = syn[(syn["alias"] != "") & ~syn["alias"].isin(folded.index)]
        alias = _unique_map(syn["alias"], syn["GeneID"])
        xr = gi[["GeneID", "dbXrefs"]].dropna()
        xr = xr.assign(x=xr["dbXrefs"].str.split("|")).explode("x")
        ens = xr[xr["x"].str.startswith("Ensembl:ENSG", na=False)]
        ensembl = _unique_map(ens["x"].str.slice(len("Ensembl:")), ens["GeneID"])
        if uniprot is not None:
            up = _read_uniprot(Path(uniprot))
            up = up[up["gid"].isin(gids)]
            up_map = _unique_map(up["acc"], up["gid"])
        else:
            up_map = pd.Series([], dtype=np.int64, index=pd.Index([], dtype=object))
        stats = {
            "n_genes": len(gi),
            "n_aliases": int((alias >= 0).sum()),
            "n_aliases_ambiguous": int((alias == AMBIGUOUS).sum()),
            "n_ensembl": int((ensembl >= 0).sum()),
            "n_uniprot": int((up_map >= 0).sum()),
        }
        return cls(
            symbol=symbol,
            symbol_folded=folded,
            alias=alias,
            ensembl=ensembl,
            uniprot=up_map,
            gene_symbol=pd.Series(gi["Symbol"].to_numpy(), index=gids.to_numpy())
            .groupby(level=0)
            .first(),
            source=str(gene_info),
            stats=stats,
        )

    @classmethod
    def from_dir(cls, folder: str | Path) -> IdentifierTables:
        """Load the tables from a folder (cached per process)."""
        folder = Path(folder).expanduser()
        gi = folder / GENE_INFO
        if not folder.is_dir():
            raise CalbioInputError("identifier tables folder does not exist", folder)
        if not gi.is_file():
            raise CalbioInputError(
                f"identifier tables folder has no {GENE_INFO} (get it with "
                "`calbio fetch gene-info`)",
                folder,
            )
        up = next((folder / f for f in UNIPROT_FILES if (folder / f).is_file()), None)
        return _load_cached(*_key(gi), *(_key(up) if up is not None else ("", 0, 0)))

    def current_symbol(self, symbol: str) -> str | None:
        """The current symbol for a (possibly outdated) symbol, when unambiguous."""
        gid, _ = self.to_geneid(pd.Series([symbol], dtype=object))
        return str(self.gene_symbol.get(int(gid[0]))) if gid[0] >= 0 else None

    def to_geneid(
        self, ids: Iterable[object] | pd.Series | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """GeneID for each identifier (UNKNOWN / AMBIGUOUS codes) and how it was found.

        ``how``: 'symbol', 'case' (current symbol, other case), 'alias', 'entrez',
        'ensembl_gene', 'uniprot', or '' when not found.
        """
        s = _as_str_series(ids)
        ns = classify_ids(s)
        gid = np.full(len(s), UNKNOWN, dtype=np.int64)
        how = np.full(len(s), "", dtype=object)

        def fill(mask: np.ndarray, values: pd.Series, label: str) -> None:
            take = mask & (gid == UNKNOWN) & values.notna().to_numpy()
            gid[take] = values.to_numpy()[take].astype(np.int64)
            how[take] = label

        known = self.gene_symbol.index
        ent = ns.eq("entrez").to_numpy()
        num = pd.to_numeric(s.where(ent), errors="coerce")
        fill(ent & num.isin(known).to_numpy(), num, "entrez")
        ens = ns.eq("ensembl_gene").to_numpy()
        fill(ens, s.str.replace(r"\.\d+$", "", regex=True).map(self.ensembl), "ensembl_gene")
        upm = ns.eq("uniprot").to_numpy()
        fill(upm, s.map(self.uniprot), "uniprot")
        fill(upm, s.str.replace(r"-\d+$", "", regex=True).map(self.uniprot), "uniprot")
        fill(np.ones(len(s), bool), s.map(self.symbol), "symbol")
        folded = s.str.casefold()
        fill(np.ones(len(s), bool), folded.map(self.symbol_folded), "case")
        fill(np.ones(len(s), bool), folded.map(self.alias), "alias")
        return gid, how


def _key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), int(st.st_size), int(st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_cached(
    gene_info: str, gi_size: int, gi_mtime: int, uniprot: str, up_size: int, up_mtime: int
) -> IdentifierTables:
    log.debug("parsing identifier tables %s", gene_info)
    return IdentifierTables.from_files(gene_info, uniprot or None)


# --------------------------------------------------------------------------- resolver


class IdResolver:
    """Identifier tables (loaded lazily from a folder) and the mappings made with them.

    Built once per command or call (:func:`id_resolver`) and passed down explicitly as
    ``id_tables=``; every pairs file mapped through it is recorded (``mappings``: one
    per-identifier frame each, ``lines``: one namespaces line each), so the caller reads the
    mapping report back from the object it passed. Without tables only exact/case matches count.
    """

    def __init__(self, tables: IdentifierTables | str | Path | None = None) -> None:
        self._given = tables
        self._loaded: IdentifierTables | None = (
            tables if isinstance(tables, IdentifierTables) else None
        )
        self.mappings: list[pd.DataFrame] = []
        self.lines: list[str] = []
        self.warned: set[str] = set()  # warnings already given through this resolver

    @property
    def tables(self) -> IdentifierTables | None:
        """The parsed tables (read on first use; cached per process), or None."""
        if self._loaded is None and self._given is not None:
            self._loaded = IdentifierTables.from_dir(self._given)
        return self._loaded

    def record(self, id_mapping: pd.DataFrame, line: str) -> None:
        """Keep one mapped file's per-identifier table and namespaces line."""
        self.mappings.append(id_mapping)
        self.lines.append(line)

    def __repr__(self) -> str:
        return f"IdResolver({self._given!r}, {len(self.mappings)} mapped file(s))"


# what every ``id_tables=`` argument accepts (None: $CALBIO_ID_TABLES, else no tables)
IdTablesLike = IdResolver | IdentifierTables | str | Path | None


def id_resolver(id_tables: IdTablesLike = None) -> IdResolver:
    """The resolver to use: the given one, else one over the given tables or folder, else
    over $CALBIO_ID_TABLES (the one place the variable is read), else one without tables."""
    if isinstance(id_tables, IdResolver):
        return id_tables
    if id_tables is None:
        env = os.environ.get(ENV_VAR)
        id_tables = env if env else None
    return IdResolver(id_tables)


def resolve_id_tables(id_tables: IdTablesLike = None) -> IdentifierTables | None:
    """Tables from the argument (a resolver, tables or a folder), else $CALBIO_ID_TABLES."""
    return id_resolver(id_tables).tables
