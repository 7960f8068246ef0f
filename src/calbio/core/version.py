"""calbio's version, read once from the installed package metadata (pyproject.toml holds it)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__: str = version("calbio")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
