"""``calbio`` entry point: fit, evaluate, score, query, demo."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from calbio.cli import common as c
from calbio.cli.app import app, console, err_console
from calbio.errors import CalbioInputError


@contextlib.contextmanager
def training_progress(quiet: bool = False) -> Iterator:
    """A rich progress bar fed by the trainer's per-epoch callback."""
    if quiet:
        yield None
        return
    with Progress(
        TextColumn("training"),
        BarColumn(),
        TextColumn("epoch {task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("train", total=None, loss=float("nan"))

        def update(epoch: int, total: int, loss: float) -> None:
            bar.update(task, completed=epoch, total=total, loss=loss)

        yield update


@app.command()
@c.with_shared_options
def fit(
    embeddings: c.EmbeddingsArg,
    pairs: c.PairsArg,
    out: Annotated[Path, typer.Option(help="Model directory to write")],
    force: c.Force = False,
    *,
    inputs: c.InputOptions,
    training: c.TrainingOptions,
) -> None:
    """Train CAL on ALL given pairs and write a model directory (no evaluation)."""
    from calbio._io import check_output
    from calbio.data.matching import map_pairs, summarize_mapping
    from calbio.model.estimator import CAL

    check_output(out, force, inputs=inputs.paths(embeddings, pairs), kind="dir")
    emb = inputs.embeddings(embeddings)
    prs = inputs.pairs(pairs, known_ids=emb.names)
    mapped = map_pairs(prs, emb, min_fraction=inputs.min_mapped)
    c.report_pair_drops(prs)
    err_console.print(summarize_mapping(mapped))
    model = CAL(training.preset, random_state=training.seed, **training.overrides)
    with training_progress() as cb:
        model.fit(emb, mapped, progress=cb)
    model.sources_["pairs"] = {"path": prs.source, "sha256": prs.sha256}
    model.save(out, force=force)
    console.print(
        f"wrote {out} ({len(model.train_pairs_):,} training pairs, {len(model.names_):,} "
        f"entities, final loss {model.history_.loss[-1]:.4f}, {model.fit_seconds_:.1f} s)"
    )


@app.command()
@c.with_shared_options
def evaluate(
    embeddings: c.EmbeddingsArg,
    pairs: c.PairsArg,
    out: Annotated[Path, typer.Option(help="Directory for metrics.json, scores and the model")],
    protocol: Annotated[str, typer.Option(help="edge (default) | node | transductive")] = "edge",
    validate_with: Annotated[
        list[Path] | None, typer.Option(help="Independent pairs file to validate on (repeatable)")
    ] = None,
    test_fraction: Annotated[float, typer.Option(help="Held-out fraction of pairs/entities")] = 0.3,
    cb_threshold: Annotated[float, typer.Option(help="Cross-boundary: |cosine| below this")] = 0.2,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for AUC CIs")] = 1000,
    force: c.Force = False,
    *,
    inputs: c.InputOptions,
    training: c.TrainingOptions,
) -> None:
    """Fit CAL under a protocol and print it beside cosine, degree and Adamic-Adar."""
    from calbio._io import check_output
    from calbio.data.pairs import load_pairs
    from calbio.evaluation.protocol import evaluate as run_evaluation
    from calbio.evaluation.splits import PROTOCOLS
    from calbio.options import check_evaluation
    from calbio.report.console import print_evaluation

    if protocol not in PROTOCOLS:
        raise CalbioInputError(f"--protocol must be one of {', '.join(PROTOCOLS)}")
    check_evaluation(test_fraction=test_fraction, n_boot=n_boot, cb_threshold=cb_threshold)
    sources = [*inputs.paths(embeddings, pairs), *(validate_with or [])]
    check_output(out, force, inputs=sources, kind="dir")
    emb = inputs.embeddings(embeddings)
    prs = inputs.pairs(pairs, known_ids=emb.names)
    c.report_pair_drops(prs)
    validation = [load_pairs(p) for p in (validate_with or [])]
    err_console.print(f"{len(emb):,} entities x {emb.dim} features; {len(prs):,} pairs read")
    with training_progress() as cb:
        result = run_evaluation(
            emb,
            prs,
            protocol=protocol,
            preset=training.preset,
            seed=training.seed,
            test_fraction=test_fraction,
            cb_threshold=cb_threshold,
            validate_with=validation,
            n_boot=n_boot,
            progress=cb,
            min_mapped=inputs.min_mapped,
            **training.overrides,
        )
    result.save(out, force=force)
    print_evaluation(result.to_dict(), console)
    console.print(f"wrote {out}/metrics.json")


@app.command()
def score(
    model_dir: Annotated[Path, typer.Argument(help="Model directory from `calbio fit`")],
    pairs: c.PairsArg,
    out: Annotated[Path | None, typer.Option(help="CSV to write (default: stdout)")] = None,
    columns: c.Columns = None,
    kind: Annotated[
        str | None, typer.Option("--score", help="half | both | cosine | blend")
    ] = None,
    min_mapped: c.MinMapped = 0.5,
    force: c.Force = False,
) -> None:
    """Score pairs with a fitted model: CSV of a, b, association, cosine.

    Identifiers the model does not know are counted on stderr and, with --out, listed in
    OUT.unknown.txt beside the CSV.
    """
    from calbio._io import check_output
    from calbio.api import score_pairs_table
    from calbio.data.pairs import unknown_identifiers
    from calbio.data.types import Embeddings
    from calbio.model.estimator import CAL
    from calbio.options import check_min_mapped, check_score_kind

    check_score_kind(kind)
    check_min_mapped(min_mapped)
    side = None if out is None else out.with_name(out.name + ".unknown.txt")
    if out is not None:
        check_output(out, force, inputs=[model_dir, pairs], kind="file")
        check_output(side, force, inputs=[model_dir, pairs], kind="file")
    model = CAL.load(model_dir)
    prs = c.read_pairs(pairs, columns, None, None, min_mapped=None, known_ids=model.names_)
    table = score_pairs_table(model, prs, kind=kind, min_mapped=min_mapped)
    unknown = unknown_identifiers(prs, Embeddings(model.names_, model.embedding_, source="model"))
    if len(unknown):
        where = f"; listed in {side}" if side is not None else ""
        err_console.print(
            f"{len(unknown):,} identifier(s) unknown to the model, their pairs were not scored "
            f"(e.g. {', '.join(map(str, unknown[:5]))}){where}",
            markup=False,
            highlight=False,
        )
    if out is None:
        table.to_csv(sys.stdout, index=False)
    else:
        from calbio._io import atomic_file, write_text_atomic

        with atomic_file(out) as tmp:
            table.to_csv(tmp, index=False)
        write_text_atomic(side, "".join(f"{x}\n" for x in unknown))
        err_console.print(f"wrote {len(table):,} scored pairs to {out}")


@app.command()
def query(
    model_dir: Annotated[Path, typer.Argument(help="Model directory from `calbio fit`")],
    gene: Annotated[str, typer.Argument(help="Entity to query")],
    top: Annotated[int, typer.Option(help="How many partners")] = 20,
    out: Annotated[Path | None, typer.Option(help="Also write the table as CSV")] = None,
    force: c.Force = False,
) -> None:
    """Ranked association partners of one entity, with cosine and training-pair flags."""
    from rich.table import Table

    from calbio._io import check_output
    from calbio.model.estimator import CAL
    from calbio.options import check_top

    check_top(top)
    if out is not None:
        check_output(out, force, inputs=[model_dir], kind="file")
    model = CAL.load(model_dir)
    table = model.query(gene, top=top)
    if out is not None:
        from calbio._io import atomic_file

        with atomic_file(out) as tmp:
            table.to_csv(tmp, index=False)
    t = Table(title=f"Top {len(table)} association partners of {gene}", title_justify="left")
    for col in ("rank", "partner", "association", "cosine", "training pair"):
        t.add_column(col, justify="right" if col not in ("partner",) else "left")
    for r in table.itertuples(index=False):
        t.add_row(
            str(r.rank),
            str(r.partner),
            f"{r.association:.3f}",
            f"{r.cosine:.3f}",
            "yes" if r.training_pair else "",
        )
    console.print(t)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Directory for the demo's outputs")] = Path(
        "calbio-demo"
    ),
    data: Annotated[
        Path | None,
        typer.Option(help="Run on real files instead: a folder with embeddings/ and associations/"),
    ] = None,
    preset: c.Preset = c.DEFAULT_PRESET,
    epochs: c.Epochs = None,
    force: c.Force = False,
) -> None:
    """Fit, evaluate and query end to end on the built-in synthetic world (or real data)."""
    from calbio.api import run_demo
    from calbio.report.console import print_evaluation

    with training_progress() as cb:
        result = run_demo(out, data=data, preset=preset, epochs=epochs, force=force, progress=cb)
    print_evaluation(result["metrics"], console)
    q = result["query"]
    console.print(
        f"Top partners of {result['query_entity']}: training_pair = seen in training; "
        "held_out_pair = a known pair the model never saw"
    )
    console.print(q.head(10).to_string(index=False))
    console.print(f"wrote {out}/ (metrics.json, model/, query.csv) in {result['seconds']:.0f} s")


