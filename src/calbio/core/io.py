"""Atomic output helpers: write to a temporary sibling, then rename into place."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from calbio.core.errors import CalbioInputError, OutputExistsError, OutputWriteError

log = logging.getLogger("calbio")

# Temporary siblings carry the writer's PID, so that a later run can tell the debris of a crashed
# (dead) calbio process from the work in progress of a live one:
#   .NAME.calbio-PID-RANDOM.tmp   a file or directory being written
#   .NAME.calbio-PID.old          the previous output, moved aside (only without RENAME_EXCHANGE)
_DEBRIS = re.compile(r"^\.(?P<name>.+)\.calbio-(?P<pid>\d+)(?:-[^/]*)?\.(?P<kind>tmp|old)$")
_LEGACY_OLD = re.compile(r"^\.(?P<name>.+)\.old-(?P<pid>\d+)$")  # left by older calbio versions
# Test hook: seconds to sleep at each stage of a directory replacement, to widen the window in
# which the crash test kills a save (the code path is the same; only the timing changes).
_DELAY_ENV = "CALBIO_TEST_SAVE_DELAY"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_json(obj: Any) -> str:
    """Serialise to pretty JSON, converting numpy scalars and arrays."""
    return json.dumps(obj, indent=2, default=_json_default, allow_nan=True) + "\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _umask_mode() -> int:
    return 0o666 & ~_umask()


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}.calbio-{os.getpid()}-"


# ----------------------------------------------------------------------------- full disk
# errno -> the words of the one-line error (a full disk, a file-size limit, a quota)
_FULL = {
    errno.ENOSPC: "no space left on device",
    errno.EFBIG: "file too large (a file-size limit, e.g. ulimit -f)",
    errno.EDQUOT: "disk quota exceeded",
}
# safetensors reports the same OS errors inside its own exception's text
_FULL_TEXT = {
    "no space left": _FULL[errno.ENOSPC],
    "file too large": _FULL[errno.EFBIG],
    "filetoolarge": _FULL[errno.EFBIG],
    "storagefull": _FULL[errno.ENOSPC],
    "quota exceeded": _FULL[errno.EDQUOT],
}


def full_disk_reason(exc: BaseException | None) -> str | None:
    """Why a write failed when ``exc`` (or an exception it chains) is a full disk, else None.

    Recognises ``OSError`` with ENOSPC / EFBIG / EDQUOT and safetensors' ``SafetensorError``
    wrapping them.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL:
            return _FULL[exc.errno]
        if type(exc).__name__ == "SafetensorError":
            text = str(exc).lower()
            for key, reason in _FULL_TEXT.items():
                if key in text:
                    return reason
        exc = exc.__cause__ or exc.__context__
    return None


def output_name(path: str | Path) -> str:
    """The output a temporary sibling stands for (``.NAME.calbio-PID-X.tmp`` -> ``NAME``)."""
    p = Path(path)
    for part in (p, *p.parents):
        m = _DEBRIS.match(part.name)
        if m is not None:
            return str(part.with_name(m["name"]) / p.relative_to(part))
    return str(p)


@contextlib.contextmanager
def full_disk_guard(path: str | Path) -> Iterator[None]:
    """Turn a full disk / file-size limit inside the block into one OutputWriteError on ``path``."""
    try:
        yield
    except OutputWriteError:
        raise
    except Exception as exc:
        reason = full_disk_reason(exc)
        if reason is None:
            raise
        failed = getattr(exc, "filename", None)
        raise OutputWriteError(
            f"cannot write the output: {reason}; nothing was written there (free space or "
            "raise the limit, then run again)",
            output_name(failed if isinstance(failed, str | Path) else path),
        ) from exc


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write text to ``path`` atomically (temporary file in the same folder, then rename)."""
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(path)


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as JSON atomically."""
    return write_text_atomic(path, to_json(obj))


