"""cli.main messages: what to do when ids do not match, --patience, plain output in a pipe."""

from __future__ import annotations

import json

import pandas as pd

TRAIN = ["--epochs", "2", "--hidden", "16", "--batch-size", "64"]


def test_score_with_model_from_another_embedding_names_its_ids(saved_cal, tmp_path, cli):
    _, mdir = saved_cal
    pd.DataFrame({"a": ["TP53", "BRCA1"], "b": ["MDM2", "BARD1"]}).to_csv(
        tmp_path / "p.csv", index=False
    )
    code, out, err = cli(["score", mdir, tmp_path / "p.csv"])
    assert code == 2 and "Traceback" not in err
    assert "model's entities look like SYN0001" in err and "another embedding" in err
    assert "--min-mapped" not in err  # nothing mapped: lowering the threshold would not help
    assert not (tmp_path / "out.csv").exists()


def test_patience_needs_validation_fraction(inputs_with_unmapped, tmp_path, cli):
    args = [
        "fit",
        inputs_with_unmapped / "emb.csv",
        inputs_with_unmapped / "pairs.csv",
        "--out",
        tmp_path / "m",
        *TRAIN,
    ]
    code, _, err = cli([*args, "--patience", "2"])
    assert code == 2 and "--validation-fraction" in err and not (tmp_path / "m").exists()
    code, _, err = cli([*args, "--patience", "1", "--validation-fraction", "0.2"])
    assert code == 0, err
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())["params"]
    assert cfg["patience"] == 1 and cfg["validation_fraction"] == 0.2


def test_no_wrapping_when_not_a_terminal(inputs_with_unmapped, tmp_path, cli):
    long_dir = tmp_path / ("a_rather_long_directory_name_" * 3) / "model"
    code, out, err = cli(
        [
            "fit",
            inputs_with_unmapped / "emb.csv",
            inputs_with_unmapped / "pairs.csv",
            "--out",
            long_dir,
            *TRAIN,
        ]
    )
    assert code == 0, err
    wrote = [ln for ln in out.splitlines() if ln.startswith("wrote")]
    assert len(wrote) == 1 and wrote[0].rstrip().endswith(" s)") and len(wrote[0]) > 80
    assert "training epoch 2/2" in err  # plain log lines instead of a bar
