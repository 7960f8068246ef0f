"""The InfoNCE losses against hand-written formulas: masks and both directions count."""

from __future__ import annotations

import math

import pytest
import torch

from calbio.training.losses import info_nce_in_batch, info_nce_sampled


def _unit(*shape: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(*shape, generator=g), dim=-1)


def _ce_row(logits: list[float], target: int, drop: set[int]) -> float:
    """-log softmax(logits)[target] over the entries not in ``drop``."""
    kept = [v for j, v in enumerate(logits) if j not in drop]
    return -logits[target] + math.log(sum(math.exp(v) for v in kept))


def _hand_in_batch(fa: torch.Tensor, eb: torch.Tensor, tau: float, mask: torch.Tensor) -> float:
    s = (fa @ eb.T / tau).tolist()
    n = len(s)
    rows = [_ce_row(s[i], i, {j for j in range(n) if mask[i, j]}) for i in range(n)]
    cols = [
        _ce_row([s[j][i] for j in range(n)], i, {j for j in range(n) if mask[j, i]})
        for i in range(n)
    ]
    return 0.5 * (sum(rows) / n + sum(cols) / n)


def test_in_batch_loss_is_the_symmetric_formula() -> None:
    fa, eb = _unit(5, 4, seed=0), _unit(5, 4, seed=1)
    none = torch.zeros(5, 5, dtype=torch.bool)
    got = info_nce_in_batch(fa, eb, 0.1)
    assert float(got) == pytest.approx(_hand_in_batch(fa, eb, 0.1, none), rel=1e-5)
    # the a->b and b->a halves differ here, so dropping one direction changes the value
    s = fa @ eb.T / 0.1
    one_way = torch.nn.functional.cross_entropy(s, torch.arange(5))
    assert not torch.isclose(got, one_way, rtol=1e-3)


def test_in_batch_mask_removes_masked_entries_from_the_softmax() -> None:
    fa, eb = _unit(5, 4, seed=2), _unit(5, 4, seed=3)
    eb[1] = fa[0]  # (0, 1) is a known positive off the diagonal: a strong logit
    mask = torch.zeros(5, 5, dtype=torch.bool)
    mask[0, 1] = mask[3, 4] = True
    got = info_nce_in_batch(fa, eb, 0.1, mask)
    assert float(got) == pytest.approx(_hand_in_batch(fa, eb, 0.1, mask), rel=1e-5)
    unmasked = info_nce_in_batch(fa, eb, 0.1)
    assert float(got) < float(unmasked) - 0.1  # the known positive no longer counts against
    # gradients: the masked logit (0, 1) gets none, so eb[1] only moves through other entries
    fa2 = fa.clone().requires_grad_(True)
    info_nce_in_batch(fa2, eb, 0.1, mask).backward()
    fa3 = fa.clone().requires_grad_(True)
    info_nce_in_batch(fa3, eb, 0.1).backward()
    assert not torch.allclose(fa2.grad[0], fa3.grad[0])


def test_sampled_loss_formula_and_masks() -> None:
    fa, eb = _unit(3, 4, seed=4), _unit(3, 4, seed=5)
    f_neg, e_neg = _unit(2, 4, seed=6), _unit(2, 4, seed=7)
    mask_ab = torch.tensor([[True, False], [False, False], [False, True]])
    mask_ba = torch.tensor([[False, False], [True, False], [False, False]])
    got = info_nce_sampled(fa, eb, f_neg, e_neg, 0.2, mask_ab, mask_ba)
    tau = 0.2
    total = 0.0
    for i in range(3):
        pos = float(fa[i] @ eb[i]) / tau
        ab = [pos] + [float(fa[i] @ e_neg[k]) / tau for k in range(2)]
        ba = [pos] + [float(eb[i] @ f_neg[k]) / tau for k in range(2)]
        drop_ab = {k + 1 for k in range(2) if mask_ab[i, k]}
        drop_ba = {k + 1 for k in range(2) if mask_ba[i, k]}
        total += 0.5 * (_ce_row(ab, 0, drop_ab) + _ce_row(ba, 0, drop_ba)) / 3
    assert float(got) == pytest.approx(total, rel=1e-5)
    assert not torch.isclose(got, info_nce_sampled(fa, eb, f_neg, e_neg, 0.2))


def test_in_batch_loss_of_anchor_slices_adds_up_to_the_batch_loss() -> None:
    """Data parallel ranks wrap the same loss: size-weighted slice losses average to the whole."""
    torch.manual_seed(0)
    fa = torch.nn.functional.normalize(torch.randn(15, 6), dim=1)
    eb = torch.nn.functional.normalize(torch.randn(15, 6), dim=1)
    mask = torch.rand(15, 15) < 0.2
    mask.fill_diagonal_(False)
    for m in (None, mask):
        whole = info_nce_in_batch(fa, eb, 0.1, m)
        parts = [slice(0, 8), slice(8, 15)]
        mean = sum(info_nce_in_batch(fa, eb, 0.1, m, anchors=s) * (s.stop - s.start) for s in parts)
        torch.testing.assert_close(mean / 15, whole)
