"""Shared CLI option types and the loaders they feed."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from calbio.data.embeddings import load_embeddings
from calbio.data.pairs import load_pairs, parse_min_score
from calbio.data.types import Embeddings, Pairs
from calbio.errors import CalbioInputError

EmbeddingsArg = Annotated[
    Path, typer.Argument(help="Embedding table: CSV/TSV, Parquet, .npy, .h5ad")
]
PairsArg = Annotated[Path, typer.Argument(help="Known associated pairs: CSV/TSV or STRING links")]
IdColumn = Annotated[
    str | None, typer.Option(help="Identifier column (CSV/Parquet) or obs column (h5ad)")
]
Layer = Annotated[str | None, typer.Option(help="h5ad layer to read instead of X")]
NamesFile = Annotated[Path | None, typer.Option(help="Identifiers for a .npy table, one per line")]
Drop = Annotated[str | None, typer.Option(help="Regex: drop matching rows (e.g. non-targeting)")]
Dedupe = Annotated[str | None, typer.Option(help="Duplicate identifiers: 'first' or 'mean'")]
Columns = Annotated[str | None, typer.Option(help="Pair identifier columns, 'a,b'")]
MinScore = Annotated[
    list[str] | None,
    typer.Option(help="Keep pairs with COLUMN >= VALUE (repeatable), e.g. combined_score=900"),
]
ProteinInfo = Annotated[
    Path | None, typer.Option(help="STRING protein.info file mapping ids to names")
]
# `fast` matched the paper recipe's held-out AUC on both edge and node protocols at ~1/100 of
# its training time (benchmarks/SPEED.md), so it is the CLI default; `paper` stays exact.
DEFAULT_PRESET = "fast"
Preset = Annotated[
    str,
    typer.Option(
        help="Training recipe: 'fast' (default; h=128, 20 one-cycle epochs) or 'paper' "
        "(the paper's exact recipe: h=1024, 100 epochs)"
    ),
]
Epochs = Annotated[int | None, typer.Option(help="Override the preset's epochs")]
Negatives = Annotated[str | None, typer.Option(help="in-batch | random | degree")]
Seed = Annotated[int, typer.Option(help="Random seed (splits, initialisation, batches)")]
Pca = Annotated[int | None, typer.Option(help="PCA to K dimensions before L2 normalisation")]
Hidden = Annotated[int | None, typer.Option(help="Hidden width h of the residual MLP")]
BatchSize = Annotated[int | None, typer.Option(help="Pairs per batch")]
Lr = Annotated[float | None, typer.Option(help="AdamW learning rate")]
MaskFN = Annotated[bool, typer.Option(help="Mask known positives among in-batch negatives")]
BothOrient = Annotated[bool, typer.Option(help="Feed each pair in both orientations")]
Score = Annotated[str | None, typer.Option(help="half | both | cosine | blend")]
BlendLambda = Annotated[float | None, typer.Option(help="Weight of the learned score in 'blend'")]
Threads = Annotated[int | None, typer.Option(help="torch CPU threads")]
Device = Annotated[
    str | None, typer.Option(help="auto | cpu | cuda | mps (auto: CUDA when present); default cpu")
]
Precision = Annotated[
    str | None, typer.Option(help="fp32 | bf16 (bf16 autocast on accelerators only)")
]
Devices = Annotated[int | None, typer.Option(help="Data-parallel processes (with --strategy ddp)")]
Strategy = Annotated[str | None, typer.Option(help="auto (one process) | ddp (data parallel)")]
MinMapped = Annotated[
    float,
    typer.Option(
        help="Smallest fraction of pairs that must map onto the table; lower it when the pairs "
        "file covers a larger universe than the embedding (e.g. genome-wide STRING)"
    ),
]
Force = Annotated[bool, typer.Option("--force", help="Overwrite existing outputs")]


def read_embeddings(
    path: Path,
    id_column: str | None,
    layer: str | None,
    names_file: Path | None,
    drop: str | None,
    dedupe: str | None,
) -> Embeddings:
    """Load an embedding table with the CLI's options."""
    return load_embeddings(
        path, id_column=id_column, layer=layer, names_file=names_file, drop=drop, dedupe=dedupe
    )


def parse_columns(columns: str | None) -> tuple[str, str] | None:
    """Parse ``--columns a,b`` into a pair of column names (None when not given)."""
    if not columns:
        return None
    parts = [x.strip() for x in columns.split(",")]
    if len(parts) != 2 or not all(parts):
        raise CalbioInputError(f"--columns must name two columns as 'a,b', got {columns!r}")
    return parts[0], parts[1]


