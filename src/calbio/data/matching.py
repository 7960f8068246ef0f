"""Resolve pair identifiers to rows of an embedding table.

Order: exact identifier, then unambiguous case-insensitive match, then (only with identifier
tables, see :mod:`calbio.data.identifiers`) conversion through NCBI GeneIDs: other namespaces
(Entrez, Ensembl gene, UniProt) and outdated symbols / aliases that name exactly one gene.

Every call records, per input identifier, what it became and why in
``MappedPairs.id_mapping`` (a DataFrame; :func:`write_id_mapping` writes it as TSV); the
counts and the detected namespaces are in ``MappedPairs.stats`` (JSON-serialisable).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calbio.core.errors import CalbioInputError
from calbio.core.graph import pair_key
from calbio.data.identifiers import (
    AMBIGUOUS,
    LABELS,
    IdentifierTables,
    IdResolver,
    classify_ids,
    describe_excel_mangled,
    detect_namespace,
    find_excel_mangled,
    id_resolver,
    namespace_label,
)
from calbio.data.types import Embeddings, MappedPairs, Pairs

log = logging.getLogger("calbio")

# Refuse (by default) when the pairs touch fewer than this share of the embedding's entities,
# or fewer than MIN_ENTITIES of them (half the table for tables under 2 * MIN_ENTITIES).
MIN_ENTITY_FRACTION = 0.05
MIN_ENTITIES = 20
ID_MAPPING_COLUMNS = ("source", "id", "namespace", "mapped_to", "how", "gene_id")


def _resolve(uniques: np.ndarray, embeddings: Embeddings) -> tuple[np.ndarray, np.ndarray]:
    """Row for each unique identifier (-1 if none) and a mask of case-insensitive matches."""
    ids = pd.Series(uniques, dtype=object).astype(str)
    rows = ids.map(embeddings.index).fillna(-1).to_numpy().astype(np.int64)
    missing = rows < 0
    ci = np.zeros(len(ids), dtype=bool)
    if missing.any():
        folded = pd.Series(embeddings.names, dtype=object).astype(str).str.casefold()
        counts = folded.value_counts()
        unique_folds = folded[folded.map(counts).to_numpy() == 1]
        fold_to_row = pd.Series(unique_folds.index.to_numpy(np.int64), index=unique_folds.values)
        found = ids[missing].str.casefold().map(fold_to_row)
        hit = found.notna().to_numpy()
        where = np.flatnonzero(missing)
        rows[where[hit]] = found[hit].to_numpy().astype(np.int64)
        ci[where[hit]] = True
    return rows, ci


def case_candidates(ids: np.ndarray, embeddings: Embeddings) -> dict[str, list[str]]:
    """Identifiers absent as written that match several rows case-insensitively (ambiguous
    by case: ``Abc`` when the table has ``ABC`` and ``abc``), with those rows' names."""
    ids = pd.Series(np.asarray(ids, dtype=object), dtype=object).astype(str)
    missing = ids[~ids.isin(embeddings.index.keys())]
    if missing.empty:
        return {}
    names = pd.Series(embeddings.names, dtype=object).astype(str)
    folded = names.str.casefold()
    dup = folded.duplicated(keep=False).to_numpy(bool)
    if not dup.any():
        return {}
    groups = names[dup].groupby(folded[dup].to_numpy(), sort=False).agg(list)
    hits = missing.str.casefold().map(groups)
    return {i: list(c) for i, c in zip(missing, hits, strict=True) if isinstance(c, list)}


def describe_case_ambiguous(name: str, candidates: list[str]) -> str:
    """One line: ``name`` matches several identifiers that differ only by case."""
    shown = " and ".join(repr(c) for c in candidates[:2])
    more = f" (and {len(candidates) - 2} more)" if len(candidates) > 2 else ""
    return (
        f"{name!r} is ambiguous by case: it matches {shown}{more}, which differ only by case; "
        "give one of them exactly"
    )


def _examples(values: np.ndarray, k: int = 3) -> str:
    return ", ".join(repr(str(x)) for x in values[:k]) or "none"


