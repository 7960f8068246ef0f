"""Shared fixtures: small synthetic worlds and the location of the real shared data."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch

from calbio.data.synthetic import make_synthetic

# Unit-test models are tiny: one intra-op thread is fastest, and it keeps the suite from
# stalling on OpenMP barriers when the machine is busy.
torch.set_num_threads(1)

# Real data: $CALBIO_DATA when set (data outside the development layout), else ../shared/data.
DEV_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHARED = (
    Path(os.environ["CALBIO_DATA"]).expanduser() if os.environ.get("CALBIO_DATA") else DEV_SHARED
)

# Training options that keep unit tests fast; the paper recipe itself is tested structurally.
TINY = {"hidden": 32, "epochs": 3, "batch_size": 128}


@pytest.fixture(scope="session")
def tiny() -> dict:
    """Training options that keep unit tests fast."""
    return dict(TINY)


@pytest.fixture(scope="session")
def synthetic():
    """A small synthetic world (300 entities, 1,500 pairs)."""
    return make_synthetic(n_entities=300, dim=16, n_pairs=1500, seed=0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to the real data ($CALBIO_DATA, else ../shared/data); skip the test when absent.

    Every real-data test reaches the data through this fixture (or ``shared_file``), never
    through a path of its own, so setting CALBIO_DATA runs all of them.
    """
    if not (SHARED / "embeddings" / "depmap_crispr_gene_effect_pca50.csv").is_file():
        pytest.skip(f"real data not found at {SHARED} (set CALBIO_DATA to its folder)")
    return SHARED


@pytest.fixture(scope="session")
def shared_file(shared_data: Path) -> Callable[..., Path]:
    """``shared_file("associations", "x.csv")``: that real-data file, or skip naming CALBIO_DATA."""

    def get(*parts: str) -> Path:
        path = shared_data.joinpath(*parts)
        if not path.exists():
            pytest.skip(
                f"{'/'.join(parts)} not found in the real data at {shared_data} "
                "(set CALBIO_DATA to a folder that holds it)"
            )
        return path

    return get


@pytest.fixture()
def data_dir(tmp_path, synthetic) -> Path:
    """A data folder (embeddings/emb.csv, associations/pairs.csv) for ${CALBIO_DATA} paths."""
    d = tmp_path / "somewhere" / "data"
    (d / "embeddings").mkdir(parents=True)
    (d / "associations").mkdir()
    synthetic.embeddings.to_frame().to_csv(d / "embeddings" / "emb.csv")
    pd.DataFrame({"a": synthetic.pairs.a, "b": synthetic.pairs.b}).to_csv(
        d / "associations" / "pairs.csv", index=False
    )
    return d


@pytest.fixture()
def cli(capsys) -> Callable[[list], tuple[int, str, str]]:
    """Call the console entry point in-process: ``cli(argv) -> (exit code, stdout, stderr)``."""
    from calbio.cli.main import main

    def run(argv: list) -> tuple[int, str, str]:
        old = sys.argv
        sys.argv = ["calbio", *map(str, argv)]
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = old
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
