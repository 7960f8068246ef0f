"""The default seed: what every seeded step uses when the user gives none."""

from __future__ import annotations

DEFAULT_SEED: int = 42


def seed_or_default(random_state: int | None) -> int:
    """``random_state`` as an int, or :data:`DEFAULT_SEED` when it is None."""
    return DEFAULT_SEED if random_state is None else int(random_state)
