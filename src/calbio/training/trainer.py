"""The optimisation loop: AdamW, a learning-rate schedule, shuffled pair batches, InfoNCE.

Generic over (module, batches, loss): the caller (a model in ``calbio.models``) brings the
module (or a factory called after seeding), optionally its epoch batches and batch loss, and a
config object with the fields of :class:`LoopConfig`. The loop imports nothing from models.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from calbio.core.devices import resolve_device
from calbio.core.errors import CalbioInputError
from calbio.core.seeds import child_seed, stream
from calbio.training.losses import info_nce_in_batch, info_nce_sampled
from calbio.training.negatives import KnownPairs, NegativeSampler, in_batch_mask, sampled_masks

ProgressCallback = Callable[[int, int, float], None]  # (epoch, n_epochs, loss)
# Hooks that let another model reuse this loop (the context model does):
# one epoch's batches as positions into the training pairs (called once per epoch) ...
BatchFactory = Callable[[torch.Tensor], list[torch.Tensor]]
# ... and the loss of one batch of pairs (b, 2) of rows of X.
BatchLoss = Callable[[nn.Module, torch.Tensor], torch.Tensor]
# The module to train, or a factory of the input dimension, called once the seed is set (so the
# initialisation is seeded).
ModuleOrFactory = nn.Module | Callable[[int], nn.Module]


class LoopConfig(Protocol):
    """The options the loop reads (``calbio.models.cal.config.TrainConfig`` has them all)."""

    seed: int
    device: str
    precision: str
    threads: int | None
    devices: int
    strategy: str
    epochs: int
    batch_size: int
    drop_last: bool
    lr: float
    weight_decay: float
    schedule: str
    tau: float
    negatives: str
    n_negatives: int | None
    degree_power: float
    mask_false_negatives: bool
    both_orientations: bool
    validation_fraction: float
    patience: int | None


def build_module(module: ModuleOrFactory, dim: int) -> nn.Module:
    """The module itself, or what the factory makes for inputs of width ``dim`` (seed first)."""
    return module if isinstance(module, nn.Module) else module(dim)


@dataclass
class TrainHistory:
    """Per-epoch training record."""

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    n_train_pairs: int = 0
    n_val_pairs: int = 0

    def to_dict(self) -> dict:
        """Plain-dict form."""
        return dict(self.__dict__)


def _scheduler(opt: torch.optim.Optimizer, cfg: LoopConfig, steps_per_epoch: int):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs), "epoch"
    if cfg.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch
        )
        return sched, "step"
    return None, "none"


def split_validation(
    train_idx: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Carve a seeded validation subset out of the training pairs (stream ``validation_carve``)."""
    if fraction <= 0:
        return train_idx, train_idx[:0]
    rng = stream(seed, "validation_carve")
    perm = rng.permutation(len(train_idx))
    n_val = max(1, int(round(fraction * len(train_idx))))
    return train_idx[perm[n_val:]], train_idx[perm[:n_val]]


def train_module(
    X: torch.Tensor,
    train_idx: np.ndarray,
    cfg: LoopConfig,
    progress: ProgressCallback | None = None,
    *,
    module: ModuleOrFactory,
    batches: BatchFactory | None = None,
    batch_loss: BatchLoss | None = None,
) -> tuple[nn.Module, TrainHistory]:
    """Train ``module`` on L2-normalised embeddings ``X`` (n, d) and pair indices (m, 2).

    ``module`` is trained as given, or built as ``module(d)`` after seeding torch from the
    ``init`` stream of ``cfg.seed`` (:mod:`calbio.core.seeds`).
    ``batches`` gives an epoch's batches as positions into the training pairs (default: shuffled
    consecutive cuts) and ``batch_loss`` the loss of one batch (default: symmetric InfoNCE of
    ``module(X[a])`` against ``X[b]``, with in-batch or sampled negatives).
    ``cfg.device`` places the table, the pair indices and the module on a device for the whole
    fit (batches are index gathers there). The returned module is on the CPU. One process:
    data-parallel runs go through :func:`calbio.training.distributed.fit_module`.
    """
    if cfg.strategy == "ddp" and cfg.devices > 1:
        raise CalbioInputError(
            "devices > 1 with strategy 'ddp' runs through calbio.training.distributed.fit_module"
        )
    threads_before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _train(X, train_idx, cfg, progress, module, batches, batch_loss)
    finally:
        torch.set_num_threads(threads_before)  # a recipe's thread count does not leak out


def _acc_dtype(dev: torch.device) -> torch.dtype:
    """Loss accumulator dtype: float64 (MPS has none, float32 there)."""
    return torch.float32 if dev.type == "mps" else torch.float64