def read_pairs(
    path: Path, columns: str | None, min_score: list[str] | None, protein_info: Path | None
) -> Pairs:
    """Load pairs with the CLI's options."""
    return load_pairs(
        path,
        columns=parse_columns(columns),
        min_score=parse_min_score(min_score or []) or None,
        protein_info=protein_info,
    )


def train_overrides(**kw: Any) -> dict[str, Any]:
    """Training overrides from CLI options: drop unset values and False flags."""
    return {k: v for k, v in kw.items() if v is not None and v is not False}


# --------------------------------------------------------------------------- shared option groups
# One definition of the input and training options that `fit` and `evaluate` both take.
INPUT_OPTIONS: dict[str, tuple[Any, Any]] = {
    "id_column": (IdColumn, None),
    "layer": (Layer, None),
    "names_file": (NamesFile, None),
    "drop": (Drop, None),
    "dedupe": (Dedupe, None),
    "columns": (Columns, None),
    "min_score": (MinScore, None),
    "protein_info": (ProteinInfo, None),
    "min_mapped": (MinMapped, 0.5),
}
TRAIN_OPTIONS: dict[str, tuple[Any, Any]] = {
    "preset": (Preset, DEFAULT_PRESET),
    "seed": (Seed, 42),
    "epochs": (Epochs, None),
    "negatives": (Negatives, None),
    "pca": (Pca, None),
    "hidden": (Hidden, None),
    "batch_size": (BatchSize, None),
    "lr": (Lr, None),
    "mask_false_negatives": (MaskFN, False),
    "both_orientations": (BothOrient, False),
    "score": (Score, None),
    "blend_lambda": (BlendLambda, None),
    "threads": (Threads, None),
    "device": (Device, None),
    "precision": (Precision, None),
    "devices": (Devices, None),
    "strategy": (Strategy, None),
}


@dataclass(frozen=True)
class InputOptions:
    """How to read the embedding table and the pairs file."""

    id_column: str | None = None
    layer: str | None = None
    names_file: Path | None = None
    drop: str | None = None
    dedupe: str | None = None
    columns: str | None = None
    min_score: list[str] | None = None
    protein_info: Path | None = None
    min_mapped: float = 0.5

    def embeddings(self, path: Path) -> Embeddings:
        """Load the embedding table."""
        return read_embeddings(
            path, self.id_column, self.layer, self.names_file, self.drop, self.dedupe
        )

    def pairs(self, path: Path) -> Pairs:
        """Load the pairs file."""
        return read_pairs(path, self.columns, self.min_score, self.protein_info)


@dataclass(frozen=True)
class TrainingOptions:
    """Preset, seed and the preset fields overridden on the command line."""

    preset: str = DEFAULT_PRESET
    seed: int = 42
    overrides: dict[str, Any] = field(default_factory=dict)


def with_shared_options(
    fn: Callable[..., Any] | None = None,
    *,
    train: tuple[str, ...] | None = None,
    inputs: tuple[str, ...] | None = None,
    defaults: dict[str, Any] | None = None,
) -> Any:
    """Give a command the shared input and training options, passed as ``inputs``/``training``.

    ``train`` / ``inputs`` name a subset of TRAIN_OPTIONS / INPUT_OPTIONS (default: all);
    ``defaults`` changes a default (e.g. ``{"min_mapped": 0.1}``).
    """
    train_names = tuple(TRAIN_OPTIONS) if train is None else train
    input_names = tuple(INPUT_OPTIONS) if inputs is None else inputs
    table = {**TRAIN_OPTIONS, **INPUT_OPTIONS}
    chosen = {
        n: (table[n][0], (defaults or {}).get(n, table[n][1])) for n in (*train_names, *input_names)
    }

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(func, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name not in ("inputs", "training")]
        extra = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a)
            for name, (a, d) in chosen.items()
        ]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            given_inputs = InputOptions(**{k: kwargs.pop(k) for k in input_names})
            train_values = {k: kwargs.pop(k) for k in train_names}
            head = {k: train_values.pop(k) for k in ("preset", "seed") if k in train_values}
            training = TrainingOptions(**head, overrides=train_overrides(**train_values))
            return func(**kwargs, inputs=given_inputs, training=training)

        params = own + extra
        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate(fn) if fn is not None else decorate
