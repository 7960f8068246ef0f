"""Moved to :mod:`calbio.core.metrics` (report/ and analysis/ use them too); kept as an alias
until ``evaluation.protocol`` imports them from core."""

from calbio.core.metrics import (  # noqa: F401
    average_precision,
    bootstrap_auc_ci,
    roc_auc,
)