def _autocast(dev: torch.device, precision: str) -> Any:
    """bf16 autocast on accelerators; a no-op context on the CPU (bit-for-bit fp32 there)."""
    enabled = precision == "bf16" and dev.type != "cpu"
    return torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=enabled)


def _train(
    X: torch.Tensor,
    train_idx: np.ndarray,
    cfg: LoopConfig,
    progress: ProgressCallback | None,
    module: ModuleOrFactory,
    batches: BatchFactory | None = None,
    batch_loss: BatchLoss | None = None,
    dist: Any = None,  # calbio.training.distributed.DistContext when run as one rank
) -> tuple[nn.Module, TrainHistory]:
    """The loop behind :func:`train_module` (and each rank of a data-parallel fit)."""
    dev = dist.device if dist is not None else resolve_device(cfg.device)
    torch.manual_seed(child_seed(cfg.seed, "init"))  # the factory's initialisation
    # batch order and sampled negatives: CPU draws, identical on every device/rank
    gen = torch.Generator().manual_seed(child_seed(cfg.seed, "batches"))
    train_idx = np.asarray(train_idx, dtype=np.int64).reshape(-1, 2)
    if len(train_idx) < 2:
        raise ValueError("need at least 2 training pairs")
    fit_idx, val_idx = split_validation(train_idx, cfg.validation_fraction, cfg.seed)
    n = X.shape[0]
    X = X.to(dev)  # the table lives on the device for the whole fit
    known = KnownPairs(train_idx, n).to(dev)
    pairs = torch.from_numpy(fit_idx)
    if cfg.both_orientations:
        pairs = torch.cat([pairs, pairs.flip(1)])
    pairs = pairs.to(dev)  # so are the pair indices: a batch is an index gather on the device
    model = build_module(module, X.shape[1]).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # data parallel: batch_size is per rank, a step consumes the global batch of k ranks
    bs = min(cfg.batch_size * (dist.world_size if dist is not None else 1), len(pairs))
    first = batches(pairs.cpu()) if batches is not None else None
    steps = _steps_per_epoch(len(pairs), bs, cfg.drop_last, first)
    sched, sched_unit = _scheduler(opt, cfg, steps)
    sampler = (
        None
        if cfg.negatives == "in-batch"
        else NegativeSampler(cfg.negatives, n, fit_idx, gen, cfg.degree_power)
    )
    k_neg = cfg.n_negatives or bs
    hist = TrainHistory(n_train_pairs=len(fit_idx), n_val_pairs=len(val_idx))
    stopper = _EarlyStopping()
    if dist is not None:
        model, opt = dist.fabric.setup(model, opt)

    def step_loss(batch: torch.Tensor) -> torch.Tensor:
        """The loss of one batch, by the caller's loss, the local one or the rank's share."""
        if batch_loss is not None:
            return batch_loss(model, batch)
        if dist is None:
            return _batch_loss(model, X, batch, cfg, known, sampler, k_neg)
        return dist.batch_loss(model, X, batch, cfg, known, sampler, k_neg)

    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        model.train()
        if batches is None:
            epoch_batches = _shuffled_batches(len(pairs), bs, steps, gen, dev)
        else:
            epoch_batches = first if epoch == 0 else batches(pairs.cpu())
        total, count = _run_epoch(
            model, opt, sched, sched_unit, pairs, epoch_batches, step_loss, cfg, dist, dev
        )
        epoch_loss = _epoch_loss(total, count, epoch, cfg, dist)
        hist.loss.append(epoch_loss)
        hist.epoch_seconds.append(time.perf_counter() - t0)
        if len(val_idx):
            v = validation_loss(model, X, val_idx, cfg)
            hist.val_loss.append(v)
            stopper.update(v, epoch, model, hist)
        if progress is not None:
            progress(epoch + 1, cfg.epochs, hist.loss[-1])
        if cfg.patience is not None and len(val_idx) and stopper.bad_epochs >= cfg.patience:
            hist.stopped_early = True
            break
    if stopper.best_state is not None and cfg.patience is not None:
        model.load_state_dict(stopper.best_state)
    if dist is not None:
        model = model.module  # the plain module behind Fabric's DDP wrapper
    model.eval()
    return model.to("cpu"), hist


def _steps_per_epoch(
    n_pairs: int, bs: int, drop_last: bool, first: list[torch.Tensor] | None
) -> int:
    """Optimiser steps per epoch: the caller's batch count if it brings batches, else cuts."""
    steps = n_pairs // bs if drop_last else math.ceil(n_pairs / bs)  # computed first, as before
    return steps if first is None else max(len(first), 1)


