"""Score kinds follow their definitions; row scores equal pair scores."""

import numpy as np
import pytest

from calbio.models.cal.estimator import CAL
from calbio.scoring import l2_normalize, pair_scores, score_rows


@pytest.fixture()
def ze():
    rng = np.random.default_rng(0)
    return l2_normalize(rng.normal(size=(20, 6))), l2_normalize(rng.normal(size=(20, 6)))


def test_definitions(ze) -> None:
    Z, E = ze
    idx = np.array([[0, 1], [3, 7], [5, 5]])
    a, b = idx[:, 0], idx[:, 1]
    half = 0.5 * ((Z[a] * E[b]).sum(1) + (Z[b] * E[a]).sum(1))
    np.testing.assert_allclose(pair_scores(Z, E, idx, "half"), half, atol=1e-6)
    np.testing.assert_allclose(pair_scores(Z, E, idx, "both"), (Z[a] * Z[b]).sum(1), atol=1e-6)
    np.testing.assert_allclose(pair_scores(Z, E, idx, "cosine"), (E[a] * E[b]).sum(1), atol=1e-6)
    cos = (E[a] * E[b]).sum(1)
    np.testing.assert_allclose(
        pair_scores(Z, E, idx, "blend", 0.3), 0.7 * cos + 0.3 * half, atol=1e-6
    )


def test_half_is_symmetric(ze) -> None:
    Z, E = ze
    idx = np.array([[0, 1], [4, 9]])
    np.testing.assert_allclose(pair_scores(Z, E, idx), pair_scores(Z, E, idx[:, ::-1]), atol=1e-6)


@pytest.mark.parametrize("kind", ["half", "both", "cosine", "blend"])
def test_rows_match_pairs(ze, kind) -> None:
    Z, E = ze
    rows = score_rows(Z, E, [2, 5], None, kind)
    expect = np.stack(
        [pair_scores(Z, E, np.c_[np.full(20, q), np.arange(20)], kind) for q in (2, 5)]
    )
    np.testing.assert_allclose(rows, expect, atol=1e-5)


def test_unknown_kind(ze) -> None:
    with pytest.raises(ValueError):
        pair_scores(*ze, np.array([[0, 1]]), "dot")


# kills the mutation l2_normalisation_skipped (tests/mutations/run.py)


def test_rows_are_unit_length_for_training_and_scoring(synthetic, tiny) -> None:
    from calbio.scoring import l2_normalize

    X = np.array([[3.0, 4.0], [0.0, 0.0], [-1e-3, 0.0]])
    np.testing.assert_allclose(l2_normalize(X), [[0.6, 0.8], [0.0, 0.0], [-1.0, 0.0]])
    model = CAL(random_state=0, **tiny).fit(synthetic.embeddings, synthetic.pairs)
    np.testing.assert_allclose(np.linalg.norm(model.embedding_, axis=1), 1.0, atol=1e-5)