@contextlib.contextmanager
def atomic_files(*paths: str | Path) -> Iterator[list[Path]]:
    """Yield one temporary path per output; all are renamed into place only if the block succeeds.

    A full disk (or a file-size limit) becomes one :class:`OutputWriteError` naming the output,
    and no output is left half-written.
    """
    targets = [Path(p) for p in paths]
    tmps: list[Path] = []
    try:
        with full_disk_guard(targets[0] if targets else "."):
            for path in targets:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=".tmp", dir=path.parent)
                os.close(fd)
                tmps.append(Path(tmp))
            yield list(tmps)
        for tmp, path in zip(tmps, targets, strict=True):
            os.chmod(tmp, _umask_mode())  # mkstemp creates 0600; outputs get normal permissions
            os.replace(tmp, path)
    finally:
        for tmp in tmps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; it is renamed to ``path`` only if the block succeeds."""
    with atomic_files(path) as (tmp,):
        yield tmp


# ----------------------------------------------------------------------------- output checks
def _resolved(path: str | Path) -> Path:
    return Path(os.path.abspath(Path(path).expanduser())).resolve()


def inside(path: str | Path, root: str | Path, what: str = "path") -> Path:
    """``path`` resolved; refuse (CalbioInputError) one that is not inside ``root``."""
    p, r = _resolved(path), _resolved(root)
    if p != r and r not in p.parents:
        raise CalbioInputError(f"{what} resolves to {p}, outside {r}; refusing to touch it", path)
    return p


def check_not_input(out: str | Path, inputs: Iterable[str | Path | None]) -> None:
    """Refuse an output that equals or contains an input path (``--force`` would destroy it)."""
    o = _resolved(out)
    for inp in inputs:
        if inp is None:
            continue
        i = _resolved(inp)
        if i == o:
            raise CalbioInputError(f"is also an input ({inp}); choose another output path", out)
        if o in i.parents:
            raise CalbioInputError(
                f"contains the input {inp}; replacing it would destroy the input. Choose "
                "another output path",
                out,
            )


def _probe_writable(folder: Path, out: Path) -> None:
    """Create and delete a temporary file in ``folder`` (os.access is wrong for root)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(out), suffix=".tmp", dir=folder)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CalbioInputError(f"cannot write in {folder}: {reason}", out) from None
    os.close(fd)
    os.unlink(tmp)


def check_output(
    path: str | Path,
    force: bool,
    *,
    inputs: Iterable[str | Path | None] = (),
    kind: str | None = None,
) -> Path:
    """Check an output path before any work starts.

    Refuses an existing output without ``force``, an output that is (or contains) an input, a
    file where a directory is expected (``kind="dir"``) or the reverse (``kind="file"``), and a
    location that cannot be written. Cleans the debris of crashed calbio runs beside it.
    """
    path = Path(path)
    check_not_input(path, inputs)
    if _resolved(path).parent.is_dir():  # first: it may move a crashed run's output back
        clean_debris(_resolved(path).parent, path.name)
    if path.exists() or path.is_symlink():
        if kind == "dir" and not path.is_dir():
            raise CalbioInputError("exists and is not a directory", path)
        if kind == "file" and path.is_dir():
            raise CalbioInputError("is a directory; give a file name", path)
        if not force:
            what = "output directory" if path.is_dir() else "output file"
            raise OutputExistsError(f"{what} already exists; pass --force to overwrite", path)
        check_replaceable(path)
    folder = _resolved(path).parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise CalbioInputError(f"cannot write: {folder} is not a directory", path)
    _probe_writable(folder, path)
    return path


def check_output_file(path: str | Path, force: bool) -> Path:
    """Refuse to overwrite an existing output unless ``force``; refuse unwritable locations."""
    return check_output(path, force)


# ----------------------------------------------------------------------------- --force
# Every directory calbio writes atomically carries this marker: a JSON manifest of the files and
# folders it wrote. ``--force`` replaces a directory only when every entry in it is calbio's
# (listed in the manifest, or for older unmarked directories one of the names calbio writes).
MARKER = ".calbio_output.json"
_MARKER_NOTE = (
    "written by calbio; --force may replace this directory only while it holds nothing but "
    "these files"
)
# The files of every calbio output directory, for directories written before the marker existed:
# model (fit), run (evaluate, context evaluate, demo), clusters, ablation, index, context worlds.
OWN_NAMES = frozenset(
    {
        "model.safetensors", "config.json", "entities.csv", "train_pairs.csv", "metadata.json",
        "loss_curve.csv", "id_mapping.tsv",
        "metrics.json", "test_scores.csv.gz", "model", "models", "query.csv",
        "per_context.csv", "loco.csv", "reliability.csv",
        "table.csv.gz", "pairs.csv", "truth.json",
        "ablation.json", "ablation.md", "index.faiss", "index.json",
        "clusters.csv", "clusters.parquet", "embedding_clusters.csv",
        "embedding_clusters.parquet", "members.csv", "members.parquet", "enrichment.csv",
        "enrichment.parquet", "embedding_enrichment.csv", "embedding_enrichment.parquet",
        "table9.csv", "validation.json", "params.json",
    }
)  # fmt: skip


def _entries(path: Path) -> list[str]:
    """Every file and folder below ``path``, as sorted POSIX paths relative to it."""
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


def write_marker(path: str | Path) -> None:
    """Mark directory ``path`` as calbio's: a manifest of everything in it now."""
    path = Path(path)
    files = [e for e in _entries(path) if e != MARKER]
    (path / MARKER).write_text(to_json({"note": _MARKER_NOTE, "files": files}), encoding="utf-8")