def _warn_excel(ids: np.ndarray, what: str, resolver: IdResolver) -> dict | None:
    """Warn once per resolver (logger 'calbio') about Excel-mangled ids; return count/examples."""
    found = find_excel_mangled(ids)
    if found.empty:
        return None
    msg = describe_excel_mangled(found, what, resolver.tables)
    if msg not in resolver.warned:
        log.warning(msg)
        resolver.warned.add(msg)
    return {"n": len(found), "examples": found["id"].head(5).tolist()}


def _convert(
    uniques: np.ndarray,
    rows: np.ndarray,
    how: np.ndarray,
    gene: np.ndarray,
    embeddings: Embeddings,
    tables: IdentifierTables,
) -> None:
    """Resolve still-unmapped ids through GeneIDs (in place): converted / alias / ambiguous."""
    emb_gid, emb_how = tables.to_geneid(embeddings.names)
    valid = emb_gid >= 0
    by_gid = pd.Series(np.flatnonzero(valid), index=emb_gid[valid])
    shared = by_gid.index.duplicated(keep=False)  # one gene, several rows: ambiguous
    gid_to_row = by_gid[~shared]
    miss = np.flatnonzero(rows < 0)
    if not miss.size:
        return
    pg, phow = tables.to_geneid(uniques[miss])
    gene[miss] = pg
    row = pd.Series(pg).map(gid_to_row).to_numpy(dtype=float)
    hit = ~np.isnan(row)
    hit_rows = row[hit].astype(np.int64)
    rows[miss[hit]] = hit_rows
    alias = (phow[hit] == "alias") | (emb_how[hit_rows] == "alias")
    how[miss[hit]] = np.where(alias, "alias", "converted")
    amb = ~hit & ((pg == AMBIGUOUS) | np.isin(pg, by_gid.index[shared]))
    how[miss[amb]] = "ambiguous"
    how[miss[~hit & ~amb & (pg >= 0)]] = "absent"


def map_pairs(
    pairs: Pairs,
    embeddings: Embeddings,
    *,
    min_fraction: float | None = None,
    id_tables: IdResolver | IdentifierTables | str | Path | None = None,
    min_entity_fraction: float = MIN_ENTITY_FRACTION,
    min_entities: int = MIN_ENTITIES,
) -> MappedPairs:
    """Map pair identifiers to embedding rows (exact, case-insensitive, then through tables).

    By default refuses only when the pairs touch too few of the embedding's entities (under
    ``min_entity_fraction`` or ``min_entities``), naming both namespaces. ``min_fraction``
    (CLI ``--min-mapped``) replaces that with the strict rule: at least this fraction of the
    pairs must map. ``id_tables``: an :class:`IdResolver` (which records this mapping), a
    folder or loaded :class:`IdentifierTables`; default $CALBIO_ID_TABLES; without tables only
    exact/case matches count. The report is on the result: ``stats`` and ``id_mapping``.
    """
    m = len(pairs)
    if m == 0:
        raise CalbioInputError("no pairs to map", pairs.source or None)
    codes, uniques = _factorize_ids(pairs)
    rows, ci = _resolve(uniques, embeddings)
    how = np.where(rows >= 0, np.where(ci, "case", "exact"), "unknown").astype(object)
    gene = np.full(len(uniques), -1, dtype=np.int64)
    resolver = id_resolver(id_tables)
    tables = resolver.tables
    if tables is not None and (rows < 0).any():
        _convert(uniques, rows, how, gene, embeddings, tables)
    idx, counts = _unique_row_pairs(codes, rows, how, m, len(embeddings))

    classes = classify_ids(uniques)
    mapped_to = np.where(rows >= 0, embeddings.names[np.maximum(rows, 0)], "")
    covered = np.zeros(len(embeddings), dtype=bool)
    covered[idx.ravel()] = True
    failed = uniques[rows < 0]  # in order of first appearance
    stats = _mapping_stats(
        m, idx, counts, uniques, classes, how, ci, mapped_to, covered, failed, embeddings, tables
    )
    src = pairs.source or "pairs"
    _note_id_problems(stats, uniques, failed, embeddings, resolver, src)
    stats["namespaces"] = namespace_line(stats)

    id_mapping = _id_mapping_table(src, uniques, classes, mapped_to, how, gene)
    resolver.record(id_mapping, f"{src}: {stats['namespaces']}")

    _check_coverage(
        stats, min_fraction, min_entity_fraction, min_entities, pairs, embeddings, failed, covered
    )
    log.debug(stats["namespaces"])  # commands print it after the run (resolver lines)
    return MappedPairs(idx=idx, n_entities=len(embeddings), stats=stats, id_mapping=id_mapping)


