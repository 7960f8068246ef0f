"""Context commands: context-fit, context-evaluate, equivalent, context-simulate/-lineages."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from calbio.cli import common as c
from calbio.cli.app import app, console, err_console
from calbio.core.errors import CalbioInputError
from calbio.models.context.config import CONTEXT_SPECS

if TYPE_CHECKING:
    from calbio.data.context import ContextEmbeddings, ContextPairs

TableArg = Annotated[
    Path,
    typer.Argument(help="Long entity x context table (CSV/TSV/Parquet) or .h5ad with obs columns"),
]
EntityCol = Annotated[str, typer.Option(help="Column (or obs column) naming the entity")]
ContextCol = Annotated[str, typer.Option(help="Column (or obs column) naming the context")]
LabelCol = Annotated[
    str | None,
    typer.Option(help="Categorical context label to learn an embedding for (default: context)"),
]
Covariate = Annotated[
    list[str] | None,
    typer.Option(help="Numeric context covariate column, e.g. log10_dose (repeatable)"),
]
PairContextCol = Annotated[
    str | None,
    typer.Option(help="Column of the pairs file naming each pair's context (else context-free)"),
]
# generated from the context model's specs (calbio.models.context.config)
Calibration = c.spec_option(CONTEXT_SPECS["calibration"])
ContextDim = c.spec_option(CONTEXT_SPECS["context_dim"])


@dataclass(frozen=True)
class ContextOptions:
    """What context-fit and context-evaluate share: the two files, their columns, model options."""

    table: Path
    pairs: Path
    entity_column: str = "entity"
    context_column: str = "context"
    label_column: str | None = None
    covariate: list[str] | None = None
    pair_context_column: str | None = None
    calibration: str = CONTEXT_SPECS["calibration"].cli_default
    context_dim: int = CONTEXT_SPECS["context_dim"].cli_default

    def read(self, inputs: c.InputOptions) -> tuple[ContextEmbeddings, ContextPairs]:
        """The entity x context table and the (context) pairs."""
        from calbio.data.context import load_context_pairs, load_context_table

        cemb = load_context_table(
            self.table,
            self.entity_column,
            self.context_column,
            label_column=self.label_column,
            covariate_columns=self.covariate or (),
            layer=inputs.layer,
        )
        columns = c.parse_columns(inputs.columns)
        return cemb, load_context_pairs(self.pairs, columns, self.pair_context_column)

    @property
    def model_options(self) -> dict[str, Any]:
        """The ContextCAL parameters set on the command line besides the training options."""
        return {"calibration": self.calibration, "context_dim": self.context_dim}


# The annotation of each ContextOptions field: table and pairs are the positional arguments.
_CONTEXT_ANNOTATIONS = {
    "table": TableArg,
    "pairs": c.PairsArg,
    "entity_column": EntityCol,
    "context_column": ContextCol,
    "label_column": LabelCol,
    "covariate": Covariate,
    "pair_context_column": PairContextCol,
    "calibration": Calibration,
    "context_dim": ContextDim,
}
# The context model was validated with the paper recipe's structure; it keeps `paper` as default.
CONTEXT_TRAINING = ("preset", "seed", "epochs", "hidden", "batch_size", "lr", "threads")


def context_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a context command its shared arguments and options, passed as ``shared``.

    ``shared`` is a :class:`ContextOptions`; ``inputs`` and ``training`` come from
    :func:`calbio.cli.common.with_shared_options` (the context subset, ``paper`` by default).
    """
    P = inspect.Parameter
    sig = inspect.signature(func, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name != "shared"]
    ann = _CONTEXT_ANNOTATIONS
    arguments = [P(n, P.POSITIONAL_OR_KEYWORD, annotation=ann[n]) for n in ("table", "pairs")]
    options = [
        P(f.name, P.KEYWORD_ONLY, default=f.default, annotation=ann[f.name])
        for f in fields(ContextOptions)
        if f.default is not MISSING
    ]

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        shared = ContextOptions(**{k: kwargs.pop(k) for k in _CONTEXT_ANNOTATIONS})
        return func(**kwargs, shared=shared)

    params = arguments + own + options
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    return c.with_shared_options(
        command,
        train=CONTEXT_TRAINING,
        inputs=("layer", "columns", "min_mapped", "id_tables"),
        defaults={"preset": "paper", "min_mapped": 0.5},
    )


