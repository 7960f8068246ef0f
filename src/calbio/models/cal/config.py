"""Training recipes, resolved from strings (``"paper"``) like PyKEEN resolves components."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# the valid choices live with their checks in calbio.core.options
from calbio.core.options import DEVICES, NEGATIVE_MODES, PRECISIONS, SCORE_KINDS, STRATEGIES
from calbio.core.seeds import DEFAULT_SEED


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a CAL training run; the defaults are the paper's recipe."""

    hidden: int = 1024  # width h of the residual MLP
    depth: int = 3  # number of Linear-LayerNorm-GELU blocks before the output layer
    tau: float = 0.05  # InfoNCE temperature
    batch_size: int = 512
    epochs: int = 100
    lr: float = 3e-4
    weight_decay: float = 1e-4
    schedule: str = (
        "cosine"  # "cosine" (annealed over `epochs`, stepped per epoch), "onecycle", "constant"
    )
    negatives: str = "in-batch"  # in-batch | random | degree
    n_negatives: int | None = None  # sampled negatives per batch (random/degree); None = batch_size
    degree_power: float = 1.0  # degree negatives drawn proportional to degree**power
    mask_false_negatives: bool = False  # never push apart a known positive sitting off-diagonal
    both_orientations: bool = False  # feed (a, b) and (b, a)
    drop_last: bool = False
    validation_fraction: float = (
        0.0  # carve a validation split from training pairs (early stopping)
    )
    patience: int | None = None  # epochs without validation improvement before stopping
    score: str = "half"  # how pairs are scored after training
    blend_lambda: float = 0.5  # weight of the learned score in "blend"
    pca: int | None = None  # PCA to k dimensions before L2 normalisation (fitted on the table)
    seed: int = DEFAULT_SEED
    threads: int | None = None  # torch intra-op threads; None leaves torch's default
    device: str = "cpu"  # auto | cpu | cuda | cuda:N | mps (auto: CUDA, then MPS, else CPU)
    precision: str = "fp32"  # fp32 | bf16 (bf16 autocast on accelerators only)
    devices: int = 1  # data-parallel processes on this machine (strategy "ddp")
    strategy: str = "auto"  # auto (one process) | ddp (Lightning Fabric, gathered negatives)

    def __post_init__(self) -> None:
        from calbio.core.options import check_training

        check_training(self.to_dict())  # the same checks and messages as the CLI
        if self.negatives not in NEGATIVE_MODES:
            raise ValueError(f"negatives must be one of {NEGATIVE_MODES}, got {self.negatives!r}")
        if self.score not in SCORE_KINDS:
            raise ValueError(f"score must be one of {SCORE_KINDS}, got {self.score!r}")
        if self.schedule not in ("cosine", "onecycle", "constant"):
            raise ValueError(f"unknown schedule {self.schedule!r}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError("validation_fraction must be in [0, 1)")
        base = self.device.split(":", 1)[0]
        if base not in DEVICES or (":" in self.device and base != "cuda"):
            raise ValueError(f"device must be one of {DEVICES} (or cuda:N), got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.devices < 1:
            raise ValueError("devices must be >= 1")
        if self.devices > 1 and self.strategy != "ddp":
            raise ValueError("devices > 1 needs strategy 'ddp'")
        if self.epochs < 1 or self.batch_size < 2 or self.hidden < 1:
            raise ValueError("epochs >= 1, batch_size >= 2 and hidden >= 1 are required")

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (``None`` values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown training options: {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for config.json."""
        return dataclasses.asdict(self)


PRESETS: dict[str, TrainConfig] = {
    # Dury 2026 (arXiv 2603.20955): h=1024, 3 blocks, tau=0.05, B=512, AdamW 3e-4 / 1e-4,
    # cosine annealing over 100 epochs, in-batch negatives, seed 42, half score.
    "paper": TrainConfig(),
    # Speed-tuned (benchmarks/speed.py, docs/performance.md): a 256-wide, 2-block MLP (~160k
    # parameters instead of 2.2M), 20 epochs of one-cycle AdamW at a peak lr of 2e-3, one torch
    # thread (small matrices gain nothing from a second thread, and a busy machine loses a lot).
    # Width 256 (not 128) was chosen on an inner split of training pairs so that held-out MRR and
    # Hits@10 match the paper recipe too, not only AUC (benchmarks/fast_preset.py).
    "fast": TrainConfig(hidden=256, depth=2, epochs=20, lr=2e-3, schedule="onecycle", threads=1),
}

PRESET_DESCRIPTIONS: dict[str, str] = {
    "paper": "the paper's recipe, unchanged (h=1024, 100 epochs, B=512, in-batch negatives)",
    "fast": "speed-tuned: h=256, 2 blocks, 20 one-cycle epochs at lr 2e-3, 1 thread (matches "
    "the paper's held-out AUC, MRR and Hits@10 on DepMap x STRING in about 1/100 of the time: "
    "benchmarks/FAST_PRESET.md)",
}


def get_preset(name: str | TrainConfig) -> TrainConfig:
    """Resolve a preset name (or pass a TrainConfig through)."""
    if isinstance(name, TrainConfig):
        return name
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}") from None