def _factorize_ids(pairs: Pairs) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``a`` then ``b`` into the unique identifiers (as str, in order of appearance)."""
    allids = pd.Series(np.concatenate([pairs.a, pairs.b]), dtype=object)
    codes, uniques = pd.factorize(allids, sort=False)
    return codes, np.asarray(uniques, dtype=object).astype(str).astype(object)


def _unique_row_pairs(
    codes: np.ndarray, rows: np.ndarray, how: np.ndarray, m: int, n_entities: int
) -> tuple[np.ndarray, dict[str, int]]:
    """Row pairs of the mapped input pairs without self-pairs or repeats, and the pair counts."""
    ra, rb = rows[codes[:m]], rows[codes[m:]]
    ok = (ra >= 0) & (rb >= 0)
    n_unmapped = int((~ok).sum())
    alias_pair = (how[codes[:m]] == "alias") | (how[codes[m:]] == "alias")
    conv_pair = (how[codes[:m]] == "converted") | (how[codes[m:]] == "converted")
    ra, rb, alias_pair, conv_pair = ra[ok], rb[ok], alias_pair[ok], conv_pair[ok]
    selfp = ra == rb
    key = pair_key(ra, rb, max(n_entities, 1))
    dup = pd.Series(key).duplicated(keep="first").to_numpy(bool) & ~selfp
    keep = ~(selfp | dup)
    idx = np.stack([ra[keep], rb[keep]], axis=1) if keep.any() else np.empty((0, 2), np.int64)
    counts = {
        "n_unmapped": n_unmapped,
        "n_collapsed": int(selfp.sum() + dup.sum()),
        "n_pairs_recovered_alias": int(alias_pair[keep].sum()),
        "n_pairs_converted": int(conv_pair[keep].sum()),
    }
    return idx, counts


def _mapping_stats(
    m: int,
    idx: np.ndarray,
    counts: dict[str, int],
    uniques: np.ndarray,
    classes: pd.Series,
    how: np.ndarray,
    ci: np.ndarray,
    mapped_to: np.ndarray,
    covered: np.ndarray,
    failed: np.ndarray,
    embeddings: Embeddings,
    tables: IdentifierTables | None,
) -> dict[str, Any]:
    """The mapping report: counts of pairs, ids and entities, namespaces, and examples."""
    ns_pairs = detect_namespace(uniques, classes=classes)
    # the table's namespace from an evenly spaced sample (a majority vote needs no more)
    step = max(1, len(embeddings) // 20_000)
    ns_emb = detect_namespace(embeddings.names[::step])
    is_alias = how == "alias"
    alias_examples = [f"{a} -> {b}" for a, b in zip(uniques[is_alias][:5], mapped_to[is_alias][:5])]
    n_entities = len(embeddings)
    n_mapped = int(idx.shape[0])
    n_covered = int(covered.sum())
    return {
        "n_input": m,
        "n_mapped": n_mapped,
        "n_unmapped": counts["n_unmapped"],
        "n_collapsed": counts["n_collapsed"],
        "n_case_insensitive_ids": int(ci.sum()),
        "n_ids": int(len(uniques)),
        "n_ids_unmapped": int(len(failed)),
        "n_entities_mapped": n_covered,
        "fraction_mapped": n_mapped / m,
        "fraction_entities_covered": n_covered / n_entities if n_entities else 0.0,
        "examples_unmapped": [str(x) for x in failed[:5]],
        "namespace_pairs": ns_pairs.namespace,
        "namespace_embedding": ns_emb.namespace,
        "label_pairs": namespace_label(uniques, ns_pairs.namespace, tables),
        "label_embedding": namespace_label(embeddings.names, ns_emb.namespace, tables),
        "id_tables": tables.source if tables is not None else None,
        "n_alias_ids": int(is_alias.sum()),
        "n_converted_ids": int((how == "converted").sum()),
        "n_ambiguous_ids": int((how == "ambiguous").sum()),
        "n_pairs_recovered_alias": counts["n_pairs_recovered_alias"],
        "n_pairs_converted": counts["n_pairs_converted"],
        "alias_examples": alias_examples,
    }


def _note_id_problems(
    stats: dict[str, Any],
    uniques: np.ndarray,
    failed: np.ndarray,
    embeddings: Embeddings,
    resolver: IdResolver,
    src: str,
) -> None:
    """Warn about (and count in ``stats``) Excel-mangled ids and ids ambiguous by case."""
    for what, ids in (("pairs", uniques), ("embedding", embeddings.names)):
        found = _warn_excel(
            np.asarray(ids, dtype=object),
            f"{what} {src if what == 'pairs' else embeddings.source or ''}".strip(),
            resolver,
        )
        if found:
            stats[f"excel_mangled_{what}"] = found
    amb_case = case_candidates(failed, embeddings)
    if amb_case:
        stats["n_case_ambiguous_ids"] = len(amb_case)
        first, cands = next(iter(amb_case.items()))
        log.warning(
            "%s: %d identifier(s) are ambiguous by case and left unmapped, e.g. %s",
            src,
            len(amb_case),
            describe_case_ambiguous(first, cands),
        )


def _id_mapping_table(
    src: str,
    uniques: np.ndarray,
    classes: pd.Series,
    mapped_to: np.ndarray,
    how: np.ndarray,
    gene: np.ndarray,
) -> pd.DataFrame:
    """One row per input identifier: its namespace, embedding row name, how, and GeneID."""
    id_mapping = pd.DataFrame(
        {
            "source": src,
            "id": uniques,
            "namespace": classes.to_numpy(),
            "mapped_to": mapped_to,
            "how": how,
            "gene_id": pd.array(np.where(gene >= 0, gene, -1), dtype="Int64"),
        }
    )
    id_mapping.loc[id_mapping["gene_id"] < 0, "gene_id"] = pd.NA
    return id_mapping


def _unmatched_note(failed: np.ndarray, st: dict) -> str:
    """``; N identifier(s) match no entity (examples[; how tables would convert them])``."""
    if not len(failed):
        return ""
    tables = (
        "; outdated symbols and other namespaces convert with --id-tables DIR or $CALBIO_ID_TABLES"
        if st["id_tables"] is None
        else ""
    )
    n = len(failed)
    head = f"; {n:,} identifier matches" if n == 1 else f"; {n:,} identifiers match"
    return f"{head} no entity ({_examples(failed)}{tables})"


def _check_coverage(
    st: dict,
    min_fraction: float | None,
    min_entity_fraction: float,
    min_entities: int,
    pairs: Pairs,
    embeddings: Embeddings,
    failed: np.ndarray,
    covered: np.ndarray,
) -> None:
    """Raise CalbioInputError when the mapping fails the strict or the default rule."""
    m, n_mapped, n = st["n_input"], st["n_mapped"], len(embeddings)
    lp, le = _labels(st)

    def sides() -> str:
        uncovered = np.flatnonzero(~covered)[:3]
        return (
            f"pairs look like {lp} ({_examples(failed if len(failed) else pairs.a)}), "
            f"the embedding like {le} ({_examples(embeddings.names[uncovered])})"
        )

    if min_fraction is not None:
        if st["fraction_mapped"] >= min_fraction:
            return
        pct = f"{100 * n_mapped / m:.1f}"
        examples = ", ".join(repr(x) for x in st["examples_unmapped"]) or "none (pairs collapsed)"
        raise CalbioInputError(
            f"only {n_mapped:,} of {m:,} pairs ({pct}%) map to the embedding identifiers "
            f"(need >= {100 * min_fraction:g}%, --min-mapped); examples of unmatched ids: "
            f"{examples}; {sides()}",
            pairs.source or None,
        )
    n_cov = st["n_entities_mapped"]
    need = max(math.ceil(min_entity_fraction * n), min(min_entities, math.ceil(n / 2)))
    if n_cov >= need:
        return
    n_ids = int(st["n_ids"])
    if n_ids and int(st["n_ids_unmapped"]) <= n_ids / 2:
        # the identifiers match; there are just too few pairs to cover the table (and the few
        # that do not match are named: one unknown id can leave no pair at all)
        raise CalbioInputError(
            f"too few pairs: {n_mapped:,} pair{' maps' if n_mapped == 1 else 's map'} onto the "
            f"embedding, touching {n_cov:,} of its {n:,} entities; need pairs touching >= "
            f"{need:,} entities (at least {math.ceil(need / 2):,} pairs)"
            f"{_unmatched_note(failed, st)}. Give more pairs (--min-mapped FRACTION sets a rule "
            "on the share of pairs instead)",
            pairs.source or None,
        )
    floats = _float_of_integer_ids(failed, embeddings)
    if floats:
        raise CalbioInputError(
            f"the pair identifiers look like floats of the embedding's integer identifiers "
            f"({floats}); write them as integers (e.g. read the column as text, or convert "
            "with astype(int) before saving)",
            pairs.source or None,
        )
    if (
        st["namespace_pairs"] == "ensembl_protein"
        and st["namespace_embedding"] != "ensembl_protein"
    ):
        hint = "convert STRING protein ids to names with --protein-info FILE"
    elif st["namespace_pairs"] != st["namespace_embedding"] and st["id_tables"] is None:
        hint = (
            "convert them through NCBI gene_info: --id-tables DIR or $CALBIO_ID_TABLES "
            "(get the tables with `calbio fetch gene-info`)"
        )
    else:
        hint = "check that both files describe the same entities"
    raise CalbioInputError(
        f"the identifiers of the pairs and the embedding do not match: the pairs touch "
        f"{n_cov:,} of {n:,} embedding entities (need >= {need:,}); "
        f"{sides()}; {hint} (--min-mapped FRACTION sets a rule on the share of pairs instead)",
        pairs.source or None,
    )


def _labels(st: dict) -> tuple[str, str]:
    """How the pairs' and the embedding's identifiers are called in messages."""
    out = []
    for side in ("pairs", "embedding"):
        ns = st.get(f"namespace_{side}", "?")
        out.append(st.get(f"label_{side}") or LABELS.get(ns, ns))
    return out[0], out[1]


def _float_of_integer_ids(failed: np.ndarray, embeddings: Embeddings) -> str:
    """'1.0' for '1' examples when most unmatched ids are floats of the table's integer ids."""
    if not len(failed):
        return ""
    s = pd.Series(failed[:5000], dtype=object).astype(str)
    whole = s.str.fullmatch(r"-?\d+\.0+")
    if float(whole.mean()) <= 0.5:
        return ""
    as_int = s[whole].str.replace(r"\.0+$", "", regex=True)
    hit = as_int.map(embeddings.index).notna().to_numpy(bool)
    if float(hit.mean()) <= 0.5:
        return ""
    return ", ".join(
        f"{a!r} for {b!r}" for a, b in zip(s[whole][hit][:3], as_int[hit][:3], strict=True)
    )


