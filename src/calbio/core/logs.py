"""The ``calbio`` logger and training progress: a rich bar in a terminal, log lines otherwise.

Library code logs through ``logging.getLogger("calbio")`` (or a child) and never configures
handlers itself; :func:`setup_logging` is what the CLI (``--quiet`` / ``--verbose``) and
notebooks call. :func:`training_progress` yields a callback with the trainer's signature
``progress(epoch, n_epochs, loss)``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

LOGGER_NAME = "calbio"
logger = logging.getLogger(LOGGER_NAME)
logger.addHandler(logging.NullHandler())  # a library stays silent unless the user sets up logging

ProgressCallback = Callable[[int, int, float], None]
_HANDLER_FLAG = "_calbio_handler"


def get_logger(name: str | None = None) -> logging.Logger:
    """The ``calbio`` logger, or one of its children (``calbio.<name>``)."""
    return logger if not name else logger.getChild(name)


def verbosity_level(quiet: bool = False, verbose: bool = False) -> int:
    """``--quiet`` -> WARNING, default -> INFO, ``--verbose`` -> DEBUG."""
    if quiet and verbose:
        from calbio.core.errors import CalbioInputError

        raise CalbioInputError("--quiet and --verbose exclude each other")
    if quiet:
        return logging.WARNING
    return logging.DEBUG if verbose else logging.INFO


def setup_logging(level: int | str = logging.INFO, stream: TextIO | None = None) -> logging.Logger:
    """Send ``calbio`` log records to ``stream`` (default stderr) at ``level``; idempotent."""
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
        if not isinstance(level, int):
            raise ValueError(f"unknown log level {level!r}")
    for h in list(logger.handlers):
        if getattr(h, _HANDLER_FLAG, False):
            logger.removeHandler(h)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s calbio %(levelname)s: %(message)s", "%H:%M:%S")
    )
    setattr(handler, _HANDLER_FLAG, True)
    logger.addHandler(handler)
    logger.setLevel(level)
    return logger


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class LogProgress:
    """Plain periodic log lines ``epoch 5/20 loss 1.2345 (12 s)``: every ``every_s`` seconds,
    plus the first and the last epoch (for files, pipes and notebooks without a terminal)."""

    def __init__(self, log: logging.Logger | None = None, every_s: float = 10.0) -> None:
        self.log = log or logger
        self.every_s = every_s
        self.t0 = time.perf_counter()
        self.last: float | None = None

    def __call__(self, epoch: int, n_epochs: int, loss: float) -> None:
        """Log one epoch when due."""
        now = time.perf_counter()
        due = self.last is None or now - self.last >= self.every_s or epoch >= n_epochs
        if due:
            self.last = now
            self.log.info(
                "training epoch %d/%d loss %.4f (%.0f s)", epoch, n_epochs, loss, now - self.t0
            )


@contextlib.contextmanager
def training_progress(
    quiet: bool = False, *, console: Any = None, every_s: float = 10.0
) -> Iterator[ProgressCallback | None]:
    """A ``progress(epoch, n_epochs, loss)`` callback: a rich bar on a terminal, log lines else.

    The bar is created on the first callback, so it never shows an unknown total or a NaN loss.
    ``quiet`` (or a logger set to WARNING) yields None.
    """
    if quiet or not logger.isEnabledFor(logging.INFO):
        yield None
        return
    if console is None:
        from rich.console import Console

        console = Console(stderr=True)
    if not console.is_terminal:
        yield LogProgress(every_s=every_s)
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("training"),
        BarColumn(),
        TextColumn("epoch {task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def update(epoch: int, n_epochs: int, loss: float) -> None:
        if "task" not in tasks:
            bar.start()
            tasks["task"] = bar.add_task("train", total=n_epochs, loss=loss)
        bar.update(tasks["task"], completed=epoch, total=n_epochs, loss=loss)

    try:
        yield update
    finally:
        if "task" in tasks:
            bar.stop()
