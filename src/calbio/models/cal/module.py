"""The torch module behind CAL: a gated residual MLP mapping an embedding to its partners."""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


class ResidualAssociationMLP(nn.Module):
    """f(x) = normalize(a*x + (1-a)*g(x)), a = sigmoid(s), s a learned scalar initialised at 0.

    g is ``depth`` blocks of Linear -> LayerNorm -> GELU (the first maps d -> h), followed by
    Linear(h, d) -> LayerNorm. With ``depth=3`` and ``hidden=1024`` this is the paper's network
    (2,208,919 parameters at d = 50).
    """

    def __init__(self, dim: int, hidden: int = 1024, depth: int = 3) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError("depth must be >= 1")
        layers: list[nn.Module] = []
        width = dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.GELU()]
            width = hidden
        layers += [nn.Linear(width, dim), nn.LayerNorm(dim)]
        self.g = nn.Sequential(*layers)
        self.gate_logit = nn.Parameter(torch.zeros(()))
        self.dim = dim
        self.hidden = hidden
        self.depth = depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map L2-normalised embeddings (..., d) to L2-normalised association vectors."""
        a = torch.sigmoid(self.gate_logit)
        return F.normalize(a * x + (1.0 - a) * self.g(x), dim=-1)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def cal_module(cfg: Any) -> partial[ResidualAssociationMLP]:
    """CAL's module factory for the training loop: ``factory(d)`` builds the residual MLP of
    ``cfg.hidden`` / ``cfg.depth`` (picklable, so data-parallel ranks can build it too)."""
    return partial(ResidualAssociationMLP, hidden=cfg.hidden, depth=cfg.depth)
