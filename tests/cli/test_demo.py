"""The demo pipeline end to end (short training; `calbio demo` itself uses 30 epochs)."""

import json

import pytest

from calbio.api import run_demo
from calbio.core.errors import CalbioInputError, OutputExistsError


def test_demo_writes_labelled_outputs(tmp_path) -> None:
    out = tmp_path / "demo"
    res = run_demo(out, epochs=2)
    m = json.loads((out / "metrics.json").read_text())
    assert m["data"]["synthetic"] is True and m["demo"]["data"] == "synthetic"
    assert m["protocol"] == "edge" and {"cal", "cosine", "degree"} <= set(m["methods"])
    assert (out / "model" / "config.json").is_file() and (out / "query.csv").is_file()
    assert {"training_pair", "held_out_pair"} <= set(res["query"].columns)
    with pytest.raises(OutputExistsError):
        run_demo(out, epochs=1)


def test_demo_data_dir_must_have_files(tmp_path) -> None:
    with pytest.raises(CalbioInputError, match="embeddings"):
        run_demo(tmp_path / "x", data=tmp_path)
