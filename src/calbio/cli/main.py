"""``calbio`` entry point: fit, evaluate, score, query, demo."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from calbio.cli import common as c
from calbio.cli.app import app, console, err_console
from calbio.core.errors import CalbioInputError

Explain = Annotated[
    bool,
    typer.Option(
        help="Add why each pair scores so: per-feature contributions (summing to the score) "
        "and the shared neighbours behind the graph evidence (hybrid)"
    ),
]

training_progress = c.training_progress


def build_models(
    names: list[str], training: c.TrainingOptions, *, seeded: bool = True
) -> dict[str, object]:
    """Fresh registered models; each command-line training option goes where it applies.

    ``seeded=False`` leaves ``random_state`` unset for ``evaluate``, which derives each model's
    from its own ``seed`` (the seed reaches a model by one route, once).
    """
    from calbio.evaluation.protocol import instantiate_models

    options = {"preset": training.preset, **training.overrides}
    if seeded:
        options["random_state"] = training.seed
    return instantiate_models(names, None, options)


def build_model(name: str, training: c.TrainingOptions) -> object:
    """One fresh registered model with the command line's training options."""
    return next(iter(build_models([name], training).values()))


@app.command()
@c.with_shared_options
def fit(
    embeddings: c.EmbeddingsArg,
    pairs: c.PairsArg,
    out: Annotated[Path, typer.Option(help="Model directory to write")],
    model: c.ModelName = c.DEFAULT_MODEL,
    force: c.Force = False,
    *,
    inputs: c.InputOptions,
    training: c.TrainingOptions,
) -> None:
    """Train a model on ALL given pairs and write a model directory (no evaluation)."""
    from calbio.core.io import check_output
    from calbio.data.coerce import as_mapped_pairs
    from calbio.data.matching import summarize_mapping, write_id_mapping

    check_output(out, force, inputs=inputs.paths(embeddings, pairs), kind="dir")
    estimator = build_model(model, training)
    emb = inputs.embeddings(embeddings)
    prs = inputs.pairs(pairs, known_ids=emb.names)
    mapped = as_mapped_pairs(prs, emb, inputs.min_mapped, inputs.id_resolver)
    c.report_pair_drops(prs)
    err_console.print(summarize_mapping(mapped))
    with training_progress() as cb:
        estimator.fit(emb, mapped, progress=cb)
    estimator.sources_["pairs"] = {"path": prs.source, "sha256": prs.sha256}
    estimator.save(
        out, force=force, extra_files={"id_mapping.tsv": lambda p: write_id_mapping(mapped, p)}
    )
    hist = getattr(estimator, "history_", None)
    loss = f", final loss {hist.loss[-1]:.4f}" if hist is not None and hist.loss else ""
    secs = getattr(estimator, "fit_seconds_", None)
    console.print(
        f"wrote {out} ({model}; {len(estimator.train_pairs_):,} training pairs, "
        f"{len(estimator.names_):,} entities{loss}"
        + (f", {secs:.1f} s)" if secs is not None else ")")
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
    test_fraction: c.TestFraction = c.eval_default("test_fraction"),
    cb_threshold: c.CbThreshold = c.eval_default("cb_threshold"),
    n_boot: c.NBoot = c.eval_default("n_boot"),
    rank_sample: c.RankSample = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            help="Model to fit and score (repeatable; registered name, e.g. cal, hybrid, sage); "
            "'none' scores the shortcuts alone [default: " + c.DEFAULT_MODEL + "]"
        ),
    ] = None,
    force: c.Force = False,
    *,
    inputs: c.InputOptions,
    training: c.TrainingOptions,
) -> None:
    """Fit model(s) under a protocol and print them beside cosine, degree and Adamic-Adar."""
    from calbio.core.io import check_output
    from calbio.core.options import check_evaluation
    from calbio.data.matching import write_id_mapping
    from calbio.data.pairs import load_pairs
    from calbio.evaluation.protocol import evaluate as run_evaluation
    from calbio.evaluation.splits import PROTOCOLS
    from calbio.report.console import print_evaluation

    if protocol not in PROTOCOLS:
        raise CalbioInputError(f"--protocol must be one of {', '.join(PROTOCOLS)}")
    names = model or [c.DEFAULT_MODEL]
    chosen = [] if names == ["none"] else list(build_models(names, training, seeded=False).values())
    check_evaluation(
        test_fraction=test_fraction,
        n_boot=n_boot,
        cb_threshold=cb_threshold,
        rank_sample=rank_sample,
    )
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
            model=chosen,
            protocol=protocol,
            seed=training.seed,
            test_fraction=test_fraction,
            cb_threshold=cb_threshold,
            validate_with=validation,
            n_boot=n_boot,
            rank_sample=rank_sample,
            progress=cb,
            min_mapped=inputs.min_mapped,
            id_tables=inputs.id_resolver,
        )
    # the mapping report comes back on the result: every pairs file the evaluation mapped
    extra = {"id_mapping.tsv": lambda p: write_id_mapping(result.id_mapping, p)}
    result.save(out, force=force, extra_files=extra)
    for line in result.mapping_lines:
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    print_evaluation(result.to_dict(), console)
    console.print(c.written_listing(out), markup=False, highlight=False, soft_wrap=True)


