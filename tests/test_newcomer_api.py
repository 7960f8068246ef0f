"""Issue 14 §1: in-memory inputs, reprs, logging and progress for a Python user."""

from __future__ import annotations

import io
import logging

import anndata
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import calbio
from calbio.core.errors import CalbioInputError
from calbio.core.logs import LogProgress, setup_logging, training_progress, verbosity_level
from calbio.data.types import Embeddings, MappedPairs, Pairs


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


def test_load_pairs_from_frame_list_and_pairs():
    p = calbio.load_pairs([("A", "B"), ("B", "C"), ("B", "A")])
    assert len(p) == 2  # the reversed duplicate is dropped, as for files
    df = pd.DataFrame({"gene_a": ["A", "B"], "gene_b": ["B", "C"], "score": [900, 950]})
    p2 = calbio.load_pairs(df, min_score={"score": 920})
    assert len(p2) == 1 and p2.a[0] == "B"
    assert calbio.load_pairs(p) is p
    arr = np.array([["A", "B"], ["C", "D"]], dtype=object)
    assert len(calbio.load_pairs(arr)) == 2
    with pytest.raises(CalbioInputError, match="exactly two items"):
        calbio.load_pairs([("A", "B", "C")])
    with pytest.raises(CalbioInputError, match="expected a file path, DataFrame"):
        calbio.load_pairs(3.5)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ABCDEFG"), st.sampled_from("ABCDEFG")), max_size=30))
def test_load_pairs_list_matches_frame(rows):
    """A list of tuples and the same rows as a DataFrame give the same cleaned pairs."""
    if not rows:
        assert len(calbio.load_pairs(rows)) == 0
        return
    df = pd.DataFrame(rows, columns=["a", "b"])
    try:
        from_frame = calbio.load_pairs(df)
    except CalbioInputError:
        return
    from_list = calbio.load_pairs(rows)
    assert sorted(zip(from_list.a, from_list.b, strict=True)) == sorted(
        zip(from_frame.a, from_frame.b, strict=True)
    )


def test_short_reprs(synthetic):
    emb, prs = synthetic.embeddings, synthetic.pairs
    r = repr(emb)
    assert r.startswith("Embeddings with n_entities x n_features = 300 x 16")
    assert len(r.splitlines()) <= 5 and "[[" not in r and "array" not in r
    r = repr(prs)
    assert r.startswith("Pairs with n_pairs = 1,500") and "array" not in r
    m = calbio.map_pairs(prs, emb)
    assert repr(m).startswith("MappedPairs with n_pairs = ") and "array" not in repr(m)
    big = Embeddings(np.array([f"x{i}" for i in range(5000)]), np.ones((5000, 64)))
    assert len(repr(big)) < 300
    assert "MappedPairs" in repr(MappedPairs(np.zeros((0, 2)), 3))
    assert "n_pairs = 0" in repr(Pairs(np.array([]), np.array([])))


def test_verbosity_and_setup_logging():
    assert verbosity_level() == logging.INFO
    assert verbosity_level(quiet=True) == logging.WARNING
    assert verbosity_level(verbose=True) == logging.DEBUG
    with pytest.raises(CalbioInputError):
        verbosity_level(True, True)
    buf = io.StringIO()
    setup_logging("info", stream=buf)
    setup_logging(logging.INFO, stream=buf)  # idempotent: one handler
    logging.getLogger("calbio.test").info("hello")
    assert buf.getvalue().count("hello") == 1


def test_log_progress_periodic_lines():
    buf = io.StringIO()
    setup_logging(logging.INFO, stream=buf)
    prog = LogProgress(every_s=3600)
    for e in range(1, 21):
        prog(e, 20, 1.0 / e)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2  # first and last epoch only within the period
    assert "epoch 1/20" in lines[0] and "epoch 20/20 loss 0.0500" in lines[1]
    assert "None" not in buf.getvalue() and "nan" not in buf.getvalue()


def test_training_progress_terminal_and_pipe():
    from rich.console import Console

    setup_logging(logging.INFO, stream=io.StringIO())
    pipe = Console(file=io.StringIO(), force_terminal=False)
    with training_progress(console=pipe) as cb:
        assert isinstance(cb, LogProgress)
    term_buf = io.StringIO()
    term = Console(file=term_buf, force_terminal=True, width=100)
    with training_progress(console=term) as cb:
        assert term_buf.getvalue() == ""  # nothing drawn before the first epoch
        cb(1, 4, 2.5)
        cb(4, 4, 1.25)
    out = term_buf.getvalue()
    assert "None" not in out and "nan" not in out and "epoch 4/4" in out
    with training_progress(quiet=True) as cb:
        assert cb is None
    setup_logging(logging.WARNING, stream=io.StringIO())
    with training_progress(console=term) as cb:
        assert cb is None


def test_fit_with_log_progress_reports_real_epochs(synthetic, tiny):
    buf = io.StringIO()
    setup_logging(logging.INFO, stream=buf)
    model = calbio.CAL("fast", random_state=0, **tiny)
    model.fit(synthetic.embeddings, synthetic.pairs, progress=LogProgress(every_s=0))
    lines = [ln for ln in buf.getvalue().splitlines() if "training epoch" in ln]
    assert len(lines) == tiny["epochs"] and f"epoch 3/{tiny['epochs']}" in lines[-1]
