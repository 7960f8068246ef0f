"""An option some chosen models ignore is said once, naming them (issue 17 §5)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from calbio.core.errors import CalbioInputError
from calbio.evaluation.protocol import instantiate_models


def _notices(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_ignored_option_names_the_models_that_ignore_it(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="calbio"):
        chosen = instantiate_models(
            ["cal", "adamic_adar", "sage"], None, {"negatives": "random", "random_state": 0}
        )
    assert chosen["cal"].get_params()["negatives"] == "random"
    lines = _notices(caplog)
    assert lines == ["--negatives is not used by adamic_adar, sage (no such parameter)"]


def test_no_notice_when_every_model_takes_the_option(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="calbio"):
        instantiate_models(["cal"], None, {"negatives": "random", "preset": "fast"})
        instantiate_models(["cal", "adamic_adar"], None, {"preset": "fast", "random_state": 1})
    assert _notices(caplog) == []


def test_option_no_model_takes_is_still_an_error() -> None:
    with pytest.raises(CalbioInputError, match="--negatives does not apply to adamic_adar"):
        instantiate_models(["adamic_adar"], None, {"negatives": "random"})


def test_cli_shows_the_notice_once(synthetic, tmp_path, cli) -> None:
    synthetic.embeddings.to_frame().to_csv(tmp_path / "emb.csv")
    pd.DataFrame({"gene1": synthetic.pairs.a, "gene2": synthetic.pairs.b}).to_csv(
        tmp_path / "pairs.csv", index=False
    )
    code, _, err = cli(
        ["evaluate", tmp_path / "emb.csv", tmp_path / "pairs.csv", "--model", "cal", "--model",
         "adamic_adar", "--negatives", "random", "--epochs", "1", "--hidden", "16",
         "--n-boot", "5", "--out", tmp_path / "run"]
    )  # fmt: skip
    assert code == 0, err
    line = "--epochs, --hidden, --negatives are not used by adamic_adar (no such parameter)"
    assert err.count(line) == 1, err
