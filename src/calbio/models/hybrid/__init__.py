"""``hybrid``: CAL plus training-graph evidence (``features``) under a shrunk combiner
(``estimator``)."""

from calbio.models.hybrid.estimator import CAL_OPTIONS, PRIOR, Hybrid, fit_combiner
from calbio.models.hybrid.features import (
    FEATURES,
    GRAPH_FEATURES,
    GraphFeatures,
    carve,
    hash_unit,
    transitivity,
)

__all__ = [
    "CAL_OPTIONS",
    "FEATURES",
    "GRAPH_FEATURES",
    "PRIOR",
    "GraphFeatures",
    "Hybrid",
    "carve",
    "fit_combiner",
    "hash_unit",
    "transitivity",
]
