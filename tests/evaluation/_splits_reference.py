"""Frozen reference: the negative samplers before the genome-scale rewrite (np.isin / np.unique).

The rewrite (binary-search membership, sort-based first occurrences) must return exactly the
same negatives for the same seed; tests/evaluation/test_splits.py compares the two.
"""

from __future__ import annotations

import numpy as np

from calbio.core.graph import pair_keys


def _valid(cand: np.ndarray, known_keys: np.ndarray, n: int, held: np.ndarray | None) -> np.ndarray:
    ok = cand[:, 0] != cand[:, 1]
    ok &= ~np.isin(pair_keys(cand, n), known_keys)
    if held is not None:
        ok &= held[cand[:, 0]] | held[cand[:, 1]]
    return ok


def _dedupe_keep_order(cand: np.ndarray, n: int) -> np.ndarray:
    _, first = np.unique(pair_keys(cand, n), return_index=True)
    return cand[np.sort(first)]


def ref_uniform(
    n_target: int,
    universe: np.ndarray,
    known_keys: np.ndarray,
    n: int,
    rng: np.random.Generator,
    heldout_mask: np.ndarray | None = None,
    max_rounds: int = 50,
) -> np.ndarray:
    """Uniform random entity pairs from ``universe`` that are not known pairs (nor self-pairs).

    With ``heldout_mask`` (node protocol) every negative touches a held-out entity.
    """
    out = np.zeros((0, 2), dtype=np.int64)
    for _ in range(max_rounds):
        need = n_target - len(out)
        if need <= 0:
            break
        cand = rng.choice(universe, size=(2 * need + 16, 2))
        cand = cand[_valid(cand, known_keys, n, heldout_mask)]
        out = _dedupe_keep_order(np.concatenate([out, cand]), n)
    return out[:n_target]


def ref_strata(degree: np.ndarray, entities: np.ndarray, min_size: int = 5) -> np.ndarray:
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
    labels[entities] = np.vectorize(mapping.get, otypes=[np.int64])(degree[entities])
    return labels


def ref_degree_matched(
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
    strata = ref_strata(degree, universe)
    if heldout_mask is not None:
        strata = np.where(strata >= 0, strata * 2 + heldout_mask.astype(np.int64), -1)
    members = universe[np.argsort(strata[universe], kind="stable")]
    sorted_strata = strata[members]
    uniq, start, size = np.unique(sorted_strata, return_index=True, return_counts=True)
    pos_of = {int(s): i for i, s in enumerate(uniq)}
    template = np.repeat(np.asarray(positives, dtype=np.int64), per_positive, axis=0)
    if max_negatives is not None and len(template) > max_negatives:
        template = template[rng.choice(len(template), size=max_negatives, replace=False)]
    slot = np.vectorize(pos_of.get, otypes=[np.int64])(strata[template])

    out = np.full_like(template, -1)
    todo = np.arange(len(template))
    used_keys = known_keys
    for _ in range(max_rounds):
        if not len(todo):
            break
        s = slot[todo]
        draw = start[s] + (rng.random(s.shape) * size[s]).astype(np.int64)
        cand = members[draw]
        ok = _valid(cand, used_keys, n, heldout_mask)
        keys = pair_keys(cand, n)
        _, first = np.unique(keys, return_index=True)
        unique_ok = np.zeros(len(cand), bool)
        unique_ok[first] = True
        ok &= unique_ok
        out[todo[ok]] = cand[ok]
        used_keys = np.union1d(used_keys, keys[ok])
        todo = todo[~ok]
    return out[out[:, 0] >= 0]
