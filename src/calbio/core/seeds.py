"""The run's seed and its named random streams.

One integer seed per run (``DEFAULT_SEED`` when the user gives none). Every random step draws
from its own child of ``numpy.random.SeedSequence(seed)``, named by what it draws ("split",
"negatives", "bootstrap", "ranking", "model/cal", ...), never from ``seed + offset``: offsets
collide across runs (seed 42's negatives were seed 49's split), named children do not. The name
is encoded as the child's ``spawn_key`` (words of its SHA-256, the same on every platform and
run; Python's ``hash`` is salted per process), so ``stream(s, a)`` and ``stream(t, b)`` are
independent unless ``(s, a) == (t, b)``.

Names in use (a "/" nests them; a model's own steps are named under its ``random_state``):

- evaluation: ``split``, ``negatives`` (held-out test), ``negatives/<set>`` (each validation
  file), ``bootstrap``, ``bootstrap/hits@10``, ``ranking`` (rank sample),
  ``paired/<set>/<metric>`` (verdicts), ``transfer/<train>-><test>``, ``model/<name>`` (each
  chosen model's ``random_state``);
- inside a model: ``init`` (torch initialisation), ``batches`` (batch order and sampled
  negatives), ``validation_carve`` (early stopping), ``pca``, ``sage/sampling``,
  ``hybrid/{cal,sage,negatives,cold_entities,warm_pairs}``,
  ``context/{batches,calibration,calibration_negatives,few_shot}``;
- analyses: ``ablation/shuffle``, ``doctor/independence``, ``sweep/validation_negatives``,
  ``context_analysis/few_shot``, ``model/cal`` and ``model/context`` (the models an analysis
  fits itself).
"""

from __future__ import annotations

import hashlib

import numpy as np

DEFAULT_SEED: int = 42


def seed_or_default(random_state: int | None) -> int:
    """``random_state`` as an int, or :data:`DEFAULT_SEED` when it is None."""
    return DEFAULT_SEED if random_state is None else int(random_state)


def _name_key(name: str) -> tuple[int, ...]:
    """Four 32-bit words of the name's SHA-256: a stable spawn key (not the salted ``hash``)."""
    if not name:
        raise ValueError("a random stream needs a non-empty name")
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def seed_sequence(seed: int | None, name: str) -> np.random.SeedSequence:
    """The child of ``SeedSequence(seed)`` named ``name`` (seed None: :data:`DEFAULT_SEED`)."""
    return np.random.SeedSequence(seed_or_default(seed), spawn_key=_name_key(name))


def stream(seed: int | None, name: str) -> np.random.Generator:
    """A fresh generator on the named stream of ``seed``: same (seed, name), same draws."""
    return np.random.default_rng(seed_sequence(seed, name))


def child_seed(seed: int | None, name: str) -> int:
    """An int seed (in [0, 2**32)) for the named stream: for torch, scikit-learn or a hash."""
    return int(seed_sequence(seed, name).generate_state(1, np.uint32)[0])
