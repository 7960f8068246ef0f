"""Data parallelism: 2 gloo processes reproduce the single-process loss and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("lightning_fabric")  # the `distributed` extra

from calbio.models.cal.config import TrainConfig
from calbio.models.cal.module import ResidualAssociationMLP, cal_module
from calbio.training.distributed import (
    DistContext,
    fit_module,
    make_fabric,
    rank_batch_loss,
    rank_slice,
)
from calbio.training.losses import info_nce_in_batch, info_nce_sampled
from calbio.training.negatives import KnownPairs, NegativeSampler, in_batch_mask
from calbio.training.trainer import train_module


# The launches below spawn two gloo processes that meet on a local TCP port. In two full-suite
# runs of ~10 (never alone) the second rank never joined and the first waited at the rendezvous
# until pytest-timeout: an environment hiccup, not a numerical failure, and the hung rank kept
# the port that Lightning had recorded in MASTER_PORT, so the next launches failed too. So each
# launch gets a fresh port, a hung launch is cut at 120 s, its processes are killed, and it is
# run once more (pytest-rerunfailures); a wrong loss, gradient or weight still fails twice.
def launch(test):
    """Mark a test that launches gloo processes: cut at 120 s, run once more if it fails."""
    return pytest.mark.timeout(120)(pytest.mark.flaky(reruns=1)(test))


@pytest.fixture(autouse=True)
def _fresh_launch(monkeypatch):
    """Every test picks its own free port; processes a hung launch left behind are killed."""
    import multiprocessing

    monkeypatch.delenv("MASTER_PORT", raising=False)
    yield
    for child in multiprocessing.active_children():
        child.kill()
        child.join(timeout=10)


N, D, H = 80, 8, 16
CASES = [  # (global batch, negatives, mask false negatives)
    (16, "in-batch", False),
    (15, "in-batch", True),  # uneven slices: 8 + 7 rows
    (12, "random", True),
]


def _world() -> tuple[torch.Tensor, np.ndarray]:
    rng = np.random.default_rng(0)
    X = torch.nn.functional.normalize(torch.from_numpy(rng.standard_normal((N, D))).float(), dim=1)
    idx = rng.integers(0, N, size=(300, 2))
    return X, idx[idx[:, 0] != idx[:, 1]]


def _model() -> ResidualAssociationMLP:
    torch.manual_seed(0)
    return ResidualAssociationMLP(D, H, 2)


def _single(batch_size: int, negatives: str, mask: bool):
    """Loss and gradients of one process on the whole global batch (the reference)."""
    X, idx = _world()
    model = _model()
    known = KnownPairs(idx, N)
    batch = torch.from_numpy(idx[:batch_size])
    a, b = batch[:, 0], batch[:, 1]
    if negatives == "in-batch":
        m = in_batch_mask(a, b, known) if mask else None
        loss = info_nce_in_batch(model(X[a]), X[b], 0.1, m)
    else:
        neg = NegativeSampler(negatives, N, idx, torch.Generator().manual_seed(5)).sample(10)
        fa, f_neg = model(X[a]), model(X[neg])
        mab = known.contains(a[:, None], neg[None, :]) | (b[:, None] == neg[None, :])
        mba = known.contains(b[:, None], neg[None, :]) | (a[:, None] == neg[None, :])
        loss = info_nce_sampled(fa, X[b], f_neg, X[neg], 0.1, mab, mba)
    loss.backward()
    return float(loss), [p.grad.clone() for p in model.parameters()]


def _rank_worker(fabric):
    """Each rank: its slice's loss share, DDP-averaged gradients; rank 0 returns them."""
    X, idx = _world()
    out = []
    for batch_size, negatives, mask in CASES:
        cfg = TrainConfig(tau=0.1, negatives=negatives, mask_false_negatives=mask)
        model = fabric.setup_module(_model())
        known = KnownPairs(idx, N)
        sampler = (
            None
            if negatives == "in-batch"
            else NegativeSampler(negatives, N, idx, torch.Generator().manual_seed(5))
        )
        dist = DistContext(fabric.global_rank, fabric.world_size, fabric, torch.device("cpu"))
        batch = torch.from_numpy(idx[:batch_size])
        loss = rank_batch_loss(model, X, batch, cfg, known, sampler, 10, dist)
        fabric.backward(loss)
        total = fabric.all_reduce(loss.detach(), reduce_op="mean")
        grads = [p.grad.numpy().copy() for p in model.module.parameters()]
        out.append((float(total), grads))
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()  # a clean worker exit (see distributed.py)
    return out if fabric.global_rank == 0 else None


def test_rank_slices_cover_the_batch() -> None:
    for n in (2, 7, 16):
        parts = [rank_slice(n, r, 3) for r in range(3)]
        assert parts[0].start == 0 and parts[-1].stop == n
        assert all(p.stop == q.start for p, q in zip(parts, parts[1:], strict=False))


@launch
def test_two_gloo_ranks_match_single_process_loss_and_gradients() -> None:
    # spawn, not fork: a fork after torch has run OpenMP threads can deadlock the children
    fabric = make_fabric(TrainConfig(devices=2, strategy="ddp", threads=1), start_method="spawn")
    results = fabric.launch(_rank_worker)
    for (batch_size, negatives, mask), (loss, grads) in zip(CASES, results, strict=True):
        ref_loss, ref_grads = _single(batch_size, negatives, mask)
        assert loss == pytest.approx(ref_loss, abs=1e-5), (batch_size, negatives)
        for g, r in zip(grads, ref_grads, strict=True):
            torch.testing.assert_close(torch.from_numpy(g), r, atol=1e-5, rtol=1e-5)


@launch
def test_ddp_training_matches_single_process_at_the_global_batch() -> None:
    X, idx = _world()
    # hidden=128: the weights (~19k floats, 76 KB) exceed a pipe buffer, as real models do
    base = dict(hidden=128, depth=2, epochs=2, tau=0.1, seed=1, threads=1)
    single, h1 = train_module(
        X, idx, TrainConfig(**base, batch_size=32), module=cal_module(TrainConfig(**base))
    )
    # per-rank batch 16 on 2 ranks = global batch 32
    ddp, h2 = fit_module(
        X,
        idx,
        TrainConfig(**base, batch_size=16, devices=2, strategy="ddp"),
        module=cal_module(TrainConfig(**base)),
    )
    np.testing.assert_allclose(h2.loss, h1.loss, rtol=1e-5)
    for a, b in zip(single.state_dict().values(), ddp.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@launch
def test_ddp_divergence_is_a_one_line_error() -> None:
    from calbio.core.errors import CalbioInputError

    X, idx = _world()
    cfg = TrainConfig(hidden=16, depth=1, epochs=5, batch_size=16, lr=1e6, threads=1)
    with pytest.raises(CalbioInputError, match="training diverged at epoch"):
        fit_module(X, idx, cfg.replace(devices=2, strategy="ddp"), module=cal_module(cfg))
