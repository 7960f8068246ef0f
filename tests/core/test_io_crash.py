"""Issue 11 §5: SIGKILL a `calbio fit --force` at random moments of its save.

After every kill the output directory must hold either the old complete model or the new complete
model, and (once a later run has cleaned the crashed run's debris) nothing else may remain.
``CALBIO_TEST_SAVE_DELAY`` only sleeps between the stages of the save (temporary directory made,
contents written, swapped in) so that random kills land inside it; the code path is unchanged.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from calbio.core.io import clean_debris
from calbio.data.synthetic import make_synthetic

N_KILLS = 20
DELAY = 0.1  # seconds slept at each of the save's three stages
MODEL_FILES = {
    "config.json",
    "entities.csv",
    "loss_curve.csv",
    "metadata.json",
    "model.safetensors",
    "train_pairs.csv",
    "id_mapping.tsv",
    ".calbio_output.json",  # the marker that lets --force replace it
}
SRC = Path(__file__).resolve().parents[2] / "src"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Tiny inputs and an 'old' model fitted with seed 1."""
    from calbio.data.matching import map_pairs, write_id_mapping
    from calbio.models.cal.estimator import CAL

    d = tmp_path_factory.mktemp("crash")
    syn = make_synthetic(n_entities=60, dim=8, n_pairs=150, seed=3)
    syn.embeddings.to_frame().to_csv(d / "emb.csv")
    pd.DataFrame({"gene1": syn.pairs.a, "gene2": syn.pairs.b}).to_csv(d / "pairs.csv", index=False)
    old = d / "old_model"
    mapped = map_pairs(syn.pairs, syn.embeddings)
    CAL("fast", random_state=1, epochs=1, hidden=8, batch_size=64).fit(syn.embeddings, mapped).save(
        old, extra_files={"id_mapping.tsv": lambda p: write_id_mapping(mapped, p)}
    )
    return d / "emb.csv", d / "pairs.csv", old


def _fit_child(argv: list[str]) -> None:
    """Body of a forked child: the CLI's entry point with ``argv`` (never returns)."""
    code = 0
    try:
        sys.argv = ["calbio", *argv]
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
        from calbio.cli.main import main

        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        code = 1
    os._exit(code)


def start_fit(argv: list[str], fork: bool) -> tuple[int, object]:
    """Start `calbio fit ARGV` as a forked child of this (already imported) process, or as a
    fresh ``python -m calbio.cli.main`` subprocess; returns (pid, handle)."""
    if fork:
        pid = os.fork()
        if pid == 0:
            _fit_child(argv)
        return pid, None
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "calbio.cli.main", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc.pid, proc


def finished(pid: int, handle: object) -> bool:
    """Has the child exited (reaping it when forked)?"""
    if handle is not None:
        return handle.poll() is not None
    done, _ = os.waitpid(pid, os.WNOHANG)
    return done == pid


def reap(pid: int, handle: object) -> None:
    """Wait for a killed child."""
    if handle is not None:
        handle.wait()
    else:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def kill_during_save(
    world: tuple[Path, Path, Path], parent: Path, wait: float, fork: bool = True
) -> str:
    """Copy the old model to parent/out, start `fit --force`, kill it ``wait`` s into its save."""
    from calbio.models.cal.estimator import CAL

    emb, pairs, old = world
    parent.mkdir()
    out = parent / "out"
    shutil.copytree(old, out)
    argv = ["fit", str(emb), str(pairs), "--out", str(out), "--force", "--seed", "2"]
    argv += ["--epochs", "1", "--hidden", "8", "--batch-size", "64"]
    pid, handle = start_fit(argv, fork)
    deadline = time.monotonic() + 120
    try:
        while not any(p.name.startswith(".out.calbio-") for p in parent.iterdir()):
            if finished(pid, handle) or time.monotonic() > deadline:
                raise AssertionError("fit ended before its save was seen")
            time.sleep(0.002)
        time.sleep(wait)
    finally:
        os.kill(pid, signal.SIGKILL)
        reap(pid, handle)

    # the output is one complete model, old or new
    assert out.is_dir()
    assert {p.name for p in out.iterdir()} == MODEL_FILES
    model = CAL.load(out)
    seed = model.config.seed
    assert seed in (1, 2)
    if seed == 1:
        assert snapshot(out) == snapshot(old)
    # besides it only debris of the killed process, which the next run removes
    others = {p.name for p in parent.iterdir()} - {"out"}
    assert all(n.startswith(f".out.calbio-{pid}") for n in others), others
    clean_debris(parent)
    assert [p.name for p in parent.iterdir()] == ["out"]
    return "old" if seed == 1 else "new"


@pytest.fixture()
def slow_save(monkeypatch) -> None:
    """Widen the save (see module docstring); forked children inherit the environment."""
    monkeypatch.setenv("CALBIO_TEST_SAVE_DELAY", str(DELAY))


def test_sigkill_during_save_leaves_old_or_new(world, tmp_path, slow_save) -> None:
    rng = random.Random(11)
    waits = [rng.uniform(0, 4 * DELAY) for _ in range(N_KILLS)]
    outcomes = [kill_during_save(world, tmp_path / f"t{i}", w) for i, w in enumerate(waits)]
    assert len(outcomes) == N_KILLS
    # the kills really land on both sides of the swap
    assert outcomes.count("old") >= 2 and outcomes.count("new") >= 2, outcomes


@pytest.mark.slow
def test_sigkill_fresh_cli_process(world, tmp_path, slow_save) -> None:
    """The same with the installed entry point in fresh interpreters (before and after swap)."""
    for i, wait in enumerate((0.05, 3.5 * DELAY)):
        kill_during_save(world, tmp_path / f"p{i}", wait, fork=False)
