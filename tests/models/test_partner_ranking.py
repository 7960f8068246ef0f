"""One ranking of partners, owned by the model: ``rank_partners`` (every other entity, best
first), ``query`` (its first rows) and ``partner_ranks`` (the rank of given pairs); the CLI's
tables (api.query_partners, api.score_pairs_table) only lay them out."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calbio.api import query_partners, score_pairs_table
from calbio.core.errors import CalbioInputError
from calbio.data.pairs import pairs_from_list
from calbio.data.synthetic import make_synthetic
from calbio.models.registry import resolve_model

SYN = make_synthetic(n_entities=60, dim=6, n_pairs=150, seed=4)
# degree: many exact ties (the hard case for ranks); cosine: factorised, embedded
MODELS = {name: resolve_model(name).fit(SYN.embeddings, SYN.pairs) for name in ("degree", "cosine")}


def _brute_ranks(model, idx: np.ndarray) -> np.ndarray:
    """1 + the number of other entities scoring strictly above the pair, from score_pairs."""
    out = []
    for a, b in idx:
        others = np.array([[a, j] for j in range(model.n_entities_) if j != a])
        out.append(
            1 + int((model.score_pairs(others) > model.score_pairs(np.array([[a, b]]))).sum())
        )
    return np.array(out)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(sorted(MODELS)), st.integers(0, 59), st.integers(1, 12))
def test_rank_partners_lists_every_other_entity_best_first(name, i, top) -> None:
    model = MODELS[name]
    ranked = model.rank_partners(i)
    n = model.n_entities_
    assert ranked["rank"].tolist() == list(range(1, n))
    assert sorted(ranked["partner"]) == sorted(np.delete(model.names_, i))
    assert (np.diff(ranked["association"].to_numpy()) <= 0).all()
    rows = model.entity_table().index
    order = np.array([rows[p] for p in ranked["partner"]])
    same = np.diff(ranked["association"].to_numpy()) == 0
    assert (np.diff(order)[same] > 0).all()  # equal scores keep row order
    assert set(order[ranked["training_pair"].to_numpy()]) == set(model.training_partners(i))
    by_name = model.rank_partners(str(model.names_[i]))
    assert by_name.equals(ranked)
    assert model.query(str(model.names_[i]), top=top).equals(ranked.head(top))
    # a pair's own rank: 1 + entities strictly above it (ties in its favour), never below its
    # position in the listing; brute force from score_pairs agrees
    idx = np.stack([np.full(n - 1, i), order], axis=1)
    got = model.partner_ranks(idx)
    np.testing.assert_array_equal(got[:: n // 8], _brute_ranks(model, idx[:: n // 8]))
    assert (got <= ranked["rank"].to_numpy()).all()


def test_partner_ranks_match_the_listing_without_ties() -> None:
    model = MODELS["cosine"]
    ranked = model.rank_partners(3)
    rows = model.entity_table().index
    idx = np.array([[3, rows[p]] for p in ranked["partner"]])
    np.testing.assert_array_equal(model.partner_ranks(idx), ranked["rank"].to_numpy())


def test_row_out_of_range_is_refused() -> None:
    with pytest.raises(CalbioInputError, match="out of range"):
        MODELS["cosine"].rank_partners(60)


def test_query_table_and_score_table_only_lay_out_the_models_ranking() -> None:
    model = MODELS["degree"]
    name = str(model.names_[model.train_pairs_[0, 0]])
    ranked = model.rank_partners(name)
    known, new = query_partners(model, name, top=7)
    assert known.equals(
        ranked[ranked.training_pair].drop(columns="training_pair").reset_index(drop=True)
    )
    assert new.equals(
        ranked[~ranked.training_pair].head(7).drop(columns="training_pair").reset_index(drop=True)
    )
    partners = [str(p) for p in ranked["partner"][:10]]
    table = score_pairs_table(model, pairs_from_list([(name, p) for p in partners]))
    rows = model.entity_table().index
    idx = np.array([[rows[name], rows[p]] for p in partners])
    np.testing.assert_array_equal(table["rank_in_a"].to_numpy(int), model.partner_ranks(idx))
    np.testing.assert_array_equal(
        table["rank_in_b"].to_numpy(int), model.partner_ranks(idx[:, ::-1].copy())
    )