@app.command("context-fit")
@context_command
def context_fit(
    out: Annotated[Path, typer.Option(help="Model directory to write")],
    force: c.Force = False,
    *,
    inputs: c.InputOptions,
    training: c.TrainingOptions,
    shared: ContextOptions,
) -> None:
    """Fit the context-conditioned model g(A, B | c) and its calibrated probability."""
    from calbio.core.io import check_output_file

    training_progress = c.training_progress
    from calbio.models.context.estimator import ContextCAL

    check_output_file(out, force)
    cemb, prs = shared.read(inputs)
    err_console.print(
        f"{cemb.n_entities:,} entities x {cemb.n_contexts:,} contexts ({len(cemb):,} rows, "
        f"{cemb.dim} features); {len(prs):,} pairs read"
    )
    model = ContextCAL(
        training.preset,
        random_state=training.seed,
        **shared.model_options,
        **training.overrides,
    )
    with training_progress() as cb:
        model.fit(
            cemb, prs, progress=cb, min_mapped=inputs.min_mapped, id_tables=inputs.id_resolver
        )
    model.save(out, force=force)
    console.print(
        f"wrote {out} ({len(model.train_pairs_):,} training rows, "
        f"{len(model.calibration_rows_):,} calibration rows, {model.fit_seconds_:.1f} s)"
    )


@app.command("context-evaluate")
@context_command
def context_evaluate(
    out: Annotated[Path, typer.Option(help="Directory for metrics.json, tables and the model")],
    train_context: Annotated[
        list[str] | None,
        typer.Option(help="Train only on these contexts (repeatable); others are unseen"),
    ] = None,
    loco: Annotated[bool, typer.Option(help="Also run leave-one-context-out")] = True,
    loco_by: Annotated[str, typer.Option(help="Leave out one 'context' or one 'label'")] = (
        "context"
    ),
    k_shot: Annotated[int, typer.Option(help="Labelled pairs for few-shot LOCO adaptation")] = 20,
    test_fraction: c.TestFraction = c.eval_default("test_fraction"),
    n_boot: c.NBoot = 200,  # the context evaluation's own default (many contexts, each with CIs)
    force: c.Force = False,
    *,
    inputs: c.InputOptions,
    training: c.TrainingOptions,
    shared: ContextOptions,
) -> None:
    """Per-context and leave-one-context-out AUCs: context model, pooled, per-context, cosine."""
    from rich.table import Table

    from calbio.analysis.context import check_context_evaluation, evaluate_contexts
    from calbio.core.io import check_output_file

    if loco_by not in ("context", "label"):
        raise CalbioInputError("--loco-by must be 'context' or 'label'")
    check_context_evaluation(
        test_fraction=test_fraction, seed=training.seed, n_boot=n_boot, k_shot=k_shot
    )
    check_output_file(out, force)
    cemb, prs = shared.read(inputs)
    result = evaluate_contexts(
        cemb,
        prs,
        preset=training.preset,
        seed=training.seed,
        test_fraction=test_fraction,
        train_contexts=train_context,
        loco=loco,
        loco_by=loco_by,
        k_shot=k_shot,
        n_boot=n_boot,
        min_mapped=inputs.min_mapped,
        id_tables=inputs.id_resolver,
        progress=lambda m: err_console.print(m),
        **shared.model_options,
        **training.overrides,
    )
    result.save(out, force=force)
    for title, df, key in (
        ("Per context (AUC / CB AUC / degree-matched AUC)", result.per_context, "context_name"),
        ("Leave-one-context-out", result.loco, "held_out"),
    ):
        if df.empty:
            continue
        t = Table(title=title, title_justify="left")
        meth = "representation" if "representation" in df else "method"
        for col in (key, meth, "n_pos", "auc", "cb_auc", "auc_degree_matched"):
            t.add_column(col)
        for r in df.to_dict(orient="records"):
            t.add_row(
                *(str(r[k]) for k in (key, meth, "n_pos")),
                *(_fmt(r.get(k)) for k in ("auc", "cb_auc", "auc_degree_matched")),
            )
        console.print(t)
    if result.calibration:
        cal = result.calibration
        console.print(
            f"calibration ({cal['method']}): Brier {cal['brier']:.4f} "
            f"(constant predictor {cal['brier_constant']:.4f}) at base rate {cal['base_rate']:.2f}"
        )
    console.print(f"wrote {out}/metrics.json")


def _fmt(v: object) -> str:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "-"
    return "-" if f != f else f"{f:.3f}"


