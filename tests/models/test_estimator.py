"""The sklearn-style estimator: fit/transform/score/query, save/load without pickle."""

import json

import numpy as np
import pandas as pd
import pytest

from calbio import CAL
from calbio.core.errors import CalbioInputError, OutputExistsError


@pytest.fixture(scope="module")
def fitted(synthetic, tiny):
    return CAL(random_state=0, **tiny).fit(synthetic.embeddings, synthetic.pairs)


def test_fit_returns_self_and_fitted_attributes(synthetic, tiny) -> None:
    model = CAL(random_state=0, **tiny)
    assert model.fit(synthetic.embeddings, synthetic.pairs) is model
    n = len(synthetic.embeddings)
    assert model.association_.shape == model.embedding_.shape == (n, synthetic.embeddings.dim)
    np.testing.assert_allclose(np.linalg.norm(model.association_, axis=1), 1, atol=1e-5)
    assert len(model.train_pairs_) == len(synthetic.pairs)
    assert model.config.seed == 0 and model.config.hidden == 32


def test_unfitted_raises() -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CAL().transform()


def test_transform_new_rows_matches_table(fitted, synthetic) -> None:
    np.testing.assert_allclose(
        fitted.transform(synthetic.embeddings.X[:5]), fitted.association_[:5], atol=1e-5
    )
    with pytest.raises(CalbioInputError):
        fitted.transform(np.ones((2, 3)))


def test_score_pairs_accepts_names_indices_frames(fitted, synthetic) -> None:
    a, b = synthetic.pairs.a[:4], synthetic.pairs.b[:4]
    by_name = fitted.score_pairs(list(zip(a, b)))
    idx = np.array([[fitted.index_of(x), fitted.index_of(y)] for x, y in zip(a, b)])
    np.testing.assert_allclose(fitted.score_pairs(idx), by_name)
    np.testing.assert_allclose(fitted.score_pairs(pd.DataFrame({"a": a, "b": b})), by_name)
    cos = fitted.score_pairs(idx, kind="cosine")
    np.testing.assert_allclose(
        cos, (fitted.embedding_[idx[:, 0]] * fitted.embedding_[idx[:, 1]]).sum(1), atol=1e-6
    )


def test_query_ranks_and_flags(fitted) -> None:
    name = fitted.names_[fitted.train_pairs_[0, 0]]
    q = fitted.query(name, top=15)
    assert len(q) == 15 and (np.diff(q["association"]) <= 1e-9).all()
    assert name not in set(q["partner"])
    i0 = fitted.index_of(name)
    others = np.array([[i0, j] for j in range(len(fitted.names_)) if j != i0])
    brute = np.sort(fitted.score_pairs(others))[::-1][:15]  # exact search equals brute force
    np.testing.assert_allclose(q["association"].to_numpy(), brute, atol=1e-5)
    i = fitted.index_of(name)
    partners = set(fitted.train_pairs_[fitted.train_pairs_[:, 0] == i, 1]) | set(
        fitted.train_pairs_[fitted.train_pairs_[:, 1] == i, 0]
    )
    flagged = {fitted.index_of(p) for p in q.loc[q["training_pair"], "partner"]}
    assert flagged == {fitted.index_of(p) for p in q["partner"]} & partners
    assert fitted.query(name.lower(), top=3)["partner"].tolist() == q["partner"][:3].tolist()
    with pytest.raises(CalbioInputError):
        fitted.query("NOT_A_GENE")


def test_pca_preprocessing(synthetic, tiny) -> None:
    model = CAL(random_state=0, pca=8, **tiny).fit(synthetic.embeddings, synthetic.pairs)
    assert model.embedding_.shape[1] == 8 and model.n_features_in_ == synthetic.embeddings.dim
    with pytest.raises(CalbioInputError):
        CAL(pca=500, **tiny).fit(synthetic.embeddings, synthetic.pairs)


def test_save_load_round_trip_without_pickle(fitted, synthetic, tmp_path) -> None:
    out = fitted.save(tmp_path / "model")
    files = {p.name for p in out.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "metadata.json",
        "entities.csv",
        "train_pairs.csv",
        "loss_curve.csv",
    } <= files
    assert not any(f.endswith((".pkl", ".pt", ".pickle")) for f in files)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["seed"] == 0 and meta["synthetic"] is True
    assert {"calbio", "torch", "numpy"} <= meta.keys()
    loaded = CAL.load(out)
    np.testing.assert_allclose(loaded.association_, fitted.association_, atol=1e-6)
    np.testing.assert_array_equal(loaded.train_pairs_, fitted.train_pairs_)
    idx = fitted.train_pairs_[:10]
    np.testing.assert_allclose(loaded.score_pairs(idx), fitted.score_pairs(idx), atol=1e-6)
    with pytest.raises(OutputExistsError):
        fitted.save(out)
    fitted.save(out, force=True)


def test_load_rejects_non_model_dir(tmp_path) -> None:
    with pytest.raises(CalbioInputError, match="not a calbio model"):
        CAL.load(tmp_path)


def test_bad_options_are_input_errors_at_fit(synthetic) -> None:
    # sklearn contract: __init__ only stores; validation happens in fit
    for bad in (CAL(negatives="nonsense"), CAL(preset="nonsense"), CAL(score="nonsense")):
        with pytest.raises(CalbioInputError):
            bad.fit(synthetic.embeddings, synthetic.pairs)


# kills the mutation cal_load_drops_pca (tests/mutations/run.py)


def test_cal_pca_round_trips_through_save_load(synthetic, tiny, tmp_path) -> None:
    model = CAL(random_state=0, pca=5, **tiny).fit(synthetic.embeddings, synthetic.pairs)
    arrays, _ = model._get_state()
    assert {"pca.mean", "pca.components"} <= set(arrays)
    assert all(np.asarray(v).flags.c_contiguous for v in arrays.values())
    loaded = CAL.load(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.pca_components_, model.pca_components_)
    np.testing.assert_array_equal(loaded.pca_mean_, model.pca_mean_)
    raw = synthetic.embeddings.X[:20] * 3.0 + 0.5  # new rows, not the fitted table
    np.testing.assert_allclose(loaded.transform(raw), model.transform(raw), atol=1e-6)
