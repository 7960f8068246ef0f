"""Saving and loading every model: safetensors for arrays, JSON for the rest, never pickle.

A model directory holds

* ``model.safetensors``: every fitted array (C-contiguous, finite);
* ``config.json``: ``format``, the registered model name, its constructor parameters, the
  JSON-able fitted state (training history included) and the shape of every array;
* ``entities.csv``: the entity index; ``train_pairs.csv``: the training pairs by name;
* ``metadata.json``: versions, seed, inputs (path + sha256), timings (informational).

``load_model`` checks the format version, that every recorded array is present with its recorded
shape, that the entity table matches the arrays, and that no array holds NaN or inf; each failure
is one :class:`~calbio.core.errors.CalbioInputError` naming the file.

``config.json`` also records ``hashes``: the sha256 of the entity list (in order), of the
training pairs and of every array (dtype, shape and bytes). ``load_model`` recomputes them, so an
edited ``entities.csv`` (e.g. rows sorted or rotated, which would silently give every row another
entity's vectors) or a changed array is refused, naming the file. Directories written before the
hashes existed load with a warning that they cannot be checked (re-save to add them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calbio.core.errors import CalbioInputError
from calbio.core.io import _umask_mode, atomic_dir, write_json_atomic

MODEL_FORMAT = 2
ARRAYS_FILE = "model.safetensors"
log = logging.getLogger("calbio")


MODULE_PREFIX = "module."  # saved torch weights: "module.<parameter name>"


def module_arrays(module: Any) -> dict[str, np.ndarray]:
    """A torch module's weights as arrays keyed ``module.<name>`` (the saved form)."""
    return {f"{MODULE_PREFIX}{k}": v.detach().numpy() for k, v in module.state_dict().items()}


