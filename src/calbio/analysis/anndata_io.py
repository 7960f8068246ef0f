"""Write a fitted model's association space back into an AnnData file (scanpy conventions).

``obsm["X_cal"]``: association vectors f(e) per observation; ``obs["cal_cluster"]``: HDBSCAN
labels (categorical strings; "-1" = HDBSCAN noise, missing (NaN) = row not mapped or not
clustered); ``uns["cal"]["params"]``: how they were made (unset options are left out, since h5ad
cannot store None). Nothing else in the AnnData object is touched.

Two modes, chosen automatically:
- ``transform``: the matrix has the model's raw feature dimension, so every row is mapped with
  ``CAL.transform`` (the model's own preprocessing, then f). Works for new entities too.
- ``lookup``: otherwise, rows are matched to the model's entities by name (``obs_names`` or an obs
  column); rows not in the model get NaN vectors and a missing cluster label.

In transform mode, rows whose names are model entities are compared with the model's own
(preprocessed) training rows; a warning says when they differ, i.e. when the table is not the
one the model was fitted on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from calbio.analysis.clusters import hdbscan_cosine
from calbio.core.errors import CalbioInputError
from calbio.core.logs import get_logger

logger = get_logger("anndata")

OBSM_KEY = "X_cal"
OBS_KEY = "cal_cluster"
UNS_KEY = "cal"


def _uns_safe(value: Any) -> Any:
    """h5ad cannot store None: leave such entries out (recursively), keep everything else."""
    if isinstance(value, dict):
        return {str(k): _uns_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_uns_safe(v) for v in value if v is not None]
    return value


def _row_ids(adata: Any, id_column: str | None) -> np.ndarray:
    if id_column is not None:
        if id_column not in adata.obs:
            raise CalbioInputError(f"h5ad obs has no column {id_column!r}")
        return adata.obs[id_column].astype(str).to_numpy()
    return np.asarray(adata.obs_names, dtype=str)


def compare_with_training_rows(
    model: Any, ids: np.ndarray, X: np.ndarray, atol: float = 1e-3
) -> str | None:
    """A warning when rows named like model entities differ from the model's training rows
    after the model's preprocessing (PCA if any, L2 norm); None when they agree or none share."""
    pos = pd.Index(np.asarray(model.names_, dtype=str)).get_indexer(ids)
    shared = np.flatnonzero(pos >= 0)
    if not len(shared):
        return None
    mine = model.preprocess(np.asarray(X[shared], dtype=np.float32))
    diff = np.abs(mine - model.embedding_[pos[shared]]).max(axis=1)
    bad = diff > atol
    if not bad.any():
        return None
    sha = ((getattr(model, "sources_", {}) or {}).get("embeddings") or {}).get("sha256")
    ex = ", ".join(str(x) for x in ids[shared[bad]][:3])
    return (
        f"{int(bad.sum()):,} of {len(shared):,} rows named like model entities differ from the "
        f"table the model was fitted on (after its preprocessing; e.g. {ex}; largest difference "
        f"{float(diff.max()):.3g}); this is another embedding"
        + (f" than the training table (sha256 {sha[:12]}...)" if sha else "")
        + ", so X_cal is f applied to different inputs"
    )


def _matrix(adata: Any, layer: str | None) -> Any:
    if layer is None:
        return adata.X
    if layer not in adata.layers:
        raise CalbioInputError(f"h5ad has no layer {layer!r} (layers: {list(adata.layers)})")
    return adata.layers[layer]


