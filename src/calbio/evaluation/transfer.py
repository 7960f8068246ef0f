"""``transfer``: train on one database, score on the others (issue 17 §1).

Each pairs file in turn is the training graph (ALL its pairs): every chosen model and the
shortcuts are fitted on it, and every OTHER file is scored on its pairs absent from the training
file (in either orientation: the rule ``evaluate(validate_with=...)`` uses, the same code),
against uniform and degree-matched negatives drawn from that file's entities (never a known pair
of either file), seeded per (training file, test file) name. Ranks are filtered by both files'
pairs. Held-out numbers on the training file itself (an edge split: what ``evaluate`` gives)
sit on the diagonal, so "fits its own graph" and "transfers" are read together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from calbio.core.errors import CalbioInputError
from calbio.core.io import atomic_dir, write_json_atomic
from calbio.core.logs import get_logger
from calbio.core.seeds import DEFAULT_SEED, child_seed, stream
from calbio.data.coerce import EmbeddingsLike, PairsLike, as_embeddings, as_mapped_pairs
from calbio.data.types import Embeddings, MappedPairs, Pairs
from calbio.evaluation.pairsets import novel_pairs, novel_pairsets
from calbio.evaluation.protocol import (
    ModelLike,
    _as_model_list,
    check_models,
    evaluate,
    fit_all,
    instantiate_models,
)
from calbio.evaluation.ranking import bootstrap_mean_ci
from calbio.evaluation.scoring import score_pairset
from calbio.evaluation.timing import Timer
from calbio.evaluation.verdicts import paired_verdicts
from calbio.models.graph.heuristics import training_degree
from calbio.models.persistence import versions

if TYPE_CHECKING:
    from calbio.data.identifiers import IdTablesLike

TRANSFER_METRICS = {
    "auc": "AUC",
    "auc_degree_matched": "degree-matched AUC",
    "mrr": "MRR",
    "hits@10": "Hits@10",
}
HELDOUT = "held-out"  # where the diagonal's numbers come from
log = get_logger("transfer")


@dataclass
class TransferResult:
    """A train x test matrix per method and metric; ``to_dict()`` is the transfer.json payload.

    ``cells[train][test]``: the scored cell (``n_pairs``, negatives, ``methods`` -> metrics with
    CIs). ``heldout[train]``: the held-out edge split of the training file (``evaluate``'s
    ``methods``, ``verdicts``). ``verdicts``: paired verdicts per cell, each with ``train`` and
    ``test`` keys besides the evaluate schema (``where`` is the test file, or "held-out").
    """

    files: list[str]
    models: list[str]
    shortcuts: list[str]
    cells: dict[str, dict[str, dict[str, Any]]]
    heldout: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    seed: int = DEFAULT_SEED
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    scores: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def methods(self) -> list[str]:
        """Chosen models, then shortcuts."""
        return [*self.models, *self.shortcuts]

    def _cell_metrics(self, train: str, test: str) -> dict[str, Any] | None:
        if train == test:
            h = self.heldout.get(train)
            return None if h is None else h["methods"]
        return self.cells[train][test].get("methods")

    def matrix(self, method: str, metric: str = "auc", *, ci: bool = False) -> pd.DataFrame:
        """Train (rows) x test (columns) values of one method and metric.

        The diagonal holds the held-out number on the training file (NaN without ``heldout``);
        NaN where the method was not scored (no novel pairs). ``ci=True``: the (lo, hi) CIs.
        """
        if method not in self.methods:
            raise CalbioInputError(f"method {method!r} not in this result ({self.methods})")
        if metric not in TRANSFER_METRICS:
            raise CalbioInputError(f"metric must be one of {', '.join(TRANSFER_METRICS)}")
        out = pd.DataFrame(
            index=pd.Index(self.files, name="train"),
            columns=pd.Index(self.files, name="test"),
            dtype=object if ci else float,
        )
        for tr in self.files:
            for te in self.files:
                m = (self._cell_metrics(tr, te) or {}).get(method) or {}
                v = m.get(f"{metric}_ci") if ci else m.get(metric)
                out.loc[tr, te] = (tuple(v) if v else None) if ci else np.nan if v is None else v
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready results (the transfer.json contract)."""
        matrix: dict[str, dict[str, Any]] = {}
        for m in self.methods:
            matrix[m] = {}
            for k in TRANSFER_METRICS:
                rows: dict[str, dict[str, Any]] = {}
                for tr in self.files:
                    rows[tr] = {}
                    for te in self.files:
                        e = (self._cell_metrics(tr, te) or {}).get(m) or {}
                        n = (
                            self.heldout.get(tr, {}).get("n_test_pairs")
                            if tr == te
                            else self.cells[tr][te]["n_pairs"]
                        )
                        rows[tr][te] = {
                            "value": e.get(k),
                            "ci": e.get(f"{k}_ci"),
                            "n_pairs": n,
                            "heldout": tr == te,
                        }
                matrix[m][k] = rows
        return {
            "files": self.files,
            "models": self.models,
            "shortcuts": self.shortcuts,
            "metrics": TRANSFER_METRICS,
            "matrix": matrix,
            "cells": self.cells,
            "heldout": self.heldout,
            "verdicts": self.verdicts,
            "seed": self.seed,
            "config": self.config,
            "data": self.data,
            "versions": self.versions,
            "timings": self.timings,
        }

    def __repr__(self) -> str:
        return (
            f"TransferResult ({len(self.files)} files: {', '.join(self.files)}; models "
            f"{', '.join(self.models) or '-'}; shortcuts {', '.join(self.shortcuts)})\n"
            "    .matrix(method, metric) -> DataFrame; metrics: " + ", ".join(TRANSFER_METRICS)
        )

    def plot(self, model: str | None = None, metric: str = "auc") -> Any:
        """Heatmap of the train x test matrix of one method (default: the first model)."""
        from calbio.report.transfer import plot_transfer

        return plot_transfer(self.to_dict(), model or self.methods[0], metric)

    def save(self, out: str | Path, *, force: bool = False) -> Path:
        """Write transfer.json and transfer_scores.csv.gz (every scored pair) atomically."""
        with atomic_dir(out, force=force) as tmp:
            write_json_atomic(tmp / "transfer.json", self.to_dict())
            if self.scores is not None:
                self.scores.to_csv(tmp / "transfer_scores.csv.gz", index=False)
        return Path(out)


