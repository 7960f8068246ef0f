"""Every ```python block of README.md runs, in order and in one namespace, on the real data.

Skips when the real data is absent ($CALBIO_DATA, else ../shared/data). Blocks run in a
temporary working directory, so README's outputs (runs/edge, my_model, *.png) land there.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 4
    text = README.read_text(encoding="utf-8")
    assert "## Python API" in text and "anndata" in text and "plot_roc" in text


@pytest.fixture(scope="module")
def namespace(shared_data, tmp_path_factory):
    import os

    import torch

    torch.set_num_threads(1)
    old_cwd, old_env = Path.cwd(), os.environ.get("CALBIO_DATA")
    os.chdir(tmp_path_factory.mktemp("readme"))
    os.environ["CALBIO_DATA"] = str(shared_data)
    try:
        yield {"__name__": "__readme__"}
    finally:
        os.chdir(old_cwd)
        if old_env is None:
            os.environ.pop("CALBIO_DATA", None)
        else:
            os.environ["CALBIO_DATA"] = old_env


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_python_block(i, namespace):
    code = BLOCKS[i]
    exec(compile(code, f"README.md python block {i + 1}", "exec"), namespace)  # noqa: S102
    import matplotlib.pyplot as plt

    plt.close("all")
