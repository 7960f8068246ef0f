"""Leakage rules of every protocol, as properties over random graphs."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from calbio.core.graph import pair_keys, sample_uniform_negatives
from calbio.core.metrics import roc_auc
from calbio.evaluation.splits import make_split, sample_degree_matched_negatives
from calbio.models.graph.heuristics import degree_product_score, training_degree


def random_graph(n: int, m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cand = rng.integers(0, n, size=(3 * m, 2))
    cand = cand[cand[:, 0] != cand[:, 1]]
    _, first = np.unique(pair_keys(cand, n), return_index=True)
    return cand[np.sort(first)][:m]


graphs = st.builds(
    lambda n, frac, seed: (n, random_graph(n, max(8, int(frac * n * (n - 1) / 2)), seed)),
    st.integers(12, 60),
    st.floats(0.05, 0.4),
    st.integers(0, 10_000),
)


@settings(max_examples=40, deadline=None)
@given(graphs, st.integers(0, 1000))
def test_edge_split_partitions_pairs(g, seed) -> None:
    n, pairs = g
    s = make_split(pairs, n, "edge", 0.3, seed)
    tr, te = set(pair_keys(s.train_idx, n)), set(pair_keys(s.test_idx, n))
    assert not tr & te
    assert tr | te == set(pair_keys(pairs, n))
    assert abs(len(te) - round(0.3 * len(pairs))) <= 1


@settings(max_examples=40, deadline=None)
@given(graphs, st.integers(0, 1000))
def test_node_split_keeps_heldout_out_of_training(g, seed) -> None:
    n, pairs = g
    s = make_split(pairs, n, "node", 0.3, seed)
    held = s.heldout_mask()
    assert not held[s.train_idx].any()  # no held-out entity in training
    assert (held[s.test_idx[:, 0]] | held[s.test_idx[:, 1]]).all()  # every test pair touches one
    assert len(s.train_idx) + len(s.test_idx) == len(pairs)
    rng = np.random.default_rng(seed)
    known = np.unique(pair_keys(pairs, n))
    neg = sample_uniform_negatives(50, s.universe, known, n, rng, held)
    if len(neg):
        assert (held[neg[:, 0]] | held[neg[:, 1]]).all()  # every negative touches one too


@settings(max_examples=40, deadline=None)
@given(graphs, st.sampled_from(["edge", "node", "transductive"]), st.integers(0, 1000))
def test_negatives_never_known_or_self(g, protocol, seed) -> None:
    n, pairs = g
    s = make_split(pairs, n, protocol, 0.3, seed)
    known = np.unique(pair_keys(pairs, n))  # positives of ANY split, either orientation
    rng = np.random.default_rng(seed)
    held = s.heldout_mask() if protocol == "node" else None
    neg = sample_uniform_negatives(5 * len(s.test_idx), s.universe, known, n, rng, held)
    deg = training_degree(s.train_idx, n)
    dm = sample_degree_matched_negatives(s.test_idx, 5, s.universe, deg, known, n, rng, held)
    for arr in (neg, dm):
        if not len(arr):
            continue
        assert (arr[:, 0] != arr[:, 1]).all()
        assert not np.isin(pair_keys(arr, n), known).any()
        assert not np.isin(pair_keys(arr[:, ::-1], n), known).any()
        assert np.isin(arr, s.universe).all()
    assert len(np.unique(pair_keys(neg, n))) == len(neg)


def test_transductive_tests_on_training_pairs() -> None:
    pairs = random_graph(30, 60, 1)
    s = make_split(pairs, 30, "transductive")
    assert s.transductive
    np.testing.assert_array_equal(s.train_idx, s.test_idx)


def test_degree_matched_negatives_neutralise_degree() -> None:
    # A hub-heavy graph: degree separates positives from uniform negatives, not from matched ones.
    rng = np.random.default_rng(0)
    n = 2000
    p = rng.pareto(1.5, n) + 1
    a = rng.choice(n, 6000, p=p / p.sum())
    b = rng.choice(n, 6000, p=p / p.sum())
    pairs = np.c_[a, b][a != b]
    _, first = np.unique(pair_keys(pairs, n), return_index=True)
    pairs = pairs[np.sort(first)]
    s = make_split(pairs, n, "edge", 0.3, 0)
    known = np.unique(pair_keys(pairs, n))
    deg = training_degree(s.train_idx, n).astype(float)
    uni = sample_uniform_negatives(5 * len(s.test_idx), s.universe, known, n, rng)
    dm = sample_degree_matched_negatives(s.test_idx, 5, s.universe, deg.astype(int), known, n, rng)
    pos_s = degree_product_score(deg, s.test_idx)

    def auc(neg):
        y = np.r_[np.ones(len(pos_s)), np.zeros(len(neg))]
        return roc_auc(y, np.r_[pos_s, degree_product_score(deg, neg)])

    assert auc(uni) > 0.7
    assert abs(auc(dm) - 0.5) < 0.05
    assert len(dm) > 0.9 * 5 * len(s.test_idx)


def test_splits_are_seeded() -> None:
    pairs = random_graph(50, 200, 3)
    a, b = make_split(pairs, 50, "node", 0.3, 7), make_split(pairs, 50, "node", 0.3, 7)
    np.testing.assert_array_equal(a.test_idx, b.test_idx)
    c = make_split(pairs, 50, "node", 0.3, 8)
    assert not np.array_equal(a.heldout, c.heldout)


@settings(max_examples=30, deadline=None)
@given(graphs, st.sampled_from(["edge", "node"]), st.integers(0, 1000), st.integers(1, 5))
def test_fast_samplers_equal_the_reference(g, protocol, seed, ratio) -> None:
    from _splits_reference import ref_degree_matched, ref_strata, ref_uniform

    from calbio.evaluation.splits import degree_strata

    n, pairs = g
    split = make_split(pairs, n, protocol, 0.3, seed)
    keys = np.unique(pair_keys(pairs, n))
    held = split.heldout_mask() if protocol == "node" else None
    deg = training_degree(split.train_idx, n)
    np.testing.assert_array_equal(
        degree_strata(deg, split.universe), ref_strata(deg, split.universe)
    )
    for fast, ref in ((sample_uniform_negatives, ref_uniform),):
        a = fast(40, split.universe, keys, n, np.random.default_rng(seed), held)
        b = ref(40, split.universe, keys, n, np.random.default_rng(seed), held)
        np.testing.assert_array_equal(a, b)
    args = (split.test_idx, ratio, split.universe, deg, keys, n)
    a = sample_degree_matched_negatives(*args, np.random.default_rng(seed), held, 60)
    b = ref_degree_matched(*args, np.random.default_rng(seed), held, 60)
    np.testing.assert_array_equal(a, b)
