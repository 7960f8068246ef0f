"""Issue 19 (safety): documented commands that crashed, full disks, --force on foreign files,
score's row handling, constant profiles in co-essential pairs, and model-directory hashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

TRAIN = ["--epochs", "2", "--hidden", "16", "--batch-size", "64"]
SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def files(tmp_path_factory, synthetic):
    """Embeddings, training pairs (first 1,200), validation pairs (last 300) and a GMT file."""
    d = tmp_path_factory.mktemp("safety_inputs")
    synthetic.embeddings.to_frame().to_csv(d / "emb.csv")
    pairs = pd.DataFrame({"gene1": synthetic.pairs.a, "gene2": synthetic.pairs.b})
    pairs.iloc[:1200].to_csv(d / "pairs.csv", index=False)
    pairs.iloc[1200:].to_csv(d / "validation.csv", index=False)
    names = list(synthetic.embeddings.names)
    lines = [
        f"SET{k}\tdesc {k}\t" + "\t".join(names[k * 10 : k * 10 + 10])
        for k in range(len(names) // 10)
    ]
    (d / "sets.gmt").write_text("\n".join(lines) + "\n")
    return d


@pytest.fixture(scope="module")
def model_dir(files, tmp_path_factory):
    """A CAL model fitted by the CLI on the synthetic training pairs."""
    from calbio.cli.main import main

    out = tmp_path_factory.mktemp("safety_model") / "model"
    argv = ["fit", files / "emb.csv", files / "pairs.csv", "--out", out, *TRAIN]
    old = sys.argv
    sys.argv = ["calbio", *map(str, argv)]
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, exc.code
    finally:
        sys.argv = old
    return out


# ------------------------------------------------------------------ clusters / report examples
def test_clusters_with_genesets_and_validation_runs(files, model_dir, tmp_path, cli) -> None:
    """docs/association-space.md: clusters MODEL --genesets G --validate-with P (crashed)."""
    out = tmp_path / "clusters"
    code, stdout, err = cli(
        ["clusters", model_dir, "--out", out, "--genesets", files / "sets.gmt",
         "--validate-with", files / "validation.csv", "--reps", "2"]
    )  # fmt: skip
    assert code == 0, err
    assert "Traceback" not in err
    val = json.loads((out / "validation.json").read_text())
    assert set(val["validation"]) == {"association", "embedding"}
    assert val["validation"]["association"]["n_mapped"] == 300
    assert "edges inside association clusters" in stdout
    assert (out / "table9.csv").is_file()


def test_report_with_genesets_and_validation_runs(files, model_dir, tmp_path, cli) -> None:
    """docs/association-space.md: report RUN --genesets G --validate-with P (crashed)."""
    run = tmp_path / "run"
    code, _, err = cli(
        ["evaluate", files / "emb.csv", files / "pairs.csv", "--out", run, *TRAIN,
         "--validate-with", files / "validation.csv"]
    )  # fmt: skip
    assert code == 0, err
    html = tmp_path / "report.html"
    code, _, err = cli(
        ["report", run, "--out", html, "--genesets", files / "sets.gmt",
         "--validate-with", files / "validation.csv", "--reps", "2"]
    )  # fmt: skip
    assert code == 0, err
    assert "Traceback" not in err
    assert html.stat().st_size > 0


def test_clusters_with_genesets_and_validation_real_data(shared_data, tmp_path, cli) -> None:
    """The documented clusters example on DepMap x STRING with GO BP and Reactome, short fit."""
    emb = shared_data / "embeddings" / "depmap_crispr_gene_effect_pca50.csv"
    pairs = shared_data / "associations" / "string_ge950_pairs.csv"
    model = tmp_path / "model"
    code, _, err = cli(
        ["fit", emb, pairs, "--out", model, "--epochs", "1", "--hidden", "32",
         "--batch-size", "512"]
    )  # fmt: skip
    assert code == 0, err
    out = tmp_path / "clusters"
    code, _, err = cli(
        ["clusters", model, "--out", out,
         "--genesets", shared_data / "genesets" / "GO_BP_propagated_5_500.gmt",
         "--validate-with", shared_data / "associations" / "reactome_pairs.csv", "--reps", "2"]
    )  # fmt: skip
    assert code == 0, err
    val = json.loads((out / "validation.json").read_text())
    assert val["reactome_pairs"]["association"]["n_mapped"] > 1000


# ------------------------------------------------------------------ full disk / file-size limit
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


def test_fit_under_a_file_size_limit_is_one_line_exit_2(files, tmp_path) -> None:
    out = tmp_path / "model"
    argv = ["fit", files / "emb.csv", files / "pairs.csv", "--out", out, *TRAIN[:2]]
    res = run_limited([*argv, "--hidden", "256", "--batch-size", "64"], 20_000, tmp_path)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    err = [line for line in res.stderr.splitlines() if line.startswith("calbio: error")]
    assert len(err) == 1, res.stderr
    assert str(out) in err[0] and "file too large" in err[0]
    assert leftovers(tmp_path) == []  # no model directory, no temporary sibling


def test_score_under_a_file_size_limit_is_one_line_exit_2(files, model_dir, tmp_path) -> None:
    out = tmp_path / "scores.csv"
    res = run_limited(["score", model_dir, files / "validation.csv", "--out", out], 1, tmp_path)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    err = [line for line in res.stderr.splitlines() if line.startswith("calbio: error")]
    assert len(err) == 1 and str(out) in err[0] and "file too large" in err[0], res.stderr
    assert leftovers(tmp_path) == []


def test_full_disk_reason_reads_errno_and_safetensors() -> None:
    import errno

    from calbio.core.io import full_disk_reason, output_name

    assert "no space left" in full_disk_reason(OSError(errno.ENOSPC, "No space left on device"))
    assert "quota" in full_disk_reason(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert full_disk_reason(OSError(errno.EACCES, "Permission denied")) is None
    SafetensorError = type("SafetensorError", (Exception,), {})
    exc = SafetensorError('IoError(Os { code: 27, kind: FileTooLarge, message: "File too large" })')
    assert "file too large" in full_disk_reason(exc)
    try:
        try:
            raise OSError(errno.ENOSPC, "full")
        except OSError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert "no space left" in full_disk_reason(outer)
    assert output_name("/x/.run.calbio-12-ab.tmp/model/config.json") == "/x/run/model/config.json"


# ------------------------------------------------------------------ --force and foreign files
def _foreign_dir(tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "notes.txt").write_text("my notes\n")
    return d


def test_force_refuses_a_directory_with_a_foreign_file_fit(files, tmp_path, cli) -> None:
    out = _foreign_dir(tmp_path, "results")
    argv = ["fit", files / "emb.csv", files / "pairs.csv", "--out", out, *TRAIN, "--force"]
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


def test_force_refuses_a_directory_with_a_foreign_file_evaluate(files, tmp_path, cli) -> None:
    out = tmp_path / "run"
    argv = ["evaluate", files / "emb.csv", files / "pairs.csv", "--out", out, *TRAIN]
    argv += ["--n-boot", "10", "--force"]
    assert cli(argv)[0] == 0
    (out / ".calbio_output.json").unlink()  # a run written by an older calbio: known names only
    assert cli(argv)[0] == 0
    (out / ".calbio_output.json").unlink()
    (out / "model" / "my_plot.png").write_bytes(b"png")
    code, _, err = cli(argv)
    assert code == 2 and "model/my_plot.png" in err and "Traceback" not in err
    assert (out / "model" / "my_plot.png").read_bytes() == b"png"


def test_force_refuses_a_directory_with_a_foreign_file_clusters(files, model_dir, tmp_path, cli):
    out = _foreign_dir(tmp_path, "clusters")
    code, _, err = cli(["clusters", model_dir, "--out", out, "--force"])
    assert code == 2 and "notes.txt" in err
    assert (out / "notes.txt").is_file()


def test_force_check_is_in_atomic_dir_too(tmp_path) -> None:
    """The API path (atomic_dir without the CLI's early check) refuses the same way."""
    from calbio.core.errors import CalbioInputError
    from calbio.core.io import atomic_dir

    out = _foreign_dir(tmp_path, "out")
    with pytest.raises(CalbioInputError, match="notes.txt"):
        with atomic_dir(out, force=True) as tmp:
            (tmp / "metrics.json").write_text("{}")
    assert (out / "notes.txt").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_dir(empty, force=True) as tmp:
        (tmp / "metrics.json").write_text("{}")
    assert (empty / "metrics.json").is_file()


# ------------------------------------------------------------------ score keeps every row
def test_score_keeps_one_row_per_input_row_in_order(model_dir, tmp_path, cli) -> None:
    pairs = tmp_path / "p.csv"
    pairs.write_text(
        "gene1,gene2\nsyn0001,syn0002\nSYN0001,SYN0002\nSYN0002,SYN0001\nsyn0003,SYN0004\n"
        "SYN0005,NOPE\nSYN0006,syn0006\n"
    )
    out = tmp_path / "scores.csv"
    code, _, err = cli(["score", model_dir, pairs, "--out", out])
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


def test_score_writes_no_unknown_file_when_every_id_is_known(model_dir, tmp_path, cli) -> None:
    pairs = tmp_path / "p.csv"
    pairs.write_text("gene1,gene2\nSYN0001,SYN0002\nSYN0003,SYN0004\n")
    out = tmp_path / "scores.csv"
    code, _, err = cli(["score", model_dir, pairs, "--out", out])
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "scores.csv"]
    assert "duplicate" not in err


