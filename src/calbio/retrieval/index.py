"""Approximate top-k retrieval for millions of entities with faiss (extra ``calbio[index]``).

The index stores the *right* score vectors of every entity (for the half score
``[b; f(b)] / sqrt 2``) and is queried with the *left* vectors (``[f(a); a] / sqrt 2``), so an
inner-product search returns exactly the pairs with the highest association score. For the half
score both vectors have unit norm, which is why inner product, cosine and L2 rankings agree and
IVF/HNSW behave as on any normalised embedding.

Kinds: ``flat`` (exact, IndexFlatIP), ``ivf`` (IndexIVFFlat, k-means cells, ``nprobe`` cells
searched), ``hnsw`` (IndexHNSWFlat graph, ``ef_search``). ``auto`` = flat below 50,000 entities,
else ivf.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from calbio.core.errors import CalbioInputError
from calbio.core.io import atomic_dir, write_json_atomic
from calbio.retrieval.exact import Neighbors

INDEX_KINDS: tuple[str, ...] = ("auto", "flat", "ivf", "hnsw")
INDEX_FORMAT = 1
AUTO_FLAT_MAX = 50_000


def require_faiss() -> Any:
    """Import faiss or raise a one-line error telling how to install it."""
    try:
        import faiss
    except ImportError:
        raise CalbioInputError(
            "approximate indexes need faiss: pip install 'calbio[index]' (or faiss-cpu)"
        ) from None
    return faiss


def default_nlist(n: int) -> int:
    """IVF cell count: about 4*sqrt(n), at least 1, and at most n/39 (k-means needs points)."""
    return int(max(1, min(round(4 * math.sqrt(n)), n // 39)))


def build_index(
    vectors: np.ndarray,
    kind: str = "auto",
    *,
    nlist: int | None = None,
    nprobe: int | None = None,
    hnsw_m: int = 32,
    ef_construction: int = 80,
    ef_search: int = 128,
    train_size: int | None = None,
    seed: int = 0,
) -> Any:
    """Build an inner-product faiss index over ``vectors`` (n, D) float32 (row i = entity i)."""
    faiss = require_faiss()
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = x.shape
    if kind not in INDEX_KINDS:
        raise CalbioInputError(f"index kind must be one of {', '.join(INDEX_KINDS)}, got {kind!r}")
    if kind == "auto":
        kind = "flat" if n <= AUTO_FLAT_MAX else "ivf"
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "ivf":
        nlist = nlist or default_nlist(n)
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        m = min(n, train_size or max(64 * nlist, 50_000))
        sample = x if m >= n else x[np.random.default_rng(seed).choice(n, m, replace=False)]
        index.cp.seed = seed
        index.train(sample)
        index.nprobe = nprobe or max(1, nlist // 32)
    else:
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
    index.add(x)
    return index


def set_search_params(index: Any, nprobe: int | None = None, ef_search: int | None = None) -> None:
    """Change the speed/recall knob of an IVF (``nprobe``) or HNSW (``ef_search``) index."""
    if nprobe is not None and hasattr(index, "nprobe"):
        index.nprobe = int(nprobe)
    if ef_search is not None and hasattr(index, "hnsw"):
        index.hnsw.efSearch = int(ef_search)


def search_index(
    index: Any,
    left: np.ndarray,
    k: int,
    *,
    queries: np.ndarray | None = None,
    exclude_self: bool = True,
    batch: int = 65536,
) -> Neighbors:
    """Top-k partners of each query row of ``left`` from the index (self hits removed)."""
    q = np.arange(len(left)) if queries is None else np.asarray(queries, dtype=np.int64)
    extra = 1 if exclude_self else 0
    out_i = np.full((len(q), k), -1, dtype=np.int64)
    out_s = np.full((len(q), k), -np.inf, dtype=np.float32)
    for s in range(0, len(q), batch):
        qb = q[s : s + batch]
        D, Ind = index.search(np.ascontiguousarray(left[qb], dtype=np.float32), k + extra)
        drop = Ind < 0
        if exclude_self:
            drop |= Ind == qb[:, None]
        # stable sort puts kept hits first, in the index's (descending score) order
        order = np.argsort(drop, axis=1, kind="stable")[:, :k]
        Ind = np.take_along_axis(Ind, order, 1)
        D = np.take_along_axis(D, order, 1)
        bad = np.take_along_axis(drop, order, 1)
        Ind[bad], D[bad] = -1, -np.inf
        out_i[s : s + len(qb)], out_s[s : s + len(qb)] = Ind, D
    return Neighbors(out_i, out_s)


def vectors_digest(x: np.ndarray) -> str:
    """sha256 of a float32 array's bytes (ties an index to the model it was built from)."""
    return hashlib.sha256(np.ascontiguousarray(x, dtype=np.float32).tobytes()).hexdigest()