def namespace_line(st: dict) -> str:
    """The 'pairs: X (n rows) -> embedding: Y; how' line for mapping statistics."""
    lp, le = _labels(st)
    line = f"pairs: {lp} ({int(st.get('n_input', 0)):,} rows) -> embedding: {le}"
    if st.get("n_converted_ids"):
        line += "; converted through NCBI gene_info"
    elif st.get("namespace_pairs") == st.get("namespace_embedding"):
        line += "; same namespace"
    elif st.get("id_tables") is None:
        line += "; no identifier tables given (--id-tables DIR or $CALBIO_ID_TABLES)"
    n_rec = int(st.get("n_pairs_recovered_alias", 0))
    if n_rec:
        ex = ", ".join(st.get("alias_examples", [])[:3])
        line += (
            f"; {n_rec:,} pair{'' if n_rec == 1 else 's'} recovered through previous symbols "
            f"({ex}{', ...' if int(st.get('n_alias_ids', 0)) > 3 else ''})"
        )
    n_amb = int(st.get("n_ambiguous_ids", 0))
    if n_amb:
        line += f"; {n_amb:,} ambiguous id{'' if n_amb == 1 else 's'} dropped"
    return line


def id_mapping_frame(
    obj: MappedPairs | IdResolver | pd.DataFrame | list[pd.DataFrame] | None,
) -> pd.DataFrame:
    """One per-identifier table (source, id, namespace, mapped_to, how, gene_id) from mappings."""
    if isinstance(obj, MappedPairs):
        frames = [obj.id_mapping] if obj.id_mapping is not None else []
    elif isinstance(obj, IdResolver):
        frames = obj.mappings
    elif isinstance(obj, pd.DataFrame):
        frames = [obj]
    else:
        frames = list(obj or [])
    if frames:
        return pd.concat(frames, ignore_index=True).drop_duplicates(["source", "id"])
    return pd.DataFrame(columns=list(ID_MAPPING_COLUMNS))


