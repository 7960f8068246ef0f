"""``ContextCAL``: context-conditioned equivalence g(A, B | c) with a calibrated probability.

g(A, B | c) = 0.5 * (f(x_Ac | c) . x_Bc + f(x_Bc | c) . x_Ac), the core "half" score with
context-specific embeddings x_.c and the FiLM-conditioned network f(. | c)
(:mod:`calbio.context.model`). Higher = more likely equivalent (associated) in context c.

Calibration: before training, a seeded ``calibration_fraction`` of the distinct entity pairs is set
aside (in every context: no calibration pair is ever trained on). Their rows are the positives;
``calibration_negatives`` uniform within-context non-pairs per positive are the negatives; an
isotonic (default) or Platt (logistic) map from g to P(equivalent) is fitted on them with
scikit-learn. The probability is therefore calibrated for a base rate of
``1 / (1 + calibration_negatives)`` (0.5 by default); ``predict_proba(..., prior=p)`` rescales the
odds to another base rate p.

Contexts: the model keeps the whole entity x context table it was fitted with. Labels seen in
training pairs get learned embeddings; a context whose label has no training pair (an unseen
cell line) uses the null label plus its covariates, and :meth:`ContextCAL.adapt_context` fits its
own context vector from k labelled pairs (few-shot). Save/load: safetensors + JSON, no pickle.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.numpy import load_file, save_file

import calbio
from calbio._io import atomic_dir, write_json_atomic
from calbio.context.data import (
    ContextEmbeddings,
    ContextMappedPairs,
    ContextPairs,
    context_pairs_from_frame,
    map_context_pairs,
)
from calbio.context.model import ContextFiLMMLP
from calbio.context.training import fit_context_vector, train_context_module
from calbio.errors import CalbioInputError
from calbio.evaluation.splits import pair_keys, sample_uniform_negatives
from calbio.models.presets import TrainConfig, get_preset
from calbio.scoring import l2_normalize
from calbio.training.trainer import ProgressCallback, TrainHistory

MODEL_FORMAT = 1
CALIBRATIONS = ("isotonic", "platt", "none")

ContextPairsLike = ContextPairs | ContextMappedPairs | pd.DataFrame


def split_by_pair(
    pairs: ContextMappedPairs, fraction: float, seed: int
) -> tuple[ContextMappedPairs, ContextMappedPairs]:
    """Seeded split of distinct entity pairs: a pair is on the same side in every context."""
    keys = pairs.keys()
    uniq = np.unique(keys)
    rng = np.random.default_rng(seed)
    n_out = int(round(fraction * len(uniq)))
    out_keys = rng.choice(uniq, size=n_out, replace=False) if n_out else uniq[:0]
    held = np.isin(keys, out_keys)
    return pairs.select(~held), pairs.select(held)


def within_context_negatives(
    positives: ContextMappedPairs,
    per_positive: int,
    cemb: ContextEmbeddings,
    known: ContextMappedPairs,
    rng: np.random.Generator,
) -> ContextMappedPairs:
    """Uniform non-pairs inside each positive's context (never a known pair of that context)."""
    n = cemb.n_entities
    out_idx, out_ctx = [], []
    for c in np.unique(positives.context):  # loop over contexts only
        m = int((positives.context == c).sum()) * per_positive
        universe = np.flatnonzero(cemb.row_of[c] >= 0)
        kk = np.unique(pair_keys(known.idx[known.context == c], n))
        neg = sample_uniform_negatives(m, universe, kk, n, rng)
        out_idx.append(neg)
        out_ctx.append(np.full(len(neg), c, dtype=np.int64))
    idx = np.concatenate(out_idx) if out_idx else np.zeros((0, 2), np.int64)
    ctx = np.concatenate(out_ctx) if out_ctx else np.zeros(0, np.int64)
    return ContextMappedPairs(idx, ctx, n, cemb.n_contexts)


