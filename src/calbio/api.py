"""User-facing tables: what ``calbio score``, ``calbio query`` and ``calbio demo`` show, for
the CLI and notebooks alike.

Its role is formatting, not computing: it maps pairs through the one door
(:func:`calbio.data.coerce.as_mapped_pairs`), asks the model for scores and ranks
(``score_pairs``, :meth:`~calbio.models.base.AssociationModelBase.rank_partners`,
``partner_ranks``) and lays the answers out as tables, one row per input row, with the
messages a user needs (what an unknown id looks like, close matches, duplicate rows). It holds
no matching or ranking of its own. The short public API is ``calbio`` (the package).
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from calbio.core.errors import CalbioInputError
from calbio.core.graph import pair_key, pair_keys
from calbio.core.io import atomic_dir, write_json_atomic
from calbio.data.coerce import as_mapped_pairs
from calbio.data.matching import input_rows
from calbio.data.types import Embeddings, Pairs
from calbio.models.cal.estimator import CAL
from calbio.scoring import pair_scores

if TYPE_CHECKING:
    from calbio.data.identifiers import IdTablesLike

REAL_DEMO_FILES = (
    "embeddings/depmap_crispr_gene_effect_pca50.csv",
    "associations/string_ge950_pairs.csv",
)


N_RANDOM_PAIRS = 20_000  # reference sample for score percentiles


def _looks_like(values: Any, k: int = 3) -> str:
    vals = [str(v) for v in pd.unique(pd.Series(list(values), dtype=object))[:k]]
    return ", ".join(vals) + (", ..." if len(vals) == k else "")


def _map_onto_model(
    model: Any, pairs: Pairs, min_mapped: float | None = None, id_tables: IdTablesLike = None
) -> Any:
    """Map pairs onto a model's entities; when too few map, say what the model's ids look like.

    ``min_mapped`` (None: at least one pair) is the smallest fraction of pairs that must map;
    ``id_tables`` (an ``IdResolver``, a folder or tables) converts identifiers.
    """
    mapped = as_mapped_pairs(pairs, model.entity_table(), 0.0, id_tables)
    st = mapped.stats
    if st["fraction_mapped"] >= (min_mapped or 0.0) and len(mapped):
        return mapped
    unmatched = st.get("examples_unmapped") or []
    model_src = (getattr(model, "sources_", {}) or {}).get("embeddings", {}).get("path") or "?"
    raise CalbioInputError(
        f"only {st['n_mapped']:,} of {st['n_input']:,} pairs map onto the model's "
        f"{len(model.names_):,} entities. The model's entities look like "
        f"{_looks_like(model.names_)} (fitted on {model_src}); unmatched ids here look like "
        f"{', '.join(unmatched[:3]) or 'none'}. Was the model fitted on another embedding "
        "table? Score with a model fitted on the table these ids come from"
        + (
            ", or lower --min-mapped if the pairs simply cover more entities"
            if st["n_mapped"]
            else ""
        ),
        pairs.source or None,
    )


def _row_status(
    ra: np.ndarray, rb: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per input row: scorable, first row of its matched pair, duplicate, and the status text."""
    known = (ra >= 0) & (rb >= 0)
    selfp = known & (ra == rb)
    ok = known & ~selfp
    key = np.where(ok, pair_key(ra, rb, n), -1 - np.arange(len(ra)))
    first = pd.Series(np.arange(len(ra))).groupby(key).transform("min").to_numpy()
    dup = ok & (first != np.arange(len(ra)))
    status = np.where(~known, "unknown id", np.where(selfp, "self pair", "scored")).astype(object)
    status[dup] = "duplicate"
    return ok, first, dup, status


