"""``hybrid``: CAL's learned association plus training-graph evidence, under a shrunk combiner.

The features are those of :mod:`calbio.models.hybrid.features` (CAL, cosine, graph evidence,
GraphSAGE). Two logistic combiners share them: a *warm* one for pairs whose ends both have
training partners, and a *cold* one for pairs with an end that has none.

**The combiner.** Features are standardised (mean and standard deviation over the validation
pairs). The weights ``w`` (standardised units) minimise the mean pairwise logistic loss of
within-query contrasts (a validation positive minus each negative sampled at its own anchor,
as filtered ranking compares them) plus ``strength / 2 * ||w - w0||^2``: an L2 pull toward a
fixed prior ``w0`` (:data:`PRIOR`: the embedding's cosine twice, GraphSAGE and Adamic-Adar
once). Then a Platt scale and intercept make the scores log-odds. The shrinkage keeps the
embedding's own signal in the score when validation pairs carved from the training graph
overstate what that graph (and a CAL fitted on it) says about associations of another kind.
The *gate* sets the strength from the training graph: ``prior_strength * ((1 - c) / c) ** 8``
(``prior_strength`` 0.1), ``c`` the share of the embedding's entities that have a training
pair. A graph that covers most entities (STRING >= 950 covers 0.76 of DepMap's genes:
strength 1e-5) is fitted freely; one that covers half (STRING's node-protocol training part,
0.53: 0.03) is pulled a little; one that covers a third (Reactome, 0.32: strength 42) or a
quarter (SIGNOR: 1.2e3) is the prior's blend.
A second, *closure* gate reads how the graph was made, which coverage cannot: when Adamic-Adar
predicts the carve's warm validation pairs far better than the embedding's cosine does
(:func:`closure`), the graph's held-out pairs are given away by its own cliques, as in graphs of
co-members of gene sets, and a combiner fitted on them learns those cliques rather than
associations that other databases record. The strength is then at least
``prior_strength * (closure / closure_gap) ** 32`` (``closure_gap`` 0.33; interaction graphs
sit near 0.2 and are untouched, GO-BP co-membership pairs near 0.37 are pulled to the prior even
though they cover 0.72 of DepMap's genes).
The evidence features' weights are bounded at 0 (``nonnegative``: collinear common-neighbour,
Adamic-Adar and resource-allocation weights cannot take opposite signs); only the degree
features may point either way.

**One scale for warm and cold pairs.** The cold combiner orders the pairs that touch an entity
without training partners; where they sit among the warm pairs comes from the warm combiner
(``cold_scale="warm"``, :func:`on_scale_of`): the cold scores are mapped affinely onto the warm
combiner's scores of the same cold validation pairs (equal mean and standard deviation). Each
combiner's own Platt scale only knows its carve's one-in-six positives, so two of them put
cold pairs at an arbitrary level: on other databases' pairs, whose ends are less often new to
the training graph than random pairs' ends, that level cost up to 0.05 AUC.
(How this was chosen, and what was tried first: benchmarks/GRAPH_MODELS.md, "hybrid design".)

**No leakage.** The combiners are fitted on validation pairs carved out of the *training* pairs
(:func:`~calbio.models.hybrid.features.carve`): a hashed ``cold_fraction`` of the entities
(every pair touching them becomes a cold validation pair) and a hashed ``val_fraction`` of the
remaining pairs (warm validation pairs). CAL and GraphSAGE are trained on the rest only. Warm
validation pairs get graph features from the training graph minus the warm validation pairs
(``dense_warm_graph``), cold ones from the graph without the cold carve, so a validation pair
never contributes to its own features. Then CAL is refitted on all training pairs for scoring;
GraphSAGE (inductive) embeds the full training graph with the carved fit's encoder.

**Explanations.** :meth:`Hybrid.explain` splits each score into one additive contribution per
feature (``weight * standardised value``) plus the intercept, and names the shared neighbours
that carry the graph evidence.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from calbio.core.errors import CalbioInputError
from calbio.core.graph import in_sorted, known_keys, pair_keys
from calbio.core.logs import logger
from calbio.core.options import (
    OptionSpec,
    at_least,
    check_options,
    fraction,
    non_negative,
    one_of,
    spec_table,
)
from calbio.core.seeds import child_seed, seed_or_default, stream
from calbio.data.types import Embeddings, MappedPairs
from calbio.models.base import AssociationModelBase, Progress
from calbio.models.cal.estimator import CAL, TRAIN_OPTIONS, store_params
from calbio.models.hybrid.features import (
    FEATURES,
    I_DEG_MIN,
    GraphFeatures,
    carve,
    hash_unit,
    transitivity,
)
from calbio.models.registry import register_model

__all__ = [
    "CAL_OPTIONS",
    "HYBRID_SPECS",
    "PRIOR",
    "Hybrid",
    "closure",
    "fit_combiner",
    "on_scale_of",
]

_COMBINERS = ("warm", "cold")
# Prior weights (standardised features) the combiner is shrunk toward: the embedding's cosine
# twice, GraphSAGE and Adamic-Adar once (CAL's score is left to the data).
PRIOR: dict[str, float] = {"cosine": 2.0, "sage": 1.0, "log_aa": 1.0}
GATES = ("coverage", "transitivity", "none")
COLD_SCALES = ("warm", "own")
# Exponent of the closure gate: (closure / closure_gap) ** 32 is < 1e-3 below 0.8 * closure_gap
# and > 1e3 above 1.25 * closure_gap, nearly a switch (see Hybrid).
CLOSURE_POWER = 32.0
# Features that can only add evidence for a pair (``nonnegative=True`` bounds their weights at
# 0); the degree features may point either way.
EVIDENCE: tuple[str, ...] = tuple(f for f in FEATURES if not f.startswith("log_deg"))
# CAL options the hybrid forwards to its CAL (None = the preset's value): every training option
# of CAL but data parallelism (the hybrid fits its CAL in one process).
CAL_OPTIONS: tuple[str, ...] = tuple(o for o in TRAIN_OPTIONS if o not in ("devices", "strategy"))


def _check_gnn(name: str, value: Any) -> Any:
    if value not in (True, False, "auto"):
        raise CalbioInputError(f"gnn must be True, False or 'auto', got {value!r}")
    return value


def _check_prior(name: str, value: Any) -> Any:
    unknown = sorted(set(value or {}) - set(FEATURES))
    if unknown:
        raise CalbioInputError(f"prior names unknown features: {', '.join(unknown)}")
    return value


# The hybrid's own parameters, declared once (default, check, help); the CAL options it
# forwards are CAL's own specs (CAL_OPTIONS). Not offered on the CLI (use a TOML experiment).
HYBRID_SPECS: dict[str, OptionSpec] = spec_table(
    [
        OptionSpec("val_fraction", float, 0.1, "Share of pairs carved out", fraction(), cli=False),
        OptionSpec(
            "cold_fraction",
            float,
            0.1,
            "Share of entities carved out cold",
            fraction(low_open=False),
            cli=False,
        ),
        OptionSpec(
            "val_negatives", int, 5, "Negatives per validation pair", at_least(1), cli=False
        ),
        OptionSpec(
            "prior_strength", float, 0.1, "Pull toward the prior", non_negative(), cli=False
        ),
        OptionSpec(
            "gate", str, "coverage", "coverage | transitivity | none", one_of(GATES), cli=False
        ),
        OptionSpec("gate_power", float, 8.0, "Exponent of the coverage gate", cli=False),
        OptionSpec(
            "closure_gap",
            float,
            0.33,
            "Adamic-Adar's lead over the cosine on the carve at which the closure gate pulls "
            "as hard as prior_strength (None: no closure gate)",
            fraction(low_open=True, high_open=False),
            optional=True,
            cli=False,
        ),
        OptionSpec(
            "prior", dict, None, "Feature -> prior weight", _check_prior, optional=True, cli=False
        ),
        OptionSpec(
            "gnn", object, "auto", "GraphSAGE feature: True | False | auto", _check_gnn, cli=False
        ),
        OptionSpec("degree_negatives", float, 0.0, "Degree-drawn share of negatives", cli=False),
        OptionSpec("refit_cal", bool, True, "Refit CAL on every training pair", cli=False),
        OptionSpec("dense_warm_graph", bool, True, "Dense warm-graph features", cli=False),
        OptionSpec("cal_params", dict, None, "Any other CAL parameter", optional=True, cli=False),
        OptionSpec(
            "nonnegative", bool, True, "Bound the evidence features' weights at 0", cli=False
        ),
        OptionSpec(
            "cold_scale",
            str,
            "warm",
            "Cold scores on the warm combiner's scale (warm) or their own (own)",
            one_of(COLD_SCALES),
            cli=False,
        ),
    ]
)
# Dense score elements per query block in score_rows (each feature is one such block).
_ROW_BLOCK_ELEMS = 1_000_000


def _sample_negatives(
    anchors: np.ndarray,
    universe: np.ndarray,
    deg: np.ndarray,
    known_keys: np.ndarray,
    n: int,
    rng: np.random.Generator,
    degree_share: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """One negative per anchor row: (anchor, partner), the partner drawn uniformly or (a
    ``degree_share`` of rows) in proportion to degree; known pairs and self-pairs are dropped.

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
    keys = pair_keys(cand, n)
    return (cand[:, 0] != cand[:, 1]) & ~in_sorted(keys, known_keys), cand


