"""Pair scores from association vectors Z = f(E) and embeddings E (both L2-normalised rows).

half:   0.5 * (f(a).e_b + f(b).e_a)  -- the paper's score, the default
both:   f(a).f(b)
cosine: e_a.e_b
blend:  (1 - lambda) * cosine + lambda * half

Every score is an inner product of per-entity vectors (left(a) . right(b)), so a whole row
of scores against all entities is one matrix product; ``score_vectors`` returns that factorisation.
"""

from __future__ import annotations

import numpy as np

from calbio.core.options import SCORE_KINDS


def score_vectors(
    Z: np.ndarray, E: np.ndarray, kind: str = "half", blend_lambda: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) with score(a, b) = left[a] . right[b] for the chosen score kind."""
    if kind not in SCORE_KINDS:
        raise ValueError(f"score must be one of {SCORE_KINDS}, got {kind!r}")
    if kind == "cosine":
        return E, E
    if kind == "both":
        return Z, Z
    half_l = np.concatenate([Z, E], axis=1) * np.float32(np.sqrt(0.5))
    half_r = np.concatenate([E, Z], axis=1) * np.float32(np.sqrt(0.5))
    if kind == "half":
        return half_l, half_r
    w_cos = np.float32(np.sqrt(1.0 - blend_lambda))
    w_half = np.float32(np.sqrt(blend_lambda))
    return (
        np.concatenate([E * w_cos, half_l * w_half], axis=1),
        np.concatenate([E * w_cos, half_r * w_half], axis=1),
    )


def pair_scores(
    Z: np.ndarray, E: np.ndarray, idx: np.ndarray, kind: str = "half", blend_lambda: float = 0.5
) -> np.ndarray:
    """Scores of index pairs ``idx`` (m, 2); vectorised, float64 output."""
    idx = np.asarray(idx, dtype=np.int64).reshape(-1, 2)
    left, right = score_vectors(Z, E, kind, blend_lambda)
    return np.einsum("ij,ij->i", left[idx[:, 0]], right[idx[:, 1]], dtype=np.float64)


def score_rows(
    Z: np.ndarray,
    E: np.ndarray,
    queries: np.ndarray,
    candidates: np.ndarray | None = None,
    kind: str = "half",
    blend_lambda: float = 0.5,
) -> np.ndarray:
    """Dense (len(queries), len(candidates)) score matrix; candidates default to all entities."""
    left, right = score_vectors(Z, E, kind, blend_lambda)
    right = right if candidates is None else right[np.asarray(candidates)]
    return left[np.asarray(queries)] @ right.T


def l2_normalize(X: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation in float32."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, np.finfo(np.float32).tiny)
