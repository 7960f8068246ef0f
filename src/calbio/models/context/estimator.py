"""``ContextCAL``: context-conditioned equivalence g(A, B | c) with a calibrated probability.

g(A, B | c) is one of the core score kinds (:mod:`calbio.scoring`; ``"half"`` by default:
0.5 * (f(x_Ac | c) . x_Bc + f(x_Bc | c) . x_Ac)) computed with context-specific embeddings x_.c
and the FiLM-conditioned network f(. | c) (:mod:`calbio.models.context.module`); ``"both"`` is
f(x_Ac | c) . f(x_Bc | c) and ``"cosine"`` x_Ac . x_Bc. Higher = more likely equivalent
(associated) in context c.

Training goes through the core loop (:func:`calbio.training.trainer.train_module`) with two hooks:
every batch is drawn from ONE context (so in-batch negatives are entities measured in the anchor's
context) and the loss conditions f on that context's vector (the null label for a
``context_dropout`` share of batches, so unseen labels have a fallback). Known pairs of the same
context are masked when ``mask_false_negatives`` is set (pairs are rows of the entity x context
table, so "known in this context" is "known pair of rows").

Calibration: before training, a seeded ``calibration_fraction`` of the distinct entity pairs is set
aside (in every context: no calibration pair is ever trained on). Their rows are the positives;
``calibration_negatives`` uniform within-context non-pairs per positive are the negatives; an
isotonic (default) or Platt (logistic) map from g to P(equivalent) is fitted on them with
scikit-learn. The probability is calibrated for a base rate of ``1 / (1 + calibration_negatives)``
(0.5 by default); ``predict_proba(..., prior=p)`` rescales the odds to another base rate p.

Contexts: the model keeps the whole entity x context table it was fitted with. Labels seen in
training pairs get learned embeddings; a context whose label has no training pair (an unseen cell
line) uses the null label plus its covariates, and :meth:`ContextCAL.adapt_context` fits its own
context vector from k labelled pairs (few-shot).

The :class:`~calbio.models.base.AssociationModel` protocol (``score_pairs`` on names or (m, 2)
rows, ``score_rows``, ``query``) scores pairs in ONE context: the ``context`` parameter, or the
only context of a single-context model; otherwise it raises and says so (use
:meth:`ContextCAL.score` with explicit contexts). An entity not measured in that context scores
NaN. Fitting on a plain embedding table treats it as a single context named ``"all"``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from calbio.core.errors import CalbioInputError
from calbio.core.options import check_options
from calbio.core.seeds import child_seed, stream
from calbio.data.coerce import (
    ContextPairsLike,
    as_context_mapped_pairs,
    as_embeddings,
)
from calbio.data.context import (
    ContextEmbeddings,
    ContextMappedPairs,
    context_indices,
    split_by_pair,
    within_context_negatives,
)
from calbio.data.matching import resolve_identifiers
from calbio.models.base import AssociationModelBase
from calbio.models.cal.config import SCORE_KINDS, TrainConfig, get_preset
from calbio.models.cal.estimator import store_params
from calbio.models.context.config import CONTEXT_RULES, CONTEXT_SPECS
from calbio.models.context.module import ContextFiLMMLP
from calbio.models.persistence import load_module_arrays, module_arrays
from calbio.models.registry import register_model
from calbio.scoring import l2_normalize, pair_scores
from calbio.training.losses import info_nce_in_batch
from calbio.training.negatives import KnownPairs, in_batch_mask
from calbio.training.trainer import ProgressCallback, TrainHistory, train_module

if TYPE_CHECKING:
    from calbio.data.identifiers import IdTablesLike

SINGLE_CONTEXT = "all"  # the context name of a plain (context-free) embedding table

# Constructor parameters named like a TrainConfig field override that field of the preset
# (None = the preset's value). Sampled negatives and early stopping are not among them: the
# context model trains on within-context in-batch negatives for a fixed number of epochs (a
# TrainConfig preset asking for them is refused in fit).
_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainConfig))


def context_batches(
    context: np.ndarray, batch_size: int, rng: np.random.Generator, drop_last: bool = False
) -> list[np.ndarray]:
    """Shuffled batches of row indices, each drawn from a single context."""
    context = np.asarray(context, dtype=np.int64)
    order = rng.permutation(len(context))
    order = order[np.argsort(context[order], kind="stable")]  # grouped by context, shuffled within
    bounds = np.flatnonzero(np.diff(context[order])) + 1
    batches: list[np.ndarray] = []
    for group in np.split(order, bounds):  # loop over contexts, not pairs
        cuts = np.arange(batch_size, len(group), batch_size)
        for b in np.split(group, cuts):
            if len(b) >= 2 and (not drop_last or len(b) == batch_size):
                batches.append(b)
    return [batches[i] for i in rng.permutation(len(batches))]


def fit_context_vector(
    model: ContextFiLMMLP,
    X: torch.Tensor,
    rows_a: np.ndarray,
    rows_b: np.ndarray,
    init: torch.Tensor,
    *,
    tau: float = 0.05,
    steps: int = 200,
    lr: float = 0.01,
    seed: int = 0,
) -> torch.Tensor:
    """Few-shot: learn a new context vector z (network frozen) from k labelled pairs of it.

    Minimises the symmetric within-context InfoNCE over the k pairs (one batch), starting from
    ``init``; only z is optimised, the network's weights are not changed.
    """
    torch.manual_seed(seed)
    if len(rows_a) < 2:
        raise ValueError("few-shot fitting needs at least 2 pairs")
    z = init.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    xa, xb = X[torch.as_tensor(rows_a)], X[torch.as_tensor(rows_b)]
    was_training = model.training
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        for _ in range(steps):
            loss = info_nce_in_batch(model.forward_z(xa, z), xb, tau)
            loss = 0.5 * (loss + info_nce_in_batch(model.forward_z(xb, z), xa, tau))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
        model.train(was_training)
    return z.detach()


@register_model("context")
class ContextCAL(AssociationModelBase):
    """Context-conditioned CAL: learn g(A, B | c) and a calibrated P(A equivalent to B in c).

    ``preset`` (a name or a :class:`TrainConfig`) gives the training recipe; every other training
    parameter that is not None overrides that field. ``context_dim`` is the width of the context
    vector, ``context_dropout`` the share of batches trained with the null label, ``calibration``
    one of isotonic | platt | none, ``score_kind`` the core score kind of g (TrainConfig's
    ``score``; named apart from the :meth:`score` method). ``context`` names the context in
    which the protocol methods (``score_pairs``, ``score_rows``, ``query``) score.
    ``__init__`` only stores parameters; they are validated in :meth:`fit`.
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
        mask_false_negatives: bool | None = None,
        both_orientations: bool | None = None,
        drop_last: bool | None = None,
        score_kind: str | None = None,
        blend_lambda: float | None = None,
        pca: int | None = None,
        threads: int | None = None,
        random_state: int | None = None,
        context_dim: int = 16,
        context_dropout: float = 0.1,
        calibration: str = "isotonic",
        calibration_fraction: float = 0.2,
        calibration_negatives: int = 1,
        context: str | None = None,
    ) -> None:
        store_params(self, locals())

    @property
    def config(self) -> TrainConfig:
        """The resolved training recipe: the preset with this estimator's overrides."""
        try:
            params = self.get_params(deep=False)
            overrides = {k: v for k, v in params.items() if k in _CONFIG_FIELDS}
            return get_preset(self.preset).replace(
                seed=self.random_state, score=self.score_kind, **overrides
            )
        except (ValueError, TypeError) as exc:
            raise CalbioInputError(str(exc)) from None

    @property
    def preset_name(self) -> str:
        """The preset's name (``"custom"`` for a TrainConfig)."""
        return self.preset if isinstance(self.preset, str) else "custom"

    def check_params(self) -> None:
        """Validate every parameter, reading no data (raises :class:`CalbioInputError`)."""
        self._validate()

    def _validate(self) -> TrainConfig:
        cfg = self.config
        unsupported = {
            "negatives": cfg.negatives != "in-batch",
            "validation_fraction/patience": bool(cfg.validation_fraction)
            or cfg.patience is not None,
        }
        asked = [k for k, v in unsupported.items() if v]
        if asked:  # refuse rather than silently ignore options the context model lacks
            raise CalbioInputError(
                f"the context model supports only within-context in-batch negatives and a fixed "
                f"number of epochs; unsupported option(s): {', '.join(asked)}"
            )
        own = {name: getattr(self, name) for name in CONTEXT_SPECS}
        check_options(CONTEXT_SPECS, own, CONTEXT_RULES, skip_unset=False)
        return cfg

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def _as_table(embeddings: Any) -> ContextEmbeddings:
        if isinstance(embeddings, ContextEmbeddings):
            return embeddings
        emb = as_embeddings(embeddings)
        n = len(emb)
        return ContextEmbeddings(
            emb.names,
            np.array([SINGLE_CONTEXT], dtype=object),
            emb.X,
            np.arange(n),
            np.zeros(n, np.int64),
            source=emb.source,
        )

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        embeddings: Any,
        pairs: ContextPairsLike,
        *,
        min_mapped: float = 0.5,
        progress: ProgressCallback | None = None,
        id_tables: IdTablesLike = None,
    ) -> ContextCAL:
        """Train on the pairs (minus the calibration split), then fit the calibration map.

        ``embeddings``: a :class:`ContextEmbeddings` (or a plain table = one context);
        ``pairs``: ContextPairs, ContextMappedPairs, a DataFrame (optional ``context`` column)
        or any plain pair input (context-free). ``id_tables``: an ``IdResolver`` (or folder).
        """
        t0 = time.perf_counter()
        cfg = self._validate()
        cemb = self._as_table(embeddings)
        mapped = as_context_mapped_pairs(pairs, cemb, min_mapped, id_tables)
        if self.calibration != "none":
            train, cal = split_by_pair(
                mapped, self.calibration_fraction, child_seed(cfg.seed, "context/calibration")
            )
            if len(cal) < 2 or len(train) < 2:
                raise CalbioInputError("too few pairs to set a calibration split aside")
        else:
            train, cal = mapped, mapped.select(np.zeros(len(mapped), bool))
        if len(train) < 2:
            raise CalbioInputError("fewer than 2 pairs to train on")
        self._set_table(cemb, cfg)
        if self.context is not None:
            context_indices(self.contexts_, [self.context])  # validate the scoring context
        self._fit_contexts(train)
        self.module_, self.history_ = self._train(train, cfg, progress)
        self.names_ = self.entities_
        self.n_entities_ = len(self.entities_)
        self.train_rows_ = train
        self.train_pairs_ = train.idx.copy()
        self.calibration_rows_ = cal
        self.mapping_stats_ = dict(mapped.stats)
        self.z_override_: dict[int, np.ndarray] = {}
        self._Z = None
        self.calibration_stats_: dict[str, Any] = {}
        if self.calibration != "none":
            self._fit_calibration(cal, mapped)
        self.sources_ = {
            "embeddings": {"path": cemb.source},
            "pairs": {"path": getattr(pairs, "source", "")},
        }
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _set_table(self, cemb: ContextEmbeddings, cfg: TrainConfig) -> None:
        k = cfg.pca
        X = np.asarray(cemb.X, dtype=np.float32)
        self.pca_mean_ = self.pca_components_ = None
        if k is not None:
            from sklearn.decomposition import PCA

            if not 1 <= k <= min(X.shape):
                raise CalbioInputError(f"pca {k} must be between 1 and {min(X.shape)}")
            pca = PCA(n_components=k, random_state=child_seed(cfg.seed, "pca")).fit(X)
            self.pca_mean_ = pca.mean_.astype(np.float32)
            self.pca_components_ = pca.components_.astype(np.float32)
            X = (X - self.pca_mean_) @ self.pca_components_.T
        self.X_ = l2_normalize(X).astype(np.float32)
        self.n_features_in_ = cemb.dim
        self.entities_ = cemb.entities.copy()
        self.contexts_ = cemb.contexts.copy()
        self.labels_ = cemb.labels.copy()
        self.covariates_ = cemb.covariates.copy()
        self.entity_ = cemb.entity.copy()
        self.context_ = cemb.context.copy()
        self.row_of_ = cemb.row_of.copy()

    def _fit_contexts(self, train: ContextMappedPairs) -> None:
        seen = np.unique(train.context)
        names = list(dict.fromkeys(str(self.labels_[c]) for c in seen))
        self.label_names_ = np.array(names, dtype=object)
        lookup = {n: i + 1 for i, n in enumerate(names)}
        self.context_label_ = np.array([lookup.get(str(lab), 0) for lab in self.labels_], np.int64)
        cov = self.covariates_.to_numpy(np.float64)
        if cov.shape[1]:
            mu, sd = cov[seen].mean(axis=0), cov[seen].std(axis=0)
            sd = np.where(sd > 0, sd, 1.0)
        else:
            mu, sd = np.zeros(0), np.ones(0)
        self.cov_mean_, self.cov_std_ = mu.astype(np.float32), sd.astype(np.float32)

    def _std_cov(self) -> np.ndarray:
        cov = self.covariates_.to_numpy(np.float64)
        return ((cov - self.cov_mean_) / self.cov_std_).astype(np.float32)

    def _new_module(self, cfg: TrainConfig) -> ContextFiLMMLP:
        return ContextFiLMMLP(
            self.X_.shape[1],
            len(self.label_names_),
            len(self.cov_mean_),
            cfg.hidden,
            cfg.depth,
            int(self.context_dim),
        )

    def _train(
        self, train: ContextMappedPairs, cfg: TrainConfig, progress: ProgressCallback | None
    ) -> tuple[ContextFiLMMLP, TrainHistory]:
        """The core training loop with within-context batches and a context-conditioned loss."""
        rows = np.stack(
            [
                self.row_of_[train.context, train.idx[:, 0]],
                self.row_of_[train.context, train.idx[:, 1]],
            ],
            axis=1,
        )
        if (rows < 0).any():
            raise CalbioInputError(
                "a training pair refers to an entity not measured in its context"
            )
        X = torch.from_numpy(self.X_)
        torch.manual_seed(child_seed(cfg.seed, "init"))
        module = self._new_module(cfg)
        rng = stream(cfg.seed, "context/batches")
        row_context = self.context_
        labels = torch.from_numpy(self.context_label_)
        cov = torch.from_numpy(self._std_cov()) if len(self.cov_mean_) else None
        null = torch.zeros(1, dtype=torch.long)
        known = KnownPairs(rows, len(X)) if cfg.mask_false_negatives else None
        dropout = float(self.context_dropout)

        def batches(pairs: torch.Tensor) -> list[torch.Tensor]:
            ctx = row_context[pairs[:, 0].numpy()]
            return [
                torch.from_numpy(b)
                for b in context_batches(ctx, cfg.batch_size, rng, cfg.drop_last)
            ]

        def batch_loss(model: ContextFiLMMLP, batch: torch.Tensor) -> torch.Tensor:
            c = int(row_context[int(batch[0, 0])])
            lab = labels[c : c + 1] if rng.random() >= dropout else null
            z = model.context_vector(lab, None if cov is None else cov[c : c + 1])[0]
            a, b = batch[:, 0], batch[:, 1]
            mask = None if known is None else in_batch_mask(a, b, known)
            return info_nce_in_batch(model.forward_z(X[a], z), X[b], cfg.tau, mask)

        module, hist = train_module(
            X, rows, cfg, progress, module=module, batches=batches, batch_loss=batch_loss
        )
        return module, hist

    def __sklearn_is_fitted__(self) -> bool:
        """True once ``fit`` or ``load`` has run."""
        return hasattr(self, "module_")

    # ------------------------------------------------------------------ context vectors
    @torch.no_grad()
    def context_vectors(self) -> np.ndarray:
        """z_c for every context of the table (k, context_dim), few-shot overrides applied."""
        self._check_fitted()
        lab = torch.from_numpy(self.context_label_)
        cov = torch.from_numpy(self._std_cov()) if len(self.cov_mean_) else None
        z = self.module_.context_vector(lab, cov).numpy().copy()
        for c, v in self.z_override_.items():
            z[c] = v
        return z

    @torch.no_grad()
    def _association(self) -> np.ndarray:
        """f(x_ec | c) for every row of the table, computed once per context."""
        if self._Z is None:
            Z = np.zeros_like(self.X_)
            zs = torch.from_numpy(self.context_vectors())
            Xt = torch.from_numpy(self.X_)
            for c in range(len(self.contexts_)):  # loop over contexts
                rows = np.flatnonzero(self.context_ == c)
                if len(rows):
                    Z[rows] = self.module_.forward_z(Xt[rows], zs[c]).numpy()
            self._Z = Z
        return self._Z

    def adapt_context(
        self,
        context: str,
        pairs: ContextPairsLike,
        *,
        steps: int = 100,
        lr: float = 0.02,
        min_mapped: float = 0.5,
        id_tables: IdTablesLike = None,
    ) -> ContextCAL:
        """Few-shot: fit the context vector of ``context`` on its labelled pairs (net frozen)."""
        self._check_fitted()
        c = self._context_of(context)
        mapped = as_context_mapped_pairs(pairs, self._table(), min_mapped, id_tables)
        mapped = mapped.select(mapped.context == c)
        if len(mapped) < 2:
            raise CalbioInputError(f"few-shot adaptation of {context!r} needs >= 2 of its pairs")
        init = torch.from_numpy(self.context_vectors()[c])
        cfg = self.config
        z = fit_context_vector(
            self.module_,
            torch.from_numpy(self.X_),
            self.row_of_[c, mapped.idx[:, 0]],
            self.row_of_[c, mapped.idx[:, 1]],
            init,
            tau=cfg.tau,
            steps=steps,
            lr=lr,
            seed=child_seed(cfg.seed, "context/few_shot"),
        )
        self.z_override_[c] = z.numpy()
        self._Z = None
        return self

    def without_adaptation(self) -> ContextCAL:
        """A shallow copy sharing the fitted network, with no few-shot context vectors."""
        self._check_fitted()
        other = type(self)(**self.get_params(deep=False))
        other.__dict__.update(self.__dict__)
        other.z_override_, other._Z = {}, None
        return other

    # ------------------------------------------------------------------ scoring
    def _table(self) -> ContextEmbeddings:
        return ContextEmbeddings(
            self.entities_,
            self.contexts_,
            self.X_,
            self.entity_,
            self.context_,
            self.labels_,
            self.covariates_,
            source="model",
        )

    def _context_of(self, name: str) -> int:
        return int(context_indices(self.contexts_, [name])[0])

    def _entity_of(self, names: Any, id_tables: IdTablesLike = None) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(names, dtype=object))
        rows, _ = resolve_identifiers(ids, self.entity_table(), id_tables)
        if (rows < 0).any():
            raise CalbioInputError(
                f"entity {ids[rows < 0][0]!r} is not in the model's entity index"
            )
        return rows

    def _score_kind(self, kind: str | None) -> str:
        kind = kind or self.config.score
        if kind not in SCORE_KINDS:
            raise CalbioInputError(f"score must be one of {SCORE_KINDS}, got {kind!r}")
        return kind

    def score_idx(
        self, idx: np.ndarray, context: np.ndarray, kind: str | None = None
    ) -> np.ndarray:
        """g for entity-index pairs (m, 2) in contexts (m,); NaN where an entity is unmeasured.

        ``kind`` is a core score kind (default: the configured ``score``).
        """
        self._check_fitted()
        kind = self._score_kind(kind)
        idx = np.asarray(idx, dtype=np.int64).reshape(-1, 2)
        context = np.broadcast_to(np.asarray(context, dtype=np.int64), (len(idx),))
        ra, rb = self.row_of_[context, idx[:, 0]], self.row_of_[context, idx[:, 1]]
        ok = (ra >= 0) & (rb >= 0)
        out = np.full(len(idx), np.nan)
        Z = self.X_ if kind == "cosine" else self._association()
        rows = np.stack([ra[ok], rb[ok]], axis=1)
        out[ok] = pair_scores(Z, self.X_, rows, kind, self.config.blend_lambda)
        return out

    def score(
        self, a: Any, b: Any, context: Any, kind: str | None = None, id_tables: IdTablesLike = None
    ) -> np.ndarray:
        """g(A, B | c) for entity names (scalars or arrays) and context name(s)."""
        self._check_fitted()
        ia, ib = self._entity_of(a, id_tables), self._entity_of(b, id_tables)
        ctx = context_indices(self.contexts_, context)
        ia, ib, ctx = np.broadcast_arrays(ia, ib, ctx)
        return self.score_idx(np.stack([ia, ib], axis=1), ctx, kind)

    def scoring_context(self) -> int:
        """Index of the context the protocol methods score in (``context`` or the only one)."""
        self._check_fitted()
        if self.context is not None:
            return self._context_of(self.context)
        if len(self.contexts_) == 1:
            return 0
        raise CalbioInputError(
            f"this context model has {len(self.contexts_)} contexts: set context=NAME "
            "(constructor or set_params) to score pairs without naming a context, or call "
            "score(a, b, context)"
        )

    def _score_idx(self, idx: np.ndarray) -> np.ndarray:
        return self.score_idx(idx, self.scoring_context())

    # ------------------------------------------------------------------ calibration
    def _calibrate(self, s: np.ndarray) -> np.ndarray:
        if self.calibration == "none" or not hasattr(self, "cal_x_"):
            raise CalbioInputError("this model has no calibration (calibration='none')")
        s = np.asarray(s, dtype=np.float64)
        if self.calibration == "isotonic":
            p = np.interp(s, self.cal_x_, self.cal_y_)  # IsotonicRegression, out_of_bounds=clip
        else:
            p = 1.0 / (1.0 + np.exp(-(self.cal_x_[0] * s + self.cal_y_[0])))
        return np.where(np.isnan(s), np.nan, p)

    def proba_from_scores(self, s: np.ndarray, prior: float | None = None) -> np.ndarray:
        """Calibrated P(equivalent) from g scores; ``prior`` re-targets the base rate."""
        self._check_fitted()
        p = self._calibrate(s)
        if prior is None:
            return p
        if not 0.0 < prior < 1.0:
            raise CalbioInputError("prior must be in (0, 1)")
        base = self.calibration_stats_["base_rate"]
        p = np.clip(p, 1e-9, 1 - 1e-9)
        odds = p / (1 - p) * (prior / (1 - prior)) / (base / (1 - base))
        return odds / (1 + odds)

    def predict_proba(self, a: Any, b: Any, context: Any, prior: float | None = None) -> np.ndarray:
        """Calibrated probability that A and B are equivalent in context c."""
        return self.proba_from_scores(self.score(a, b, context), prior)

    def _fit_calibration(self, cal: ContextMappedPairs, known: ContextMappedPairs) -> None:
        from sklearn.isotonic import IsotonicRegression
        from sklearn.linear_model import LogisticRegression

        rng = stream(self.config.seed, "context/calibration_negatives")
        k = int(self.calibration_negatives)
        neg = within_context_negatives(cal, k, self._table(), known, rng)
        s = np.r_[self.score_idx(cal.idx, cal.context), self.score_idx(neg.idx, neg.context)]
        y = np.r_[np.ones(len(cal)), np.zeros(len(neg))]
        if self.calibration == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(s, y)
            self.cal_x_ = np.asarray(iso.X_thresholds_, np.float64)
            self.cal_y_ = np.asarray(iso.y_thresholds_, np.float64)
        else:
            lr = LogisticRegression(C=1e6).fit(s[:, None], y)
            self.cal_x_ = np.array([lr.coef_[0, 0]], np.float64)
            self.cal_y_ = np.array([lr.intercept_[0]], np.float64)
        self.calibration_stats_ = {
            "method": self.calibration,
            "n_positive": int(len(cal)),
            "n_negative": int(len(neg)),
            "base_rate": float(len(cal) / max(len(cal) + len(neg), 1)),
        }

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = module_arrays(self.module_)
        arrays.update(
            {
                "X": self.X_,
                "entity": self.entity_,
                "context": self.context_,
                "context_label": self.context_label_,
                "train.idx": self.train_rows_.idx,
                "train.context": self.train_rows_.context,
                "calibration_pairs.idx": self.calibration_rows_.idx,
                "calibration_pairs.context": self.calibration_rows_.context,
            }
        )
        if len(self.cov_mean_):
            arrays["covariates"] = self.covariates_.to_numpy(np.float64)
            arrays["cov_mean"], arrays["cov_std"] = self.cov_mean_, self.cov_std_
        if self.pca_components_ is not None:
            arrays["pca.mean"], arrays["pca.components"] = self.pca_mean_, self.pca_components_
        if hasattr(self, "cal_x_"):  # isotonic thresholds, or Platt coef / intercept
            arrays["calibration.x"], arrays["calibration.y"] = self.cal_x_, self.cal_y_
        if self.z_override_:
            keys = sorted(self.z_override_)
            arrays["z_override.context"] = np.array(keys, np.int64)
            arrays["z_override.z"] = np.stack([self.z_override_[k] for k in keys])
        state = {
            "n_features_in": int(self.n_features_in_),
            "contexts": [str(c) for c in self.contexts_],
            "labels": [str(x) for x in self.labels_],
            "label_names": [str(x) for x in self.label_names_],
            "covariate_names": [str(c) for c in self.covariates_.columns],
            "calibration_stats": self.calibration_stats_,
            "history": self.history_.to_dict(),
            "fit_seconds": float(self.fit_seconds_),
        }
        return arrays, state

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self.entities_ = np.asarray(self.names_, dtype=object)
        self.contexts_ = np.array(state["contexts"], dtype=object)
        self.labels_ = np.array(state["labels"], dtype=object)
        self.label_names_ = np.array(state["label_names"], dtype=object)
        k, n, q = len(self.contexts_), len(self.entities_), len(state["covariate_names"])
        self.covariates_ = pd.DataFrame(
            arrays["covariates"] if q else np.zeros((k, 0)),
            index=pd.Index(self.contexts_, name="context"),
            columns=state["covariate_names"],
        )
        empty = np.zeros(0, np.float32)
        self.cov_mean_ = arrays["cov_mean"] if q else empty
        self.cov_std_ = arrays["cov_std"] if q else np.ones(0, np.float32)
        self.X_ = arrays["X"]
        self.entity_, self.context_ = arrays["entity"], arrays["context"]
        self.context_label_ = arrays["context_label"]
        self.row_of_ = np.full((k, n), -1, np.int64)
        self.row_of_[self.context_, self.entity_] = np.arange(len(self.X_))
        self.pca_mean_, self.pca_components_ = arrays.get("pca.mean"), arrays.get("pca.components")
        if "calibration.x" in arrays:
            self.cal_x_, self.cal_y_ = arrays["calibration.x"], arrays["calibration.y"]
        self.train_rows_ = ContextMappedPairs(arrays["train.idx"], arrays["train.context"], n, k)
        self.calibration_rows_ = ContextMappedPairs(
            arrays["calibration_pairs.idx"], arrays["calibration_pairs.context"], n, k
        )
        self.z_override_ = {}
        if "z_override.context" in arrays:
            for c, z in zip(arrays["z_override.context"], arrays["z_override.z"], strict=True):
                self.z_override_[int(c)] = z
        self.n_features_in_ = int(state["n_features_in"])
        self.module_ = load_module_arrays(self._new_module(self.config), arrays)
        self.history_ = TrainHistory(**state["history"])
        self.calibration_stats_ = dict(state["calibration_stats"])
        self.fit_seconds_ = float(state.get("fit_seconds", float("nan")))
        self._Z = None
