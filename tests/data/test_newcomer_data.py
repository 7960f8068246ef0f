"""Issue 14 §4: real data outside the development layout (CALBIO_DATA) and nothing written on
a bad data path."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from calbio.core.errors import CalbioInputError
from calbio.data.paths import expand, resolve
from calbio.experiments.runner import load_experiment, run_experiment

TOML = """name = "t"
[data]
embeddings = "${CALBIO_DATA}/embeddings/emb.csv"
pairs = "${CALBIO_DATA:-fallback}/associations/pairs.csv"
[training]
preset = "fast"
epochs = 1
hidden = 8
batch_size = 64
[[steps]]
kind = "doctor"
"""


@pytest.fixture()
def data_dir(tmp_path, synthetic):
    d = tmp_path / "somewhere" / "data"
    (d / "embeddings").mkdir(parents=True)
    (d / "associations").mkdir()
    synthetic.embeddings.to_frame().to_csv(d / "embeddings" / "emb.csv")
    pd.DataFrame({"a": synthetic.pairs.a, "b": synthetic.pairs.b}).to_csv(
        d / "associations" / "pairs.csv", index=False
    )
    return d


def test_experiment_paths_follow_calbio_data(data_dir, tmp_path, monkeypatch):
    exp_file = tmp_path / "exp" / "e.toml"
    exp_file.parent.mkdir()
    exp_file.write_text(TOML)
    monkeypatch.setenv("CALBIO_DATA", str(data_dir))
    exp = load_experiment(exp_file)
    assert exp.data["embeddings"] == data_dir / "embeddings" / "emb.csv"
    assert exp.data["pairs"] == data_dir / "associations" / "pairs.csv"
    monkeypatch.delenv("CALBIO_DATA")
    with pytest.raises(CalbioInputError, match=r"\$\{CALBIO_DATA\} is used .* not set"):
        load_experiment(exp_file)


def test_bad_data_path_writes_nothing(data_dir, tmp_path, monkeypatch):
    exp_file = tmp_path / "e.toml"
    exp_file.write_text(TOML.replace("emb.csv", "missing.csv"))
    monkeypatch.setenv("CALBIO_DATA", str(data_dir))
    out = tmp_path / "run"
    with pytest.raises(CalbioInputError, match="embeddings = .*missing.csv"):
        run_experiment(exp_file, out)
    assert not out.exists()  # no config.toml, no environment.json


def test_bad_data_path_cli_exit_2(data_dir, tmp_path, monkeypatch, cli):
    exp_file = tmp_path / "e.toml"
    exp_file.write_text(TOML.replace("pairs.csv", "nope.csv"))
    monkeypatch.setenv("CALBIO_DATA", str(data_dir))
    code, _, err = cli(["run", exp_file, "--out", tmp_path / "run"])
    assert code == 2 and "nope.csv" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_shipped_experiments_use_calbio_data(monkeypatch):
    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("CALBIO_DATA", "/elsewhere/data")
    exp = load_experiment(root / "experiments" / "depmap_string.toml")
    assert str(exp.data["embeddings"]).startswith("/elsewhere/data/embeddings/")
    assert all(str(p).startswith("/elsewhere/data/") for p in exp.data["validate_with"])


def test_shared_data_fixture_honours_calbio_data(tmp_path):
    import subprocess
    import sys

    here = str(Path(__file__).resolve().parents[1])  # tests/, where conftest.py is
    code = f"import sys; sys.path.insert(0, {here!r}); import conftest; print(conftest.SHARED)"
    env = {"CALBIO_DATA": str(tmp_path), "PATH": "", "PYTHONPATH": ":".join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == str(tmp_path), out.stderr[-500:]


@given(st.text(alphabet="abc/._-", max_size=20))
def test_expand_leaves_plain_paths_alone(s):
    assert expand(s) == s


def test_expand_defaults_and_resolve(tmp_path, monkeypatch):
    monkeypatch.delenv("CALBIO_DATA", raising=False)
    assert expand("${CALBIO_DATA:-../d}/x") == "../d/x"
    assert resolve(tmp_path, "${CALBIO_DATA:-d}/x") == tmp_path / "d" / "x"
    monkeypatch.setenv("CALBIO_DATA", "/abs")
    assert resolve(tmp_path, "$CALBIO_DATA/x") == Path("/abs/x")


def test_run_data_option_sets_calbio_data(data_dir, tmp_path, monkeypatch, cli):
    monkeypatch.delenv("CALBIO_DATA", raising=False)
    exp_file = tmp_path / "e.toml"
    exp_file.write_text(TOML.replace("emb.csv", "missing.csv"))
    code, _, err = cli(["run", exp_file, "--out", tmp_path / "run", "--data", data_dir])
    # the variable resolved (the error names the data folder), and nothing was written
    assert code == 2 and str(data_dir / "embeddings" / "missing.csv") in err
    assert not (tmp_path / "run").exists()
    code, _, err = cli(["run", exp_file, "--data", tmp_path / "nowhere"])
    assert code == 2 and "not a directory" in err
