"""Enrichment statistics: hand-computed hypergeometric p-values, the background rule, BH."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import comb

from calbio.analysis.enrichment import (
    COHERENT,
    NO_SIGNAL,
    PARTIAL,
    adjust_pvalues,
    check_not_circular,
    classify,
    drop_known_pairs,
    edge_density,
    enrich_labels,
    enrich_membership,
    hypergeom_pvalues,
    random_baseline,
    random_matched_membership,
    restrict_to_background,
)
from calbio.core.errors import CalbioInputError
from calbio.data.genesets import GeneSets, read_gmt


def hand_sf(k: int, N: int, K: int, n: int) -> float:
    """P(X >= k) for X ~ Hypergeom(N, K, n) from exact binomial coefficients."""
    total = comb(N, n, exact=True)
    hits = sum(comb(K, x, exact=True) * comb(N - K, n - x, exact=True) for x in range(k, n + 1))
    return hits / total


def gene_sets(sets: dict[str, list[str]]) -> GeneSets:
    return GeneSets(
        np.array(list(sets), object),
        np.array([f"desc {t}" for t in sets], object),
        [np.array(g, object) for g in sets.values()],
        "test.gmt",
    )


@pytest.mark.parametrize(
    "k,N,K,n", [(2, 20, 5, 4), (1, 20, 5, 4), (4, 20, 5, 4), (3, 50, 10, 6), (5, 2732, 40, 12)]
)
def test_hypergeometric_matches_hand_computation(k, N, K, n):
    p = hypergeom_pvalues(np.array([[k]]), N, np.array([K]), np.array([n]))[0, 0]
    assert p == pytest.approx(hand_sf(k, N, K, n), rel=1e-9)


def test_zero_overlap_is_p_one_and_vectorised_grid_matches():
    N = 30
    K = np.array([3, 7, 12])
    n = np.array([4, 9])
    ov = np.array([[0, 2, 3], [1, 5, 7]])
    p = hypergeom_pvalues(ov, N, K, n)
    for i in range(2):
        for j in range(3):
            assert p[i, j] == pytest.approx(hand_sf(int(ov[i, j]), N, int(K[j]), int(n[i])))
    assert p[0, 0] == 1.0


def test_background_rule_intersects_terms_and_sets_N():
    bg = [f"G{i}" for i in range(20)]
    gs = gene_sets(
        {
            "T1": ["G0", "G1", "G2", "G3", "G4", "OUT1", "OUT2", "OUT3"],  # 5 inside
            "T2": ["G5", "G6", "OUT4", "OUT5", "OUT6", "OUT7"],  # 2 inside -> dropped
            "T3": [f"G{i}" for i in range(10, 20)],
        }
    )
    lib = restrict_to_background(gs, bg, min_size=3, max_size=500)
    assert list(lib.terms) == ["T1", "T3"]
    assert list(lib.sizes) == [5, 10]
    assert lib.n_background == 20 and lib.n_terms_dropped == 1
    # a cluster of 4 with 2 members in T1: N = 20 (background), K = 5 (inside background only)
    labels = np.full(20, -1)
    labels[[0, 1, 7, 8]] = 0
    res = enrich_labels(labels, lib)
    assert res.overlap[0].tolist() == [2, 0]
    assert res.pvalues[0, 0] == pytest.approx(hand_sf(2, 20, 5, 4))
    # the genome-wide (wrong) background would give a different answer
    assert res.pvalues[0, 0] != pytest.approx(hand_sf(2, 27, 8, 4))


def test_background_with_no_matching_terms_is_an_input_error():
    with pytest.raises(CalbioInputError, match="identifiers match"):
        restrict_to_background(gene_sets({"T": ["X", "Y", "Z"]}), ["A", "B", "C"], min_size=1)


def test_bh_matches_hand_computation_and_bonferroni():
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.001])
    m = len(p)
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    hand = np.minimum.accumulate(ranked[::-1])[::-1]
    expected = np.empty(m)
    expected[order] = np.minimum(hand, 1)
    np.testing.assert_allclose(adjust_pvalues(p[None, :], "bh")[0], expected)
    np.testing.assert_allclose(adjust_pvalues(p[None, :], "bonferroni")[0], np.minimum(p * 5, 1))
    two = adjust_pvalues(np.vstack([p, p[::-1]]), "bh")  # per cluster (row), independent
    np.testing.assert_allclose(two[1], expected[::-1])
    with pytest.raises(CalbioInputError):
        adjust_pvalues(p, "holm-ish")


def test_classification_rule():
    sizes = np.array([10, 10, 10, 10])
    overlap = np.array([[6, 1], [5, 3], [9, 9], [2, 2]])
    padj = np.array([[0.01, 0.9], [0.01, 0.01], [0.2, 0.06], [0.04, 1.0]])
    out = classify(overlap, padj, sizes, alpha=0.05)
    # 6/10 > 50% and significant; 5/10 is not > 50%; nothing significant; significant but small
    assert out.tolist() == [COHERENT, PARTIAL, NO_SIGNAL, PARTIAL]


def test_planted_cluster_is_coherent_and_random_clusters_are_not():
    rng = np.random.default_rng(0)
    bg = np.array([f"G{i}" for i in range(400)], object)
    sets = {f"T{j}": list(rng.choice(bg, 20, replace=False)) for j in range(50)}
    sets["PLANTED"] = list(bg[:12])
    lib = restrict_to_background(gene_sets(sets), bg, min_size=5)
    labels = np.full(400, -1)
    labels[:10] = 0  # all inside PLANTED
    labels[100:110] = 1  # random-ish
    res = enrich_labels(labels, lib)
    assert res.classes[0] == COHERENT
    top = res.top_terms(top=1)
    assert top.loc[0, "term"] == "PLANTED" and top.loc[0, "coverage"] == 1.0
    base = random_baseline(np.array([10, 10, 10]), lib, reps=10, seed=1)
    assert base["pct_coherent"] < 20 and base["reps"] == 10


def test_random_matched_membership_sizes_and_disjoint():
    M = random_matched_membership(np.array([5, 3, 7]), 50, np.random.default_rng(0))
    assert np.asarray(M.sum(axis=1)).ravel().tolist() == [5, 3, 7]
    assert np.asarray(M.sum(axis=0)).max() == 1  # no entity in two clusters
    with pytest.raises(ValueError):
        random_matched_membership(np.array([40, 20]), 50, np.random.default_rng(0))


def test_enrich_membership_rejects_wrong_width():
    lib = restrict_to_background(gene_sets({"T": ["A", "B", "C"]}), ["A", "B", "C"], min_size=1)
    with pytest.raises(ValueError):
        enrich_membership(sp.csr_matrix(np.ones((1, 5))), lib)


def test_read_gmt(tmp_path):
    f = tmp_path / "s.gmt"
    f.write_text("T1\tdesc one\tA\tB\tC\n\nT2\t\tB\tD\tD\n")
    gs = read_gmt(f)
    assert gs.terms.tolist() == ["T1", "T2"]
    assert gs.genes[1].tolist() == ["B", "D"]  # duplicates removed
    bad = tmp_path / "bad.gmt"
    bad.write_text("T1\tdesc\tA\nonly-one-field\n")
    with pytest.raises(CalbioInputError, match="line 2"):
        read_gmt(bad)
    empty = tmp_path / "empty.gmt"
    empty.write_text("\n")
    with pytest.raises(CalbioInputError, match="empty"):
        read_gmt(empty)


def test_circular_validation_is_refused():
    train = {"path": "/data/string_ge950_pairs.csv", "sha256": "abc"}
    with pytest.raises(CalbioInputError, match="circular"):
        check_not_circular(train, "/x/string_v12_links.csv")
    with pytest.raises(CalbioInputError, match="circular"):
        check_not_circular(train, "/x/renamed.csv", "abc")
    check_not_circular(train, "/x/reactome_pairs.csv", "def")  # independent: fine


def test_edge_density_against_random():
    labels = np.full(200, -1)
    labels[:10] = 0
    labels[10:20] = 1
    inside = np.array([[i, j] for i in range(10) for j in range(i + 1, 10)])
    outside = np.random.default_rng(0).integers(20, 200, size=(200, 2))
    d = edge_density(labels, np.vstack([inside, outside]), reps=10, seed=0)
    assert d["within_cluster_edges"] == len(inside)
    assert d["density"] == pytest.approx(45 / 90)
    assert d["random_density_mean"] < d["density"] / 5


def test_validation_pairs_that_are_training_pairs_are_dropped():
    val = np.array([[0, 1], [2, 3], [5, 4], [6, 7]])
    train = np.array([[1, 0], [4, 5], [8, 9]])  # orientation does not matter
    assert drop_known_pairs(val, train, 10).tolist() == [[2, 3], [6, 7]]
    assert drop_known_pairs(val, np.zeros((0, 2), int), 10).tolist() == val.tolist()


@pytest.mark.realdata
def test_go_bp_restricted_to_depmap_background(shared_file):
    gmt = shared_file("genesets", "GO_BP_propagated_5_500.gmt")
    emb = shared_file("embeddings", "depmap_crispr_gene_effect_pca50.csv")
    import pandas as pd

    genes = pd.read_csv(emb, usecols=[0]).iloc[:, 0].astype(str).to_numpy()
    gs = read_gmt(gmt)
    lib = restrict_to_background(gs, genes)
    assert lib.n_background == len(genes) == 2732
    assert 0 < len(lib.terms) < len(gs)
    bgset = set(genes)
    j = 0
    full = gs.genes[list(gs.terms).index(lib.terms[j])]
    assert lib.sizes[j] == sum(g in bgset for g in full)
