"""Shared CLI option types and the loaders they feed."""

from __future__ import annotations

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


def read_pairs(
    path: Path, columns: str | None, min_score: list[str] | None, protein_info: Path | None
) -> Pairs:
    """Load pairs with the CLI's options."""
    cols = None
    if columns:
        parts = [c.strip() for c in columns.split(",")]
        if len(parts) != 2 or not all(parts):
            raise CalbioInputError(f"--columns must name two columns as 'a,b', got {columns!r}")
        cols = (parts[0], parts[1])
    return load_pairs(
        path,
        columns=cols,
        min_score=parse_min_score(min_score or []) or None,
        protein_info=protein_info,
    )


def train_overrides(**kw: Any) -> dict[str, Any]:
    """Training overrides from CLI options: drop unset values and False flags."""
    return {k: v for k, v in kw.items() if v is not None and v is not False}
