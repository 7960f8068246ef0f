"""Data-parallel CAL training on Lightning Fabric, with in-batch negatives gathered across ranks.

Training pairs are independent samples, so k processes can each take a slice of every global
batch of kB pairs. In-batch InfoNCE, however, contrasts every anchor with *all* partners in the
batch, so each rank needs the other ranks' vectors. For CAL the two sides differ:

* the partner side ``e_b`` is the fixed embedding table, which every rank holds: a rank indexes
  the global batch's partners directly (no communication);
* the learned side ``f(e_a)`` is all-gathered **with gradient**
  (``torch.distributed.nn.functional.all_gather``, as CLIP-style training does), because the
  b -> a direction of the symmetric loss contrasts each partner with every rank's ``f(a)``.

Every rank draws the same global permutation (same seed), computes the rows of the global
logit matrix that belong to its slice, and weights its mean by its share of the batch; Fabric's
DDP averages gradients. The loss and the gradients therefore equal the single-process ones at
batch kB (tested to 1e-5 with 2 gloo processes), and so does the optimisation, up to float
summation order. Sampled negatives (``random``/``degree``) are drawn identically on every rank.

One machine: ``calbio fit ... --devices N --strategy ddp`` (processes are spawned by Fabric).
Several machines: see docs/performance.md (torchrun / Fabric's launcher).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from calbio.core.devices import resolve_device
from calbio.core.errors import CalbioInputError
from calbio.training.losses import info_nce_in_batch, info_nce_sampled
from calbio.training.negatives import KnownPairs, NegativeSampler, in_batch_mask, sampled_masks
from calbio.training.trainer import (
    BatchFactory,
    BatchLoss,
    LoopConfig,
    ModuleOrFactory,
    ProgressCallback,
    TrainHistory,
    _train,
    train_module,
)

__all__ = [
    "DistContext",
    "fit_module",
    "gather_with_grad",
    "rank_batch_loss",
    "rank_slice",
    "train_ddp",
]


@dataclass
class DistContext:
    """What the loop needs to know when it runs as one rank of a data-parallel job."""

    rank: int
    world_size: int
    fabric: Any  # lightning_fabric.Fabric
    device: torch.device

    def batch_loss(
        self,
        model: torch.nn.Module,
        X: torch.Tensor,
        batch: torch.Tensor,
        cfg: LoopConfig,
        known: KnownPairs,
        sampler: NegativeSampler | None,
        k_neg: int,
    ) -> torch.Tensor:
        """This rank's share of the global batch loss (see :func:`rank_batch_loss`)."""
        return rank_batch_loss(model, X, batch, cfg, known, sampler, k_neg, self)


def fit_module(
    X: torch.Tensor,
    train_idx: np.ndarray,
    cfg: LoopConfig,
    progress: ProgressCallback | None = None,
    *,
    module: ModuleOrFactory,
    batches: BatchFactory | None = None,
    batch_loss: BatchLoss | None = None,
) -> tuple[torch.nn.Module, TrainHistory]:
    """Train in one process, or data-parallel when ``cfg`` asks for ``ddp`` on several devices."""
    if cfg.strategy == "ddp" and cfg.devices > 1:
        if isinstance(module, torch.nn.Module) or batches is not None or batch_loss is not None:
            raise CalbioInputError(
                "data-parallel training takes a module factory and the default InfoNCE loss only"
            )
        return train_ddp(X, train_idx, cfg, progress, module=module)
    return train_module(
        X, train_idx, cfg, progress, module=module, batches=batches, batch_loss=batch_loss
    )


def rank_slice(n: int, rank: int, world_size: int) -> slice:
    """This rank's contiguous slice of a global batch of ``n`` rows (sizes differ by <= 1)."""
    sizes = [len(x) for x in torch.arange(n).tensor_split(world_size)]
    start = sum(sizes[:rank])
    return slice(start, start + sizes[rank])


