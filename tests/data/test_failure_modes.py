"""The paper's two failure modes, flagged by doctor and ablate on worlds built to show each."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calbio.analysis.ablation import ablate, failure_modes
from calbio.analysis.doctor import run_doctor
from calbio.data.embeddings import embeddings_from_array
from calbio.data.matching import map_pairs
from calbio.data.pairs import pairs_from_frame
from calbio.data.synthetic import make_synthetic

QUICK = {"hidden": 64, "epochs": 15, "batch_size": 128}
N = 300


def _flags(report):
    return {m["mode"]: m["flagged"] for m in report["failure_modes"]}


def _random_table(seed=0, n=N, d=16):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), [f"G{i}" for i in range(n)]


def similarity_world():
    """Pairs are each entity's 3 nearest cosine neighbours: nothing latent to learn."""
    X, names = _random_table()
    E = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = E @ E.T
    np.fill_diagonal(S, -np.inf)
    nn = np.argsort(-S, axis=1)[:, :3]
    df = pd.DataFrame({"a": np.repeat(names, 3), "b": np.array(names)[nn.ravel()]})
    return embeddings_from_array(X, names), pairs_from_frame(df)


def degree_world():
    """Endpoints drawn by a heavy-tailed popularity, independent of the embedding."""
    X, names = _random_table(1)
    rng = np.random.default_rng(1)
    w = rng.pareto(1.2, size=N) + 0.05
    w /= w.sum()
    a, b = rng.choice(N, size=2000, p=w), rng.choice(N, size=2000, p=w)
    df = pd.DataFrame({"a": np.array(names)[a], "b": np.array(names)[b]})
    return embeddings_from_array(X, names), pairs_from_frame(df)


def test_rules_from_numbers():
    m = failure_modes(0.80, (0.76, 0.84), 0.77, shuffled_auc=0.60)
    assert [x["flagged"] for x in m] == [True, False]  # cosine inside CAL's CI
    m = failure_modes(0.80, (0.78, 0.82), 0.70, similarity="Tanimoto", shuffled_auc=0.79)
    assert [x["flagged"] for x in m] == [False, True] and "Tanimoto" in m[0]["detail"]
    m = failure_modes(0.80, None, None)
    assert [x["flagged"] for x in m] == [None, None]


def test_doctor_flags_no_latent_signal():
    emb, prs = similarity_world()
    rep = run_doctor(emb, prs, quick_training=QUICK, threads=1)
    assert _flags(rep) == {"no_latent_signal": True, "degree_confounding": False}
    check = next(c for c in rep["checks"] if c["check"] == "no_latent_signal")
    assert check["verdict"] == "problem"
    assert "no latent signal" in rep["tables"][0]["notes"][0]


def test_doctor_flags_degree_confounding():
    emb, prs = degree_world()
    rep = run_doctor(emb, prs, quick_training=QUICK, threads=1)
    assert _flags(rep)["degree_confounding"] is True
    assert next(c for c in rep["checks"] if c["check"] == "shuffled")["verdict"] == "problem"


def test_doctor_flags_nothing_when_cal_learns_a_hidden_map():
    syn = make_synthetic(n_entities=N, dim=16, n_pairs=1500, seed=0)
    rep = run_doctor(syn.embeddings, syn.pairs, quick_training=QUICK, threads=1)
    assert _flags(rep) == {"no_latent_signal": False, "degree_confounding": False}


def test_ablate_reports_failure_modes_and_tanimoto_for_fingerprints():
    """Binary fingerprints whose pairs share bits: Tanimoto is the baseline CAL must beat."""
    rng = np.random.default_rng(4)
    n, d = 200, 64
    X = (rng.random((n, d)) < 0.15).astype(np.float32)
    names = [f"D{i}" for i in range(n)]
    S = X @ X.T / np.maximum(X.sum(1)[:, None] + X.sum(1)[None, :] - X @ X.T, 1)
    np.fill_diagonal(S, -1)
    nn = np.argsort(-S, axis=1)[:, :3]
    df = pd.DataFrame({"a": np.repeat(names, 3), "b": np.array(names)[nn.ravel()]})
    emb = embeddings_from_array(X, names)
    res = ablate(
        emb,
        map_pairs(pairs_from_frame(df), emb),
        conditions=("full", "shuffled"),
        threads=1,
        **QUICK,
    )
    assert "tanimoto" in res["baselines"]
    assert res["baselines"]["tanimoto"][0]["auc"] > 0.9
    modes = {m["mode"]: m for m in res["failure_modes"]}
    assert modes["no_latent_signal"]["flagged"] is True
    assert "Tanimoto" in modes["no_latent_signal"]["detail"]
    notes = " ".join(res["tables"][0]["notes"])
    assert "'no latent signal': FLAGGED" in notes
    assert any(r[0] == "baseline: tanimoto" for r in res["tables"][0]["rows"])


@pytest.mark.parametrize("world", [similarity_world, degree_world])
def test_worlds_are_what_they_claim(world):
    """Sanity of the fixtures: similarity world has cosine ~1, degree world has cosine ~0.5."""
    emb, prs = world()
    rep = run_doctor(emb, prs, train_check=False)
    auc = next(c for c in rep["checks"] if c["check"] == "independence")["value"]
    assert auc > 0.95 if world is similarity_world else abs(auc - 0.5) < 0.05
