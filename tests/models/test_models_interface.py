"""One interface for every model: registry, sklearn contract, user models, evaluate(model=...)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import calbio
from calbio.core.errors import CalbioInputError
from calbio.core.metrics import roc_auc
from calbio.data.pairs import pairs_from_list
from calbio.evaluation.scoring import model_ranks, tie_safe
from calbio.models import AssociationModel, AssociationModelBase, available_models, resolve_model
from calbio.models.graph.heuristics import SHORTCUTS, AdamicAdar, Cosine, ResourceAllocation

GENE_SHORTCUTS = {"cosine", "degree", "adamic_adar"}
BUILTIN = ["cal", "cosine", "degree", "adamic_adar", "common_neighbours", "resource_allocation"]


class MeanNeighbourCosine(AssociationModelBase):
    """A user's model: cosine of each entity to the mean embedding of the other's partners."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def _fit(self, emb, mapped, progress=None) -> None:
        E = emb.X / np.linalg.norm(emb.X, axis=1, keepdims=True)
        n = len(E)
        A = np.zeros((n, n))
        A[mapped.idx[:, 0], mapped.idx[:, 1]] = A[mapped.idx[:, 1], mapped.idx[:, 0]] = 1
        self.embedding_ = E
        self.context_ = A @ E  # sum of partner embeddings

    def score_vectors(self):
        return self.embedding_, self.embedding_ + self.weight * self.context_

    def _score_idx(self, idx):
        left, right = self.score_vectors()
        a, b = idx[:, 0], idx[:, 1]
        return 0.5 * ((left[a] * right[b]).sum(1) + (left[b] * right[a]).sum(1))


def test_registry_lists_every_builtin_model() -> None:
    assert set(BUILTIN) <= set(available_models())
    assert set(SHORTCUTS) <= set(available_models())
    with pytest.raises(CalbioInputError, match="not a known model"):
        resolve_model("nonsense")


@pytest.mark.parametrize("name", BUILTIN)
def test_sklearn_contract(name, synthetic, tiny) -> None:
    model = resolve_model(name)
    assert isinstance(model, AssociationModel)
    with pytest.raises(NotFittedError):
        model.score_pairs(np.array([[0, 1]]))
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    params = model.get_params()
    twin = clone(model)
    assert twin.get_params() == params and twin is not model
    if name == "cal":
        model.set_params(**tiny)
    model.fit(synthetic.embeddings, synthetic.pairs)
    check_is_fitted(model)
    # clone of a fitted model is unfitted and keeps the parameters
    fresh = clone(model)
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)
    assert fresh.get_params() == model.get_params()
    s = model.score_pairs(np.array([[0, 1], [1, 0], [2, 3]]))
    assert s.dtype == np.float64 and s[0] == pytest.approx(s[1])
    rows = model.score_rows(np.array([0, 2]), np.array([1, 3]))
    np.testing.assert_allclose(rows[[0, 1], [0, 1]], s[[0, 2]], rtol=1e-5, atol=1e-9)


def test_cal_init_only_stores_parameters() -> None:
    m = calbio.CAL("fast", epochs=3, negatives="nonsense")  # no error until fit
    assert m.get_params()["negatives"] == "nonsense"
    assert "CAL(" in repr(m) and "epochs=3" in repr(m)


def test_user_model_plugs_into_evaluate(synthetic) -> None:
    r = calbio.evaluate(synthetic.embeddings, synthetic.pairs, model=MeanNeighbourCosine, n_boot=20)
    name = "MeanNeighbourCosine"
    assert set(r.methods) == {name, *GENE_SHORTCUTS}
    assert r.to_dict()["models"] == [name]
    assert 0.5 < r.methods[name]["auc"] <= 1 and r.methods[name]["mrr"] > 0
    # its factors were used for the filtered ranks: same as the dense-row path
    m = r.models[name]
    known = __import__("scipy.sparse").sparse.csr_matrix((m.n_entities_, m.n_entities_))
    pos = m.train_pairs_[:50]
    cand = np.arange(m.n_entities_)
    fast, _ = model_ranks(m, pos, cand, known)

    class NoFactors:
        cold_start = True

        def score_vectors(self):
            return None

        def score_rows(self, q, c):
            return m.score_rows(q, c)

    np.testing.assert_array_equal(fast, model_ranks(NoFactors(), pos, cand, known)[0])


def test_evaluate_takes_name_class_or_instance_and_kwargs(synthetic, tiny) -> None:
    kw = dict(n_boot=10, rank=False)
    by_name = calbio.evaluate(synthetic.embeddings, synthetic.pairs, model="cal", **tiny, **kw)
    inst = calbio.CAL("paper", **tiny)
    by_inst = calbio.evaluate(synthetic.embeddings, synthetic.pairs, model=inst, **kw)
    assert by_name.methods["cal"]["auc"] == pytest.approx(by_inst.methods["cal"]["auc"])
    assert not hasattr(inst, "module_")  # the caller's instance is cloned, never fitted
    by_cls = calbio.evaluate(
        synthetic.embeddings, synthetic.pairs, model=calbio.CAL, model_kwargs=tiny, **kw
    )
    assert by_cls.methods["cal"]["auc"] == pytest.approx(by_name.methods["cal"]["auc"])


