"""cli.derive (calbio pairs ...): derived pairs files and their warnings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


def test_coessential_reports_constant_rows(tmp_path, cli) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 12))
    X[[4, 17]] = 0.5  # two genes without variance: no correlation, no pairs
    names = [f"G{i}" for i in range(30)]
    prof = tmp_path / "profiles.csv"
    pd.DataFrame(X, index=pd.Index(names, name="gene")).to_csv(prof)
    out = tmp_path / "pairs.csv"
    code, _, err = cli(["pairs", "coessential", prof, "--out", out, "--top-k", "3"])
    assert code == 0, err
    warn = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warn) == 1 and "2 entities have no variance" in warn[0]
    assert "G4, G17" in warn[0]
    meta = json.loads((tmp_path / "pairs.csv.json").read_text())
    assert meta["n_constant_dropped"] == 2 and meta["constant_entities"] == ["G4", "G17"]
    assert meta["warnings"] == [warn[0].removeprefix("warning: ")]
    t = pd.read_csv(out)
    assert not {"G4", "G17"} & (set(t["a"]) | set(t["b"]))
