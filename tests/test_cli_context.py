"""The context commands end to end through the CLI (simulate -> fit -> equivalent)."""

import json


def test_context_fit_and_equivalent(tmp_path, cli) -> None:
    world, model = tmp_path / "world", tmp_path / "model"
    code, _, err = cli(["context-simulate", "--out", world])
    assert code == 0, err
    code, out, err = cli(
        [
            "context-fit",
            world / "table.csv.gz",
            world / "pairs.csv",
            "--label-column",
            "label",
            "--covariate",
            "log10_dose",
            "--pair-context-column",
            "context",
            "--epochs",
            "2",
            "--hidden",
            "32",
            "--seed",
            "3",
            "--out",
            model,
        ]
    )
    assert code == 0, err
    cfg = json.loads((model / "config.json").read_text())
    # options reach the model, and the context commands keep `paper` as their default preset
    assert cfg["train"]["seed"] == 3 and cfg["train"]["hidden"] == 32
    assert cfg["train"]["epochs"] == 2 and cfg["preset"] == "paper"
    code, _, err = cli(["context-fit", world / "table.csv.gz", world / "pairs.csv", "--out", model])
    assert code == 2 and "--force" in err
