"""core.io: atomic files and directories, --force, crash debris, paths kept inside the output."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from _helpers import _foreign_dir
from calbio.core import io as _io
from calbio.core.errors import CalbioInputError

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


def test_inside_refuses_escapes(tmp_path) -> None:
    from calbio.core.io import inside

    assert inside(tmp_path / "a" / "b", tmp_path) == (tmp_path / "a" / "b").resolve()
    for bad in (tmp_path / ".." / "x", Path("/etc/passwd"), tmp_path / "a" / ".." / ".." / "y"):
        with pytest.raises(CalbioInputError, match="outside"):
            inside(bad, tmp_path)
    (tmp_path / "link").symlink_to(tmp_path.parent)
    with pytest.raises(CalbioInputError, match="outside"):
        inside(tmp_path / "link" / "z", tmp_path)


def test_moved_aside_output_is_restored(tmp_path) -> None:
    from calbio.core.io import clean_debris

    dead = 2**22 + 12345
    aside = tmp_path / f".m.calbio-{dead}.old"
    aside.mkdir()
    (aside / "config.json").write_text("{}")
    msgs = clean_debris(tmp_path)
    assert (tmp_path / "m" / "config.json").is_file() and not aside.exists()
    assert msgs and "restored" in msgs[0]


def test_force_replace_keeps_output_present(tmp_path, monkeypatch) -> None:
    """During a --force replacement the output directory never disappears."""
    from calbio.core import io as _io

    out = tmp_path / "out"
    with _io.atomic_dir(out) as t:
        (t / "v").write_text("old")
    seen = []
    real_remove = _io._remove

    def spy(p: Path) -> None:
        seen.append(((out / "v").read_text(), sorted(x.name for x in tmp_path.iterdir())))
        real_remove(p)

    monkeypatch.setattr(_io, "_remove", spy)
    with _io.atomic_dir(out, force=True) as t:
        (t / "v").write_text("new")
        assert (out / "v").read_text() == "old"
    assert seen and seen[0][0] == "new"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out"]


def test_replace_without_rename_exchange(tmp_path, monkeypatch) -> None:
    """Where the OS has no atomic exchange, the two-rename fallback replaces and cleans up."""
    from calbio.core import io as _io

    monkeypatch.setattr(_io, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    for text in ("old", "new"):
        with _io.atomic_dir(out, force=True) as t:
            (t / "v").write_text(text)
    assert (out / "v").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


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