def _file_names(pairs: Sequence[Pairs], names: Sequence[str] | None) -> list[str]:
    if names is not None:
        names = [str(x) for x in names]
        if len(names) != len(pairs):
            raise CalbioInputError(f"names: {len(names)} given for {len(pairs)} pairs files")
        if len(set(names)) != len(names):
            raise CalbioInputError(f"names must be distinct, got {names}")
        return names
    out: list[str] = []
    for i, p in enumerate(pairs):
        stem = Path(p.source).name.split(".")[0] if getattr(p, "source", "") else f"pairs{i}"
        name, k = stem, 2
        while name in out:
            name, k = f"{stem}_{k}", k + 1
        out.append(name)
    return out


def _as_pairs(p: PairsLike | str | Path) -> PairsLike:
    if isinstance(p, str | Path):
        from calbio.data.pairs import load_pairs

        return load_pairs(p)
    return p


def _prepare(
    embeddings: Any,
    pairs_list: Sequence[Any],
    names: Sequence[str] | None,
    min_mapped: float | None,
    id_tables: IdTablesLike,
) -> tuple[Embeddings, list[str], list[MappedPairs], list[Any]]:
    """Read and map every file before any training; refuse what cannot be evaluated."""
    if isinstance(pairs_list, str | Path | Pairs) or len(pairs_list) < 2:
        raise CalbioInputError("transfer needs at least 2 pairs files (one to train, one to test)")
    from calbio.data.identifiers import id_resolver

    emb = as_embeddings(embeddings)
    id_tables = id_resolver(id_tables)  # one resolver: tables read once, every file recorded
    loaded = [_as_pairs(p) for p in pairs_list]
    file_names = _file_names(loaded, names)
    mapped = []
    for name, p in zip(file_names, loaded, strict=True):
        m = as_mapped_pairs(p, emb, min_mapped, id_tables)
        if len(m) < 2:
            raise CalbioInputError(
                f"{name}: only {len(m)} pair(s) map onto the embedding table (need >= 2)",
                getattr(p, "source", None) or None,
            )
        mapped.append(m)
    return emb, file_names, mapped, loaded


