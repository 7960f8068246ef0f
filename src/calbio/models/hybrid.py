"""``hybrid``: CAL's learned association plus training-graph evidence, under a learned combiner.

Per pair ``(a, b)`` the combiner sees twelve features (all symmetric in ``a, b``):

* ``cal``: CAL's score (the configured kind, ``half`` by default); ``cosine`` of the embeddings;
* ``log1p`` of common neighbours, Adamic-Adar and resource allocation in the training graph, and
  of degree-normalised paths of length 3 (``l3``: ``A D^-1/2 A D^-1/2 A``, Kovacs et al. 2019,
  which predicts protein interactions that share no neighbour);
* ``log1p`` degrees: their sum and their minimum;
* CAL propagated over the graph: ``prop`` = mean CAL score between ``a`` and ``b``'s neighbours
  (and the reverse), ``prop2`` = mean CAL score between ``a``'s and ``b``'s neighbours; and
  ``cprop``, the same one-hop mean for cosine. All of them are inner products of per-entity
  vectors (neighbour means of CAL's factors), so a dense row of scores is a few matrix products;
* ``sage`` (with ``gnn=True``, the default): the GraphSAGE link score ``h_a . h_b`` of
  :class:`calbio.models.sage.SAGE` trained on the same graph (needs ``calbio[graph]``).

Two logistic combiners share these features: a *warm* one for pairs whose ends both have
training partners, and a *cold* one for pairs with an end that has none (its graph features are 0,
so the cold combiner falls back to CAL, the embedding, GraphSAGE and the warm end's
neighbourhood). By default (``pairwise=True``) each learns its weights from within-query
contrasts (a validation positive minus the negatives sampled at its own anchor, as filtered
ranking compares them) and is then Platt-calibrated, so warm and cold scores are comparable
log-odds in one ranking.

**No leakage.** The combiners are fitted on validation pairs carved out of the *training* pairs:
a hashed ``cold_fraction`` of the entities (every pair touching them becomes a cold validation
pair) and a hashed ``val_fraction`` of the remaining pairs (warm validation pairs). CAL and
GraphSAGE are trained on the rest only. Warm validation pairs get graph features from the training
graph minus the warm validation pairs (``dense_warm_graph``; the cold carve's pairs are not being
predicted, and keeping them makes that graph nearly as dense as the one used at test time), cold
ones from the graph without the cold carve. So a validation pair never contributes to its own
features. The carve hashes each pair's (or entity's) identity with the seed, so it does
not depend on which other pairs are present. Then CAL, GraphSAGE and the graph are refitted on
all training pairs for scoring. Counts and degrees enter through ``log1p``: the refitted graph is
denser, and a uniform rescaling of a log feature only moves the intercept, which leaves rankings
unchanged. GraphSAGE is not retrained: being inductive, its encoder (trained on the carved graph)
embeds the full training graph.

Design choices were made on an inner edge split of the *training* pairs of the benchmark split
(never its test pairs); see benchmarks/GRAPH_MODELS.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from calbio.data.types import Embeddings, MappedPairs
from calbio.errors import CalbioInputError
from calbio.models.base import AssociationModelBase
from calbio.models.cal import CAL, store_params
from calbio.models.graph import _aa_weights, _ra_weights, _weighted, _weighted_overlap, adjacency
from calbio.models.registry import register_model

FEATURES: tuple[str, ...] = (
    "cal",
    "cosine",
    "log_cn",
    "log_aa",
    "log_ra",
    "log_deg_sum",
    "log_deg_min",
    "prop",
    "prop2",
    "cprop",
    "sage",
    "log_l3",
)
_COMBINERS = ("warm", "cold")
_I_DEG_MIN = FEATURES.index("log_deg_min")
# Dense score elements per query block in score_rows (each feature is one such block).
_ROW_BLOCK_ELEMS = 1_000_000
_PAIR_BLOCK = 65_536


def hash_unit(keys: np.ndarray, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per integer key, from a seeded splitmix64 hash (vectorised)."""
    x = np.asarray(keys, dtype=np.int64).astype(np.uint64)
    x = x + np.uint64((int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def carve(
    train_idx: np.ndarray, n: int, val_fraction: float, cold_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split training pairs into (fit, warm validation, cold validation) by hashed identity.

    An entity is held aside when its hash is below ``cold_fraction``; every pair touching one is
    a cold validation pair. Of the other pairs, those whose hash is below ``val_fraction`` are
    warm validation pairs. Whether a pair is carved never depends on the other pairs.
    """
    e = np.asarray(train_idx, dtype=np.int64).reshape(-1, 2)
    cold_ent = hash_unit(np.arange(n), seed + 1) < cold_fraction
    cold = cold_ent[e[:, 0]] | cold_ent[e[:, 1]]
    keys = np.minimum(e[:, 0], e[:, 1]) * n + np.maximum(e[:, 0], e[:, 1])
    warm = ~cold & (hash_unit(keys, seed) < val_fraction)
    return e[~cold & ~warm], e[warm], e[cold]


class GraphFeatures:
    """The combiner's features of any pair, from a training graph and CAL's score factors."""

    def __init__(
        self,
        train_idx: np.ndarray,
        n: int,
        left: np.ndarray,
        right: np.ndarray,
        E: np.ndarray,
        gnn: np.ndarray | None = None,
    ) -> None:
        a = adjacency(train_idx, n)
        self.A = a
        self.AW = _weighted(a, _aa_weights(a))
        self.AR = _weighted(a, _ra_weights(a))
        # paths of length 3, degree-normalised (L3, Kovacs et al. 2019): A D^-1/2 A D^-1/2 A
        deg = np.asarray(a.sum(axis=1)).ravel()
        isq = np.zeros(n)
        isq[deg > 0] = 1.0 / np.sqrt(deg[deg > 0])
        self.AM = (a @ sp.diags(isq) @ a @ sp.diags(isq)).tocsr()
        self.deg = deg
        self._cand: tuple[np.ndarray | None, sp.csc_matrix | None] = (None, None)
        self.logdeg = np.log1p(deg)
        inv = np.zeros(n)
        inv[deg > 0] = 1.0 / deg[deg > 0]
        mean = (sp.diags(inv) @ a).tocsr()
        self.L = np.asarray(left, dtype=np.float64)
        self.R = np.asarray(right, dtype=np.float64)
        self.E = np.asarray(E, dtype=np.float64)
        self.ML = np.asarray(mean @ self.L)
        self.MR = np.asarray(mean @ self.R)
        self.ME = np.asarray(mean @ self.E)
        self.H = np.zeros((n, 1)) if gnn is None else np.asarray(gnn, dtype=np.float64)

    def pairs(self, idx: np.ndarray) -> np.ndarray:
        """(m, len(FEATURES)) feature matrix of the pairs ``idx`` (m, 2)."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1, 2)
        out = np.empty((len(idx), len(FEATURES)))
        for s in range(0, len(idx), _PAIR_BLOCK):
            p = idx[s : s + _PAIR_BLOCK]
            a, b = p[:, 0], p[:, 1]
            out[s : s + len(p)] = np.stack(self._pair_block(a, b), axis=1)
        return out

    def _pair_block(self, a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
        def dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return np.einsum("ij,ij->i", x, y)

        p = np.stack([a, b], axis=1)

        def overlap(w: sp.csr_matrix) -> np.ndarray:
            return _weighted_overlap(self.A, w, p)

        la, lb = self.logdeg[a], self.logdeg[b]
        return [
            dot(self.L[a], self.R[b]),
            dot(self.E[a], self.E[b]),
            np.log1p(overlap(self.A)),
            np.log1p(overlap(self.AW)),
            np.log1p(overlap(self.AR)),
            la + lb,
            np.minimum(la, lb),
            0.5 * (dot(self.L[a], self.MR[b]) + dot(self.MR[a], self.L[b])),
            dot(self.ML[a], self.MR[b]),
            0.5 * (dot(self.E[a], self.ME[b]) + dot(self.ME[a], self.E[b])),
            dot(self.H[a], self.H[b]),
            np.log1p(_weighted_overlap(self.AM, self.A, p)),
        ]

    def rows(self, q: np.ndarray, c: np.ndarray) -> list[np.ndarray]:
        """The features of every (query, candidate) pair, one dense (len(q), len(c)) block each."""
        key, at = self._cand
        if key is None or not np.array_equal(key, c):  # ranking asks block after block
            at = self.A[:, c].tocsc()
            self._cand = (np.array(c, copy=True), at)
        la, lb = self.logdeg[q][:, None], self.logdeg[c][None, :]
        return [
            self.L[q] @ self.R[c].T,
            self.E[q] @ self.E[c].T,
            np.log1p((self.A[q] @ at).toarray()),
            np.log1p((self.AW[q] @ at).toarray()),
            np.log1p((self.AR[q] @ at).toarray()),
            la + lb,
            np.minimum(la, lb),
            0.5 * (self.L[q] @ self.MR[c].T + self.MR[q] @ self.L[c].T),
            self.ML[q] @ self.MR[c].T,
            0.5 * (self.E[q] @ self.ME[c].T + self.ME[q] @ self.E[c].T),
            self.H[q] @ self.H[c].T,
            np.log1p((self.AM[q] @ at).toarray()),
        ]


def _sample_negatives(
    anchors: np.ndarray,
    universe: np.ndarray,
    deg: np.ndarray,
    known_keys: np.ndarray,
    n: int,
    rng: np.random.Generator,
    degree_share: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """One negative per anchor row: (anchor, partner), the partner drawn uniformly for half the
    rows and in proportion to degree for the other half (so degree alone cannot separate them);
    known pairs and self-pairs are dropped.

    (Two-step-walk "hard" negatives were tried on an inner split of the training pairs: many
    are unrecorded true pairs, the combiner then discounts common-neighbour evidence, and MRR
    fell from 0.26 to 0.15 with a pointwise combiner, from 0.28 to 0.14 with the pairwise one.)
    """
    k = len(anchors)
    w = deg[universe].astype(np.float64) + 1.0
    partner = np.where(
        rng.random(k) >= degree_share,
        rng.choice(universe, size=k),
        rng.choice(universe, size=k, p=w / w.sum()),
    )
    cand = np.stack([anchors, partner], axis=1)
    keys = np.minimum(cand[:, 0], cand[:, 1]) * n + np.maximum(cand[:, 0], cand[:, 1])
    return (cand[:, 0] != cand[:, 1]) & ~np.isin(keys, known_keys), cand


def _fit_logistic(X: np.ndarray, y: np.ndarray, C: float, seed: int) -> dict[str, np.ndarray]:
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd[sd < 1e-12] = 1.0
    lr = LogisticRegression(C=C, max_iter=2000, random_state=seed)
    lr.fit((X - mu) / sd, y)
    return {
        "coef": lr.coef_.ravel() / sd,
        "intercept": np.array([float(lr.intercept_[0]) - float((lr.coef_.ravel() / sd) @ mu)]),
    }


def _fit_pairwise(
    X: np.ndarray, y: np.ndarray, src: np.ndarray, C: float, seed: int
) -> dict[str, np.ndarray]:
    """Weights from a pairwise logistic model (a positive vs the negatives sampled at its own
    anchor: the within-query contrast that ranking needs), then Platt-calibrated pointwise."""
    pos = np.flatnonzero(y == 1)
    row_of = np.full(int(src.max()) + 1, -1)
    row_of[src[pos]] = pos
    neg = np.flatnonzero((y == 0) & (row_of[src] >= 0))
    diff = X[row_of[src[neg]]] - X[neg]
    sd = diff.std(axis=0)
    sd[sd < 1e-12] = 1.0
    D = np.concatenate([diff, -diff]) / sd
    t = np.r_[np.ones(len(diff)), np.zeros(len(diff))]
    lr = LogisticRegression(C=C, max_iter=2000, fit_intercept=False, random_state=seed).fit(D, t)
    w = lr.coef_.ravel() / sd
    s = (X @ w)[:, None]
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(s, y)
    a = float(platt.coef_[0, 0])
    return {"coef": w * a, "intercept": np.array([float(platt.intercept_[0])])}


@register_model("hybrid")
class Hybrid(AssociationModelBase):
    """CAL + training-graph evidence under warm/cold logistic combiners fitted without leakage.

    ``preset`` and the other CAL options (``epochs``, ``hidden``, ``batch_size``, ``threads``)
    configure both CAL fits (carved and full; ``refit_cal=False`` keeps the carved one, faster);
    ``val_fraction`` / ``cold_fraction`` size the validation carve; ``n_negatives`` sampled
    negatives per validation pair, a ``degree_negatives`` share of them drawn in proportion to
    degree (the rest uniformly); ``C`` is the combiners' inverse L2 penalty; ``pairwise`` fits
    the weights on within-query contrasts (else plain pointwise logistic regression); ``gnn``
    adds the GraphSAGE feature: True needs ``torch_geometric`` (``calbio[graph]``), ``"auto"``
    uses it when installed (``gnn_used_`` says whether it was), False never.
    """

    uses_graph: ClassVar[bool] = True
    cold_start: ClassVar[bool] = True

    def __init__(
        self,
        preset: str = "fast",
        *,
        val_fraction: float = 0.1,
        cold_fraction: float = 0.1,
        n_negatives: int = 5,
        C: float = 1.0,
        gnn: bool | str = "auto",
        degree_negatives: float = 0.0,
        refit_cal: bool = True,
        pairwise: bool = True,
        dense_warm_graph: bool = True,
        epochs: int | None = None,
        hidden: int | None = None,
        batch_size: int | None = None,
        threads: int | None = None,
        random_state: int | None = None,
    ) -> None:
        store_params(self, locals())

    @property
    def seed(self) -> int:
        """The seed (``random_state``, 42 when None)."""
        return 42 if self.random_state is None else int(self.random_state)

    def _new_cal(self) -> CAL:
        return CAL(
            self.preset,
            epochs=self.epochs,
            hidden=self.hidden,
            batch_size=self.batch_size,
            threads=self.threads,
            random_state=self.seed,
        )

    def _fit_cal(self, emb: Embeddings, train_idx: np.ndarray) -> CAL:
        return self._new_cal().fit(emb, MappedPairs(train_idx, len(emb), {}), min_mapped=0.0)

    def _fit_gnn(self, emb: Embeddings, train_idx: np.ndarray) -> Any:
        """A GraphSAGE model fitted on ``train_idx`` (for the ``sage`` feature), or None."""
        if self.gnn not in (True, False, "auto"):
            raise CalbioInputError(f"gnn must be True, False or 'auto', got {self.gnn!r}")
        self.gnn_used_ = False
        if not self.gnn:
            return None
        try:
            import torch_geometric  # noqa: F401
        except ModuleNotFoundError:
            if self.gnn == "auto":
                from calbio.logs import logger

                logger.info("hybrid: PyTorch Geometric not installed; no GraphSAGE feature")
                return None
            raise CalbioInputError(
                "the hybrid's GraphSAGE feature needs PyTorch Geometric: "
                "pip install 'calbio[graph]', or pass gnn=False"
            ) from None
        self.gnn_used_ = True
        from calbio.models.sage import SAGE

        sage = SAGE(random_state=self.seed, threads=self.threads or 1)
        return sage.fit(emb, MappedPairs(train_idx, len(emb), {}), min_mapped=0.0)

    def _check_params(self) -> None:
        if not 0.0 < self.val_fraction < 1.0:
            raise CalbioInputError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if not 0.0 <= self.cold_fraction < 1.0:
            raise CalbioInputError(f"cold_fraction must be in [0, 1), got {self.cold_fraction}")
        if self.n_negatives < 1 or self.C <= 0:
            raise CalbioInputError("n_negatives must be >= 1 and C > 0")

    # ------------------------------------------------------------------ fitting
    def validation_features(
        self, emb: Embeddings, train_idx: np.ndarray
    ) -> dict[str, dict[str, Any]]:
        """Features and labels of the carved validation pairs plus sampled negatives.

        Returns ``{"warm": {...}, "cold": {...}}``, each with ``pairs``, ``y``, ``X`` (pairs are
        routed to the cold combiner when an end has no partner in the carved graph); also
        ``"fit": {"pairs", "features"}``: the pairs CAL and the graph were fitted on, and the
        :class:`GraphFeatures` built from them.
        """
        n = len(emb)
        e = np.asarray(train_idx, dtype=np.int64).reshape(-1, 2)
        fit_idx, warm, cold = carve(e, n, self.val_fraction, self.cold_fraction, self.seed)
        if len(fit_idx) < 2 or len(warm) < 2:
            raise CalbioInputError(
                f"too few training pairs ({len(e)}) to carve hybrid validation pairs"
            )
        cal = self._fit_cal(emb, fit_idx)
        gnn = self._fit_gnn(emb, fit_idx)
        feats = GraphFeatures(
            fit_idx,
            n,
            *cal.score_vectors(),
            cal.embedding_,
            None if gnn is None else gnn.node_vectors_,
        )
        known = np.unique(np.minimum(e[:, 0], e[:, 1]) * n + np.maximum(e[:, 0], e[:, 1]))
        universe = np.unique(e)
        rng = np.random.default_rng(self.seed + 11)
        held = hash_unit(np.arange(n), self.seed + 1) < self.cold_fraction
        # orient each cold pair held-aside end first, so that its negatives stay cold
        cold = np.where(held[cold[:, :1]], cold, cold[:, ::-1])
        pos = np.concatenate([warm, cold])
        rep = np.repeat(pos, self.n_negatives, axis=0)
        keep_first = np.repeat(
            np.r_[np.zeros(len(warm), bool), np.ones(len(cold), bool)], self.n_negatives
        )
        keep_first |= rng.random(len(rep)) < 0.5
        anchors = np.where(keep_first, rep[:, 0], rep[:, 1])
        ok, neg = _sample_negatives(
            anchors,
            universe,
            feats.deg,
            known,
            n,
            rng,
            self.degree_negatives,
        )
        neg = neg[ok]
        # which positive each pair belongs to (a negative shares its positive's anchor)
        src = np.r_[np.arange(len(pos)), np.flatnonzero(ok) // self.n_negatives]
        pairs = np.concatenate([pos, neg])
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        # Warm validation pairs get their features from the training graph minus the warm
        # validation pairs only (the cold carve's pairs are put back: they are not the pairs
        # being predicted), so the warm combiner sees a graph nearly as dense as at test time.
        # CAL stays the carved fit. Cold validation pairs use the carved graph, where their
        # held-aside end has no partner.
        warm_graph = np.concatenate([fit_idx, cold]) if self.dense_warm_graph else fit_idx
        feats_w = GraphFeatures(
            warm_graph,
            n,
            *cal.score_vectors(),
            cal.embedding_,
            None if gnn is None else gnn.embed(warm_graph),
        )
        is_warm = src < len(warm)
        X = np.empty((len(pairs), len(FEATURES)))
        X[is_warm] = feats_w.pairs(pairs[is_warm])
        X[~is_warm] = feats.pairs(pairs[~is_warm])
        group = self._groups(X[:, _I_DEG_MIN])
        out: dict[str, dict[str, Any]] = {
            "fit": {
                "pairs": fit_idx,
                "features": feats,
                "warm_graph": warm_graph,
                "warm_features": feats_w,
                "gnn": gnn,
                "cal": cal,
            }
        }
        for g, name in enumerate(_COMBINERS):
            sel = group == g
            out[name] = {"pairs": pairs[sel], "y": y[sel], "X": X[sel], "src": src[sel]}
        return out

    @staticmethod
    def _groups(log_deg_min: np.ndarray) -> np.ndarray:
        """Combiner of each pair: 0 warm, 1 cold (an end without training partners)."""
        return (log_deg_min == 0).astype(np.int64)

    def _fit(
        self,
        emb: Embeddings,
        mapped: MappedPairs,
        progress: Callable[[int, int, float], None] | None = None,
    ) -> None:
        t0 = time.perf_counter()
        self._check_params()
        val = self.validation_features(emb, mapped.idx)
        combiners: dict[str, dict[str, np.ndarray]] = {}
        report: dict[str, Any] = {"n_fit_pairs": int(len(val["fit"]["pairs"]))}
        for name in _COMBINERS:
            X, y = val[name]["X"], val[name]["y"]
            if name == "cold" and (y.sum() < 2 or (1 - y).sum() < 2):
                combiners[name] = combiners["warm"]  # no cold carve: reuse the warm combiner
                continue
            if self.pairwise:
                combiners[name] = _fit_pairwise(X, y, val[name]["src"], self.C, self.seed)
            else:
                combiners[name] = _fit_logistic(X, y, self.C, self.seed)
            s = X @ combiners[name]["coef"]
            report[name] = {
                "n_pos": int(y.sum()),
                "n_neg": int(len(y) - y.sum()),
                "auc_hybrid": float(roc_auc_score(y, s)),
                "auc_cal": float(roc_auc_score(y, X[:, 0])),
                "auc_adamic_adar": float(roc_auc_score(y, X[:, 3])),
            }
        self.combiners_ = combiners
        self.validation_ = report
        self.cal_ = self._fit_cal(emb, mapped.idx) if self.refit_cal else val["fit"]["cal"]
        self.embedding_ = self.cal_.embedding_
        # GraphSAGE is inductive: the encoder trained on the carved graph embeds the full one
        gnn = val["fit"]["gnn"]
        self.gnn_vectors_ = None if gnn is None else gnn.embed(mapped.idx)
        self._feats = None
        self.fit_seconds_ = time.perf_counter() - t0

    def __sklearn_is_fitted__(self) -> bool:
        """True once ``fit`` or ``load`` has run."""
        return hasattr(self, "combiners_")

    # ------------------------------------------------------------------ scoring
    def _features(self) -> GraphFeatures:
        if getattr(self, "_feats", None) is None:
            self._feats = GraphFeatures(
                self.train_pairs_,
                self.n_entities_,
                *self.cal_.score_vectors(),
                self.embedding_,
                self.gnn_vectors_,
            )
        return self._feats

    def _combine(self, feats: list[np.ndarray]) -> np.ndarray:
        group = self._groups(feats[_I_DEG_MIN])
        out = np.zeros(np.shape(feats[0]))
        for g, name in enumerate(_COMBINERS):
            c = self.combiners_[name]
            acc = np.full(np.shape(feats[0]), float(c["intercept"][0]))
            for w, f in zip(c["coef"], feats, strict=True):
                acc += w * f
            out = np.where(group == g, acc, out)
        return out

    def _score_idx(self, idx: np.ndarray) -> np.ndarray:
        f = self._features()
        idx = np.asarray(idx, dtype=np.int64).reshape(-1, 2)
        return self._combine(list(f.pairs(idx).T))

    def score_rows(self, queries: np.ndarray, candidates: np.ndarray | None = None) -> np.ndarray:
        """Dense (len(queries), len(candidates)) scores, a block of queries at a time."""
        self._check_fitted()
        f = self._features()
        q = np.asarray(queries, dtype=np.int64).ravel()
        c = (
            np.arange(self.n_entities_, dtype=np.int64)
            if candidates is None
            else np.asarray(candidates, dtype=np.int64).ravel()
        )
        out = np.empty((len(q), len(c)))
        block = max(1, _ROW_BLOCK_ELEMS // max(len(c), 1))
        for s in range(0, len(q), block):
            qb = q[s : s + block]
            out[s : s + len(qb)] = self._combine(f.rows(qb, c))
        return out

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        cal_arrays, cal_state = self.cal_._get_state()
        arrays = {f"cal.{k}": v for k, v in cal_arrays.items()}
        for name, c in self.combiners_.items():
            arrays[f"combiner.{name}.coef"] = c["coef"]
            arrays[f"combiner.{name}.intercept"] = c["intercept"]
        if self.gnn_vectors_ is not None:
            arrays["gnn_vectors"] = self.gnn_vectors_
        state = {
            "cal": cal_state,
            "validation": self.validation_,
            "fit_seconds": float(self.fit_seconds_),
            "features": list(FEATURES),
            "gnn_used": bool(getattr(self, "gnn_used_", self.gnn_vectors_ is not None)),
        }
        return arrays, state

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        if list(state.get("features", [])) != list(FEATURES):
            raise ValueError(f"saved features {state.get('features')} are not {list(FEATURES)}")
        cal = self._new_cal()
        cal.names_ = self.names_
        cal.n_entities_ = self.n_entities_
        cal.train_pairs_ = self.train_pairs_
        cal._set_state({k[4:]: v for k, v in arrays.items() if k.startswith("cal.")}, state["cal"])
        self.cal_ = cal
        self.embedding_ = cal.embedding_
        self.combiners_ = {
            name: {
                "coef": arrays[f"combiner.{name}.coef"],
                "intercept": arrays[f"combiner.{name}.intercept"],
            }
            for name in _COMBINERS
        }
        self.gnn_vectors_ = arrays.get("gnn_vectors")
        self.gnn_used_ = bool(state.get("gnn_used", self.gnn_vectors_ is not None))
        self.validation_ = state["validation"]
        self.fit_seconds_ = float(state["fit_seconds"])
        self._feats = None
