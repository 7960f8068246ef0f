"""Ablations: every condition on the same held-out test set; consistent with `evaluate`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calbio.analysis.ablation import (
    TRANSDUCTIVE_LABEL,
    ablate,
    failure_modes,
    prepare_heldout,
    shuffled_pairs,
    top_cosine_pairs,
)
from calbio.analysis.tables import fmt_ms
from calbio.core.graph import pair_keys
from calbio.data.embeddings import embeddings_from_array
from calbio.data.matching import map_pairs
from calbio.data.pairs import pairs_from_frame
from calbio.data.synthetic import make_synthetic
from calbio.evaluation.protocol import evaluate
from calbio.models.graph.heuristics import training_degree

TINY = {"hidden": 32, "epochs": 3, "batch_size": 128, "threads": 1}


@pytest.fixture(scope="module")
def world():
    syn = make_synthetic(n_entities=200, dim=16, n_pairs=900, seed=1)
    return syn.embeddings, map_pairs(syn.pairs, syn.embeddings)


def test_full_condition_matches_evaluate_on_the_same_split(world):
    emb, mapped = world
    res = ablate(emb, mapped, seeds=(5,), conditions=("full",), **TINY)
    ev = evaluate(emb, mapped, seed=5, rank=False, n_boot=10, **TINY)
    full = res["conditions"]["full"][0]
    assert full["auc"] == pytest.approx(ev.methods["cal"]["auc"])
    assert full["cb_auc"] == pytest.approx(ev.methods["cal"]["cb_auc"])
    assert res["n_test_pairs"] == [ev.n_test_pairs]
    assert full["delta_auc_vs_cosine"] == pytest.approx(
        ev.methods["cal"]["auc"] - ev.methods["cosine"]["auc"]
    )


def test_all_conditions_two_seeds_give_mean_sd_table(world):
    emb, mapped = world
    res = ablate(emb, mapped, seeds=(1, 2), **TINY)
    t = res["tables"][0]
    assert TRANSDUCTIVE_LABEL in t["columns"]
    labels = [r[0] for r in t["rows"]]
    assert labels[:5] == [
        "full CAL",
        "shuffled pairs (one column permuted)",
        "similar positives (top-cosine pairs)",
        "random negatives",
        "inductive node split (cold start)",
    ]
    assert all("±" in r[2] for r in t["rows"])
    assert all(len(v) == 2 for v in res["conditions"].values())
    node = t["rows"][4]
    assert node[1] == "own node split" and node[-1] == "-"
    # baselines see the same graph in every condition: identical across conditions per seed
    assert len(res["baselines"]["degree"]) == 2


def test_shuffled_pairs_keep_degrees(world):
    _, mapped = world
    sh = shuffled_pairs(mapped.idx, seed=0)
    n = mapped.n_entities
    assert not np.array_equal(sh, mapped.idx)
    deg_o = training_degree(mapped.idx, n)
    deg_s = training_degree(sh, n)
    dropped = len(mapped.idx) - len(sh)  # self-pairs removed cost 2 degree each
    assert np.abs(deg_o - deg_s).sum() <= 2 * dropped


def test_top_cosine_pairs_are_the_highest_non_excluded():
    rng = np.random.default_rng(0)
    E = rng.normal(size=(40, 5)).astype(np.float32)
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    S = E @ E.T
    iu = np.triu_indices(40, 1)
    order = np.argsort(-S[iu])
    excl = np.stack([iu[0][order[:3]], iu[1][order[:3]]], 1)
    got = top_cosine_pairs(E, np.arange(40), 10, pair_keys(excl, 40), block=7)
    want = np.stack([iu[0][order[3:13]], iu[1][order[3:13]]], 1)
    assert set(map(tuple, np.sort(got, 1))) == set(map(tuple, want))


def test_prepare_heldout_negatives_avoid_known_pairs(world):
    _, mapped = world
    n = mapped.n_entities
    held = prepare_heldout(mapped.idx, n, "edge", 0.3, 3)
    known = pair_keys(mapped.idx, n)
    assert not np.isin(pair_keys(held.negatives, n), known).any()
    assert not np.isin(pair_keys(held.dm_negatives, n), known).any()


def test_unknown_condition_and_formatting(world):
    emb, mapped = world
    with pytest.raises(ValueError, match="unknown ablation"):
        ablate(emb, mapped, conditions=("nope",), **TINY)
    assert fmt_ms([0.5]) == "0.500"
    assert fmt_ms([0.5, 0.7]) == "0.600 ± 0.141"
    assert fmt_ms([None, float("nan")]) == "-"


QUICK = {"hidden": 64, "epochs": 15, "batch_size": 128}


def test_rules_from_numbers():
    m = failure_modes(0.80, (0.76, 0.84), 0.77, shuffled_auc=0.60)
    assert [x["flagged"] for x in m] == [True, False]  # cosine inside CAL's CI
    m = failure_modes(0.80, (0.78, 0.82), 0.70, similarity="Tanimoto", shuffled_auc=0.79)
    assert [x["flagged"] for x in m] == [False, True] and "Tanimoto" in m[0]["detail"]
    m = failure_modes(0.80, None, None)
    assert [x["flagged"] for x in m] == [None, None]


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


@pytest.mark.parametrize("protocol", ["edge", "node"])
def test_prepare_heldout_is_the_protocols_split_and_negatives(world, protocol):
    """Ablations score on evaluate()'s own held-out positives and negatives (same seed)."""
    emb, mapped = world
    ev = evaluate(emb, mapped, model=None, protocol=protocol, seed=8, rank=False, n_boot=2)
    held = prepare_heldout(mapped.idx, len(emb), protocol, 0.3, 8)
    row = {name: i for i, name in enumerate(emb.names)}
    test = ev.scores[ev.scores["dataset"] == "test"]
    for kind, want in [
        ("positive", held.positives),
        ("negative", held.negatives),
        ("degree_matched_negative", held.dm_negatives),
    ]:
        got = test.loc[test["set"] == kind, ["a", "b"]].to_numpy()
        got = np.array([[row[a], row[b]] for a, b in got], dtype=np.int64).reshape(-1, 2)
        assert len(want) and np.array_equal(got, want), kind
