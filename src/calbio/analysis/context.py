"""Per-context and leave-one-context-out evaluation of g(A, B | c) against its baselines.

Protocol (all seeded):

* **Pair split.** Distinct entity pairs (orientation-free, context ignored) are split
  train/test; a pair is on the same side in EVERY context, so a test pair is never seen in
  training under another context. ``train_contexts`` can further restrict training to some
  contexts (e.g. only some doses: the others are "unseen doses").
* **Test sets per context.** Positives: test pairs of that context. Uniform negatives:
  ``negative_ratio`` per positive, entity pairs measured in the context that are not a known
  pair of that context (any split). Degree-matched negatives: each endpoint swapped for an
  entity of the same training degree (degree = number of distinct training pairs an entity is in,
  pooled over contexts), so a degree-only scorer gets ~0.5. Cross-boundary (CB) AUC: positives
  and uniform negatives with |cosine within the context| < ``cb_threshold``.
* **Methods.** (a) ``context``: :class:`~calbio.models.context.estimator.ContextCAL`;
  (b) ``pooled``: one core :class:`~calbio.models.cal.estimator.CAL` on the stacked
  (entity, context) rows, blind to the context label; (c) ``per_context``: one core CAL per
  context on that context's pairs only; (d) ``cosine`` within the context. All learned methods
  train on exactly the same rows (the ContextCAL training rows, i.e. training pairs minus its
  calibration split).
* **Calibration.** ContextCAL's probability on each context's positives plus
  ``calibration_negatives`` uniform negatives per positive (the base rate it was calibrated
  for): Brier score and a 10-bin reliability curve (scikit-learn).
* **Leave-one-context-out (LOCO).** Contexts are grouped (``loco_by="context"`` or ``"label"``:
  e.g. all doses of one cell line); for each group, training rows are the training pairs in the
  OTHER groups only (:func:`loco_split` guarantees no row of the held-out group is trained on)
  and testing uses the held-out group's test sets. Unseen-context representations reported:
  ``null`` (null label + the context's covariates, no labelled data), ``few_shot`` (a context
  vector fitted on ``k_shot`` labelled training-split pairs of the held-out context, network
  frozen), ``pooled`` (context-agnostic CAL on the other contexts' stacked rows) and ``cosine``.
"""

from __future__ import annotations

import functools
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from calbio.core.graph import degrees, known_keys, pairs_from_keys
from calbio.core.io import atomic_dir, write_json_atomic
from calbio.core.metrics import average_precision, bootstrap_auc_ci, roc_auc
from calbio.core.seeds import DEFAULT_SEED, child_seed, stream
from calbio.core.version import __version__
from calbio.data.coerce import as_context_mapped_pairs
from calbio.data.context import (
    ContextEmbeddings,
    ContextMappedPairs,
    ContextPairs,
    split_by_pair,
    within_context_negatives,
)
from calbio.evaluation.splits import sample_degree_matched_negatives
from calbio.models.cal.estimator import CAL
from calbio.models.context.estimator import ContextCAL
from calbio.scoring import pair_scores

if TYPE_CHECKING:
    from calbio.data.identifiers import IdTablesLike