# Command groups defined in their own modules register themselves on `app` when imported.
# (one import line per module; keep this block just above main())
import calbio.cli.context  # noqa: E402,F401
import calbio.cli.fetch  # noqa: E402,F401
import calbio.cli.space  # noqa: E402,F401
import calbio.cli.speed  # noqa: E402,F401
import calbio.cli.suite  # noqa: E402,F401


def guard_inputs(argv: list[str]) -> None:
    """Refuse an ``--out`` that equals or contains another path of the command line (any command).

    ``--force`` replaces the output; it must never destroy an input (issue 11).
    """
    from calbio._io import check_not_input

    outs, others = [], []
    if argv and not argv[0].startswith("-"):
        argv = argv[1:]  # the command's name, not a path
    it = iter(argv)
    for tok in it:
        if tok == "--out":
            outs.append(next(it, ""))
        elif tok.startswith("--out="):
            outs.append(tok.partition("=")[2])
        else:
            value = tok.partition("=")[2] if tok.startswith("--") else tok
            if value and not value.startswith("-") and Path(value).exists():
                others.append(value)
    for out in outs:
        if out:
            check_not_input(out, others)


def main() -> None:
    """Console entry point: bad input becomes one line on stderr and exit code 2."""
    try:
        guard_inputs(sys.argv[1:])
        app()
    except CalbioInputError as exc:
        err_console.print(f"calbio: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("calbio: interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
