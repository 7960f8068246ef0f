"""The paper's sweeps: evidence thresholds (Tables 1-3), blend weight λ (Tables 11-12) and the
cross-boundary cosine threshold (Table 13). Seeds give mean ± SD for every metric.

λ is chosen on a validation split carved from the training pairs, never on the test pairs; the
test-chosen value (the paper's procedure) is shown only as a labelled, optimistic reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from calbio.analysis.ablation import HeldOut, fit_on, prepare_heldout, preprocessed
from calbio.analysis.tables import fmt_ms, table
from calbio.core.errors import CalbioInputError
from calbio.core.graph import sample_uniform_negatives
from calbio.core.metrics import roc_auc
from calbio.core.seeds import DEFAULT_SEED, stream
from calbio.data.coerce import as_mapped_pairs
from calbio.data.types import Embeddings, MappedPairs, Pairs
from calbio.evaluation.pairsets import PairSets
from calbio.evaluation.protocol import evaluate, fit_shortcuts
from calbio.evaluation.scoring import score_sets
from calbio.evaluation.splits import Split
from calbio.models.graph.heuristics import training_degree
from calbio.scoring import pair_scores, score_vectors
from calbio.training.trainer import split_validation

if TYPE_CHECKING:
    from calbio.data.identifiers import IdTablesLike
    from calbio.evaluation.result import EvaluationResult

CB_THRESHOLDS = (0.30, 0.20, 0.15, 0.10, 0.05)
LAMBDAS = tuple(round(x, 2) for x in np.linspace(0.0, 1.0, 11))
MIN_PAIRS = 20


# --------------------------------------------------------------------------- thresholds
def filter_pairs(pairs: Pairs, filters: dict[str, float]) -> Pairs:
    """Pairs whose evidence columns are all >= the given values."""
    ev = pairs.evidence
    missing = [c for c in filters if ev is None or c not in ev.columns]
    if missing:
        have = ", ".join(map(str, [] if ev is None else ev.columns)) or "none"
        raise CalbioInputError(
            f"score column(s) {', '.join(map(repr, missing))} not in the pairs file "
            f"(numeric columns: {have})",
            pairs.source or None,
        )
    keep = np.ones(len(pairs), dtype=bool)
    for col, v in filters.items():
        keep &= ev[col].to_numpy(np.float64) >= v
    return Pairs(
        pairs.a[keep],
        pairs.b[keep],
        ev.loc[keep].reset_index(drop=True),
        pairs.source,
        pairs.sha256,
        {**pairs.stats, "filters": filters},
    )


def positive_stats(E: np.ndarray, idx: np.ndarray, cb_threshold: float = 0.2) -> dict[str, float]:
    """Table 1 columns: pairs, cross-boundary fraction, mean cosine, fraction cosine > 0.5."""
    cos = pair_scores(E, E, idx, "cosine")
    return {
        "n_pairs": int(len(idx)),
        "n_entities": int(np.unique(idx).size),
        "cb_fraction": float(np.mean(np.abs(cos) < cb_threshold)) if len(cos) else float("nan"),
        "mean_cosine": float(cos.mean()) if len(cos) else float("nan"),
        "fraction_cos_gt_0.5": float(np.mean(cos > 0.5)) if len(cos) else float("nan"),
    }


def threshold_sweep(
    embeddings: Embeddings,
    pairs: Pairs,
    *,
    column: str | None = "combined_score",
    values: Sequence[float] = (400, 700, 900),
    channels: Sequence[dict[str, float]] = (),
    seeds: Sequence[int] = (DEFAULT_SEED,),
    protocol: str = "edge",
    min_mapped: float = 0.1,
    id_tables: IdTablesLike = None,
    cb_threshold: float = 0.2,
    validate_with: Sequence[Any] = (),
    n_boot: int = 200,
    preset: str = "paper",
    log: Callable[[str], None] | None = None,
    **train_options: Any,
) -> dict[str, Any]:
    """Pair statistics (Table 1) and held-out AUC / CB AUC (Tables 2-3) per evidence filter.

    ``id_tables``: an ``IdResolver`` (or tables folder) converting pair identifiers.
    """
    filters: list[dict[str, float]] = [{column: float(v)} for v in values] if column else []
    filters += [dict(c) for c in channels]
    if not filters:
        raise CalbioInputError("give a score column with values, or channel filters")
    E = preprocessed(embeddings, train_options.get("pca"), seeds[0])
    rows: list[dict[str, Any]] = []
    for f in filters:
        label = " & ".join(f"{c} >= {v:g}" for c, v in f.items())
        sub = filter_pairs(pairs, f)
        row: dict[str, Any] = {"filter": label, "filters": f, "n_input": len(sub)}
        try:
            mapped = as_mapped_pairs(sub, embeddings, min_mapped, id_tables) if len(sub) else None
        except CalbioInputError:
            mapped = None
        if mapped is None or len(mapped) < MIN_PAIRS:
            row.update(n_pairs=0 if mapped is None else len(mapped), skipped="too few pairs")
            rows.append(row)
            continue
        row.update(positive_stats(E, mapped.idx, cb_threshold))
        row["per_seed"] = []
        for seed in seeds:
            if log:
                log(f"threshold sweep: {label}, seed {seed}")
            res = evaluate(
                embeddings,
                mapped,
                protocol=protocol,
                preset=preset,
                seed=seed,
                cb_threshold=cb_threshold,
                validate_with=validate_with,
                n_boot=n_boot,
                rank=False,
                min_mapped=min_mapped,
                id_tables=id_tables,
                **train_options,
            )
            row["per_seed"].append(_seed_record(res))
        rows.append(row)
    out = {
        "kind": "sweep",
        "sweep": "threshold",
        "protocol": protocol,
        "seeds": list(seeds),
        "cb_threshold": cb_threshold,
        "source": pairs.source,
        "rows": rows,
    }
    out["tables"] = threshold_tables(out)
    return out


def _seed_record(res: EvaluationResult) -> dict[str, Any]:
    """One seed's row of a threshold sweep: each method's AUCs and its validation AUCs."""
    rec = {
        m: {k: v.get(k) for k in ("auc", "cb_auc", "auc_degree_matched")}
        for m, v in res.methods.items()
    }
    rec["validation"] = {
        stem: {
            "n_pairs": v["n_pairs"],
            **{m: v["methods"][m]["auc"] for m in v["methods"]},
        }
        for stem, v in res.validation.items()
    }
    return rec


def threshold_tables(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Table 1 (pair statistics) and Tables 2-3 (held-out AUC, CB AUC, validation AUC)."""
    rows = result["rows"]
    t1 = []
    for r in rows:
        if "skipped" in r:
            t1.append([r["filter"], f"{r['n_pairs']:,}", "-", "-", "-", "-"])
            continue
        t1.append(
            [
                r["filter"],
                f"{r['n_pairs']:,}",
                f"{r['n_entities']:,}",
                f"{r['cb_fraction']:.3f}",
                f"{r['mean_cosine']:.3f}",
                f"{r['fraction_cos_gt_0.5']:.3f}",
            ]
        )
    cb = result["cb_threshold"]
    first = table(
        "Evidence thresholds: positive-pair statistics (paper Table 1)",
        ["filter", "pairs", "entities", f"CB fraction (|cos|<{cb})", "mean cos", "frac cos>0.5"],
        t1,
        [f"Pairs source: {Path(result['source']).name} (pairs with both ids in the embedding)."],
    )
    stems = sorted({s for r in rows for rec in r.get("per_seed", []) for s in rec["validation"]})
    cols = ["filter", "CAL AUC", "cosine AUC", "CAL CB AUC", "cosine CB AUC", "CAL degAUC"]
    cols += ["degree AUC", "Adamic-Adar AUC"] + [f"{s} AUC (CAL / cosine)" for s in stems]
    t2 = []
    for r in rows:
        if "skipped" in r:
            t2.append([r["filter"], *(["too few pairs"] + [""] * (len(cols) - 2))])
            continue
        ps = r["per_seed"]

        def get(m: str, k: str, ps: list = ps) -> str:
            return fmt_ms([p.get(m, {}).get(k) for p in ps])

        line = [
            r["filter"],
            get("cal", "auc"),
            get("cosine", "auc"),
            get("cal", "cb_auc"),
            get("cosine", "cb_auc"),
            get("cal", "auc_degree_matched"),
            get("degree", "auc"),
            get("adamic_adar", "auc"),
        ]
        for s in stems:
            v = [p["validation"].get(s, {}) for p in ps]
            line.append(
                f"{fmt_ms([x.get('cal') for x in v])} / {fmt_ms([x.get('cosine') for x in v])}"
            )
        t2.append(line)
    seeds = result["seeds"]
    second = table(
        f"Evidence thresholds: held-out performance (paper Tables 2-3, {result['protocol']} split)",
        cols,
        t2,
        [
            f"Each filter is trained and tested on its own {result['protocol']} split; seeds "
            f"{', '.join(map(str, seeds))}" + (" (mean ± SD)." if len(seeds) > 1 else "."),
            "Validation columns: pairs of an independent file that are not training pairs.",
        ],
    )
    return [first, second]


