"""Startup stays fast: the CLI and ``import calbio`` load no heavy library (issue 19 section 6).

Timings live in benchmarks/startup.py (benchmarks/SPEED.md); these tests check the cause of a
slow start instead -- which modules are in ``sys.modules`` -- in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import calbio

HEAVY = ("torch", "sklearn", "scipy", "pandas", "anndata", "matplotlib", "pooch", "torch_geometric")


def loaded_after(code: str) -> list[str]:
    """Heavy modules present in a fresh interpreter after running ``code``."""
    probe = (
        f"{code}\nimport sys\n"
        f"sys.stderr.write('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    line = [x for x in out.stderr.splitlines() if x.startswith("HEAVY=")]
    assert line, out.stderr[-2000:]
    return [m for m in line[-1].partition("=")[2].split(",") if m]


def run_cli(*args: str) -> str:
    """Code that runs ``calbio ARGS`` in-process, as the console script does."""
    return (
        f"import sys; from calbio.cli.main import main; sys.argv = ['calbio', *{list(args)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert loaded_after("import calbio.cli.main") == []


def test_importing_calbio_loads_no_heavy_library() -> None:
    assert loaded_after("import calbio; calbio.__version__") == []


CHEAP = [["--version"], ["--help"], ["fit", "--help"], ["fetch", "--list"]]


@pytest.mark.parametrize("args", CHEAP)
def test_cheap_commands_load_no_heavy_library(args: list[str]) -> None:
    assert loaded_after(run_cli(*args)) == []


def test_lazy_exports_resolve_to_their_modules() -> None:
    from calbio.data.embeddings import load_embeddings
    from calbio.models.cal.estimator import CAL

    assert calbio.CAL is CAL and calbio.load_embeddings is load_embeddings
    assert set(calbio.__all__) == {*calbio._EXPORTS, "__version__"}
    assert set(calbio.__all__) <= set(dir(calbio))
    for name in calbio.__all__:
        assert getattr(calbio, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        calbio.nope  # noqa: B018


def test_star_import_gives_every_export() -> None:
    ns: dict = {}
    exec("from calbio import *", ns)
    assert {"CAL", "evaluate", "load_pairs", "map_pairs", "__version__"} <= set(ns)
