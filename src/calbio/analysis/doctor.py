"""``doctor``: the paper's deployment checklist (its section 8.3), measured on the user's data.

Each check returns a verdict (ok / warning / problem / info), the measured number and a concrete
recommendation. The quick shuffled ablation trains with reduced settings and says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from calbio.analysis.ablation import (
    FAILURE_MODES,
    HeldOut,
    failure_modes,
    fit_on,
    prepare_heldout,
    preprocessed,
    shuffled_pairs,
    similarity_baseline,
)
from calbio.analysis.tables import table
from calbio.core.graph import known_keys, sample_uniform_negatives
from calbio.core.metrics import roc_auc
from calbio.core.seeds import DEFAULT_SEED, stream
from calbio.data.coerce import as_mapped_pairs
from calbio.data.types import Embeddings, MappedPairs, Pairs
from calbio.models.graph.heuristics import degree_product_score, training_degree
from calbio.scoring import pair_scores

if TYPE_CHECKING:
    from calbio.data.identifiers import IdTablesLike

VERDICTS = ("ok", "info", "warning", "problem")
QUICK_TRAINING = {"hidden": 256, "epochs": 10, "threads": 1}
THRESHOLDS = (400, 700, 900)
EXPERIMENTAL_COLUMNS = ("experimental", "experiments", "escore")


def _check(
    key: str, name: str, verdict: str, value: Any, detail: str, recommendation: str
) -> dict[str, Any]:
    return {
        "check": key,
        "name": name,
        "verdict": verdict,
        "value": value,
        "detail": detail,
        "recommendation": recommendation,
    }


def text_histogram(values: np.ndarray, bins: int = 10, width: int = 40) -> str:
    """A plain-text histogram of cosines over [-1, 1]."""
    counts, edges = np.histogram(np.clip(values, -1, 1), bins=bins, range=(-1.0, 1.0))
    top = max(int(counts.max()), 1)
    lines = []
    for c, lo, hi in zip(counts, edges[:-1], edges[1:], strict=True):
        bar = "#" * int(round(width * c / top))
        lines.append(f"[{lo:+.1f}, {hi:+.1f}) {int(c):>7,} {bar}")
    return "\n".join(lines)


def _evidence_check(pairs: Pairs | None, emb: Embeddings, min_mapped: float) -> dict[str, Any]:
    name = "Quality vs quantity (evidence thresholds)"
    ev = None if pairs is None else pairs.evidence
    if ev is None or ev.empty:
        return _check(
            "evidence",
            name,
            "info",
            None,
            "the pairs file has no numeric evidence/score columns",
            "nothing to tune; if your source has confidence scores, keep them in the file",
        )
    mapped_rows = _mapped_rows(pairs, emb)
    counts: dict[str, dict[str, int]] = {}
    score_col = next((c for c in ev.columns if str(c).lower() == "combined_score"), None)
    cols = [c for c in ev.columns if str(c).lower() in EXPERIMENTAL_COLUMNS]
    if score_col is None:
        scale = [c for c in ev.columns if ev[c].max() > 1 and ev[c].max() <= 1000]
        score_col = scale[0] if scale else ev.columns[0]
    for col in [score_col, *cols]:
        v = ev[col].to_numpy(np.float64)
        counts[str(col)] = {f">={t}": int(np.sum((v >= t) & mapped_rows)) for t in THRESHOLDS}
    enough = 2000
    main = counts[str(score_col)]
    tight = [t for t in THRESHOLDS if main[f">={t}"] >= enough]
    detail = "; ".join(
        f"{c}: " + ", ".join(f"{k} {v:,}" for k, v in d.items()) for c, d in counts.items()
    )
    if tight:
        rec = (
            f"use {score_col} >= {max(tight)} (tightest threshold keeping >= {enough:,} mapped "
            "pairs): the paper found quality beats quantity"
        )
        verdict = "ok"
    else:
        rec = f"no threshold keeps {enough:,} mapped pairs; expect noisy estimates"
        verdict = "warning"
    return _check("evidence", name, verdict, counts, "mapped pairs at thresholds: " + detail, rec)


def _mapped_rows(pairs: Pairs, emb: Embeddings) -> np.ndarray:
    """Rows of ``pairs`` whose two identifiers are both in the table (exact match)."""
    names = np.asarray(emb.names).astype(str)
    return np.isin(pairs.a.astype(str), names) & np.isin(pairs.b.astype(str), names)


def run_doctor(
    embeddings: Embeddings,
    pairs: Pairs | MappedPairs,
    *,
    pca: int | None = None,
    seed: int = DEFAULT_SEED,
    min_mapped: float | None = None,
    id_tables: IdTablesLike = None,
    train_check: bool = True,
    quick_training: dict[str, Any] | None = None,
    threads: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every check; returns the JSON-ready report (``checks`` plus ``tables``).

    ``id_tables``: an ``IdResolver`` (or tables folder) converting pair identifiers.
    """
    t0 = time.perf_counter()
    emb = embeddings
    mapped = as_mapped_pairs(pairs, emb, min_mapped, id_tables)
    n, idx = len(emb), mapped.idx
    E = preprocessed(emb, pca, seed)
    universe = np.unique(idx)
    pos_cos = pair_scores(E, E, idx, "cosine")
    checks = [
        _independence_check(emb, E, idx, universe, pos_cos, seed),
        _positive_cosine_check(pos_cos),
        _ratio_check(idx, n, universe),
    ]
    held = prepare_heldout(idx, n, "edge", 0.3, seed)
    checks.append(_degree_shortcut_check(held, n))
    checks.append(_evidence_check(pairs if isinstance(pairs, Pairs) else None, emb, min_mapped))
    quick = dict(QUICK_TRAINING if quick_training is None else quick_training)
    quick["threads"] = threads or quick.get("threads") or 1  # one thread: fastest for tiny nets
    modes: list[dict[str, Any]] = []
    if train_check:
        if log:
            log("doctor: quick reference and shuffled training")
        training_checks, modes = _failure_mode_checks(emb, held, quick, pca, seed)
        checks.extend(training_checks)
    order = {v: i for i, v in enumerate(VERDICTS)}
    worst = max((c["verdict"] for c in checks), key=lambda v: order[v])
    report = {
        "kind": "doctor",
        "n_entities": int(len(universe)),
        "n_pairs": int(len(idx)),
        "mapping": mapped.stats,
        "overall": worst,
        "checks": checks,
        "positive_cosine_histogram": text_histogram(pos_cos),
        "quick_training": quick if train_check else None,
        "failure_modes": modes,
        "seconds": time.perf_counter() - t0,
    }
    report["tables"] = [doctor_table(report)]
    return report


