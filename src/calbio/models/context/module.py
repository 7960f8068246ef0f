"""The context-conditioned association network f(x | c): CAL's residual MLP with FiLM.

It is :class:`calbio.models.cal.module.ResidualAssociationMLP` (``depth`` blocks of
Linear -> LayerNorm -> GELU, then Linear -> LayerNorm, gated residual, L2-normalised output)
with every hidden block modulated by the context:

    h <- GELU( LayerNorm(W h) * (1 + gamma_i(c)) + beta_i(c) )

where ``(gamma_i, beta_i) = Linear_i(z_c)`` are initialised to zero (so an untrained context
changes nothing) and the context vector is

    z_c = Embedding[label(c)] + MLP(covariates(c))

* ``label`` index 0 is a learned **null context** (used for context dropout during training and
  for contexts whose label was never seen); labels 1..L are the training labels;
* the covariate MLP (Linear -> GELU -> Linear) reads standardised numeric covariates such as
  log-dose, so a dose between training doses gets an interpolated z_c.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ContextFiLMMLP(nn.Module):
    """f(x | c) = normalize(a*x + (1-a)*g(x | z_c)), g a FiLM-modulated residual MLP."""

    def __init__(
        self,
        dim: int,
        n_labels: int,
        n_covariates: int = 0,
        hidden: int = 1024,
        depth: int = 3,
        context_dim: int = 16,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError("depth must be >= 1")
        self.dim, self.hidden, self.depth = dim, hidden, depth
        self.n_labels, self.n_covariates, self.context_dim = n_labels, n_covariates, context_dim
        self.label_embedding = nn.Embedding(n_labels + 1, context_dim)  # row 0 = null context
        nn.init.normal_(self.label_embedding.weight, std=0.1)
        self.covariate_mlp = (
            nn.Sequential(
                nn.Linear(n_covariates, context_dim),
                nn.GELU(),
                nn.Linear(context_dim, context_dim),
            )
            if n_covariates > 0
            else None
        )
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.films = nn.ModuleList()
        width = dim
        for _ in range(depth):
            self.linears.append(nn.Linear(width, hidden))
            self.norms.append(nn.LayerNorm(hidden))
            film = nn.Linear(context_dim, 2 * hidden)
            nn.init.zeros_(film.weight)
            nn.init.zeros_(film.bias)
            self.films.append(film)
            width = hidden
        self.out = nn.Sequential(nn.Linear(width, dim), nn.LayerNorm(dim))
        self.gate_logit = nn.Parameter(torch.zeros(()))

    def context_vector(
        self, label: torch.Tensor, covariates: torch.Tensor | None = None
    ) -> torch.Tensor:
        """z_c (..., context_dim) from label indices (0 = null) and standardised covariates."""
        z = self.label_embedding(label)
        if self.covariate_mlp is not None:
            if covariates is None:
                raise ValueError("this model needs covariates")
            z = z + self.covariate_mlp(covariates)
        return z

    def forward_z(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """f(x | z) for embeddings x (B, d) and context vectors z (B, k) or (k,)."""
        if z.dim() == 1:
            z = z.expand(x.shape[0], -1)
        h = x
        for lin, norm, film in zip(self.linears, self.norms, self.films, strict=True):
            gamma, beta = film(z).chunk(2, dim=-1)
            h = F.gelu(norm(lin(h)) * (1.0 + gamma) + beta)
        a = torch.sigmoid(self.gate_logit)
        return F.normalize(a * x + (1.0 - a) * self.out(h), dim=-1)

    def forward(
        self, x: torch.Tensor, label: torch.Tensor, covariates: torch.Tensor | None = None
    ) -> torch.Tensor:
        """f(x | c) for L2-normalised embeddings x (B, d) and per-row labels/covariates."""
        return self.forward_z(x, self.context_vector(label, covariates))
