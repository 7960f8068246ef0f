"""Degree dependence: Spearman ρ, quintile table and top-lift pairs from held-out scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calbio.analysis.degree import (
    degree_analysis,
    degree_report,
    load_run_scores,
    scores_from_model,
)
from calbio.core.errors import CalbioInputError
from calbio.core.graph import pair_keys
from calbio.data.synthetic import make_synthetic
from calbio.evaluation.protocol import evaluate

TINY = {"hidden": 32, "epochs": 3, "batch_size": 128, "threads": 1}


def _table(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_pos, n_neg, n_dm = 300, 300, 300
    n = n_pos + n_neg + n_dm
    da, db = rng.integers(0, 50, n), rng.integers(0, 50, n)
    cos = rng.uniform(-0.3, 0.3, n)
    return pd.DataFrame(
        {
            "a": [f"A{i}" for i in range(n)],
            "b": [f"B{i}" for i in range(n)],
            "degree_a": da,
            "degree_b": db,
            "set": ["positive"] * n_pos + ["negative"] * n_neg + ["degree_matched_negative"] * n_dm,
            "label": np.r_[np.ones(n_pos), np.zeros(n_neg + n_dm)],
            "cosine": cos,
            "cal": (da + db) / 100.0,  # association = pair degree exactly
        }
    )


def test_spearman_quintiles_and_top_lift():
    df = _table()
    res = degree_analysis(df, cb_threshold=0.2)
    pos = res["spearman"]["held-out positives"]
    assert pos["cal"][0] == pytest.approx(1.0)
    assert abs(pos["cosine"][0]) < 0.2
    assert pos["n"] == 300
    q = res["quantiles"]
    assert len(q) == 5
    cb_pos = df[(df.set == "positive") & (df.cosine.abs() < 0.2)]
    assert sum(r["n_pairs"] for r in q) == len(cb_pos)
    assert [r["degree_min"] for r in q] == sorted(r["degree_min"] for r in q)
    assert q[-1]["mean_association"] > q[0]["mean_association"]
    lifts = [r["lift"] for r in res["top_lift"]]
    assert lifts == sorted(lifts, reverse=True) and len(lifts) == 20
    pos_names = set(df.a[df.set == "positive"])
    assert all(r["a"] in pos_names for r in res["top_lift"])


def test_report_aggregates_seeds():
    rep = degree_report([_table(0), _table(1)], n_top=5)
    t_rho, t_q, t_top = rep["tables"]
    assert rep["n_seeds"] == 2
    assert t_rho["rows"][0][3].startswith("1.000 ±")
    assert len(t_q["rows"]) == 5 and len(t_top["rows"]) == 5


def test_from_evaluate_run_and_model(tmp_path):
    syn = make_synthetic(n_entities=200, dim=16, n_pairs=900, seed=4)
    ev = evaluate(syn.embeddings, syn.pairs, n_boot=5, rank=False, **TINY)
    ev.save(tmp_path / "run")
    runs = load_run_scores(tmp_path / "run")
    assert len(runs) == 1 and runs[0][0]["protocol"] == "edge"
    rep = degree_report([runs[0][1]])
    assert rep["per_seed"][0]["spearman"]["held-out positives"]["n"] == ev.n_test_pairs
    # model directory + pairs: training pairs are excluded
    df = scores_from_model(ev.model, syn.pairs)
    n = len(syn.embeddings)
    idx = np.stack(
        [
            df.a.map(syn.embeddings.index).to_numpy(),
            df.b.map(syn.embeddings.index).to_numpy(),
        ],
        1,
    )
    assert not np.isin(pair_keys(idx, n), pair_keys(ev.model.train_pairs_, n)).any()
    assert len(df) == ev.n_test_pairs
    with pytest.raises(CalbioInputError, match="not an evaluation run"):
        load_run_scores(tmp_path)