def write_id_mapping(
    obj: MappedPairs | IdResolver | pd.DataFrame | list[pd.DataFrame] | None, path: str | Path
) -> Path:
    """Write the per-identifier mapping (id, namespace, mapped_to, how, gene_id) as TSV."""
    from calbio.core.io import write_text_atomic

    return write_text_atomic(path, id_mapping_frame(obj).to_csv(sep="\t", index=False))


def summarize_mapping(mapped: MappedPairs) -> str:
    """One human-readable line describing how pairs mapped onto the embedding table."""
    st = mapped.stats
    n_in = int(st.get("n_input", len(mapped)))
    n_map = int(st.get("n_mapped", len(mapped)))
    pct = 100.0 * n_map / n_in if n_in else 0.0
    n_ent = int(st.get("n_entities_mapped", np.unique(mapped.idx).size))
    n_ci = int(st.get("n_case_insensitive_ids", 0))
    line = f"{n_map:,} of {n_in:,} pairs mapped ({pct:.1f}%) onto {n_ent:,} entities"
    line += f"; {n_ci:,} id{'' if n_ci == 1 else 's'} matched case-insensitively"
    n_col = int(st.get("n_collapsed", 0))
    if n_col:
        line += f"; {n_col:,} pair{'' if n_col == 1 else 's'} collapsed after mapping"
    if st.get("namespaces"):
        line += "\n" + str(st["namespaces"])
    return line


