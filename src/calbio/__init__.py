"""calbio: learn associations between biological entities and evaluate them honestly.

The public API is re-exported here lazily (PEP 562): ``import calbio`` and ``calbio --version``
do not import torch or scikit-learn; the first use of ``calbio.CAL`` (say) imports its module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from calbio.core.version import __version__

# public name -> the module that defines it
_EXPORTS = {
    "CAL": "calbio.models.cal.estimator",
    "PRESETS": "calbio.models.cal.config",
    "Embeddings": "calbio.data.types",
    "EvaluationResult": "calbio.evaluation.result",
    "MappedPairs": "calbio.data.types",
    "Pairs": "calbio.data.types",
    "TrainConfig": "calbio.models.cal.config",
    "TransferResult": "calbio.evaluation.transfer",
    "evaluate": "calbio.evaluation.protocol",
    "get_preset": "calbio.models.cal.config",
    "load_embeddings": "calbio.data.embeddings",
    "load_pairs": "calbio.data.pairs",
    "map_pairs": "calbio.data.matching",
    "transfer": "calbio.evaluation.transfer",
}

__all__ = [
    "CAL",
    "PRESETS",
    "Embeddings",
    "EvaluationResult",
    "MappedPairs",
    "Pairs",
    "TrainConfig",
    "TransferResult",
    "__version__",
    "evaluate",
    "get_preset",
    "load_embeddings",
    "load_pairs",
    "map_pairs",
    "transfer",
]

if TYPE_CHECKING:
    from calbio.data.embeddings import load_embeddings
    from calbio.data.matching import map_pairs
    from calbio.data.pairs import load_pairs
    from calbio.data.types import Embeddings, MappedPairs, Pairs
    from calbio.evaluation.protocol import evaluate
    from calbio.evaluation.result import EvaluationResult
    from calbio.evaluation.transfer import TransferResult, transfer
    from calbio.models.cal.config import PRESETS, TrainConfig, get_preset
    from calbio.models.cal.estimator import CAL


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use and cache the name in the package."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'calbio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The package's attributes, lazy exports included (for tab completion)."""
    return sorted({*globals(), *_EXPORTS})