def load_module_arrays(module: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Load :func:`module_arrays`' weights back into ``module``; returns it in eval mode."""
    import torch

    n = len(MODULE_PREFIX)
    module.load_state_dict(
        {
            k[n:]: torch.from_numpy(np.ascontiguousarray(v))
            for k, v in arrays.items()
            if k.startswith(MODULE_PREFIX)
        }
    )
    module.eval()
    return module


def hash_names(names: Any) -> str:
    """sha256 of an ordered list of identifiers (one per line, as strings)."""
    text = "\n".join(str(x) for x in np.asarray(names, dtype=object).ravel())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_array(arr: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and C-ordered bytes."""
    a = np.ascontiguousarray(arr)
    h = hashlib.sha256(f"{a.dtype.str}{list(a.shape)}".encode())
    h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


def _content_hashes(
    names: np.ndarray, pairs_a: Any, pairs_b: Any, arrays: dict[str, np.ndarray]
) -> dict[str, Any]:
    return {
        "entities": hash_names(names),
        "train_pairs": hash_names(np.stack([np.asarray(pairs_a), np.asarray(pairs_b)], 1)),
        "arrays": {k: hash_array(v) for k, v in arrays.items()},
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    if hasattr(value, "get_params"):  # a nested estimator parameter
        from calbio.models.registry import model_name

        return {"__model__": model_name(value), "params": _jsonable(value.get_params(deep=False))}
    return str(value)


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and "__model__" in value:
        from calbio.models.registry import resolve_model

        return resolve_model(
            value["__model__"], **{k: _from_json(v) for k, v in value["params"].items()}
        )
    return value


def versions() -> dict[str, str]:
    """Versions of calbio and its numerical stack."""
    import sklearn
    import torch

    from calbio.core.version import __version__

    return {
        "calbio": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
    }


def save_model(
    model: Any,
    path: str | Path,
    *,
    force: bool = False,
    extra_metadata: dict | None = None,
    extra_files: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` (fitted, an :class:`AssociationModelBase`) to the directory ``path``.

    ``extra_files`` maps a file name to a writer ``f(path)`` run inside the same atomic write
    (e.g. ``id_mapping.tsv``), so a crash never leaves a model without them.
    """
    from safetensors.numpy import save_file

    from calbio.models.registry import model_name

    model._check_fitted()
    arrays, state = model._get_state()
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    for k, v in arrays.items():
        if v.dtype.kind == "f" and not np.isfinite(v).all():
            raise CalbioInputError(f"refusing to save: fitted array {k!r} holds NaN or inf")
    names = np.asarray(model.names_, dtype=object)
    config = {
        "format": MODEL_FORMAT,
        "model": model_name(model),
        "params": _jsonable(model.get_params(deep=False)),
        "state": _jsonable(state),
        "n_entities": int(len(names)),
        "arrays": {k: list(v.shape) for k, v in arrays.items()},
    }
    tp = np.asarray(model.train_pairs_, dtype=np.int64).reshape(-1, 2)
    # what load_model checks the files against (an edited entities.csv must not load)
    config["hashes"] = _content_hashes(names, names[tp[:, 0]], names[tp[:, 1]], arrays)
    meta = {
        **versions(),
        "seed": getattr(model, "random_state", None),
        "inputs": getattr(model, "sources_", {}),
        "mapping": getattr(model, "mapping_stats_", {}),
        "synthetic": getattr(model, "sources_", {}).get("embeddings", {}).get("path")
        == "synthetic",
    }
    meta.update(_jsonable(extra_metadata or {}))
    with atomic_dir(path, force=force) as tmp:
        if arrays:
            save_file(arrays, str(tmp / ARRAYS_FILE))
            os.chmod(tmp / ARRAYS_FILE, _umask_mode())  # safetensors writes 0600
        write_json_atomic(tmp / "config.json", config)
        pd.DataFrame({"id": names}).to_csv(tmp / "entities.csv", index=False)
        pd.DataFrame({"a": names[tp[:, 0]], "b": names[tp[:, 1]]}).to_csv(
            tmp / "train_pairs.csv", index=False
        )
        write_json_atomic(tmp / "metadata.json", _jsonable(meta))
        hist = state.get("history")
        if isinstance(hist, dict) and hist.get("loss"):
            curve = pd.DataFrame(
                {"epoch": np.arange(1, len(hist["loss"]) + 1), "loss": hist["loss"]}
            )
            if len(hist.get("epoch_seconds", [])) == len(curve):
                curve["seconds"] = hist["epoch_seconds"]
            if len(hist.get("val_loss", [])) == len(curve):
                curve["val_loss"] = hist["val_loss"]
            curve.to_csv(tmp / "loss_curve.csv", index=False)
        for name, writer in (extra_files or {}).items():
            writer(tmp / name)
    return Path(path)


def _read(path: Path) -> tuple[dict, dict[str, np.ndarray], np.ndarray, pd.DataFrame, dict]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise CalbioInputError("not a calbio model directory (config.json missing)", path)
    try:
        config = json.loads(cfg_file.read_text())
    except (OSError, ValueError) as exc:
        raise CalbioInputError(f"config.json is not valid JSON ({exc})", path) from None
    if not isinstance(config, dict):
        raise CalbioInputError("config.json is not a JSON object", path)
    fmt = config.get("format")
    if fmt != MODEL_FORMAT:
        raise CalbioInputError(
            f"model format {fmt!r} is not supported by this calbio (expects {MODEL_FORMAT}); "
            "refit the model with this version",
            path,
        )
    for key in ("model", "params", "state", "n_entities", "arrays"):
        if key not in config:
            raise CalbioInputError(f"config.json lacks {key!r}", path)
    expected = config["arrays"]
    arrays: dict[str, np.ndarray] = {}
    if expected:
        f = path / ARRAYS_FILE
        if not f.is_file():
            raise CalbioInputError(f"{ARRAYS_FILE} is missing", path)
        try:
            arrays = load_file(str(f))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CalbioInputError(
                f"{ARRAYS_FILE} is not a readable safetensors file ({exc}); models are data, "
                "never pickles",
                path,
            ) from None
    for k, shape in expected.items():
        if k not in arrays:
            raise CalbioInputError(f"{ARRAYS_FILE} lacks the array {k!r}", path)
        if list(arrays[k].shape) != list(shape):
            raise CalbioInputError(
                f"{ARRAYS_FILE}: array {k!r} has shape {list(arrays[k].shape)}, "
                f"config.json says {shape}",
                path,
            )
        if arrays[k].dtype.kind == "f" and not np.isfinite(arrays[k]).all():
            raise CalbioInputError(f"{ARRAYS_FILE}: array {k!r} holds NaN or inf", path)
    try:
        names = pd.read_csv(path / "entities.csv", dtype=str, keep_default_na=False)["id"]
        tp = pd.read_csv(path / "train_pairs.csv", dtype=str, keep_default_na=False)
        meta_file = path / "metadata.json"
        meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    except (OSError, ValueError, KeyError) as exc:
        raise CalbioInputError(f"cannot read model directory: {exc}", path) from None
    if len(names) != int(config["n_entities"]):
        raise CalbioInputError(
            f"entities.csv has {len(names)} rows, the model has {config['n_entities']} entities",
            path,
        )
    if not {"a", "b"} <= set(tp.columns):
        raise CalbioInputError("train_pairs.csv needs columns a,b", path)
    _check_hashes(path, config, names.to_numpy(dtype=object), tp, arrays)
    return config, arrays, names.to_numpy(dtype=object), tp, meta


def _check_hashes(
    path: Path, config: dict, names: np.ndarray, tp: pd.DataFrame, arrays: dict[str, np.ndarray]
) -> None:
    """Refuse files whose content differs from the hashes in config.json; warn when none."""
    recorded = config.get("hashes")
    if not isinstance(recorded, dict):
        log.warning(
            "calbio: %s: config.json records no hashes (written by an older calbio), so its "
            "entities.csv and arrays cannot be checked; re-save the model to add them",
            path,
        )
        return
    now = _content_hashes(names, tp["a"].to_numpy(object), tp["b"].to_numpy(object), arrays)
    for key, file in (("entities", "entities.csv"), ("train_pairs", "train_pairs.csv")):
        if key in recorded and recorded[key] != now[key]:
            raise CalbioInputError(
                "does not match the hash in config.json (edited, reordered or from another "
                "model); refusing to load a model whose rows may be other entities",
                path / file,
            )
    for k, h in (recorded.get("arrays") or {}).items():
        if k in now["arrays"] and h != now["arrays"][k]:
            raise CalbioInputError(
                f"array {k!r} does not match its hash in config.json (the file was changed "
                "after saving)",
                path / ARRAYS_FILE,
            )


def load_model(path: str | Path) -> Any:
    """Load any registered model from a directory written by :func:`save_model`."""
    from calbio.models.registry import resolve_model

    path = Path(path)
    config, arrays, names, tp, meta = _read(path)
    try:
        params = {k: _from_json(v) for k, v in config["params"].items()}
        model = resolve_model(config["model"], **params)
    except (TypeError, ValueError) as exc:
        raise CalbioInputError(f"config.json: cannot rebuild the model ({exc})", path) from None
    lookup = {n: i for i, n in enumerate(names)}
    a = tp["a"].map(lookup)
    b = tp["b"].map(lookup)
    if a.isna().any() or b.isna().any():
        raise CalbioInputError("train_pairs.csv names entities that are not in entities.csv", path)
    model.names_ = names
    model.n_entities_ = len(names)
    model.train_pairs_ = np.stack([a.to_numpy(np.int64), b.to_numpy(np.int64)], 1).reshape(-1, 2)
    model.mapping_stats_ = meta.get("mapping", {})
    model.sources_ = meta.get("inputs", {})
    model.metadata_ = meta
    try:
        model._set_state(arrays, config["state"])
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise CalbioInputError(f"model state does not fit its arrays ({exc})", path) from None
    emb = getattr(model, "embedding_", None)
    if emb is not None and len(emb) != len(names):
        raise CalbioInputError(
            f"the stored embedding has {len(emb)} rows, entities.csv {len(names)}", path
        )
    return model
