"""The seed reaches a model by one route: `calbio evaluate` leaves random_state to evaluate()."""

from __future__ import annotations

from calbio.cli.common import TrainingOptions
from calbio.cli.main import build_models
from calbio.core.seeds import DEFAULT_SEED, seed_or_default


def test_evaluate_models_are_built_unseeded_and_fit_models_seeded() -> None:
    training = TrainingOptions(preset="fast", seed=7)
    (unseeded,) = build_models(["cal"], training, seeded=False).values()
    (seeded,) = build_models(["cal"], training).values()
    assert unseeded.random_state is None  # evaluate(seed=7) sets it, once
    assert seeded.random_state == 7  # `calbio fit` has no evaluate() to do it


def test_default_seed_is_one_constant() -> None:
    assert TrainingOptions().seed == DEFAULT_SEED
    assert seed_or_default(None) == DEFAULT_SEED and seed_or_default(3) == 3
