"""``evaluate``: fit CAL under a protocol and report it beside the shortcut baselines."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

import calbio
from calbio._io import atomic_dir, write_json_atomic
from calbio.data.types import Embeddings, MappedPairs, Pairs
from calbio.evaluation.baselines import (
    adamic_adar_rows,
    adamic_adar_score,
    degree_product_score,
    training_degree,
)
from calbio.evaluation.metrics import (
    average_precision,
    bootstrap_auc_ci,
    ranking_summary,
    roc_auc,
    target_ranks,
)
from calbio.evaluation.splits import (
    Split,
    make_split,
    pair_keys,
    sample_degree_matched_negatives,
    sample_uniform_negatives,
)
from calbio.model.estimator import CAL, EmbeddingsLike, PairsLike, as_embeddings, as_mapped_pairs
from calbio.scoring import pair_scores, score_rows

TRANSDUCTIVE_NOTE = (
    "TRANSDUCTIVE: test positives are the training pairs themselves (the paper's protocol); "
    "these numbers measure fit, not generalisation."
)
BASELINES = ("cosine", "degree", "adamic_adar")
HEADLINE_METRICS = {
    "auc": "AUC",
    "cb_auc": "cross-boundary AUC",
    "auc_degree_matched": "AUC vs degree-matched negatives",
    "mrr": "MRR",
}


@dataclass
class Method:
    """A scorer: ``pairs(idx) -> scores`` and ``rows(queries, candidates) -> matrix``."""

    pairs: Callable[[np.ndarray], np.ndarray]
    rows: Callable[[np.ndarray, np.ndarray], np.ndarray]


def build_methods(model: CAL, split: Split) -> dict[str, Method]:
    """CAL plus the shortcut baselines, all seeing only the training graph."""
    Z, E = model.association_, model.embedding_
    kind, lam = model.config.score, model.config.blend_lambda
    n = split.n_entities
    deg = training_degree(split.train_idx, n).astype(np.float64)
    methods = {
        "cal": Method(
            lambda idx: pair_scores(Z, E, idx, kind, lam),
            lambda q, c: score_rows(Z, E, q, c, kind, lam),
        ),
        "cosine": Method(
            lambda idx: pair_scores(Z, E, idx, "cosine"),
            lambda q, c: score_rows(Z, E, q, c, "cosine"),
        ),
        "degree": Method(
            lambda idx: degree_product_score(deg, idx),
            lambda q, c: np.outer(deg[q], deg[c]),
        ),
    }
    if split.protocol != "node":  # held-out entities have no training neighbours
        tr = split.train_idx
        methods["adamic_adar"] = Method(
            lambda idx: adamic_adar_score(tr, n, idx),
            lambda q, c: adamic_adar_rows(tr, n, q)[:, c],
        )
    return methods


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
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    model: CAL | None = field(default=None, repr=False)
    scores: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def transductive(self) -> bool:
        """True for the paper's train-on-test protocol."""
        return self.protocol == "transductive"

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
            "methods": self.methods,
            "validation": self.validation,
            "warnings": self.warnings,
            "config": self.config,
            "data": self.data,
            "versions": self.versions,
            "timings": self.timings,
        }
        if self.transductive:
            out["note"] = TRANSDUCTIVE_NOTE
        return out

    def save(self, out: str | Path, *, force: bool = False, save_model: bool = True) -> Path:
        """Write metrics.json, test_scores.csv.gz and (optionally) the model into ``out``."""
        with atomic_dir(out, force=force) as tmp:
            write_json_atomic(tmp / "metrics.json", self.to_dict())
            if self.scores is not None:
                self.scores.to_csv(tmp / "test_scores.csv.gz", index=False)
            if save_model and self.model is not None:
                self.model.save(tmp / "model", force=True)
        return Path(out)


def _binary_block(
    y: np.ndarray, s: np.ndarray, n_boot: int, seed: int
) -> tuple[float, list[float], float]:
    lo, hi = bootstrap_auc_ci(y, s, n_boot=n_boot, seed=seed)
    return roc_auc(y, s), [lo, hi], average_precision(y, s)


def _known_matrix(known_idx: np.ndarray, n: int) -> sp.csr_matrix:
    rows = np.concatenate([known_idx[:, 0], known_idx[:, 1], np.arange(n)])
    cols = np.concatenate([known_idx[:, 1], known_idx[:, 0], np.arange(n)])
    return sp.csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))