def _contrasts(Z: np.ndarray, y: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Within-query contrasts: each negative's positive (same anchor) minus the negative."""
    pos = np.flatnonzero(y == 1)
    row_of = np.full(int(src.max()) + 1, -1)
    row_of[src[pos]] = pos
    neg = np.flatnonzero((y == 0) & (row_of[src] >= 0))
    return Z[row_of[src[neg]]] - Z[neg]


def _shrunk_logistic(
    D: np.ndarray,
    w0: np.ndarray,
    strength: float | np.ndarray,
    bounds: list[tuple[Any, Any]] | None = None,
) -> np.ndarray:
    """argmin_w mean(log(1 + exp(-D w))) + 1/2 * sum(strength * (w - w0)^2) (L-BFGS,
    deterministic); ``strength`` is one number or one per feature."""
    scalar = np.ndim(strength) == 0

    def f(w: np.ndarray) -> tuple[float, np.ndarray]:
        m = D @ w
        loss = np.logaddexp(0.0, -m).mean()
        g = -(D.T @ (1.0 / (1.0 + np.exp(m)))) / len(D)
        d = w - w0
        pen = float(strength) * float(d @ d) if scalar else float((strength * d) @ d)
        return loss + 0.5 * pen, g + strength * d

    res = minimize(
        f, w0.copy(), jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 500}
    )
    return np.asarray(res.x)


