"""cli.app: --version, help texts, --quiet and --verbose."""

from __future__ import annotations

import pandas as pd
import pytest

import calbio

TRAIN = ["--epochs", "2", "--hidden", "16", "--batch-size", "64"]


@pytest.fixture(scope="module")
def files(tmp_path_factory, synthetic):
    d = tmp_path_factory.mktemp("nc_inputs")
    emb = synthetic.embeddings.to_frame()
    emb.to_csv(d / "emb.csv")
    pairs = pd.DataFrame({"gene1": synthetic.pairs.a, "gene2": synthetic.pairs.b})
    # one pair whose partner is not in the table: it is in the training pairs file only
    extra = pd.DataFrame({"gene1": ["SYN0001"], "gene2": ["POLR2A"]})
    pd.concat([pairs, extra]).to_csv(d / "pairs.csv", index=False)
    return d


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


def test_quiet_and_verbose(files, tmp_path, cli):
    args = ["fit", files / "emb.csv", files / "pairs.csv", "--out", tmp_path / "q", *TRAIN]
    code, _, err = cli(["--quiet", *args])
    assert code == 0 and "training epoch" not in err
    code, _, err = cli(["-q", "-v", "--version"])
    assert code in (0, 2)
