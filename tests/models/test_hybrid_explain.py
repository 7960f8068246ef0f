"""The hybrid explains its scores, takes the CAL options, logs its stages, and its combiner is
the documented shrunk, standardised logistic model."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from calbio.data.coerce import as_mapped_pairs
from calbio.models.graph.heuristics import adjacency
from calbio.models.hybrid import FEATURES, PRIOR, Hybrid, fit_combiner, transitivity

TRAIN = ["--epochs", "2", "--hidden", "16", "--batch-size", "64"]


@pytest.fixture(scope="module")
def data(synthetic):
    emb = synthetic.embeddings
    return emb, as_mapped_pairs(synthetic.pairs, emb, 0.5).idx


@pytest.fixture(scope="module")
def fitted(data):
    emb, idx = data
    return Hybrid(hidden=16, epochs=2, batch_size=64, gnn=False, random_state=0).fit(emb, idx)


def test_contributions_sum_to_the_score(fitted, data) -> None:
    emb, idx = data
    rng = np.random.default_rng(1)
    pairs = np.concatenate([idx[:30], rng.integers(0, len(emb), (30, 2))])
    ex = fitted.explain(pairs)
    contrib = [f"contrib_{f}" for f in (*FEATURES, "intercept")]
    assert list(ex.columns[4 : 4 + len(contrib)]) == contrib
    np.testing.assert_allclose(ex[contrib].sum(axis=1), fitted.score_pairs(pairs), atol=1e-9)
    np.testing.assert_allclose(ex["score"], fitted.score_pairs(pairs), atol=1e-9)
    assert set(ex["combiner"]) <= {"warm", "cold"}


def test_shared_neighbours_are_the_strongest_common_neighbours(fitted) -> None:
    names = fitted.names_
    A = adjacency(fitted.train_pairs_, fitted.n_entities_).toarray()
    deg = A.sum(1)
    pairs = np.argwhere(np.triu(A @ A, 1) >= 2)[:25]
    ex = fitted.explain(pairs, top=2)
    for (a, b), shown, n in zip(pairs, ex["shared_neighbours"], ex["n_shared"], strict=True):
        common = np.flatnonzero(A[a] * A[b])
        assert n == len(common)
        w = 1.0 / np.log(deg[common])
        best = set(names[common[np.argsort(-w, kind="stable")[:2]]])
        tie = np.sort(w)[::-1]
        got = set(shown.split(";"))
        assert len(got) == min(2, len(common))
        if len(common) <= 2 or tie[1] > tie[2]:  # no tie at the cut
            assert got == best
    none = np.argwhere(np.triu(A @ A, 1) + np.eye(len(A)) == 0)[:5]
    assert (fitted.explain(none)["shared_neighbours"] == "").all()


def test_negatives_option_reaches_the_hybrids_cal(data) -> None:
    emb, idx = data
    base = Hybrid(hidden=16, epochs=2, batch_size=64, gnn=False, random_state=0)
    degree = base.set_params(negatives="degree", mask_false_negatives=True)
    assert degree._new_cal().config.negatives == "degree"
    assert degree._new_cal().config.mask_false_negatives is True
    plain = Hybrid(hidden=16, epochs=2, batch_size=64, gnn=False, random_state=0)
    assert plain._new_cal().config.negatives != "degree"
    a = plain.fit(emb, idx).score_pairs(idx[:50])
    b = degree.fit(emb, idx).score_pairs(idx[:50])
    assert degree.cal_.get_params()["negatives"] == "degree"
    assert not np.allclose(a, b)
    # anything else through cal_params
    assert Hybrid(n_negatives=7)._new_cal().get_params()["n_negatives"] == 7
    other = Hybrid(cal_params={"verbose": True}, gnn=False)
    assert other._new_cal().get_params()["verbose"] is True


def test_every_stage_of_the_fit_is_logged(data, caplog) -> None:
    emb, idx = data
    calls: list[tuple[int, int]] = []
    with caplog.at_level(logging.INFO, logger="calbio"):
        Hybrid(hidden=16, epochs=2, batch_size=64, gnn=False, random_state=0).fit(
            emb, idx, progress=lambda e, n, loss: calls.append((e, n))
        )
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("calbio"))
    for stage in ("fitting on", "transitivity", "[1/5] fitting CAL", "CAL fitted on",
                  "[3/5] graph features", "features of", "[4/5] fitting the", "combiners fitted",
                  "[5/5] refitting CAL", "CAL refitted", "fitted in"):  # fmt: skip
        assert stage in text, stage
    # every stage is announced before it starts: "[k/5]" comes before its "done" line
    assert text.index("[1/5]") < text.index("CAL fitted on") < text.index("[3/5]")
    # the progress callback follows the epochs of both CAL fits (carved, then all pairs)
    assert calls == [(1, 2), (2, 2), (1, 2), (2, 2)]


def test_transitivity_of_cliques_and_stars() -> None:
    clique = np.array([[i, j] for i in range(5) for j in range(i + 1, 5)])
    assert transitivity(adjacency(clique, 6)) == pytest.approx(1.0)
    star = np.array([[0, i] for i in range(1, 6)])
    assert transitivity(adjacency(star, 6)) == 0.0
    assert transitivity(adjacency(np.array([[0, 1]]), 3)) == 0.0


def _toy(seed: int = 0):
    rng = np.random.default_rng(seed)
    n_pos = 400
    src = np.r_[np.arange(n_pos), np.repeat(np.arange(n_pos), 3)]
    y = np.r_[np.ones(n_pos), np.zeros(3 * n_pos)]
    X = rng.normal(size=(len(y), len(FEATURES)))
    X[:, 1] += 1.5 * y  # cosine carries the signal
    return X, y, src


def test_combiner_is_standardised_and_shrinks_to_the_prior() -> None:
    X, y, src = _toy()
    prior = np.array([PRIOR.get(f, 0.0) for f in FEATURES])
    free = fit_combiner(X, y, src, 0.0, prior)
    np.testing.assert_allclose(free["coef"], free["zcoef"] / free["sd"])
    s = X @ free["coef"] + free["intercept"][0]
    np.testing.assert_allclose(s, ((X - free["mu"]) / free["sd"]) @ free["zcoef"] + (
        free["intercept"][0] + free["coef"] @ free["mu"]))  # fmt: skip
    assert np.argmax(np.abs(free["zcoef"])) == 1
    # a huge pull gives the prior's direction (up to the Platt scale)
    tight = fit_combiner(X, y, src, 1e6, prior)
    direction = tight["zcoef"] / np.linalg.norm(tight["zcoef"])
    np.testing.assert_allclose(direction, prior / np.linalg.norm(prior), atol=1e-3)
    # rescaling a feature does not change the scores (standardised)
    X2 = X.copy()
    X2[:, 3] *= 1000.0
    mid = fit_combiner(X, y, src, 0.5, prior)
    mid2 = fit_combiner(X2, y, src, 0.5, prior)
    np.testing.assert_allclose(X @ mid["coef"], X2 @ mid2["coef"], rtol=1e-5, atol=1e-6)


def test_cli_explain_columns_and_refusal(files_for_cli, tmp_path, cli) -> None:
    emb_csv, pairs_csv = files_for_cli
    hyb, cal = tmp_path / "hyb", tmp_path / "cal"
    code, _, err = cli(["fit", emb_csv, pairs_csv, "--out", hyb, "--model", "hybrid", *TRAIN])
    assert code == 0, err
    out = tmp_path / "s.csv"
    code, _, err = cli(["score", hyb, pairs_csv, "--out", out, "--explain"])
    assert code == 0, err
    t = pd.read_csv(out, keep_default_na=False)
    contrib = [c for c in t.columns if c.startswith("contrib_")]
    assert len(contrib) == len(FEATURES) + 1 and "shared_neighbours" in t
    np.testing.assert_allclose(t[contrib].sum(axis=1), t["association"], atol=1e-6)
    gene = t["a"].iloc[0]
    q = tmp_path / "q.csv"
    code, stdout, err = cli(["query", hyb, gene, "--top", "5", "--out", q, "--explain"])
    assert code == 0, err
    qt = pd.read_csv(q, keep_default_na=False)
    assert "shared_neighbours" in qt and len(qt) == 5
    np.testing.assert_allclose(
        qt[[c for c in qt.columns if c.startswith("contrib_")]].sum(axis=1),
        qt["association"],
        atol=1e-6,
    )
    code, _, err = cli(["fit", emb_csv, pairs_csv, "--out", cal, *TRAIN])
    assert code == 0, err
    for argv in (["score", cal, pairs_csv, "--explain"], ["query", cal, gene, "--explain"]):
        code, _, err = cli(argv)
        assert code == 2 and "'cal' has no explanation" in err and "hybrid" in err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def files_for_cli(tmp_path_factory, synthetic):
    d = tmp_path_factory.mktemp("inputs")
    synthetic.embeddings.to_frame().to_csv(d / "emb.csv")
    pd.DataFrame({"gene1": synthetic.pairs.a, "gene2": synthetic.pairs.b}).head(600).to_csv(
        d / "pairs.csv", index=False
    )
    return d / "emb.csv", d / "pairs.csv"


def test_cli_explain_keeps_every_input_row(files_for_cli, tmp_path, cli) -> None:
    """Rows with an unknown id stay (score's one-row-per-input rule) and get empty explanations;
    the scored rows around them keep their own explanations."""
    emb_csv, pairs_csv = files_for_cli
    hyb = tmp_path / "hyb"
    code, _, err = cli(["fit", emb_csv, pairs_csv, "--out", hyb, "--model", "hybrid", *TRAIN])
    assert code == 0, err
    given = pd.read_csv(pairs_csv).iloc[:2]
    a0, b0 = given.iloc[0, 0], given.iloc[0, 1]
    a1, b1 = given.iloc[1, 0], given.iloc[1, 1]
    mixed = tmp_path / "mixed.csv"
    pd.DataFrame({"gene1": [a0, "NOT_A_GENE", a1], "gene2": [b0, b0, b1]}).to_csv(
        mixed, index=False
    )
    out = tmp_path / "s.csv"
    code, _, err = cli(["score", hyb, mixed, "--out", out, "--explain"])
    assert code == 0, err
    t = pd.read_csv(out)
    assert len(t) == 3 and list(t["status"]) == ["scored", "unknown id", "scored"]
    contrib = [c for c in t.columns if c.startswith("contrib_")]
    assert t.loc[1, contrib].isna().all()
    ok = t.index[[0, 2]]
    np.testing.assert_allclose(t.loc[ok, contrib].sum(axis=1), t.loc[ok, "association"], atol=1e-6)
