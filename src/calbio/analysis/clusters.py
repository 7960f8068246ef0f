"""HDBSCAN clusters in association space (f(E)) and in embedding space (E), compared.

Distances are 1 - cosine of L2-normalised rows. Memory: calbio materialises exactly one n x n
float64 distance matrix at a time (sklearn's HDBSCAN works in float64 on precomputed matrices,
so a float32 matrix would be copied to float64 anyway) and frees it before the next space is
clustered. sklearn's symmetry check allocates transient n x n temporaries on top: the measured
peak is about 3.1 x n^2 x 8 bytes (10 GB at 20,000 entities, inside a 24 GB budget).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.cluster import HDBSCAN

from calbio.core.errors import CalbioInputError
from calbio.core.graph import degrees

HUB_DEGREE = 50  # training degree above which a member counts as a hub (the paper's rule)
NOISE_MAJORITY = 0.5  # association-specific: > 50% of members are noise in embedding space ...
MIN_SPAN = 3  # ... or the members span >= 3 embedding-space clusters


def unit_rows(V: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, in float64 (zero rows stay zero)."""
    U = np.asarray(V, dtype=np.float64)
    norms = np.linalg.norm(U, axis=1, keepdims=True)
    return U / np.maximum(norms, np.finfo(np.float64).tiny)


def cosine_distance_matrix(V: np.ndarray) -> np.ndarray:
    """1 - cosine between the L2-normalised rows of ``V``: one n x n float64, symmetric, 0 diag."""
    U = unit_rows(V)
    D = U @ U.T  # numpy uses a symmetric rank-k update here: exactly symmetric
    np.subtract(1.0, D, out=D)
    np.clip(D, 0.0, 2.0, out=D)
    np.fill_diagonal(D, 0.0)
    return D


def hdbscan_cosine(V: np.ndarray, min_cluster_size: int = 5, min_samples: int = 3) -> np.ndarray:
    """HDBSCAN labels (-1 = noise) on 1 - cosine distances between rows of ``V``."""
    n = len(V)
    if n < 2:
        raise CalbioInputError(f"clustering needs at least 2 entities, got {n}")
    if min_cluster_size < 2 or min_samples < 1:
        raise CalbioInputError("min_cluster_size must be >= 2 and min_samples >= 1")
    if not np.isfinite(V).all():
        raise CalbioInputError("vectors to cluster contain NaN or infinite values")
    D = cosine_distance_matrix(V)
    model = HDBSCAN(
        min_cluster_size=min_cluster_size,
        min_samples=min(min_samples, n - 1),
        metric="precomputed",
        copy=False,  # HDBSCAN overwrites D in place; it is ours and discarded right after
    )
    labels = model.fit_predict(D)
    del D, model
    gc.collect()
    return labels.astype(np.int64)


def membership_matrix(labels: np.ndarray) -> sp.csr_matrix:
    """Sparse (n_clusters x n_entities) 0/1 matrix; noise (-1) rows are left out."""
    labels = np.asarray(labels, dtype=np.int64)
    keep = np.flatnonzero(labels >= 0)
    k = int(labels.max()) + 1 if keep.size else 0
    return sp.csr_matrix(
        (np.ones(keep.size, np.float64), (labels[keep], keep)), shape=(k, len(labels))
    )


