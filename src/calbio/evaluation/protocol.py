"""``evaluate``: fit any association model under a protocol and score it beside the shortcuts.

Models come in as a registered name, a class or an instance (PyKEEN's ``pipeline(model=...)``),
one or several; the shortcut baselines (cosine, degree product, Adamic-Adar where it is defined)
are always fitted on the same training pairs and scored on the same pair sets and ranking
queries. Evaluation depends only on the :class:`~calbio.models.base.AssociationModel` interface.

The pieces live beside this module: :mod:`.pairsets` (which pairs are scored, with which
negatives), :mod:`.scoring` (every metric of every model on one set), :mod:`.verdicts` and
:mod:`.result`; this module creates and fits the models and runs the protocol.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from calbio.core.errors import CalbioInputError
from calbio.core.logs import get_logger
from calbio.core.seeds import DEFAULT_SEED, child_seed, stream
from calbio.data.coerce import (
    EmbeddingsLike,
    PairsLike,
    as_embeddings,
    as_mapped_pairs,
    as_pairs,
)
from calbio.data.identifiers import id_resolver
from calbio.data.types import Embeddings, MappedPairs, Pairs
from calbio.evaluation.pairsets import (
    PairSets,
    heldout_pairsets,
    novel_pairs,
    novel_pairsets,
)
from calbio.evaluation.result import EvaluationResult
from calbio.evaluation.scoring import score_pairset
from calbio.evaluation.splits import Split, checked_split
from calbio.evaluation.timing import Timer
from calbio.evaluation.verdicts import losing_warnings, paired_verdicts
from calbio.models.graph.heuristics import shortcuts_for, training_degree
from calbio.models.persistence import versions
from calbio.models.registry import model_name, resolve_model

if TYPE_CHECKING:
    from calbio.data.identifiers import IdTablesLike

ModelLike = str | type | Any
log = get_logger("evaluation")

NO_NOVEL_PAIRS = "0 novel pairs: every pair is in the main file"

# Options every model takes when it has such a parameter, and silently skips otherwise.
_ALWAYS = ("preset", "random_state")


def _as_model_list(model: ModelLike | Sequence[ModelLike] | None) -> list[ModelLike]:
    if model is None:
        return []
    if isinstance(model, list | tuple):
        return list(model)
    return [model]


def instantiate_models(
    specs: Sequence[ModelLike],
    model_kwargs: dict[str, Any] | None = None,
    train_options: dict[str, Any] | None = None,
    *,
    seed: int | None = None,
    notify: bool = True,
) -> dict[str, Any]:
    """Fresh models by name; each training option goes to every model with such a parameter.

    An option that no chosen model takes (say ``lr`` for ``hybrid`` alone) is an error, never
    silently dropped; one that only some take is logged once (a warning naming the models that
    ignore it; ``notify=False`` skips it). ``model_kwargs``: parameters of a single model.
    ``seed`` (the run's seed): a model whose ``random_state`` is still None gets the run's
    ``model/<name>`` stream; one given its own ``random_state`` keeps it (as scikit-learn's
    ``clone`` does). The seed reaches each model here, once.
    """
    options = dict(train_options or {})
    chosen: dict[str, Any] = {}
    takes: dict[str, set[str]] = {}
    for spec in specs:
        inst = resolve_model(spec, **(dict(model_kwargs or {}) if len(specs) == 1 else {}))
        params = inst.get_params(deep=False) if hasattr(inst, "get_params") else {}
        take = {k: v for k, v in options.items() if k in params}
        if take:
            inst.set_params(**take)
        name = model_name(inst)
        if name in chosen:
            name = f"{name}_{len(chosen)}"
        if seed is not None and "random_state" in params and inst.random_state is None:
            inst.set_params(random_state=child_seed(seed, f"model/{name}"))
        chosen[name] = inst
        takes[name] = set(take)
    used = set().union(*takes.values()) if takes else set()
    unused = sorted(set(options) - used - set(_ALWAYS))
    if unused and specs:
        raise CalbioInputError(
            f"{_flags(unused)} does not apply to {', '.join(chosen)} (not a parameter of the model)"
        )
    if notify:
        _notice_ignored(sorted(set(options) - set(_ALWAYS)), takes)
    return chosen


def _flags(options: Sequence[str]) -> str:
    return ", ".join("--" + k.replace("_", "-") for k in options)


def _notice_ignored(options: Sequence[str], takes: dict[str, set[str]]) -> None:
    """One warning line: which chosen models ignore which options (that others take)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for opt in options:
        ignoring = tuple(m for m, t in takes.items() if opt not in t)
        if ignoring:
            groups.setdefault(ignoring, []).append(opt)
    if groups:
        parts = [
            f"{_flags(opts)} {'is' if len(opts) == 1 else 'are'} not used by {', '.join(models)}"
            for models, opts in groups.items()
        ]
        log.warning("%s (no such parameter)", "; ".join(parts))


def fit_shortcuts(X: np.ndarray, train_idx: np.ndarray) -> dict[str, Any]:
    """The shortcut baselines fitted on table rows ``X`` and training pairs ``train_idx``."""
    emb = Embeddings(np.array([str(i) for i in range(len(X))], dtype=object), X)
    train = MappedPairs(np.asarray(train_idx), len(X), {})
    return {s: resolve_model(s).fit(emb, train) for s in shortcuts_for(X)}


def fit_all(
    chosen: dict[str, Any],
    emb: Embeddings,
    train: MappedPairs,
    timer: Timer,
    progress: Callable[[int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Fit the chosen models and the shortcuts (those not chosen) on ``train``; all of them."""
    shortcuts = {s: resolve_model(s) for s in shortcuts_for(emb.X) if s not in chosen}
    for name, inst in chosen.items():
        with timer(f"fit:{name}"):
            if _takes(inst.fit, "progress"):
                inst.fit(emb, train, progress=progress)
            else:
                inst.fit(emb, train)
    with timer("fit:shortcuts"):
        for inst in shortcuts.values():
            inst.fit(emb, train)
    return {**chosen, **shortcuts}


@dataclass
class _Run:
    """One evaluation's fitted methods and settings: scores every pair set the same way."""

    emb: Embeddings
    mapped: MappedPairs
    split: Split
    methods: dict[str, Any]
    chosen: list[str]
    cb_threshold: float
    seed: int
    rank: bool
    config: dict[str, Any]
    timer: Timer

    @property
    def deg(self) -> np.ndarray:
        """Training degree of every table row."""
        if not hasattr(self, "_deg"):
            self._deg = training_degree(self.split.train_idx, len(self.emb))
        return self._deg

    def score(
        self, ps: PairSets, verdicts: list[dict[str, Any]]
    ) -> tuple[dict[str, dict[str, Any]], pd.DataFrame]:
        """Every metric of every method on ``ps`` (table tagged with its name); adds verdicts."""
        n_boot, seed = self.config["n_boot"], self.seed
        res, table, sc = score_pairset(
            self.methods,
            ps,
            self.methods["cosine"].embedding_,
            self.deg,
            self.cb_threshold,
            n_boot,
            self.seed,
            self.rank,
            self.timer,
            self.config["rank_sample"],
        )
        table.insert(0, "dataset", ps.name)
        with self.timer("verdicts"):
            verdicts += paired_verdicts(sc, res, self.chosen, ps.name, n_boot=n_boot, seed=seed)
        return res, table

    def validate(
        self,
        vp: Pairs,
        validation: dict[str, Any],
        tables: list[pd.DataFrame],
        verdicts: list[dict[str, Any]],
        min_mapped: float | None,
        id_tables: IdTablesLike,
    ) -> None:
        """Score the pairs of ``vp`` absent from the main file; add entries, tables, verdicts."""
        stem = Path(vp.source).name.split(".")[0] if vp.source else f"validation{len(validation)}"
        vm = as_mapped_pairs(vp, self.emb, min_mapped, id_tables)
        novel = novel_pairs(stem, self.mapped.idx, vm.idx, len(self.emb))
        node = self.split.protocol == "node"
        if not len(novel.positives):
            validation[stem] = {
                "n_pairs": 0,
                "n_mapped": novel.n_mapped,
                "n_removed_in_main_pairs": novel.n_removed,
                "mapping": vm.stats,  # the file's mapping report (converted, unknown ids)
                "note": NO_NOVEL_PAIRS,
                "methods": {},  # nothing scored (readers that loop over methods see none)
            }
            return
        rng = stream(self.seed, f"negatives/{stem}")
        ratio, cap = self.config["negative_ratio"], self.config["max_negatives"]
        for ps in novel_pairsets(novel, self.deg, rng, ratio, cap, self.timer, cold_split=node):
            res, table = self.score(ps, verdicts)
            tables.append(table)
            validation[ps.name] = {
                "n_pairs": int(len(ps.positives)),
                "n_mapped": novel.n_mapped,
                "n_removed_in_main_pairs": novel.n_removed,
                "mapping": vm.stats,
                "cold_start": bool(ps.cold) if node else None,
                "n_negatives": int(len(ps.negatives)),
                "n_negatives_degree_matched": int(len(ps.dm_negatives)),
                "methods": res,
            }


def _check_inputs(
    protocol: str,
    test_fraction: float,
    n_boot: int,
    cb_threshold: float,
    min_mapped: float | None,
    rank_sample: int | None,
) -> None:
    from calbio.core.options import check_evaluation, check_int

    check_evaluation(
        test_fraction=test_fraction if protocol != "transductive" else None,
        n_boot=n_boot,
        cb_threshold=cb_threshold,
        min_mapped=min_mapped,
    )
    if rank_sample is not None:
        check_int("rank_sample", rank_sample, 1)


def check_models(chosen: dict[str, Any]) -> None:
    """Validate every chosen model's parameters (those with a ``check_params``), reading nothing."""
    for inst in chosen.values():
        check = getattr(inst, "check_params", None)
        if callable(check):
            check()


def _check_run(
    seed: Any,
    negative_ratio: Any,
    max_negatives: Any,
    model: Any,
    model_kwargs: dict[str, Any] | None,
    options: dict[str, Any],
) -> None:
    """The seed, the negatives and every model option: checked before any input is read."""
    from calbio.core.options import check_evaluation

    check_evaluation(seed=seed, negative_ratio=negative_ratio, max_negatives=max_negatives)
    given = {"random_state": seed, **options}
    probe = instantiate_models(_as_model_list(model), model_kwargs, given, notify=False)
    check_models(probe)


def _split(
    embeddings: Any,
    pairs: Any,
    protocol: str,
    test_fraction: float,
    seed: int,
    min_mapped: float | None,
    id_tables: IdTablesLike,
) -> tuple[Embeddings, MappedPairs, Split]:
    emb: Embeddings = as_embeddings(embeddings)
    mapped: MappedPairs = as_mapped_pairs(pairs, emb, min_mapped, id_tables)
    split = checked_split(mapped.idx, len(emb), protocol, test_fraction, seed)
    return emb, mapped, split


# evaluate()'s arguments recorded in the result's config
_RUN_CONFIG = ("test_fraction", "negative_ratio", "max_negatives", "n_boot", "rank_sample")


def evaluate(
    embeddings: EmbeddingsLike | np.ndarray,
    pairs: PairsLike,
    *,
    model: ModelLike | Sequence[ModelLike] | None = "cal",
    model_kwargs: dict[str, Any] | None = None,
    protocol: str = "edge",
    preset: str | None = None,
    test_fraction: float = 0.3,
    seed: int = DEFAULT_SEED,
    cb_threshold: float = 0.2,
    negative_ratio: int = 5,
    max_negatives: int = 50_000,
    validate_with: Sequence[PairsLike] = (),
    n_boot: int = 1000,
    rank: bool = True,
    rank_sample: int | None = None,
    min_mapped: float | None = None,
    id_tables: IdTablesLike = None,
    progress: Callable[[int, int, float], None] | None = None,
    **train_options: Any,
) -> EvaluationResult:
    """Fit the chosen model(s) on the protocol's training pairs; score them beside the shortcuts.

    ``model``: a registered name, a class, an instance (cloned, never mutated), a list of these,
    or None for the shortcuts alone; ``model_kwargs``: a single model's constructor parameters;
    ``preset`` and ``train_options`` go to every chosen model that takes them. ``seed``: the
    run's one seed; split, negatives, bootstrap, ranking and each model (``model/<name>``,
    unless given its own ``random_state``) draw from named streams (:mod:`calbio.core.seeds`).
    ``rank_sample``: rank a seeded sample of held-out queries per set. ``min_mapped``: smallest
    fraction of pairs that must map. ``validate_with``: other pairs (files, frames...), read
    before any fit, each scored on its pairs absent from ``pairs``. ``id_tables``: an
    ``IdResolver`` or tables folder (default $CALBIO_ID_TABLES); its conversions: ``id_mapping``.
    """
    timer, t0 = Timer(), time.perf_counter()
    _check_inputs(protocol, test_fraction, n_boot, cb_threshold, min_mapped, rank_sample)
    options = {**train_options, **({} if preset is None else {"preset": preset})}
    _check_run(seed, negative_ratio, max_negatives, model, model_kwargs, options)
    id_tables = id_resolver(id_tables)
    validation_pairs = [as_pairs(v) for v in validate_with]  # a bad file fails before the fit
    n_before = len(id_tables.mappings)  # a resolver passed in may have mapped other files
    with timer("split"):
        emb, mapped, split = _split(
            embeddings, pairs, protocol, test_fraction, seed, min_mapped, id_tables
        )
    chosen = instantiate_models(_as_model_list(model), model_kwargs, options, seed=seed)
    train = MappedPairs(split.train_idx, len(emb), mapped.stats)
    methods = fit_all(chosen, emb, train, timer, progress)
    cfg = {k: v for k, v in locals().items() if k in _RUN_CONFIG}
    run = _Run(emb, mapped, split, methods, list(chosen), cb_threshold, seed, rank, cfg, timer)
    test = heldout_pairsets(mapped.idx, split, run.deg, seed, negative_ratio, max_negatives, timer)
    verdicts: list[dict[str, Any]] = []
    results, table = run.score(test, verdicts)
    validation, tables = {}, [table]
    for vp in validation_pairs:
        run.validate(vp, validation, tables, verdicts, min_mapped, id_tables)
    mapping = (id_tables, n_before)  # what this run's identifier conversion added
    return _result(run, pairs, test, results, validation, verdicts, tables, t0, mapping)


def _result(
    run: _Run,
    pairs: Any,
    test: PairSets,
    results: dict[str, Any],
    validation: dict[str, Any],
    verdicts: list[dict[str, Any]],
    tables: list[pd.DataFrame],
    t0: float,
    mapping: tuple[Any, int],
) -> EvaluationResult:
    from calbio.data.matching import id_mapping_frame

    split, emb, chosen = run.split, run.emb, {k: run.methods[k] for k in run.chosen}
    with run.timer("tables"):
        scores = pd.concat(tables, ignore_index=True)
        scores["a"] = emb.names[scores["a"].to_numpy()]
        scores["b"] = emb.names[scores["b"].to_numpy()]
    id_tables, n_before = mapping
    result = EvaluationResult(
        protocol=split.protocol,
        seed=run.seed,
        n_entities=int(len(split.universe)),
        n_train_pairs=int(len(split.train_idx)),
        n_test_pairs=int(len(split.test_idx)),
        n_negatives=int(len(test.negatives)),
        n_negatives_degree_matched=int(len(test.dm_negatives)),
        cb_threshold=run.cb_threshold,
        methods=results,
        validation=validation,
        warnings=losing_warnings(verdicts),
        verdicts=verdicts,
        config=_config(chosen, run.config),
        data=_data(emb, pairs, run.mapped, split),
        versions=versions(),
        timings=_timings(run.timer, t0),
        models=chosen,
        scores=scores,
    )
    result.id_mapping = id_mapping_frame(id_tables.mappings[n_before:])
    result.mapping_lines = id_tables.lines[n_before:]
    return result


def _timings(timer: Timer, t0: float) -> dict[str, float]:
    timings = timer.as_dict()
    timings["fit_seconds"] = sum(v for k, v in timer.seconds.items() if k.startswith("fit:"))
    timings["total_seconds"] = time.perf_counter() - t0
    return timings


def _config(chosen: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    first = next(iter(chosen.values()), None)
    return {
        "models": {k: _params(v) for k, v in chosen.items()},
        "preset": getattr(first, "preset_name", None),
        "train": first.config.to_dict() if hasattr(first, "config") else None,
        **settings,
    }


def _data(emb: Embeddings, pairs: Any, mapped: MappedPairs, split: Split) -> dict[str, Any]:
    return {
        "embeddings": {"path": emb.source, "sha256": emb.sha256},
        "pairs": {"path": getattr(pairs, "source", ""), "sha256": getattr(pairs, "sha256", None)},
        "mapping": mapped.stats,
        "n_table_rows": len(emb),
        "n_heldout_entities": 0 if split.heldout is None else int(len(split.heldout)),
        "synthetic": emb.source == "synthetic",
    }


def _takes(fn: Any, name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _params(model: Any) -> dict[str, Any]:
    from calbio.models.persistence import _jsonable

    return _jsonable(model.get_params(deep=False)) if hasattr(model, "get_params") else {}
