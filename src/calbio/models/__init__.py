"""Every association model behind one interface: CAL, the context model, graph models, hybrid."""

from calbio.models.base import AssociationModel, AssociationModelBase
from calbio.models.registry import available_models, register_model, resolve_model

__all__ = [
    "AssociationModel",
    "AssociationModelBase",
    "available_models",
    "register_model",
    "resolve_model",
]
