"""The pair sets an evaluation scores: positives, uniform and degree-matched negatives.

One :class:`PairSets` per scored set (the held-out test pairs, each validation file's novel
pairs, each transfer cell). The builders here are the only place that draws evaluation
negatives, so every protocol (``evaluate``, ``transfer``, ablations) draws them the same way:
never a known pair of any file involved, in either orientation, nor a self-pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from calbio.core.graph import known_csr, known_keys, pair_keys, sample_uniform_negatives
from calbio.core.seeds import stream
from calbio.evaluation.splits import Split, sample_degree_matched_negatives
from calbio.evaluation.timing import Timer


@dataclass
class PairSets:
    """One scored test set: positives, uniform and degree-matched negatives (row indices)."""

    name: str
    positives: np.ndarray
    negatives: np.ndarray
    dm_negatives: np.ndarray
    candidates: np.ndarray  # ranking candidates (entity rows)
    known: sp.csr_matrix  # every known pair (filtered out of rankings)
    cold: bool = False  # every positive touches an entity without training pairs

    def stacked(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pairs, label, set name) of positives, negatives and degree-matched negatives."""
        sets = np.concatenate([self.positives, self.negatives, self.dm_negatives])
        label = np.r_[
            np.ones(len(self.positives)), np.zeros(len(self.negatives) + len(self.dm_negatives))
        ]
        kind = np.r_[
            np.repeat("positive", len(self.positives)),
            np.repeat("negative", len(self.negatives)),
            np.repeat("degree_matched_negative", len(self.dm_negatives)),
        ]
        return sets, label, kind


@dataclass
class NovelPairs:
    """Pairs of another file that are absent from a reference file (the validation rule)."""

    stem: str
    positives: np.ndarray  # novel pairs (rows)
    universe: np.ndarray  # every entity of the other file (negatives are drawn from these)
    known_keys: np.ndarray  # keys of both files' pairs (never a negative)
    known: sp.csr_matrix  # both files' pairs (filtered out of rankings)
    n_mapped: int
    n_removed: int  # pairs of the other file already in the reference file


def sample_negatives(
    positives: np.ndarray,
    universe: np.ndarray,
    known_keys: np.ndarray,
    deg: np.ndarray,
    n: int,
    rng: np.random.Generator,
    held: np.ndarray | None,
    ratio: int,
    cap: int,
    timer: Timer | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(uniform, degree-matched) negatives for ``positives``: ``ratio`` per positive, <= cap."""
    timer = timer or Timer()
    with timer("negatives"):
        neg = sample_uniform_negatives(
            min(ratio * len(positives), cap), universe, known_keys, n, rng, held
        )
    with timer("degree_matched_negatives"):
        dm = sample_degree_matched_negatives(
            positives, ratio, universe, deg, known_keys, n, rng, held, cap
        )
    return neg, dm


def heldout_pairsets(
    pairs_idx: np.ndarray,
    split: Split,
    deg: np.ndarray,
    seed: int,
    negative_ratio: int = 5,
    max_negatives: int = 50_000,
    timer: Timer | None = None,
) -> PairSets:
    """The held-out test set of ``split`` (of all known pairs ``pairs_idx``) with negatives.

    ``deg``: training degrees (degree-matched negatives match them). Negatives are drawn with
    the run's ``"negatives"`` stream, uniform first, and are never any known pair.
    """
    n = split.n_entities
    rng = stream(seed, "negatives")
    all_keys = known_keys(pairs_idx, n)
    held = split.heldout_mask() if split.protocol == "node" else None
    neg, dm = sample_negatives(
        split.test_idx,
        split.universe,
        all_keys,
        deg,
        n,
        rng,
        held,
        negative_ratio,
        max_negatives,
        timer,
    )
    known = known_csr(pairs_idx, n)
    node = split.protocol == "node"
    return PairSets("test", split.test_idx, neg, dm, split.universe, known, cold=node)


def novel_pairs(stem: str, reference_idx: np.ndarray, other_idx: np.ndarray, n: int) -> NovelPairs:
    """The pairs of ``other_idx`` absent from ``reference_idx`` (in either orientation)."""
    ref_keys = known_keys(reference_idx, n)
    o_keys = pair_keys(other_idx, n)
    in_ref = np.isin(o_keys, ref_keys)
    return NovelPairs(
        stem,
        other_idx[~in_ref],
        np.unique(other_idx),
        np.union1d(ref_keys, o_keys),
        known_csr(np.concatenate([reference_idx, other_idx]), n),
        int(len(other_idx)),
        int(in_ref.sum()),
    )


def novel_pairsets(
    novel: NovelPairs,
    deg: np.ndarray,
    rng: np.random.Generator,
    negative_ratio: int = 5,
    max_negatives: int = 50_000,
    timer: Timer | None = None,
    cold_split: bool = False,
) -> list[PairSets]:
    """Pair sets of the novel pairs, with negatives from the other file's entities.

    ``cold_split`` (node protocol): a cold set (pairs touching an entity without training
    pairs, named ``stem``) and a warm set (``stem_warm``). Empty sets are left out.
    """
    n, pos, univ = len(deg), novel.positives, novel.universe
    groups: list[tuple[str, np.ndarray, np.ndarray, np.ndarray | None, bool]] = []
    if cold_split:
        unseen = deg == 0  # cold start = touches an entity never seen in a training pair
        cold = unseen[pos[:, 0]] | unseen[pos[:, 1]]
        groups.append((novel.stem, pos[cold], univ, unseen, True))
        groups.append((f"{novel.stem}_warm", pos[~cold], univ[~unseen[univ]], None, False))
    else:
        groups.append((novel.stem, pos, univ, None, False))
    out = []
    for gname, gpos, guniv, hmask, cold_set in groups:
        if not len(gpos):
            continue
        neg, dm = sample_negatives(
            gpos, guniv, novel.known_keys, deg, n, rng, hmask, negative_ratio, max_negatives, timer
        )
        out.append(PairSets(gname, gpos, neg, dm, guniv, novel.known, cold=cold_set))
    return out
