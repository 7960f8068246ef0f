"""The paper's experiment suite as commands: doctor, ablate, sweep, degree, run."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from calbio.cli import common as c
from calbio.cli.app import app, console, err_console
from calbio.core.errors import CalbioInputError
from calbio.core.seeds import DEFAULT_SEED

sweep_app = typer.Typer(
    help="The paper's sweeps: evidence thresholds, blend weight λ, cross-boundary cut-off.",
    no_args_is_help=True,
)
app.add_typer(sweep_app, name="sweep")

Seeds = Annotated[str, typer.Option(help="Comma-separated seeds; mean ± SD over them")]
JsonOut = Annotated[Path | None, typer.Option(help="Also write the full result as JSON here")]
CbThreshold = Annotated[float, typer.Option(help="Cross-boundary: |cosine| below this")]


def _seeds(text: str) -> list[int]:
    try:
        out = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise CalbioInputError(f"--seeds must be comma-separated integers, got {text!r}") from None
    if not out:
        raise CalbioInputError("--seeds is empty")
    return out


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise CalbioInputError(f"{name} must be comma-separated numbers, got {text!r}") from None


def print_tables(tables: list[dict[str, Any]]) -> None:
    """Print analysis tables (title, columns, rows, notes) with rich."""
    for t in tables:
        rt = Table(title=t["title"], title_justify="left", header_style="bold")
        for col in t["columns"]:
            rt.add_column(str(col), overflow="fold")
        for row in t["rows"]:
            rt.add_row(*[str(x) for x in row])
        console.print(rt)
        for note in t.get("notes", []):
            console.print(note, style="dim", markup=False, highlight=False)
        console.print()


def _write_json(path: Path | None, obj: Any, force: bool) -> None:
    if path is None:
        return
    from calbio.core.io import check_output_file, write_json_atomic

    check_output_file(path, force)
    write_json_atomic(path, obj)
    err_console.print(f"wrote {path}")


def _log(msg: str) -> None:
    err_console.print(msg, style="dim", markup=False, highlight=False)


@app.command()
@c.with_shared_options(train=("seed", "pca", "threads"))
def doctor(
    embeddings: c.EmbeddingsArg,
    pairs: c.PairsArg,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON only (nothing else on stdout)")
    ] = False,
    quick_epochs: Annotated[int, typer.Option(help="Epochs of the quick shuffled check")] = 10,
    quick_hidden: Annotated[int, typer.Option(help="Hidden width of the quick check")] = 256,
    no_train: Annotated[
        bool, typer.Option("--no-train", help="Skip the (quick) shuffled-ablation training")
    ] = False,
    *,
    inputs: c.InputOptions,
    training: c.TrainingOptions,
) -> None:
    """The paper's deployment checklist: a verdict, a number and a recommendation per check."""
    from calbio.analysis.doctor import run_doctor
    from calbio.core.io import to_json

    emb = inputs.embeddings(embeddings)
    prs = c.read_pairs(pairs, inputs.columns, inputs.min_score, inputs.protein_info)
    report = run_doctor(
        emb,
        prs,
        pca=training.overrides.get("pca"),
        seed=training.seed,
        min_mapped=inputs.min_mapped,
        id_tables=inputs.id_resolver,
        train_check=not no_train,
        quick_training={"hidden": quick_hidden, "epochs": quick_epochs},
        threads=training.overrides.get("threads"),
        log=None if as_json else _log,
    )
    if as_json:
        sys.stdout.write(to_json(report))
        return
    styles = {"ok": "green", "info": "blue", "warning": "yellow", "problem": "bold red"}
    for chk in report["checks"]:
        console.print(
            f"[{styles[chk['verdict']]}]{chk['verdict'].upper():8}[/] [bold]{chk['name']}[/]"
        )
        console.print(f"         {chk['detail']}", markup=False, highlight=False)
        console.print(f"         -> {chk['recommendation']}", markup=False, highlight=False)
    console.print("Positive-pair cosine histogram:")
    console.print(report["positive_cosine_histogram"], markup=False, highlight=False)
    console.print(f"overall: {report['overall'].upper()} ({report['seconds']:.0f} s)")


