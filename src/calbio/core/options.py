"""Validation of user options in one place, shared by the CLI and the Python API.

Every check raises :class:`calbio.core.errors.CalbioInputError` (a ``ValueError``), so the CLI
turns it into one line and exit code 2 and the API raises a ``ValueError`` with the same text.
Messages name the option both ways (``--test-fraction (test_fraction)``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from calbio.core.errors import CalbioInputError

# The valid choices of the training options (TrainConfig re-exports them).
NEGATIVE_MODES: tuple[str, ...] = ("in-batch", "random", "degree")
SCORE_KINDS: tuple[str, ...] = ("half", "both", "cosine", "blend")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
STRATEGIES: tuple[str, ...] = ("auto", "ddp")


def _label(name: str) -> str:
    flag = "--" + name.replace("_", "-")
    return f"{flag} ({name})" if "_" in name else flag


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name: str, value: Any, minimum: int = 1, *, optional: bool = False) -> Any:
    """An integer >= ``minimum`` (``None`` allowed when ``optional``)."""
    if value is None and optional:
        return value
    if not _is_int(value) or value < minimum:
        raise CalbioInputError(f"{_label(name)} must be an integer >= {minimum}, got {value!r}")
    return value


def check_positive(name: str, value: Any, *, optional: bool = False) -> Any:
    """A finite number > 0."""
    if value is None and optional:
        return value
    if not _is_real(value) or not math.isfinite(value) or value <= 0:
        raise CalbioInputError(f"{_label(name)} must be a finite number > 0, got {value!r}")
    return value


def check_non_negative(name: str, value: Any, *, optional: bool = False) -> Any:
    """A finite number >= 0."""
    if value is None and optional:
        return value
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        raise CalbioInputError(f"{_label(name)} must be a finite number >= 0, got {value!r}")
    return value


def check_fraction(
    name: str,
    value: Any,
    *,
    low_open: bool = True,
    high_open: bool = True,
    optional: bool = False,
) -> Any:
    """A number in (0, 1), [0, 1), (0, 1] or [0, 1] as chosen by the flags."""
    if value is None and optional:
        return value
    ok = _is_real(value) and math.isfinite(value)
    if ok:
        ok = (value > 0 if low_open else value >= 0) and (value < 1 if high_open else value <= 1)
    if not ok:
        interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise CalbioInputError(f"{_label(name)} must be in {interval}, got {value!r}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[str], *, optional: bool = False) -> Any:
    """One of ``choices``."""
    if value is None and optional:
        return value
    choices = tuple(choices)
    if value not in choices:
        raise CalbioInputError(f"{_label(name)} must be one of {', '.join(choices)}, got {value!r}")
    return value


# name -> check, for the TrainConfig fields a user sets (CLI overrides, TOML [training], API)
def _training_checks() -> dict[str, Any]:
    return {
        "hidden": lambda v: check_int("hidden", v, 1),
        "depth": lambda v: check_int("depth", v, 0),
        "tau": lambda v: check_positive("tau", v),
        "batch_size": lambda v: check_int("batch_size", v, 2),
        "epochs": lambda v: check_int("epochs", v, 1),
        "lr": lambda v: check_positive("lr", v),
        "weight_decay": lambda v: check_non_negative("weight_decay", v),
        "schedule": lambda v: check_choice("schedule", v, ("cosine", "onecycle", "constant")),
        "negatives": lambda v: check_choice("negatives", v, NEGATIVE_MODES),
        "n_negatives": lambda v: check_int("n_negatives", v, 1, optional=True),
        "degree_power": lambda v: check_non_negative("degree_power", v),
        "validation_fraction": lambda v: check_fraction("validation_fraction", v, low_open=False),
        "patience": lambda v: check_int("patience", v, 1, optional=True),
        "score": lambda v: check_choice("score", v, SCORE_KINDS),
        "blend_lambda": lambda v: check_fraction(
            "blend_lambda", v, low_open=False, high_open=False
        ),
        "pca": lambda v: check_int("pca", v, 1, optional=True),
        "seed": lambda v: check_int("seed", v, 0),
        "threads": lambda v: check_int("threads", v, 1, optional=True),
    }


def check_training(options: Mapping[str, Any]) -> None:
    """Validate training options (TrainConfig fields); unset (``None``) values are skipped."""
    checks = _training_checks()
    for name, value in options.items():
        if value is not None and name in checks:
            checks[name](value)


def check_score_kind(kind: str | None) -> str | None:
    """``--score`` of score/evaluate: half | both | cosine | blend (or unset)."""
    return check_choice("score", kind, SCORE_KINDS, optional=True)


def check_top(top: Any) -> int:
    """``--top``: how many partners, at least 1."""
    return check_int("top", top, 1)


def check_min_mapped(value: Any) -> float | None:
    """``--min-mapped``: a fraction in [0, 1], or unset (the embedding-coverage rule)."""
    if value is None:
        return None
    return check_fraction("min_mapped", value, low_open=False, high_open=False)


def check_evaluation(
    *,
    test_fraction: Any = None,
    n_boot: Any = None,
    cb_threshold: Any = None,
    min_mapped: Any = None,
) -> None:
    """Validate evaluation options (unset values are skipped)."""
    if test_fraction is not None:
        check_fraction("test_fraction", test_fraction)
    if n_boot is not None:
        check_int("n_boot", n_boot, 1)
    if cb_threshold is not None:
        check_fraction("cb_threshold", cb_threshold, low_open=True, high_open=False)
    if min_mapped is not None:
        check_min_mapped(min_mapped)


__all__ = [
    "check_choice",
    "check_evaluation",
    "check_fraction",
    "check_int",
    "check_min_mapped",
    "check_non_negative",
    "check_positive",
    "check_score_kind",
    "check_top",
    "check_training",
]
