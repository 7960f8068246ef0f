"""Where real data lives outside the development layout: the ``CALBIO_DATA`` variable.

``CALBIO_DATA`` names the folder with ``embeddings/`` and ``associations/`` (the layout of the
shared data and of ``calbio demo --data``). Experiment files refer to it as
``${CALBIO_DATA}/embeddings/...``, or with a fallback as ``${CALBIO_DATA:-../../shared/data}/...``
(the fallback is resolved against the experiment file's folder like any relative path).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from calbio.core.errors import CalbioInputError

ENV = "CALBIO_DATA"
_VAR = re.compile(
    r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def data_dir(required: bool = False) -> Path | None:
    """The folder named by ``$CALBIO_DATA`` (None when unset, an error when ``required``)."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        if required:
            raise CalbioInputError(
                f"{ENV} is not set: export {ENV}=/path/to/data (the folder that holds "
                "embeddings/ and associations/)"
            )
        return None
    return Path(value).expanduser()


def expand(value: str, where: Any = None) -> str:
    """Expand ``$VAR`` / ``${VAR}`` / ``${VAR:-default}``; an unset variable without a default
    is an error naming it (instead of a path that silently contains '${CALBIO_DATA}')."""

    def sub(m: re.Match[str]) -> str:
        name = m.group("braced") or m.group("bare")
        got = os.environ.get(name)
        if got:
            return got
        if m.group("default") is not None:
            return m.group("default")
        hint = " (the folder that holds embeddings/ and associations/)" if name == ENV else ""
        raise CalbioInputError(f"${{{name}}} is used in {value!r} but not set{hint}", where)

    return _VAR.sub(sub, str(value))


def resolve(base: Path, value: Any, where: Any = None) -> Path:
    """A data path from a config file: variables expanded, ``~`` expanded, relative to ``base``."""
    p = Path(expand(str(value), where)).expanduser()
    return p if p.is_absolute() else (base / p)


def check_files(paths: Iterable[tuple[str, Any]], where: Any = None) -> None:
    """Every named path must be an existing file: one error listing all that are not."""
    missing = [f"{key} = {p}" for key, p in paths if p is not None and not Path(p).is_file()]
    if missing:
        raise CalbioInputError(
            "data file(s) not found: " + "; ".join(missing) + f" (set {ENV} or fix the paths)",
            where,
        )


def experiment_inputs(exp: Any) -> list[tuple[str, Any]]:
    """(key, path) of every input file an experiment reads ([data] and per-step pairs)."""
    d = exp.data
    out = [(k, d.get(k)) for k in ("embeddings", "pairs", "names_file", "protein_info")]
    out += [("validate_with", v) for v in d.get("validate_with", [])]
    out += [(f"steps.{s['name']}.pairs", s.get("pairs")) for s in exp.steps]
    return out


def validate_experiment(exp: Any) -> None:
    """Check an experiment's input files before anything is written to its run directory."""
    check_files(experiment_inputs(exp), exp.path)