# ------------------------------------------------------------------ constant profiles
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


# ------------------------------------------------------------------ model hashes
def _copy_model(model_dir: Path, tmp_path: Path) -> Path:
    import shutil

    m = tmp_path / "m"
    shutil.copytree(model_dir, m)
    return m


def test_rotated_entities_are_refused(model_dir, tmp_path, cli) -> None:
    m = _copy_model(model_dir, tmp_path)
    lines = (m / "entities.csv").read_text().splitlines()
    rotated = [lines[0], *lines[2:], lines[1]]  # header kept, rows rotated by one
    (m / "entities.csv").write_text("\n".join(rotated) + "\n")
    code, _, err = cli(["query", m, "SYN0001"])
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert "entities.csv" in err and "does not match the hash" in err


def test_changed_array_is_refused(model_dir, tmp_path, cli) -> None:
    from safetensors.numpy import load_file, save_file

    m = _copy_model(model_dir, tmp_path)
    arrays = load_file(str(m / "model.safetensors"))
    k = sorted(arrays)[0]
    arrays[k] = arrays[k] * 1.01
    save_file(arrays, str(m / "model.safetensors"))
    code, _, err = cli(["query", m, "SYN0001"])
    assert code == 2 and "model.safetensors" in err and repr(k) in err


def test_model_without_hashes_loads_with_a_warning(model_dir, tmp_path, caplog) -> None:
    from calbio.models.persistence import load_model

    m = _copy_model(model_dir, tmp_path)
    cfg = json.loads((m / "config.json").read_text())
    assert set(cfg["hashes"]) == {"entities", "train_pairs", "arrays"}
    del cfg["hashes"]
    (m / "config.json").write_text(json.dumps(cfg))
    with caplog.at_level("WARNING", logger="calbio"):
        model = load_model(m)
    assert "records no hashes" in caplog.text
    assert list(model.names_) == list(load_model(model_dir).names_)


def test_force_accepts_a_calbio_output_written_into_a_run(tmp_path) -> None:
    """`calbio clusters RUN --out RUN/clusters` then evaluate --force RUN: both are calbio's."""
    from calbio.core.io import atomic_dir, foreign_file

    run = tmp_path / "run"
    with atomic_dir(run) as tmp:
        (tmp / "metrics.json").write_text("{}")
        (tmp / "model").mkdir()
        (tmp / "model" / "config.json").write_text("{}")
    with atomic_dir(run / "clusters") as tmp:
        (tmp / "clusters.csv").write_text("x\\n")
    assert foreign_file(run) is None
    (run / "clusters" / "mine.txt").write_text("x")
    assert foreign_file(run) == run / "clusters" / "mine.txt"
    (run / "clusters" / "mine.txt").unlink()
    (run / "model" / "mine.txt").write_text("x")
    assert foreign_file(run) == run / "model" / "mine.txt"
