"""Context tables: long tables, per-context tables, AnnData, covariates, pair mapping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calbio.core.errors import CalbioInputError
from calbio.data.context import (
    ContextPairs,
    context_embeddings_from_anndata,
    context_embeddings_from_frame,
    context_embeddings_from_tables,
    context_pairs_from_frame,
    depmap_lineage_embeddings,
    load_context_pairs,
    load_context_table,
    map_context_pairs,
)


def long_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for ctx, line, dose in (("A@1", "A", 0.0), ("A@10", "A", 1.0), ("B@1", "B", 0.0)):
        for e in ("g1", "g2", "g3", "g4"):
            if ctx == "B@1" and e == "g4":
                continue  # g4 not measured in B@1
            rows.append({"gene": e, "ctx": ctx, "line": line, "log_dose": dose})
    df = pd.DataFrame(rows)
    feats = pd.DataFrame(rng.normal(size=(len(df), 3)), columns=["x", "y", "z"])
    return pd.concat([df, feats], axis=1)


def test_long_table_parsing_labels_and_covariates():
    ce = context_embeddings_from_frame(
        long_frame(), "gene", "ctx", label_column="line", covariate_columns=["log_dose"]
    )
    assert ce.n_entities == 4 and ce.n_contexts == 3 and ce.dim == 3 and len(ce) == 11
    assert list(ce.labels) == ["A", "A", "B"]
    assert ce.covariates.loc["A@10", "log_dose"] == 1.0
    # row lookup: g4 missing in B@1, present elsewhere
    g4, b1 = ce.entity_index()["g4"], ce.context_of("B@1")
    assert ce.row_of[b1, g4] == -1
    assert ce.row_of[ce.context_of("A@1"), g4] >= 0
    sub = ce.embeddings_for("A@10")
    assert len(sub) == 4 and sub.dim == 3
    back = ce.to_frame()
    assert {"entity", "context", "label", "log_dose", "f0"} <= set(back.columns)


def test_long_table_errors():
    df = long_frame()
    with pytest.raises(CalbioInputError, match="not found"):
        context_embeddings_from_frame(df, "nope", "ctx")
    dup = pd.concat([df, df.iloc[:1]])
    with pytest.raises(CalbioInputError, match="appears twice"):
        context_embeddings_from_frame(dup, "gene", "ctx", label_column="line")
    bad = df.copy()
    bad.loc[0, "log_dose"] = 5.0  # covariate varies inside context A@1
    with pytest.raises(CalbioInputError, match="varies within"):
        context_embeddings_from_frame(bad, "gene", "ctx", covariate_columns=["log_dose"])
    nan = df.copy()
    nan.loc[2, "x"] = np.nan
    with pytest.raises(CalbioInputError, match="missing"):
        context_embeddings_from_frame(nan, "gene", "ctx", label_column="line")


def test_file_roundtrip_csv_and_h5ad(tmp_path):
    df = long_frame()
    p = tmp_path / "t.tsv"
    df.to_csv(p, sep="\t", index=False)
    ce = load_context_table(p, "gene", "ctx", label_column="line", covariate_columns=["log_dose"])
    assert ce.n_contexts == 3 and ce.dim == 3
    import anndata

    ad = anndata.AnnData(
        X=df[["x", "y", "z"]].to_numpy(np.float32),
        obs=df[["gene", "ctx", "line", "log_dose"]].astype({"log_dose": float}),
    )
    ad.obs_names = [f"r{i}" for i in range(len(df))]
    h = tmp_path / "t.h5ad"
    ad.write_h5ad(h)
    ce2 = load_context_table(h, "gene", "ctx", label_column="line", covariate_columns=["log_dose"])
    assert np.allclose(np.sort(ce2.X.ravel()), np.sort(ce.X.ravel()), atol=1e-6)
    ce3 = context_embeddings_from_anndata(ad, "gene", "ctx")
    assert list(ce3.labels) == list(ce3.contexts)
    with pytest.raises(CalbioInputError, match="file not found"):
        load_context_table(tmp_path / "missing.csv")


def test_one_table_per_context():
    rng = np.random.default_rng(1)
    t1 = pd.DataFrame(rng.normal(size=(3, 4)), index=["a", "b", "c"])
    t2 = pd.DataFrame(rng.normal(size=(2, 4)), index=["b", "d"])
    cov = pd.DataFrame({"time": [1.0, 2.0]}, index=["c1", "c2"])
    ce = context_embeddings_from_tables({"c1": t1, "c2": t2}, covariates=cov)
    assert ce.n_entities == 4 and len(ce) == 5
    assert ce.row_of[ce.context_of("c2"), ce.entity_index()["a"]] == -1
    with pytest.raises(CalbioInputError, match="feature count"):
        context_embeddings_from_tables({"c1": t1, "c2": t2.iloc[:, :3]})


def test_context_free_pairs_expand_to_every_context_where_measured():
    ce = context_embeddings_from_frame(long_frame(), "gene", "ctx", label_column="line")
    prs = ContextPairs(["g1", "g2", "G1"], ["g4", "g3", "g4"], [None, None, None])
    m = map_context_pairs(prs, ce)
    # (g1,g4) only where g4 is measured (A@1, A@10); duplicate G1/g4 collapses; (g2,g3) everywhere
    assert len(m) == 2 + 3
    g4 = ce.entity_index()["g4"]
    assert not ((m.context == ce.context_of("B@1")) & (m.idx == g4).any(axis=1)).any()


def test_context_specific_pairs(tmp_path):
    ce = context_embeddings_from_frame(long_frame(), "gene", "ctx", label_column="line")
    df = pd.DataFrame({"a": ["g1", "g2", "g1"], "b": ["g2", "g3", "g3"], "c": ["A@1", "B@1", "zz"]})
    p = tmp_path / "p.csv"
    df.to_csv(p, index=False)
    prs = load_context_pairs(p, context_column="c")
    assert not prs.context_free
    m = map_context_pairs(prs, ce)
    assert len(m) == 2 and m.stats["n_unknown_context"] == 1
    assert sorted(ce.contexts[m.context]) == ["A@1", "B@1"]
    with pytest.raises(CalbioInputError, match="map onto"):
        map_context_pairs(context_pairs_from_frame(pd.DataFrame({"a": ["x"], "b": ["y"]})), ce)


@pytest.mark.realdata
def test_depmap_lineages_preserve_within_lineage_geometry(shared_data):
    ce = depmap_lineage_embeddings(shared_data)
    assert ce.n_contexts == 3 and ce.dim == 50 and ce.n_entities == 2732
    assert [len(v) for v in ce.meta["cell_lines"].values()] == [24, 63, 37]
    # the shared representation is an isometry of the centred rank-50 profiles
    W = pd.read_csv(shared_data / "embeddings/depmap_crispr_gene_effect_pca50.csv", index_col=0)
    S = pd.read_csv(
        shared_data / "embeddings/depmap_crispr_cell_line_scores_pca50.csv.gz", index_col=0
    )
    S = S.loc[ce.meta["cell_lines"]["liver"], W.columns].to_numpy()
    prof = W.to_numpy() @ (S - S.mean(0)).T  # genes x lines
    X = ce.embeddings_for("liver").X.astype(np.float64)
    sel = np.arange(0, 2732, 97)
    assert np.allclose(X[sel] @ X[sel].T, prof[sel] @ prof[sel].T, rtol=1e-3, atol=1e-4)
    # lineages differ
    assert not np.allclose(X, ce.embeddings_for("melanoma").X)