@app.command()
@c.with_shared_options(train=("preset", "epochs", "hidden", "batch_size", "lr", "pca", "threads"))
def ablate(
    embeddings: c.EmbeddingsArg,
    pairs: c.PairsArg,
    out: Annotated[Path, typer.Option(help="Directory for ablation.json and ablation.md")],
    seeds: Seeds = str(DEFAULT_SEED),
    conditions: Annotated[
        str | None,
        typer.Option(help="Comma-separated subset of full,shuffled,similar,random_negatives,node"),
    ] = None,
    test_fraction: Annotated[float, typer.Option(help="Held-out fraction of pairs")] = 0.3,
    cb_threshold: CbThreshold = 0.2,
    force: c.Force = False,
    *,
    inputs: c.InputOptions,
    training: c.TrainingOptions,
) -> None:
    """The paper's Table 4, honestly: every condition scored on the same held-out test pairs."""
    from calbio.analysis.ablation import CONDITIONS
    from calbio.analysis.ablation import ablate as run_ablation
    from calbio.core.io import atomic_dir, write_json_atomic, write_text_atomic
    from calbio.data.coerce import as_mapped_pairs
    from calbio.report.tables import tables_markdown

    conds = [x.strip() for x in conditions.split(",")] if conditions else list(CONDITIONS)
    bad = [x for x in conds if x not in CONDITIONS]
    if bad:
        raise CalbioInputError(f"--conditions: unknown {bad}; choose from {list(CONDITIONS)}")
    if out.exists() and not force:
        from calbio.core.errors import OutputExistsError

        raise OutputExistsError("output directory already exists; pass --force to overwrite", out)
    emb = inputs.embeddings(embeddings)
    mapped = as_mapped_pairs(inputs.pairs(pairs), emb, inputs.min_mapped, inputs.id_resolver)
    result = run_ablation(
        emb,
        mapped,
        seeds=_seeds(seeds),
        conditions=conds,
        preset=training.preset,
        test_fraction=test_fraction,
        cb_threshold=cb_threshold,
        log=_log,
        **training.overrides,
    )
    with atomic_dir(out, force=force) as tmp:
        write_json_atomic(tmp / "ablation.json", result)
        write_text_atomic(tmp / "ablation.md", tables_markdown(result["tables"]))
    print_tables(result["tables"])
    console.print(f"wrote {out}/ablation.json and ablation.md")


SWEEP_TRAINING = ("preset", "epochs", "hidden", "negatives", "pca", "threads")


# The options every `calbio sweep` over a table and a pairs file takes besides its own.
SWEEP_OPTIONS: dict[str, tuple[Any, Any]] = {
    "seeds": (Seeds, str(DEFAULT_SEED)),
    "cb_threshold": (CbThreshold, 0.2),
    "out": (JsonOut, None),
    "force": (c.Force, False),
}


