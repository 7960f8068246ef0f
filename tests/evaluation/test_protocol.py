"""evaluate(): the metrics.json contract, protocol labels, validation files, shortcut warnings."""

import json

import numpy as np
import pytest

from calbio import evaluate
from calbio.core.errors import OutputExistsError
from calbio.data.pairs import pairs_from_list
from calbio.evaluation.result import TRANSDUCTIVE_NOTE
from calbio.evaluation.verdicts import shortcut_warnings

METRIC_KEYS = {"auc", "auc_ci", "ap", "cb_auc", "auc_degree_matched", "mrr", "hits@10"}


def _main_and_validation(synthetic):
    a, b = synthetic.pairs.a, synthetic.pairs.b
    i = np.arange(len(a))
    main = pairs_from_list(list(zip(a[i % 3 != 0], b[i % 3 != 0])), "main.csv")
    # an independent file: pairs the main file lacks, plus 60 that it has (some reversed)
    own = list(zip(a[i % 3 == 0], b[i % 3 == 0]))
    shared = list(zip(b[i % 3 == 1][:60], a[i % 3 == 1][:60]))
    return main, pairs_from_list(own + shared, "val.csv"), len(own)


@pytest.fixture(scope="module")
def edge_result(synthetic, tiny):
    main, val, _ = _main_and_validation(synthetic)
    return evaluate(
        synthetic.embeddings, main, protocol="edge", n_boot=50, validate_with=[val], **tiny
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


def test_validation_scores_only_pairs_absent_from_the_main_file(edge_result, synthetic) -> None:
    _, _, n_own = _main_and_validation(synthetic)
    v = edge_result.validation["val"]
    # every pair the main file has (train or test, either orientation) is removed and counted
    assert v["n_removed_in_main_pairs"] == 60
    assert v["n_pairs"] == n_own
    assert set(v["methods"]) == {"cal", "cosine", "degree", "adamic_adar"}
    t = edge_result.scores
    val_pos = t[(t["dataset"] == "val") & (t["set"] == "positive")]
    test_pos = t[(t["dataset"] == "test") & (t["set"] == "positive")]
    keys = {frozenset(p) for p in zip(test_pos["a"], test_pos["b"])}
    assert not keys & {frozenset(p) for p in zip(val_pos["a"], val_pos["b"])}


def test_validation_negatives_do_not_depend_on_file_order(synthetic, tiny) -> None:
    main, val, _ = _main_and_validation(synthetic)
    other = pairs_from_list(list(zip(synthetic.pairs.a[:40], synthetic.pairs.b[5:45])), "z.csv")
    kw = dict(protocol="edge", n_boot=5, rank=False, model=None)
    r1 = evaluate(synthetic.embeddings, main, validate_with=[val, other], **kw, **tiny)
    r2 = evaluate(synthetic.embeddings, main, validate_with=[other, val], **kw, **tiny)

    def negs(r):
        t = r.scores
        return t[(t["dataset"] == "val") & (t["label"] == 0)][["a", "b", "set"]].to_numpy()

    assert len(negs(r1)) and (negs(r1) == negs(r2)).all()


def test_validation_files_are_taken_as_paths_or_frames(synthetic, tiny, tmp_path) -> None:
    """validate_with takes what the one door takes (a path, a str, a DataFrame), and names the
    validation set after the file."""
    import pandas as pd

    main, val, _ = _main_and_validation(synthetic)
    frame = pd.DataFrame({"gene1": val.a, "gene2": val.b})
    frame.to_csv(tmp_path / "val.csv", index=False)
    kw = dict(protocol="edge", n_boot=5, rank=False, model=None)
    ref = evaluate(synthetic.embeddings, main, validate_with=[val], **kw, **tiny)
    for given in (tmp_path / "val.csv", str(tmp_path / "val.csv")):
        r = evaluate(synthetic.embeddings, main, validate_with=[given], **kw, **tiny)
        assert r.validation["val"]["methods"] == ref.validation["val"]["methods"]
    r = evaluate(synthetic.embeddings, main, validate_with=[frame], **kw, **tiny)
    (name,) = r.validation
    assert r.validation[name]["n_pairs"] == ref.validation["val"]["n_pairs"]


def test_a_missing_validation_file_fails_before_any_fit(synthetic, tiny, tmp_path, monkeypatch):
    from calbio.core.errors import CalbioInputError
    from calbio.evaluation import protocol

    def no_fit(*args, **kwargs):
        raise AssertionError("a model was fitted before the validation file was read")

    monkeypatch.setattr(protocol, "fit_all", no_fit)
    main, _, _ = _main_and_validation(synthetic)
    with pytest.raises(CalbioInputError, match="nope.csv"):
        evaluate(synthetic.embeddings, main, validate_with=[tmp_path / "nope.csv"], **tiny)


def test_test_negatives_are_saved(edge_result, tmp_path) -> None:
    import pandas as pd

    out = edge_result.save(tmp_path / "neg")
    t = pd.read_csv(out / "test_scores.csv.gz")
    test = t[t["dataset"] == "test"]
    assert (test["set"] == "negative").sum() == edge_result.n_negatives
    assert (
        test["set"] == "degree_matched_negative"
    ).sum() == edge_result.n_negatives_degree_matched


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
    assert any("degree beats cal on AUC" in x for x in w)
    assert any("cosine beats cal on MRR" in x for x in w)
    assert not any("cross-boundary" in x for x in w)
    assert len(w) == 2