class _AllGather(torch.autograd.Function):
    """all_gather whose backward sends each rank the summed gradient of its own rows.

    (``torch.distributed.nn.functional.all_gather`` does this but is deprecated in torch 2.13;
    gloo has no reduce_scatter, so the backward is an all_reduce followed by a slice.)
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        world = torch.distributed.get_world_size()
        parts = [torch.empty_like(x) for _ in range(world)]
        torch.distributed.all_gather(parts, x.contiguous())
        ctx.rank = torch.distributed.get_rank()
        return tuple(parts)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> torch.Tensor:
        g = torch.stack(grads).contiguous()
        torch.distributed.all_reduce(g)  # every rank's loss depends on every rank's rows
        return g[ctx.rank]


def gather_with_grad(x: torch.Tensor, n_total: int, world_size: int) -> torch.Tensor:
    """All-gather each rank's rows of an (n_total, d) tensor, keeping the autograd graph.

    Slices may differ in length by one (``rank_slice``): rows are padded to the longest slice
    for the collective and the padding is dropped afterwards.
    """
    sizes = [len(s) for s in torch.arange(n_total).tensor_split(world_size)]
    width = max(sizes)
    if x.shape[0] < width:
        x = torch.cat([x, x.new_zeros((width - x.shape[0], *x.shape[1:]))])
    parts = _AllGather.apply(x)
    return torch.cat([p[:k] for p, k in zip(parts, sizes, strict=True)])


def rank_batch_loss(
    model: torch.nn.Module,
    X: torch.Tensor,
    batch: torch.Tensor,
    cfg: LoopConfig,
    known: KnownPairs,
    sampler: NegativeSampler | None,
    k_neg: int,
    dist: DistContext,
) -> torch.Tensor:
    """This rank's share of the global batch loss (the mean over ranks is the global loss)."""
    n_total = batch.shape[0]
    sl = rank_slice(n_total, dist.rank, dist.world_size)
    a_all, b_all = batch[:, 0], batch[:, 1]
    a, b = a_all[sl], b_all[sl]
    eb = X[b]
    share = (sl.stop - sl.start) * dist.world_size / n_total  # unequal slices weigh their rows
    if sampler is None:
        fa_all = gather_with_grad(model(X[a]), n_total, dist.world_size)
        eb_all = X[b_all]  # the table is replicated: index it instead of communicating
        mask = in_batch_mask(a_all, b_all, known) if cfg.mask_false_negatives else None
        return info_nce_in_batch(fa_all, eb_all, cfg.tau, mask, anchors=sl) * share

    neg = sampler.sample(k_neg).to(X.device)  # same draw on every rank (same generator state)
    out = model(X[torch.cat([a, neg])])  # one forward per step (what DDP expects)
    fa, f_neg = out[: len(a)], out[len(a) :]
    mask_ab, mask_ba = sampled_masks(a, b, neg, known) if cfg.mask_false_negatives else (None, None)
    return info_nce_sampled(fa, eb, f_neg, X[neg], cfg.tau, mask_ab, mask_ba) * share


def make_fabric(cfg: LoopConfig, start_method: str = "spawn") -> Any:
    """A Lightning Fabric for ``cfg.devices`` local processes (gloo on CPU, nccl on CUDA)."""
    from lightning_fabric import Fabric
    from lightning_fabric.strategies import DDPStrategy

    dev = resolve_device(cfg.device)
    accelerator = {"cpu": "cpu", "cuda": "cuda", "mps": "mps"}[dev.type]
    backend = "nccl" if dev.type == "cuda" else "gloo"
    strategy = DDPStrategy(start_method=start_method, process_group_backend=backend)
    precision = "bf16-mixed" if cfg.precision == "bf16" and dev.type != "cpu" else "32-true"
    return Fabric(
        accelerator=accelerator, devices=cfg.devices, strategy=strategy, precision=precision
    )


def _rank_main(
    fabric: Any,
    X: torch.Tensor,
    train_idx: np.ndarray,
    cfg_dict: dict[str, Any],
    weights_file: str,
    module: ModuleOrFactory,
) -> dict[str, Any] | None:
    cfg = SimpleNamespace(**cfg_dict)  # Fabric refuses frozen dataclasses as launch arguments
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    dist = DistContext(fabric.global_rank, fabric.world_size, fabric, fabric.device)
    try:
        model, hist = _train(X, train_idx, cfg, None, module=module, dist=dist)
    except CalbioInputError as exc:  # e.g. divergence: every rank sees the same reduced loss
        return {"error": str(exc)} if fabric.global_rank == 0 else None
    finally:
        # tear the process group down before the worker exits: gloo's threads left running at
        # interpreter exit abort the process (std::terminate), which fails the whole launch
        if torch.distributed.is_initialized():
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()
    if fabric.global_rank != 0:
        return None
    # The weights go through a file: Fabric's launcher joins the workers before it reads their
    # return queue, so a return value larger than a pipe buffer (64 KB) would deadlock.
    np.savez(weights_file, **{k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})
    return hist.to_dict()


def train_ddp(
    X: torch.Tensor,
    train_idx: np.ndarray,
    cfg: LoopConfig,
    progress: ProgressCallback | None = None,
    *,
    module: Callable[[int], torch.nn.Module],
) -> tuple[torch.nn.Module, TrainHistory]:
    """Train with ``cfg.devices`` data-parallel processes on this machine; returns rank 0's model.

    ``module`` is a picklable factory (each rank builds its module after seeding).
    ``progress`` is called once at the end (the epochs run in the worker processes).
    """
    import tempfile

    fabric = make_fabric(cfg)
    with tempfile.TemporaryDirectory(prefix="calbio-ddp-") as tmp:
        weights = str(Path(tmp) / "weights.npz")
        hist_dict = fabric.launch(
            _rank_main, X.cpu(), np.asarray(train_idx), dataclasses.asdict(cfg), weights, module
        )
        if "error" in hist_dict:
            raise CalbioInputError(hist_dict["error"])
        with np.load(weights, allow_pickle=False) as z:
            state = {k: torch.from_numpy(z[k].copy()) for k in z.files}
    model = module(X.shape[1])
    model.load_state_dict(state)
    model.eval()
    hist = TrainHistory(**hist_dict)
    if progress is not None and hist.loss:
        progress(len(hist.loss), cfg.epochs, hist.loss[-1])
    return model, hist
