"""Tests for calbio.data.embeddings: every format, every validation error, property tests."""

from __future__ import annotations

import gzip
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import calbio
from calbio.core.errors import CalbioInputError
from calbio.core.io import sha256_file
from calbio.data.embeddings import embeddings_from_array, embeddings_from_frame, load_embeddings

NAMES = ["TP53", "BRCA1", "MYC", "EGFR"]
X = np.array(
    [[1.0, 0.5, -0.25], [0.0, 2.0, 1.0], [3.0, -1.0, 0.0], [0.125, 0.25, 0.5]], dtype=np.float32
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(X, index=pd.Index(NAMES, name="gene"), columns=["f0", "f1", "f2"])


def _check(emb, fmt: str, path: Path | None = None) -> None:
    assert list(emb.names) == NAMES
    assert emb.X.dtype == np.float32
    np.testing.assert_allclose(emb.X, X)
    assert emb.meta["format"] == fmt
    assert emb.meta["n_rows_read"] == 4
    assert emb.meta["n_dropped_regex"] == 0
    assert emb.meta["n_deduplicated"] == 0
    if path is not None:
        assert emb.source == str(path)
        assert emb.sha256 == sha256_file(path)


def _raises(path, match: str, **kw) -> CalbioInputError:
    with pytest.raises(CalbioInputError, match=match) as info:
        load_embeddings(path, **kw)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)
    return info.value


# ---------------------------------------------------------------- formats


def test_csv(tmp_path: Path) -> None:
    path = tmp_path / "emb.csv"
    _frame().to_csv(path)
    emb = load_embeddings(path)
    _check(emb, "csv", path)
    assert emb.meta["id_column"] == "gene"


def test_tsv_and_txt_sniff_tab(tmp_path: Path) -> None:
    for name in ("emb.tsv", "emb.txt"):
        path = tmp_path / name
        _frame().to_csv(path, sep="\t")
        emb = load_embeddings(path)
        _check(emb, "tsv" if name.endswith(".tsv") else "csv", path)
        assert emb.meta["separator"] == "tab"


def test_csv_gz(tmp_path: Path) -> None:
    path = tmp_path / "emb.csv.gz"
    with gzip.open(path, "wt") as fh:
        _frame().to_csv(fh)
    _check(load_embeddings(path), "csv.gz", path)


def test_tsv_gz(tmp_path: Path) -> None:
    path = tmp_path / "emb.tsv.gz"
    with gzip.open(path, "wt") as fh:
        _frame().to_csv(fh, sep="\t")
    _check(load_embeddings(path), "tsv.gz", path)


def test_csv_id_column_not_first(tmp_path: Path) -> None:
    path = tmp_path / "emb.csv"
    df = _frame().reset_index()
    df = df[["f0", "gene", "f1", "f2"]]
    df.to_csv(path, index=False)
    emb = load_embeddings(path, id_column="gene")
    assert list(emb.names) == NAMES
    np.testing.assert_allclose(emb.X, X[:, [0, 1, 2]])
    _raises(path, "id column 'nope' not found", id_column="nope")


def test_csv_identifiers_stripped_and_na_like_names_kept(tmp_path: Path) -> None:
    path = tmp_path / "emb.csv"
    path.write_text("id,a,b\n  NA ,1,2\nNULL,3,4\n007,5,6\n")
    emb = load_embeddings(path)
    assert list(emb.names) == ["NA", "NULL", "007"]


def test_parquet_with_column_and_index(tmp_path: Path) -> None:
    path = tmp_path / "emb.parquet"
    _frame().reset_index().to_parquet(path)
    _check(load_embeddings(path), "parquet", path)
    path2 = tmp_path / "emb2.pq"
    _frame().to_parquet(path2)  # identifiers in the index
    _check(load_embeddings(path2), "parquet", path2)
    path3 = tmp_path / "emb3.parquet"
    df = _frame().reset_index()
    df.insert(0, "num", [1, 2, 3, 4])
    df.to_parquet(path3)
    emb = load_embeddings(path3, id_column="gene")
    assert list(emb.names) == NAMES
    assert emb.dim == 4


