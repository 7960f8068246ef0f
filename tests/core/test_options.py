"""One spec per option: the CLI options, the API checks and the overrides come from one declaration.

Adding an OptionSpec adds the command-line option (with its help) and its check (with its
message, exit code 2); the API (TrainConfig, check_training) and the CLI raise the same text.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calbio.core.errors import CalbioInputError
from calbio.core.options import (
    EVALUATION_SPECS,
    OptionSpec,
    Rule,
    at_least,
    check_evaluation,
    check_options,
    fraction,
    one_of,
    spec_table,
)
from calbio.models.cal.config import CAL_SPECS, TRAIN_RULES, TrainConfig, check_training

NEW = OptionSpec("new_opt", int, 3, "A brand-new knob of the recipe", at_least(2))


@pytest.fixture
def probe_command():
    """Register a command whose training options come from CAL_SPECS plus ``extra`` specs."""
    from calbio.cli import common as c
    from calbio.cli.app import app

    added = []

    def register(*extra: OptionSpec, rules: tuple[Rule, ...] = TRAIN_RULES) -> str:
        specs = {**CAL_SPECS, **spec_table(extra)}

        @c.with_shared_options(specs=specs, rules=rules, inputs=())
        def spec_probe(*, inputs: object, training: object) -> None:
            """Print the training options the command received."""
            for k, v in sorted(training.overrides.items()):  # type: ignore[attr-defined]
                print(f"{k}={v}")

        app.command("spec-probe")(spec_probe)
        added.append(app.registered_commands[-1])
        return "spec-probe"

    yield register
    for cmd in added:
        app.registered_commands.remove(cmd)


def test_adding_a_spec_adds_the_cli_option_and_its_check(probe_command, cli) -> None:
    name = probe_command(NEW)
    code, out, _ = cli([name, "--help"])
    assert code == 0 and "--new-opt" in out and "A brand-new knob" in out
    code, _, err = cli([name, "--new-opt", "1"])
    assert code == 2, err
    assert "--new-opt (new_opt) must be an integer >= 2, got 1" in err and "Traceback" not in err
    code, out, err = cli([name, "--new-opt", "5", "--epochs", "7"])
    assert code == 0, err
    assert "new_opt=5" in out and "epochs=7" in out
    code, out, err = cli([name])  # unset: the spec's default is the API's business, not the CLI's
    assert code == 0 and "new_opt" not in out, err


def test_a_declared_rule_is_checked_by_the_cli(probe_command, cli) -> None:
    rule = Rule(("new_opt", "epochs"), lambda v: v["new_opt"] > v["epochs"], "--new-opt > epochs")
    name = probe_command(NEW, rules=(*TRAIN_RULES, rule))
    code, _, err = cli([name, "--new-opt", "9", "--epochs", "4"])
    assert code == 2 and "--new-opt > epochs" in err
    code, _, err = cli([name, "--patience", "2"])  # the training rules still apply
    assert code == 2 and "--patience needs --validation-fraction" in err


def test_every_cal_spec_offered_on_the_cli_is_a_fit_option(cli) -> None:
    code, out, _ = cli(["fit", "--help"])
    assert code == 0
    for spec in CAL_SPECS.values():
        assert (spec.flag in out) == spec.cli, spec.name


def test_a_name_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        spec_table([NEW, NEW])


def test_check_evaluation_knows_only_evaluation_options() -> None:
    with pytest.raises(TypeError, match="not evaluation options: lr"):
        check_evaluation(lr=0.1)
    with pytest.raises(CalbioInputError, match=r"--seed must be an integer >= 0, got -1"):
        check_evaluation(seed=-1)
    check_evaluation(test_fraction=None, n_boot=10, seed=0)  # unset values are skipped


values = st.one_of(
    st.integers(-5, 2000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.booleans(),
    st.sampled_from(["cpu", "cuda", "cuda:1", "cpu:1", "tpu", "half", "degree", "ddp", "x"]),
)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(CAL_SPECS)), value=values)
def test_api_and_cli_accept_the_same_values_with_the_same_text(name, value) -> None:
    """TrainConfig (the API), check_training and the CLI's overrides: one voice."""
    from calbio.cli.common import train_overrides

    def outcome(fn) -> str:
        try:
            fn()
            return "ok"
        except CalbioInputError as exc:
            assert "\n" not in str(exc)
            return str(exc)

    if value is None:
        return  # None = unset for the overrides, a missing value for TrainConfig
    api = outcome(lambda: TrainConfig(**{name: value}))
    checks = outcome(lambda: check_training({name: value}))
    cli = outcome(lambda: train_overrides(**{name: value}))
    assert api == checks
    if value is not False:  # the CLI drops an unset (False) flag
        assert cli == checks
    if api != "ok":
        assert CAL_SPECS[name].flag in api  # the message names the option


@settings(max_examples=300, deadline=None)
@given(value=values, minimum=st.integers(0, 3))
def test_at_least_property(value, minimum) -> None:
    spec = OptionSpec("k", int, minimum, "", at_least(minimum))
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    try:
        spec.validate(value)
        assert ok
    except CalbioInputError as exc:
        assert not ok and str(exc) == f"--k must be an integer >= {minimum}, got {value!r}"


@settings(max_examples=300, deadline=None)
@given(value=values, low_open=st.booleans(), high_open=st.booleans())
def test_fraction_property(value, low_open, high_open) -> None:
    spec = OptionSpec(
        "test_fraction", float, 0.3, "", fraction(low_open=low_open, high_open=high_open)
    )
    real = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = (
        real
        and (value > 0 if low_open else value >= 0)
        and (value < 1 if high_open else value <= 1)
    )
    try:
        spec.validate(value)
        assert ok
    except CalbioInputError as exc:
        assert not ok and str(exc).startswith("--test-fraction (test_fraction) must be in ")


@settings(max_examples=200, deadline=None)
@given(value=values, optional=st.booleans())
def test_choice_and_optional_property(value, optional) -> None:
    spec = OptionSpec("score", str, "half", "", one_of(("half", "both")), optional=optional)
    ok = value in ("half", "both") or (value is None and optional)
    try:
        spec.validate(value)
        assert ok
    except CalbioInputError as exc:
        assert not ok and str(exc) == f"--score must be one of half, both, got {value!r}"


@settings(max_examples=200, deadline=None)
@given(patience=st.one_of(st.none(), st.integers(1, 5)), vf=st.sampled_from([None, 0.0, 0.2]))
def test_rules_see_the_defaults_of_unset_options(patience, vf) -> None:
    broken = patience is not None and not vf
    try:
        check_options(CAL_SPECS, {"patience": patience, "validation_fraction": vf}, TRAIN_RULES)
        assert not broken
    except CalbioInputError as exc:
        assert broken and "--patience needs --validation-fraction" in str(exc)


def test_evaluation_specs_defaults_are_the_api_defaults() -> None:
    import inspect

    from calbio.evaluation.protocol import evaluate
    from calbio.evaluation.transfer import transfer

    for fn in (evaluate, transfer):
        params = inspect.signature(fn).parameters
        for name, spec in EVALUATION_SPECS.items():
            if name in params and name != "min_mapped":
                assert params[name].default == spec.default, (fn.__name__, name)
