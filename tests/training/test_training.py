"""Training learns the hidden map; negative modes and masks behave as specified."""

import numpy as np
import pytest
import torch

from calbio.models.cal.config import TrainConfig
from calbio.models.cal.module import cal_module
from calbio.training.negatives import KnownPairs, NegativeSampler, in_batch_mask
from calbio.training.trainer import split_validation, train_module, validation_loss


def _data(synthetic):
    from calbio.scoring import l2_normalize

    X = torch.from_numpy(l2_normalize(synthetic.embeddings.X))
    idx = synthetic.embeddings.index
    pairs = np.array([[idx[a], idx[b]] for a, b in zip(synthetic.pairs.a, synthetic.pairs.b)])
    return X, pairs


@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"negatives": "random"},
        {"negatives": "degree"},
        {"mask_false_negatives": True},
        {"negatives": "random", "mask_false_negatives": True},
        {"both_orientations": True},
    ],
)
def test_loss_decreases(synthetic, opts) -> None:
    X, pairs = _data(synthetic)
    cfg = TrainConfig(hidden=32, epochs=6, batch_size=128, lr=3e-3, **opts)
    _, hist = train_module(X, pairs, cfg, module=cal_module(cfg))
    assert len(hist.loss) == 6
    assert hist.loss[-1] < hist.loss[0]


def test_seeded_training_is_deterministic(synthetic) -> None:
    X, pairs = _data(synthetic)
    cfg = TrainConfig(hidden=16, epochs=2, batch_size=64)
    m1, h1 = train_module(X, pairs, cfg, module=cal_module(cfg))
    m2, h2 = train_module(X, pairs, cfg, module=cal_module(cfg))
    assert h1.loss == h2.loss
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p1, p2)


def test_early_stopping_uses_validation_split(synthetic) -> None:
    X, pairs = _data(synthetic)
    cfg = TrainConfig(
        hidden=16, epochs=50, batch_size=64, lr=1e-2, validation_fraction=0.2, patience=2
    )
    _, hist = train_module(X, pairs, cfg, module=cal_module(cfg))
    assert hist.n_val_pairs == round(0.2 * len(pairs))
    assert len(hist.val_loss) == len(hist.loss)
    assert hist.stopped_early and len(hist.loss) < 50


def test_in_batch_mask_marks_known_offdiagonal_only() -> None:
    known = KnownPairs(np.array([[0, 1], [2, 3], [0, 3]]), 10)
    a = torch.tensor([0, 2, 5])
    b = torch.tensor([1, 3, 6])
    m = in_batch_mask(a, b, known)
    assert not m.diagonal().any()
    assert m[0, 1]  # (0, 3) is a known pair sitting off the diagonal
    assert not m[2, 0] and not m[1, 0]


def test_degree_sampler_prefers_hubs() -> None:
    train = np.array([[0, i] for i in range(1, 20)] + [[1, 2]])
    s = NegativeSampler("degree", 25, train, torch.Generator().manual_seed(0))
    draws = s.sample(20_000).numpy()
    assert (draws == 0).mean() > 0.4  # entity 0 holds 19 of 40 endpoint slots
    assert not np.isin(draws, np.arange(20, 25)).any()  # never an entity outside training
    u = NegativeSampler("random", 25, train, torch.Generator().manual_seed(0)).sample(20_000)
    assert abs((u.numpy() == 0).mean() - 1 / 20) < 0.01


# kills the mutation early_stopping_keeps_last (tests/mutations/run.py)


def test_early_stopping_restores_the_best_validation_epoch(synthetic) -> None:
    from calbio.scoring import l2_normalize

    X = torch.from_numpy(l2_normalize(synthetic.embeddings.X))
    idx = synthetic.embeddings.index
    pairs = np.array([[idx[a], idx[b]] for a, b in zip(synthetic.pairs.a, synthetic.pairs.b)])
    cfg = TrainConfig(
        hidden=16, epochs=50, batch_size=64, lr=3e-2, validation_fraction=0.2, patience=2
    )
    model, hist = train_module(X, pairs, cfg, module=cal_module(cfg))
    assert hist.stopped_early and hist.best_epoch < len(hist.val_loss) - 1
    _, val_idx = split_validation(pairs, cfg.validation_fraction, cfg.seed)
    final = validation_loss(model, X, val_idx, cfg)
    assert final == pytest.approx(min(hist.val_loss), rel=1e-5)
    assert final < hist.val_loss[-1]
