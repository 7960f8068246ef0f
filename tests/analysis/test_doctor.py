"""Doctor: each check reacts to the data property it measures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from calbio.analysis.doctor import run_doctor, text_histogram
from calbio.core.io import to_json
from calbio.data.embeddings import embeddings_from_array
from calbio.data.pairs import pairs_from_frame
from calbio.data.synthetic import make_synthetic


def _checks(report):
    return {c["check"]: c for c in report["checks"]}


@pytest.fixture(scope="module")
def syn():
    return make_synthetic(n_entities=200, dim=16, n_pairs=900, seed=2)


def test_cross_boundary_world_passes_cosine_checks(syn):
    rep = run_doctor(syn.embeddings, syn.pairs, train_check=False)
    c = _checks(rep)
    assert c["independence"]["verdict"] == "ok" and c["independence"]["value"] < 0.7
    assert c["positive_cosine"]["verdict"] == "ok"
    assert c["evidence"]["verdict"] == "info"  # no score columns
    assert "shuffled" not in c
    assert rep["n_pairs"] == 900
    json.loads(to_json(rep))  # JSON-ready


def test_similar_pairs_trigger_random_negatives_advice():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(20, 8))
    X = np.repeat(centers, 10, axis=0) + 0.1 * rng.normal(size=(200, 8))
    names = [f"G{i}" for i in range(200)]
    emb = embeddings_from_array(X.astype(np.float32), names)
    grp = np.arange(200) // 10
    a, b = np.triu_indices(200, 1)
    same = grp[a] == grp[b]
    df = pd.DataFrame({"a": np.array(names)[a[same]], "b": np.array(names)[b[same]]})
    rep = run_doctor(emb, pairs_from_frame(df), train_check=False)
    c = _checks(rep)
    assert c["positive_cosine"]["verdict"] == "problem"
    assert "--negatives random" in c["positive_cosine"]["recommendation"]
    assert c["independence"]["verdict"] == "warning" and c["independence"]["value"] > 0.85


def test_evidence_counts_at_thresholds(syn):
    rng = np.random.default_rng(1)
    score = rng.integers(150, 1000, size=len(syn.pairs))
    exp = rng.integers(0, 1000, size=len(syn.pairs))
    df = pd.DataFrame(
        {"a": syn.pairs.a, "b": syn.pairs.b, "combined_score": score, "experimental": exp}
    )
    rep = run_doctor(syn.embeddings, pairs_from_frame(df), train_check=False)
    ev = _checks(rep)["evidence"]["value"]
    for t in (400, 700, 900):
        assert ev["combined_score"][f">={t}"] == int((score >= t).sum())
        assert ev["experimental"][f">={t}"] == int((exp >= t).sum())


def test_quick_shuffled_check_reports_settings(syn):
    rep = run_doctor(
        syn.embeddings,
        syn.pairs,
        quick_training={"hidden": 16, "epochs": 2, "batch_size": 128},
        threads=1,
    )
    sh = _checks(rep)["shuffled"]
    assert "hidden 16" in sh["name"] and "epochs 2" in sh["name"]
    assert set(sh["value"]) == {"reference_auc", "shuffled_auc"}
    assert sh["verdict"] in ("ok", "warning", "problem")
    assert rep["overall"] in ("ok", "info", "warning", "problem")
    assert "Positive-pair cosine histogram" in rep["tables"][0]["notes"][1]


def test_text_histogram_counts_everything():
    v = np.array([-0.95, 0.05, 0.06, 0.99])
    lines = text_histogram(v).splitlines()
    assert len(lines) == 10
    counts = [int(line.split(")")[1].split()[0].replace(",", "")) for line in lines]
    assert sum(counts) == 4 and counts[5] == 2


@pytest.mark.realdata
def test_doctor_on_depmap_string(tmp_path, shared_file):
    from calbio.data.embeddings import load_embeddings
    from calbio.data.pairs import load_pairs

    emb = load_embeddings(shared_file("embeddings", "depmap_crispr_gene_effect_pca50.csv"))
    prs = load_pairs(shared_file("associations", "string_ge950_pairs.csv"))
    rep = run_doctor(emb, prs, min_mapped=0.1, train_check=False)
    assert rep["n_pairs"] == 11_532
    c = _checks(rep)
    assert 0.5 < c["independence"]["value"] < 1.0
    assert c["degree_shortcut"]["value"] > 0.6  # STRING hubs: degree alone predicts edges


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


@pytest.mark.parametrize("world", [similarity_world, degree_world])
def test_worlds_are_what_they_claim(world):
    """Sanity of the fixtures: similarity world has cosine ~1, degree world has cosine ~0.5."""
    emb, prs = world()
    rep = run_doctor(emb, prs, train_check=False)
    auc = next(c for c in rep["checks"] if c["check"] == "independence")["value"]
    assert auc > 0.95 if world is similarity_world else abs(auc - 0.5) < 0.05
