"""Every association model behind one interface: CAL, the context model, graph models, hybrid.

The names are exported lazily (PEP 562) so that the light option declarations
(``calbio.models.cal.config``, ``calbio.models.context.config``), which the CLI reads at startup,
do not pull in pandas and scikit-learn through ``calbio.models.base``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AssociationModel": "calbio.models.base",
    "AssociationModelBase": "calbio.models.base",
    "available_models": "calbio.models.registry",
    "register_model": "calbio.models.registry",
    "resolve_model": "calbio.models.registry",
}

__all__ = [
    "AssociationModel",
    "AssociationModelBase",
    "available_models",
    "register_model",
    "resolve_model",
]

if TYPE_CHECKING:
    from calbio.models.base import AssociationModel, AssociationModelBase
    from calbio.models.registry import available_models, register_model, resolve_model


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'calbio.models' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