def _score_cell(
    methods: dict[str, Any],
    chosen: list[str],
    emb: Embeddings,
    train: str,
    test: str,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    deg: np.ndarray,
    cfg: dict[str, Any],
    timer: Timer,
) -> tuple[dict[str, Any], list, pd.DataFrame | None]:
    """One cell: the test file's pairs absent from the training file, scored by every method."""
    novel = novel_pairs(test, train_idx, test_idx, len(emb))
    seed, n_boot = cfg["seed"], cfg["n_boot"]
    cell: dict[str, Any] = {
        "n_pairs": int(len(novel.positives)),
        "n_mapped": novel.n_mapped,
        "n_removed_in_train_pairs": novel.n_removed,
    }
    rng = stream(seed, f"transfer/{train}->{test}")
    sets = novel_pairsets(novel, deg, rng, cfg["negative_ratio"], cfg["max_negatives"], timer)
    if not sets:
        cell["note"] = f"0 novel pairs: every pair of {test} is in {train}"
        return cell, [], None
    ps = sets[0]
    res, table, sc = score_pairset(
        methods,
        ps,
        methods["cosine"].embedding_,
        deg,
        cfg["cb_threshold"],
        n_boot,
        seed,
        True,
        timer,
        cfg["rank_sample"],
    )
    for name, ranks in sc.ranks.items():
        hits = (np.asarray(ranks) <= 10).astype(np.float64)
        boot = child_seed(seed, "bootstrap/hits@10")
        res[name]["hits@10_ci"] = list(bootstrap_mean_ci(hits, n_boot=n_boot, seed=boot))
    cell.update(
        n_negatives=int(len(ps.negatives)),
        n_negatives_degree_matched=int(len(ps.dm_negatives)),
        methods=res,
    )
    verdicts = paired_verdicts(sc, res, chosen, test, n_boot=n_boot, seed=seed)
    for v in verdicts:
        v.update(train=train, test=test)
    table.insert(0, "test", test)
    table.insert(0, "train", train)
    return cell, verdicts, table


def transfer(
    embeddings: EmbeddingsLike | np.ndarray,
    pairs_list: Sequence[PairsLike | str | Path],
    *,
    model: ModelLike | Sequence[ModelLike] | None = "cal",
    names: Sequence[str] | None = None,
    seed: int = DEFAULT_SEED,
    preset: str | None = None,
    n_boot: int = 1000,
    rank_sample: int | None = None,
    negative_ratio: int = 5,
    max_negatives: int = 50_000,
    cb_threshold: float = 0.2,
    heldout: bool = True,
    min_mapped: float | None = None,
    id_tables: IdTablesLike = None,
    progress: Callable[[int, int, float], None] | None = None,
    **train_options: Any,
) -> TransferResult:
    """Train on each pairs file in turn (all its pairs); score every other file's novel pairs.

    ``pairs_list``: two or more pairs inputs (``Pairs``, paths, DataFrames...) on the same
    embedding table; ``names`` labels them (default: the file stems). ``model``: as in
    :func:`~calbio.evaluation.protocol.evaluate` (a name, class, instance or a list; None for
    the shortcuts alone); ``preset`` and ``train_options`` go to every chosen model that takes
    them. A cell (train A, test B) scores B's pairs absent from A, in either orientation, against
    ``negative_ratio`` uniform and as many degree-matched negatives per pair (never a pair of A
    or B), seeded per (A, B); MRR and Hits@10 are filtered by both files' pairs. Every chosen
    model gets a paired verdict per cell against the best shortcut and the best other model.
    ``heldout``: also run ``evaluate`` (edge split) on each file, shown on the diagonal. Every
    input is read and mapped, and every model resolved, before any training starts.

    Returns a :class:`TransferResult`: ``.matrix(method, metric)`` (train x test DataFrame;
    metrics ``auc``, ``auc_degree_matched``, ``mrr``, ``hits@10``; ``ci=True`` for the CIs; the
    diagonal is held-out, whose Hits@10 has no CI), ``.cells``, ``.heldout``, ``.verdicts``,
    ``.scores`` (every scored pair with its train/test file) and ``.save(out, force=)``.
    """
    timer, t0 = Timer(), time.perf_counter()
    cfg = dict(
        seed=seed,
        n_boot=n_boot,
        rank_sample=rank_sample,
        negative_ratio=negative_ratio,
        max_negatives=max_negatives,
        cb_threshold=cb_threshold,
    )
    _check_settings(cfg, min_mapped)
    specs = _as_model_list(model)
    options = {**train_options, **({"preset": preset} if preset else {})}
    # unknown models or options fail here
    probe = instantiate_models(specs, None, options, seed=seed)
    check_models(probe)  # and every model option (device, seed...), before any file is read
    emb, files, mapped, loaded = _prepare(embeddings, pairs_list, names, min_mapped, id_tables)
    acc = _Accumulator(emb, files, mapped, cfg, timer)
    for i, train in enumerate(files):
        log.info(
            "transfer: training on %s (%d of %d files, %d pairs)",
            train,
            i + 1,
            len(files),
            len(mapped[i]),
        )
        acc.train_on(i, instantiate_models(specs, None, options, seed=seed, notify=False), progress)
        if heldout:
            log.info("transfer: held-out edge split of %s", train)
            with timer("heldout"):
                fresh = instantiate_models(specs, None, options, seed=seed, notify=False)
                r = evaluate(emb, mapped[i], model=list(fresh.values()), progress=progress, **cfg)
            acc.add_heldout(train, r)
    return acc.result(loaded, list(probe), heldout, preset, train_options, t0)


