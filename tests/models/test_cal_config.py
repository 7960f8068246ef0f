"""TrainConfig, CAL and the hybrid read their options from one declaration (CAL_SPECS)."""

from __future__ import annotations

import dataclasses
import inspect
import math

import pytest

from calbio.core.errors import CalbioInputError
from calbio.models.cal.config import CAL_SPECS, TrainConfig
from calbio.models.cal.estimator import CAL, TRAIN_OPTIONS
from calbio.models.hybrid.estimator import CAL_OPTIONS, HYBRID_SPECS, Hybrid

SMALL = {"hidden": 16, "epochs": 1, "batch_size": 64, "threads": 1}


def _init_params(cls: type) -> list[str]:
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def test_train_config_fields_are_the_specs_in_order_with_their_defaults() -> None:
    fields = dataclasses.fields(TrainConfig)
    assert [f.name for f in fields] == list(CAL_SPECS)
    for f in fields:
        spec = CAL_SPECS[f.name]
        assert f.default == spec.default, f.name
        kind = spec.type.__name__
        assert f.type == (f"{kind} | None" if spec.optional else kind), f.name


def test_cal_constructor_parameters_are_the_spec_names() -> None:
    assert TRAIN_OPTIONS == tuple(n for n in CAL_SPECS if n != "seed")
    assert _init_params(CAL) == ["preset", *TRAIN_OPTIONS, "random_state", "verbose"]


def test_hybrid_constructor_parameters_are_its_specs_and_the_forwarded_cal_specs() -> None:
    assert set(CAL_OPTIONS) <= set(TRAIN_OPTIONS)
    assert set(CAL_OPTIONS) == set(TRAIN_OPTIONS) - {"devices", "strategy"}
    params = _init_params(Hybrid)
    assert sorted(params) == sorted(["preset", *HYBRID_SPECS, *CAL_OPTIONS, "random_state"])
    defaults = inspect.signature(Hybrid.__init__).parameters
    for name, spec in HYBRID_SPECS.items():
        assert defaults[name].default == spec.default, name


def test_hybrid_fit_checks_its_options_before_reading_a_file(tmp_path) -> None:
    missing = tmp_path / "no_such_table.csv"
    with pytest.raises(CalbioInputError, match=r"--val-fraction \(val_fraction\) must be in"):
        Hybrid(val_fraction=0.0).fit(missing, missing)
    with pytest.raises(CalbioInputError, match="--device must be one of"):
        Hybrid(device="tpu").fit(missing, missing)  # the CAL inside it, checked first too


def test_hybrid_checks_its_own_options_in_the_spec_voice() -> None:
    with pytest.raises(CalbioInputError, match=r"--val-fraction \(val_fraction\) must be in"):
        Hybrid(val_fraction=0.0).check_params()
    with pytest.raises(CalbioInputError, match="--gate must be one of coverage"):
        Hybrid(gate="bogus").check_params()
    with pytest.raises(CalbioInputError, match="--device must be one of"):
        Hybrid(device="tpu").check_params()  # the forwarded CAL options too
    Hybrid().check_params()


def test_config_is_resolved_once_per_fit(synthetic, monkeypatch) -> None:
    calls = []
    resolve = CAL.resolve_config

    def counting(self):
        calls.append(1)
        return resolve(self)

    monkeypatch.setattr(CAL, "resolve_config", counting)
    model = CAL("fast", **SMALL, random_state=0).fit(synthetic.embeddings, synthetic.pairs)
    model.score_pairs(synthetic.pairs)
    model.score_vectors()
    assert model.config.epochs == 1 and len(calls) == 1
    model.set_params(score="cosine")  # as in scikit-learn: takes effect at the next fit
    assert model.config.score == "half" and len(calls) == 1
    assert CAL(epochs=3).config.epochs == 3  # unfitted: resolved from the parameters


def test_fit_checks_every_option_before_reading_a_file(tmp_path) -> None:
    missing = tmp_path / "no_such_table.csv"
    for kw, needle in (
        ({"device": "tpu"}, "--device must be one of"),
        ({"random_state": -1}, "--seed must be an integer >= 0"),
        ({"patience": 2}, "--patience needs --validation-fraction"),
    ):
        with pytest.raises(CalbioInputError, match=needle):
            CAL(**kw).fit(missing, missing)


def test_evaluate_and_transfer_check_every_option_before_reading_a_file(tmp_path) -> None:
    import calbio

    missing = tmp_path / "no_such_table.csv"
    for kw, needle in (
        ({"seed": -1}, "--seed must be an integer >= 0"),
        ({"device": "tpu"}, "--device must be one of"),
        ({"negative_ratio": 0}, r"--negative-ratio \(negative_ratio\) must be an integer >= 1"),
    ):
        with pytest.raises(CalbioInputError, match=needle):
            calbio.evaluate(missing, missing, **kw)
        with pytest.raises(CalbioInputError, match=needle):
            calbio.transfer(missing, [missing, missing], heldout=False, **kw)


def test_context_constructor_parameters_are_its_specs_and_cal_specs() -> None:
    from calbio.models.context.config import CONTEXT_SPECS
    from calbio.models.context.estimator import ContextCAL

    params = _init_params(ContextCAL)
    shared = [p for p in params if p not in CONTEXT_SPECS and p not in ("preset", "random_state")]
    assert {"score" if p == "score_kind" else p for p in shared} <= set(CAL_SPECS)
    assert [p for p in params if p in CONTEXT_SPECS] == list(CONTEXT_SPECS)
    defaults = inspect.signature(ContextCAL.__init__).parameters
    for name, spec in CONTEXT_SPECS.items():
        assert defaults[name].default == spec.default, name
    with pytest.raises(CalbioInputError, match=r"--context-dim \(context_dim\) must be an integer"):
        ContextCAL(context_dim=0).check_params()
    with pytest.raises(CalbioInputError, match=r"--calibration-fraction \(calibration_fraction\)"):
        ContextCAL(calibration_fraction=1.5).check_params()
    ContextCAL(calibration="none", calibration_fraction=1.5).check_params()  # unused: accepted


def test_api_raises_the_cli_text() -> None:
    from calbio.models.cal.config import check_training, get_preset

    for field, value in (("lr", -1.0), ("lr", math.nan), ("threads", -3), ("score", "bogus")):
        with pytest.raises(ValueError) as api:
            get_preset("fast").replace(**{field: value})
        with pytest.raises(CalbioInputError) as cli_side:
            check_training({field: value})
        assert str(api.value) == str(cli_side.value)
        assert f"--{field}" in str(api.value)
