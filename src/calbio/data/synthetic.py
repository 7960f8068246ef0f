"""A small synthetic world with a known association rule: the default dataset of ``calbio demo``.

Everything produced here is synthetic and labelled so (``source="synthetic"``); it is not biology.

Ground truth
------------
1. **Embeddings.** ``n_entities`` entities named ``SYN0001``, ``SYN0002``, ... each have a unit
   embedding ``x_i`` in R^dim: a standard Gaussian vector divided by its norm.

2. **Hidden map.** ``T = Q D Q^T`` where ``Q`` is a Haar-random orthogonal matrix and
   ``D = diag(-1, ..., -1, +1, ..., +1)`` has ``dim // 2`` negative signs. Equivalently ``T`` is the
   product of the ``dim // 2`` Householder reflections ``I - 2 q_k q_k^T`` along the first columns
   of ``Q`` (mutually orthogonal, so the reflections commute and their product is symmetric).
   ``T`` is therefore symmetric *and* orthogonal (``T = T^T = T^-1``), so the compatibility

       c(i, j) = (T x_i) . x_j = x_i . (T x_j)

   is a symmetric relation. Because the trace of ``T`` is ~0 (half the signs negative),
   ``x . T x`` averages 0 over random unit vectors: compatible partners are *not* similar in
   embedding space (their cosine looks like that of random pairs). No nonlinearity is applied.

3. **Propensity.** Each entity has a heavy-tailed propensity ``p_i = 1 + Lomax(hub_exponent)``,
   i.e. a classical Pareto variable with minimum 1 and tail index ``hub_exponent`` (smaller =
   heavier tail). It drives how often an entity takes part in pairs, so degrees are very
   heterogeneous and a degree-only shortcut baseline already scores above chance.

4. **Pairs.** Repeated in vectorised rounds until ``n_pairs`` distinct pairs exist:
   draw anchors ``i`` with probability proportional to ``p_i``; for each anchor, draw fresh noise
   and compute noisy compatibilities ``c(i, j) + noise * N(0, 1)`` against every entity; keep the
   ``top_k = 10`` entities with the highest noisy compatibility; pick the partner ``j`` among them
   with probability proportional to ``p_j``. Self pairs are dropped, pairs are undirected and
   deduplicated (stored as ``a < b`` by row index, in order of first appearance), and the list
   is cut to exactly ``n_pairs``.

The oracle score for a pair is ``c(i, j)`` (use :func:`compatibility`). ``truth`` holds ``map``
(``T``), ``propensity`` (``p``), ``top_k``, the generator settings, a plain-language
``description``, ``mean_positive_cosine`` (mean embedding cosine over generated pairs),
``mean_positive_abs_cosine`` and ``cross_boundary_fraction`` (fraction of pairs with
``|cos| < 0.2``, i.e. partners that a similarity search would not find).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from calbio.core.graph import pair_key, pairs_from_keys
from calbio.data.types import Embeddings, Pairs

__all__ = [
    "SyntheticData",
    "SyntheticWorld",
    "compatibility",
    "make_synthetic",
    "unit_vectors",
]

TOP_K = 10
# Upper bound on dense anchor x entity elements per block when scoring candidates.
_BLOCK_ELEMS = 4_000_000
_MAX_ROUNDS = 200
_MAX_STALLED = 5  # rounds in a row without a new pair before giving up


E = TypeVar("E")
P = TypeVar("P")


@dataclass
class SyntheticWorld(Generic[E, P]):
    """A synthetic table, its generated pairs and the hidden truth that produced them."""

    embeddings: E
    pairs: P
    truth: dict = field(default_factory=dict)


class SyntheticData(SyntheticWorld[Embeddings, Pairs]):
    """A synthetic embedding table, its generated pairs and the hidden rule that produced them."""


def unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """``n`` random directions in R^dim: standard Gaussian rows divided by their norms."""
    v = rng.standard_normal((n, dim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _hidden_map(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A random symmetric orthogonal matrix ``Q D Q^T`` with ``dim // 2`` negative eigenvalues."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.sign(np.diag(r))  # Haar-distributed orthogonal matrix
    d = np.ones(dim)
    d[: dim // 2] = -1.0
    t = (q * d) @ q.T
    return (t + t.T) / 2.0  # exact symmetry against rounding


def compatibility(X: np.ndarray, T: np.ndarray, pairs_idx: np.ndarray) -> np.ndarray:
    """Oracle compatibility ``(T x_a) . x_b`` for each row ``(a, b)`` of ``pairs_idx``, float64."""
    x = np.asarray(X, dtype=np.float64)
    p = np.asarray(pairs_idx, dtype=np.int64).reshape(-1, 2)
    tx = x @ np.asarray(T, dtype=np.float64)  # row i is (T x_i)^T since T is symmetric
    return np.einsum("ij,ij->i", tx[p[:, 0]], x[p[:, 1]])


def _draw_partners(
    anchors: np.ndarray,
    x: np.ndarray,
    tx: np.ndarray,
    p: np.ndarray,
    noise: float,
    k: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """For each anchor, a partner among its top-k noisy-compatible entities, drawn by p."""
    n = x.shape[0]
    out = np.empty(anchors.shape[0], dtype=np.int64)
    block = max(1, _BLOCK_ELEMS // n)
    for start in range(0, anchors.shape[0], block):
        anc = anchors[start : start + block]
        c = tx[anc] @ x.T
        c += noise * rng.standard_normal(c.shape)
        pool = np.argpartition(-c, k - 1, axis=1)[:, :k]  # (b, k) top-k candidates
        cw = np.cumsum(p[pool], axis=1)
        u = rng.random(anc.shape[0]) * cw[:, -1]
        pick = np.minimum((cw < u[:, None]).sum(axis=1), k - 1)
        out[start : start + anc.shape[0]] = pool[np.arange(anc.shape[0]), pick]
    return out


def make_synthetic(
    n_entities: int = 800,
    dim: int = 32,
    n_pairs: int = 4000,
    *,
    seed: int = 0,
    hub_exponent: float = 1.2,
    noise: float = 0.1,
) -> SyntheticData:
    """Generate the documented synthetic world (embeddings, pairs, hidden truth) for a seed."""
    _check_settings(n_entities, dim, n_pairs, hub_exponent, noise)
    n, k = int(n_entities), TOP_K
    rng = np.random.default_rng(seed)
    x = unit_vectors(rng, n, dim)
    t = _hidden_map(dim, rng)
    prop = 1.0 + rng.pareto(hub_exponent, size=n)
    idx = _generate_pairs(x, x @ t, prop, n_pairs, noise, k, rng)

    width = max(4, len(str(n)))
    names = np.array([f"SYN{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
    emb = Embeddings(
        names=names,
        X=x.astype(np.float32),
        source="synthetic",
        meta={"format": "synthetic", "seed": seed, "generator": "calbio.data.synthetic"},
    )
    pairs = Pairs(
        a=names[idx[:, 0]],
        b=names[idx[:, 1]],
        source="synthetic",
        stats={"n_rows_read": int(n_pairs), "generator": "calbio.data.synthetic"},
    )
    cos = np.einsum("ij,ij->i", x[idx[:, 0]], x[idx[:, 1]])
    truth = {
        "map": t,
        "propensity": prop,
        "top_k": k,
        "seed": seed,
        "hub_exponent": float(hub_exponent),
        "noise": float(noise),
        "description": (
            "Synthetic data: entities are random unit vectors, and two entities are paired when "
            "one is among the most compatible partners of the other under a hidden symmetric "
            "orthogonal map T (compatibility (T x_i).x_j plus noise), with heavy-tailed "
            "propensities making some entities hubs; partners are generally not similar."
        ),
        "mean_positive_cosine": float(cos.mean()),
        "mean_positive_abs_cosine": float(np.abs(cos).mean()),
        "cross_boundary_fraction": float(np.mean(np.abs(cos) < 0.2)),
    }
    return SyntheticData(embeddings=emb, pairs=pairs, truth=truth)


def _check_settings(
    n_entities: int, dim: int, n_pairs: int, hub_exponent: float, noise: float
) -> None:
    """ValueError naming the first generator setting out of range."""
    if n_entities < TOP_K + 1:
        raise ValueError(f"n_entities must be at least {TOP_K + 1}")
    if dim < 2:
        raise ValueError("dim must be at least 2")
    if n_pairs < 1:
        raise ValueError("n_pairs must be positive")
    if hub_exponent <= 0:
        raise ValueError("hub_exponent must be positive")
    if noise < 0:
        raise ValueError("noise must be non-negative")


def _generate_pairs(
    x: np.ndarray,
    tx: np.ndarray,
    prop: np.ndarray,
    n_pairs: int,
    noise: float,
    k: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Rounds of anchor/partner draws until ``n_pairs`` distinct pairs (a < b) exist."""
    n = x.shape[0]
    anchor_prob = prop / prop.sum()
    codes = np.empty(0, dtype=np.int64)
    stalled = 0
    for _ in range(_MAX_ROUNDS):
        need = n_pairs - codes.shape[0]
        if need <= 0 or stalled >= _MAX_STALLED:
            break
        anchors = rng.choice(n, size=2 * need + 64, p=anchor_prob)
        partners = _draw_partners(anchors, x, tx, prop, noise, k, rng)
        new = pair_key(anchors, partners, n)[anchors != partners]
        merged = np.concatenate([codes, new])
        _, first = np.unique(merged, return_index=True)
        stalled = stalled + 1 if first.shape[0] == codes.shape[0] else 0
        codes = merged[np.sort(first)]  # distinct, in order of first appearance
    if codes.shape[0] < n_pairs:
        raise ValueError(
            f"could only generate {codes.shape[0]} distinct pairs; lower n_pairs "
            f"or raise n_entities"
        )
    return pairs_from_keys(codes[:n_pairs], n)
