"""Stage timings: a tiny context-manager timer that collects ``stage -> seconds``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Timer:
    """Collects wall-clock seconds per named stage (repeated stages add up).

    >>> timer = Timer()
    >>> with timer("split"):
    ...     pass
    >>> sorted(timer.as_dict())
    ['split']
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        """Time the ``with`` block and add its duration to ``stage``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - t0)

    def add(self, stage: str, seconds: float) -> None:
        """Add ``seconds`` to ``stage`` (for durations measured elsewhere)."""
        self.seconds[stage] = self.seconds.get(stage, 0.0) + float(seconds)

    def as_dict(self, ndigits: int = 4) -> dict[str, float]:
        """Stage -> seconds, rounded, in the order stages first ran (for metrics.json)."""
        return {k: round(v, ndigits) for k, v in self.seconds.items()}

    @property
    def total(self) -> float:
        """Sum over all stages."""
        return float(sum(self.seconds.values()))
