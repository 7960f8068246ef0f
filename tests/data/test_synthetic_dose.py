"""The dose-response world: determinism, ground truth and the cosine failure it is built for."""

from __future__ import annotations

import numpy as np

from calbio.core.metrics import roc_auc
from calbio.data.context import map_context_pairs, within_context_negatives
from calbio.data.synthetic_dose import hill, make_dose_world, oracle_equivalent


def test_hill_curve():
    assert np.isclose(hill(1.0, 1.0, 2.0), 0.5)
    assert hill(100.0, 1.0, 1.0) > 0.98 and hill(0.01, 1.0, 1.0) < 0.02


def test_deterministic_and_shaped():
    a = make_dose_world(n_mechanisms=3, per_mechanism=4, n_features=8, n_lines=2, seed=1)
    b = make_dose_world(n_mechanisms=3, per_mechanism=4, n_features=8, n_lines=2, seed=1)
    assert np.array_equal(a.embeddings.X, b.embeddings.X)
    ce = a.embeddings
    assert ce.n_entities == 12 and ce.n_contexts == 2 * 8 and ce.dim == 8
    assert ce.covariate_names == ["log10_dose"] and set(ce.labels) == {"L1", "L2"}


def test_pairs_are_exactly_the_ground_truth():
    w = make_dose_world(n_mechanisms=4, per_mechanism=5, n_features=10, n_lines=2, seed=2)
    m = map_context_pairs(w.pairs, w.embeddings)
    assert oracle_equivalent(w, m.idx, m.context).all()
    # and every equivalent pair is listed: count oracle positives over all pairs x contexts
    P, k = w.embeddings.n_entities, w.embeddings.n_contexts
    iu, ju = np.triu_indices(P, 1)
    idx = np.stack([np.tile(iu, k), np.tile(ju, k)], 1)
    ctx = np.repeat(np.arange(k), len(iu))
    assert oracle_equivalent(w, idx, ctx).sum() == len(m)
    # biphasic perturbations switch off at high dose somewhere
    t = w.truth
    assert t["biphasic"].any()
    hi = w.embeddings.contexts.tolist().index("L1@100")
    mid = w.embeddings.contexts.tolist().index("L1@1")
    assert t["active"][mid].sum() > 0 and t["active"][hi].sum() > 0


def test_cosine_degrades_at_high_dose():
    """The world's stress phenotype should make cosine worse at 100 than at 1 (its purpose)."""
    w = make_dose_world(seed=0)
    ce = w.embeddings
    m = map_context_pairs(w.pairs, ce)
    neg = within_context_negatives(m, 3, ce, m, np.random.default_rng(0))
    X = ce.X / np.linalg.norm(ce.X, axis=1, keepdims=True)

    def auc_at(dose: str) -> float:
        cs = [i for i, c in enumerate(ce.contexts) if c.endswith("@" + dose)]
        p, n = m.select(np.isin(m.context, cs)), neg.select(np.isin(neg.context, cs))
        s = [
            np.einsum(
                "ij,ij->i",
                X[ce.row_of[q.context, q.idx[:, 0]]],
                X[ce.row_of[q.context, q.idx[:, 1]]],
            )
            for q in (p, n)
        ]
        return roc_auc(np.r_[np.ones(len(p)), np.zeros(len(n))], np.r_[s[0], s[1]])

    assert auc_at("1") > auc_at("100") + 0.15
