"""Symmetric InfoNCE losses, with in-batch or sampled negatives and false-negative masking."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def info_nce_in_batch(
    fa: torch.Tensor,
    eb: torch.Tensor,
    tau: float,
    mask: torch.Tensor | None = None,
    *,
    anchors: slice | None = None,
) -> torch.Tensor:
    """0.5 * (CE(S, diag) + CE(S^T, diag)) with S_ij = f(a_i) . e_b_j / tau.

    ``mask`` (B, B) bool marks off-diagonal entries that are known positives; they are removed
    from the softmax rather than pushed apart. ``anchors`` (data parallel) restricts the loss to
    the rows of one slice of the batch, both directions, still contrasted with the whole batch:
    the slices' means weighted by their sizes add up to the whole-batch loss.
    """
    if anchors is not None:
        l_ab = fa[anchors] @ eb.T / tau
        l_ba = eb[anchors] @ fa.T / tau
        if mask is not None:
            l_ab = l_ab.masked_fill(mask[anchors], float("-inf"))
            l_ba = l_ba.masked_fill(mask.T[anchors], float("-inf"))
        target = torch.arange(anchors.start, anchors.stop, device=fa.device)
        return 0.5 * (F.cross_entropy(l_ab, target) + F.cross_entropy(l_ba, target))
    logits = fa @ eb.T / tau
    if mask is not None:
        logits = logits.masked_fill(mask, float("-inf"))
    target = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def info_nce_sampled(
    fa: torch.Tensor,
    eb: torch.Tensor,
    f_neg: torch.Tensor,
    e_neg: torch.Tensor,
    tau: float,
    mask_ab: torch.Tensor | None = None,
    mask_ba: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE against K shared sampled negatives instead of the batch.

    Direction a->b: anchor f(a_i), candidates e_b_i and e_neg. Direction b->a: anchor e_b_i,
    candidates f(a_i) and f(neg). Masks (B, K) drop negatives that are in fact positives.
    """
    pos = (fa * eb).sum(-1, keepdim=True)
    l_ab = torch.cat([pos, fa @ e_neg.T], dim=1) / tau
    l_ba = torch.cat([pos, eb @ f_neg.T], dim=1) / tau
    if mask_ab is not None:
        l_ab[:, 1:] = l_ab[:, 1:].masked_fill(mask_ab, float("-inf"))
    if mask_ba is not None:
        l_ba[:, 1:] = l_ba[:, 1:].masked_fill(mask_ba, float("-inf"))
    zero = torch.zeros(fa.shape[0], dtype=torch.long, device=fa.device)
    return 0.5 * (F.cross_entropy(l_ab, zero) + F.cross_entropy(l_ba, zero))
