"""Sweeps: thresholds (Tables 1-3), λ chosen on validation (11-12), CB sensitivity (13)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calbio.analysis.sweep import (
    cb_sensitivity,
    filter_pairs,
    lambda_sweep,
    threshold_sweep,
)
from calbio.core.errors import CalbioInputError
from calbio.core.metrics import roc_auc
from calbio.data.pairs import pairs_from_frame
from calbio.data.synthetic import make_synthetic
from calbio.evaluation.protocol import evaluate

TINY = {"hidden": 32, "epochs": 3, "batch_size": 128, "threads": 1}


@pytest.fixture(scope="module")
def world():
    syn = make_synthetic(n_entities=200, dim=16, n_pairs=900, seed=3)
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "a": syn.pairs.a,
            "b": syn.pairs.b,
            "combined_score": rng.integers(400, 1000, len(syn.pairs)),
            "experimental": rng.integers(0, 1000, len(syn.pairs)),
        }
    )
    return syn, pairs_from_frame(df), df


def test_threshold_sweep_counts_and_tables(world):
    syn, prs, df = world
    res = threshold_sweep(
        syn.embeddings,
        prs,
        values=[500, 800, 999],
        channels=[{"experimental": 700}],
        min_mapped=0.0,
        n_boot=5,
        **TINY,
    )
    rows = res["rows"]
    assert [r["filter"] for r in rows] == [
        "combined_score >= 500",
        "combined_score >= 800",
        "combined_score >= 999",
        "experimental >= 700",
    ]
    assert rows[0]["n_pairs"] == int((df.combined_score >= 500).sum())
    assert rows[3]["n_pairs"] == int((df.experimental >= 700).sum())
    assert rows[2].get("skipped") == "too few pairs"  # a handful at >= 999
    assert 0 <= rows[0]["cb_fraction"] <= 1 and 0 <= rows[0]["fraction_cos_gt_0.5"] <= 1
    t1, t2 = res["tables"]
    assert len(t1["rows"]) == len(t2["rows"]) == 4
    assert t2["rows"][2][1] == "too few pairs"
    # each threshold is a core `evaluate` run: same numbers as calling it directly
    ev = evaluate(
        syn.embeddings,
        filter_pairs(prs, {"combined_score": 800}),
        n_boot=5,
        rank=False,
        min_mapped=0.0,
        **TINY,
    )
    assert rows[1]["per_seed"][0]["cal"]["auc"] == pytest.approx(ev.methods["cal"]["auc"])


def test_filter_pairs_missing_column(world):
    _, prs, _ = world
    with pytest.raises(CalbioInputError, match="textmining"):
        filter_pairs(prs, {"textmining": 1})


def test_lambda_chosen_on_validation_not_test(world):
    syn, prs, _ = world
    res = lambda_sweep(syn.embeddings, prs, lambdas=[0.0, 0.5, 1.0], seeds=(1, 2), **TINY)
    for curve, ch in zip(res["curves"], res["chosen"], strict=True):
        vals = [curve[k]["val_auc"] for k in curve]
        assert ch["lambda_validation"] == float(list(curve)[int(np.argmax(vals))])
        tests = [curve[k]["test_auc"] for k in curve]
        assert ch["lambda_test_paper"] == float(list(curve)[int(np.argmax(tests))])
        assert ch["n_validation"] == round(0.2 * (ch["n_train"] + ch["n_validation"]))
    # λ = 0 is plain cosine on the held-out test set of `evaluate` with the same seed
    ev = evaluate(syn.embeddings, prs, seed=1, n_boot=5, rank=False, **TINY)
    assert res["curves"][0]["0.00"]["test_auc"] == pytest.approx(ev.methods["cosine"]["auc"])
    curve_t, sel_t = res["tables"]
    assert len(curve_t["rows"]) == 3 and "±" in curve_t["rows"][0][3]
    assert sel_t["rows"][1][0].startswith("λ chosen on test (paper's procedure")


def test_cb_sensitivity_on_known_scores():
    rng = np.random.default_rng(0)
    n = 400
    label = np.r_[np.ones(100), np.zeros(300)]
    cos = rng.uniform(-0.5, 0.5, n)
    df = pd.DataFrame(
        {
            "set": np.r_[["positive"] * 100, ["negative"] * 250, ["degree_matched_negative"] * 50],
            "label": label,
            "cosine": cos,
            "cal": label + 0.01 * rng.normal(size=n),  # separates perfectly
            "degree": rng.normal(size=n),
        }
    )
    res = cb_sensitivity([df, df], thresholds=(0.3, 0.1))
    rec = res["per_seed"][0]["0.1"]
    uni = df["set"] != "degree_matched_negative"
    cb = uni & (df.cosine.abs() < 0.1)
    assert rec["n_pos"] == int(df.label[cb].sum())
    assert rec["n_neg"] == int((cb & (df.label == 0)).sum())
    assert rec["cal"] == 1.0
    assert rec["cosine"] == pytest.approx(roc_auc(df.label[cb], df.cosine[cb]))
    row = res["tables"][0]["rows"][1]
    assert row[0] == "|cos| < 0.1" and "±" in row[3]  # two "seeds" -> mean ± SD
