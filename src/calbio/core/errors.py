"""Error types that the CLI turns into one clear line and exit code 2."""

from __future__ import annotations

from pathlib import Path


class CalbioInputError(ValueError):
    """Bad user input: names the offending file (if any) and the problem in one line."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        self.problem = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class OutputExistsError(CalbioInputError):
    """An output would overwrite existing results and --force was not given."""


class OutputWriteError(CalbioInputError):
    """An output could not be written: the disk is full, or a file-size limit or quota was hit."""
