"""calbio: learn associations between biological entities and evaluate them honestly."""

__version__ = "0.1.0"

from calbio.data.embeddings import load_embeddings  # noqa: E402
from calbio.data.matching import map_pairs  # noqa: E402
from calbio.data.pairs import load_pairs  # noqa: E402
from calbio.data.types import Embeddings, MappedPairs, Pairs  # noqa: E402
from calbio.evaluation.protocol import evaluate  # noqa: E402
from calbio.evaluation.result import EvaluationResult  # noqa: E402
from calbio.evaluation.transfer import TransferResult, transfer  # noqa: E402
from calbio.models.cal import CAL  # noqa: E402
from calbio.models.presets import PRESETS, TrainConfig, get_preset  # noqa: E402

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