def ranking_metrics(
    method: Method,
    positives: np.ndarray,
    candidates: np.ndarray,
    known: sp.csr_matrix,
    block: int = 1024,
) -> dict[str, float]:
    """Filtered ranking of each held-out partner among all candidates, both orientations."""
    queries = np.concatenate([positives, positives[:, ::-1]])
    col_of = np.full(known.shape[0], -1, dtype=np.int64)
    col_of[candidates] = np.arange(len(candidates))
    ranks = []
    for s in range(0, len(queries), block):
        qb = queries[s : s + block]
        uq, inv = np.unique(qb[:, 0], return_inverse=True)
        scores = np.asarray(method.rows(uq, candidates), dtype=np.float64)[inv]
        coo = known[qb[:, 0]].tocoo()
        cols = col_of[coo.col]
        keep = cols >= 0
        ranks.append(
            target_ranks(scores, col_of[qb[:, 1]], coo.row[keep].astype(np.int64), cols[keep])
        )
    return ranking_summary(np.concatenate(ranks) if ranks else np.zeros(0))


def score_sets(
    methods: dict[str, Method],
    positives: np.ndarray,
    negatives: np.ndarray,
    dm_negatives: np.ndarray,
    cosine_of: Callable[[np.ndarray], np.ndarray],
    cb_threshold: float,
    candidates: np.ndarray,
    known: sp.csr_matrix,
    n_boot: int,
    seed: int,
    rank: bool = True,
) -> tuple[dict[str, dict[str, Any]], pd.DataFrame]:
    """Every metric for every method on one positive set; also the per-pair score table."""
    sets = np.concatenate([positives, negatives, dm_negatives])
    label = np.r_[np.ones(len(positives)), np.zeros(len(negatives) + len(dm_negatives))]
    kind = np.r_[
        np.repeat("positive", len(positives)),
        np.repeat("negative", len(negatives)),
        np.repeat("degree_matched_negative", len(dm_negatives)),
    ]
    cos = cosine_of(sets)
    table = pd.DataFrame(
        {"a": sets[:, 0], "b": sets[:, 1], "set": kind, "label": label, "cosine": cos}
    )
    uni = kind != "degree_matched_negative"
    dmm = kind != "negative"
    cb = uni & (np.abs(cos) < cb_threshold)
    results: dict[str, dict[str, Any]] = {}
    for name, method in methods.items():
        s = np.asarray(method.pairs(sets), dtype=np.float64)
        table[name] = s
        auc, ci, ap = _binary_block(label[uni], s[uni], n_boot, seed)
        cb_pos = int(label[cb].sum())
        entry: dict[str, Any] = {
            "auc": auc,
            "auc_ci": ci,
            "ap": ap,
            "cb_auc": roc_auc(label[cb], s[cb]),
            "cb_n_pos": cb_pos,
            "cb_n_neg": int(cb.sum() - cb_pos),
            "auc_degree_matched": roc_auc(label[dmm], s[dmm]) if len(dm_negatives) else None,
        }
        if rank:
            entry.update(ranking_metrics(method, positives, candidates, known))
        results[name] = entry
    return results, table


def shortcut_warnings(methods: dict[str, dict[str, Any]], where: str = "") -> list[str]:
    """One line per headline metric on which a shortcut baseline beats CAL."""
    out = []
    cal = methods.get("cal", {})
    for key, label in HEADLINE_METRICS.items():
        c = cal.get(key)
        if c is None or not np.isfinite(c):
            continue
        best = max(
            (
                (m, v[key])
                for m, v in methods.items()
                if m != "cal" and v.get(key) is not None and np.isfinite(v[key])
            ),
            key=lambda t: t[1],
            default=None,
        )
        if best and best[1] > c:
            out.append(
                f"SHORTCUT WINS{where}: {best[0]} beats CAL on {label} ({best[1]:.3f} vs {c:.3f})"
            )
    return out