def mean_pairwise_cosine(V: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean cosine over distinct member pairs of each cluster (vectorised via summed vectors)."""
    U = unit_rows(V)
    C = membership_matrix(labels)
    S = np.asarray(C @ U)  # (k, d) summed unit vectors
    m = np.asarray(C.sum(axis=1)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((S * S).sum(axis=1) - m) / (m * (m - 1))


@dataclass
class ClusterAnalysis:
    """Association-space and embedding-space clusters of one model, with per-cluster stats."""

    names: np.ndarray  # (n,) entity names
    assoc_labels: np.ndarray  # (n,) HDBSCAN labels in association space, -1 noise
    embed_labels: np.ndarray  # (n,) HDBSCAN labels in embedding space, -1 noise
    table: pd.DataFrame  # one row per association cluster
    embed_table: pd.DataFrame  # one row per embedding cluster
    params: dict[str, Any] = field(default_factory=dict)

    def members(self, space: str = "association") -> list[np.ndarray]:
        """Member names per cluster of a space, in label order."""
        labels = self.assoc_labels if space == "association" else self.embed_labels
        k = int(labels.max()) + 1 if (labels >= 0).any() else 0
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(k + 1))
        return [self.names[order[bounds[i] : bounds[i + 1]]] for i in range(k)]

    def members_frame(self) -> pd.DataFrame:
        """Entity, association cluster and embedding cluster (one row per entity)."""
        return pd.DataFrame(
            {
                "entity": self.names,
                "association_cluster": self.assoc_labels,
                "embedding_cluster": self.embed_labels,
            }
        )


def _cluster_table(
    labels: np.ndarray,
    other: np.ndarray,
    E: np.ndarray,
    Z: np.ndarray,
    degree: np.ndarray | None,
    names: np.ndarray,
    hub_degree: int,
    max_listed: int = 30,
) -> pd.DataFrame:
    C = membership_matrix(labels)
    size = np.asarray(C.sum(axis=1)).ravel().astype(np.int64)
    k = len(size)
    emb_cos = mean_pairwise_cosine(E, labels)
    asc_cos = mean_pairwise_cosine(Z, labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = asc_cos / emb_cos
    # noise share and span of each cluster in the other space
    noise_other = np.asarray(C @ (other < 0).astype(np.float64)).ravel() / np.maximum(size, 1)
    keep = (labels >= 0) & (other >= 0)
    span = np.zeros(k, np.int64)
    if keep.any():
        combos = np.unique(np.stack([labels[keep], other[keep]], 1), axis=0)
        span = np.bincount(combos[:, 0], minlength=k)
    out = pd.DataFrame(
        {
            "cluster": np.arange(k),
            "size": size,
            "mean_embedding_cosine": emb_cos,
            "mean_association_cosine": asc_cos,
            "ratio": ratio,
            "other_space_noise_fraction": noise_other,
            "other_space_clusters_spanned": span,
        }
    )
    if degree is not None:
        hubs = np.asarray(C @ (degree > hub_degree).astype(np.float64)).ravel()
        out["hub_fraction"] = hubs / np.maximum(size, 1)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    out["members"] = [
        ";".join(map(str, names[order[bounds[i] : bounds[i + 1]]][:max_listed])) for i in range(k)
    ]
    return out


def analyze_clusters(
    names: np.ndarray,
    embedding: np.ndarray,
    association: np.ndarray,
    train_pairs: np.ndarray | None = None,
    *,
    min_cluster_size: int = 5,
    min_samples: int = 3,
    hub_degree: int = HUB_DEGREE,
) -> ClusterAnalysis:
    """Cluster both spaces and flag association-specific clusters (the paper's 'PAM-specific').

    An association cluster is association-specific when more than half its members are noise in
    embedding space or its members span at least three embedding-space clusters.
    """
    names = np.asarray(names, dtype=object)
    E = np.asarray(embedding, dtype=np.float32)
    Z = np.asarray(association, dtype=np.float32)
    if E.shape[0] != Z.shape[0] or E.shape[0] != len(names):
        raise CalbioInputError("names, embedding and association rows must match")
    assoc = hdbscan_cosine(Z, min_cluster_size, min_samples)
    embed = hdbscan_cosine(E, min_cluster_size, min_samples)
    degree = None
    if train_pairs is not None:
        degree = degrees(train_pairs, len(names))
    table = _cluster_table(assoc, embed, E, Z, degree, names, hub_degree)
    table["association_specific"] = (table["other_space_noise_fraction"] > NOISE_MAJORITY) | (
        table["other_space_clusters_spanned"] >= MIN_SPAN
    )
    etable = _cluster_table(embed, assoc, E, Z, degree, names, hub_degree)
    params = {
        "min_cluster_size": min_cluster_size,
        "min_samples": min_samples,
        "metric": "1 - cosine (L2-normalised rows)",
        "hub_degree": hub_degree,
        "association_specific_rule": "> 50% embedding-space noise or spans >= 3 embedding clusters",
    }
    return ClusterAnalysis(names, assoc, embed, table, etable, params)


def analyze_model(model: Any, **kwargs: Any) -> ClusterAnalysis:
    """:func:`analyze_clusters` on a fitted :class:`~calbio.models.cal.estimator.CAL`."""
    return analyze_clusters(
        model.names_, model.embedding_, model.association_, model.train_pairs_, **kwargs
    )
