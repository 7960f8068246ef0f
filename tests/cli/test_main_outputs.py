"""cli.main outputs: a full disk or file-size limit gives one line and exit 2; --force never
replaces foreign files; score keeps one row per input row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from _helpers import _foreign_dir

TRAIN = ["--epochs", "2", "--hidden", "16", "--batch-size", "64"]


SRC = str(Path(__file__).resolve().parents[2] / "src")


def run_limited(argv: list, limit: int, cwd: Path) -> subprocess.CompletedProcess:
    """Run the CLI in a child whose files may not exceed ``limit`` bytes (RLIMIT_FSIZE).

    SIGXFSZ is ignored in the child, so an oversize write fails with EFBIG as on a full disk
    instead of killing the process.
    """
    code = textwrap.dedent(
        f"""
        import resource, signal, sys
        import numpy, pandas, torch, safetensors.numpy  # imported before the limit
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
        sys.argv = ["calbio", *{[str(a) for a in argv]!r}]
        from calbio.cli.main import main
        main()
        """
    )
    env = {**os.environ, "PYTHONPATH": SRC, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "400"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def leftovers(folder: Path) -> list[str]:
    """Names in ``folder`` other than the inputs: temporary siblings or partial outputs."""
    return sorted(p.name for p in folder.iterdir())


def test_fit_under_a_file_size_limit_is_one_line_exit_2(cli_inputs, tmp_path) -> None:
    out = tmp_path / "model"
    argv = ["fit", cli_inputs / "emb.csv", cli_inputs / "pairs.csv", "--out", out, *TRAIN[:2]]
    res = run_limited([*argv, "--hidden", "256", "--batch-size", "64"], 20_000, tmp_path)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    err = [line for line in res.stderr.splitlines() if line.startswith("calbio: error")]
    assert len(err) == 1, res.stderr
    assert str(out) in err[0] and "file too large" in err[0]
    assert leftovers(tmp_path) == []  # no model directory, no temporary sibling


def test_score_under_a_file_size_limit_is_one_line_exit_2(
    cli_inputs, cli_model_dir, tmp_path
) -> None:
    out = tmp_path / "scores.csv"
    res = run_limited(
        ["score", cli_model_dir, cli_inputs / "validation.csv", "--out", out], 1, tmp_path
    )
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    err = [line for line in res.stderr.splitlines() if line.startswith("calbio: error")]
    assert len(err) == 1 and str(out) in err[0] and "file too large" in err[0], res.stderr
    assert leftovers(tmp_path) == []


def test_force_refuses_a_directory_with_a_foreign_file_fit(cli_inputs, tmp_path, cli) -> None:
    out = _foreign_dir(tmp_path, "results")
    argv = [
        "fit",
        cli_inputs / "emb.csv",
        cli_inputs / "pairs.csv",
        "--out",
        out,
        *TRAIN,
        "--force",
    ]
    code, _, err = cli(argv)
    assert code == 2
    assert "notes.txt" in err and "calbio did not write" in err and "Traceback" not in err
    assert (out / "notes.txt").read_text() == "my notes\n"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    # calbio's own output is replaced with --force
    (out / "notes.txt").unlink()
    code, _, err = cli(argv)
    assert code == 0, err
    assert (out / ".calbio_output.json").is_file()
    assert "model.safetensors" in json.loads((out / ".calbio_output.json").read_text())["files"]
    (out / "extra.txt").write_text("x")  # added after calbio wrote it: not calbio's
    code, _, err = cli(argv)
    assert code == 2 and "extra.txt" in err
    assert (out / "extra.txt").is_file()


def test_force_refuses_a_directory_with_a_foreign_file_evaluate(cli_inputs, tmp_path, cli) -> None:
    out = tmp_path / "run"
    argv = ["evaluate", cli_inputs / "emb.csv", cli_inputs / "pairs.csv", "--out", out, *TRAIN]
    argv += ["--n-boot", "10", "--force"]
    assert cli(argv)[0] == 0
    (out / ".calbio_output.json").unlink()  # a run written by an older calbio: known names only
    assert cli(argv)[0] == 0
    (out / ".calbio_output.json").unlink()
    (out / "model" / "my_plot.png").write_bytes(b"png")
    code, _, err = cli(argv)
    assert code == 2 and "model/my_plot.png" in err and "Traceback" not in err
    assert (out / "model" / "my_plot.png").read_bytes() == b"png"


def test_score_keeps_one_row_per_input_row_in_order(cli_model_dir, tmp_path, cli) -> None:
    pairs = tmp_path / "p.csv"
    pairs.write_text(
        "gene1,gene2\nsyn0001,syn0002\nSYN0001,SYN0002\nSYN0002,SYN0001\nsyn0003,SYN0004\n"
        "SYN0005,NOPE\nSYN0006,syn0006\n"
    )
    out = tmp_path / "scores.csv"
    code, _, err = cli(["score", cli_model_dir, pairs, "--out", out])
    assert code == 0, err
    t = pd.read_csv(out, keep_default_na=False)
    assert len(t) == 6
    assert list(t["input_a"]) == ["syn0001", "SYN0001", "SYN0002", "syn0003", "SYN0005", "SYN0006"]
    assert list(t["input_b"]) == ["syn0002", "SYN0002", "SYN0001", "SYN0004", "NOPE", "syn0006"]
    assert list(t["a"]) == ["SYN0001", "SYN0001", "SYN0002", "SYN0003", "SYN0005", "SYN0006"]
    assert list(t["b"]) == ["SYN0002", "SYN0002", "SYN0001", "SYN0004", "", "SYN0006"]
    assert list(t["status"]) == [
        "scored", "duplicate", "duplicate", "scored", "unknown id", "self pair"
    ]  # fmt: skip
    assert list(t["duplicate_of_row"]) == ["", "1", "1", "", "", ""]
    assoc = pd.to_numeric(t["association"], errors="coerce")
    assert assoc[0] == assoc[1] == pytest.approx(assoc[2])
    assert assoc[4:].isna().all()
    assert "2 duplicate(s) of an earlier row" in err
    assert (tmp_path / "scores.csv.unknown.txt").read_text() == "NOPE\n"


def test_score_writes_no_unknown_file_when_every_id_is_known(cli_model_dir, tmp_path, cli) -> None:
    pairs = tmp_path / "p.csv"
    pairs.write_text("gene1,gene2\nSYN0001,SYN0002\nSYN0003,SYN0004\n")
    out = tmp_path / "scores.csv"
    code, _, err = cli(["score", cli_model_dir, pairs, "--out", out])
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "scores.csv"]
    assert "duplicate" not in err
