"""AnnData write-back: X_cal, cal_cluster and uns params added; everything else untouched."""

from __future__ import annotations

import json
import logging

import anndata
import numpy as np
import pandas as pd
import pytest

from calbio.analysis.anndata_io import add_association_space, transform_h5ad
from calbio.core.errors import CalbioInputError, OutputExistsError
from calbio.data.synthetic import make_synthetic
from calbio.models.cal.estimator import CAL


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    syn = make_synthetic(n_entities=120, dim=8, n_pairs=400, seed=3)
    model = CAL("paper", random_state=0, epochs=1, hidden=16, batch_size=64)
    model.fit(syn.embeddings, syn.pairs)
    d = tmp_path_factory.mktemp("m") / "model"
    model.save(d)
    return d, syn.embeddings


def make_adata(X: np.ndarray, names) -> anndata.AnnData:
    ad = anndata.AnnData(
        X=X.copy(),
        obs=pd.DataFrame(
            {"batch": pd.Categorical(["a", "b"] * (len(names) // 2))}, index=list(names)
        ),
        var=pd.DataFrame({"feature": [f"f{i}" for i in range(X.shape[1])]}).set_index(
            "feature", drop=False
        ),
    )
    ad.layers["raw"] = X * 2
    ad.obsm["X_pca"] = X[:, :3].copy()
    ad.uns["note"] = "keep me"
    return ad


def test_transform_round_trip_keeps_everything_else(model_dir, tmp_path):
    d, emb = model_dir
    src = tmp_path / "in.h5ad"
    ad = make_adata(emb.X[:100], emb.names[:100])
    ad.write_h5ad(src)
    out = tmp_path / "out.h5ad"
    info = transform_h5ad(d, src, out)
    assert info["mode"] == "transform" and info["n_mapped"] == 100
    back = anndata.read_h5ad(out)
    model = CAL.load(d)
    np.testing.assert_allclose(back.obsm["X_cal"], model.transform(emb.X[:100]), atol=1e-5)
    # rows of the fitted table map onto the same association vectors as the fit
    np.testing.assert_allclose(back.obsm["X_cal"], model.association_[:100], atol=1e-5)
    labels = back.obs["cal_cluster"]
    assert isinstance(labels.dtype, pd.CategoricalDtype)
    assert set(labels.astype(str)) <= {str(i) for i in range(-1, 100)}
    p = back.uns["cal"]["params"]
    assert p["mode"] == "transform" and int(p["min_cluster_size"]) == 5
    assert int(p["train"]["hidden"]) == 16
    # everything else untouched
    orig = anndata.read_h5ad(src)
    np.testing.assert_array_equal(back.X, orig.X)
    np.testing.assert_array_equal(back.layers["raw"], orig.layers["raw"])
    np.testing.assert_array_equal(back.obsm["X_pca"], orig.obsm["X_pca"])
    pd.testing.assert_frame_equal(back.var, orig.var)
    pd.testing.assert_series_equal(back.obs["batch"], orig.obs["batch"])
    assert list(back.obs_names) == list(orig.obs_names)
    assert back.uns["note"] == "keep me"
    assert set(back.obsm) == {"X_pca", "X_cal"}
    with pytest.raises(OutputExistsError):
        transform_h5ad(d, src, out)


def test_lookup_mode_gives_nan_rows_and_no_cluster_for_unknown_entities(model_dir):
    d, emb = model_dir
    model = CAL.load(d)
    names = list(emb.names[:20]) + ["NOT_A_GENE_1", "NOT_A_GENE_2"]
    ad = make_adata(np.ones((22, 5), np.float32), names)  # 5 features != 8: lookup by name
    info = add_association_space(ad, model, min_cluster_size=3, min_samples=2)
    assert info["mode"] == "lookup" and info["n_mapped"] == 20
    Z = ad.obsm["X_cal"]
    np.testing.assert_allclose(Z[:20], model.association_[:20])
    assert np.isnan(Z[20:]).all()
    assert ad.obs["cal_cluster"].iloc[20:].isna().all()  # unmapped: missing, not noise
    assert ad.obs["cal_cluster"].iloc[:20].notna().all()
    assert "id_column" not in ad.uns["cal"]["params"]  # unset: left out, never the string 'None'
    assert "None" not in repr(ad.uns["cal"]["params"])


def test_bad_inputs(model_dir, tmp_path):
    d, emb = model_dir
    model = CAL.load(d)
    ad = make_adata(np.ones((4, 5), np.float32), ["x1", "x2", "x3", "x4"])
    with pytest.raises(CalbioInputError, match="no observation name"):
        add_association_space(ad, model)
    with pytest.raises(CalbioInputError, match="transform mode"):
        add_association_space(ad, model, mode="transform")
    with pytest.raises(CalbioInputError, match="layer"):
        add_association_space(ad, model, layer="missing")
    with pytest.raises(CalbioInputError, match=".h5ad"):
        transform_h5ad(d, tmp_path / "in.h5ad", tmp_path / "out.txt")


def test_transform_warns_on_other_table_and_keeps_noise_apart(saved_cal, synthetic, caplog):
    m, _ = saved_cal
    X = synthetic.embeddings.X.copy()
    names = list(synthetic.embeddings.names)
    ad = anndata.AnnData(X=X, obs=pd.DataFrame(index=names))
    info = add_association_space(ad, m, min_cluster_size=5, min_samples=3)
    assert info["warnings"] == []  # the training table itself
    params = ad.uns["cal"]["params"]
    assert "None" not in json.dumps(params) and "layer" not in params
    labels = ad.obs["cal_cluster"]
    assert labels.notna().all() and "-1" in set(labels.astype(str))  # noise is -1, not NaN
    rng = np.random.default_rng(1)
    other = anndata.AnnData(X=X + rng.normal(0, 0.5, X.shape).astype(np.float32))
    other.obs_names = names
    with caplog.at_level(logging.WARNING, logger="calbio"):
        info = add_association_space(other, m, cluster=False)
    assert info["warnings"] and "differ from the table the model was fitted on" in caplog.text
    assert other.obs["cal_cluster"].isna().all()  # not clustered: missing, not noise
