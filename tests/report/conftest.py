"""Fixtures shared by the report tests."""

from __future__ import annotations

import pytest

from calbio.evaluation.protocol import evaluate


@pytest.fixture(scope="session")
def result(synthetic):
    """One short evaluation on the synthetic world, shared by the plot, figure and HTML tests."""
    return evaluate(
        synthetic.embeddings, synthetic.pairs, epochs=2, hidden=16, batch_size=128, n_boot=20
    )
