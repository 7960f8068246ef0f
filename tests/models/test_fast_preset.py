"""The ``fast`` preset: registered, small, deterministic for a seed, and still learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from calbio.data.synthetic import make_synthetic
from calbio.evaluation.protocol import evaluate
from calbio.models.cal.config import PRESETS, get_preset
from calbio.models.cal.estimator import CAL
from calbio.models.cal.module import ResidualAssociationMLP, count_parameters


@pytest.fixture(scope="module")
def world():
    """A small synthetic world (partners are not similar: cosine is near chance)."""
    return make_synthetic(n_entities=300, dim=16, n_pairs=1500, seed=5)


def test_fast_is_registered_and_much_smaller() -> None:
    """``fast`` resolves by name and trains a network > 10x smaller than the paper's."""
    fast, paper = get_preset("fast"), get_preset("paper")
    assert "fast" in PRESETS and fast != paper
    assert fast.epochs < paper.epochs
    n_fast = count_parameters(ResidualAssociationMLP(50, fast.hidden, fast.depth))
    n_paper = count_parameters(ResidualAssociationMLP(50, paper.hidden, paper.depth))
    assert n_paper / n_fast > 10


def test_fast_is_deterministic_for_a_seed(world) -> None:
    """Same seed: identical loss curve and association vectors; another seed: different."""
    a = CAL("fast", random_state=3, epochs=4).fit(world.embeddings, world.pairs)
    b = CAL("fast", random_state=3, epochs=4).fit(world.embeddings, world.pairs)
    c = CAL("fast", random_state=4, epochs=4).fit(world.embeddings, world.pairs)
    assert a.history_.loss == b.history_.loss
    np.testing.assert_array_equal(a.association_, b.association_)
    assert a.history_.loss != c.history_.loss


def test_fast_thread_setting_does_not_leak(world) -> None:
    """The preset trains on one thread and restores the caller's thread count afterwards."""
    before = torch.get_num_threads()
    CAL("fast", random_state=0, epochs=1).fit(world.embeddings, world.pairs)
    assert torch.get_num_threads() == before


def test_fast_learns_held_out_associations(world) -> None:
    """Held-out edges: fast CAL far above cosine (chance here) and above the degree shortcut."""
    r = evaluate(
        world.embeddings, world.pairs, protocol="edge", preset="fast", n_boot=10, rank=False
    )
    auc = {k: v["auc"] for k, v in r.methods.items()}
    assert auc["cal"] > 0.8
    assert auc["cal"] > auc["cosine"] + 0.2
    assert auc["cal"] > auc["degree"]