def sweep_command(name: str, **shared: Any) -> Callable[[Callable[..., Any]], Any]:
    """Register ``calbio sweep NAME`` from a function of its own options that returns
    ``(sweep, options)``.

    The command also takes the embedding table and the pairs file, SWEEP_OPTIONS and the shared
    options (``shared``: ``inputs``/``defaults`` of :func:`calbio.cli.common.with_shared_options`,
    training options SWEEP_TRAINING); it reads both files, runs
    ``sweep(embeddings, pairs, seeds=..., cb_threshold=..., **options)``, prints the tables and
    writes ``--out``.
    """

    def decorate(func: Callable[..., Any]) -> Any:
        P = inspect.Parameter
        own = list(inspect.signature(func, eval_str=True).parameters.values())
        files = [
            P("embeddings", P.POSITIONAL_OR_KEYWORD, annotation=c.EmbeddingsArg),
            P("pairs", P.POSITIONAL_OR_KEYWORD, annotation=c.PairsArg),
        ]
        common = [
            P(k, P.KEYWORD_ONLY, default=d, annotation=a) for k, (a, d) in SWEEP_OPTIONS.items()
        ]

        @functools.wraps(func)
        def command(**kwargs: Any) -> None:
            inputs: c.InputOptions = kwargs.pop("inputs")
            training: c.TrainingOptions = kwargs.pop("training")
            emb, prs, seeds, cb_threshold, out, force = (
                kwargs.pop(k) for k in ("embeddings", "pairs", *SWEEP_OPTIONS)
            )
            sweep, options = func(**kwargs)
            result = sweep(
                inputs.embeddings(emb),
                inputs.pairs(prs),
                min_mapped=inputs.min_mapped,
                id_tables=inputs.id_resolver,
                preset=training.preset,
                log=_log,
                seeds=_seeds(seeds),
                cb_threshold=cb_threshold,
                **options,
                **training.overrides,
            )
            print_tables(result["tables"])
            _write_json(out, result, force)

        params = files + own + common  # with_shared_options adds the rest
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return sweep_app.command(name)(
            c.with_shared_options(command, train=SWEEP_TRAINING, **shared)
        )

    return decorate


@sweep_command(
    "threshold",
    inputs=("id_column", "columns", "protein_info", "min_mapped", "id_tables"),
    defaults={"min_mapped": 0.1},
)
def sweep_threshold(
    column: Annotated[str | None, typer.Option(help="Score column to threshold")] = (
        "combined_score"
    ),
    values: Annotated[str, typer.Option(help="Comma-separated thresholds")] = "400,700,900",
    channel: Annotated[
        list[str] | None,
        typer.Option(help="Extra filter row COLUMN=VALUE (repeatable), e.g. experimental=700"),
    ] = None,
    validate_with: Annotated[
        list[Path] | None, typer.Option(help="Independent pairs file to validate on (repeatable)")
    ] = None,
    protocol: Annotated[str, typer.Option(help="edge | node | transductive")] = "edge",
) -> tuple[Callable[..., dict[str, Any]], dict[str, Any]]:
    """Pairs, CB fraction, cosine stats (Table 1) and held-out AUC per threshold (Tables 2-3)."""
    from calbio.analysis.sweep import threshold_sweep
    from calbio.data.pairs import load_pairs, parse_min_score

    return threshold_sweep, {
        "column": column,
        "values": _floats(values, "--values") if column else [],
        "channels": [parse_min_score([x]) for x in channel or []],
        "protocol": protocol,
        "validate_with": [load_pairs(p) for p in validate_with or []],
    }


@sweep_command(
    "lambda",
    inputs=("id_column", "columns", "min_score", "protein_info", "min_mapped", "id_tables"),
)
def sweep_lambda(
    lambdas: Annotated[str, typer.Option(help="Comma-separated λ values")] = (
        "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1"
    ),
    validation_fraction: Annotated[
        float, typer.Option(help="Fraction of TRAINING pairs used to choose λ")
    ] = 0.2,
    select: Annotated[str, typer.Option(help="Choose λ by validation 'auc' or 'cb_auc'")] = "auc",
) -> tuple[Callable[..., dict[str, Any]], dict[str, Any]]:
    """Blend weight λ chosen on a validation split of training pairs, reported on test."""
    from calbio.analysis.sweep import lambda_sweep

    return lambda_sweep, {
        "lambdas": _floats(lambdas, "--lambdas"),
        "validation_fraction": validation_fraction,
        "select": select,
    }