def evaluate(
    embeddings: EmbeddingsLike | np.ndarray,
    pairs: PairsLike,
    *,
    protocol: str = "edge",
    preset: str = "paper",
    test_fraction: float = 0.3,
    seed: int = 42,
    cb_threshold: float = 0.2,
    negative_ratio: int = 5,
    max_negatives: int = 50_000,
    validate_with: Sequence[Pairs] = (),
    n_boot: int = 1000,
    rank: bool = True,
    min_mapped: float = 0.5,
    progress: Callable[[int, int, float], None] | None = None,
    **train_options: Any,
) -> EvaluationResult:
    """Fit CAL on the protocol's training pairs and score it beside cosine, degree, Adamic-Adar.

    ``train_options`` override fields of the preset (``epochs``, ``negatives``, ``pca``...).
    ``min_mapped``: smallest fraction of pairs that must map onto the table (else an error).
    """
    t0 = time.perf_counter()
    emb: Embeddings = as_embeddings(embeddings)
    mapped: MappedPairs = as_mapped_pairs(pairs, emb, min_mapped)
    n = len(emb)
    split = make_split(mapped.idx, n, protocol, test_fraction, seed)
    if len(split.train_idx) < 2 or len(split.test_idx) < 1:
        raise ValueError(f"{protocol} split left too few pairs (train {len(split.train_idx)})")
    model = CAL(preset, random_state=seed, **train_options)
    train_pairs = MappedPairs(split.train_idx, n, mapped.stats)
    model.fit(emb, train_pairs, progress=progress)
    model.sources_["pairs"] = {
        "path": getattr(pairs, "source", ""),
        "sha256": getattr(pairs, "sha256", None),
    }
    t_fit = time.perf_counter() - t0

    rng = np.random.default_rng(seed + 7)
    all_keys = np.unique(pair_keys(mapped.idx, n))
    held = split.heldout_mask() if protocol == "node" else None
    n_neg = min(negative_ratio * len(split.test_idx), max_negatives)
    negatives = sample_uniform_negatives(n_neg, split.universe, all_keys, n, rng, held)
    deg = training_degree(split.train_idx, n)
    dm_neg = sample_degree_matched_negatives(
        split.test_idx, negative_ratio, split.universe, deg, all_keys, n, rng, held, max_negatives
    )
    methods = build_methods(model, split)
    E = model.embedding_

    def cosine_of(idx: np.ndarray) -> np.ndarray:
        return pair_scores(E, E, idx, "cosine")

    known = _known_matrix(mapped.idx, n)
    results, table = score_sets(
        methods,
        split.test_idx,
        negatives,
        dm_neg,
        cosine_of,
        cb_threshold,
        split.universe,
        known,
        n_boot,
        seed,
        rank,
    )
    table.insert(2, "degree_a", deg[table["a"]])
    table.insert(3, "degree_b", deg[table["b"]])
    table["a"] = emb.names[table["a"].to_numpy()]
    table["b"] = emb.names[table["b"].to_numpy()]
    warnings = shortcut_warnings(results)

    validation: dict[str, dict[str, Any]] = {}
    train_keys = pair_keys(split.train_idx, n)
    for vp in validate_with:
        stem = Path(vp.source).name.split(".")[0] if vp.source else f"validation{len(validation)}"
        vm = as_mapped_pairs(vp, emb, min_mapped)
        vpos = vm.idx[~np.isin(pair_keys(vm.idx, n), train_keys)]
        known_v = np.union1d(all_keys, pair_keys(vm.idx, n))
        v_univ = np.unique(vm.idx)
        v_neg = sample_uniform_negatives(
            min(negative_ratio * len(vpos), max_negatives), v_univ, known_v, n, rng
        )
        v_dm = sample_degree_matched_negatives(
            vpos, negative_ratio, v_univ, deg, known_v, n, rng, None, max_negatives
        )
        known_vm = _known_matrix(np.concatenate([mapped.idx, vm.idx]), n)
        v_res, _ = score_sets(
            methods,
            vpos,
            v_neg,
            v_dm,
            cosine_of,
            cb_threshold,
            v_univ,
            known_vm,
            n_boot,
            seed,
            rank,
        )
        validation[stem] = {
            "n_pairs": int(len(vpos)),
            "n_mapped": int(len(vm)),
            "n_negatives": int(len(v_neg)),
            "methods": v_res,
        }
        warnings += shortcut_warnings(v_res, f" on {stem}")

    return EvaluationResult(
        protocol=protocol,
        seed=seed,
        n_entities=int(len(split.universe)),
        n_train_pairs=int(len(split.train_idx)),
        n_test_pairs=int(len(split.test_idx)),
        n_negatives=int(len(negatives)),
        n_negatives_degree_matched=int(len(dm_neg)),
        cb_threshold=cb_threshold,
        methods=results,
        validation=validation,
        warnings=warnings,
        config={
            "preset": model.preset,
            "train": model.config.to_dict(),
            "test_fraction": test_fraction,
            "negative_ratio": negative_ratio,
            "max_negatives": max_negatives,
            "n_boot": n_boot,
        },
        data={
            "embeddings": model.sources_["embeddings"],
            "pairs": model.sources_["pairs"],
            "mapping": mapped.stats,
            "n_table_rows": n,
            "n_heldout_entities": 0 if split.heldout is None else int(len(split.heldout)),
            "synthetic": emb.source == "synthetic",
        },
        versions=versions(),
        timings={"fit_seconds": t_fit, "total_seconds": time.perf_counter() - t0},
        model=model,
        scores=table,
    )


def versions() -> dict[str, str]:
    """Versions of calbio and its numerical stack."""
    import sklearn
    import torch

    return {
        "calbio": calbio.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
    }
