"""``CAL``: the scikit-learn-style estimator users fit, score with, save and load."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.numpy import load_file, save_file
from sklearn.decomposition import PCA

import calbio
from calbio._io import atomic_dir, write_json_atomic
from calbio.data.types import Embeddings, MappedPairs, Pairs
from calbio.errors import CalbioInputError
from calbio.model.module import ResidualAssociationMLP, count_parameters
from calbio.model.presets import TrainConfig, get_preset
from calbio.scoring import l2_normalize, pair_scores
from calbio.training.trainer import ProgressCallback, train_module

EmbeddingsLike = Embeddings | pd.DataFrame
PairsLike = Pairs | MappedPairs | pd.DataFrame | np.ndarray | Sequence[tuple[str, str]]

MODEL_FORMAT = 1


def as_embeddings(
    embeddings: EmbeddingsLike | np.ndarray, names: Sequence[str] | None = None
) -> Embeddings:
    """Coerce a DataFrame (index = identifiers) or an array (+ names) to ``Embeddings``."""
    from calbio.data.embeddings import embeddings_from_array, embeddings_from_frame

    if isinstance(embeddings, Embeddings):
        return embeddings
    if isinstance(embeddings, pd.DataFrame):
        return embeddings_from_frame(embeddings)
    X = np.asarray(embeddings)
    if names is None:
        names = [str(i) for i in range(X.shape[0])]
    return embeddings_from_array(X, names)


def as_mapped_pairs(
    pairs: PairsLike, embeddings: Embeddings, min_mapped: float = 0.5
) -> MappedPairs:
    """Resolve any supported pair input to row indices of ``embeddings``."""
    from calbio.data.matching import map_pairs
    from calbio.data.pairs import pairs_from_frame, pairs_from_list

    if isinstance(pairs, MappedPairs):
        return pairs
    if isinstance(pairs, np.ndarray) and np.issubdtype(pairs.dtype, np.integer):
        idx = pairs.reshape(-1, 2).astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(embeddings)):
            raise CalbioInputError("pair indices out of range of the embedding table")
        return MappedPairs(idx, len(embeddings), {"n_input": len(idx), "n_mapped": len(idx)})
    if isinstance(pairs, pd.DataFrame):
        pairs = pairs_from_frame(pairs)
    elif not isinstance(pairs, Pairs):
        pairs = pairs_from_list(list(pairs))
    return map_pairs(pairs, embeddings, min_fraction=min_mapped)


class CAL:
    """Contrastive Association Learning: learn f so that f(e_a) lands near e_b for known pairs.

    Parameters follow the ``preset`` (``"paper"`` by default); any keyword overrides a field of
    :class:`~calbio.model.presets.TrainConfig` (``epochs``, ``negatives``, ``pca``, ``score``...).
    ``random_state`` is the seed. Fitted attributes end in ``_``.
    """

    def __init__(
        self,
        preset: str | TrainConfig = "paper",
        *,
        random_state: int | None = None,
        verbose: bool = False,
        **overrides: Any,
    ) -> None:
        self.preset = preset if isinstance(preset, str) else "custom"
        try:
            self.config = get_preset(preset).replace(seed=random_state, **overrides)
        except ValueError as exc:
            raise CalbioInputError(str(exc)) from None
        self.random_state = self.config.seed
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        embeddings: EmbeddingsLike | np.ndarray,
        pairs: PairsLike,
        *,
        progress: ProgressCallback | None = None,
        min_mapped: float = 0.5,
    ) -> CAL:
        """Preprocess the table (optional PCA, L2 norm) and train on the known pairs.

        ``min_mapped`` is the smallest fraction of pairs that must map onto the table.
        """
        t0 = time.perf_counter()
        emb = as_embeddings(embeddings)
        mapped = as_mapped_pairs(pairs, emb, min_mapped)
        if len(mapped) < 2:
            raise CalbioInputError("fewer than 2 pairs to train on", getattr(pairs, "source", None))
        self.fit_preprocessing(emb.X)
        E = self.preprocess(emb.X)
        module, history = train_module(torch.from_numpy(E), mapped.idx, self.config, progress)
        self.names_ = np.asarray(emb.names, dtype=object)
        self.embedding_ = E
        self.module_ = module
        self.history_ = history
        self.train_pairs_ = mapped.idx.copy()
        self.n_features_in_ = emb.dim
        self.mapping_stats_ = dict(mapped.stats)
        self.sources_ = {
            "embeddings": {"path": emb.source, "sha256": emb.sha256},
            "pairs": {
                "path": getattr(pairs, "source", ""),
                "sha256": getattr(pairs, "sha256", None),
            },
        }
        self.fit_seconds_ = time.perf_counter() - t0
        self._Z = None
        return self

    def fit_preprocessing(self, X: np.ndarray) -> CAL:
        """Fit the optional PCA on a raw table (no training); returns self."""
        k = self.config.pca
        if k is None:
            self.pca_mean_, self.pca_components_ = None, None
            return self
        if not 1 <= k <= min(X.shape):
            raise CalbioInputError(f"--pca {k} must be between 1 and {min(X.shape)}")
        pca = PCA(n_components=k, random_state=self.config.seed).fit(X)
        self.pca_mean_ = pca.mean_.astype(np.float32)
        self.pca_components_ = pca.components_.astype(np.float32)
        return self

    def preprocess(self, X: np.ndarray) -> np.ndarray:
        """Raw feature rows -> the model's input space (PCA if fitted, then L2 normalisation)."""
        X = np.asarray(X, dtype=np.float32)
        if getattr(self, "pca_components_", None) is not None:
            X = (X - self.pca_mean_) @ self.pca_components_.T
        return l2_normalize(X)

    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            raise RuntimeError("this CAL instance is not fitted yet; call fit() or CAL.load()")

    # ------------------------------------------------------------------ using
    @property
    def association_(self) -> np.ndarray:
        """f(E) for every fitted entity (n, k), computed once."""
        self._check_fitted()
        if self._Z is None:
            self._Z = self._apply(self.embedding_)
        return self._Z

    @torch.no_grad()
    def _apply(self, E: np.ndarray, block: int = 65536) -> np.ndarray:
        self.module_.eval()
        out = [
            self.module_(torch.from_numpy(E[s : s + block])).numpy()
            for s in range(0, len(E), block)
        ]
        return np.concatenate(out) if out else np.zeros((0, E.shape[1]), np.float32)

    def transform(self, X: np.ndarray | None = None) -> np.ndarray:
        """Association vectors f(e): for the fitted table (no argument) or new raw feature rows."""
        self._check_fitted()
        if X is None:
            return self.association_
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise CalbioInputError(
                f"expected rows with {self.n_features_in_} features, got shape {X.shape}"
            )
        return self._apply(self.preprocess(X))

    def score_pairs(
        self, pairs: PairsLike, kind: str | None = None, blend_lambda: float | None = None
    ) -> np.ndarray:
        """Association scores for pairs of fitted entities (names or row indices)."""
        self._check_fitted()
        mapped = as_mapped_pairs(pairs, self._as_embeddings())
        return pair_scores(
            self.association_,
            self.embedding_,
            mapped.idx,
            kind or self.config.score,
            self.config.blend_lambda if blend_lambda is None else blend_lambda,
        )

    def _as_embeddings(self) -> Embeddings:
        return Embeddings(self.names_, self.embedding_, source="model")

    def index_of(self, name: str) -> int:
        """Row of an entity: exact match first, then case-insensitive."""
        self._check_fitted()
        lookup = {str(n): i for i, n in enumerate(self.names_)}
        if name in lookup:
            return lookup[name]
        folded = [i for n, i in lookup.items() if n.casefold() == name.casefold()]
        if len(folded) == 1:
            return folded[0]
        raise CalbioInputError(f"entity {name!r} is not in the model's entity index")

    def query(self, name: str, top: int = 20) -> pd.DataFrame:
        """Ranked partners of one entity: association score, cosine, and training-pair flag."""
        from calbio.retrieval.exact import exact_neighbors

        i = self.index_of(name)
        nb = exact_neighbors(
            self.association_,
            self.embedding_,
            min(top, len(self.names_) - 1),
            kind=self.config.score,
            blend_lambda=self.config.blend_lambda,
            queries=np.array([i]),
        )
        keep = nb.index[0] >= 0
        order, best = nb.index[0][keep], nb.score[0][keep].astype(np.float64)
        cos = self.embedding_[order] @ self.embedding_[i]
        tr = self.train_pairs_
        partners = np.concatenate([tr[tr[:, 0] == i, 1], tr[tr[:, 1] == i, 0]])
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(order) + 1),
                "partner": self.names_[order],
                "association": best,
                "cosine": cos.astype(np.float64),
                "training_pair": np.isin(order, partners),
            }
        )

    # ------------------------------------------------------------------ persistence
    def save(
        self, path: str | Path, *, force: bool = False, extra_metadata: dict | None = None
    ) -> Path:
        """Write a model directory (safetensors weights, JSON config/metadata, CSV tables)."""
        self._check_fitted()
        with atomic_dir(path, force=force) as tmp:
            tensors = {f"module.{k}": v.numpy() for k, v in self.module_.state_dict().items()}
            tensors["embedding"] = self.embedding_
            if self.pca_components_ is not None:
                tensors["pca.mean"] = self.pca_mean_
                tensors["pca.components"] = self.pca_components_
            save_file(tensors, str(tmp / "model.safetensors"))
            config = {
                "format": MODEL_FORMAT,
                "preset": self.preset,
                "train": self.config.to_dict(),
                "dim": int(self.embedding_.shape[1]),
                "n_features_in": int(self.n_features_in_),
                "n_parameters": count_parameters(self.module_),
            }
            write_json_atomic(tmp / "config.json", config)
            pd.DataFrame({"id": self.names_}).to_csv(tmp / "entities.csv", index=False)
            tp = self.train_pairs_
            pd.DataFrame({"a": self.names_[tp[:, 0]], "b": self.names_[tp[:, 1]]}).to_csv(
                tmp / "train_pairs.csv", index=False
            )
            h = self.history_
            curve = pd.DataFrame(
                {"epoch": np.arange(1, len(h.loss) + 1), "loss": h.loss, "seconds": h.epoch_seconds}
            )
            if h.val_loss:
                curve["val_loss"] = h.val_loss
            curve.to_csv(tmp / "loss_curve.csv", index=False)
            meta = {
                "calbio": calbio.__version__,
                "torch": torch.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
                "seed": self.config.seed,
                "inputs": self.sources_,
                "mapping": self.mapping_stats_,
                "timings": {
                    "fit_seconds": self.fit_seconds_,
                    "train_seconds": float(sum(h.epoch_seconds)),
                },
                "training": {
                    "epochs_run": len(h.loss),
                    "best_epoch": h.best_epoch,
                    "stopped_early": h.stopped_early,
                    "n_train_pairs": h.n_train_pairs,
                    "n_val_pairs": h.n_val_pairs,
                },
                "synthetic": self.sources_["embeddings"]["path"] == "synthetic",
            }
            meta.update(extra_metadata or {})
            write_json_atomic(tmp / "metadata.json", meta)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> CAL:
        """Load a model directory written by :meth:`save` (no pickle anywhere)."""
        path = Path(path)
        cfg_file = path / "config.json"
        if not cfg_file.is_file():
            raise CalbioInputError("not a calbio model directory (config.json missing)", path)
        try:
            config = json.loads(cfg_file.read_text())
            tensors = load_file(str(path / "model.safetensors"))
            names = pd.read_csv(path / "entities.csv", dtype=str, keep_default_na=False)["id"]
            tp = pd.read_csv(path / "train_pairs.csv", dtype=str, keep_default_na=False)
            meta = json.loads((path / "metadata.json").read_text())
        except (OSError, ValueError, KeyError) as exc:
            raise CalbioInputError(f"cannot read model directory: {exc}", path) from None
        train = config["train"]
        self = cls(TrainConfig(**train))
        self.preset = config.get("preset", "custom")
        module = ResidualAssociationMLP(config["dim"], train["hidden"], train["depth"])
        state = {
            k[len("module.") :]: torch.from_numpy(v)
            for k, v in tensors.items()
            if k.startswith("module.")
        }
        module.load_state_dict(state)
        module.eval()
        self.module_ = module
        self.embedding_ = tensors["embedding"]
        self.pca_mean_ = tensors.get("pca.mean")
        self.pca_components_ = tensors.get("pca.components")
        self.names_ = names.to_numpy(dtype=object)
        lookup = {n: i for i, n in enumerate(self.names_)}
        self.train_pairs_ = (
            np.stack(
                [tp["a"].map(lookup).to_numpy(np.int64), tp["b"].map(lookup).to_numpy(np.int64)], 1
            )
            if len(tp)
            else np.zeros((0, 2), np.int64)
        )
        self.n_features_in_ = config["n_features_in"]
        self.mapping_stats_ = meta.get("mapping", {})
        self.sources_ = meta.get("inputs", {})
        self.metadata_ = meta
        curve = pd.read_csv(path / "loss_curve.csv")
        from calbio.training.trainer import TrainHistory

        self.history_ = TrainHistory(
            loss=curve["loss"].tolist(), epoch_seconds=curve["seconds"].tolist()
        )
        self.fit_seconds_ = meta.get("timings", {}).get("fit_seconds", float("nan"))
        self._Z = None
        return self
