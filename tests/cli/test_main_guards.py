"""cli.main (fit, evaluate, score, query): bad options and unsafe --out refused in one line
with exit 2 before any work; inputs never overwritten; crash debris cleaned on start."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _helpers import one_line_error, string_world

TRAIN = ["--epochs", "1", "--hidden", "8", "--batch-size", "64"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def model_dir(files, tmp_path_factory) -> Path:
    from calbio.data.embeddings import load_embeddings
    from calbio.data.matching import map_pairs
    from calbio.data.pairs import load_pairs
    from calbio.models.cal.estimator import CAL

    emb = load_embeddings(files / "emb.csv")
    m = CAL("fast", epochs=1, hidden=8, batch_size=64).fit(
        emb, map_pairs(load_pairs(files / "pairs.csv"), emb)
    )
    out = tmp_path_factory.mktemp("model") / "m"
    m.save(out)
    return out


@pytest.fixture()
def unwritable(tmp_path) -> Path:
    """A folder in which nothing can be created (root ignores modes: use /proc then)."""
    if os.geteuid() == 0:
        return Path("/proc")
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    return d


def test_force_never_destroys_inputs(files, tmp_path, cli) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for f in ("emb.csv", "pairs.csv"):
        (data / f).write_bytes((files / f).read_bytes())
    before = snapshot(data)
    for out in (data, tmp_path):  # equals / contains the inputs' folder
        code, _, err = cli(
            ["fit", data / "emb.csv", data / "pairs.csv", "--out", out, "--force", *TRAIN]
        )
        one_line_error(code, err, "input")
    code, _, err = cli(
        ["fit", data / "emb.csv", data / "pairs.csv", "--out", data / "emb.csv", "--force"]
    )
    one_line_error(code, err, "input")
    assert snapshot(data) == before


def test_score_out_cannot_be_an_input(files, model_dir, tmp_path, cli) -> None:
    pairs = tmp_path / "p.csv"
    pairs.write_bytes((files / "pairs.csv").read_bytes())
    code, _, err = cli(["score", model_dir, pairs, "--out", pairs, "--force"])
    one_line_error(code, err, "input")
    assert pairs.read_bytes() == (files / "pairs.csv").read_bytes()
    before = snapshot(model_dir)
    code, _, err = cli(["score", model_dir, pairs, "--out", model_dir, "--force"])
    one_line_error(code, err, "input")
    assert snapshot(model_dir) == before


def test_string_losses_refused_by_fit(tmp_path, synthetic, cli) -> None:
    links, info = string_world(tmp_path, synthetic, info_fraction=0.1)
    synthetic.embeddings.to_frame().to_csv(tmp_path / "emb.csv")
    out = tmp_path / "m"
    args = ["fit", tmp_path / "emb.csv", links, "--protein-info", info, "--out", out, *TRAIN]
    code, _, err = cli(args)
    one_line_error(code, err, "of 600 rows", "--min-mapped")
    assert not out.exists()
    code, _, err = cli([*args, "--min-mapped", "0.0"])
    assert code == 0, err
    assert "600 rows read" in err and "protein ids missing" in err


def test_score_reports_unknown_ids_and_takes_min_mapped(model_dir, tmp_path, cli) -> None:
    names = pd.read_csv(model_dir / "entities.csv")["id"].astype(str).tolist()
    rows = [(names[i], names[i + 1]) for i in range(0, 8, 2)]
    rows += [(f"NOPE{i}", names[i]) for i in range(6)]
    pairs = tmp_path / "p.csv"
    pd.DataFrame(rows, columns=["gene1", "gene2"]).to_csv(pairs, index=False)
    code, _, err = cli(["score", model_dir, pairs, "--min-mapped", "0.5"])  # the strict rule
    one_line_error(code, err, "--min-mapped")
    code, stdout, err = cli(
        ["score", model_dir, pairs]
    )  # default: score what maps, report the rest
    assert code == 0 and "6 identifier(s) unknown" in err and len(stdout.splitlines()) == 11
    assert stdout.count(",unknown id,") == 6  # every input row answered, unknown ones marked
    out = tmp_path / "s.csv"
    code, _, err = cli(["score", model_dir, pairs, "--min-mapped", "0.2", "--out", out])
    assert code == 0, err
    assert "6 identifier(s) unknown" in err and "NOPE0" in err
    assert (pd.read_csv(out)["status"] == "scored").sum() == 4
    side = tmp_path / "s.csv.unknown.txt"
    assert side.read_text().split() == [f"NOPE{i}" for i in range(6)]
    code, stdout, err = cli(["score", model_dir, pairs, "--min-mapped", "0.2"])
    assert code == 0 and "6 identifier(s) unknown" in err and "listed in" not in err


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--lr", "-1"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--threads", "-3"], "--threads"),
        (["--hidden", "0"], "--hidden"),
        (["--score", "bogus"], "--score"),
        (["--min-mapped", "1.5"], "--min-mapped"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_fit_options(files, tmp_path, cli, monkeypatch, extra, needle) -> None:
    def no_work(*a, **k):
        raise AssertionError("options must be checked before any work")

    monkeypatch.setattr("calbio.data.embeddings.load_embeddings", no_work)
    out = tmp_path / "m"
    code, _, err = cli(["fit", files / "emb.csv", files / "pairs.csv", "--out", out, *extra])
    one_line_error(code, err, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--test-fraction", "1.5"], "--test-fraction"),
        (["--test-fraction", "0"], "--test-fraction"),
        (["--n-boot", "0"], "--n-boot"),
        (["--lr", "nan"], "--lr"),
    ],
)
def test_evaluate_options(files, tmp_path, cli, extra, needle) -> None:
    out = tmp_path / "e"
    code, _, err = cli(["evaluate", files / "emb.csv", files / "pairs.csv", "--out", out, *extra])
    one_line_error(code, err, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("top", ["0", "-5"])
def test_query_top(model_dir, cli, top) -> None:
    gene = pd.read_csv(model_dir / "entities.csv")["id"][0]
    code, _, err = cli(["query", model_dir, gene, "--top", top])
    one_line_error(code, err, "--top")


def test_score_bogus_kind(model_dir, files, tmp_path, cli) -> None:
    out = tmp_path / "s.csv"
    code, _, err = cli(["score", model_dir, files / "pairs.csv", "--score", "bogus", "--out", out])
    one_line_error(code, err, "--score", "half")
    assert not out.exists()


def test_unwritable_out_refused_before_training(files, tmp_path, cli, monkeypatch, unwritable):
    from calbio.models.cal.estimator import CAL

    def no_training(*a, **k):
        raise AssertionError("training started before the output was checked")

    monkeypatch.setattr(CAL, "fit", no_training)
    existing = tmp_path / "a_file"
    existing.write_text("x")
    for out, needle in ((unwritable / "m", "cannot write"), (existing, "not a directory")):
        for force in ([], ["--force"]):
            args = ["fit", files / "emb.csv", files / "pairs.csv", "--out", out, *force, *TRAIN]
            code, _, err = cli(args)
            one_line_error(code, err, needle)
    assert existing.read_text() == "x"
    code, _, err = cli(["evaluate", files / "emb.csv", files / "pairs.csv", "--out", existing])
    one_line_error(code, err, "not a directory")


def test_h5ad_duplicated_obs_column(tmp_path, cli) -> None:
    anndata = pytest.importorskip("anndata")
    h5py = pytest.importorskip("h5py")
    obs = pd.DataFrame({"gene": ["a", "b", "c"], "x": [1, 2, 3]}, index=["a", "b", "c"])
    ad = anndata.AnnData(X=np.arange(12, dtype=np.float32).reshape(3, 4) + 1, obs=obs)
    path = tmp_path / "dup.h5ad"
    ad.write_h5ad(path)
    with h5py.File(path, "r+") as f:
        f["obs"].attrs["column-order"] = np.array([b"gene", b"gene", b"x"])
    pairs = tmp_path / "p.csv"
    pairs.write_text("gene1,gene2\na,b\nb,c\n")
    out = tmp_path / "m"
    for extra in ([], ["--id-column", "gene"]):
        code, _, err = cli(["fit", path, pairs, "--out", out, *extra, *TRAIN])
        one_line_error(code, err, "duplicated column", "gene")
    assert not out.exists()


def test_debris_of_dead_runs_cleaned_on_start(tmp_path, files, cli, caplog) -> None:
    dead = 2**22 + 12345  # above pid_max on this platform: never alive
    out = tmp_path / "m"
    tmp_dir = tmp_path / f".m.calbio-{dead}-abc.tmp"
    tmp_dir.mkdir()
    (tmp_dir / "model.safetensors").write_bytes(b"partial")
    tmp_file = tmp_path / f".scores.csv.calbio-{dead}-xyz.tmp"
    tmp_file.write_text("partial")
    legacy = tmp_path / f".m.old-{dead}"
    legacy.mkdir()
    unrelated = tmp_path / f".config.old-{dead}"  # not beside our output name: left alone
    unrelated.mkdir()
    live = tmp_path / f".m.calbio-{os.getpid()}-live.tmp"
    live.mkdir()
    out.mkdir()  # the output exists, so the old moved-aside copy is debris, not to restore
    args = ["fit", files / "emb.csv", files / "pairs.csv", "--out", out, "--force", *TRAIN]
    code, _, err = cli(args)
    assert code == 0, err
    assert not tmp_dir.exists() and not tmp_file.exists() and not legacy.exists()
    assert live.exists() and unrelated.exists()  # a live process's work is left alone
    assert "crashed calbio run" in caplog.text


def test_every_command_refuses_an_out_holding_its_inputs(files, model_dir, tmp_path, cli):
    """The entry point guards --out for all commands, before any work."""
    data = tmp_path / "d"
    data.mkdir()
    (data / "pairs.csv").write_bytes((files / "pairs.csv").read_bytes())
    before = snapshot(model_dir)
    cases = [
        ["clusters", model_dir, "--out", model_dir, "--force"],
        ["neighbors", model_dir, "--out", model_dir, "--force"],
        ["index", model_dir, f"--out={model_dir}", "--force"],
        ["ablate", files / "emb.csv", data / "pairs.csv", "--out", data, "--force"],
    ]
    for argv in cases:
        code, _, err = cli(argv)
        one_line_error(code, err, "input")
    assert snapshot(model_dir) == before and (data / "pairs.csv").is_file()