@app.command()
def equivalent(
    model_dir: Annotated[Path, typer.Argument(help="Model directory from `calbio context-fit`")],
    a: Annotated[str, typer.Argument(help="First entity")],
    b: Annotated[str, typer.Argument(help="Second entity")],
    context: Annotated[
        list[str] | None, typer.Option(help="Context(s) to score in (default: every context)")
    ] = None,
    prior: Annotated[
        float | None, typer.Option(help="Base rate to re-target the probability to")
    ] = None,
    id_tables: c.IdTables = None,
) -> None:
    """g(A, B | c), cosine within c and the calibrated probability that A and B are equivalent."""
    import numpy as np
    from rich.table import Table

    from calbio.api import resolve_entity
    from calbio.data.identifiers import id_resolver
    from calbio.models.context.estimator import ContextCAL

    model = ContextCAL.load(model_dir)
    # outdated symbols / other namespaces resolve with tables (--id-tables / $CALBIO_ID_TABLES);
    # an unknown entity is one error naming it (and the close matches), before any scoring
    resolver = id_resolver(id_tables)
    ea, eb = (str(model.names_[resolve_entity(model, x, id_tables=resolver)]) for x in (a, b))
    ctxs = list(context) if context else [str(x) for x in model.contexts_]
    g = model.score([ea] * len(ctxs), [eb] * len(ctxs), ctxs)
    cos = model.score([ea] * len(ctxs), [eb] * len(ctxs), ctxs, kind="cosine")
    has_cal = model.calibration != "none"
    p = model.proba_from_scores(g, prior) if has_cal else np.full(len(g), np.nan)
    title = " vs ".join(x if x == e else f"{x} ({e})" for x, e in ((a, ea), (b, eb)))
    t = Table(title=title, title_justify="left")
    for col in ("context", "g(A,B|c)", "cosine", "P(equivalent)"):
        t.add_column(col, justify="left" if col == "context" else "right")
    for ci, gi, co, pi in zip(ctxs, g, cos, p, strict=True):
        t.add_row(ci, _fmt(gi), _fmt(co), _fmt(pi) if has_cal else "n/a")
    console.print(t)
    if np.isnan(g).any():
        err_console.print("'-': an entity is not measured in that context")


@app.command("context-simulate")
def context_simulate(
    out: Annotated[Path, typer.Option(help="Directory for table.csv.gz, pairs.csv, truth.json")],
    seed: c.Seed = 0,
    force: c.Force = False,
) -> None:
    """Write the synthetic dose-response world (calbio.data.synthetic_dose) as files."""
    from calbio.core.io import atomic_dir, write_json_atomic
    from calbio.data.synthetic_dose import make_dose_world

    world = make_dose_world(seed=seed)
    with atomic_dir(out, force=force) as tmp:
        world.embeddings.to_frame().to_csv(tmp / "table.csv.gz", index=False)
        import pandas as pd

        pd.DataFrame(
            {"a": world.pairs.a, "b": world.pairs.b, "context": world.pairs.context}
        ).to_csv(tmp / "pairs.csv", index=False)
        tr = world.truth
        write_json_atomic(
            tmp / "truth.json",
            {
                "description": tr["description"],
                "doses": tr["doses"].tolist(),
                "lines": tr["lines"],
                "mechanism": tr["mechanism"].tolist(),
                "ec50": tr["ec50"].tolist(),
                "biphasic": tr["biphasic"].tolist(),
                "seed": seed,
            },
        )
    console.print(
        f"wrote {out}/ ({world.embeddings.n_entities} perturbations x "
        f"{world.embeddings.n_contexts} contexts, {len(world.pairs):,} equivalent pairs). "
        f"Evaluate: calbio context-evaluate {out}/table.csv.gz {out}/pairs.csv --label-column "
        f"label --covariate log10_dose --pair-context-column context --loco-by label --out ..."
    )


@app.command("context-lineages")
def context_lineages(
    out: Annotated[Path, typer.Option(help="Long table to write (.csv.gz or .parquet)")],
    data: Annotated[
        Path, typer.Option(help="The shared data folder (embeddings/, contexts/)")
    ] = Path("../shared/data"),
    representation: Annotated[str, typer.Option(help="shared (default) | pca")] = "shared",
    force: c.Force = False,
) -> None:
    """Build per-lineage DepMap gene embeddings (liver, melanoma, neuroblastoma) as a long table."""
    from calbio.core.io import atomic_file, check_output_file
    from calbio.data.context import depmap_lineage_embeddings

    check_output_file(out, force)
    cemb = depmap_lineage_embeddings(data, representation=representation)
    frame = cemb.to_frame()
    with atomic_file(out) as tmp:
        if str(out).endswith((".parquet", ".pq")):
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False, compression="gzip" if str(out).endswith(".gz") else None)
    lines = cemb.meta["cell_lines"]
    console.print(
        f"wrote {out}: {cemb.n_entities:,} genes x {cemb.n_contexts} lineages ("
        + ", ".join(f"{k} {len(v)} lines" for k, v in lines.items())
        + f"), {cemb.dim} features"
    )