def input_rows(
    pairs: Pairs, mapped: MappedPairs, names: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per input pair, in order, the row each of its ids matched in ``mapped`` (-1 if none).

    Read from the mapping report (``mapped.id_mapping``: exact, case or converted through the
    identifier tables), so it agrees with the pairs ``mapped`` kept; ``names`` are the rows.
    """
    idm = mapped.id_mapping
    to_name = dict(zip(idm["id"], idm["mapped_to"], strict=True)) if idm is not None else {}
    row_of = pd.Series(np.arange(len(names)), index=pd.Index(names))
    row_of = row_of[~row_of.index.duplicated()]

    def rows(ids: np.ndarray) -> np.ndarray:
        matched = pd.Series(ids, dtype=object).astype(str).map(to_name).fillna("")
        return matched.map(row_of).fillna(-1).to_numpy(np.int64)

    return rows(np.asarray(pairs.a)), rows(np.asarray(pairs.b))


def resolve_identifiers(
    ids: np.ndarray,
    embeddings: Embeddings,
    id_tables: IdResolver | IdentifierTables | str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Row of each identifier (-1 if none) and a mask of the case-insensitive matches.

    The one matching rule for every pair reader: exact, then unambiguous case-insensitive, then
    (with identifier tables: the argument, a resolver, tables or folder, else $CALBIO_ID_TABLES)
    namespace conversion and current symbols for outdated ones, as in :func:`map_pairs`.
    """
    uniques = np.asarray(ids, dtype=object).astype(str).astype(object)
    rows, ci = _resolve(uniques, embeddings)
    tables = id_resolver(id_tables).tables
    if tables is not None and (rows < 0).any():
        how = np.where(rows >= 0, "exact", "unknown").astype(object)
        _convert(uniques, rows, how, np.full(len(uniques), -1, np.int64), embeddings, tables)
    return rows, ci