def _manifest(path: Path) -> set[str] | None:
    try:
        files = json.loads((path / MARKER).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {str(f) for f in files} if isinstance(files, list) else None


def foreign_file(path: str | Path) -> Path | None:
    """The first entry in directory ``path`` that calbio did not write, or None.

    A marked directory (:data:`MARKER`) may hold what its manifest lists, plus calbio outputs
    written into it later (subdirectories with their own marker, checked the same way); an
    unmarked one (older calbio versions) only names in :data:`OWN_NAMES`, folders checked the
    same way. The debris of crashed calbio runs counts as calbio's.
    """
    path = Path(path)
    listed = _manifest(path)

    def walk(folder: Path) -> Path | None:
        for entry in sorted(folder.iterdir()):
            if entry.name == MARKER or _DEBRIS.match(entry.name):
                continue
            is_dir = entry.is_dir() and not entry.is_symlink()
            if listed is not None and entry.relative_to(path).as_posix() in listed:
                ok = True
            elif is_dir and (entry / MARKER).is_file():  # a calbio output of its own
                inner = foreign_file(entry)
                if inner is not None:
                    return inner
                continue
            else:
                ok = listed is None and entry.name in OWN_NAMES and not entry.is_symlink()
            if not ok:
                return entry
            if is_dir:
                inner = walk(entry)
                if inner is not None:
                    return inner
        return None

    return walk(path)


def check_replaceable(path: str | Path) -> None:
    """Refuse to ``--force`` over a directory holding a file that calbio did not write."""
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        return
    foreign = foreign_file(path)
    if foreign is not None:
        raise CalbioInputError(
            f"holds {foreign.relative_to(path)}, which calbio did not write; --force replaces "
            "only calbio's own outputs. Move that file away or choose another output directory",
            path,
        )


# ----------------------------------------------------------------------------- crash debris
def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def clean_debris(folder: str | Path, output: str | None = None) -> list[str]:
    """Remove leftovers of crashed calbio runs in ``folder``; returns one message per action.

    A moved-aside previous output whose replacement never arrived is moved back; temporary
    siblings of dead processes are deleted. Work of live processes is left alone. The
    ``.NAME.old-PID`` folders of older calbio versions are only touched for NAME == ``output``
    (the name alone is too common to be sure elsewhere).
    """
    folder = Path(folder)
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    done = []
    for p in entries:
        m = _DEBRIS.match(p.name)
        if m is None and output is not None:
            m = _LEGACY_OLD.match(p.name)
            m = m if m is not None and m["name"] == output else None
        if m is None or _pid_alive(int(m["pid"])):
            continue
        target = folder / m["name"]
        kind = m.groupdict().get("kind") or "old"
        if kind == "old" and not (target.exists() or target.is_symlink()):
            os.replace(p, target)
            done.append(f"restored {target} from {p.name} (moved aside by a crashed calbio run)")
        else:
            _remove(p)
            done.append(f"removed {p} (left by a crashed calbio run, pid {m['pid']})")
    for msg in done:
        log.warning("calbio: %s", msg)
    return done


# ----------------------------------------------------------------------------- directory swap
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False when unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _test_delay() -> None:
    delay = os.environ.get(_DELAY_ENV)
    if delay:
        time.sleep(float(delay))


def replace_dir(new: Path, target: Path) -> None:
    """Put directory ``new`` at ``target``; the old ``target`` stays whole until the swap.

    Uses an atomic exchange where the OS has one (Linux renameat2), so ``target`` always exists;
    elsewhere the old directory is renamed aside first, and :func:`clean_debris` moves it back
    if the process dies between the two renames.
    """
    if not (target.exists() or target.is_symlink()):
        os.replace(new, target)
        return
    if target.is_dir() and not target.is_symlink() and _exchange(new, target):
        _test_delay()
        _remove(new)  # ``new`` now holds the old output (debris-named if we die here)
        return
    old = target.with_name(f".{target.name}.calbio-{os.getpid()}.old")
    os.replace(target, old)
    os.replace(new, target)
    _remove(old)


@contextlib.contextmanager
def atomic_dir(path: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``path`` only when the block succeeds.

    An existing ``path`` is refused unless ``force``, and even then when it holds a file calbio
    did not write (:func:`check_replaceable`); the new directory carries the marker
    :data:`MARKER`. Nothing partial is left behind on error (a full disk is one
    :class:`OutputWriteError`), and a kill at any moment leaves either the old or the new
    complete directory at ``path`` (plus debris that the next run removes).
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        if not force:
            raise OutputExistsError(
                "output directory already exists; pass --force to overwrite", path
            )
        if not path.is_dir():
            raise CalbioInputError("exists and is not a directory", path)
        check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_debris(path.parent, path.name)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(path), suffix=".tmp", dir=path.parent))
    try:
        with full_disk_guard(path):
            _test_delay()
            yield tmp
            write_marker(tmp)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700
        _test_delay()
        replace_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