# --------------------------------------------------------------------------- lambda
class _BlendView:
    """A fitted CAL scored with the blend (1 - lambda) * cosine + lambda * half."""

    cold_start = True

    def __init__(self, model: Any, lam: float) -> None:
        self.model, self.lam = model, lam

    def score_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Factors of the blend score."""
        return (
            self.model.score_vectors("blend")
            if self.lam == self.model.config.blend_lambda
            else (score_vectors(self.model.association_, self.model.embedding_, "blend", self.lam))
        )

    def score_pairs(self, idx: np.ndarray) -> np.ndarray:
        """Blend scores of row pairs."""
        return self.model.score_pairs(idx, kind="blend", blend_lambda=self.lam)


def _blend_methods(model: Any, lambdas: Sequence[float]) -> dict[str, _BlendView]:
    return {f"{lam:.2f}": _BlendView(model, lam) for lam in lambdas}


def lambda_sweep(
    embeddings: Embeddings,
    pairs: Pairs | MappedPairs,
    *,
    lambdas: Sequence[float] = LAMBDAS,
    seeds: Sequence[int] = (DEFAULT_SEED,),
    validation_fraction: float = 0.2,
    select: str = "auc",
    test_fraction: float = 0.3,
    cb_threshold: float = 0.2,
    min_mapped: float | None = None,
    id_tables: IdTablesLike = None,
    preset: str = "paper",
    log: Callable[[str], None] | None = None,
    **train_options: Any,
) -> dict[str, Any]:
    """Blend score (1-λ)·cosine + λ·CAL: λ chosen on validation pairs, reported on test pairs.

    ``id_tables``: an ``IdResolver`` (or tables folder) converting pair identifiers.
    """
    if select not in ("auc", "cb_auc"):
        raise CalbioInputError("select must be 'auc' or 'cb_auc'")
    if not 0 < validation_fraction < 1:
        raise CalbioInputError("validation fraction must be in (0, 1)")
    mapped = as_mapped_pairs(pairs, embeddings, min_mapped, id_tables)
    curves, chosen = [], []
    for seed in seeds:
        if log:
            log(f"lambda sweep: seed {seed}")
        held = prepare_heldout(mapped.idx, len(embeddings), "edge", test_fraction, seed)
        fit_idx, val_idx = split_validation(held.split.train_idx, validation_fraction, seed)
        model = fit_on(embeddings, fit_idx, preset=preset, seed=seed, **train_options)
        val, test = _blend_validation_and_test(
            model, held, fit_idx, val_idx, lambdas, cb_threshold, seed
        )
        curve = _lambda_curve(val, test, lambdas)
        keys = list(curve)
        best_val = keys[int(np.nanargmax([curve[k][f"val_{select}"] for k in keys]))]
        best_test = keys[int(np.nanargmax([curve[k][f"test_{select}"] for k in keys]))]
        curves.append(curve)
        chosen.append(
            {
                "seed": seed,
                "lambda_validation": float(best_val),
                "lambda_test_paper": float(best_test),
                "test_at_validation_lambda": curve[best_val],
                "test_at_test_lambda": curve[best_test],
                "degree": {k: test["degree"][k] for k in ("auc", "cb_auc")},
                "adamic_adar": {k: test["adamic_adar"][k] for k in ("auc", "cb_auc")},
                "n_train": int(len(fit_idx)),
                "n_validation": int(len(val_idx)),
                "n_test": int(len(held.positives)),
            }
        )
    out = {
        "kind": "sweep",
        "sweep": "lambda",
        "select": select,
        "seeds": list(seeds),
        "validation_fraction": validation_fraction,
        "cb_threshold": cb_threshold,
        "curves": curves,
        "chosen": chosen,
    }
    out["tables"] = lambda_tables(out)
    return out


def _blend_validation_and_test(
    model: Any,
    held: HeldOut,
    fit_idx: np.ndarray,
    val_idx: np.ndarray,
    lambdas: Sequence[float],
    cb_threshold: float,
    seed: int,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Metrics of every blend λ and the graph shortcuts on validation, then on test pairs."""
    n = held.split.n_entities
    E = model.embedding_
    split = Split("edge", fit_idx, held.positives, held.split.universe, None, n)
    rng = stream(seed, "sweep/validation_negatives")
    val_neg = sample_uniform_negatives(5 * len(val_idx), held.split.universe, held.all_keys, n, rng)
    methods: dict[str, Any] = dict(_blend_methods(model, lambdas))
    base = fit_shortcuts(E, split.train_idx)
    methods.update({k: base[k] for k in ("degree", "adamic_adar")})
    empty = np.zeros((0, 2), np.int64)
    deg = training_degree(split.train_idx, n)
    common = dict(cosine=E, degree=deg, cb_threshold=cb_threshold, n_boot=1, seed=seed)
    univ = held.split.universe
    val, _ = score_sets(
        methods, PairSets("val", val_idx, val_neg, empty, univ, None), rank=False, **common
    )
    test, _ = score_sets(
        methods,
        PairSets("test", held.positives, held.negatives, held.dm_negatives, univ, None),
        rank=False,
        **common,
    )
    return val, test


