"""Training the context-conditioned network with within-context in-batch negatives.

Every batch is drawn from ONE context: each epoch, the training rows of each context are shuffled
and cut into batches of at most ``batch_size``, and the batches of all contexts are shuffled
together. So the in-batch negatives of an anchor (the other partners in its batch) are always
entities measured in the anchor's context, and the InfoNCE softmax compares g(A, B | c) only with
g(A, B' | c) — never with a pair from another context, which could be separated by the context
alone. The loss is core CAL's symmetric InfoNCE
(:func:`calbio.training.losses.info_nce_in_batch`), optimiser and schedule follow
:class:`calbio.models.presets.TrainConfig` (AdamW, cosine annealing per epoch by default).

Context dropout: with probability ``context_dropout`` a batch is trained with the null label
(index 0), so the network also learns a context-agnostic fallback for unseen labels.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch

from calbio.context.model import ContextFiLMMLP
from calbio.models.presets import TrainConfig
from calbio.training.losses import info_nce_in_batch
from calbio.training.negatives import KnownPairs, in_batch_mask
from calbio.training.trainer import TrainHistory

ProgressCallback = Callable[[int, int, float], None]


def context_batches(
    context: np.ndarray, batch_size: int, rng: np.random.Generator, drop_last: bool = False
) -> list[np.ndarray]:
    """Shuffled batches of row indices, each drawn from a single context."""
    context = np.asarray(context, dtype=np.int64)
    order = rng.permutation(len(context))
    order = order[np.argsort(context[order], kind="stable")]  # grouped by context, shuffled within
    bounds = np.flatnonzero(np.diff(context[order])) + 1
    batches: list[np.ndarray] = []
    for group in np.split(order, bounds):  # loop over contexts, not pairs
        cuts = np.arange(batch_size, len(group), batch_size)
        for b in np.split(group, cuts):
            if len(b) >= 2 and (not drop_last or len(b) == batch_size):
                batches.append(b)
    return [batches[i] for i in rng.permutation(len(batches))]


def _scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, steps: int):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs), "epoch"
    if cfg.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=cfg.epochs * max(steps, 1)
        )
        return sched, "step"
    return None, "none"


def train_context_module(
    X: torch.Tensor,
    row_of: np.ndarray,
    pairs_idx: np.ndarray,
    pairs_context: np.ndarray,
    context_label: np.ndarray,
    context_covariates: np.ndarray,
    n_labels: int,
    cfg: TrainConfig,
    *,
    context_dim: int = 16,
    context_dropout: float = 0.1,
    progress: ProgressCallback | None = None,
) -> tuple[ContextFiLMMLP, TrainHistory]:
    """Train f(x | c) on (entity, entity, context) training triples.

    ``X`` (r, d) holds L2-normalised rows, ``row_of`` (k, n) maps (context, entity) to a row,
    ``context_label`` (k,) the label index (1..n_labels) of each context and
    ``context_covariates`` (k, q) its standardised covariates.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    idx = np.asarray(pairs_idx, dtype=np.int64).reshape(-1, 2)
    ctx = np.asarray(pairs_context, dtype=np.int64)
    if cfg.both_orientations:
        idx, ctx = np.concatenate([idx, idx[:, ::-1]]), np.concatenate([ctx, ctx])
    if len(idx) < 2:
        raise ValueError("need at least 2 training pairs")
    ra = torch.from_numpy(row_of[ctx, idx[:, 0]])
    rb = torch.from_numpy(row_of[ctx, idx[:, 1]])
    if bool((ra < 0).any() or (rb < 0).any()):
        raise ValueError("a training pair refers to an entity not measured in its context")
    labels = torch.from_numpy(np.asarray(context_label, dtype=np.int64))
    cov = torch.as_tensor(np.asarray(context_covariates, dtype=np.float32))
    n_cov = cov.shape[1] if cov.ndim == 2 else 0
    model = ContextFiLMMLP(X.shape[1], n_labels, n_cov, cfg.hidden, cfg.depth, context_dim)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n_ent = row_of.shape[1]
    known = None
    if cfg.mask_false_negatives:  # known pairs of the same context, entities offset by context
        known = KnownPairs(idx + (ctx * n_ent)[:, None], row_of.shape[0] * n_ent)
    first = context_batches(ctx, cfg.batch_size, rng, cfg.drop_last)
    sched, unit = _scheduler(opt, cfg, len(first))
    ctx_t = torch.from_numpy(ctx)
    ent = torch.from_numpy(idx)
    hist = TrainHistory(n_train_pairs=len(idx))
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        model.train()
        batches = first if epoch == 0 else context_batches(ctx, cfg.batch_size, rng, cfg.drop_last)
        total, count = 0.0, 0
        for b in batches:
            bt = torch.from_numpy(b)
            c = int(ctx_t[bt[0]])
            lab = labels[c] if rng.random() >= context_dropout else torch.tensor(0)
            z = model.context_vector(lab.reshape(1), cov[c : c + 1] if n_cov else None)[0]
            fa = model.forward_z(X[ra[bt]], z)
            mask = None
            if known is not None:
                off = c * n_ent
                mask = in_batch_mask(ent[bt, 0] + off, ent[bt, 1] + off, known)
            loss = info_nce_in_batch(fa, X[rb[bt]], cfg.tau, mask)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if unit == "step":
                sched.step()
            total += float(loss.detach()) * len(b)
            count += len(b)
        if unit == "epoch":
            sched.step()
        hist.loss.append(total / max(count, 1))
        hist.epoch_seconds.append(time.perf_counter() - t0)
        if progress is not None:
            progress(epoch + 1, cfg.epochs, hist.loss[-1])
    model.eval()
    return model, hist


def fit_context_vector(
    model: ContextFiLMMLP,
    X: torch.Tensor,
    rows_a: np.ndarray,
    rows_b: np.ndarray,
    init: torch.Tensor,
    *,
    tau: float = 0.05,
    steps: int = 200,
    lr: float = 0.01,
    seed: int = 0,
) -> torch.Tensor:
    """Few-shot: learn a new context vector z (network frozen) from k labelled pairs of it.

    Minimises the same within-context InfoNCE over the k pairs (all in one batch), starting from
    ``init`` (the null context plus its covariates); the network's weights are not changed.
    """
    torch.manual_seed(seed)
    if len(rows_a) < 2:
        raise ValueError("few-shot fitting needs at least 2 pairs")
    z = init.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    xa, xb = X[torch.as_tensor(rows_a)], X[torch.as_tensor(rows_b)]
    was_training = model.training
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        for _ in range(steps):
            loss = info_nce_in_batch(model.forward_z(xa, z), xb, tau)
            loss = 0.5 * (loss + info_nce_in_batch(model.forward_z(xb, z), xa, tau))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
        model.train(was_training)
    return z.detach()


def steps_per_epoch(n_pairs_per_context: np.ndarray, batch_size: int) -> int:
    """Number of within-context batches per epoch (for reporting)."""
    return int(sum(math.ceil(m / batch_size) for m in n_pairs_per_context if m >= 2))