def test_parquet_without_identifier(tmp_path: Path) -> None:
    path = tmp_path / "emb.parquet"
    pd.DataFrame(X).rename(columns=str).to_parquet(path)
    _raises(path, "cannot find an identifier column")


def test_npy_with_names(tmp_path: Path) -> None:
    path = tmp_path / "emb.npy"
    np.save(path, X)
    names = tmp_path / "names.txt"
    names.write_text("\n".join(NAMES) + "\n\n")
    emb = load_embeddings(path, names_file=names)
    _check(emb, "npy", path)


def test_npy_errors(tmp_path: Path) -> None:
    path = tmp_path / "emb.npy"
    np.save(path, X)
    _raises(path, "needs a names file")
    short = tmp_path / "short.txt"
    short.write_text("A\nB\n")
    _raises(path, "has 2 identifiers", names_file=short)
    with pytest.raises(CalbioInputError, match="names file not found"):
        load_embeddings(path, names_file=tmp_path / "missing.txt")
    vec = tmp_path / "vec.npy"
    np.save(vec, np.ones(4))
    _raises(vec, "2-D", names_file=short)


def _replogle_h5ad(path: Path, sparse: bool = False) -> np.ndarray:
    genes = [("10015_ACTB_P1P2_ENSG00000075624", "ACTB", "P1P2", "ENSG00000075624")]
    genes += [("1023_TP53_P1_ENSG00000141510", "TP53", "P1", "ENSG00000141510")]
    genes += [("2877_MYC_P1P2_ENSG00000136997", "MYC", "P1P2", "ENSG00000136997")]
    controls = [
        (f"{9000 + i}_non-targeting_non-targeting_non-targeting", "non-targeting") for i in range(3)
    ]
    rows = [
        {"name": n, "gene": g, "transcript": t, "gene_id": e, "gene_transcript": n}
        for n, g, t, e in genes
    ]
    rows += [
        {
            "name": n,
            "gene": g,
            "transcript": "non-targeting",
            "gene_id": "non-targeting",
            "gene_transcript": n,
        }
        for n, g in controls
    ]
    obs = pd.DataFrame(rows).set_index("name")
    obs.index.name = None
    rng = np.random.default_rng(0)
    values = rng.normal(size=(len(obs), 7)).astype(np.float32)
    pca = rng.normal(size=(len(obs), 5)).astype(np.float32)
    ad = anndata.AnnData(
        X=sp.csr_matrix(values) if sparse else values,
        obs=obs,
        var=pd.DataFrame(index=[f"g{i}" for i in range(7)]),
        layers={"pca": np.pad(pca, ((0, 0), (0, 2)))},
    )
    ad.write_h5ad(path)
    return values


def test_h5ad_obs_names(tmp_path: Path) -> None:
    path = tmp_path / "K562_essential_normalized_bulk_01.h5ad"
    values = _replogle_h5ad(path)
    emb = load_embeddings(path)
    assert emb.names[0] == "10015_ACTB_P1P2_ENSG00000075624"
    assert len(emb) == 6
    np.testing.assert_allclose(emb.X, values)
    assert emb.meta["format"] == "h5ad"
    assert emb.meta["id_column"] == "obs_names"
    assert emb.sha256 == sha256_file(path)


def test_h5ad_gene_column_drop_controls(tmp_path: Path) -> None:
    path = tmp_path / "rep.h5ad"
    values = _replogle_h5ad(path, sparse=True)
    # without dropping, the controls are duplicate identifiers
    _raises(path, "duplicate identifier.*non-targeting", id_column="gene")
    emb = load_embeddings(path, id_column="gene", drop="non-targeting")
    assert list(emb.names) == ["ACTB", "TP53", "MYC"]
    np.testing.assert_allclose(emb.X, values[:3])
    assert emb.meta["n_dropped_regex"] == 3
    assert emb.meta["n_rows_read"] == 6
    assert emb.meta["id_column"] == "gene"


