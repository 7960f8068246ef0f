"""Paired verdicts: one bootstrap shared by all methods, CIs on differences (issue 17 §2)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

import calbio
from calbio.evaluation.scoring import ScoredSet
from calbio.evaluation.verdicts import paired_difference_ci, paired_verdicts
from calbio.report.text import verdict_sentence

VERDICT_KEYS = {
    "model", "metric", "label", "where", "against", "against_kind", "model_value",
    "against_value", "diff", "diff_ci", "verdict",
}  # fmt: skip


def _correlated_scores(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Two scorers of the same labels; the second adds noise to the first (correlated)."""
    y = np.r_[np.ones(n), np.zeros(n)].astype(bool)
    s1 = rng.standard_normal(2 * n) + y  # AUC = Phi(1 / sqrt 2)
    s2 = s1 + 0.5 * rng.standard_normal(2 * n)  # AUC = Phi(1 / sqrt(2 * 1.25))
    return y, s1, s2


TRUE_DIFF = norm.cdf(1 / np.sqrt(2)) - norm.cdf(1 / np.sqrt(2.5))


def test_paired_difference_ci_covers_the_true_difference() -> None:
    rng = np.random.default_rng(0)
    covered = 0
    for rep in range(30):
        y, s1, s2 = _correlated_scores(rng, 600)
        _, (lo, hi) = paired_difference_ci(y, s1, s2, n_boot=300, seed=rep)
        covered += lo <= TRUE_DIFF <= hi
    assert covered >= 25  # nominal 95%: 28.5 of 30 expected


def test_paired_ci_is_narrower_than_unpaired_for_correlated_methods() -> None:
    y, s1, s2 = _correlated_scores(np.random.default_rng(1), 2000)
    d, (lo, hi) = paired_difference_ci(y, s1, s2, n_boot=400, seed=0)
    d_u, (lo_u, hi_u) = paired_difference_ci(y, s1, s2, n_boot=400, seed=0, paired=False)
    assert d == pytest.approx(d_u)
    assert lo <= TRUE_DIFF <= hi
    assert (hi - lo) < 0.5 * (hi_u - lo_u)
    assert lo > 0  # paired: the noisier scorer is detectably worse


def _scored_set(y: np.ndarray, scores: dict[str, np.ndarray], ranks: dict) -> ScoredSet:
    everything = np.ones(len(y), dtype=bool)
    return ScoredSet(None, y.astype(float), everything, everything, everything, scores, ranks)


def test_paired_verdicts_schema_and_outcomes() -> None:
    y, s1, s2 = _correlated_scores(np.random.default_rng(2), 1500)
    ranks = {
        "good": np.full(100, 2.0),
        "bad": np.full(100, 4.0),
        "short": np.full(100, 3.0),
        "short2": np.full(100, 5.0),
    }
    # "short" is "good" shifted by a constant: identical AUC, a tie with a zero-width CI
    scores = {"good": s1, "bad": s2, "short": s1 + 3.0, "short2": -s1}
    from calbio.core.metrics import roc_auc

    methods = {
        m: {"auc": roc_auc(y, s), "mrr": float(np.mean(1 / ranks[m]))} for m, s in scores.items()
    }
    sc = _scored_set(y, scores, ranks)
    v = paired_verdicts(sc, methods, ["good", "bad"], "test", n_boot=200, seed=0)
    assert all(set(x) == VERDICT_KEYS for x in v)
    got = {(x["model"], x["metric"], x["against"]): x for x in v}
    # the best shortcut is chosen by point value; each model also meets the best other model
    assert set(got) == {
        (m, k, r)
        for k in ("auc", "mrr")
        for m, r in (("good", "short"), ("good", "bad"), ("bad", "short"), ("bad", "good"))
    }
    tie = got[("good", "auc", "short")]
    assert tie["verdict"] == "ties" and tie["diff_ci"] == [0.0, 0.0]
    assert got[("good", "auc", "bad")]["verdict"] == "wins"
    lose = got[("bad", "auc", "good")]
    assert lose["verdict"] == "loses" and lose["diff"] < 0 and lose["diff_ci"][1] < 0
    assert lose["against_kind"] == "model" and got[("bad", "auc", "short")]["against_kind"] == (
        "shortcut"
    )
    assert got[("good", "mrr", "short")]["verdict"] == "wins"  # 1/2 > 1/3 on every query
    assert verdict_sentence(lose).startswith("bad loses to good on AUC by ")


def test_evaluate_gives_every_model_a_verdict_against_a_shortcut_and_a_model(
    synthetic, tiny
) -> None:
    r = calbio.evaluate(
        synthetic.embeddings, synthetic.pairs, model=["cal", "sage"], n_boot=50, **tiny
    )
    d = r.to_dict()
    for m in ("cal", "sage"):
        for metric in ("auc", "cb_auc", "auc_degree_matched", "mrr"):
            kinds = {
                v["against_kind"]
                for v in d["verdicts"]
                if v["model"] == m and v["metric"] == metric and v["where"] == "test"
            }
            assert kinds == {"shortcut", "model"}, (m, metric)
    for v in d["verdicts"]:
        assert set(v) == VERDICT_KEYS
        lo, hi = v["diff_ci"]
        assert v["verdict"] == ("wins" if lo > 0 else "loses" if hi < 0 else "ties")
        assert v["diff"] == pytest.approx(v["model_value"] - v["against_value"])
    losing = [v for v in d["verdicts"] if v["verdict"] == "loses"]
    assert len(d["warnings"]) == sum(v["against_kind"] == "shortcut" for v in losing)


def test_verdicts_over_seeds_count_each_seeds_paired_verdict() -> None:
    """A loss in one seed of three is reported with its count, not averaged away; ties with a
    shortcut ahead on average are reported; wins and a model's ties with a model are not."""
    from _helpers import verdict
    from calbio.evaluation.verdicts import verdicts_over_seeds

    seeds = [
        [
            verdict("cal", "degree", "shortcut", -0.03, (-0.05, -0.01)),
            verdict("cal", "sage", "model", 0.02, (0.01, 0.03)),
        ],
        [
            verdict("cal", "degree", "shortcut", 0.01, (-0.01, 0.03)),
            verdict("cal", "sage", "model", 0.0, (-0.01, 0.01)),
        ],
        [
            verdict("cal", "degree", "shortcut", 0.005, (-0.01, 0.02)),
            verdict("hybrid", "cal", "model", -0.02, (-0.03, -0.01), where="reactome"),
        ],
    ]
    lines = verdicts_over_seeds(seeds)
    assert len(lines) == 2, lines
    assert lines[0].startswith("SHORTCUT WINS: degree beats cal on AUC")
    assert "loses in 1, ties in 2 of 3 seeds" in lines[0] and "mean difference -0.005" in lines[0]
    assert lines[1].startswith("hybrid loses to cal on AUC on reactome")
    assert "loses in 1, ties in 0 of 3 seeds" in lines[1]
    tie = verdicts_over_seeds([[verdict("cal", "adamic_adar", "shortcut", -0.002, (-0.01, 0.01))]])
    assert tie and tie[0].startswith("shortcut ties: adamic_adar matches cal")
    assert "of 1 seed;" in tie[0]
