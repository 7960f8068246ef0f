"""``evaluate``: fit any association model under a protocol and score it beside the shortcuts.

Models come in as a registered name, a class or an instance (PyKEEN's ``pipeline(model=...)``),
one or several; the shortcut baselines (cosine, degree product, Adamic-Adar where it is defined)
are always fitted on the same training pairs and scored on the same pair sets and ranking
queries. Evaluation depends only on the :class:`~calbio.models.base.AssociationModel` interface.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from calbio._io import atomic_dir, write_json_atomic
from calbio.data.coerce import EmbeddingsLike, PairsLike, as_embeddings, as_mapped_pairs
from calbio.data.types import Embeddings, MappedPairs, Pairs
from calbio.errors import CalbioInputError
from calbio.evaluation.metrics import average_precision, bootstrap_auc_ci, roc_auc
from calbio.evaluation.ranking import filtered_ranks, known_csr, rank_summary
from calbio.evaluation.splits import (
    make_split,
    pair_keys,
    sample_degree_matched_negatives,
    sample_uniform_negatives,
)
from calbio.evaluation.timing import Timer
from calbio.models.graph import SHORTCUTS, shortcuts_for, training_degree
from calbio.models.persistence import versions
from calbio.models.registry import model_name, resolve_model

TRANSDUCTIVE_NOTE = (
    "TRANSDUCTIVE: test positives are the training pairs themselves (the paper's protocol); "
    "these numbers measure fit, not generalisation."
)
HEADLINE_METRICS = {
    "auc": "AUC",
    "cb_auc": "cross-boundary AUC",
    "auc_degree_matched": "AUC vs degree-matched negatives",
    "mrr": "MRR",
}
# Relative precision below which two scores count as tied (float noise of sparse products).
TIE_DIGITS = 9
TERCILES = ("low", "mid", "high")

ModelLike = str | type | Any


def tie_safe(s: np.ndarray) -> np.ndarray:
    """Scores rounded to ``TIE_DIGITS`` significant digits of their scale, so float noise ties."""
    s = np.asarray(s, dtype=np.float64)
    finite = np.isfinite(s)
    scale = float(np.max(np.abs(s[finite]))) if finite.any() else 0.0
    if scale == 0.0:
        return s
    q = 10.0 ** (np.floor(np.log10(scale)) - TIE_DIGITS)
    return np.round(s / q) * q


@dataclass
class EvaluationResult:
    """Everything one evaluation produced; ``to_dict()`` is the metrics.json payload."""

    protocol: str
    seed: int
    n_entities: int
    n_train_pairs: int
    n_test_pairs: int
    n_negatives: int
    n_negatives_degree_matched: int
    cb_threshold: float
    methods: dict[str, dict[str, Any]]
    validation: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict, repr=False)
    scores: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def transductive(self) -> bool:
        """True for the paper's train-on-test protocol."""
        return self.protocol == "transductive"

    @property
    def model(self) -> Any:
        """The first chosen (non-shortcut) model, or None for a baselines-only run."""
        return next(iter(self.models.values()), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metrics (the metrics.json contract)."""
        out = {
            "protocol": self.protocol,
            "transductive": self.transductive,
            "seed": self.seed,
            "n_entities": self.n_entities,
            "n_train_pairs": self.n_train_pairs,
            "n_test_pairs": self.n_test_pairs,
            "n_negatives": self.n_negatives,
            "n_negatives_degree_matched": self.n_negatives_degree_matched,
            "cb_threshold": self.cb_threshold,
            "models": list(self.models),
            "shortcuts": [m for m in self.methods if m not in self.models],
            "methods": self.methods,
            "validation": self.validation,
            "warnings": self.warnings,
            "verdicts": self.verdicts,
            "config": self.config,
            "data": self.data,
            "versions": self.versions,
            "timings": self.timings,
        }
        if self.transductive:
            out["note"] = TRANSDUCTIVE_NOTE
        return out

    def __repr__(self) -> str:
        from calbio.report.console import evaluation_repr

        return evaluation_repr(self)

    def plot_roc(self, methods: list[str] | None = None) -> Any:
        """ROC curve of every method on the held-out set (a matplotlib Figure)."""
        from calbio.report.plots import plot_roc

        return plot_roc(self, methods)

    def plot_loss(self) -> Any:
        """Training loss (and validation loss) of the first chosen model (a Figure)."""
        from calbio.report.plots import plot_loss

        return plot_loss(self.model.history_)

    def plot_degree_breakdown(self) -> Any:
        """AUC and MRR per training-degree tercile for every method (a Figure)."""
        from calbio.report.plots import plot_degree_breakdown

        return plot_degree_breakdown(self)

    def plot_cross_boundary(self) -> Any:
        """Cosine histogram of positives and negatives with the cross-boundary band (a Figure)."""
        from calbio.report.plots import plot_cross_boundary

        return plot_cross_boundary(self)

    def save(
        self,
        out: str | Path,
        *,
        force: bool = False,
        save_model: bool = True,
        extra_files: dict[str, Any] | None = None,
    ) -> Path:
        """Write metrics.json, test_scores.csv.gz (every scored pair) and the fitted models.

        ``extra_files`` maps a file name to a writer ``f(path)`` run inside the atomic write.
        """
        with atomic_dir(out, force=force) as tmp:
            for name, writer in (extra_files or {}).items():
                writer(tmp / name)
            write_json_atomic(tmp / "metrics.json", self.to_dict())
            if self.scores is not None:
                self.scores.to_csv(tmp / "test_scores.csv.gz", index=False)
            if save_model:
                for i, (name, m) in enumerate(self.models.items()):
                    if not hasattr(m, "save"):
                        continue
                    m.save(tmp / ("model" if i == 0 else f"models/{name}"), force=True)
        return Path(out)


def model_ranks(
    model: Any,
    positives: np.ndarray,
    candidates: np.ndarray,
    known: sp.csr_matrix,
    *,
    rank_sample: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Filtered ranks of each held-out partner (both orientations) under any model.

    Factorised models hand their vectors to the blocked ranking; others their ``score_rows``.
    Returns (ranks, (query, target) pairs); scores equal to 1e-9 relative tie (counted half).
    """
    vec = model.score_vectors()
    kw: dict[str, Any] = {"vectors": vec} if vec is not None else {"rows": model.score_rows}
    return filtered_ranks(positives, candidates, known, rank_sample=rank_sample, seed=seed, **kw)


def _auc_ci(y: np.ndarray, s: np.ndarray, n_boot: int, seed: int) -> tuple[float, list[float]]:
    lo, hi = bootstrap_auc_ci(y, s, n_boot=n_boot, seed=seed)
    return roc_auc(y, s), [lo, hi]


def _terciles(values: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Tercile label (0, 1, 2) of each value, by the tercile edges of ``ref``."""
    if not len(ref):
        return np.zeros(len(values), np.int64)
    edges = np.quantile(ref, [1 / 3, 2 / 3])
    return np.searchsorted(edges, values, side="right").astype(np.int64)


@dataclass
class PairSets:
    """One scored test set: positives, uniform and degree-matched negatives (row indices)."""

    name: str
    positives: np.ndarray
    negatives: np.ndarray
    dm_negatives: np.ndarray
    candidates: np.ndarray  # ranking candidates (entity rows)
    known: sp.csr_matrix  # every known pair (filtered out of rankings)
    cold: bool = False  # every positive touches an entity without training pairs

    def stacked(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pairs, label, set name) of positives, negatives and degree-matched negatives."""
        sets = np.concatenate([self.positives, self.negatives, self.dm_negatives])
        label = np.r_[
            np.ones(len(self.positives)), np.zeros(len(self.negatives) + len(self.dm_negatives))
        ]
        kind = np.r_[
            np.repeat("positive", len(self.positives)),
            np.repeat("negative", len(self.negatives)),
            np.repeat("degree_matched_negative", len(self.dm_negatives)),
        ]
        return sets, label, kind


def score_sets(
    models: dict[str, Any],
    ps: PairSets,
    cosine: np.ndarray,
    degree: np.ndarray,
    cb_threshold: float,
    n_boot: int,
    seed: int,
    rank: bool = True,
    timer: Timer | None = None,
    rank_sample: int | None = None,
) -> tuple[dict[str, dict[str, Any]], pd.DataFrame]:
    """Every metric of every model on one pair set; also the per-pair score table.

    ``rank_sample``: rank a seeded sample of that many (query, target) pairs instead of all
    (the MRR CI then includes the sampling).
    """
    timer = timer or Timer()
    sets, label, kind = ps.stacked()
    cos = np.einsum("ij,ij->i", cosine[sets[:, 0]], cosine[sets[:, 1]], dtype=np.float64)
    table = pd.DataFrame(
        {
            "a": sets[:, 0],
            "b": sets[:, 1],
            "degree_a": degree[sets[:, 0]],
            "degree_b": degree[sets[:, 1]],
            "set": kind,
            "label": label,
            "cosine": cos,
        }
    )
    uni = kind != "degree_matched_negative"
    dmm = kind != "negative"
    cb = uni & (np.abs(cos) < cb_threshold)
    pair_deg = np.minimum(degree[sets[:, 0]], degree[sets[:, 1]])
    terc = _terciles(pair_deg, pair_deg[: len(ps.positives)])
    results: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        if ps.cold and not getattr(model, "cold_start", True):
            continue  # a graph heuristic says nothing about entities without training pairs
        with timer(f"score:{name}"):
            s = tie_safe(model.score_pairs(sets))
        table[name] = s
        with timer("bootstrap"):
            auc, ci = _auc_ci(label[uni], s[uni], n_boot, seed)
            cb_pos = int(label[cb].sum())
            cb_auc, cb_ci = _auc_ci(label[cb], s[cb], n_boot, seed)
            entry: dict[str, Any] = {
                "auc": auc,
                "auc_ci": ci,
                "ap": average_precision(label[uni], s[uni]),
                "cb_auc": cb_auc,
                "cb_auc_ci": cb_ci,
                "cb_n_pos": cb_pos,
                "cb_n_neg": int(cb.sum() - cb_pos),
                "auc_degree_matched": None,
                "auc_degree_matched_ci": None,
            }
            if len(ps.dm_negatives):
                dm_auc, dm_ci = _auc_ci(label[dmm], s[dmm], n_boot, seed)
                entry["auc_degree_matched"], entry["auc_degree_matched_ci"] = dm_auc, dm_ci
        by_degree: dict[str, dict[str, Any]] = {}
        ranks = None
        if rank:
            with timer(f"rank:{name}"):
                ranks, qt = model_ranks(
                    model, ps.positives, ps.candidates, ps.known, rank_sample=rank_sample, seed=seed
                )
            entry.update(rank_summary(ranks, n_boot=n_boot, seed=seed))
            q_terc = _terciles(
                np.minimum(degree[qt[:, 0]], degree[qt[:, 1]]), pair_deg[: len(ps.positives)]
            )
        m = len(ps.positives)
        for t, tname in enumerate(TERCILES):
            sel = uni & (terc == t)
            part: dict[str, Any] = {
                "n_pos": int(label[sel].sum()),
                "min_degree_range": [
                    int(pair_deg[:m][terc[:m] == t].min()) if (terc[:m] == t).any() else None,
                    int(pair_deg[:m][terc[:m] == t].max()) if (terc[:m] == t).any() else None,
                ],
                "auc": roc_auc(label[sel], s[sel]),
            }
            if ranks is not None:
                r = ranks[q_terc == t]
                part["mrr"] = float(np.mean(1.0 / r)) if len(r) else float("nan")
            by_degree[tname] = part
        entry["by_degree"] = by_degree
        results[name] = entry
    return results, table


def shortcut_verdicts(
    methods: dict[str, dict[str, Any]], chosen: Sequence[str], where: str = ""
) -> list[dict[str, Any]]:
    """For each chosen model and headline metric: does the best shortcut win, tie or lose?

    Decided with the 95% CIs: a shortcut wins when its CI lies above the model's, loses when it
    lies below, and ties when they overlap.
    """
    out = []
    for model in chosen:
        mine = methods.get(model)
        if mine is None:
            continue
        for key, label in HEADLINE_METRICS.items():
            v = mine.get(key)
            if v is None or not np.isfinite(v):
                continue
            rivals = [
                (m, r[key], r.get(f"{key}_ci"))
                for m, r in methods.items()
                if m in SHORTCUTS and m != model and r.get(key) is not None and np.isfinite(r[key])
            ]
            if not rivals:
                continue
            best, bv, bci = max(rivals, key=lambda t: t[1])
            ci = mine.get(f"{key}_ci")
            if ci and bci and np.all(np.isfinite(ci + bci)):
                verdict = "wins" if bci[0] > ci[1] else "loses" if bci[1] < ci[0] else "ties"
            else:
                verdict = "wins" if bv > v else "loses" if bv < v else "ties"
            out.append(
                {
                    "model": model,
                    "metric": key,
                    "label": label,
                    "shortcut": best,
                    "shortcut_value": bv,
                    "model_value": v,
                    "verdict": verdict,
                    "where": where.strip() or "test",
                }
            )
    return out


def verdict_warnings(verdicts: list[dict[str, Any]]) -> list[str]:
    """One line for every headline metric on which a shortcut wins (CIs apart) or ties."""
    lines = []
    for v in verdicts:
        where = "" if v["where"] == "test" else f" on {v['where']}"
        if v["verdict"] == "wins":
            lines.append(
                f"SHORTCUT WINS{where}: {v['shortcut']} beats {v['model']} on {v['label']} "
                f"({v['shortcut_value']:.3f} vs {v['model_value']:.3f}; 95% CIs apart)"
            )
        elif v["verdict"] == "ties" and v["shortcut_value"] >= v["model_value"]:
            lines.append(
                f"shortcut ties{where}: {v['shortcut']} matches {v['model']} on {v['label']} "
                f"({v['shortcut_value']:.3f} vs {v['model_value']:.3f}; 95% CIs overlap)"
            )
    return lines


def shortcut_warnings(methods: dict[str, dict[str, Any]], where: str = "") -> list[str]:
    """Warning lines for every non-shortcut method in ``methods`` (CIs used when present)."""
    chosen = [m for m in methods if m not in SHORTCUTS]
    return verdict_warnings(shortcut_verdicts(methods, chosen, where))


def fit_shortcuts(X: np.ndarray, train_idx: np.ndarray) -> dict[str, Any]:
    """The shortcut baselines fitted on table rows ``X`` and training pairs ``train_idx``."""
    emb = Embeddings(np.array([str(i) for i in range(len(X))], dtype=object), X)
    train = MappedPairs(np.asarray(train_idx), len(X), {})
    return {s: resolve_model(s).fit(emb, train) for s in shortcuts_for(X)}


def _stable_seed(seed: int, name: str) -> int:
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _negatives(
    positives: np.ndarray,
    universe: np.ndarray,
    known_keys: np.ndarray,
    deg: np.ndarray,
    n: int,
    rng: np.random.Generator,
    held: np.ndarray | None,
    ratio: int,
    cap: int,
    timer: Timer,
) -> tuple[np.ndarray, np.ndarray]:
    with timer("negatives"):
        neg = sample_uniform_negatives(
            min(ratio * len(positives), cap), universe, known_keys, n, rng, held
        )
    with timer("degree_matched_negatives"):
        dm = sample_degree_matched_negatives(
            positives, ratio, universe, deg, known_keys, n, rng, held, cap
        )
    return neg, dm


def _as_model_list(model: ModelLike | Sequence[ModelLike] | None) -> list[ModelLike]:
    if model is None:
        return []
    if isinstance(model, list | tuple):
        return list(model)
    return [model]


# Options every model takes when it has such a parameter, and silently skips otherwise.
_ALWAYS = ("preset", "random_state")


def instantiate_models(
    specs: Sequence[ModelLike],
    model_kwargs: dict[str, Any] | None = None,
    train_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fresh models by name; each training option goes to every model with such a parameter.

    An option that no chosen model takes (say ``lr`` for ``hybrid`` alone) is an error, never
    silently dropped. ``model_kwargs`` are constructor parameters of a single model.
    """
    options = dict(train_options or {})
    chosen: dict[str, Any] = {}
    used: set[str] = set()
    for spec in specs:
        inst = resolve_model(spec, **(dict(model_kwargs or {}) if len(specs) == 1 else {}))
        if options and hasattr(inst, "get_params"):
            params = inst.get_params(deep=False)
            take = {k: v for k, v in options.items() if k in params}
            inst.set_params(**take)
            used |= set(take)
        name = model_name(inst)
        if name in chosen:
            name = f"{name}_{len(chosen)}"
        chosen[name] = inst
    unused = sorted(set(options) - used - set(_ALWAYS))
    if unused and specs:
        flags = ", ".join("--" + k.replace("_", "-") for k in unused)
        raise CalbioInputError(
            f"{flags} does not apply to {', '.join(chosen)} (not a parameter of the model)"
        )
    return chosen


def evaluate(
    embeddings: EmbeddingsLike | np.ndarray,
    pairs: PairsLike,
    *,
    model: ModelLike | Sequence[ModelLike] | None = "cal",
    model_kwargs: dict[str, Any] | None = None,
    protocol: str = "edge",
    preset: str | None = None,
    test_fraction: float = 0.3,
    seed: int = 42,
    cb_threshold: float = 0.2,
    negative_ratio: int = 5,
    max_negatives: int = 50_000,
    validate_with: Sequence[Pairs] = (),
    n_boot: int = 1000,
    rank: bool = True,
    rank_sample: int | None = None,
    min_mapped: float | None = None,
    id_tables: Any = None,
    progress: Callable[[int, int, float], None] | None = None,
    **train_options: Any,
) -> EvaluationResult:
    """Fit the chosen model(s) on the protocol's training pairs; score them beside the shortcuts.

    ``model``: a registered name (``"cal"``, ``"hybrid"``, ``"sage"``...), a class, an instance
    (cloned, never mutated), a list of these, or None for the shortcuts alone. ``model_kwargs``
    are constructor parameters of a single model. ``preset`` and ``train_options``
    (``epochs``, ``negatives``, ``pca``...) are passed to every chosen model that has such
    parameters. ``random_state`` defaults to ``seed``. ``rank_sample``: rank a seeded sample of
    that many held-out (query, target) pairs per set instead of all (for genome scale).
    ``min_mapped``: the strict rule, smallest fraction of pairs that must map onto the table
    (default: refuse only when the pairs cover too little of the embedding). ``id_tables``: a
    folder of identifier tables (or loaded ``IdentifierTables``) to convert namespaces and
    outdated symbols (default $CALBIO_ID_TABLES).
    """
    from calbio.options import check_evaluation

    timer = Timer()
    t0 = time.perf_counter()
    check_evaluation(
        test_fraction=test_fraction if protocol != "transductive" else None,
        n_boot=n_boot,
        cb_threshold=cb_threshold,
        min_mapped=min_mapped,
    )
    if rank_sample is not None:
        from calbio.options import check_int

        check_int("rank_sample", rank_sample, 1)
    with timer("split"):
        emb: Embeddings = as_embeddings(embeddings)
        mapped: MappedPairs = as_mapped_pairs(pairs, emb, min_mapped, id_tables)
        n = len(emb)
        split = make_split(mapped.idx, n, protocol, test_fraction, seed)
    if len(split.train_idx) < 2 or len(split.test_idx) < 1:
        raise ValueError(f"{protocol} split left too few pairs (train {len(split.train_idx)})")
    chosen_specs = _as_model_list(model)
    options = dict(train_options)
    if preset is not None:
        options["preset"] = preset
    options.setdefault("random_state", seed)
    chosen = instantiate_models(chosen_specs, model_kwargs, options)
    shortcuts = {s: resolve_model(s) for s in shortcuts_for(emb.X) if s not in chosen}
    train_pairs = MappedPairs(split.train_idx, n, mapped.stats)
    for name, inst in chosen.items():
        with timer(f"fit:{name}"):
            inst.fit(emb, train_pairs, progress=progress) if _takes_progress(inst) else inst.fit(
                emb, train_pairs
            )
    with timer("fit:shortcuts"):
        for inst in shortcuts.values():
            inst.fit(emb, train_pairs)
    everything = {**chosen, **shortcuts}
    cosine = (
        shortcuts["cosine"].embedding_ if "cosine" in shortcuts else chosen["cosine"].embedding_
    )

    rng = np.random.default_rng(seed + 7)
    all_keys = np.unique(pair_keys(mapped.idx, n))
    held = split.heldout_mask() if protocol == "node" else None
    deg = training_degree(split.train_idx, n)
    neg, dm_neg = _negatives(
        split.test_idx,
        split.universe,
        all_keys,
        deg,
        n,
        rng,
        held,
        negative_ratio,
        max_negatives,
        timer,
    )
    test = PairSets(
        "test",
        split.test_idx,
        neg,
        dm_neg,
        split.universe,
        known_csr(mapped.idx, n),
        cold=protocol == "node",
    )
    results, table = score_sets(
        everything, test, cosine, deg, cb_threshold, n_boot, seed, rank, timer, rank_sample
    )
    table.insert(0, "dataset", "test")
    tables = [table]
    verdicts = shortcut_verdicts(results, list(chosen))

    validation: dict[str, dict[str, Any]] = {}
    for vp in validate_with:
        stem = Path(vp.source).name.split(".")[0] if vp.source else f"validation{len(validation)}"
        vm = as_mapped_pairs(vp, emb, min_mapped, id_tables)
        v_keys = pair_keys(vm.idx, n)
        in_main = np.isin(v_keys, all_keys)
        vpos_all = vm.idx[~in_main]
        known_v = np.union1d(all_keys, v_keys)
        known_vm = known_csr(np.concatenate([mapped.idx, vm.idx]), n)
        vrng = np.random.default_rng(_stable_seed(seed, stem))
        v_univ = np.unique(vm.idx)
        groups: list[tuple[str, np.ndarray, np.ndarray, np.ndarray | None, bool]] = []
        if held is not None:
            # cold start = touches an entity the model never saw in a training pair
            unseen = deg == 0
            cold_mask = unseen[vpos_all[:, 0]] | unseen[vpos_all[:, 1]]
            groups.append((f"{stem}", vpos_all[cold_mask], v_univ, unseen, True))
            groups.append(
                (f"{stem}_warm", vpos_all[~cold_mask], v_univ[~unseen[v_univ]], None, False)
            )
        else:
            groups.append((stem, vpos_all, v_univ, None, False))
        for gname, vpos, univ, hmask, cold in groups:
            if not len(vpos):
                continue
            v_neg, v_dm = _negatives(
                vpos, univ, known_v, deg, n, vrng, hmask, negative_ratio, max_negatives, timer
            )
            ps = PairSets(gname, vpos, v_neg, v_dm, univ, known_vm, cold=cold)
            v_res, v_table = score_sets(
                everything, ps, cosine, deg, cb_threshold, n_boot, seed, rank, timer, rank_sample
            )
            v_table.insert(0, "dataset", gname)
            tables.append(v_table)
            validation[gname] = {
                "n_pairs": int(len(vpos)),
                "n_mapped": int(len(vm)),
                "n_removed_in_main_pairs": int(in_main.sum()),
                "cold_start": bool(cold) if held is not None else None,
                "n_negatives": int(len(v_neg)),
                "n_negatives_degree_matched": int(len(v_dm)),
                "methods": v_res,
            }
            verdicts += shortcut_verdicts(v_res, list(chosen), f" {gname}")

    with timer("tables"):
        scores = pd.concat(tables, ignore_index=True)
        scores["a"] = emb.names[scores["a"].to_numpy()]
        scores["b"] = emb.names[scores["b"].to_numpy()]
    first = next(iter(chosen.values()), None)
    timings = timer.as_dict()
    timings["fit_seconds"] = sum(v for k, v in timer.seconds.items() if k.startswith("fit:"))
    timings["total_seconds"] = time.perf_counter() - t0
    return EvaluationResult(
        protocol=protocol,
        seed=seed,
        n_entities=int(len(split.universe)),
        n_train_pairs=int(len(split.train_idx)),
        n_test_pairs=int(len(split.test_idx)),
        n_negatives=int(len(neg)),
        n_negatives_degree_matched=int(len(dm_neg)),
        cb_threshold=cb_threshold,
        methods=results,
        validation=validation,
        warnings=verdict_warnings(verdicts),
        verdicts=verdicts,
        config={
            "models": {k: _params(v) for k, v in chosen.items()},
            "preset": getattr(first, "preset_name", None),
            "train": first.config.to_dict() if hasattr(first, "config") else None,
            "test_fraction": test_fraction,
            "negative_ratio": negative_ratio,
            "max_negatives": max_negatives,
            "n_boot": n_boot,
            "rank_sample": rank_sample,
        },
        data={
            "embeddings": {"path": emb.source, "sha256": emb.sha256},
            "pairs": {
                "path": getattr(pairs, "source", ""),
                "sha256": getattr(pairs, "sha256", None),
            },
            "mapping": mapped.stats,
            "n_table_rows": n,
            "n_heldout_entities": 0 if split.heldout is None else int(len(split.heldout)),
            "synthetic": emb.source == "synthetic",
        },
        versions=versions(),
        timings=timings,
        models=chosen,
        scores=scores,
    )


def _takes(fn: Any, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _takes_progress(model: Any) -> bool:
    return _takes(model.fit, "progress")


def _params(model: Any) -> dict[str, Any]:
    from calbio.models.persistence import _jsonable

    return _jsonable(model.get_params(deep=False)) if hasattr(model, "get_params") else {}