def _lambda_curve(
    val: dict[str, dict[str, Any]], test: dict[str, dict[str, Any]], lambdas: Sequence[float]
) -> dict[str, dict[str, float]]:
    """Validation and test AUC / CB AUC (and test degree-matched AUC) of each λ."""
    return {
        f"{lam:.2f}": {
            "val_auc": val[f"{lam:.2f}"]["auc"],
            "val_cb_auc": val[f"{lam:.2f}"]["cb_auc"],
            "test_auc": test[f"{lam:.2f}"]["auc"],
            "test_cb_auc": test[f"{lam:.2f}"]["cb_auc"],
            "test_auc_degree_matched": test[f"{lam:.2f}"]["auc_degree_matched"],
        }
        for lam in lambdas
    }


def lambda_tables(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The full λ curve (Table 11) and the honest selection (Table 12)."""
    curves, chosen, seeds = result["curves"], result["chosen"], result["seeds"]
    keys = list(curves[0])
    rows = [
        [k]
        + [
            fmt_ms([c[k][m] for c in curves])
            for m in ("val_auc", "val_cb_auc", "test_auc", "test_cb_auc", "test_auc_degree_matched")
        ]
        for k in keys
    ]
    sd = " (mean ± SD)" if len(seeds) > 1 else ""
    curve_t = table(
        "Blend weight λ: full curve (paper Table 11)",
        ["λ", "val AUC", "val CB AUC", "test AUC", "test CB AUC", "test degAUC"],
        rows,
        [
            "score = (1-λ)·cosine + λ·CAL(half); λ=0 is cosine, λ=1 is CAL alone. Model trained "
            f"on training pairs minus a {result['validation_fraction']:.0%} validation split; "
            f"seeds {', '.join(map(str, seeds))}{sd}."
        ],
    )
    sel = result["select"]

    def at(key: str, metric: str) -> str:
        return fmt_ms([c[key][metric] for c in chosen])

    def endpoint(lam: str, metric: str) -> str:
        return fmt_ms([c[lam][metric] for c in curves])

    lam0, lam1 = keys[0], keys[-1]
    srows = [
        [
            "λ chosen on validation (honest)",
            fmt_ms([c["lambda_validation"] for c in chosen], 2),
            at("test_at_validation_lambda", "test_auc"),
            at("test_at_validation_lambda", "test_cb_auc"),
        ],
        [
            "λ chosen on test (paper's procedure; optimistic)",
            fmt_ms([c["lambda_test_paper"] for c in chosen], 2),
            at("test_at_test_lambda", "test_auc"),
            at("test_at_test_lambda", "test_cb_auc"),
        ],
        [f"cosine (λ={lam0})", lam0, endpoint(lam0, "test_auc"), endpoint(lam0, "test_cb_auc")],
        [f"CAL alone (λ={lam1})", lam1, endpoint(lam1, "test_auc"), endpoint(lam1, "test_cb_auc")],
        [
            "degree product (baseline)",
            "",
            fmt_ms([c["degree"]["auc"] for c in chosen]),
            fmt_ms([c["degree"]["cb_auc"] for c in chosen]),
        ],
        [
            "Adamic-Adar (baseline)",
            "",
            fmt_ms([c["adamic_adar"]["auc"] for c in chosen]),
            fmt_ms([c["adamic_adar"]["cb_auc"] for c in chosen]),
        ],
    ]
    sel_t = table(
        "Blend weight λ: selection (paper Table 12)",
        ["selection", "λ", "test AUC", "test CB AUC"],
        srows,
        [f"Selection criterion: validation {sel.replace('_', ' ').upper()}; never the test set."],
    )
    return [curve_t, sel_t]


# --------------------------------------------------------------------------- CB threshold
def cb_sensitivity(
    scores: Sequence[pd.DataFrame],
    thresholds: Sequence[float] = CB_THRESHOLDS,
    methods: Sequence[str] = ("cal", "cosine", "degree", "adamic_adar"),
) -> dict[str, Any]:
    """CB AUC at several |cosine| cut-offs, from per-pair score tables (one per seed)."""
    per_seed = []
    for df in scores:
        uni = (df["set"] != "degree_matched_negative").to_numpy()
        y = df["label"].to_numpy(np.float64)
        absc = np.abs(df["cosine"].to_numpy(np.float64))
        recs = {}
        for t in thresholds:
            cb = uni & (absc < t)
            rec: dict[str, Any] = {
                "n_pos": int(y[cb].sum()),
                "n_neg": int(cb.sum() - y[cb].sum()),
            }
            for m in methods:
                if m in df.columns:
                    rec[m] = roc_auc(y[cb], df[m].to_numpy(np.float64)[cb])
            if "cal" in rec and "cosine" in rec:
                rec["delta_cal_vs_cosine"] = rec["cal"] - rec["cosine"]
            recs[f"{t:g}"] = rec
        per_seed.append(recs)
    out: dict[str, Any] = {
        "kind": "sweep",
        "sweep": "cb",
        "thresholds": [float(t) for t in thresholds],
        "per_seed": per_seed,
    }
    present = [m for m in methods if any(m in r for p in per_seed for r in p.values())]
    rows = []
    for t in thresholds:
        recs = [p[f"{t:g}"] for p in per_seed]
        line = [
            f"|cos| < {t:g}",
            fmt_ms([r["n_pos"] for r in recs], 0),
            fmt_ms([r["n_neg"] for r in recs], 0),
        ]
        line += [fmt_ms([r.get(m) for r in recs]) for m in present]
        line.append(fmt_ms([r.get("delta_cal_vs_cosine") for r in recs], signed=True))
        rows.append(line)
    k = len(per_seed)
    out["tables"] = [
        table(
            "Cross-boundary threshold sensitivity (paper Table 13)",
            ["cross-boundary set", "positives", "negatives"]
            + [f"{m} AUC" for m in present]
            + ["Δ CAL − cosine"],
            rows,
            [
                "Held-out test positives vs random negatives restricted to |cosine| below the "
                f"cut-off; {k} seed{'s' if k > 1 else ''}" + (" (mean ± SD)." if k > 1 else ".")
            ],
        )
    ]
    return out
