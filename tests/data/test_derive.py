"""Pairs derived from screens: statistics, selection, contexts, the CLI and real DepMap factors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.covariance import LedoitWolf

from calbio.core.errors import CalbioInputError
from calbio.data.derive import (
    benjamini_hochberg,
    correlation_space,
    derive_pairs,
    derive_pairs_by_context,
    load_contexts,
    load_profiles,
    profiles_from_frame,
)
from calbio.data.pairs import load_pairs


def _profiles(m: int = 80, n: int = 15, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    X[1] = X[0] + 0.3 * rng.normal(size=n)  # one strongly co-essential pair
    X[3] = X[2] + 0.3 * rng.normal(size=n)
    return pd.DataFrame(X, index=[f"g{i}" for i in range(m)], columns=[f"s{j}" for j in range(n)])


def test_pearson_space_gives_numpy_correlations():
    X = _profiles().to_numpy()
    Z, ok = correlation_space(X, "pearson")
    assert ok.all()
    np.testing.assert_allclose(Z @ Z.T, np.corrcoef(X), atol=1e-12)


def test_gls_equals_explicit_generalised_least_squares():
    """t of the GLS slope (with intercept, Sigma = Ledoit-Wolf over entities) = t from our r."""
    X = _profiles().to_numpy()
    n = X.shape[1]
    Z, _ = correlation_space(X, "gls")
    Si = np.linalg.inv(LedoitWolf().fit(X).covariance_)
    for i, j in ((0, 1), (2, 5), (7, 40)):
        D = np.c_[np.ones(n), X[i]]
        A = D.T @ Si @ D
        beta = np.linalg.solve(A, D.T @ Si @ X[j])
        res = X[j] - D @ beta
        t_gls = beta[1] / np.sqrt(res @ Si @ res / (n - 2) * np.linalg.inv(A)[1, 1])
        r = Z[i] @ Z[j]
        assert r * np.sqrt((n - 2) / (1 - r * r)) == pytest.approx(t_gls, rel=1e-9)


def test_gls_removes_shared_screen_structure():
    """Screens that move together (one lineage) make unrelated genes correlate; GLS corrects."""
    rng = np.random.default_rng(3)
    m, n = 400, 30
    lineage = np.r_[np.ones(15), np.zeros(15)]
    X = rng.normal(size=(m, n)) + rng.normal(size=(m, 1)) * 2.0 * lineage  # gene x lineage effect
    Zp, _ = correlation_space(X, "pearson")
    Zg, _ = correlation_space(X, "gls")
    off = ~np.eye(m, dtype=bool)
    assert np.abs((Zg @ Zg.T)[off]).mean() < 0.6 * np.abs((Zp @ Zp.T)[off]).mean()


def test_top_k_matches_brute_force_and_is_blocking_invariant():
    prof = _profiles()
    C = np.corrcoef(prof.to_numpy())
    np.fill_diagonal(C, -np.inf)
    k = 3
    top = np.argsort(-C, axis=1)[:, :k]
    want = {tuple(sorted((i, int(j)))) for i in range(len(C)) for j in top[i]}
    for block in (7, 1024):
        res = derive_pairs(prof, top_k=k, block=block)
        idx = {f"g{i}": i for i in range(len(C))}
        got = {tuple(sorted((idx[a], idx[b]))) for a, b in zip(res.table.a, res.table.b)}
        assert got == want
    t = res.table
    assert list(t.columns) == ["a", "b", "statistic", "pvalue"]
    assert {t.a[0], t.b[0]} in ({"g0", "g1"}, {"g2", "g3"})  # sorted strongest first
    np.testing.assert_allclose(
        t.statistic, [C[idx[a], idx[b]] for a, b in zip(t.a, t.b)], atol=1e-5
    )


def test_fdr_selection_is_exact_benjamini_hochberg():
    prof = _profiles(m=60, n=10, seed=5)
    n = prof.shape[1]
    C = np.corrcoef(prof.to_numpy())
    iu = np.triu_indices(len(C), 1)
    r = C[iu]
    p = stats.t.sf(r * np.sqrt((n - 2) / (1 - r * r)), n - 2)
    q = stats.false_discovery_control(p, method="bh")
    for level in (0.05, 0.3):
        res = derive_pairs(prof, fdr=level, block=11)
        assert len(res) == int((q <= level).sum())
        if len(res):
            np.testing.assert_allclose(np.sort(res.table.qvalue), np.sort(q[q <= level]), 1e-6)
    assert res.stats["n_tests"] == len(r)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=50), st.integers(0, 50))
@settings(max_examples=60, deadline=None)
def test_bh_with_omitted_larger_pvalues_matches_scipy(p, extra):
    """BH on the kept p-values, told the full test count, equals BH on everything."""
    p = np.array(p)
    full = np.r_[p, np.ones(extra)]
    want = stats.false_discovery_control(full, method="bh")[: len(p)]
    np.testing.assert_allclose(benjamini_hochberg(p, len(full)), want, rtol=1e-9, atol=1e-12)


def test_constant_profiles_are_dropped_not_nan():
    prof = _profiles(m=20)
    prof.iloc[4] = 1.0
    res = derive_pairs(prof, top_k=2)
    assert "g4" not in set(res.table.a) | set(res.table.b)
    assert res.stats["n_constant_dropped"] == 1 and np.isfinite(res.table.statistic).all()


@given(
    st.lists(
        st.lists(st.one_of(st.floats(-5, 5), st.none()), min_size=4, max_size=4),
        min_size=2,
        max_size=8,
    )
)
@settings(max_examples=60, deadline=None)
def test_profiles_parser_imputes_or_refuses(rows):
    df = pd.DataFrame(rows, index=[f"e{i}" for i in range(len(rows))], columns=list("wxyz"))
    try:
        out, counts = profiles_from_frame(df.astype(float))
    except CalbioInputError as exc:
        assert "fewer than two entities" in str(exc)
        return
    assert np.isfinite(out.to_numpy()).all()
    kept = df.notna().mean(axis=1) >= 0.5
    assert len(out) == int(kept.sum()) and counts["n_dropped_sparse"] == int((~kept).sum())


def test_bad_inputs_are_one_line_errors(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("gene,s1,s2,s3,s4\nA,1,2,3,4\nA,1,2,3,5\n")
    with pytest.raises(CalbioInputError, match="duplicate identifiers"):
        load_profiles(f)
    f.write_text("gene,s1,s2,s3,s4\nA,1,2,x,4\nB,1,2,3,5\n")
    with pytest.raises(CalbioInputError, match="non-numeric screen column"):
        load_profiles(f)
    f.write_text("gene,s1,s2\nA,1,2\nB,1,2\n")
    with pytest.raises(CalbioInputError, match="at least 4"):
        load_profiles(f)
    with pytest.raises(CalbioInputError, match="exactly one of"):
        derive_pairs(_profiles(), top_k=3, fdr=0.1)


def test_by_context_derives_within_each_context(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 24))
    X[1, :12] = X[0, :12] + 0.05 * rng.normal(size=12)  # co-essential only in context "a"
    prof = pd.DataFrame(X, index=[f"g{i}" for i in range(50)], columns=[f"s{j}" for j in range(24)])
    ctx_file = tmp_path / "ctx.csv"
    pd.DataFrame({"screen": prof.columns, "context": ["a"] * 12 + ["b"] * 12}).to_csv(
        ctx_file, index=False
    )
    ctx = load_contexts(ctx_file)
    res = derive_pairs_by_context(prof, ctx, top_k=1)
    t = res.table
    top = t.sort_values("statistic", ascending=False).groupby("context").head(1)
    best = {r.context: {r.a, r.b} for r in top.itertuples()}
    assert best["a"] == {"g0", "g1"} and best["b"] != {"g0", "g1"}
    with pytest.raises(CalbioInputError, match="context 'c' has 0 of its 1 screens"):
        derive_pairs_by_context(prof, {"c": ["nope"]}, top_k=1)


def test_cli_coessential_writes_pairs_calbio_reads_back(tmp_path, cli):
    prof = _profiles()
    f = tmp_path / "prof.csv"
    prof.to_csv(f, index_label="gene")
    out = tmp_path / "pairs.csv"
    code, stdout, err = cli(
        ["pairs", "coessential", f, "--out", out, "--method", "gls", "--top-k", "2"]
    )
    assert code == 0, err
    back = load_pairs(out)
    assert len(back) == len(pd.read_csv(out)) and {"statistic", "pvalue"} <= set(back.evidence)
    code, _, err = cli(["pairs", "coessential", f, "--out", out, "--top-k", "2"])
    assert code == 2 and "--force" in err
    code, _, err = cli(["pairs", "colethal", f, "--out", tmp_path / "x.csv"])
    assert code == 2 and "exactly one of" in err and not (tmp_path / "x.csv").exists()
    code, _, err = cli(
        [
            "pairs",
            "colethal",
            f,
            "--out",
            tmp_path / "x.csv",
            "--top-k",
            "2",
            "--method",
            "spearman",
        ]
    )
    assert code == 2 and "--method" in err and "Traceback" not in err


@pytest.mark.realdata
def test_depmap_factors_give_known_coessential_pairs(shared_data, tmp_path, cli):
    """gene effect = scores @ loadings.T; known complexes come out on top (GLS and Pearson)."""
    W = pd.read_csv(shared_data / "embeddings" / "depmap_crispr_gene_effect_pca50.csv", index_col=0)
    S = pd.read_csv(
        shared_data / "embeddings" / "depmap_crispr_cell_line_scores_pca50.csv.gz", index_col=0
    )[W.columns]
    ge = pd.DataFrame(W.to_numpy() @ S.to_numpy().T, index=W.index, columns=S.index)
    f = tmp_path / "gene_effect.parquet"
    ge.to_parquet(f)
    rows = [
        (c, lin)
        for lin in ("liver", "melanoma", "neuroblastoma")
        for c in pd.read_csv(shared_data / "contexts" / f"depmap_{lin}_500_genes.csv", nrows=0)
        if str(c).startswith("ACH-")
    ]
    ctx = tmp_path / "contexts.csv"
    pd.DataFrame(rows, columns=["screen", "context"]).to_csv(ctx, index=False)
    for method in ("pearson", "gls"):
        out = tmp_path / f"{method}.csv"
        code, _, err = cli(
            ["pairs", "coessential", f, "--out", out, "--method", method, "--top-k", "5"]
        )
        assert code == 0, err
        t = pd.read_csv(out)
        keys = {frozenset(p) for p in zip(t.a, t.b)}
        assert frozenset({"TSC1", "TSC2"}) in keys and frozenset({"UFM1", "UBA5"}) in keys
        assert 2732 * 5 / 2 <= len(t) <= 2732 * 5
    out = tmp_path / "ctx_pairs.csv"
    code, _, err = cli(
        ["pairs", "coessential", f, "--out", out, "--top-k", "5", "--by-context", ctx]
    )
    assert code == 0, err
    back = pd.read_csv(out)
    assert set(back.context) == {"liver", "melanoma", "neuroblastoma"}
    assert len(load_pairs(out, columns=("a", "b"))) > 0
