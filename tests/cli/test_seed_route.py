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


def test_cli_evaluate_seed_reaches_the_model_once_by_its_named_stream(
    tmp_path, synthetic, cli
) -> None:
    import json

    import pandas as pd

    from calbio.core.seeds import child_seed

    synthetic.embeddings.to_frame().to_csv(tmp_path / "emb.csv")
    pairs = pd.DataFrame({"gene1": synthetic.pairs.a, "gene2": synthetic.pairs.b})
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    out = tmp_path / "run"
    train = ["--preset", "fast", "--epochs", "1", "--hidden", "16", "--threads", "1"]
    args = ["evaluate", tmp_path / "emb.csv", tmp_path / "pairs.csv", "--out", out]
    code, _, err = cli([*args, "--seed", "7", "--n-boot", "5", *train])
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seed"] == 7
    assert metrics["config"]["models"]["cal"]["random_state"] == child_seed(7, "model/cal")