def test_h5ad_layer(tmp_path: Path) -> None:
    path = tmp_path / "rep.h5ad"
    _replogle_h5ad(path)
    emb = load_embeddings(path, id_column="gene", layer="pca", drop="^non-targeting$")
    assert emb.dim == 7
    assert emb.meta["layer"] == "pca"
    _raises(path, "layer 'nope' not found", layer="nope")
    _raises(path, "obs column 'symbol' not found", id_column="symbol")


def test_h5ad_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "x.h5ad"
    path.write_bytes(b"\x00garbage bytes, certainly not HDF5" * 20)
    _raises(path, "cannot read h5ad")


def test_from_frame_and_array() -> None:
    emb = embeddings_from_frame(_frame())
    assert list(emb.names) == NAMES
    assert emb.source == "dataframe" and emb.sha256 is None
    emb2 = embeddings_from_array(X.astype(np.float64), NAMES)
    np.testing.assert_allclose(emb2.X, X)
    assert emb2.X.dtype == np.float32
    with pytest.raises(CalbioInputError, match="zero norm"):
        embeddings_from_array(np.zeros((2, 3)), ["a", "b"], source="mine")
    with pytest.raises(CalbioInputError, match="^mine: 2 identifiers but 3 rows"):
        embeddings_from_array(np.ones((3, 3)), ["a", "b"], source="mine")
    bad = _frame().assign(txt="x")
    with pytest.raises(CalbioInputError, match="'txt' is not numeric"):
        embeddings_from_frame(bad)


# ---------------------------------------------------------------- bad input


