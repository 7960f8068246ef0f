"""``calbio transfer``: train on each pairs file in turn, score the others' novel pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from calbio.cli import common as c
from calbio.cli.app import app, console, err_console
from calbio.core.errors import CalbioInputError


@app.command()
@c.with_shared_options
def transfer(
    embeddings: c.EmbeddingsArg,
    pairs: Annotated[
        list[Path],
        typer.Argument(help="Two or more pairs files on the same table (each trains in turn)"),
    ],
    out: Annotated[Path, typer.Option(help="Directory for transfer.json and transfer_scores")],
    model: Annotated[
        list[str] | None,
        typer.Option(
            help="Model to fit and score (repeatable; e.g. cal, hybrid, sage); 'none' scores "
            "the shortcuts alone [default: " + c.DEFAULT_MODEL + "]"
        ),
    ] = None,
    n_boot: c.NBoot = c.eval_default("n_boot"),
    rank_sample: c.RankSample = None,
    negative_ratio: c.NegativeRatio = c.eval_default("negative_ratio"),
    heldout: Annotated[
        bool, typer.Option(help="Also evaluate each file on a held-out edge split (diagonal)")
    ] = True,
    force: c.Force = False,
    *,
    inputs: c.InputOptions,
    training: c.TrainingOptions,
) -> None:
    """Train on each pairs file in turn; score every other file's pairs absent from it."""
    from calbio.core.io import check_output
    from calbio.evaluation.transfer import transfer as run_transfer
    from calbio.report.console import print_transfer

    if len(pairs) < 2:
        raise CalbioInputError(
            "transfer needs at least 2 pairs files (one to train on, one to test on); got "
            f"{len(pairs)}"
        )
    check_output(out, force, inputs=inputs.paths(embeddings, *pairs), kind="dir")
    emb = inputs.embeddings(embeddings)
    loaded = [inputs.pairs(p, known_ids=emb.names) for p in pairs]
    for p in loaded:
        c.report_pair_drops(p)
    names = model or [c.DEFAULT_MODEL]
    err_console.print(
        f"{len(emb):,} entities x {emb.dim} features; "
        + ", ".join(f"{Path(p.source).name}: {len(p):,} pairs" for p in loaded)
    )
    with c.training_progress() as cb:
        result = run_transfer(
            emb,
            loaded,
            model=None if names == ["none"] else names,
            seed=training.seed,
            preset=training.preset,
            n_boot=n_boot,
            rank_sample=rank_sample,
            negative_ratio=negative_ratio,
            heldout=heldout,
            min_mapped=inputs.min_mapped,
            id_tables=inputs.id_resolver,
            progress=cb,
            **training.overrides,
        )
    result.save(out, force=force)
    print_transfer(result.to_dict(), console)
    console.print(f"wrote {out}/transfer.json and {out}/transfer_scores.csv.gz")