class _EarlyStopping:
    """The best validation loss so far, its weights, and the epochs since it improved."""

    def __init__(self) -> None:
        self.best_state: dict[str, Any] | None = None
        self.best_val = math.inf
        self.bad_epochs = 0

    def update(self, v: float, epoch: int, model: nn.Module, hist: TrainHistory) -> None:
        """Record one epoch's validation loss; keep a copy of the weights when it improves."""
        if v < self.best_val - 1e-6:
            self.best_val, self.bad_epochs, hist.best_epoch = v, 0, epoch
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.bad_epochs += 1


def _shuffled_batches(
    n_pairs: int, bs: int, steps: int, gen: torch.Generator, dev: torch.device
) -> list[torch.Tensor]:
    """One epoch's batches: a CPU permutation drawn from ``gen``, cut into ``steps`` slices."""
    perm = torch.randperm(n_pairs, generator=gen).to(dev)
    return [perm[s * bs : (s + 1) * bs] for s in range(steps)]


def _run_epoch(
    model: nn.Module,
    opt: Any,
    sched: Any,
    sched_unit: str,
    pairs: torch.Tensor,
    epoch_batches: list[torch.Tensor],
    step_loss: Callable[[torch.Tensor], torch.Tensor],
    cfg: LoopConfig,
    dist: Any,
    dev: torch.device,
) -> tuple[torch.Tensor, int]:
    """One pass of optimiser steps; returns the pair-weighted loss sum and the pair count."""
    # float64 on the device: no host sync per step, and the same sum as Python floats
    total = torch.zeros((), dtype=_acc_dtype(dev), device=dev)
    count = 0
    for pos in epoch_batches:
        batch = pairs[pos.to(dev)]
        if len(batch) < 2:
            continue
        with _autocast(dev, cfg.precision):
            loss = step_loss(batch)
        opt.zero_grad(set_to_none=True)
        if dist is None:
            loss.backward()
        else:
            dist.fabric.backward(loss)
        opt.step()
        if sched_unit == "step":
            sched.step()
        total += loss.detach().to(total.dtype) * len(batch)
        count += len(batch)
    if sched_unit == "epoch":
        sched.step()
    return total, count


def _epoch_loss(total: torch.Tensor, count: int, epoch: int, cfg: LoopConfig, dist: Any) -> float:
    """The epoch's mean loss (averaged over ranks); a non-finite one stops training with advice."""
    if dist is not None:  # each rank's loss is a weighted share of the global batch loss
        total = dist.fabric.all_reduce(total, reduce_op="mean")
    epoch_loss = float(total) / max(count, 1)
    if not math.isfinite(epoch_loss):
        raise CalbioInputError(
            f"training diverged at epoch {epoch + 1} (loss {epoch_loss}); lower the "
            f"learning rate, e.g. --lr {cfg.lr / 10:g}"
        )
    return epoch_loss


def _batch_loss(
    model: nn.Module,
    X: torch.Tensor,
    batch: torch.Tensor,
    cfg: LoopConfig,
    known: KnownPairs,
    sampler: NegativeSampler | None,
    k_neg: int,
) -> torch.Tensor:
    a, b = batch[:, 0], batch[:, 1]
    fa, eb = model(X[a]), X[b]
    if sampler is None:
        mask = in_batch_mask(a, b, known) if cfg.mask_false_negatives else None
        return info_nce_in_batch(fa, eb, cfg.tau, mask)
    neg = sampler.sample(k_neg).to(X.device)
    f_neg = model(X[neg])
    mask_ab, mask_ba = sampled_masks(a, b, neg, known) if cfg.mask_false_negatives else (None, None)
    return info_nce_sampled(fa, eb, f_neg, X[neg], cfg.tau, mask_ab, mask_ba)


@torch.no_grad()
def validation_loss(
    model: nn.Module, X: torch.Tensor, val_idx: np.ndarray, cfg: LoopConfig
) -> float:
    """Mean in-batch InfoNCE on held-aside validation pairs (fixed batches, no shuffling)."""
    model.eval()
    idx = torch.from_numpy(np.asarray(val_idx, dtype=np.int64)).to(X.device)
    bs = min(cfg.batch_size, len(idx))
    total = torch.zeros((), dtype=_acc_dtype(X.device), device=X.device)
    count = 0
    for s in range(0, len(idx), bs):
        batch = idx[s : s + bs]
        if len(batch) < 2:
            continue
        with _autocast(X.device, cfg.precision):
            loss = info_nce_in_batch(model(X[batch[:, 0]]), X[batch[:, 1]], cfg.tau)
        total += loss.to(total.dtype) * len(batch)
        count += len(batch)
    model.train()
    return float(total) / max(count, 1)
