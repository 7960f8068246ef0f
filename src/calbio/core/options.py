"""Validation of user options in one place, shared by the CLI and the Python API.

Every check raises :class:`calbio.core.errors.CalbioInputError` (a ``ValueError``), so the CLI
turns it into one line and exit code 2 and the API raises a ``ValueError`` with the same text.
Messages name the option both ways (``--test-fraction (test_fraction)``).
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from calbio.core.errors import CalbioInputError
from calbio.core.seeds import DEFAULT_SEED

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


# --------------------------------------------------------------------------- one spec per option
Check = Callable[[str, Any], Any]


def at_least(minimum: int) -> Check:
    """Check: an integer >= ``minimum``."""
    return functools.partial(check_int, minimum=minimum)


def positive() -> Check:
    """Check: a finite number > 0."""
    return check_positive


def non_negative() -> Check:
    """Check: a finite number >= 0."""
    return check_non_negative


def fraction(*, low_open: bool = True, high_open: bool = True) -> Check:
    """Check: a number in the unit interval, each end open or closed."""
    return functools.partial(check_fraction, low_open=low_open, high_open=high_open)


def one_of(choices: Iterable[str]) -> Check:
    """Check: one of ``choices``."""
    return functools.partial(check_choice, choices=tuple(choices))


def check_device(name: str, value: Any) -> Any:
    """``--device``: auto | cpu | cuda | cuda:N | mps."""
    base = value.split(":", 1)[0] if isinstance(value, str) else None
    if base not in DEVICES or (":" in value and base != "cuda"):
        raise CalbioInputError(
            f"{_label(name)} must be one of {', '.join(DEVICES)} (or cuda:N), got {value!r}"
        )
    return value


@dataclass(frozen=True)
class OptionSpec:
    """One option, declared once: its name, type, default, check and help text.

    ``optional``: ``None`` is a valid value (unset). ``cli``: offered on the command line, where
    ``cli_default`` is its default (``None``: take the preset's or the API's value) and a
    ``bool`` option is an on/off flag. The CLI options, the API checks and the overrides are
    all generated from these.
    """

    name: str
    type: type
    default: Any
    help: str
    check: Check | None = None
    optional: bool = False
    cli: bool = True
    cli_default: Any = None

    @property
    def flag(self) -> str:
        """The command-line flag, ``--test-fraction``."""
        return "--" + self.name.replace("_", "-")

    @property
    def label(self) -> str:
        """The option named both ways, ``--test-fraction (test_fraction)``."""
        return _label(self.name)

    def validate(self, value: Any) -> Any:
        """Raise :class:`CalbioInputError` naming the option unless ``value`` is valid."""
        if value is None and self.optional:
            return value
        if self.check is not None:
            self.check(self.name, value)
        return value


@dataclass(frozen=True)
class Rule:
    """A rule across options (``broken(values)`` is True when violated), declared once."""

    names: tuple[str, ...]
    broken: Callable[[Mapping[str, Any]], bool]
    message: str

    def check(self, values: Mapping[str, Any]) -> None:
        """Raise :class:`CalbioInputError` with the rule's message when ``values`` break it."""
        if self.broken(values):
            raise CalbioInputError(self.message)


def spec_table(specs: Iterable[OptionSpec]) -> dict[str, OptionSpec]:
    """``name -> spec``; a name declared twice is a programming error."""
    table: dict[str, OptionSpec] = {}
    for spec in specs:
        if spec.name in table:
            raise ValueError(f"option {spec.name!r} is declared twice")
        table[spec.name] = spec
    return table


def check_options(
    specs: Mapping[str, OptionSpec],
    values: Mapping[str, Any],
    rules: Iterable[Rule] = (),
    *,
    skip_unset: bool = True,
) -> None:
    """Check every value that has a spec (``None`` skipped when ``skip_unset``), then the rules.

    The rules see the values over the specs' defaults (an option not given has its default).
    """
    for name, value in values.items():
        spec = specs.get(name)
        if spec is not None and not (skip_unset and value is None):
            spec.validate(value)
    given = {k: v for k, v in values.items() if v is not None}
    merged = {**{n: s.default for n, s in specs.items()}, **given}
    for rule in rules:
        rule.check(merged)


# Evaluation options (evaluate, transfer, context-evaluate, experiment runner): declared once.
EVALUATION_SPECS: dict[str, OptionSpec] = spec_table(
    [
        OptionSpec("test_fraction", float, 0.3, "Held-out fraction of pairs/entities", fraction()),
        OptionSpec("n_boot", int, 1000, "Bootstrap resamples for the CIs", at_least(1)),
        OptionSpec(
            "cb_threshold",
            float,
            0.2,
            "Cross-boundary: |cosine| below this",
            fraction(low_open=True, high_open=False),
        ),
        OptionSpec(
            "min_mapped",
            float,
            None,
            "Strict rule: smallest fraction of pairs that must map onto the table. Default: "
            "refuse only when the pairs touch under 5% (or under 20) of the embedding's entities",
            fraction(low_open=False, high_open=False),
            optional=True,
        ),
        OptionSpec(
            "rank_sample",
            int,
            None,
            "Rank a seeded sample of N held-out (query, partner) pairs per set instead of all "
            "(genome scale; the MRR CI is reported) [default: all]",
            at_least(1),
            optional=True,
        ),
        OptionSpec("negative_ratio", int, 5, "Negatives per positive pair", at_least(1)),
        OptionSpec(
            "max_negatives", int, 50_000, "Most negatives per pair set", at_least(1), cli=False
        ),
        OptionSpec(
            "seed", int, DEFAULT_SEED, "Random seed (splits, initialisation, batches)", at_least(0)
        ),
    ]
)


def check_score_kind(kind: str | None) -> str | None:
    """``--score`` of score/evaluate: half | both | cosine | blend (or unset)."""
    return check_choice("score", kind, SCORE_KINDS, optional=True)


def check_top(top: Any) -> int:
    """``--top``: how many partners, at least 1."""
    return check_int("top", top, 1)


def check_min_mapped(value: Any) -> float | None:
    """``--min-mapped``: a fraction in [0, 1], or unset (the embedding-coverage rule)."""
    return EVALUATION_SPECS["min_mapped"].validate(value)


def check_evaluation(**options: Any) -> None:
    """Validate evaluation options (:data:`EVALUATION_SPECS`; unset values are skipped)."""
    unknown = sorted(set(options) - set(EVALUATION_SPECS))
    if unknown:
        raise TypeError(f"not evaluation options: {', '.join(unknown)}")
    check_options(EVALUATION_SPECS, options)


__all__ = [
    "EVALUATION_SPECS",
    "OptionSpec",
    "Rule",
    "at_least",
    "check_choice",
    "check_device",
    "check_evaluation",
    "check_fraction",
    "check_int",
    "check_min_mapped",
    "check_non_negative",
    "check_options",
    "check_positive",
    "check_score_kind",
    "check_top",
    "fraction",
    "non_negative",
    "one_of",
    "positive",
    "spec_table",
]