def _check_settings(cfg: dict[str, Any], min_mapped: float | None) -> None:
    from calbio.core.options import check_evaluation

    check_evaluation(**cfg, min_mapped=min_mapped)


@dataclass
class _Accumulator:
    """Cells, verdicts and score tables gathered while training on each file in turn."""

    emb: Embeddings
    files: list[str]
    mapped: list[MappedPairs]
    cfg: dict[str, Any]
    timer: Timer
    cells: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    heldout: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    tables: list[pd.DataFrame] = field(default_factory=list)
    shortcuts: list[str] = field(default_factory=list)

    def train_on(self, i: int, chosen: dict[str, Any], progress: Any = None) -> None:
        """Fit ``chosen`` and the shortcuts on file ``i``; score every other file."""
        train, train_pairs, n = self.files[i], self.mapped[i], len(self.emb)
        methods = fit_all(
            chosen,
            self.emb,
            MappedPairs(train_pairs.idx, n, train_pairs.stats),
            self.timer,
            progress,
        )
        self.shortcuts = [m for m in methods if m not in chosen]
        deg = training_degree(train_pairs.idx, n)
        self.cells[train] = {}
        for test, test_pairs in zip(self.files, self.mapped, strict=True):
            if test == train:
                continue
            log.info("transfer: scoring %s -> %s", train, test)
            cell, verdicts, table = _score_cell(
                methods,
                list(chosen),
                self.emb,
                train,
                test,
                train_pairs.idx,
                test_pairs.idx,
                deg,
                self.cfg,
                self.timer,
            )
            self.cells[train][test] = cell
            self.verdicts += verdicts
            if table is not None:
                self.tables.append(table)

    def add_heldout(self, train: str, r: Any) -> None:
        """Record the held-out evaluation of the training file (the diagonal)."""
        self.heldout[train] = {
            "protocol": "edge",
            "n_train_pairs": r.n_train_pairs,
            "n_test_pairs": r.n_test_pairs,
            "methods": r.methods,
        }
        self.verdicts += [
            {**v, "where": HELDOUT, "train": train, "test": train} for v in r.verdicts
        ]

    def result(
        self,
        loaded: list[Any],
        models: list[str],
        heldout: bool,
        preset: str | None,
        train_options: dict[str, Any],
        t0: float,
    ) -> TransferResult:
        """The TransferResult of everything recorded."""
        emb = self.emb
        scores = pd.concat(self.tables, ignore_index=True) if self.tables else None
        if scores is not None:
            scores["a"] = emb.names[scores["a"].to_numpy()]
            scores["b"] = emb.names[scores["b"].to_numpy()]
        timings = self.timer.as_dict()
        timings["total_seconds"] = time.perf_counter() - t0
        pairs = {
            f: {
                "path": getattr(p, "source", ""),
                "sha256": getattr(p, "sha256", None),
                "n_mapped": len(m),
                "mapping": m.stats,
            }
            for f, p, m in zip(self.files, loaded, self.mapped, strict=True)
        }
        return TransferResult(
            files=self.files,
            models=models,
            shortcuts=self.shortcuts,
            cells=self.cells,
            heldout=self.heldout,
            verdicts=self.verdicts,
            seed=self.cfg["seed"],
            config={
                **self.cfg,
                "heldout": heldout,
                "preset": preset,
                "train_options": _jsonable(train_options),
            },
            data={"embeddings": {"path": emb.source, "sha256": emb.sha256}, "pairs": pairs},
            versions=versions(),
            timings=timings,
            scores=scores,
        )


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    from calbio.models.persistence import _jsonable as to_json

    return to_json(d)