class ContextCAL:
    """Context-conditioned CAL: learn g(A, B | c) and a calibrated P(A equivalent to B in c).

    ``preset`` and keyword overrides are those of :class:`~calbio.models.presets.TrainConfig`
    (``epochs``, ``hidden``, ``batch_size``, ``pca``...); ``context_dim`` is the width of the
    context vector, ``context_dropout`` the share of batches trained with the null label.
    ``validation_fraction`` / ``patience`` and ``negatives`` other than in-batch are refused
    (CalbioInputError), not silently ignored; false-negative masking and both orientations work.
    """

    def __init__(
        self,
        preset: str | TrainConfig = "paper",
        *,
        random_state: int | None = None,
        context_dim: int = 16,
        context_dropout: float = 0.1,
        calibration: str = "isotonic",
        calibration_fraction: float = 0.2,
        calibration_negatives: int = 1,
        **overrides: Any,
    ) -> None:
        self.preset = preset if isinstance(preset, str) else "custom"
        try:
            self.config = get_preset(preset).replace(seed=random_state, **overrides)
        except ValueError as exc:
            raise CalbioInputError(str(exc)) from None
        unsupported = {
            "negatives": self.config.negatives != "in-batch",
            "validation_fraction/patience": bool(self.config.validation_fraction)
            or self.config.patience is not None,
        }
        asked = [k for k, v in unsupported.items() if v]
        if asked:  # refuse rather than silently ignore options the context model lacks
            raise CalbioInputError(
                f"the context model supports only within-context in-batch negatives and a fixed "
                f"number of epochs; unsupported option(s): {', '.join(asked)}"
            )
        if calibration not in CALIBRATIONS:
            raise CalbioInputError(f"calibration must be one of {CALIBRATIONS}")
        if calibration != "none" and not 0.0 < calibration_fraction < 1.0:
            raise CalbioInputError("calibration_fraction must be in (0, 1)")
        if not 0.0 <= context_dropout < 1.0:
            raise CalbioInputError("context_dropout must be in [0, 1)")
        self.random_state = self.config.seed
        self.context_dim = int(context_dim)
        self.context_dropout = float(context_dropout)
        self.calibration = calibration
        self.calibration_fraction = float(calibration_fraction)
        self.calibration_negatives = int(calibration_negatives)

    # ------------------------------------------------------------------ fitting
    def _resolve_pairs(
        self, pairs: ContextPairsLike, cemb: ContextEmbeddings, min_mapped: float
    ) -> ContextMappedPairs:
        if isinstance(pairs, ContextMappedPairs):
            return pairs
        if isinstance(pairs, pd.DataFrame):
            ctx_col = "context" if "context" in pairs.columns else None
            pairs = context_pairs_from_frame(pairs, context_column=ctx_col)
        return map_context_pairs(pairs, cemb, min_fraction=min_mapped)

    def fit(
        self,
        embeddings: ContextEmbeddings,
        pairs: ContextPairsLike,
        *,
        progress: ProgressCallback | None = None,
        min_mapped: float = 0.5,
    ) -> ContextCAL:
        """Train on the pairs (minus the calibration split), then fit the calibration map."""
        t0 = time.perf_counter()
        cfg = self.config
        mapped = self._resolve_pairs(pairs, embeddings, min_mapped)
        if self.calibration != "none":
            train, cal = split_by_pair(mapped, self.calibration_fraction, cfg.seed + 7)
            if len(cal) < 2 or len(train) < 2:
                raise CalbioInputError("too few pairs to set a calibration split aside")
        else:
            train, cal = mapped, mapped.select(np.zeros(len(mapped), bool))
        self._set_table(embeddings)
        self._fit_contexts(train)
        module, hist = train_context_module(
            torch.from_numpy(self.X_),
            self.row_of_,
            train.idx,
            train.context,
            self.context_label_,
            self._std_cov(),
            len(self.label_names_),
            cfg,
            context_dim=self.context_dim,
            context_dropout=self.context_dropout,
            progress=progress,
        )
        self.module_ = module
        self.history_ = hist
        self.train_pairs_ = train
        self.calibration_pairs_ = cal
        self.mapping_stats_ = dict(mapped.stats)
        self.z_override_: dict[int, np.ndarray] = {}
        self._Z = None
        self.calibration_stats_: dict[str, Any] = {}
        if self.calibration != "none":
            self._fit_calibration(cal, mapped)
        self.sources_ = {"embeddings": embeddings.source, "pairs": getattr(pairs, "source", "")}
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _set_table(self, cemb: ContextEmbeddings) -> None:
        k = self.config.pca
        X = np.asarray(cemb.X, dtype=np.float32)
        self.pca_mean_ = self.pca_components_ = None
        if k is not None:
            from sklearn.decomposition import PCA

            if not 1 <= k <= min(X.shape):
                raise CalbioInputError(f"pca {k} must be between 1 and {min(X.shape)}")
            pca = PCA(n_components=k, random_state=self.config.seed).fit(X)
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

    def _std_cov(self, cov: np.ndarray | None = None) -> np.ndarray:
        cov = self.covariates_.to_numpy(np.float64) if cov is None else cov
        return ((cov - self.cov_mean_) / self.cov_std_).astype(np.float32)

    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            raise RuntimeError("this ContextCAL is not fitted yet; call fit() or load()")

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
    ) -> ContextCAL:
        """Few-shot: fit the context vector of ``context`` on its labelled pairs (net frozen)."""
        self._check_fitted()
        c = self._context_of(context)
        cemb = self._table()
        mapped = self._resolve_pairs(pairs, cemb, min_mapped)
        mapped = mapped.select(mapped.context == c)
        if len(mapped) < 2:
            raise CalbioInputError(f"few-shot adaptation of {context!r} needs >= 2 of its pairs")
        init = torch.from_numpy(self.context_vectors()[c])
        z = fit_context_vector(
            self.module_,
            torch.from_numpy(self.X_),
            self.row_of_[c, mapped.idx[:, 0]],
            self.row_of_[c, mapped.idx[:, 1]],
            init,
            tau=self.config.tau,
            steps=steps,
            lr=lr,
            seed=self.config.seed,
        )
        self.z_override_[c] = z.numpy()
        self._Z = None
        return self

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
        lookup = {str(c): i for i, c in enumerate(self.contexts_)}
        if str(name) not in lookup:
            shown = ", ".join(map(str, self.contexts_[:10]))
            raise CalbioInputError(f"unknown context {name!r}; the model has: {shown}")
        return lookup[str(name)]

    def _entity_of(self, names: Any) -> np.ndarray:
        lookup = {str(e): i for i, e in enumerate(self.entities_)}
        folded: dict[str, int] = {}
        for e, i in lookup.items():
            folded[e.casefold()] = -2 if e.casefold() in folded else i
        out = []
        for n in np.atleast_1d(np.asarray(names, dtype=object)):
            i = lookup.get(str(n), folded.get(str(n).casefold(), -1))
            if i < 0:
                raise CalbioInputError(f"entity {n!r} is not in the model's entity index")
            out.append(i)
        return np.asarray(out, dtype=np.int64)

    def score_idx(self, idx: np.ndarray, context: np.ndarray, kind: str = "half") -> np.ndarray:
        """g for entity-index pairs (m, 2) in contexts (m,); NaN where an entity is unmeasured."""
        self._check_fitted()
        idx = np.asarray(idx, dtype=np.int64).reshape(-1, 2)
        context = np.broadcast_to(np.asarray(context, dtype=np.int64), (len(idx),))
        ra, rb = self.row_of_[context, idx[:, 0]], self.row_of_[context, idx[:, 1]]
        ok = (ra >= 0) & (rb >= 0)
        out = np.full(len(idx), np.nan)
        a, b = ra[ok], rb[ok]
        X = self.X_
        if kind == "cosine":
            out[ok] = np.einsum("ij,ij->i", X[a], X[b], dtype=np.float64)
            return out
        Z = self._association()
        out[ok] = 0.5 * (
            np.einsum("ij,ij->i", Z[a], X[b], dtype=np.float64)
            + np.einsum("ij,ij->i", Z[b], X[a], dtype=np.float64)
        )
        return out

    def score(self, a: Any, b: Any, context: Any, kind: str = "half") -> np.ndarray:
        """g(A, B | c) for entity names (scalars or arrays) and context name(s)."""
        ia, ib = self._entity_of(a), self._entity_of(b)
        ctx = np.array([self._context_of(c) for c in np.atleast_1d(np.asarray(context, object))])
        ia, ib, ctx = np.broadcast_arrays(ia, ib, ctx)
        return self.score_idx(np.stack([ia, ib], axis=1), ctx, kind)

    def _calibrate(self, s: np.ndarray) -> np.ndarray:
        if self.calibration == "none" or not hasattr(self, "cal_x_"):
            raise RuntimeError("this model has no calibration (calibration='none')")
        s = np.asarray(s, dtype=np.float64)
        if self.calibration == "isotonic":
            p = np.interp(s, self.cal_x_, self.cal_y_)  # IsotonicRegression, out_of_bounds=clip
        else:
            p = 1.0 / (1.0 + np.exp(-(self.cal_x_[0] * s + self.cal_y_[0])))
        return np.where(np.isnan(s), np.nan, p)

    def proba_from_scores(self, s: np.ndarray, prior: float | None = None) -> np.ndarray:
        """Calibrated P(equivalent) from g scores; ``prior`` re-targets the base rate."""
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

        rng = np.random.default_rng(self.config.seed + 11)
        neg = within_context_negatives(cal, self.calibration_negatives, self._table(), known, rng)
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
    def save(self, path: str | Path, *, force: bool = False) -> Path:
        """Write a model directory: model.safetensors + config.json + metadata.json."""
        self._check_fitted()
        with atomic_dir(path, force=force) as tmp:
            t = {f"module.{k}": v.numpy() for k, v in self.module_.state_dict().items()}
            t.update(
                {
                    "X": self.X_,
                    "entity": self.entity_,
                    "context": self.context_,
                    "context_label": self.context_label_,
                    "covariates": self.covariates_.to_numpy(np.float64),
                    "cov_mean": self.cov_mean_,
                    "cov_std": self.cov_std_,
                    "train.idx": self.train_pairs_.idx,
                    "train.context": self.train_pairs_.context,
                }
            )
            if self.pca_components_ is not None:
                t["pca.mean"], t["pca.components"] = self.pca_mean_, self.pca_components_
            if hasattr(self, "cal_x_"):
                t["calibration.x"], t["calibration.y"] = self.cal_x_, self.cal_y_
            if self.z_override_:
                keys = sorted(self.z_override_)
                t["z_override.context"] = np.array(keys, np.int64)
                t["z_override.z"] = np.stack([self.z_override_[k] for k in keys])
            save_file(
                {k: np.ascontiguousarray(v) for k, v in t.items()}, str(tmp / "model.safetensors")
            )
            config = {
                "format": MODEL_FORMAT,
                "kind": "context-cal",
                "preset": self.preset,
                "train": self.config.to_dict(),
                "context_dim": self.context_dim,
                "context_dropout": self.context_dropout,
                "calibration": self.calibration,
                "calibration_fraction": self.calibration_fraction,
                "calibration_negatives": self.calibration_negatives,
                "n_features_in": int(self.n_features_in_),
                "dim": int(self.X_.shape[1]),
                "entities": [str(e) for e in self.entities_],
                "contexts": [str(c) for c in self.contexts_],
                "labels": [str(x) for x in self.labels_],
                "label_names": [str(x) for x in self.label_names_],
                "covariate_names": [str(c) for c in self.covariates_.columns],
            }
            write_json_atomic(tmp / "config.json", config)
            meta = {
                "calbio": calbio.__version__,
                "torch": torch.__version__,
                "python": platform.python_version(),
                "seed": self.config.seed,
                "inputs": self.sources_,
                "mapping": self.mapping_stats_,
                "calibration": self.calibration_stats_,
                "loss": self.history_.loss,
                "timings": {"fit_seconds": self.fit_seconds_},
            }
            write_json_atomic(tmp / "metadata.json", meta)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> ContextCAL:
        """Load a directory written by :meth:`save` (safetensors + JSON only)."""
        path = Path(path)
        try:
            config = json.loads((path / "config.json").read_text())
            meta = json.loads((path / "metadata.json").read_text())
            t = load_file(str(path / "model.safetensors"))
        except (OSError, ValueError) as exc:
            raise CalbioInputError(f"not a context model directory: {exc}", path) from None
        if config.get("kind") != "context-cal":
            raise CalbioInputError("not a context model directory (kind != context-cal)", path)
        self = cls(
            TrainConfig(**config["train"]),
            context_dim=config["context_dim"],
            context_dropout=config["context_dropout"],
            calibration=config["calibration"],
            calibration_fraction=config["calibration_fraction"],
            calibration_negatives=config["calibration_negatives"],
        )
        self.preset = config.get("preset", "custom")
        self.entities_ = np.array(config["entities"], dtype=object)
        self.contexts_ = np.array(config["contexts"], dtype=object)
        self.labels_ = np.array(config["labels"], dtype=object)
        self.label_names_ = np.array(config["label_names"], dtype=object)
        self.covariates_ = pd.DataFrame(
            t["covariates"],
            index=pd.Index(self.contexts_, name="context"),
            columns=config["covariate_names"],
        )
        self.X_ = t["X"]
        self.entity_, self.context_ = t["entity"], t["context"]
        self.context_label_ = t["context_label"]
        self.cov_mean_, self.cov_std_ = t["cov_mean"], t["cov_std"]
        k, n = len(self.contexts_), len(self.entities_)
        self.row_of_ = np.full((k, n), -1, np.int64)
        self.row_of_[self.context_, self.entity_] = np.arange(len(self.X_))
        self.pca_mean_, self.pca_components_ = t.get("pca.mean"), t.get("pca.components")
        if "calibration.x" in t:
            self.cal_x_, self.cal_y_ = t["calibration.x"], t["calibration.y"]
        self.train_pairs_ = ContextMappedPairs(t["train.idx"], t["train.context"], n, k)
        self.z_override_ = {}
        if "z_override.context" in t:
            for c, z in zip(t["z_override.context"], t["z_override.z"], strict=True):
                self.z_override_[int(c)] = z
        tr = config["train"]
        module = ContextFiLMMLP(
            config["dim"],
            len(self.label_names_),
            len(config["covariate_names"]),
            tr["hidden"],
            tr["depth"],
            config["context_dim"],
        )
        module.load_state_dict(
            {k[7:]: torch.from_numpy(v) for k, v in t.items() if k.startswith("module.")}
        )
        module.eval()
        self.module_ = module
        self.n_features_in_ = config["n_features_in"]
        self.history_ = TrainHistory(loss=list(meta.get("loss", [])))
        self.mapping_stats_ = meta.get("mapping", {})
        self.calibration_stats_ = meta.get("calibration", {})
        self.sources_ = meta.get("inputs", {})
        self.fit_seconds_ = meta.get("timings", {}).get("fit_seconds", float("nan"))
        self._Z = None
        return self