def describe_index(index: Any) -> dict[str, Any]:
    """Kind and search parameters of a faiss index, for index.json."""
    faiss = require_faiss()
    info: dict[str, Any] = {"n": int(index.ntotal), "dim": int(index.d)}
    if isinstance(index, faiss.IndexIVF):
        info.update(kind="ivf", nlist=int(index.nlist), nprobe=int(index.nprobe))
    elif isinstance(index, faiss.IndexHNSW):
        info.update(kind="hnsw", ef_search=int(index.hnsw.efSearch))
    else:
        info.update(kind="flat")
    return info


def save_index(index: Any, path: str | Path, meta: dict[str, Any], *, force: bool = False) -> Path:
    """Write an index directory: ``index.faiss`` plus ``index.json`` (kind, sizes, digest)."""
    faiss = require_faiss()
    with atomic_dir(path, force=force) as tmp:
        faiss.write_index(index, str(tmp / "index.faiss"))
        write_json_atomic(
            tmp / "index.json", {"format": INDEX_FORMAT, **describe_index(index), **meta}
        )
    return Path(path)


def load_index(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Read an index directory written by :func:`save_index`."""
    faiss = require_faiss()
    path = Path(path)
    if not (path / "index.json").is_file() or not (path / "index.faiss").is_file():
        raise CalbioInputError("not a calbio index directory (no index.json/index.faiss)", path)
    meta = json.loads((path / "index.json").read_text())
    index = faiss.read_index(str(path / "index.faiss"))
    params = faiss.ParameterSpace()
    if meta.get("kind") == "ivf" and "nprobe" in meta:
        params.set_index_parameter(index, "nprobe", int(meta["nprobe"]))
    if meta.get("kind") == "hnsw" and "ef_search" in meta:
        params.set_index_parameter(index, "efSearch", int(meta["ef_search"]))
    return index, meta


def model_score_vectors(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) score factors of a fitted model whose score is an inner product."""
    vec = model.score_vectors()
    if vec is None:
        raise CalbioInputError(
            f"{type(model).__name__} scores are not an inner product of per-entity vectors, so "
            "they cannot be indexed; use `calbio neighbors` (exact) instead"
        )
    return vec


def build_model_index(model: Any, kind: str = "auto", **options: Any) -> tuple[Any, dict[str, Any]]:
    """Index a fitted model's entities; returns (index, metadata to save beside it)."""
    _, right = model_score_vectors(model)
    index = build_index(right, kind, **options)
    cfg = getattr(model, "config", None)
    meta = {"score": getattr(cfg, "score", None), "right_sha256": vectors_digest(right)}
    return index, meta


def model_index_neighbors(model: Any, index: Any, meta: dict[str, Any], top: int = 50) -> Neighbors:
    """Top partners of every entity of ``model`` searched in an index built from that model."""
    left, right = model_score_vectors(model)
    if int(index.ntotal) != len(right) or int(index.d) != right.shape[1]:
        raise CalbioInputError(
            f"index holds {index.ntotal} x {index.d} vectors but the model has "
            f"{right.shape[0]} x {right.shape[1]}; rebuild it with `calbio index`"
        )
    if meta.get("right_sha256") not in (None, vectors_digest(right)):
        raise CalbioInputError("index was built from a different model; rebuild it")
    return search_index(index, left, min(top, len(right) - 1))