def add_association_space(
    adata: Any,
    model: Any,
    *,
    layer: str | None = None,
    id_column: str | None = None,
    mode: str = "auto",
    cluster: bool = True,
    min_cluster_size: int = 5,
    min_samples: int = 3,
    model_dir: str | None = None,
) -> dict[str, Any]:
    """Add obsm['X_cal'], obs['cal_cluster'] and uns['cal']['params'] to ``adata`` in place."""
    X = _matrix(adata, layer)
    warnings: list[str] = []
    if mode == "auto":
        mode = "transform" if X is not None and X.shape[1] == model.n_features_in_ else "lookup"
    n = adata.n_obs
    if mode == "transform":
        Z, mapped = _transformed_rows(adata, model, X, id_column, warnings)
    elif mode == "lookup":
        Z, mapped = _looked_up_rows(adata, model, X, id_column)
    else:
        raise CalbioInputError(f"mode must be auto, transform or lookup, got {mode!r}")
    labels = np.full(n, -1, dtype=np.int64)
    clustered = np.zeros(n, dtype=bool)
    if cluster and mapped.sum() >= 2:
        labels[mapped] = hdbscan_cosine(Z[mapped], min_cluster_size, min_samples)
        clustered = mapped.copy()
    adata.obsm[OBSM_KEY] = Z
    cats = [str(c) for c in sorted(set(labels[clustered].tolist()))]
    # noise stays "-1"; rows that were not mapped (or not clustered) are missing, not noise
    values = np.where(clustered, labels.astype(str), None)
    adata.obs[OBS_KEY] = pd.Categorical(values, categories=cats)
    params = {
        "mode": mode,
        "layer": layer,
        "id_column": id_column,
        "model_dir": model_dir,
        "preset": getattr(model, "preset", "custom"),
        "train": model.config.to_dict(),
        "n_features_in": int(model.n_features_in_),
        "n_mapped": int(mapped.sum()),
        "n_obs": int(n),
        "clustered": bool(cluster),
        "min_cluster_size": int(min_cluster_size),
        "min_samples": int(min_samples),
        "metric": "1 - cosine",
        "unmapped": "NaN rows in obsm, missing cluster label",
        "noise": "cluster '-1'",
    }
    adata.uns[UNS_KEY] = {"params": _uns_safe(params)}
    n_clusters = int(labels.max()) + 1 if (labels >= 0).any() else 0
    return {
        "mode": mode,
        "n_obs": n,
        "n_mapped": int(mapped.sum()),
        "n_clusters": n_clusters,
        "n_noise": int((labels[clustered] == -1).sum()),
        "warnings": warnings,
    }


def _transformed_rows(
    adata: Any, model: Any, X: Any, id_column: str | None, warnings: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Transform mode: every observation's features through the model (all rows mapped)."""
    if X is None or X.shape[1] != model.n_features_in_:
        raise CalbioInputError(
            f"transform mode needs {model.n_features_in_} features per row, "
            f"the matrix has {None if X is None else X.shape[1]}"
        )
    dense = X.toarray() if sp.issparse(X) else np.asarray(X)
    if not np.isfinite(dense).all():
        raise CalbioInputError("the h5ad matrix contains NaN or infinite values")
    Z = model.transform(dense).astype(np.float32)
    warning = compare_with_training_rows(model, _row_ids(adata, id_column), dense)
    if warning:
        warnings.append(warning)
        logger.warning(warning)
    return Z, np.ones(adata.n_obs, dtype=bool)


def _looked_up_rows(
    adata: Any, model: Any, X: Any, id_column: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """Lookup mode: the model's association row of each observation named like an entity."""
    ids = _row_ids(adata, id_column)
    pos = pd.Index(np.asarray(model.names_, dtype=str)).get_indexer(ids)
    mapped = pos >= 0
    if not mapped.any():
        raise CalbioInputError(
            "no observation name matches a model entity and the feature dimension differs "
            f"({0 if X is None else X.shape[1]} vs the model's {model.n_features_in_})"
        )
    Z = np.full((adata.n_obs, model.association_.shape[1]), np.nan, dtype=np.float32)
    Z[mapped] = model.association_[pos[mapped]]
    return Z, mapped


def transform_h5ad(
    model_dir: str | Path,
    h5ad: str | Path,
    out: str | Path,
    *,
    force: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """Read an .h5ad, add the association space (see :func:`add_association_space`), write out."""
    import anndata

    from calbio.core.io import atomic_file, check_output_file
    from calbio.models.cal.estimator import CAL

    out = Path(out)
    check_output_file(out, force)
    if out.suffix != ".h5ad":
        raise CalbioInputError("output must end in .h5ad", out)
    if not Path(h5ad).is_file():
        raise CalbioInputError("file not found", h5ad)
    model = CAL.load(model_dir)
    try:
        adata = anndata.read_h5ad(h5ad)
    except (OSError, ValueError, KeyError) as exc:
        raise CalbioInputError(f"cannot read h5ad: {exc.__class__.__name__}: {exc}", h5ad) from None
    info = add_association_space(adata, model, model_dir=str(model_dir), **kwargs)
    with atomic_file(out) as tmp:
        adata.write_h5ad(tmp)
    return info