METHODS: tuple[str, ...] = ("context", "pooled", "per_context", "cosine")
LOCO_REPRESENTATIONS: tuple[str, ...] = ("null", "few_shot", "pooled", "cosine")

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class ContextTestSets:
    """Test positives, uniform and degree-matched negatives, each with its context."""

    positives: ContextMappedPairs
    negatives: ContextMappedPairs
    dm_negatives: ContextMappedPairs

    def stacked(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(idx, context, set) with set in positive | negative | degree_matched_negative."""
        parts = (self.positives, self.negatives, self.dm_negatives)
        idx = np.concatenate([p.idx for p in parts])
        ctx = np.concatenate([p.context for p in parts])
        kind = np.concatenate(
            [
                np.repeat(name, len(p))
                for name, p in zip(
                    ("positive", "negative", "degree_matched_negative"), parts, strict=True
                )
            ]
        )
        return idx, ctx, kind


def loco_split(
    mapped: ContextMappedPairs, train_mask: np.ndarray, held_contexts: Sequence[int]
) -> tuple[ContextMappedPairs, ContextMappedPairs]:
    """Training rows outside the held-out contexts; test rows inside them (test split only)."""
    held = np.isin(mapped.context, np.asarray(held_contexts, dtype=np.int64))
    train = mapped.select(train_mask & ~held)
    test = mapped.select(~train_mask & held)
    if np.isin(train.context, held_contexts).any():  # defensive: never train on held-out rows
        raise AssertionError("leave-one-context-out split leaked a held-out context")
    return train, test


def make_test_sets(
    test: ContextMappedPairs,
    known: ContextMappedPairs,
    train: ContextMappedPairs,
    cemb: ContextEmbeddings,
    negative_ratio: int,
    seed: int,
) -> ContextTestSets:
    """Uniform and degree-matched within-context negatives for the test positives."""
    rng = stream(seed, "negatives")
    neg = within_context_negatives(test, negative_ratio, cemb, known, rng)
    n = cemb.n_entities
    deg = degrees(pairs_from_keys(known_keys(train.idx, n), n), n)
    dm_idx, dm_ctx = [], []
    for c in np.unique(test.context):  # loop over contexts
        pos = test.idx[test.context == c]
        universe = np.flatnonzero(cemb.row_of[c] >= 0)
        kk = known_keys(known.idx[known.context == c], n)
        dm = sample_degree_matched_negatives(pos, 1, universe, deg, kk, n, rng)
        dm_idx.append(dm)
        dm_ctx.append(np.full(len(dm), c, dtype=np.int64))
    dmp = ContextMappedPairs(
        np.concatenate(dm_idx) if dm_idx else np.zeros((0, 2), np.int64),
        np.concatenate(dm_ctx) if dm_ctx else np.zeros(0, np.int64),
        n,
        cemb.n_contexts,
    )
    return ContextTestSets(test, neg, dmp)


def pooled_cal(
    cemb: ContextEmbeddings,
    train: ContextMappedPairs,
    config: Any,
    progress: Callable[[int, int, float], None] | None = None,
) -> tuple[CAL, Scorer]:
    """Core CAL on the stacked (entity, context) rows: one context-agnostic f for all contexts."""
    rows = np.stack(
        [cemb.row_of[train.context, train.idx[:, 0]], cemb.row_of[train.context, train.idx[:, 1]]],
        axis=1,
    )
    model = CAL(config).fit(cemb.X, rows, progress=progress)
    Z, E = model.association_, model.embedding_

    def score(idx: np.ndarray, ctx: np.ndarray) -> np.ndarray:
        r = np.stack([cemb.row_of[ctx, idx[:, 0]], cemb.row_of[ctx, idx[:, 1]]], axis=1)
        return pair_scores(Z, E, r, "half")

    return model, score


def per_context_cal(
    cemb: ContextEmbeddings, train: ContextMappedPairs, config: Any
) -> tuple[dict[int, CAL], Scorer]:
    """One core CAL per context, trained on that context's pairs alone."""
    models: dict[int, tuple[CAL, np.ndarray]] = {}
    for c in np.unique(train.context):  # loop over contexts
        sel = np.flatnonzero(cemb.context == c)
        local = np.full(cemb.n_entities, -1, np.int64)
        local[cemb.entity[sel]] = np.arange(len(sel))
        tr = train.idx[train.context == c]
        if len(tr) < 2:
            continue
        models[int(c)] = (CAL(config).fit(cemb.X[sel], local[tr]), local)

    def score(idx: np.ndarray, ctx: np.ndarray) -> np.ndarray:
        out = np.full(len(idx), np.nan)
        for c, (m, local) in models.items():
            s = ctx == c
            if s.any():
                out[s] = pair_scores(m.association_, m.embedding_, local[idx[s]], "half")
        return out

    return {c: m for c, (m, _) in models.items()}, score


def _metrics(
    label: np.ndarray, kind: np.ndarray, cos: np.ndarray, s: np.ndarray, cb: float, n_boot: int
) -> dict[str, Any]:
    uni = kind != "degree_matched_negative"
    dmm = kind != "negative"
    cbm = uni & (np.abs(cos) < cb)
    ok = ~np.isnan(s)
    if not ok[uni].any():
        return {"auc": None}
    lo, hi = (
        bootstrap_auc_ci(label[uni & ok], s[uni & ok], n_boot=n_boot, seed=0)
        if n_boot
        else (float("nan"), float("nan"))
    )
    return {
        "auc": roc_auc(label[uni & ok], s[uni & ok]),
        "auc_ci": [lo, hi],
        "average_precision": average_precision(label[uni & ok], s[uni & ok]),
        "cb_auc": roc_auc(label[cbm & ok], s[cbm & ok]),
        "cb_n_pos": int(label[cbm].sum()),
        "auc_degree_matched": roc_auc(label[dmm & ok], s[dmm & ok]),
    }


def score_table(sets: ContextTestSets, scorers: dict[str, Scorer], cosine: Scorer) -> pd.DataFrame:
    """Per-pair scores of every method on the stacked test sets."""
    idx, ctx, kind = sets.stacked()
    table = pd.DataFrame(
        {
            "a": idx[:, 0],
            "b": idx[:, 1],
            "ctx": ctx,
            "set": kind,
            "label": (kind == "positive").astype(np.int8),
            "cosine": cosine(idx, ctx),
        }
    )
    for name, f in scorers.items():
        table[name] = f(idx, ctx)
    return table


def metrics_by(
    table: pd.DataFrame,
    methods: Sequence[str],
    by: str | None = "context",
    cb_threshold: float = 0.2,
    n_boot: int = 0,
) -> pd.DataFrame:
    """AUC / CB AUC / degree-matched AUC of each method, per group (or over all rows)."""
    rows = []
    groups = table.groupby(by, sort=True) if by else [("all", table)]
    for g, sub in groups:  # loop over groups x methods only
        lab, kind, cos = sub["label"].to_numpy(), sub["set"].to_numpy(), sub["cosine"].to_numpy()
        for m in methods:
            entry = _metrics(lab, kind, cos, sub[m].to_numpy(np.float64), cb_threshold, n_boot)
            rows.append({by or "group": g, "method": m, "n_pos": int(lab.sum()), **entry})
    return pd.DataFrame(rows)


def calibration_report(
    model: ContextCAL, sets: ContextTestSets, n_bins: int = 10
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Brier score and reliability curve of the calibrated probability at its base rate."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    k = model.calibration_negatives
    pos = sets.positives
    neg_parts = []
    for c in np.unique(pos.context):  # first k negatives per positive, per context
        m = int((pos.context == c).sum()) * k
        neg_parts.append(np.flatnonzero(sets.negatives.context == c)[:m])
    neg = sets.negatives.select(np.concatenate(neg_parts) if neg_parts else np.zeros(0, int))
    s = np.r_[model.score_idx(pos.idx, pos.context), model.score_idx(neg.idx, neg.context)]
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    ctx = np.r_[pos.context, neg.context]
    p = model.proba_from_scores(s)
    frac, mean = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    binids = np.searchsorted(np.linspace(0, 1, n_bins + 1)[1:-1], p)  # sklearn's binning
    counts = np.bincount(binids, minlength=n_bins)
    curve = pd.DataFrame(
        {"mean_predicted": mean, "fraction_positive": frac, "n": counts[counts > 0]}
    )
    per_ctx = {
        str(model.contexts_[c]): float(brier_score_loss(y[ctx == c], p[ctx == c]))
        for c in np.unique(ctx)
        if len(np.unique(y[ctx == c])) == 2
    }
    report = {
        "brier": float(brier_score_loss(y, p)),
        "brier_constant": float(np.mean((y - y.mean()) ** 2)),
        "base_rate": float(y.mean()),
        "n": int(len(y)),
        "brier_per_context": per_ctx,
        "method": model.calibration,
    }
    return report, curve


@dataclass
class ContextEvaluationResult:
    """Per-context, LOCO and calibration results of one context evaluation."""

    per_context: pd.DataFrame
    overall: pd.DataFrame
    loco: pd.DataFrame
    calibration: dict[str, Any]
    reliability: pd.DataFrame
    scores: pd.DataFrame
    contexts: list[str]
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    model: ContextCAL | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (metrics.json)."""
        return {
            "per_context": self.per_context.to_dict(orient="records"),
            "overall": self.overall.to_dict(orient="records"),
            "loco": self.loco.to_dict(orient="records"),
            "calibration": self.calibration,
            "reliability": self.reliability.to_dict(orient="records"),
            "contexts": self.contexts,
            "config": self.config,
            "data": self.data,
            "timings": self.timings,
            "versions": {"calbio": __version__, "python": platform.python_version()},
        }

    def save(self, out: str | Path, *, force: bool = False, save_model: bool = True) -> Path:
        """Write metrics.json, per_context.csv, loco.csv, reliability.csv, test scores, model."""
        with atomic_dir(out, force=force) as tmp:
            write_json_atomic(tmp / "metrics.json", self.to_dict())
            self.per_context.to_csv(tmp / "per_context.csv", index=False)
            self.loco.to_csv(tmp / "loco.csv", index=False)
            self.reliability.to_csv(tmp / "reliability.csv", index=False)
            self.scores.to_csv(tmp / "test_scores.csv.gz", index=False)
            if save_model and self.model is not None:
                self.model.save(tmp / "model", force=True)
        return Path(out)


def check_context_evaluation(**options: Any) -> None:
    """:func:`evaluate_contexts`' evaluation options, checked before any input is read.

    ``test_fraction``, ``seed``, ``negative_ratio``, ``cb_threshold`` by their specs; ``n_boot``
    >= 0 (0: no bootstrap CIs); ``k_shot`` >= 1. Unset (``None``) values are skipped.
    """
    from calbio.core.options import check_evaluation, check_int

    n_boot, k_shot = options.pop("n_boot", None), options.pop("k_shot", None)
    check_evaluation(**options)
    if n_boot is not None:
        check_int("n_boot", n_boot, 0)
    if k_shot is not None:
        check_int("k_shot", k_shot, 1)


def evaluate_contexts(
    cemb: ContextEmbeddings,
    pairs: ContextPairs | ContextMappedPairs,
    *,
    preset: Any = "paper",
    test_fraction: float = 0.3,
    seed: int = DEFAULT_SEED,
    train_contexts: Sequence[str] | None = None,
    methods: Sequence[str] = METHODS,
    negative_ratio: int = 5,
    cb_threshold: float = 0.2,
    n_boot: int = 200,
    loco: bool = True,
    loco_by: str = "context",
    loco_representations: Sequence[str] = LOCO_REPRESENTATIONS,
    k_shot: int = 20,
    context_dim: int = 16,
    context_dropout: float = 0.1,
    calibration: str = "isotonic",
    min_mapped: float = 0.5,
    id_tables: IdTablesLike = None,
    progress: Callable[[str], None] | None = None,
    **train_options: Any,
) -> ContextEvaluationResult:
    """Fit context-conditioned, pooled, per-context CAL and cosine; report per context + LOCO.

    ``id_tables``: an ``IdResolver`` (or tables folder) converting pair identifiers.
    """
    t0 = time.perf_counter()
    check_context_evaluation(
        test_fraction=test_fraction,
        seed=seed,
        negative_ratio=negative_ratio,
        cb_threshold=cb_threshold,
        n_boot=n_boot,
        k_shot=k_shot,
    )
    if bad := set(methods) - set(METHODS):
        raise ValueError(f"unknown methods {sorted(bad)}; choose from {METHODS}")
    mapped = as_context_mapped_pairs(pairs, cemb, min_mapped, id_tables)
    split = _ContextSplit.make(mapped, cemb, test_fraction, seed, train_contexts)
    sets = make_test_sets(split.test, mapped, split.train_rows, cemb, negative_ratio, seed)
    new_model = _model_factory(
        preset, seed, context_dim, context_dropout, calibration, train_options
    )
    run = _ContextRun(cemb, mapped, split, sets, new_model, seed, progress or (lambda _m: None))
    model, scorers = _fit_methods(run, methods)
    cfg = model.config

    cos: Scorer = functools.partial(model.score_idx, kind="cosine")
    if "cosine" in methods:
        scorers["cosine"] = cos
    scored = _score_methods(run, model, scorers, cos, cb_threshold, n_boot, calibration)
    loco_rows = (
        _leave_one_out(run, cfg, cos, loco_by, loco_representations, k_shot, cb_threshold)
        if loco
        else []
    )
    run.timings["total"] = time.perf_counter() - t0
    return ContextEvaluationResult(
        **scored,
        loco=pd.DataFrame(loco_rows),
        contexts=[str(c) for c in cemb.contexts],
        config={
            "train": cfg.to_dict(),
            "context_dim": context_dim,
            "context_dropout": context_dropout,
            "calibration": calibration,
            "test_fraction": test_fraction,
            "seed": seed,
            "negative_ratio": negative_ratio,
            "cb_threshold": cb_threshold,
            "train_contexts": list(train_contexts) if train_contexts is not None else None,
            "loco_by": loco_by,
            "k_shot": k_shot,
        },
        data=_data_summary(run, model),
        timings=run.timings,
        model=model,
    )


def _model_factory(
    preset: Any,
    seed: int,
    context_dim: int,
    context_dropout: float,
    calibration: str,
    train_options: dict[str, Any],
) -> Callable[..., ContextCAL]:
    """A maker of fresh, unfitted ContextCAL models with this evaluation's settings."""
    return functools.partial(
        ContextCAL,
        preset,
        random_state=child_seed(seed, "model/context"),
        context_dim=context_dim,
        context_dropout=context_dropout,
        calibration=calibration,
        **train_options,
    )


@dataclass
class _ContextSplit:
    """The pair split of a context evaluation: which rows may train, which are test positives."""

    test: ContextMappedPairs
    key_train: np.ndarray  # rows whose entity pair is not a test pair (in any context)
    train_mask: np.ndarray  # key_train restricted to the allowed training contexts
    train_rows: ContextMappedPairs

    @classmethod
    def make(
        cls,
        mapped: ContextMappedPairs,
        cemb: ContextEmbeddings,
        test_fraction: float,
        seed: int,
        train_contexts: Sequence[str] | None,
    ) -> _ContextSplit:
        """Split by entity pair (same side in every context), then keep the training contexts."""
        _, test_all = split_by_pair(mapped, test_fraction, seed)
        key_train = ~np.isin(mapped.keys(), np.unique(test_all.keys()))
        train_mask = key_train.copy()
        if train_contexts is not None:
            allowed = np.array([cemb.context_of(c) for c in train_contexts], dtype=np.int64)
            train_mask &= np.isin(mapped.context, allowed)
        return cls(test_all, key_train, train_mask, mapped.select(train_mask))


@dataclass
class _ContextRun:
    """What the steps of one context evaluation share: data, split, test sets, model factory."""

    cemb: ContextEmbeddings
    mapped: ContextMappedPairs
    split: _ContextSplit
    sets: ContextTestSets
    new_model: Callable[[], ContextCAL]
    seed: int
    say: Callable[[str], None]
    timings: dict[str, float] = field(default_factory=dict)


def _fit_methods(run: _ContextRun, methods: Sequence[str]) -> tuple[ContextCAL, dict[str, Scorer]]:
    """Fit the context model, then the pooled and per-context CALs on exactly its rows."""
    run.say("fitting the context-conditioned model")
    t = time.perf_counter()
    model = run.new_model().fit(run.cemb, run.split.train_rows)
    run.timings["context"] = time.perf_counter() - t
    fit_rows = model.train_rows_  # every learned method trains on exactly these rows
    cfg = model.config
    scorers: dict[str, Scorer] = {}
    if "context" in methods:
        scorers["context"] = model.score_idx
    if "pooled" in methods:
        run.say("fitting the pooled context-agnostic CAL")
        t = time.perf_counter()
        scorers["pooled"] = pooled_cal(run.cemb, fit_rows, cfg)[1]
        run.timings["pooled"] = time.perf_counter() - t
    if "per_context" in methods:
        run.say("fitting one CAL per context")
        t = time.perf_counter()
        scorers["per_context"] = per_context_cal(run.cemb, fit_rows, cfg)[1]
        run.timings["per_context"] = time.perf_counter() - t
    return model, scorers


def _score_methods(
    run: _ContextRun,
    model: ContextCAL,
    scorers: dict[str, Scorer],
    cos: Scorer,
    cb_threshold: float,
    n_boot: int,
    calibration: str,
) -> dict[str, Any]:
    """Test scores of every method, metrics per context and overall, and calibration."""
    table = score_table(run.sets, scorers, cos)
    table.insert(3, "context_name", run.cemb.contexts[table["ctx"].to_numpy()])
    names = list(scorers)
    per_context = metrics_by(table, names, "context_name", cb_threshold, n_boot)
    overall = metrics_by(table, names, None, cb_threshold, n_boot)
    calib, curve = (
        calibration_report(model, run.sets) if calibration != "none" else ({}, pd.DataFrame())
    )
    return {
        "per_context": per_context,
        "overall": overall,
        "calibration": calib,
        "reliability": curve,
        "scores": table,
    }


def _leave_one_out(
    run: _ContextRun,
    cfg: Any,
    cos: Scorer,
    by: str,
    representations: Sequence[str],
    k_shot: int,
    cb_threshold: float,
) -> list[dict[str, Any]]:
    """LOCO: per held-out context (or label), refit without it and score its test pairs."""
    cemb, sets = run.cemb, run.sets
    rows: list[dict[str, Any]] = []
    groups = cemb.contexts if by == "context" else np.unique(cemb.labels)
    for g in groups:  # loop over held-out groups
        held = [cemb.context_of(g)] if by == "context" else list(np.flatnonzero(cemb.labels == g))
        tr, te = loco_split(run.mapped, run.split.train_mask, held)
        if len(te) == 0 or len(tr) < 4:
            continue
        run.say(f"leave-one-out: {g}")
        held_sets = ContextTestSets(
            te,
            sets.negatives.select(np.isin(sets.negatives.context, held)),
            sets.dm_negatives.select(np.isin(sets.dm_negatives.context, held)),
        )
        t = time.perf_counter()
        lm = run.new_model().fit(cemb, tr)
        sc = _loco_scorers(run, lm, cfg, cos, held, representations, k_shot)
        lt = score_table(held_sets, sc, cos)
        res = metrics_by(lt, list(sc), None, cb_threshold, 0)
        res = res.rename(columns={"group": "held_out", "method": "representation"})
        res["held_out"] = str(g)
        res["k_shot"] = k_shot
        rows.extend(res.to_dict(orient="records"))
        run.timings[f"loco_{g}"] = time.perf_counter() - t
    return rows


def _loco_scorers(
    run: _ContextRun,
    lm: ContextCAL,
    cfg: Any,
    cos: Scorer,
    held: Sequence[int],
    representations: Sequence[str],
    k_shot: int,
) -> dict[str, Scorer]:
    """Scorers for held-out contexts: null embedding, pooled CAL (``cfg``), few-shot, cosine."""
    sc: dict[str, Scorer] = {"null": lm.score_idx}
    if "pooled" in representations:
        sc["pooled"] = pooled_cal(run.cemb, lm.train_rows_, cfg)[1]
    if "few_shot" in representations:
        shots = _few_shot_pairs(run.mapped, run.split.key_train, held, k_shot, run.seed)
        fs = lm.without_adaptation()  # shares the fitted network
        for c in held:  # contexts with < 2 shots keep the null representation
            if int((shots.context == c).sum()) >= 2:
                fs.adapt_context(str(run.cemb.contexts[c]), shots.select(shots.context == c))
        sc["few_shot"] = fs.score_idx
    if "cosine" in representations:
        sc["cosine"] = cos
    return {k: v for k, v in sc.items() if k in representations or k == "null"}


def _data_summary(run: _ContextRun, model: ContextCAL) -> dict[str, Any]:
    """Sizes of the table, the pairs and each split (metrics.json's ``data``)."""
    return {
        "n_entities": run.cemb.n_entities,
        "n_contexts": run.cemb.n_contexts,
        "n_rows": len(run.cemb),
        "n_pair_rows": len(run.mapped),
        "n_train_rows": len(model.train_rows_),
        "n_calibration_rows": len(model.calibration_rows_),
        "n_test_positive_rows": len(run.sets.positives),
        "mapping": run.mapped.stats,
    }


def _few_shot_pairs(
    mapped: ContextMappedPairs,
    train_mask: np.ndarray,
    held: Sequence[int],
    k: int,
    seed: int,
) -> ContextMappedPairs:
    """k labelled pairs per held-out context, drawn from its TRAINING-split pairs only."""
    rng = stream(seed, "context_analysis/few_shot")
    pick = []
    for c in held:  # loop over held-out contexts
        cand = np.flatnonzero(train_mask & (mapped.context == c))
        pick.append(rng.choice(cand, size=min(k, len(cand)), replace=False))
    return mapped.select(np.concatenate(pick) if pick else np.zeros(0, np.int64))
