"""Training recipes, resolved from strings (``"paper"``) like PyKEEN resolves components."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# the valid choices live with their checks in calbio.core.options
from calbio.core.options import (
    NEGATIVE_MODES,
    PRECISIONS,
    SCORE_KINDS,
    STRATEGIES,
    OptionSpec,
    Rule,
    at_least,
    check_device,
    check_options,
    fraction,
    non_negative,
    one_of,
    positive,
    spec_table,
)
from calbio.core.seeds import DEFAULT_SEED

SCHEDULES: tuple[str, ...] = ("cosine", "onecycle", "constant")
S = OptionSpec

# Every knob of a CAL training run, declared once: default (the paper's recipe), check and help.
# TrainConfig's fields are generated from these; the CLI options (calbio.cli.common), the API
# checks (TrainConfig, check_training) and the estimators' parameters all read them.
CAL_SPECS: dict[str, OptionSpec] = spec_table(
    [
        S("hidden", int, 1024, "Hidden width h of the residual MLP", at_least(1)),
        S(
            "depth",
            int,
            3,
            "Linear-LayerNorm-GELU blocks before the output layer",
            at_least(0),
            cli=False,
        ),
        S("tau", float, 0.05, "InfoNCE temperature", positive(), cli=False),
        S("batch_size", int, 512, "Pairs per batch", at_least(2)),
        S("epochs", int, 100, "Override the preset's epochs", at_least(1)),
        S("lr", float, 3e-4, "AdamW learning rate", positive()),
        S("weight_decay", float, 1e-4, "AdamW weight decay", non_negative(), cli=False),
        S(
            "schedule",
            str,
            "cosine",
            "cosine (annealed over the epochs) | onecycle | constant",
            one_of(SCHEDULES),
            cli=False,
        ),
        S("negatives", str, "in-batch", "in-batch | random | degree", one_of(NEGATIVE_MODES)),
        S(
            "n_negatives",
            int,
            None,
            "Sampled negatives per batch (random/degree; default: the batch size)",
            at_least(1),
            optional=True,
            cli=False,
        ),
        S(
            "degree_power",
            float,
            1.0,
            "Degree negatives drawn proportional to degree**power",
            non_negative(),
            cli=False,
        ),
        S(
            "mask_false_negatives",
            bool,
            False,
            "Mask known positives among in-batch negatives",
            cli_default=False,
        ),
        S(
            "both_orientations",
            bool,
            False,
            "Feed each pair in both orientations",
            cli_default=False,
        ),
        S("drop_last", bool, False, "Drop the last incomplete batch", cli=False),
        S(
            "validation_fraction",
            float,
            0.0,
            "Carve this fraction of the training pairs out for validation loss",
            fraction(low_open=False),
        ),
        S(
            "patience",
            int,
            None,
            "Early stopping: epochs without validation improvement (needs --validation-fraction)",
            at_least(1),
            optional=True,
        ),
        S("score", str, "half", "half | both | cosine | blend", one_of(SCORE_KINDS)),
        S(
            "blend_lambda",
            float,
            0.5,
            "Weight of the learned score in 'blend'",
            fraction(low_open=False, high_open=False),
        ),
        S(
            "pca",
            int,
            None,
            "PCA to K dimensions before L2 normalisation",
            at_least(1),
            optional=True,
        ),
        S(
            "seed",
            int,
            DEFAULT_SEED,
            "Random seed (splits, initialisation, batches)",
            at_least(0),
            cli_default=DEFAULT_SEED,
        ),
        S("threads", int, None, "torch CPU threads", at_least(1), optional=True),
        S(
            "device",
            str,
            "cpu",
            "auto | cpu | cuda | mps (auto: CUDA when present); default cpu",
            check_device,
        ),
        S(
            "precision",
            str,
            "fp32",
            "fp32 | bf16 (bf16 autocast on accelerators only)",
            one_of(PRECISIONS),
        ),
        S("devices", int, 1, "Data-parallel processes (with --strategy ddp)", at_least(1)),
        S("strategy", str, "auto", "auto (one process) | ddp (data parallel)", one_of(STRATEGIES)),
    ]
)

# Rules across training options, declared once (the CLI and the API raise the same text).
TRAIN_RULES: tuple[Rule, ...] = (
    Rule(
        ("patience", "validation_fraction"),
        lambda v: v.get("patience") is not None and not v.get("validation_fraction"),
        "--patience needs --validation-fraction (e.g. 0.1): early stopping watches the loss on "
        "validation pairs carved out of the training pairs",
    ),
    Rule(
        ("devices", "strategy"),
        lambda v: (v.get("devices") or 1) > 1 and v.get("strategy") != "ddp",
        "--devices > 1 needs strategy 'ddp' (--strategy ddp)",
    ),
)


def check_training(options: Mapping[str, Any]) -> None:
    """Validate training options (TrainConfig fields; ``None`` = unset), then the rules."""
    check_options(CAL_SPECS, options, TRAIN_RULES)


def _default(name: str) -> Any:
    return CAL_SPECS[name].default


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a CAL training run; the defaults are the paper's recipe.

    Each field's default, check and help text are declared once, in :data:`CAL_SPECS` (same
    names, same order: tests/models/test_cal_config.py holds them together).
    """

    hidden: int = _default("hidden")
    depth: int = _default("depth")
    tau: float = _default("tau")
    batch_size: int = _default("batch_size")
    epochs: int = _default("epochs")
    lr: float = _default("lr")
    weight_decay: float = _default("weight_decay")
    schedule: str = _default("schedule")
    negatives: str = _default("negatives")
    n_negatives: int | None = _default("n_negatives")
    degree_power: float = _default("degree_power")
    mask_false_negatives: bool = _default("mask_false_negatives")
    both_orientations: bool = _default("both_orientations")
    drop_last: bool = _default("drop_last")
    validation_fraction: float = _default("validation_fraction")
    patience: int | None = _default("patience")
    score: str = _default("score")
    blend_lambda: float = _default("blend_lambda")
    pca: int | None = _default("pca")
    seed: int = _default("seed")
    threads: int | None = _default("threads")
    device: str = _default("device")
    precision: str = _default("precision")
    devices: int = _default("devices")
    strategy: str = _default("strategy")

    def __post_init__(self) -> None:
        check_options(CAL_SPECS, self.to_dict(), TRAIN_RULES, skip_unset=False)

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
