"""core.io: atomic files and directories, --force, crash debris, paths kept inside the output."""

from __future__ import annotations

import pandas as pd
import pytest

from calbio.core import io as _io

# kills the mutation atomic_dir_leaves_partial (tests/mutations/run.py)


def test_failed_atomic_dir_leaves_nothing_behind(tmp_path) -> None:
    target = tmp_path / "out"
    with pytest.raises(RuntimeError), _io.atomic_dir(target) as tmp:
        (tmp / "half.csv").write_text("a,b\n")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with _io.atomic_dir(target) as tmp:
        pd.DataFrame({"a": [1]}).to_csv(tmp / "ok.csv", index=False)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (target / "ok.csv").is_file()