@app.command()
def score(
    model_dir: Annotated[Path, typer.Argument(help="Model directory from `calbio fit`")],
    pairs: c.PairsArg,
    out: Annotated[Path | None, typer.Option(help="CSV to write (default: stdout)")] = None,
    columns: c.Columns = None,
    kind: Annotated[
        str | None, typer.Option("--score", help="half | both | cosine | blend")
    ] = None,
    min_mapped: c.MinMapped = None,
    id_tables: c.IdTables = None,
    explain: Explain = False,
    force: c.Force = False,
) -> None:
    """Score pairs with a fitted model: association, cosine, training flag, ranks, percentile.

    One output row per input row, in input order: the ids as given (input_a, input_b), the
    entities they matched (a, b) and a status (scored, duplicate, unknown id, self pair).
    Identifiers the model does not know are counted on stderr and, with --out, listed in
    OUT.unknown.txt beside the CSV (written only when there are some).
    """
    from calbio.api import describe_score_rows, score_pairs_table, unknown_inputs
    from calbio.core.io import check_output
    from calbio.core.options import check_min_mapped, check_score_kind
    from calbio.data.identifiers import id_resolver
    from calbio.models.persistence import load_model

    check_score_kind(kind)
    check_min_mapped(min_mapped)
    side = None if out is None else out.with_name(out.name + ".unknown.txt")
    if out is not None:
        check_output(out, force, inputs=[model_dir, pairs], kind="file")
        check_output(side, force, inputs=[model_dir, pairs], kind="file")
    model = load_model(model_dir)
    if explain:
        from calbio.api import check_explainable

        check_explainable(model)
    prs = c.read_pairs(
        pairs, columns, None, None, min_mapped=None, known_ids=model.names_, keep_rows=True
    )
    table = score_pairs_table(
        model, prs, kind=kind, min_mapped=min_mapped, id_tables=id_resolver(id_tables)
    )
    err_console.print(describe_score_rows(table), markup=False, highlight=False)
    if explain:
        from calbio.api import add_explanations

        table = add_explanations(model, table)
    unknown = unknown_inputs(table)  # after --id-tables: a converted id is not unknown
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
        from calbio.core.io import atomic_files

        # both files or neither; no side file when every id is known
        with atomic_files(out, *([side] if len(unknown) else [])) as tmps:
            table.to_csv(tmps[0], index=False)
            if len(unknown):
                tmps[1].write_text("".join(f"{x}\n" for x in unknown), encoding="utf-8")
        err_console.print(
            f"wrote {len(table):,} rows to {out}" + (f" and {side}" if len(unknown) else "")
        )


@app.command()
def query(
    model_dir: Annotated[Path, typer.Argument(help="Model directory from `calbio fit`")],
    gene: Annotated[str, typer.Argument(help="Entity to query")],
    top: Annotated[int, typer.Option(help="How many partners")] = 20,
    out: Annotated[Path | None, typer.Option(help="Also write the table as CSV")] = None,
    id_tables: c.IdTables = None,
    explain: Explain = False,
    force: c.Force = False,
) -> None:
    """Ranked partners of one entity: known (training) partners and new candidates, listed apart."""
    from rich.table import Table

    from calbio.core.io import check_output
    from calbio.core.options import check_top
    from calbio.models.persistence import load_model

    check_top(top)
    if out is not None:
        check_output(out, force, inputs=[model_dir], kind="file")
    model = load_model(model_dir)
    from calbio.api import add_explanations, check_explainable, query_partners, resolve_entity
    from calbio.data.identifiers import id_resolver

    if explain:
        check_explainable(model)
    # outdated symbols / other namespaces resolve with tables (--id-tables / $CALBIO_ID_TABLES)
    resolver = id_resolver(id_tables)
    known, new = query_partners(model, gene, top=top, id_tables=resolver)
    if explain:  # the shared neighbours and per-feature contributions of each partner
        me = model.names_[resolve_entity(model, gene, id_tables=resolver)]
        known, new = (
            add_explanations(model, f.assign(query=me), "query", "partner").drop(columns="query")
            for f in (known, new)
        )
    if out is not None:
        import pandas as pd

        # the CSV is the best `top` of both lists (every entity ranked <= top is in one of them)
        table = (
            pd.concat([known.assign(training_pair=True), new.assign(training_pair=False)])
            .sort_values("rank", kind="stable")
            .head(top)
            .reset_index(drop=True)
        )
        from calbio.core.io import atomic_file

        with atomic_file(out) as tmp:
            table.to_csv(tmp, index=False)
    n_all = len(model.names_) - 1
    for title, frame in (
        (
            f"Known partners of {gene} (training pairs): {len(known):,}, ranked among all "
            f"{n_all:,} other entities" + (f"; best {top} shown" if len(known) > top else ""),
            known.head(top),
        ),
        (f"New candidates for {gene} (not training pairs): top {len(new)}", new),
    ):
        t = Table(title=title, title_justify="left")
        shown = ("rank", "partner", "association", "cosine", "n_shared", "shared_neighbours")
        cols = [col for col in shown if col in frame]
        for col in cols:
            t.add_column(col, justify="left" if col == "partner" else "right")
        for r in frame[cols].itertuples(index=False):
            t.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r))
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
import calbio.cli.derive  # noqa: E402,F401
import calbio.cli.fetch  # noqa: E402,F401
import calbio.cli.space  # noqa: E402,F401
import calbio.cli.speed  # noqa: E402,F401
import calbio.cli.suite  # noqa: E402,F401
import calbio.cli.transfer  # noqa: E402,F401


def guard_inputs(argv: list[str]) -> None:
    """Refuse an ``--out`` that equals or contains another path of the command line (any command).

    ``--force`` replaces the output; it must never destroy an input (issue 11).
    """
    from calbio.core.io import check_not_input

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
    except Exception as exc:  # a full disk outside calbio.core.io's writers (e.g. stdout): one line
        from calbio.core.io import full_disk_reason, output_name

        reason = full_disk_reason(exc)
        if reason is None:
            raise
        where = getattr(exc, "filename", None)
        where = output_name(where) if where else "an output"
        err_console.print(
            f"calbio: error: {where}: cannot write: {reason}", markup=False, highlight=False
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
