"""The run's seed: set once per model, named streams, a whole evaluate() reproducible."""

from __future__ import annotations

import pandas as pd
import pytest

from calbio import evaluate
from calbio.core.seeds import child_seed
from calbio.evaluation.protocol import instantiate_models
from calbio.models.cal.estimator import CAL

FAST = {"hidden": 16, "epochs": 2, "batch_size": 128, "threads": 1}


@pytest.fixture(scope="module")
def two_runs(synthetic):
    run = lambda seed: evaluate(  # noqa: E731
        synthetic.embeddings, synthetic.pairs, seed=seed, n_boot=20, rank_sample=200, **FAST
    )
    return run(11), run(11), run(12)


def test_whole_evaluate_is_deterministic_for_a_fixed_seed(two_runs) -> None:
    a, b, _ = two_runs
    pd.testing.assert_frame_equal(a.scores, b.scores)  # split, negatives, every model's score
    assert a.methods == b.methods  # bootstrap CIs and sampled ranks included
    assert a.verdicts == b.verdicts


def test_another_seed_draws_another_split_and_model(two_runs) -> None:
    a, _, c = two_runs
    test_a = set(map(tuple, a.scores.loc[a.scores["set"] == "positive", ["a", "b"]].to_numpy()))
    test_c = set(map(tuple, c.scores.loc[c.scores["set"] == "positive", ["a", "b"]].to_numpy()))
    assert test_a != test_c
    assert a.models["cal"].random_state != c.models["cal"].random_state


def test_evaluate_gives_each_model_its_own_stream_once(two_runs) -> None:
    a, _, _ = two_runs
    assert a.models["cal"].random_state == child_seed(11, "model/cal")
    assert a.config["models"]["cal"]["random_state"] == child_seed(11, "model/cal")


def test_unseeded_models_get_distinct_named_seeds_and_the_input_is_not_touched() -> None:
    given = CAL("fast")
    chosen = instantiate_models([given, "cal"], None, {}, seed=5)
    assert given.random_state is None  # cloned, never mutated
    assert chosen["cal"].random_state == child_seed(5, "model/cal")
    assert chosen["cal_1"].random_state == child_seed(5, "model/cal_1")
    assert chosen["cal"].random_state != chosen["cal_1"].random_state


def test_a_model_given_its_own_random_state_keeps_it() -> None:
    """As scikit-learn's clone: an explicit random_state is the user's choice, kept."""
    chosen = instantiate_models([CAL("fast", random_state=3), "sage"], None, {}, seed=5)
    assert chosen["cal"].random_state == 3
    assert chosen["sage"].random_state == child_seed(5, "model/sage")
    # a training option random_state is explicit too: every model takes it as given
    chosen = instantiate_models(["cal"], None, {"random_state": 9}, seed=5)
    assert chosen["cal"].random_state == 9
    # no run seed (``calbio fit``, a bare instantiate): nothing is set
    assert instantiate_models(["cal"], None, {})["cal"].random_state is None
