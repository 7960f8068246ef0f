"""--validate-with a file whose pairs are all in the main file: said, not silently empty."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

import calbio
from calbio.data.pairs import pairs_from_list


def test_api_reports_zero_novel_pairs(synthetic, tiny) -> None:
    a, b = np.asarray(synthetic.pairs.a), np.asarray(synthetic.pairs.b)
    sub = pairs_from_list(list(zip(b[:50], a[:50])), "subset.csv")  # reversed: still not novel
    r = calbio.evaluate(
        synthetic.embeddings, synthetic.pairs, validate_with=[sub], n_boot=10, **tiny
    )
    v = r.to_dict()["validation"]["subset"]
    assert v["n_pairs"] == 0 and v["n_removed_in_main_pairs"] == 50
    assert v["note"] == "0 novel pairs: every pair is in the main file"


def test_cli_prints_and_writes_zero_novel_pairs(synthetic, tmp_path, cli) -> None:
    synthetic.embeddings.to_frame().to_csv(tmp_path / "emb.csv")
    frame = pd.DataFrame({"gene1": synthetic.pairs.a, "gene2": synthetic.pairs.b})
    frame.to_csv(tmp_path / "pairs.csv", index=False)
    frame.iloc[:40].to_csv(tmp_path / "subset.csv", index=False)
    code, out, err = cli(
        ["evaluate", tmp_path / "emb.csv", tmp_path / "pairs.csv", "--validate-with",
         tmp_path / "subset.csv", "--epochs", "2", "--hidden", "32", "--n-boot", "10",
         "--out", tmp_path / "run"]
    )  # fmt: skip
    assert code == 0, err
    assert "subset: 0 novel pairs: every pair is in the main file (40 removed)" in out
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["validation"]["subset"]["n_pairs"] == 0
    assert m["validation"]["subset"]["n_removed_in_main_pairs"] == 40