def _scorers(
    model: Any, kind: str | None
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """The model's pair scorer and its partner ranker (CAL: with score ``kind``)."""
    if kind is None or not isinstance(model, CAL):
        return model.score_pairs, model.partner_ranks
    vectors = model.score_vectors(kind)

    def score(i: np.ndarray) -> np.ndarray:
        return model.score_pairs(i, kind=kind)

    def ranks(i: np.ndarray) -> np.ndarray:
        return model.partner_ranks(i, vectors=vectors)

    return score, ranks


def _percentiles(
    score: Callable[[np.ndarray], np.ndarray],
    assoc: np.ndarray,
    n: int,
    n_random: int,
    seed: int,
) -> np.ndarray:
    """Share (%) of ``n_random`` seeded random entity pairs scoring below each association."""
    rng = np.random.default_rng(seed)
    r1 = rng.integers(0, n, size=n_random)
    r2 = (r1 + rng.integers(1, max(n, 2), size=n_random)) % n  # never a self-pair
    ref = np.sort(score(np.stack([r1, r2], 1)))
    return 100.0 * np.searchsorted(ref, assoc, side="left") / len(ref)


def score_pairs_table(
    model: Any,
    pairs: Pairs,
    kind: str | None = None,
    *,
    min_mapped: float | None = None,
    n_random: int = N_RANDOM_PAIRS,
    seed: int = 0,
    id_tables: IdTablesLike = None,
) -> pd.DataFrame:
    """Score every pair of ``pairs`` with a fitted model: one row per input pair, in order.

    Columns: ``input_a, input_b`` (the ids as given) and ``a, b`` (the model's entities they
    matched; empty when unknown); ``status``: ``scored``, ``duplicate`` (the same matched pair as
    the earlier row ``duplicate_of_row``, 1-based; scored again), ``unknown id`` or ``self pair``
    (not scored: NaN); ``association, cosine``; ``training_pair``; ``rank_in_a`` /
    ``rank_in_b`` (rank of b among all partners of a, and of a among those of b; 1 = best);
    ``percentile`` (share of ``n_random`` random entity pairs scoring below it). Load a file with
    ``load_pairs(..., keep_rows=True)`` to keep its duplicate and self-pair rows. ``id_tables``:
    an ``IdResolver`` (or tables folder) converting identifiers.
    """
    mapped = _map_onto_model(model, pairs, min_mapped, id_tables)
    if kind is not None and not isinstance(model, CAL):
        raise CalbioInputError(f"--score applies to CAL models, not {type(model).__name__}")
    names = np.asarray(model.names_, dtype=object)
    n = len(names)
    ra, rb = input_rows(pairs, mapped, names)
    ok, first, dup, status = _row_status(ra, rb, n)
    idx = np.stack([ra[ok], rb[ok]], axis=1)
    score, ranks = _scorers(model, kind)
    assoc = score(idx)
    train_pair = np.isin(pair_keys(idx, n), pair_keys(model.train_pairs_, n))
    rank_a, rank_b = ranks(idx), ranks(idx[:, ::-1].copy())
    pct = _percentiles(score, assoc, n, n_random, seed)

    def full(values: np.ndarray, dtype: str) -> pd.Series:
        col = pd.Series(index=range(len(ra)), dtype=dtype)  # NaN / <NA> where not scored
        col[ok] = values
        return col

    out: dict[str, Any] = {
        "input_a": np.asarray(pairs.a, dtype=object),
        "input_b": np.asarray(pairs.b, dtype=object),
        "a": np.where(ra >= 0, names[np.maximum(ra, 0)], ""),
        "b": np.where(rb >= 0, names[np.maximum(rb, 0)], ""),
        "status": status,
        "duplicate_of_row": pd.Series(first + 1).astype("Int64").where(dup),
        "association": full(assoc, "float64"),
    }
    E = getattr(model, "embedding_", None)
    if E is not None:
        out["cosine"] = full(pair_scores(E, E, idx, "cosine"), "float64")
    out.update(
        {
            "training_pair": full(train_pair, "boolean"),
            "rank_in_a": full(rank_a, "Int64"),
            "rank_in_b": full(rank_b, "Int64"),
            "percentile": full(pct, "float64"),
        }
    )
    return pd.DataFrame(out)


def unknown_inputs(table: pd.DataFrame) -> np.ndarray:
    """Input identifiers of a :func:`score_pairs_table` that matched no entity, in order of
    appearance (after any identifier-table conversion the table was scored with)."""
    ids = np.concatenate([table["input_a"].to_numpy(object), table["input_b"].to_numpy(object)])
    matched = np.concatenate([table["a"].to_numpy(object), table["b"].to_numpy(object)])
    missed = ids[(matched == "") & (ids != "")]
    return np.asarray(pd.unique(pd.Series(missed, dtype=object)), dtype=object)


def describe_score_rows(table: pd.DataFrame) -> str:
    """One line: how many input rows were scored, duplicates, unknown and self pairs."""
    counts = table["status"].value_counts()
    n = len(table)
    parts = [f"{int(counts.get('scored', 0)):,} scored"]
    if counts.get("duplicate", 0):
        parts.append(
            f"{int(counts['duplicate']):,} duplicate(s) of an earlier row after matching ids "
            "(same pair; scored again, see duplicate_of_row)"
        )
    if counts.get("unknown id", 0):
        parts.append(f"{int(counts['unknown id']):,} with an unknown id (not scored)")
    if counts.get("self pair", 0):
        parts.append(f"{int(counts['self pair']):,} self pair(s) (not scored)")
    return f"{n:,} input row(s): " + ", ".join(parts)


# Excel turns some gene symbols into dates (SEPT2 -> 2-Sep, MARCH1 -> 1-Mar) and back.
_EXCEL_MONTHS = {
    "Sep": ("SEPT", "SEPTIN"),
    "Mar": ("MARCH", "MARCHF"),
    "Dec": ("DEC",),
    "Oct": ("OCT",),
    "Nov": ("NOV",),
    "Apr": ("APR",),
    "Feb": ("FEB",),
    "Jan": ("JAN",),
    "Jun": ("JUN",),
    "Jul": ("JUL",),
    "Aug": ("AUG",),
    "May": ("MAY",),
}
_PREFIX_TO_MONTH = {p: m for m, ps in _EXCEL_MONTHS.items() for p in ps}


def excel_forms(name: str) -> set[str]:
    """Other spellings of ``name`` that Excel's date conversion produces or undoes."""
    out: set[str] = set()
    m = re.fullmatch(r"(SEPTIN|SEPT|MARCHF|MARCH|[A-Z]{3})(\d{1,2})", name.upper())
    if m and m.group(1) in _PREFIX_TO_MONTH:
        mon, d = _PREFIX_TO_MONTH[m.group(1)], int(m.group(2))
        out |= {f"{d}-{mon}", f"{d:02d}-{mon}", f"{mon}-{d:02d}", f"{d}-{mon.upper()}"}
        out |= {f"{p}{d}" for p in _EXCEL_MONTHS[mon]}  # SEPT2 <-> SEPTIN2
    m = re.fullmatch(r"(\d{1,2})-([A-Za-z]{3})|([A-Za-z]{3})-(\d{1,2})", name)
    if m:
        d = int(m.group(1) or m.group(4))
        mon = (m.group(2) or m.group(3)).capitalize()
        out |= {f"{p}{d}" for p in _EXCEL_MONTHS.get(mon, ())}
    out.discard(name)
    return out


def suggest_entities(name: str, names: Any, k: int = 5) -> list[str]:
    """Close matches for an unknown identifier: other case, Excel-mangled forms, then fuzzy."""
    pool = pd.Index([str(n) for n in names])
    folded = pd.Series(pool.str.casefold(), index=pool)
    found: list[str] = list(pool[folded.to_numpy() == name.casefold()])
    forms = {f.casefold() for f in excel_forms(name)}
    found += [n for n in pool[folded.isin(forms).to_numpy()] if n not in found]
    if len(found) < k:
        upper = {n.upper(): n for n in pool}
        close = difflib.get_close_matches(name.upper(), list(upper), n=k, cutoff=0.75)
        found += [upper[c] for c in close if upper[c] not in found]
    return found[:k]


def _training_pairs_mention(model: Any, name: str) -> str | None:
    """The training pairs file, when ``name`` appears in it (although not in the model)."""
    src = ((getattr(model, "sources_", {}) or {}).get("pairs") or {}).get("path") or ""
    unmapped = [str(x).casefold() for x in model.mapping_stats_.get("examples_unmapped", [])]
    if name.casefold() in unmapped:
        return src or "the training pairs"
    if not src or not Path(src).is_file():
        return None
    from calbio.data.pairs import load_pairs

    try:
        prs = load_pairs(src)
    except CalbioInputError:
        return None
    ids = pd.Series(np.concatenate([prs.a, prs.b]), dtype=object).astype(str).str.casefold()
    return src if bool((ids == name.casefold()).any()) else None


def resolve_entity(model: Any, name: str, id_tables: IdTablesLike = None) -> int:
    """Row of ``name`` in a fitted model, or an error that says why not and what is close."""
    try:
        return model.index_of(name, id_tables=id_tables)
    except CalbioInputError as exc:
        if "ambiguous by case" in str(exc):
            raise
    parts = [f"{name!r} is not among the model's {len(model.names_):,} entities"]
    in_pairs = _training_pairs_mention(model, name)
    if in_pairs:
        parts.append(
            f"it is in the training pairs ({in_pairs}) but not in the embedding table the model "
            "was fitted on, so it has no vector"
        )
    close = suggest_entities(name, model.names_)
    if close:
        parts.append("close matches: " + ", ".join(close))
    else:
        parts.append(f"the model's entities look like {_looks_like(model.names_)}")
    raise CalbioInputError("; ".join(parts))


def query_partners(
    model: Any, name: str, top: int = 20, id_tables: IdTablesLike = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(known, new): the entity's training partners with their ranks, and the ``top`` best
    partners that are not training pairs. Ranks are among all other entities (1 = best), from
    the model's own ranking (:meth:`~calbio.models.base.AssociationModelBase.rank_partners`)."""
    ranked = model.rank_partners(resolve_entity(model, name, id_tables))
    known = ranked["training_pair"].to_numpy(bool)
    old, new = (
        t.drop(columns="training_pair").reset_index(drop=True)
        for t in (ranked[known], ranked[~known].head(top))
    )
    return old, new


def _demo_inputs(data: Path | None) -> tuple[Embeddings, Pairs, str]:
    if data is None:
        from calbio.data.synthetic import make_synthetic

        syn = make_synthetic(seed=0)
        return syn.embeddings, syn.pairs, "synthetic"
    from calbio.data.embeddings import load_embeddings
    from calbio.data.pairs import load_pairs

    emb_file, pairs_file = (Path(data) / f for f in REAL_DEMO_FILES)
    for f in (emb_file, pairs_file):
        if not f.is_file():
            raise CalbioInputError(
                f"--data expects {REAL_DEMO_FILES[0]} and {REAL_DEMO_FILES[1]} inside it; "
                f"missing {f.relative_to(data)}",
                data,
            )
    return load_embeddings(emb_file), load_pairs(pairs_file), "real"


def run_demo(
    out: str | Path,
    *,
    data: Path | None = None,
    preset: str = "fast",
    epochs: int | None = None,
    force: bool = False,
    progress: Any = None,
) -> dict[str, Any]:
    """Evaluate on held-out edges, then query the entity with most held-out partners."""
    from calbio.evaluation.protocol import evaluate

    t0 = time.perf_counter()
    out = Path(out)
    if out.exists() and not force:
        from calbio.core.errors import OutputExistsError

        raise OutputExistsError("output directory already exists; pass --force to overwrite", out)
    emb, prs, kind = _demo_inputs(data)
    min_mapped = 0.5 if kind == "synthetic" else 0.1  # genome-wide STRING vs 2,732 genes
    result = evaluate(
        emb,
        prs,
        protocol="edge",
        preset=preset,
        epochs=epochs,
        n_boot=200,
        min_mapped=min_mapped,
        progress=progress,
    )
    model = result.model
    # query the entity with the most held-out partners: can CAL rank pairs it never saw?
    sc = result.scores
    held = sc[(sc["dataset"] == "test") & (sc["set"] == "positive")]
    counts = pd.concat([held["a"], held["b"]]).value_counts()
    hub = str(counts.index[0])
    q = model.query(hub, top=20)
    held_partners = set(held.loc[held["a"] == hub, "b"]) | set(held.loc[held["b"] == hub, "a"])
    q["held_out_pair"] = q["partner"].isin(held_partners)
    metrics = result.to_dict()
    cfg = result.model.config
    metrics["demo"] = {"data": kind, "preset": preset, "epochs": cfg.epochs, "hidden": cfg.hidden}
    with atomic_dir(out, force=force) as tmp:
        write_json_atomic(tmp / "metrics.json", metrics)
        result.scores.to_csv(tmp / "test_scores.csv.gz", index=False)
        model.save(tmp / "model", force=True)
        q.to_csv(tmp / "query.csv", index=False)
    return {
        "metrics": metrics,
        "query": q,
        "query_entity": hub,
        "seconds": time.perf_counter() - t0,
    }


def check_explainable(model: Any) -> None:
    """Refuse (input error) a model without ``explain``, naming it and the models that have it."""
    from calbio.models.registry import available_models, model_name, resolve_model

    if callable(getattr(model, "explain", None)):
        return
    able = [m for m in available_models() if callable(getattr(resolve_model(m), "explain", None))]
    raise CalbioInputError(
        f"--explain: model {model_name(model)!r} has no explanation "
        f"(models with one: {', '.join(able) or 'none'})"
    )


def add_explanations(
    model: Any, table: pd.DataFrame, a: str = "a", b: str = "b", top: int = 3
) -> pd.DataFrame:
    """``table`` (rows named by its ``a`` / ``b`` columns) with the model's explanation columns
    appended: per-feature ``contrib_*`` (summing to the model's score), ``n_shared`` and
    ``shared_neighbours``."""
    check_explainable(model)
    if table.empty:
        return table
    rows = pd.Index(model.names_).get_indexer
    idx = np.stack([rows(table[a].to_numpy()), rows(table[b].to_numpy())], axis=1)
    ok = (idx >= 0).all(axis=1) & (idx[:, 0] != idx[:, 1])  # rows kept for unknown ids / self
    ex = model.explain(idx[ok].astype(np.int64), top=top)
    keep = [col for col in ex.columns if col.startswith("contrib_") or "shared" in col]
    cols = ex[keep].set_axis(np.flatnonzero(ok)).reindex(np.arange(len(table)))
    return pd.concat([table.reset_index(drop=True), cols], axis=1)
