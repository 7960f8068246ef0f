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

import numpy as np
import pandas as pd

from calbio.data.context import ContextEmbeddings, ContextPairs
from calbio.data.synthetic import SyntheticWorld

__all__ = ["DEFAULT_DOSES", "DoseWorld", "hill", "make_dose_world", "oracle_equivalent"]

DEFAULT_DOSES: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


class DoseWorld(SyntheticWorld[ContextEmbeddings, ContextPairs]):
    """Context embeddings (line x dose), equivalent pairs per context, and the hidden truth."""


def hill(d: np.ndarray, ec50: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Hill curve d^h / (ec50^h + d^h), broadcasting."""
    d = np.asarray(d, dtype=np.float64)
    return 1.0 / (1.0 + (np.asarray(ec50) / d) ** np.asarray(slope))


def _unit(rng: np.random.Generator, n: int, g: int) -> np.ndarray:
    v = rng.standard_normal((n, g))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


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
    P = M * per_mechanism
    sig = _unit(rng, M, G)
    stress = _unit(rng, n_stress, G)
    mech = np.repeat(np.arange(M), per_mechanism)
    log_ec50 = rng.uniform(-1.5, 1.0, P)
    ec50 = 10.0**log_ec50
    slope = rng.uniform(0.8, 3.0, P)
    biphasic = rng.random(P) < biphasic_fraction
    ec50_off = ec50 * 10.0 ** rng.uniform(1.0, 1.5, P)
    ec50_stress = ec50 * 10.0 ** rng.uniform(0.5, 1.5, P)
    amp = stress_amplitude * rng.uniform(0.5, 1.5, P)
    mix = rng.dirichlet(np.ones(n_stress), P) @ stress
    mix /= np.linalg.norm(mix, axis=1, keepdims=True)
    off = _unit(rng, P, G)
    expressed = rng.random((M, L)) < expressed_prob
    T = np.eye(G)[None] + transform_strength * rng.standard_normal((L, G, G)) / np.sqrt(G)

    dose_arr = np.asarray(doses, dtype=np.float64)
    D = len(dose_arr)
    # responses (D, P)
    r = hill(dose_arr[:, None], ec50[None], slope[None])
    r = np.where(
        biphasic[None], r * (1.0 - hill(dose_arr[:, None], ec50_off[None], slope[None])), r
    )
    t = amp[None] * hill(dose_arr[:, None], ec50_stress[None], 2.0)

    blocks, ctx_names, labels, ldose, active_rows = [], [], [], [], []
    for li in range(L):  # loop over lines x doses (contexts), vectorised over perturbations
        e = expressed[mech, li].astype(np.float64)  # (P,)
        for di in range(D):
            clean = r[di][:, None] * (e[:, None] * sig[mech] + off_target * off)
            clean += t[di][:, None] * mix
            y = clean @ T[li].T + noise / np.sqrt(G) * rng.standard_normal((P, G))
            blocks.append(y.astype(np.float32))
            ctx_names.append(f"L{li + 1}@{dose_arr[di]:g}")
            labels.append(f"L{li + 1}")
            ldose.append(np.log10(dose_arr[di]))
            active_rows.append((e > 0) & (r[di] >= active_threshold))
    k = len(ctx_names)
    names = np.array([f"P{i + 1:03d}_M{mech[i] + 1:02d}" for i in range(P)], dtype=object)
    cov = pd.DataFrame({"log10_dose": ldose}, index=pd.Index(ctx_names, name="context"))
    emb = ContextEmbeddings(
        names,
        np.array(ctx_names, dtype=object),
        np.concatenate(blocks),
        np.tile(np.arange(P), k),
        np.repeat(np.arange(k), P),
        np.array(labels, dtype=object),
        cov,
        source="synthetic-dose",
        meta={"format": "synthetic-dose", "seed": seed},
    )
    active = np.stack(active_rows)  # (k, P)
    # equivalent pairs of every context: same mechanism, both active
    iu, ju = np.triu_indices(P, 1)
    same = mech[iu] == mech[ju]
    iu, ju = iu[same], ju[same]
    both = active[:, iu] & active[:, ju]  # (k, n_same)
    cc, pp = np.nonzero(both)
    pairs = ContextPairs(
        names[iu[pp]], names[ju[pp]], np.array(ctx_names, dtype=object)[cc], "synthetic-dose"
    )
    truth = {
        "mechanism": mech,
        "ec50": ec50,
        "hill_slope": slope,
        "biphasic": biphasic,
        "ec50_off": ec50_off,
        "ec50_stress": ec50_stress,
        "stress_amplitude": amp,
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