def fit_combiner(
    X: np.ndarray,
    y: np.ndarray,
    src: np.ndarray,
    strength: float | np.ndarray,
    prior: np.ndarray,
    nonnegative: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Combiner weights: standardise, shrunk pairwise logistic on contrasts, Platt scale.

    ``strength``: the pull toward ``prior``, one number or one per feature; ``nonnegative``: a
    boolean mask of features whose weight is bounded below by 0 (None: free).

    Returns ``coef`` / ``intercept`` on raw features (score = ``X @ coef + intercept``) and
    ``mu``, ``sd``, ``zcoef`` (weights of the standardised features, ``coef = zcoef / sd``).
    """
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd[sd < 1e-12] = 1.0
    Z = (X - mu) / sd
    D = _contrasts(Z, y, src)
    w0 = np.where(X.std(axis=0) < 1e-12, 0.0, prior)  # a constant feature carries no prior
    bounds = None
    if nonnegative is not None:
        bounds = [(0.0, None) if keep else (None, None) for keep in nonnegative]
        w0 = np.where(nonnegative, np.maximum(w0, 0.0), w0)
    w = _shrunk_logistic(D, w0, strength, bounds) if len(D) else w0
    s = (Z @ w)[:, None]
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(s, y)
    zcoef = w * float(platt.coef_[0, 0])
    coef = zcoef / sd
    return {
        "coef": coef,
        "intercept": np.array([float(platt.intercept_[0]) - float(coef @ mu)]),
        "mu": mu,
        "sd": sd,
        "zcoef": zcoef,
    }


def on_scale_of(
    cold: dict[str, np.ndarray], warm: dict[str, np.ndarray], X: np.ndarray
) -> dict[str, np.ndarray]:
    """``cold`` affinely rescaled so that its scores of ``X`` (the cold validation pairs) have
    the mean and standard deviation of ``warm``'s scores of the same pairs.

    The cold combiner keeps its order of cold pairs (its weights' ratios); where those scores
    sit among warm pairs' scores comes from the warm combiner's reading of the same pairs (no
    shared neighbours, a lower minimum degree), not from a Platt scale of its own, whose level
    only reflects how many negatives the carve drew per positive.
    """
    s_warm = X @ warm["coef"] + warm["intercept"][0]
    s_cold = X @ cold["coef"] + cold["intercept"][0]
    sd = float(s_cold.std())
    a = float(s_warm.std()) / sd if sd > 1e-12 else 1.0
    b = float(s_warm.mean()) - a * float(s_cold.mean())
    out = dict(cold)
    out["coef"] = a * np.asarray(cold["coef"])
    out["intercept"] = a * np.asarray(cold["intercept"]) + b
    if "zcoef" in cold:
        out["zcoef"] = a * np.asarray(cold["zcoef"])
    return out


def closure(val: dict[str, dict[str, Any]]) -> float:
    """Adamic-Adar's within-query AUC minus the embedding cosine's, over the warm validation
    pairs of :meth:`Hybrid.validation_features` (each positive against its anchor's negatives).

    Near 0.2 for interaction graphs (STRING >= 950: 0.19), near 0.4 for graphs of co-members of
    gene sets, whose held-out pairs their own cliques give away (GO-BP sets of <= 30 genes: 0.37).
    """
    w = val["warm"]
    D = _contrasts(w["X"], w["y"], w["src"])
    if not len(D):
        return 0.0

    def auc(j: int) -> float:
        return float((D[:, j] > 0).mean() + 0.5 * (D[:, j] == 0).mean())

    return auc(FEATURES.index("log_aa")) - auc(FEATURES.index("cosine"))


def _prior_vector(prior: dict[str, float] | None = None) -> np.ndarray:
    w = PRIOR if prior is None else prior
    return np.array([float(w.get(f, 0.0)) for f in FEATURES])


@register_model("hybrid")
class Hybrid(AssociationModelBase):
    """CAL + training-graph evidence under warm/cold combiners shrunk toward a fixed prior.

    ``preset`` and every CAL option in :data:`CAL_OPTIONS` (``epochs``, ``negatives``,
    ``mask_false_negatives``, ``both_orientations``, ``hidden``...; None = the preset's value)
    configure the hybrid's CAL fits (carved and full; ``refit_cal=False`` keeps the carved one);
    ``cal_params`` sets any other CAL parameter (e.g. ``{"verbose": True}``).
    ``val_fraction`` / ``cold_fraction`` size the validation carve; ``val_negatives`` sampled
    negatives per validation pair, a ``degree_negatives`` share of them drawn in proportion to
    degree; ``prior_strength`` pulls the combiner weights toward ``prior`` (feature -> weight of
    the standardised feature; default :data:`PRIOR`; 0: no pull), scaled by the ``gate``:
    ``"coverage"`` multiplies it by ``((1 - c) / c) ** gate_power`` where ``c`` is the share of the
    embedding's entities with a training pair, ``"transitivity"`` by ``t / (1 - t)`` of the
    graph's transitivity, ``"none"`` by 1; ``closure_gap`` (None: off) raises the strength to at
    least ``prior_strength * (closure_ / closure_gap) ** 32``, ``closure_`` being Adamic-Adar's
    within-query AUC minus the cosine's on the warm validation pairs (:func:`closure`);
    ``gnn`` adds the GraphSAGE feature: True needs ``torch_geometric`` (``calbio[graph]``),
    ``"auto"`` uses it when installed (``gnn_used_`` says whether it was), False never;
    ``nonnegative`` bounds the weights of the evidence features (:data:`EVIDENCE`: all but the
    degree features) at 0, so collinear evidence cannot take opposite signs;
    ``cold_scale``: ``"warm"`` puts the cold combiner's scores on the warm combiner's scale
    (:func:`on_scale_of`), ``"own"`` keeps each combiner's own Platt scale (with
    ``nonnegative=False, prior_strength=1.0, closure_gap=None``: the hybrid before session 5, as
    the frozen test pins; ``closure_gap=None`` alone: the hybrid of session 5).
    """

    uses_graph: ClassVar[bool] = True
    cold_start: ClassVar[bool] = True

    def __init__(
        self,
        preset: str = "fast",
        *,
        val_fraction: float = 0.1,
        cold_fraction: float = 0.1,
        val_negatives: int = 5,
        prior_strength: float = 0.1,
        gate: str = "coverage",
        gate_power: float = 8.0,
        closure_gap: float | None = 0.33,
        prior: dict[str, float] | None = None,
        gnn: bool | str = "auto",
        degree_negatives: float = 0.0,
        refit_cal: bool = True,
        dense_warm_graph: bool = True,
        cal_params: dict[str, Any] | None = None,
        nonnegative: bool = True,
        cold_scale: str = "warm",
        epochs: int | None = None,
        hidden: int | None = None,
        depth: int | None = None,
        tau: float | None = None,
        batch_size: int | None = None,
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
        random_state: int | None = None,
    ) -> None:
        store_params(self, locals())

    @property
    def seed(self) -> int:
        """The seed (``random_state``, :data:`~calbio.core.seeds.DEFAULT_SEED` when None)."""
        return seed_or_default(self.random_state)

    def cal_kwargs(self) -> dict[str, Any]:
        """Constructor parameters of the hybrid's CAL (preset, forwarded options, seed)."""
        extra = dict(self.cal_params or {})
        clash = sorted(set(extra) & {*CAL_OPTIONS, "preset", "random_state"})
        if clash:
            raise CalbioInputError(f"cal_params repeats hybrid parameters: {', '.join(clash)}")
        kw = {k: getattr(self, k) for k in CAL_OPTIONS if getattr(self, k) is not None}
        return {
            "preset": self.preset,
            **kw,
            **extra,
            "random_state": child_seed(self.seed, "hybrid/cal"),
        }

    def _new_cal(self) -> CAL:
        kw = self.cal_kwargs()
        try:
            return CAL(kw.pop("preset"), **kw)
        except TypeError as exc:
            raise CalbioInputError(f"cal_params: {exc}") from None

    def _fit_cal(self, emb: Embeddings, train_idx: np.ndarray, progress: Progress = None) -> CAL:
        mapped = MappedPairs(train_idx, len(emb), {})
        return self._new_cal().fit(emb, mapped, min_mapped=0.0, progress=progress)

    def _fit_gnn(self, emb: Embeddings, train_idx: np.ndarray, progress: Progress = None) -> Any:
        """A GraphSAGE model fitted on ``train_idx`` (for the ``sage`` feature), or None."""
        self.gnn_used_ = False
        if not self.gnn:
            return None
        try:
            import torch_geometric  # noqa: F401
        except ModuleNotFoundError:
            if self.gnn == "auto":
                logger.info("hybrid: PyTorch Geometric not installed; no GraphSAGE feature")
                return None
            raise CalbioInputError(
                "the hybrid's GraphSAGE feature needs PyTorch Geometric: "
                "pip install 'calbio[graph]', or pass gnn=False"
            ) from None
        self.gnn_used_ = True
        from calbio.models.graph.sage import SAGE

        sage = SAGE(random_state=child_seed(self.seed, "hybrid/sage"), threads=self.threads or 1)
        return sage.fit(
            emb, MappedPairs(train_idx, len(emb), {}), min_mapped=0.0, progress=progress
        )

    def check_params(self) -> None:
        """Validate every parameter (the CAL options too) before any input is read."""
        check_options(HYBRID_SPECS, {n: getattr(self, n) for n in HYBRID_SPECS}, skip_unset=False)
        self._new_cal().check_params()

    # ------------------------------------------------------------------ fitting
    def _fit_carved(self, emb: Embeddings, fit_idx: np.ndarray, progress: Progress) -> tuple:
        """Stages 1 and 2 of the fit: CAL and GraphSAGE (or None) on the carved pairs, logged."""
        t = time.perf_counter()
        logger.info("hybrid: [1/5] fitting CAL on %d carved pairs", len(fit_idx))
        cal = self._fit_cal(emb, fit_idx, progress)
        logger.info(
            "hybrid: CAL fitted on %d carved pairs (%.1f s)", len(fit_idx), time.perf_counter() - t
        )
        t = time.perf_counter()
        if self.gnn:
            logger.info("hybrid: [2/5] fitting GraphSAGE on the carved graph")
        gnn = self._fit_gnn(emb, fit_idx, progress)
        if gnn is not None:
            logger.info("hybrid: GraphSAGE fitted (%.1f s)", time.perf_counter() - t)
        return cal, gnn

    def validation_features(
        self, emb: Embeddings, train_idx: np.ndarray, progress: Progress = None
    ) -> dict[str, dict[str, Any]]:
        """Features and labels of the carved validation pairs plus sampled negatives.

        Returns ``{"warm": {...}, "cold": {...}}``, each with ``pairs``, ``y``, ``X``, ``src``
        (pairs are routed to the cold combiner when an end has no partner in the carved graph);
        also ``"fit"``: the carved pairs, their :class:`GraphFeatures`, GraphSAGE and CAL.
        ``progress(epoch, n_epochs, loss)`` follows the CAL and GraphSAGE fits.
        """
        n = len(emb)
        e = np.asarray(train_idx, dtype=np.int64).reshape(-1, 2)
        fit_idx, warm, cold = carve(e, n, self.val_fraction, self.cold_fraction, self.seed)
        if len(fit_idx) < 2 or len(warm) < 2:
            raise CalbioInputError(
                f"too few training pairs ({len(e)}) to carve hybrid validation pairs"
            )
        cal, gnn = self._fit_carved(emb, fit_idx, progress)
        t = time.perf_counter()
        logger.info("hybrid: [3/5] graph features of the validation pairs")
        left, right = cal.score_vectors()
        feats = GraphFeatures(
            fit_idx, n, left, right, cal.embedding_, None if gnn is None else gnn.node_vectors_
        )
        known = known_keys(e, n)
        universe = np.unique(e)
        rng = stream(self.seed, "hybrid/negatives")
        cold_seed = child_seed(self.seed, "hybrid/cold_entities")  # the carve's held entities
        held = hash_unit(np.arange(n), cold_seed) < self.cold_fraction
        # orient each cold pair held-aside end first, so that its negatives stay cold
        cold = np.where(held[cold[:, :1]], cold, cold[:, ::-1])
        pos = np.concatenate([warm, cold])
        rep = np.repeat(pos, self.val_negatives, axis=0)
        keep_first = np.repeat(
            np.r_[np.zeros(len(warm), bool), np.ones(len(cold), bool)], self.val_negatives
        )
        keep_first |= rng.random(len(rep)) < 0.5
        anchors = np.where(keep_first, rep[:, 0], rep[:, 1])
        ok, neg = _sample_negatives(
            anchors, universe, feats.deg, known, n, rng, self.degree_negatives
        )
        neg = neg[ok]
        # which positive each pair belongs to (a negative shares its positive's anchor)
        src = np.r_[np.arange(len(pos)), np.flatnonzero(ok) // self.val_negatives]
        pairs = np.concatenate([pos, neg])
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        # Warm validation pairs get their features from the training graph minus the warm
        # validation pairs only (the cold carve's pairs are put back: they are not the pairs
        # being predicted); cold ones use the carved graph, where their held end has no partner.
        warm_graph = np.concatenate([fit_idx, cold]) if self.dense_warm_graph else fit_idx
        is_warm = src < len(warm)
        X = np.empty((len(pairs), len(FEATURES)))
        X[~is_warm] = feats.pairs(pairs[~is_warm])
        gnn_w = None if gnn is None else gnn.embed(warm_graph)
        feats_w = GraphFeatures(warm_graph, n, left, right, cal.embedding_, gnn_w)
        X[is_warm] = feats_w.pairs(pairs[is_warm])
        logger.info(
            "hybrid: features of %d validation pairs (%.1f s)", len(pairs), time.perf_counter() - t
        )
        group = self._groups(X[:, I_DEG_MIN])
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

    def effective_strength(self, train_idx: np.ndarray, n: int) -> tuple[float, dict[str, float]]:
        """(shrinkage strength, the training graph's coverage and transitivity)."""
        from calbio.models.graph.heuristics import adjacency

        a = adjacency(train_idx, n)
        c = float((np.diff(a.indptr) > 0).mean()) if n else 0.0
        t = transitivity(a)
        s = float(self.prior_strength)
        if self.gate == "coverage":
            s *= ((1.0 - c) / max(c, 1e-3)) ** self.gate_power
        elif self.gate == "transitivity":
            s *= t / max(1.0 - t, 1e-3)
        return s, {"coverage": c, "transitivity": t}

    def closure_strength(self, closure_value: float) -> float:
        """The closure gate's shrinkage for a graph of this :func:`closure` (0 when off)."""
        if self.closure_gap is None:
            return 0.0
        pull = (max(closure_value, 0.0) / self.closure_gap) ** CLOSURE_POWER
        return float(self.prior_strength) * pull

    def fit_combiners(self, val: dict[str, dict[str, Any]], strength: float) -> dict[str, Any]:
        """Warm and cold combiners of :meth:`validation_features`' output (cold reuses warm
        when the carve has too few cold pairs)."""
        prior = _prior_vector(self.prior)
        bounded = np.isin(FEATURES, EVIDENCE) if self.nonnegative else None
        combiners: dict[str, dict[str, np.ndarray]] = {}
        for name in _COMBINERS:
            X, y = val[name]["X"], val[name]["y"]
            if name == "cold" and (y.sum() < 2 or (1 - y).sum() < 2):
                combiners[name] = combiners["warm"]
                continue
            combiners[name] = fit_combiner(X, y, val[name]["src"], strength, prior, bounded)
        if self.cold_scale == "warm" and combiners["cold"] is not combiners["warm"]:
            combiners["cold"] = on_scale_of(combiners["cold"], combiners["warm"], val["cold"]["X"])
        return combiners

    def _fit(
        self,
        emb: Embeddings,
        mapped: MappedPairs,
        progress: Callable[[int, int, float], None] | None = None,
    ) -> None:
        t0 = time.perf_counter()
        logger.info("hybrid: fitting on %d pairs over %d entities", len(mapped.idx), len(emb))
        strength, self.graph_stats_ = self.effective_strength(mapped.idx, len(emb))
        val = self.validation_features(emb, mapped.idx, progress)
        self.closure_ = closure(val)
        strength = max(strength, self.closure_strength(self.closure_))
        self.strength_ = strength
        logger.info(
            "hybrid: training graph covers %.3f of the entities, transitivity %.3f, closure "
            "%.3f; combiner shrinkage %.3g",
            self.graph_stats_["coverage"],
            self.graph_stats_["transitivity"],
            self.closure_,
            strength,
        )
        logger.info("hybrid: [4/5] fitting the warm and cold combiners")
        combiners = self.fit_combiners(val, strength)
        report: dict[str, Any] = {"n_fit_pairs": int(len(val["fit"]["pairs"]))}
        for name in _COMBINERS:
            X, y = val[name]["X"], val[name]["y"]
            if y.sum() < 1 or (1 - y).sum() < 1:
                continue
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
        logger.info("hybrid: combiners fitted (%.1f s so far)", time.perf_counter() - t0)
        carved_cal, gnn = val["fit"]["cal"], val["fit"]["gnn"]
        del val  # the carved graph's features are not needed any more
        if self.refit_cal:
            t = time.perf_counter()
            logger.info("hybrid: [5/5] refitting CAL on all %d pairs", len(mapped.idx))
            self.cal_ = self._fit_cal(emb, mapped.idx, progress)
            logger.info("hybrid: CAL refitted on all %d pairs (%.1f s)", len(mapped.idx),
                        time.perf_counter() - t)  # fmt: skip
        else:
            self.cal_ = carved_cal
        self.embedding_ = self.cal_.embedding_
        # GraphSAGE is inductive: the encoder trained on the carved graph embeds the full one
        self.gnn_vectors_ = None if gnn is None else gnn.embed(mapped.idx)
        self._feats = None
        self.fit_seconds_ = time.perf_counter() - t0
        logger.info("hybrid: fitted in %.1f s", self.fit_seconds_)

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
        group = self._groups(feats[I_DEG_MIN])
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

    def weights(self) -> pd.DataFrame:
        """Combiner weights per standardised feature (rows: warm, cold; + intercept)."""
        self._check_fitted()
        rows = {}
        for name, c in self.combiners_.items():
            sd = c.get("sd", np.ones(len(FEATURES)))
            rows[name] = [*(np.asarray(c["coef"]) * sd), float(c["intercept"][0])]
        return pd.DataFrame.from_dict(rows, orient="index", columns=[*FEATURES, "intercept"])

    def explain(self, pairs: Any, top: int = 3) -> pd.DataFrame:
        """Why each pair scores as it does: additive contributions and shared neighbours.

        Columns: ``a, b, score``, ``combiner`` (warm / cold), one ``contrib_<feature>`` per
        feature (weight times the feature's standardised value: above 0 pushes the pair up)
        and ``contrib_intercept``, which together sum to ``score``; ``n_shared`` (shared
        training neighbours) and ``shared_neighbours`` (the ``top`` of them by Adamic-Adar
        weight, ``;``-joined, strongest first: the graph evidence).
        """
        idx = self.pair_index(pairs)
        f = self._features()
        X = f.pairs(idx)
        group = self._groups(X[:, I_DEG_MIN])
        contrib = np.empty((len(idx), len(FEATURES) + 1))
        for g, name in enumerate(_COMBINERS):
            c, sel = self.combiners_[name], group == g
            mu = c.get("mu", np.zeros(len(FEATURES)))
            coef = np.asarray(c["coef"])
            contrib[sel, :-1] = (X[sel] - mu) * coef
            contrib[sel, -1] = float(c["intercept"][0]) + float(coef @ mu)
        shared, count = f.shared_neighbours(idx, self.names_, top)
        out = pd.DataFrame(
            {
                "a": self.names_[idx[:, 0]],
                "b": self.names_[idx[:, 1]],
                "score": contrib.sum(axis=1),
                "combiner": np.asarray(_COMBINERS, dtype=object)[group],
            }
        )
        for j, name in enumerate([*FEATURES, "intercept"]):
            out[f"contrib_{name}"] = contrib[:, j]
        out["n_shared"] = count
        out["shared_neighbours"] = shared
        return out

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        cal_arrays, cal_state = self.cal_._get_state()
        arrays = {f"cal.{k}": v for k, v in cal_arrays.items()}
        for name, c in self.combiners_.items():
            for key in ("coef", "intercept", "mu", "sd"):
                if key in c:
                    arrays[f"combiner.{name}.{key}"] = np.asarray(c[key])
        if self.gnn_vectors_ is not None:
            arrays["gnn_vectors"] = self.gnn_vectors_
        state = {
            "cal": cal_state,
            "validation": self.validation_,
            "fit_seconds": float(self.fit_seconds_),
            "features": list(FEATURES),
            "gnn_used": bool(getattr(self, "gnn_used_", self.gnn_vectors_ is not None)),
            "graph_stats": dict(getattr(self, "graph_stats_", {})),
            "strength": float(getattr(self, "strength_", float("nan"))),
            "cold_scale": self.cold_scale,
            "closure_gap": self.closure_gap,
            "closure": float(getattr(self, "closure_", float("nan"))),
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
                key: arrays[f"combiner.{name}.{key}"]
                for key in ("coef", "intercept", "mu", "sd")
                if f"combiner.{name}.{key}" in arrays
            }
            for name in _COMBINERS
        }
        self.gnn_vectors_ = arrays.get("gnn_vectors")
        self.gnn_used_ = bool(state.get("gnn_used", self.gnn_vectors_ is not None))
        self.validation_ = state["validation"]
        self.fit_seconds_ = float(state["fit_seconds"])
        self.graph_stats_ = dict(state.get("graph_stats", {}))
        self.strength_ = float(state.get("strength", float("nan")))
        # a model saved before cold_scale existed had each combiner on its own Platt scale: its
        # parameters say so, so that a clone refits what was saved
        self.cold_scale = state.get("cold_scale", "own")
        # ... and one saved before the closure gate had none
        self.closure_gap = state.get("closure_gap")
        self.closure_ = float(state.get("closure", float("nan")))
        self._feats = None