@sweep_app.command("cb")
def sweep_cb(
    runs: Annotated[
        list[Path], typer.Argument(help="Run directories from `calbio evaluate --out` (seeds)")
    ],
    thresholds: Annotated[str, typer.Option(help="Comma-separated |cosine| cut-offs")] = (
        "0.3,0.2,0.15,0.1,0.05"
    ),
    out: JsonOut = None,
    force: c.Force = False,
) -> None:
    """Cross-boundary AUC at several |cosine| cut-offs (paper Table 13), from held-out scores."""
    from calbio.analysis.degree import load_run_scores
    from calbio.analysis.sweep import cb_sensitivity

    frames = [df for r in runs for _, df in load_run_scores(r)]
    result = cb_sensitivity(frames, _floats(thresholds, "--thresholds"))
    print_tables(result["tables"])
    _write_json(out, result, force)


@app.command()
def degree(
    model_or_run: Annotated[
        Path,
        typer.Argument(help="Run directory of `calbio evaluate --out`, or a model directory"),
    ],
    pairs: Annotated[
        Path | None,
        typer.Option(help="With a model directory: held-out pairs to analyse (training excluded)"),
    ] = None,
    cb_threshold: CbThreshold = 0.2,
    top: Annotated[int, typer.Option(help="How many top-lift pairs to list")] = 20,
    out: JsonOut = None,
    id_tables: c.IdTables = None,
    force: c.Force = False,
) -> None:
    """Degree dependence: Spearman ρ, CB improvement by degree quintile, top-lift pairs."""
    from calbio.analysis.degree import degree_report, load_run_scores, scores_from_model

    if (model_or_run / "config.json").is_file() and not (model_or_run / "metrics.json").is_file():
        if pairs is None:
            raise CalbioInputError("a model directory needs --pairs (pairs to analyse)")
        from calbio.data.identifiers import id_resolver
        from calbio.data.pairs import load_pairs
        from calbio.models.cal.estimator import CAL

        # outdated symbols / other namespaces map through --id-tables (else $CALBIO_ID_TABLES)
        model = CAL.load(model_or_run)
        frames = [scores_from_model(model, load_pairs(pairs), id_tables=id_resolver(id_tables))]
        err_console.print(
            "no negatives in a model directory: quintile CB AUCs are left out", style="dim"
        )
    else:
        # a run directory brings its own scored pairs: options that read pairs would be ignored
        given = [flag for flag, v in (("--pairs", pairs), ("--id-tables", id_tables)) if v]
        if given:
            raise CalbioInputError(
                f"{' and '.join(given)}: for a model directory; {model_or_run} is a run "
                "directory, whose held-out scores are analysed (pass its model/ folder to score "
                "other pairs)"
            )
        frames = [df for _, df in load_run_scores(model_or_run)]
    result = degree_report(frames, cb_threshold=cb_threshold, n_top=top)
    print_tables(result["tables"])
    _write_json(out, result, force)


@app.command()
def run(
    experiment: Annotated[Path, typer.Argument(help="Experiment file (TOML)")],
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default: runs/<experiment name>)")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Recompute every step, even finished ones")
    ] = False,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Data folder (embeddings/, associations/) for ${CALBIO_DATA} in the experiment "
            "file; default: the CALBIO_DATA environment variable",
        ),
    ] = None,
) -> None:
    """Run an experiment file into a resumable run directory (one JSON per step, summary.md)."""
    from calbio.experiments.runner import load_experiment, run_experiment

    if data is not None:
        import os

        from calbio.data.paths import ENV

        if not data.is_dir():
            raise CalbioInputError("--data: not a directory", data)
        os.environ[ENV] = str(data.resolve())

    exp = load_experiment(experiment)
    target = out if out is not None else Path("runs") / exp.name
    status = run_experiment(experiment, target, force=force, log=_log)
    done = sum(v == "done" for v in status.values())
    console.print(
        f"{done} step(s) run, {len(status) - done} skipped (already done); "
        f"summary: {target / 'summary.md'}"
    )