def _write(tmp_path: Path, text: str, name: str = "emb.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_missing_file(tmp_path: Path) -> None:
    _raises(tmp_path / "nope.csv", "file not found")


def test_unsupported_suffix(tmp_path: Path) -> None:
    _raises(_write(tmp_path, "a,b\n", "emb.xlsx"), "unsupported embedding format")


def test_empty_file(tmp_path: Path) -> None:
    _raises(_write(tmp_path, ""), "empty")
    _raises(_write(tmp_path, "\n\n  \n", "blank.csv"), "empty")
    _raises(_write(tmp_path, "id,a,b\n", "header.csv"), "no rows")
    _raises(_write(tmp_path, "id\nA\nB\n", "ids.csv"), "no feature columns")


def test_nan_rows(tmp_path: Path) -> None:
    err = _raises(_write(tmp_path, "id,a,b\nA,1,\nB,1,2\nC,NaN,1\n"), "2 rows with NaN")
    assert "'A'" in err.problem and "'C'" in err.problem


def test_inf_rows(tmp_path: Path) -> None:
    _raises(_write(tmp_path, "id,a,b\nA,1,inf\nB,1,2\n"), "1 row with infinite")
    _raises(_write(tmp_path, "id,a,b\nA,1,1e300\nB,1,2\n", "big.csv"), "too large for float32")


def test_duplicates_and_dedupe(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,a,b\nA,1,2\nB,3,4\nA,3,6\nC,1,1\nB,5,6\n")
    err = _raises(path, "2 duplicate identifiers")
    assert "'A'" in err.problem and "'B'" in err.problem
    first = load_embeddings(path, dedupe="first")
    assert list(first.names) == ["A", "B", "C"]
    np.testing.assert_allclose(first.X, [[1, 2], [3, 4], [1, 1]])
    assert first.meta["n_deduplicated"] == 2
    mean = load_embeddings(path, dedupe="mean")
    assert list(mean.names) == ["A", "B", "C"]
    np.testing.assert_allclose(mean.X, [[2, 4], [4, 5], [1, 1]])
    assert mean.meta["n_deduplicated"] == 2
    _raises(path, "dedupe must be", dedupe="last")


def test_duplicates_after_strip(tmp_path: Path) -> None:
    _raises(_write(tmp_path, "id,a\nA,1\n A ,2\n"), "duplicate identifier")


def test_zero_norm(tmp_path: Path) -> None:
    text = "id,a,b\nA,0,0\nB,1,2\nC,0,0.0\nD,0,0\nE,0,-0\n"
    err = _raises(_write(tmp_path, text), "4 rows with all-zero values")
    assert "'A', 'C', 'D' and 1 more" in err.problem


def test_zero_norm_after_mean_dedupe(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,a\nA,1\nA,-1\nB,2\n")
    _raises(path, "zero norm", dedupe="mean")


def test_non_numeric_column(tmp_path: Path) -> None:
    err = _raises(_write(tmp_path, "id,a,b\nA,1,x\nB,2,3\n"), "column 'b' is not numeric")
    assert "'x'" in err.problem and "'A'" in err.problem


def test_empty_identifier(tmp_path: Path) -> None:
    _raises(_write(tmp_path, "id,a\nA,1\n,2\n"), "empty identifier")


def test_drop_regex(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,a\nA,1\nctrl_1,2\nB,3\nctrl_2,0\n")
    emb = load_embeddings(path, drop="^ctrl_")
    assert list(emb.names) == ["A", "B"]
    assert emb.meta["n_dropped_regex"] == 2
    _raises(path, "all 4 rows were removed", drop=".")
    _raises(path, "invalid drop regex", drop="(")


def test_bad_gzip(tmp_path: Path) -> None:
    path = tmp_path / "emb.csv.gz"
    path.write_bytes(b"not gzip at all")
    _raises(path, "cannot read")


def test_options_for_wrong_format(tmp_path: Path) -> None:
    path = tmp_path / "emb.csv"
    _frame().to_csv(path)
    _raises(path, "layer only applies", layer="pca")
    _raises(path, "names_file only applies", names_file=tmp_path / "n.txt")


# ---------------------------------------------------------------- properties

_cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["", "NA", "x", "1e400", "-0", '"', "a,b", " 3 "]),
)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    header=st.lists(st.sampled_from(["id", "a", "b", "c", ""]), min_size=1, max_size=4),
    rows=st.lists(
        st.tuples(st.sampled_from(["A", "B", "c", " C", ""]), st.lists(_cell, max_size=4)),
        max_size=5,
    ),
)
def test_random_csv_never_crashes(tmp_path: Path, header: list[str], rows: list) -> None:
    text = ",".join(header) + "\n" + "".join(f"{n},{','.join(c)}\n" for n, c in rows)
    path = tmp_path / "rand.csv"
    path.write_text(text)
    try:
        emb = load_embeddings(path)
    except CalbioInputError as exc:
        assert exc.path == str(path)
        assert "\n" not in str(exc)
        return
    assert emb.X.dtype == np.float32
    assert np.isfinite(emb.X).all()
    assert (np.abs(emb.X).sum(axis=1) > 0).all()
    assert len(set(emb.names)) == len(emb.names)


@settings(max_examples=30, deadline=None)
@given(
    arr=st.lists(
        st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=2),
        min_size=1,
        max_size=6,
    )
)
def test_from_array_property(arr: list) -> None:
    X_ = np.array(arr)
    names = [f"g{i}" for i in range(len(arr))]
    try:
        emb = embeddings_from_array(X_, names)
    except CalbioInputError as exc:
        if "too small or too large" in str(exc):  # norm under/overflows float32 (hardening §4)
            norms = np.linalg.norm(X_.astype(np.float32).astype(np.float64), axis=1)
            assert (norms < 1e-18).any()
            return
        assert "zero norm" in str(exc)
        assert (~np.any(X_.astype(np.float32) != 0, axis=1)).any()
        return
    np.testing.assert_array_equal(emb.X, X_.astype(np.float32))


# ---------------------------------------------------------------- real data


