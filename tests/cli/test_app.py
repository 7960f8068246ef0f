"""cli.app: --version, help texts, --quiet and --verbose."""

from __future__ import annotations

import calbio

TRAIN = ["--epochs", "2", "--hidden", "16", "--batch-size", "64"]


def test_help_text_and_version(cli):
    code, out, _ = cli(["--version"])
    assert code == 0 and out.strip() == f"calbio {calbio.__version__}"
    code, out, _ = cli(["fit", "--help"])
    assert code == 0 and "<bool>" not in out and "--patience" in out
    assert "--validation-fraction" in out
    code, out, _ = cli(["context-fit", "--help"])
    assert "(default" not in out.replace("(default: ", "")  # no "'fast' (default)" next to it
    assert "[default: paper]" in out
    code, out, _ = cli(["index", "--help"])
    assert "calbio[index]" in " ".join(out.split())


def test_quiet_and_verbose(inputs_with_unmapped, tmp_path, cli):
    args = [
        "fit",
        inputs_with_unmapped / "emb.csv",
        inputs_with_unmapped / "pairs.csv",
        "--out",
        tmp_path / "q",
        *TRAIN,
    ]
    code, _, err = cli(["--quiet", *args])
    assert code == 0 and "training epoch" not in err
    code, _, err = cli(["-q", "-v", "--version"])
    assert code in (0, 2)
