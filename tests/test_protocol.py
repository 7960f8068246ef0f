"""evaluate(): the metrics.json contract, protocol labels, validation files, shortcut warnings."""

import json

import numpy as np
import pytest

from calbio import evaluate
from calbio.data.pairs import pairs_from_list
from calbio.errors import OutputExistsError
from calbio.evaluation.protocol import TRANSDUCTIVE_NOTE, shortcut_warnings

METRIC_KEYS = {"auc", "auc_ci", "ap", "cb_auc", "auc_degree_matched", "mrr", "hits@10"}


@pytest.fixture(scope="module")
def edge_result(synthetic, tiny):
    # an independent "validation" file: a slice of the synthetic pairs renamed as a new source
    val = pairs_from_list(list(zip(synthetic.pairs.a[::3], synthetic.pairs.b[::3])), "val.csv")
    return evaluate(
        synthetic.embeddings,
        synthetic.pairs,
        protocol="edge",
        n_boot=50,
        validate_with=[val],
        **tiny,
    )


def test_metrics_contract(edge_result, tmp_path) -> None:
    d = edge_result.to_dict()
    for key in ("protocol", "seed", "n_entities", "n_train_pairs", "n_test_pairs", "n_negatives"):
        assert isinstance(d[key], int | str)
    assert d["protocol"] == "edge" and d["seed"] == 42
    assert set(d["methods"]) == {"cal", "cosine", "degree", "adamic_adar"}
    for m in d["methods"].values():
        assert METRIC_KEYS <= m.keys()
        assert 0 <= m["auc"] <= 1 and len(m["auc_ci"]) == 2
        assert m["auc_ci"][0] <= m["auc"] <= m["auc_ci"][1]
    assert d["n_negatives"] == 5 * d["n_test_pairs"]
    assert d["data"]["synthetic"] is True
    out = edge_result.save(tmp_path / "run")
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["methods"]["cal"]["auc"] == pytest.approx(d["methods"]["cal"]["auc"])
    assert (out / "model" / "model.safetensors").is_file()
    assert (out / "test_scores.csv.gz").is_file()
    with pytest.raises(OutputExistsError):
        edge_result.save(tmp_path / "run")


def test_validation_positives_exclude_training_pairs(edge_result) -> None:
    v = edge_result.validation["val"]
    # a third of all pairs, minus those that fell into training (70%): about 30% of them remain
    n_val = len(range(0, 1500, 3))
    assert 0.2 * n_val < v["n_pairs"] < 0.4 * n_val
    assert set(v["methods"]) == {"cal", "cosine", "degree", "adamic_adar"}


def test_degree_matched_negatives_neutralise_degree(edge_result) -> None:
    assert abs(edge_result.methods["degree"]["auc_degree_matched"] - 0.5) < 0.06
    assert edge_result.methods["degree"]["auc"] > 0.6  # the synthetic world has the shortcut


def test_scores_table_is_labelled(edge_result) -> None:
    t = edge_result.scores
    assert set(t["set"]) == {"positive", "negative", "degree_matched_negative"}
    assert {"a", "b", "degree_a", "degree_b", "cosine", "cal", "degree"} <= set(t.columns)
    assert (t.loc[t["set"] == "positive", "label"] == 1).all()


def test_node_protocol_has_no_adamic_adar_and_degree_is_uninformative(synthetic, tiny) -> None:
    r = evaluate(
        synthetic.embeddings, synthetic.pairs, protocol="node", n_boot=20, rank=False, **tiny
    )
    assert "adamic_adar" not in r.methods
    assert r.methods["degree"]["auc"] == pytest.approx(0.5, abs=0.02)
    assert r.data["n_heldout_entities"] == round(0.3 * r.n_entities)


def test_transductive_is_labelled(synthetic, tiny) -> None:
    r = evaluate(
        synthetic.embeddings,
        synthetic.pairs,
        protocol="transductive",
        n_boot=20,
        rank=False,
        **tiny,
    )
    d = r.to_dict()
    assert d["transductive"] is True and d["note"] == TRANSDUCTIVE_NOTE
    assert d["n_train_pairs"] == d["n_test_pairs"]


def test_shortcut_warnings_fire_only_when_a_baseline_wins() -> None:
    methods = {
        "cal": {"auc": 0.8, "cb_auc": 0.9, "mrr": 0.1, "auc_degree_matched": 0.7},
        "degree": {"auc": 0.85, "cb_auc": 0.5, "mrr": 0.05, "auc_degree_matched": 0.5},
        "cosine": {"auc": 0.6, "cb_auc": 0.5, "mrr": 0.2, "auc_degree_matched": np.nan},
    }
    w = shortcut_warnings(methods)
    assert any("degree beats CAL on AUC" in x for x in w)
    assert any("cosine beats CAL on MRR" in x for x in w)
    assert not any("cross-boundary" in x for x in w)
    assert len(w) == 2
