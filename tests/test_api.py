"""calbio.api: score tables, known vs new partners, id suggestions (case, Excel, typos)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import calbio
from calbio.api import excel_forms, query_partners, score_pairs_table, suggest_entities
from calbio.core.errors import CalbioInputError
from calbio.scoring import score_rows


def test_score_table_flags_ranks_and_percentiles(saved_cal, synthetic):
    m, _ = saved_cal
    tr = m.train_pairs_[:40]
    fresh = [("SYN0001", "SYN0002"), ("SYN0003", "SYN0010")]
    pairs = list(zip(m.names_[tr[:, 0]], m.names_[tr[:, 1]], strict=True)) + fresh
    t = score_pairs_table(m, calbio.load_pairs(pairs))
    known = {
        frozenset(p)
        for p in zip(m.names_[m.train_pairs_[:, 0]], m.names_[m.train_pairs_[:, 1]], strict=True)
    }  # noqa: E501
    expect = [frozenset((a, b)) in known for a, b in zip(t["a"], t["b"], strict=True)]
    assert t["training_pair"].tolist() == expect and sum(expect) == 40
    # brute-force ranks from the full score matrix
    S = score_rows(m.association_, m.embedding_, np.arange(len(m.names_)), kind=m.config.score)
    np.fill_diagonal(S, -np.inf)
    row = {n: i for i, n in enumerate(m.names_)}
    for r in t.itertuples():
        a, b = row[r.a], row[r.b]
        assert r.rank_in_a == 1 + int((S[a] > S[a, b]).sum())
        assert r.rank_in_b == 1 + int((S[b] > S[b, a]).sum())
    assert t["percentile"].between(0, 100).all()
    order = np.argsort(t["association"].to_numpy())
    assert np.all(np.diff(t["percentile"].to_numpy()[order]) >= 0)  # monotone in the score


def test_query_separates_known_and_new(saved_cal, cli):
    m, mdir = saved_cal
    known, new = query_partners(m, "SYN0021", top=5)
    i = m.index_of("SYN0021")
    tp = m.train_pairs_
    partners = set(m.names_[np.concatenate([tp[tp[:, 0] == i, 1], tp[tp[:, 1] == i, 0]])])
    assert set(known["partner"]) == partners and not set(new["partner"]) & partners
    assert len(new) == 5 and known["rank"].is_monotonic_increasing
    ranks = sorted([*known["rank"], *new["rank"]])
    assert ranks[: len(new) + sum(known["rank"] <= new["rank"].max())] == list(
        range(1, len(new) + 1 + sum(known["rank"] <= new["rank"].max()))
    )  # no gaps: known and new together are the top of the full ranking
    code, out, err = cli(["query", mdir, "SYN0021", "--top", "5"])
    assert code == 0, err
    assert "Known partners of SYN0021 (training pairs)" in out
    assert "New candidates for SYN0021 (not training pairs): top 5" in out
    assert out.index("Known partners") < out.index("New candidates")


def test_unknown_identifier_messages(saved_cal, cli):
    m, mdir = saved_cal
    code, _, err = cli(["query", mdir, "POLR2A"])
    assert code == 2 and "in the training pairs" in err and "not in the embedding table" in err
    code, _, err = cli(["query", mdir, "syn0021x"])  # typo in another case: fuzzy match
    assert code == 2 and "close matches: SYN0021" in err and "Traceback" not in err
    with pytest.raises(CalbioInputError, match="model's entities look like SYN0001"):
        query_partners(m, "ZZZZZZZZZZZZ")


def test_suggestions_case_excel_fuzzy():
    names = ["SEPTIN2", "MARCH1", "TP53", "tp53x", "DEC1", "MDM2"]
    assert suggest_entities("Tp53", names)[0] == "TP53"
    assert suggest_entities("2-Sep", names)[0] == "SEPTIN2"
    assert suggest_entities("1-Mar", names)[0] == "MARCH1"
    assert "2-Sep" in suggest_entities("SEPT2", ["2-Sep", "ACTB"])
    assert suggest_entities("MDM3", names)[0] == "MDM2"
    assert suggest_entities("QQQQQ", names) == []


@given(st.sampled_from(["SEPT", "MARCH", "DEC"]), st.integers(1, 15))
def test_excel_forms_round_trip(prefix, day):
    name = f"{prefix}{day}"
    for form in excel_forms(name):
        if "-" in form:
            assert name in excel_forms(form)
