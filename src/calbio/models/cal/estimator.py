"""``CAL``: contrastive association learning, the scikit-learn-style estimator users fit."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from sklearn.decomposition import PCA

from calbio.core.errors import CalbioInputError
from calbio.core.seeds import child_seed
from calbio.data.coerce import EmbeddingsLike
from calbio.data.types import Embeddings, MappedPairs
from calbio.models.base import AssociationModelBase, Progress
from calbio.models.cal.config import CAL_SPECS, TrainConfig, get_preset
from calbio.models.cal.module import ResidualAssociationMLP, cal_module
from calbio.models.persistence import load_module_arrays, module_arrays
from calbio.models.registry import register_model
from calbio.scoring import l2_normalize, pair_scores, score_vectors
from calbio.training.distributed import fit_module
from calbio.training.trainer import TrainHistory

# TrainConfig fields exposed as constructor parameters (None = the preset's value): every
# option of CAL_SPECS but the seed, which is ``random_state`` (tests/models/test_cal_config.py
# checks that the constructor's parameters are exactly these).
TRAIN_OPTIONS: tuple[str, ...] = tuple(name for name in CAL_SPECS if name != "seed")


def store_params(estimator: Any, params: dict[str, Any]) -> None:
    """Store each constructor argument under its own name: all a scikit-learn ``__init__`` does.

    ``params`` is the constructor's ``locals()`` taken first thing, i.e. exactly its arguments.
    """
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


@register_model("cal")
class CAL(AssociationModelBase):
    """Contrastive Association Learning: learn f so that f(e_a) lands near e_b for known pairs.

    ``preset`` (``"paper"`` by default, or a :class:`TrainConfig`) gives every training option;
    any other parameter that is not None overrides that field of the preset. ``random_state`` is
    the seed. ``__init__`` only stores parameters; they are validated in :meth:`fit`. Fitted
    attributes end in ``_``.
    """

    def __init__(
        self,
        preset: str | TrainConfig = "paper",
        *,
        hidden: int | None = None,
        depth: int | None = None,
        tau: float | None = None,
        batch_size: int | None = None,
        epochs: int | None = None,
        lr: float | None = None,
        weight_decay: float | None = None,
        schedule: str | None = None,
        negatives: str | None = None,
        n_negatives: int | None = None,
        degree_power: float | None = None,
        mask_false_negatives: bool | None = None,
        both_orientations: bool | None = None,
        drop_last: bool | None = None,
        validation_fraction: float | None = None,
        patience: int | None = None,
        score: str | None = None,
        blend_lambda: float | None = None,
        pca: int | None = None,
        threads: int | None = None,
        device: str | None = None,
        precision: str | None = None,
        devices: int | None = None,
        strategy: str | None = None,
        random_state: int | None = None,
        verbose: bool = False,
    ) -> None:
        store_params(self, locals())

    @property
    def config(self) -> TrainConfig:
        """The resolved training recipe: the preset with this estimator's overrides.

        Resolved and validated once per :meth:`fit` (and on load) and kept as ``config_``;
        before that, resolved from the parameters on each access.
        """
        cached = getattr(self, "config_", None)
        return cached if cached is not None else self.resolve_config()

    def resolve_config(self) -> TrainConfig:
        """Resolve and validate the parameters into a :class:`TrainConfig` (no caching)."""
        try:
            base = get_preset(self.preset)
            return base.replace(
                seed=self.random_state, **{k: getattr(self, k) for k in TRAIN_OPTIONS}
            )
        except (ValueError, TypeError) as exc:
            raise CalbioInputError(str(exc)) from None

    def check_params(self) -> None:
        """Validate every parameter, reading no data (raises :class:`CalbioInputError`)."""
        self.resolve_config()

    def _prepare_fit(self) -> None:
        """Resolve and validate the recipe once per fit, before any input is read."""
        self.config_ = self.resolve_config()

    @property
    def preset_name(self) -> str:
        """The preset's name (``"custom"`` for a TrainConfig)."""
        return self.preset if isinstance(self.preset, str) else "custom"

    # ------------------------------------------------------------------ fitting
    def _fit(self, emb: Embeddings, mapped: MappedPairs, progress: Progress = None) -> None:
        t0 = time.perf_counter()
        cfg = self.config  # resolved and validated at the top of fit
        self.fit_preprocessing(emb.X)
        E = self.preprocess(emb.X)
        module, history = fit_module(
            torch.from_numpy(E),
            mapped.idx,
            cfg,
            progress,
            module=cal_module(cfg),
        )
        self.embedding_ = E
        self.module_ = module
        self.history_ = history
        self.n_features_in_ = emb.dim
        self.fit_seconds_ = time.perf_counter() - t0
        self._Z = None

    def fit_preprocessing(self, X: np.ndarray) -> CAL:
        """Fit the optional PCA on a raw table (no training); returns self."""
        cfg = self.config
        k = cfg.pca
        if k is None:
            self.pca_mean_, self.pca_components_ = None, None
            return self
        if not 1 <= k <= min(X.shape):
            raise CalbioInputError(f"--pca {k} must be between 1 and {min(X.shape)}")
        pca = PCA(n_components=k, random_state=child_seed(cfg.seed, "pca")).fit(X)
        self.pca_mean_ = np.ascontiguousarray(pca.mean_, dtype=np.float32)
        self.pca_components_ = np.ascontiguousarray(pca.components_, dtype=np.float32)
        return self

    def preprocess(self, X: np.ndarray) -> np.ndarray:
        """Raw feature rows -> the model's input space (PCA if fitted, then L2 normalisation)."""
        X = np.asarray(X, dtype=np.float32)
        if getattr(self, "pca_components_", None) is not None:
            X = (X - self.pca_mean_) @ self.pca_components_.T
        return l2_normalize(X)

    def __sklearn_is_fitted__(self) -> bool:
        """True once ``fit`` or ``load`` has run."""
        return hasattr(self, "module_")

    # ------------------------------------------------------------------ using
    @property
    def association_(self) -> np.ndarray:
        """f(E) for every fitted entity (n, k), computed once."""
        self._check_fitted()
        if getattr(self, "_Z", None) is None:
            self._Z = self._apply(self.embedding_)
        return self._Z

    @torch.no_grad()
    def _apply(self, E: np.ndarray, block: int = 65536) -> np.ndarray:
        self.module_.eval()
        out = [
            self.module_(torch.from_numpy(np.ascontiguousarray(E[s : s + block]))).numpy()
            for s in range(0, len(E), block)
        ]
        return np.concatenate(out) if out else np.zeros((0, E.shape[1]), np.float32)

    def transform(self, X: np.ndarray | EmbeddingsLike | None = None) -> np.ndarray:
        """Association vectors f(e): for the fitted table (no argument) or new raw feature rows."""
        self._check_fitted()
        if X is None:
            return self.association_
        if isinstance(X, Embeddings):
            X = X.X
        elif hasattr(X, "to_numpy"):
            X = X.to_numpy()
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise CalbioInputError(
                f"expected rows with {self.n_features_in_} features, got shape {X.shape}"
            )
        return self._apply(self.preprocess(X))

    def score_vectors(self, kind: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Factors of the configured score: score(a, b) = left[a] . right[b]."""
        cfg = self.config
        return score_vectors(
            self.association_, self.embedding_, kind or cfg.score, cfg.blend_lambda
        )

    def _score_idx(self, idx: np.ndarray) -> np.ndarray:
        cfg = self.config
        return pair_scores(self.association_, self.embedding_, idx, cfg.score, cfg.blend_lambda)

    def score_pairs(
        self, pairs: Any, kind: str | None = None, blend_lambda: float | None = None
    ) -> np.ndarray:
        """Association scores for pairs of fitted entities (names or row indices).

        ``kind`` and ``blend_lambda`` override the configured score for this call.
        """
        from calbio.core.options import check_score_kind

        check_score_kind(kind)
        idx = self.pair_index(pairs)
        cfg = self.config
        return pair_scores(
            self.association_,
            self.embedding_,
            idx,
            kind or cfg.score,
            cfg.blend_lambda if blend_lambda is None else blend_lambda,
        )

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = module_arrays(self.module_)
        arrays["embedding"] = self.embedding_
        if self.pca_components_ is not None:
            arrays["pca.mean"] = self.pca_mean_
            arrays["pca.components"] = self.pca_components_
        state = {
            "dim": int(self.embedding_.shape[1]),
            "n_features_in": int(self.n_features_in_),
            "history": self.history_.to_dict(),
            "fit_seconds": float(self.fit_seconds_),
        }
        return arrays, state

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self.config_ = cfg = self.resolve_config()
        module = ResidualAssociationMLP(int(state["dim"]), cfg.hidden, cfg.depth)
        self.module_ = load_module_arrays(module, arrays)
        self.embedding_ = arrays["embedding"]
        self.pca_mean_ = arrays.get("pca.mean")
        self.pca_components_ = arrays.get("pca.components")
        self.n_features_in_ = int(state["n_features_in"])
        self.history_ = TrainHistory(**state["history"])
        self.fit_seconds_ = float(state.get("fit_seconds", float("nan")))
        self._Z = None