def test_baselines_only_evaluation(synthetic) -> None:
    r = calbio.evaluate(synthetic.embeddings, synthetic.pairs, model=None, n_boot=10)
    assert set(r.methods) == GENE_SHORTCUTS and r.model is None and r.warnings == []


def test_fingerprint_tables_get_tanimoto_beside_cosine(synthetic, tmp_path) -> None:
    from calbio.data.types import Embeddings
    from calbio.models.persistence import load_model

    bits = (synthetic.embeddings.X > 0.3).astype(np.float32)
    emb = Embeddings(synthetic.embeddings.names, bits)
    r = calbio.evaluate(emb, synthetic.pairs, model=None, n_boot=10, rank=False)
    assert set(r.methods) == GENE_SHORTCUTS | {"tanimoto"}
    m = resolve_model("tanimoto").fit(emb, synthetic.pairs)
    a, b = bits[3], bits[7]
    want = (a * b).sum() / (a.sum() + b.sum() - (a * b).sum())
    assert m.score_pairs(np.array([[3, 7]]))[0] == pytest.approx(want)
    back = load_model(m.save(tmp_path / "t"))
    assert back.score_pairs(np.array([[3, 7]]))[0] == pytest.approx(want)
    with pytest.raises(CalbioInputError, match="binary"):
        resolve_model("tanimoto").fit(synthetic.embeddings, synthetic.pairs)


def test_per_degree_breakdown_partitions_the_positives(synthetic, tiny) -> None:
    r = calbio.evaluate(synthetic.embeddings, synthetic.pairs, n_boot=10, **tiny)
    for m in r.methods.values():
        parts = m["by_degree"]
        assert list(parts) == ["low", "mid", "high"]
        assert sum(p["n_pos"] for p in parts.values()) == r.n_test_pairs
        assert sum(p["n_neg"] for p in parts.values()) == r.n_negatives
        assert all(p["mrr"] == "undefined" or 0 <= p["mrr"] <= 1 for p in parts.values())
    lo, hi = r.methods["degree"]["by_degree"]["low"], r.methods["degree"]["by_degree"]["high"]
    assert lo["degree_range"][1] < hi["degree_range"][0]


def test_node_protocol_scores_adamic_adar_on_warm_validation_pairs(synthetic, tiny) -> None:
    a, b = synthetic.pairs.a, synthetic.pairs.b
    main = pairs_from_list(list(zip(a[::2], b[::2])), "main.csv")
    val = pairs_from_list(list(zip(a[1::2], b[1::2])), "val.csv")
    r = calbio.evaluate(
        synthetic.embeddings, main, protocol="node", validate_with=[val], n_boot=10, **tiny
    )
    assert "adamic_adar" not in r.methods  # every test pair touches an unseen entity
    assert r.validation["val"]["cold_start"] is True
    assert "adamic_adar" not in r.validation["val"]["methods"]
    assert r.validation["val_warm"]["cold_start"] is False
    assert "adamic_adar" in r.validation["val_warm"]["methods"]
    # warm degree-matched negatives stay among training entities, cold ones touch held-out ones
    t = r.scores
    warm = t[(t["dataset"] == "val_warm") & (t["label"] == 0)]
    cold = t[(t["dataset"] == "val") & (t["label"] == 0)]
    assert (warm[["degree_a", "degree_b"]].to_numpy() > 0).all()
    assert ((cold["degree_a"] == 0) | (cold["degree_b"] == 0)).all()


def test_scores_that_tie_after_rounding_count_half() -> None:
    rng = np.random.default_rng(0)
    base = np.repeat([1.0, 2.0], 500)
    noisy = base + rng.normal(0, 1e-14, base.shape)  # sparse-product float noise
    y = rng.integers(0, 2, base.shape).astype(bool)
    assert roc_auc(y, tie_safe(noisy)) == pytest.approx(roc_auc(y, base))
    np.testing.assert_array_equal(np.unique(tie_safe(noisy)), [1.0, 2.0])


def test_tied_candidates_share_the_rank() -> None:
    class Flat:
        cold_start = True

        def score_vectors(self):
            return None

        def score_rows(self, q, c):
            rng = np.random.default_rng(len(q))
            return 1.0 + rng.normal(0, 1e-15, (len(q), len(c)))

    import scipy.sparse as sp

    n = 11
    ranks, _ = model_ranks(Flat(), np.array([[0, 5]]), np.arange(n), sp.identity(n, format="csr"))
    # 10 candidates (self excluded), all tied: realistic rank = 1 + 9 / 2
    np.testing.assert_allclose(ranks, [5.5, 5.5])


def test_resource_allocation_matches_networkx(synthetic) -> None:
    nx = pytest.importorskip("networkx")
    m = ResourceAllocation().fit(synthetic.embeddings, synthetic.pairs)
    G = nx.Graph()
    G.add_nodes_from(range(m.n_entities_))
    G.add_edges_from(map(tuple, m.train_pairs_))
    q = np.array([[0, 1], [2, 7], [5, 9], [10, 40]])
    want = [p for _, _, p in nx.resource_allocation_index(G, [tuple(map(int, x)) for x in q])]
    np.testing.assert_allclose(m.score_pairs(q), want)


def test_graph_heuristics_do_not_claim_cold_start() -> None:
    assert not AdamicAdar.cold_start and Cosine.cold_start
