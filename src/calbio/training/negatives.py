"""Training-time negatives: which entities a positive pair is contrasted against."""

from __future__ import annotations

import numpy as np
import torch

from calbio.core.graph import degrees, known_keys, pair_key


class KnownPairs:
    """Fast membership test for undirected known pairs, vectorised with ``torch.isin``."""

    def __init__(self, idx: np.ndarray, n: int) -> None:
        self.n = int(n)
        self.keys = torch.from_numpy(known_keys(idx, self.n))

    def to(self, device: torch.device | str) -> KnownPairs:
        """Move the key table to ``device`` (in place; returns self)."""
        self.keys = self.keys.to(device)
        return self

    def contains(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Elementwise: is (a, b) a known pair (either orientation)? Broadcasts a and b."""
        a, b = torch.broadcast_tensors(a, b)
        keys = pair_key(a, b, self.n)
        return torch.isin(keys, self.keys)


def in_batch_mask(a: torch.Tensor, b: torch.Tensor, known: KnownPairs) -> torch.Tensor:
    """(B, B) mask of off-diagonal in-batch candidates that are known positives of the anchor."""
    mask = known.contains(a[:, None], b[None, :])
    # the same anchor or the same partner twice in one batch is a false negative too
    mask |= (a[:, None] == a[None, :]) | (b[:, None] == b[None, :])
    mask.fill_diagonal_(False)
    return mask


def sampled_masks(
    a: torch.Tensor, b: torch.Tensor, neg: torch.Tensor, known: KnownPairs
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K) masks of shared negatives that are known partners (or the pair's other end) of
    ``a`` (for a -> b) and of ``b`` (for b -> a)."""
    mask_ab = known.contains(a[:, None], neg[None, :]) | (b[:, None] == neg[None, :])
    mask_ba = known.contains(b[:, None], neg[None, :]) | (a[:, None] == neg[None, :])
    return mask_ab, mask_ba


class NegativeSampler:
    """Draws K shared negatives per batch: uniformly (``random``) or by training degree."""

    def __init__(
        self,
        mode: str,
        n_entities: int,
        train_idx: np.ndarray,
        generator: torch.Generator,
        degree_power: float = 1.0,
    ) -> None:
        self.mode = mode
        self.generator = generator
        self.n = int(n_entities)
        if mode == "random":
            # uniform over entities that take part in training pairs
            self.pool = torch.from_numpy(np.unique(train_idx))
            self.weights = None
        elif mode == "degree":
            deg = degrees(train_idx, self.n).astype(np.float64)
            self.pool = torch.from_numpy(np.flatnonzero(deg))
            self.weights = torch.from_numpy(deg[deg > 0] ** degree_power)
        else:
            raise ValueError(f"no sampler for negatives={mode!r}")

    def sample(self, k: int) -> torch.Tensor:
        """k entity indices."""
        if self.weights is None:
            pick = torch.randint(len(self.pool), (k,), generator=self.generator)
        else:
            pick = torch.multinomial(self.weights, k, replacement=True, generator=self.generator)
        return self.pool[pick]
