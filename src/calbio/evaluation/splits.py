"""Evaluation splits (transductive, edge, node) and test-negative sampling, leakage-free.

Rules (property-tested):
- edge: a seeded 70/30 split of pairs; the model sees training pairs only.
- node (cold start): 30% of entities are held out; training pairs have both ends in the
  training entities; every test positive and every test negative touches a held-out entity.
- transductive (the paper's protocol): test positives ARE the training pairs; label it so.
- negatives are never a known positive of any split, in either orientation, nor self-pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calbio.core.graph import (
    first_occurrence,
    in_sorted,
    pair_keys,
    valid_negatives,
)
from calbio.core.seeds import DEFAULT_SEED, stream

__all__ = [
    "PROTOCOLS",
    "Split",
    "degree_strata",
    "make_split",
    "sample_degree_matched_negatives",
]

PROTOCOLS: tuple[str, ...] = ("transductive", "edge", "node")


@dataclass
class Split:
    """Train/test pairs of one protocol, plus the entity universe negatives are drawn from."""

    protocol: str
    train_idx: np.ndarray  # (m_train, 2)
    test_idx: np.ndarray  # (m_test, 2)
    universe: np.ndarray  # entity rows that take part in at least one known pair
    heldout: np.ndarray | None = None  # node protocol: held-out entity rows
    n_entities: int = 0  # rows of the embedding table

    @property
    def transductive(self) -> bool:
        """True when test positives were seen in training."""
        return self.protocol == "transductive"

    def heldout_mask(self) -> np.ndarray:
        """Boolean (n_entities,) mask of held-out entities (all False outside node protocol)."""
        mask = np.zeros(self.n_entities, dtype=bool)
        if self.heldout is not None:
            mask[self.heldout] = True
        return mask


def make_split(
    pairs_idx: np.ndarray,
    n_entities: int,
    protocol: str = "edge",
    test_fraction: float = 0.3,
    seed: int = DEFAULT_SEED,
) -> Split:
    """Split known pairs by protocol; seeded and deterministic."""
    pairs_idx = np.asarray(pairs_idx, dtype=np.int64).reshape(-1, 2)
    universe = np.unique(pairs_idx)
    rng = stream(seed, "split")
    if protocol == "transductive":
        return Split(protocol, pairs_idx, pairs_idx.copy(), universe, None, n_entities)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be in (0, 1)")
    if protocol == "edge":
        perm = rng.permutation(len(pairs_idx))
        n_test = int(round(test_fraction * len(pairs_idx)))
        return Split(
            protocol,
            pairs_idx[np.sort(perm[n_test:])],
            pairs_idx[np.sort(perm[:n_test])],
            universe,
            None,
            n_entities,
        )
    if protocol == "node":
        n_held = int(round(test_fraction * len(universe)))
        heldout = np.sort(rng.choice(universe, size=n_held, replace=False))
        held = np.zeros(n_entities, dtype=bool)
        held[heldout] = True
        touches = held[pairs_idx[:, 0]] | held[pairs_idx[:, 1]]
        return Split(
            protocol, pairs_idx[~touches], pairs_idx[touches], universe, heldout, n_entities
        )
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")


def checked_split(
    pairs_idx: np.ndarray,
    n_entities: int,
    protocol: str = "edge",
    test_fraction: float = 0.3,
    seed: int = DEFAULT_SEED,
) -> Split:
    """:func:`make_split`, refused when it leaves under 2 training pairs or no test pair."""
    split = make_split(pairs_idx, n_entities, protocol, test_fraction, seed)
    if len(split.train_idx) < 2 or len(split.test_idx) < 1:
        raise ValueError(f"{protocol} split left too few pairs (train {len(split.train_idx)})")
    return split


def degree_strata(degree: np.ndarray, entities: np.ndarray, min_size: int = 5) -> np.ndarray:
    """Stratum label per entity row: exact training degree, merged upward until >= min_size."""
    labels = np.full(degree.shape[0], -1, dtype=np.int64)
    values, counts = np.unique(degree[entities], return_counts=True)
    stratum, acc, mapping = 0, 0, {}
    for v, c in zip(values, counts, strict=True):  # loop over distinct degree values only
        mapping[v] = stratum
        acc += c
        if acc >= min_size:
            stratum, acc = stratum + 1, 0
    if acc and stratum > 0:  # fold a small top bin into the previous one
        for v in values[::-1]:
            if mapping[v] != stratum:
                break
            mapping[v] = stratum - 1
    stratum_of_value = np.array([mapping[v] for v in values], dtype=np.int64)
    labels[entities] = stratum_of_value[np.searchsorted(values, degree[entities])]
    return labels


def sample_degree_matched_negatives(
    positives: np.ndarray,
    per_positive: int,
    universe: np.ndarray,
    degree: np.ndarray,
    known_keys: np.ndarray,
    n: int,
    rng: np.random.Generator,
    heldout_mask: np.ndarray | None = None,
    max_negatives: int | None = None,
    max_rounds: int = 50,
) -> np.ndarray:
    """Negatives whose endpoints' training degrees match each positive's endpoints.

    Each endpoint is replaced by a uniform draw from its degree stratum (and, in the node
    protocol, from the same held-out / training side), so degree alone scores about 0.5.
    """
    strata = degree_strata(degree, universe)
    if heldout_mask is not None:
        strata = np.where(strata >= 0, strata * 2 + heldout_mask.astype(np.int64), -1)
    members = universe[np.argsort(strata[universe], kind="stable")]
    sorted_strata = strata[members]
    uniq, start, size = np.unique(sorted_strata, return_index=True, return_counts=True)
    template = np.repeat(np.asarray(positives, dtype=np.int64), per_positive, axis=0)
    if max_negatives is not None and len(template) > max_negatives:
        template = template[rng.choice(len(template), size=max_negatives, replace=False)]
    slot = np.searchsorted(uniq, strata[template])  # every template stratum is in uniq

    out = np.full_like(template, -1)
    todo = np.arange(len(template))
    known_sorted = np.sort(np.asarray(known_keys, dtype=np.int64))
    accepted = np.zeros(0, dtype=np.int64)  # keys drawn so far (sorted), never drawn twice
    for _ in range(max_rounds):
        if not len(todo):
            break
        s = slot[todo]
        draw = start[s] + (rng.random(s.shape) * size[s]).astype(np.int64)
        cand = members[draw]
        ok = valid_negatives(cand, known_sorted, n, heldout_mask)
        keys = pair_keys(cand, n)
        ok &= ~in_sorted(keys, accepted)
        ok &= first_occurrence(keys)
        out[todo[ok]] = cand[ok]
        accepted = np.sort(np.concatenate([accepted, keys[ok]]))
        todo = todo[~ok]
    return out[out[:, 0] >= 0]