def _independence_check(
    emb: Embeddings,
    E: np.ndarray,
    idx: np.ndarray,
    universe: np.ndarray,
    pos_cos: np.ndarray,
    seed: int,
) -> dict[str, Any]:
    """How well similarity alone (cosine, Tanimoto for fingerprints) separates pairs from random."""
    n = len(emb)
    rng = stream(seed, "doctor/independence")
    keys = known_keys(idx, n)
    negs = sample_uniform_negatives(min(5 * len(idx), 200_000), universe, keys, n, rng)
    sim_name, auc = similarity_baseline(emb, idx, negs)  # Tanimoto for fingerprints
    if auc is None:
        neg_cos = pair_scores(E, E, negs, "cosine")
        y = np.r_[np.ones(len(pos_cos)), np.zeros(len(neg_cos))]
        auc = roc_auc(y, np.r_[pos_cos, neg_cos])
    return _check(
        "independence",
        f"Embedding-association independence ({sim_name} AUC)",
        "warning" if auc > 0.85 else "ok",
        auc,
        f"{sim_name} alone separates the {len(idx):,} pairs from random pairs with AUC {auc:.3f}",
        f"{sim_name} already captures most of the signal; CAL helps only at the margin; use "
        "random negatives (--negatives random)"
        if auc > 0.85
        else "the embedding leaves room for a learned association map",
    )


def _positive_cosine_check(pos_cos: np.ndarray) -> dict[str, Any]:
    """Whether positives are so similar that in-batch negatives would be near-duplicates."""
    frac = float(np.mean(pos_cos > 0.5))
    return _check(
        "positive_cosine",
        "Positive-pair cosine distribution",
        "problem" if frac > 0.5 else ("warning" if frac > 0.3 else "ok"),
        frac,
        f"{100 * frac:.1f}% of positive pairs have cosine > 0.5 (median {np.median(pos_cos):.3f})",
        "in-batch negatives will fail (the paper's DepMap failure): train with --negatives random"
        if frac > 0.5
        else "in-batch negatives are fine",
    )


def _ratio_check(idx: np.ndarray, n: int, universe: np.ndarray) -> dict[str, Any]:
    """Mean pairs per entity: dense graphs invite degree confounding."""
    deg_all = training_degree(idx, n)
    mean_deg = float(deg_all[universe].mean())
    return _check(
        "ratio",
        "Entity-to-pair ratio (mean pairs per entity)",
        "warning" if mean_deg > 50 else "ok",
        mean_deg,
        f"{len(idx):,} pairs over {len(universe):,} entities: mean {mean_deg:.1f}, max "
        f"{int(deg_all.max())} pairs per entity",
        "degree confounding likely: compare against the degree baseline and degree-matched "
        "negatives"
        if mean_deg > 50
        else "low risk of degree confounding from density alone",
    )


