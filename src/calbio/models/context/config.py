"""The context model's own options, declared once (default, check, help); light to import.

Its training options are CAL's (:data:`calbio.models.cal.config.CAL_SPECS`); these are the ones
only the context model has. The CLI (``calbio context-fit``/``context-evaluate``) generates its
``--calibration`` and ``--context-dim`` options from them; ``ContextCAL`` checks them in ``fit``.
"""

from __future__ import annotations

from calbio.core.options import OptionSpec, Rule, at_least, fraction, one_of, spec_table

CALIBRATIONS: tuple[str, ...] = ("isotonic", "platt", "none")

CONTEXT_SPECS: dict[str, OptionSpec] = spec_table(
    [
        OptionSpec(
            "context_dim",
            int,
            16,
            "Width of the learned context vector",
            at_least(1),
            cli_default=16,
        ),
        OptionSpec(
            "context_dropout",
            float,
            0.1,
            "Share of batches trained with the null context label",
            fraction(low_open=False),
            cli=False,
        ),
        OptionSpec(
            "calibration",
            str,
            "isotonic",
            "isotonic | platt | none",
            one_of(CALIBRATIONS),
            cli_default="isotonic",
        ),
        OptionSpec(
            "calibration_fraction",
            float,
            0.2,
            "Share of pairs set aside to fit the calibration map",
            cli=False,
        ),
        OptionSpec(
            "calibration_negatives",
            int,
            1,
            "Negatives per calibration pair",
            at_least(1),
            cli=False,
        ),
        OptionSpec(
            "context",
            str,
            None,
            "The context the protocol methods score in",
            optional=True,
            cli=False,
        ),
    ]
)

# calibration_fraction matters only when there is a calibration map to fit.
CONTEXT_RULES: tuple[Rule, ...] = (
    Rule(
        ("calibration", "calibration_fraction"),
        lambda v: v["calibration"] != "none" and not 0.0 < v["calibration_fraction"] < 1.0,
        "--calibration-fraction (calibration_fraction) must be in (0, 1) when --calibration is "
        "isotonic or platt",
    ),
)