@pytest.mark.realdata
def test_real_depmap_embedding(shared_file) -> None:
    path = shared_file("embeddings", "depmap_crispr_gene_effect_pca50.csv")
    emb = load_embeddings(path, id_column="genes")
    assert emb.X.shape == (2732, 50)
    assert emb.meta["id_column"] == "genes"
    assert np.isfinite(emb.X).all()
    scores = shared_file("embeddings", "depmap_crispr_cell_line_scores_pca50.csv.gz")
    cells = load_embeddings(scores)
    assert cells.X.shape == (1095, 50)
    assert cells.names[0].startswith("ACH-")


def test_csv_with_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffgenes,a\nA,1\nB,2\n".encode())
    emb = load_embeddings(path, id_column="genes")
    assert list(emb.names) == ["A", "B"]


def _adata(n: int = 12, d: int = 5) -> anndata.AnnData:
    rng = np.random.default_rng(0)
    ad = anndata.AnnData(
        X=rng.normal(size=(n, d)).astype(np.float32),
        obs=pd.DataFrame(
            {"symbol": [f"S{i}" for i in range(n)]}, index=[f"g{i}" for i in range(n)]
        ),
    )
    ad.layers["raw"] = ad.X * 2
    ad.obsm["X_pca"] = rng.normal(size=(n, 3))
    return ad


def test_load_embeddings_from_anndata_x_layer_obsm():
    ad = _adata()
    e = calbio.load_embeddings(ad)
    assert e.names[0] == "g0" and e.X.shape == (12, 5)
    np.testing.assert_allclose(e.X, ad.X)
    e = calbio.load_embeddings(ad, layer="raw", id_column="symbol")
    assert e.names[3] == "S3"
    np.testing.assert_allclose(e.X, ad.X * 2)
    e = calbio.load_embeddings(ad, obsm="X_pca")
    assert e.X.shape == (12, 3) and e.meta["obsm"] == "X_pca"
    with pytest.raises(CalbioInputError, match="obsm key 'X_umap' not found.*X_pca"):
        calbio.load_embeddings(ad, obsm="X_umap")
    with pytest.raises(CalbioInputError, match="layer 'nope' not found"):
        calbio.load_embeddings(ad, layer="nope")
    with pytest.raises(CalbioInputError, match="not both"):
        calbio.load_embeddings(ad, layer="raw", obsm="X_pca")


def test_load_embeddings_from_frame_embeddings_and_h5ad_obsm(tmp_path):
    ad = _adata()
    df = pd.DataFrame(ad.X, index=ad.obs_names)
    e = calbio.load_embeddings(df)
    assert list(e.names[:2]) == ["g0", "g1"]
    assert calbio.load_embeddings(e) is e
    withcol = df.reset_index(names="gene")
    assert calbio.load_embeddings(withcol, id_column="gene").names[1] == "g1"
    path = tmp_path / "a.h5ad"
    ad.write_h5ad(path)
    e = calbio.load_embeddings(path, obsm="X_pca")
    assert e.X.shape == (12, 3)
    with pytest.raises(CalbioInputError, match="expected a file path, AnnData"):
        calbio.load_embeddings(42)


@pytest.mark.parametrize("scale", [1e-30, 1e30, 1e-20, 1e20])
def test_extreme_norm_rows_named(scale) -> None:
    from calbio.data.embeddings import embeddings_from_array

    X = np.random.default_rng(0).normal(size=(6, 4))
    X[2] *= scale
    X[4] *= scale
    with pytest.raises(CalbioInputError, match="too small or too large") as exc:
        embeddings_from_array(X, [f"g{i}" for i in range(6)])
    assert "g2" in str(exc.value) and "g4" in str(exc.value) and "g1 " not in str(exc.value)
    ok = embeddings_from_array(X[[0, 1, 3, 5]] * 1e6, ["a", "b", "c", "d"])
    assert np.isfinite(ok.X).all()