def _degree_shortcut_check(held: HeldOut, n: int) -> dict[str, Any]:
    """AUC of the training-degree product alone on held-out edges vs random pairs."""
    deg_tr = training_degree(held.split.train_idx, n).astype(np.float64)
    s_pos = degree_product_score(deg_tr, held.positives)
    s_neg = degree_product_score(deg_tr, held.negatives)
    dauc = roc_auc(np.r_[np.ones(len(s_pos)), np.zeros(len(s_neg))], np.r_[s_pos, s_neg])
    return _check(
        "degree_shortcut",
        "Degree shortcut (degree-product AUC, held-out edges)",
        "problem" if dauc >= 0.8 else ("warning" if dauc >= 0.65 else "ok"),
        dauc,
        f"training-degree product alone scores held-out pairs vs random pairs at AUC {dauc:.3f}",
        "a metric against random negatives can be matched by degree alone: report AUC "
        "against degree-matched negatives (calbio evaluate does)"
        if dauc >= 0.65
        else "degree alone is a weak predictor here",
    )


def _quick_reference_and_shuffled(
    emb: Embeddings, held: HeldOut, quick: dict[str, Any], pca: int | None, seed: int
) -> dict[str, dict[str, dict[str, Any]]]:
    """Held-out scores of quick CAL trained on the real and on the shuffled training pairs."""
    tr = held.split.train_idx
    scored = {}
    for label, train in (("reference", tr), ("shuffled", shuffled_pairs(tr, seed))):
        model = fit_on(emb, train, seed=seed, pca=pca, **quick)
        ref = label == "reference"
        scored[label] = held.score(
            model,
            seed=seed,
            n_boot=200 if ref else 1,  # CAL's CI decides "no latent signal"
            methods=("cal", "cosine") if ref else ("cal",),
        )
    return scored


def _failure_mode_checks(
    emb: Embeddings, held: HeldOut, quick: dict[str, Any], pca: int | None, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The paper's two failure modes (no latent signal, degree confounding) as checks."""
    scored = _quick_reference_and_shuffled(emb, held, quick, pca, seed)
    res = {label: s["cal"]["auc"] for label, s in scored.items()}
    gap = res["reference"] - res["shuffled"]
    sim_name, sim_auc = similarity_baseline(emb, held.positives, held.negatives)
    if sim_auc is None:
        sim_auc = scored["reference"]["cosine"]["auc"]
    modes = failure_modes(
        res["reference"],
        scored["reference"]["cal"].get("auc_ci"),
        sim_auc,
        similarity=sim_name,
        shuffled_auc=res["shuffled"],
    )
    latent = modes[0]
    settings = ", ".join(f"{k} {v}" for k, v in quick.items())
    confounded = gap <= 0 or modes[1]["flagged"]
    checks = [
        _check(
            "no_latent_signal",
            f"Failure mode: no latent signal (quick CAL vs {sim_name}, held-out edges)",
            "problem" if latent["flagged"] else "ok",
            {"cal_auc": res["reference"], f"{sim_name.lower()}_auc": sim_auc},
            latent["detail"],
            f"the embedding's {sim_name} similarity already explains the pairs: report "
            f"{sim_name}, or use an embedding from another source than the pairs"
            if latent["flagged"]
            else "CAL learns something beyond similarity",
        ),
        _check(
            "shuffled",
            f"Failure mode: degree confounding (shuffled ablation, quick: {settings})",
            "problem" if confounded else ("warning" if gap < 0.02 else "ok"),
            {"reference_auc": res["reference"], "shuffled_auc": res["shuffled"]},
            f"held-out AUC: reference {res['reference']:.3f}, shuffled {res['shuffled']:.3f} "
            f"(reduced training: {settings})",
            "the model learns degree structure, not associations"
            if confounded
            else (
                "shuffled pairs come close: much of the signal is degree structure"
                if gap < 0.02
                else "the model uses pair identity beyond degree"
            ),
        ),
    ]
    return checks, modes


def _fmt_value(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, dict):
        if "reference_auc" in v:
            return f"ref {v['reference_auc']:.3f} / shuf {v['shuffled_auc']:.3f}"
        if "cal_auc" in v:
            return " / ".join(f"{k[:-4]} {x:.3f}" for k, x in v.items())
        return "see detail"
    return str(v)


def doctor_table(report: dict[str, Any], checks: Sequence[dict[str, Any]] | None = None) -> dict:
    """The checklist as a table, with the positive-cosine histogram as a note."""
    rows = [
        [c["name"], c["verdict"].upper(), _fmt_value(c["value"]), c["detail"], c["recommendation"]]
        for c in (checks or report["checks"])
    ]
    flagged = [FAILURE_MODES[m["mode"]] for m in report.get("failure_modes", []) if m["flagged"]]
    notes = [
        f"{report['n_pairs']:,} pairs over {report['n_entities']:,} entities; overall verdict: "
        f"{report['overall'].upper()}."
        + (f" The paper's failure modes flagged: {', '.join(flagged)}." if flagged else ""),
        "Positive-pair cosine histogram:\n" + report["positive_cosine_histogram"],
    ]
    return table(
        "Doctor: deployment checklist (paper section 8.3)",
        ["check", "verdict", "value", "detail", "recommendation"],
        rows,
        notes,
    )
