"""A synthetic dose-response world with known equivalence: when is A equivalent to B at this dose?

Everything here is synthetic and labelled so (``source="synthetic-dose"``); it is not biology. It
exists to test whether a learned, context-conditioned equivalence g(A, B | c) recovers "same
mechanism" where cosine similarity of phenotypes does not.

Ground truth
------------
Features: phenotypes live in R^G (``n_features``).

1. **Mechanisms.** ``n_mechanisms`` mechanisms, each with a signature ``s_m``: a random unit vector.
2. **Stress.** ``n_stress`` shared stress programmes ``v_1..v_S`` (random unit vectors). Each
   perturbation draws its own stress mix ``v_p`` = normalised Dirichlet(1) combination of them and
   its own stress amplitude ``A_p = stress_amplitude * U(0.5, 1.5)``. Stress is unrelated to
   mechanism and dominates at high dose.
3. **Perturbations.** ``per_mechanism`` perturbations per mechanism. Perturbation p has mechanism
   ``m_p``, potency ``EC50_p = 10**U(-1.5, 1)``, Hill slope ``h_p ~ U(0.8, 3)``, a private
   off-target direction ``u_p`` (random unit vector, weight ``off_target``), a stress onset
   ``EC50s_p = EC50_p * 10**U(0.5, 1.5)`` (Hill slope 2) and, with probability
   ``biphasic_fraction``, a **biphasic** on-target response that switches off again above
   ``EC50off_p = EC50_p * 10**U(1, 1.5)``.
   Hill curve: ``H(d; e, h) = d**h / (e**h + d**h)``. On-target response
   ``r_p(d) = H(d; EC50_p, h_p) * (1 - H(d; EC50off_p, h_p) if biphasic else 1)``;
   stress ``t_p(d) = A_p * H(d; EC50s_p, 2)``.
4. **Cell lines (contexts).** ``n_lines`` lines. Line l expresses mechanism m with probability
   ``expressed_prob`` (``expressed[m, l]``; an unexpressed mechanism gives no on-target
   phenotype there) and reshapes phenotypes by a fixed linear map
   ``T_l = I + transform_strength * N(0, 1/G)``.
5. **Measurement.** At dose d in line l:
   ``y = T_l (r_p(d) * (expressed[m_p, l] * s_m + off_target * u_p) + t_p(d) * v_p) + eps``
   with ``eps ~ N(0, noise**2 / G)`` per feature (so ``|eps| ~ noise``): weak signal at low dose.
6. **Contexts** are (line, dose) for every dose in ``doses``; a context is named
   ``"<line>@<dose>"``, its label is the line and its covariate ``log10_dose``.

**Equivalence (ground truth):** A is equivalent to B in context c = (l, d) iff
``m_A == m_B`` and both are **active** there: ``expressed[m, l]`` and ``r_A(d) >=
active_threshold`` and ``r_B(d) >= active_threshold``. The positive pairs returned are exactly the
equivalent pairs of every context (context-specific pairs).
``truth["active"]`` is the (n_contexts, n_perturbations) activity matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from calbio.data.context import ContextEmbeddings, ContextPairs
from calbio.data.synthetic import SyntheticWorld, unit_vectors

__all__ = ["DEFAULT_DOSES", "DoseWorld", "hill", "make_dose_world", "oracle_equivalent"]

DEFAULT_DOSES: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


class DoseWorld(SyntheticWorld[ContextEmbeddings, ContextPairs]):
    """Context embeddings (line x dose), equivalent pairs per context, and the hidden truth."""


def hill(d: np.ndarray, ec50: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Hill curve d^h / (ec50^h + d^h), broadcasting."""
    d = np.asarray(d, dtype=np.float64)
    return 1.0 / (1.0 + (np.asarray(ec50) / d) ** np.asarray(slope))


