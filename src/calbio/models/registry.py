"""Models by name: ``resolve_model("cal" | CAL | CAL(...), **kwargs)`` like PyKEEN's pipeline."""

from __future__ import annotations

import copy
from typing import Any

from sklearn.base import clone

from calbio.core.errors import CalbioInputError

# What a model must provide (see calbio.models.base.AssociationModel); checked by duck typing so
# the registry does not import the base class (base -> persistence -> registry).
REQUIRED = ("fit", "score_pairs", "score_rows", "score_vectors")

MODELS: dict[str, type] = {}


def register_model(name: str) -> Any:
    """Class decorator: make a model available by ``name`` (CLI ``--model NAME``, persistence)."""

    def deco(cls: type) -> type:
        if name in MODELS and MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered to {MODELS[name]}")
        MODELS[name] = cls
        cls.registry_name = name
        return cls

    return deco


# Modules whose import registers the built-in models (their optional dependencies load lazily).
BUILTIN_MODULES = (
    "calbio.models.cal.estimator",
    "calbio.models.graph.heuristics",
    "calbio.models.graph.sage",
    "calbio.models.hybrid",
    "calbio.models.context.estimator",
)


def _ensure_builtin() -> None:
    import importlib

    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def available_models() -> list[str]:
    """Registered model names."""
    _ensure_builtin()
    return sorted(MODELS)


def model_name(model: Any) -> str:
    """The registered name of a model instance or class (its class name when unregistered)."""
    cls = model if isinstance(model, type) else type(model)
    return getattr(cls, "registry_name", None) or cls.__name__


def resolve_model(model: str | type | Any, **kwargs: Any) -> Any:
    """A fresh, unfitted model from a registered name, a class, or an instance (cloned).

    ``kwargs`` are constructor parameters (``set_params`` for an instance).
    """
    if isinstance(model, str):
        _ensure_builtin()
        try:
            cls = MODELS[model]
        except KeyError:
            raise CalbioInputError(
                f"--model {model!r} is not a known model; choose from {available_models()}"
            ) from None
        return cls(**kwargs)
    if isinstance(model, type):
        return model(**kwargs)
    missing = [m for m in REQUIRED if not callable(getattr(model, m, None))]
    if missing:
        raise CalbioInputError(
            f"{type(model).__name__} is not an association model (lacks {', '.join(missing)})"
        )
    inst = clone(model) if hasattr(model, "get_params") else copy.deepcopy(model)
    if kwargs:
        inst.set_params(**kwargs)
    return inst