@dataclass
class _Perturbations:
    """Per-perturbation truth: mechanism, potency, Hill slope, biphasic switch, stress mix."""

    mechanism: np.ndarray
    ec50: np.ndarray
    slope: np.ndarray
    biphasic: np.ndarray
    ec50_off: np.ndarray
    ec50_stress: np.ndarray
    stress_amplitude: np.ndarray
    stress_mix: np.ndarray  # (P, G) unit stress direction of each perturbation
    off_target: np.ndarray  # (P, G) unit private off-target direction

    @classmethod
    def draw(
        cls,
        rng: np.random.Generator,
        n_mechanisms: int,
        per_mechanism: int,
        stress: np.ndarray,
        stress_amplitude: float,
        biphasic_fraction: float,
    ) -> _Perturbations:
        """Draw ``per_mechanism`` perturbations of each mechanism (steps 2-3 of the module doc)."""
        P = n_mechanisms * per_mechanism
        mech = np.repeat(np.arange(n_mechanisms), per_mechanism)
        ec50 = 10.0 ** rng.uniform(-1.5, 1.0, P)
        slope = rng.uniform(0.8, 3.0, P)
        biphasic = rng.random(P) < biphasic_fraction
        ec50_off = ec50 * 10.0 ** rng.uniform(1.0, 1.5, P)
        ec50_stress = ec50 * 10.0 ** rng.uniform(0.5, 1.5, P)
        amp = stress_amplitude * rng.uniform(0.5, 1.5, P)
        mix = rng.dirichlet(np.ones(len(stress)), P) @ stress
        mix /= np.linalg.norm(mix, axis=1, keepdims=True)
        off = unit_vectors(rng, P, stress.shape[1])
        return cls(mech, ec50, slope, biphasic, ec50_off, ec50_stress, amp, mix, off)

    def responses(self, doses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """On-target responses r (D, P), biphasic ones switched off, and stress t (D, P)."""
        d = doses[:, None]
        r = hill(d, self.ec50[None], self.slope[None])
        r = np.where(
            self.biphasic[None], r * (1.0 - hill(d, self.ec50_off[None], self.slope[None])), r
        )
        t = self.stress_amplitude[None] * hill(d, self.ec50_stress[None], 2.0)
        return r, t


def make_dose_world(
    n_mechanisms: int = 10,
    per_mechanism: int = 16,
    n_features: int = 48,
    n_lines: int = 3,
    doses: tuple[float, ...] = DEFAULT_DOSES,
    *,
    seed: int = 0,
    n_stress: int = 3,
    stress_amplitude: float = 2.5,
    off_target: float = 0.4,
    noise: float = 0.35,
    biphasic_fraction: float = 0.3,
    expressed_prob: float = 0.8,
    transform_strength: float = 0.5,
    active_threshold: float = 0.25,
) -> DoseWorld:
    """Generate the documented dose-response world for a seed."""
    if n_mechanisms < 2 or per_mechanism < 2 or n_lines < 1 or not doses:
        raise ValueError("need >= 2 mechanisms, >= 2 perturbations each, >= 1 line and doses")
    if min(doses) <= 0:
        raise ValueError("doses must be positive")
    rng = np.random.default_rng(seed)
    G, M, L = n_features, n_mechanisms, n_lines
    sig = unit_vectors(rng, M, G)
    stress = unit_vectors(rng, n_stress, G)
    pert = _Perturbations.draw(rng, M, per_mechanism, stress, stress_amplitude, biphasic_fraction)
    expressed = rng.random((M, L)) < expressed_prob
    T = np.eye(G)[None] + transform_strength * rng.standard_normal((L, G, G)) / np.sqrt(G)
    dose_arr = np.asarray(doses, dtype=np.float64)
    mech, P = pert.mechanism, len(pert.mechanism)
    X, ctx_names, labels, ldose, active = _measure(
        rng, pert, sig, expressed, T, dose_arr, off_target, noise, active_threshold
    )
    k = len(ctx_names)
    names = np.array([f"P{i + 1:03d}_M{mech[i] + 1:02d}" for i in range(P)], dtype=object)
    cov = pd.DataFrame({"log10_dose": ldose}, index=pd.Index(ctx_names, name="context"))
    emb = ContextEmbeddings(
        names,
        np.array(ctx_names, dtype=object),
        X,
        np.tile(np.arange(P), k),
        np.repeat(np.arange(k), P),
        np.array(labels, dtype=object),
        cov,
        source="synthetic-dose",
        meta={"format": "synthetic-dose", "seed": seed},
    )
    pairs = _equivalent_pairs(mech, active, names, np.array(ctx_names, dtype=object))
    truth = {
        "mechanism": mech,
        "ec50": pert.ec50,
        "hill_slope": pert.slope,
        "biphasic": pert.biphasic,
        "ec50_off": pert.ec50_off,
        "ec50_stress": pert.ec50_stress,
        "stress_amplitude": pert.stress_amplitude,
        "expressed": expressed,
        "active": active,
        "doses": dose_arr,
        "lines": [f"L{i + 1}" for i in range(L)],
        "signatures": sig,
        "active_threshold": active_threshold,
        "description": (
            "Synthetic dose-response world: perturbations share a mechanism signature scaled by "
            "a Hill (sometimes biphasic) response, plus a perturbation-specific stress mix that "
            "dominates at high dose, line-specific linear transforms and mechanism expression, "
            "and measurement noise. A == B in (line, dose) iff same mechanism and both active."
        ),
    }
    return DoseWorld(emb, pairs, truth)


def _measure(
    rng: np.random.Generator,
    pert: _Perturbations,
    sig: np.ndarray,
    expressed: np.ndarray,
    T: np.ndarray,
    doses: np.ndarray,
    off_target: float,
    noise: float,
    active_threshold: float,
) -> tuple[np.ndarray, list[str], list[str], list[float], np.ndarray]:
    """Noisy phenotypes of every perturbation in every (line, dose) context (step 5).

    Returns the stacked rows (context-major), context names, line labels, log10 doses and the
    (n_contexts, P) activity matrix.
    """
    r, t = pert.responses(doses)
    mech = pert.mechanism
    P, G = pert.off_target.shape
    blocks, ctx_names, labels, ldose, active_rows = [], [], [], [], []
    for li in range(T.shape[0]):  # loop over lines x doses (contexts), vectorised over P
        e = expressed[mech, li].astype(np.float64)  # (P,)
        on_target = e[:, None] * sig[mech] + off_target * pert.off_target
        for di in range(len(doses)):
            clean = r[di][:, None] * on_target + t[di][:, None] * pert.stress_mix
            y = clean @ T[li].T + noise / np.sqrt(G) * rng.standard_normal((P, G))
            blocks.append(y.astype(np.float32))
            ctx_names.append(f"L{li + 1}@{doses[di]:g}")
            labels.append(f"L{li + 1}")
            ldose.append(np.log10(doses[di]))
            active_rows.append((e > 0) & (r[di] >= active_threshold))
    return np.concatenate(blocks), ctx_names, labels, ldose, np.stack(active_rows)


def _equivalent_pairs(
    mech: np.ndarray, active: np.ndarray, names: np.ndarray, contexts: np.ndarray
) -> ContextPairs:
    """The equivalent pairs of every context: same mechanism, both active there."""
    iu, ju = np.triu_indices(len(mech), 1)
    same = mech[iu] == mech[ju]
    iu, ju = iu[same], ju[same]
    both = active[:, iu] & active[:, ju]  # (k, n_same)
    cc, pp = np.nonzero(both)
    return ContextPairs(names[iu[pp]], names[ju[pp]], contexts[cc], "synthetic-dose")


def oracle_equivalent(world: DoseWorld, idx: np.ndarray, context: np.ndarray) -> np.ndarray:
    """Ground-truth equivalence of entity-index pairs (m, 2) in context indices (m,)."""
    idx = np.asarray(idx, dtype=np.int64).reshape(-1, 2)
    context = np.asarray(context, dtype=np.int64)
    mech, active = world.truth["mechanism"], world.truth["active"]
    return (
        (mech[idx[:, 0]] == mech[idx[:, 1]])
        & active[context, idx[:, 0]]
        & active[context, idx[:, 1]]
    )
