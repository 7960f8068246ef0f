"""Association-space commands: ``clusters``, ``transform`` (AnnData) and ``report`` (HTML)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from calbio.cli import common as c
from calbio.cli.app import app, console, err_console
from calbio.core.errors import CalbioInputError

RunArg = Annotated[
    Path, typer.Argument(help="Model directory (`calbio fit`) or evaluate run directory")
]
GeneSetsOpt = Annotated[
    list[Path] | None,
    typer.Option("--genesets", help="GMT gene-set file (repeatable), e.g. GO BP"),
]
MinClusterSize = Annotated[int, typer.Option(help="HDBSCAN min_cluster_size (paper: 5)")]
MinSamples = Annotated[int, typer.Option(help="HDBSCAN min_samples (paper: 3)")]


def resolve_model_dir(path: Path) -> Path:
    """A model directory itself, or the ``model/`` inside an evaluate run directory."""
    for cand in (path, path / "model"):
        if (cand / "config.json").is_file():
            return cand
    raise CalbioInputError("no model here (expected config.json or model/config.json)", path)


def association_space_model(model_dir: Path) -> Any:
    """The CAL whose association space clusters are drawn in: the model, or a hybrid's own CAL."""
    from calbio.models.persistence import load_model

    model = load_model(model_dir)
    inner = getattr(model, "cal_", None)
    if inner is not None and hasattr(inner, "association_"):
        return inner
    if not hasattr(model, "association_"):
        name = getattr(model, "registry_name", type(model).__name__)
        raise CalbioInputError(
            f"clusters are drawn in CAL's association space; this is a {name!r} model "
            "(use a cal or hybrid model)",
            model_dir,
        )
    return model


def _cluster_report(
    run: Path,
    genesets: list[Path] | None,
    validate_with: list[Path] | None,
    min_cluster_size: int,
    min_samples: int,
    reps: int,
    seed: int,
    alpha: float,
    correction: str,
    min_set_size: int,
    max_set_size: int,
    id_tables: Path | None = None,
):
    from calbio.analysis.enrichment import cluster_report
    from calbio.data.genesets import read_gmt
    from calbio.data.identifiers import id_resolver
    from calbio.data.pairs import load_pairs

    model = association_space_model(resolve_model_dir(run))
    sets = [read_gmt(g) for g in genesets or []]
    validation = [load_pairs(p) for p in validate_with or []]
    return cluster_report(
        model,
        sets,
        validation,
        min_cluster_size=min_cluster_size,
        min_samples=min_samples,
        reps=reps,
        seed=seed,
        alpha=alpha,
        id_tables=id_resolver(id_tables),
        correction=correction,
        min_set_size=min_set_size,
        max_set_size=max_set_size,
    )


@app.command()
def clusters(
    run: RunArg,
    out: Annotated[Path, typer.Option(help="Directory for clusters, enrichment and Table 9")],
    genesets: GeneSetsOpt = None,
    validate_with: Annotated[
        list[Path] | None,
        typer.Option(help="Independent pairs (e.g. Reactome) for edge density; not the training"),
    ] = None,
    min_cluster_size: MinClusterSize = 5,
    min_samples: MinSamples = 3,
    reps: Annotated[int, typer.Option(help="Random matched-size repetitions (>= 10)")] = 10,
    seed: c.Seed = 0,
    alpha: Annotated[float, typer.Option(help="Adjusted p-value threshold")] = 0.05,
    correction: Annotated[str, typer.Option(help="bh | bonferroni (per cluster)")] = "bh",
    min_set_size: Annotated[int, typer.Option(help="Smallest term inside the background")] = 5,
    max_set_size: Annotated[int, typer.Option(help="Largest term inside the background")] = 500,
    fmt: Annotated[str, typer.Option("--format", help="Tables as csv or parquet")] = "csv",
    id_tables: c.IdTables = None,
    force: c.Force = False,
) -> None:
    """HDBSCAN clusters of association and embedding space, with offline gene-set enrichment."""
    from calbio.analysis.enrichment import format_pct, save_cluster_report
    from calbio.core.io import check_output_file

    check_output_file(out, force)
    rep = _cluster_report(
        run,
        genesets,
        validate_with,
        min_cluster_size,
        min_samples,
        reps,
        seed,
        alpha,
        correction,
        min_set_size,
        max_set_size,
        id_tables,
    )
    save_cluster_report(rep, out, force=force, fmt=fmt)
    t = rep.analysis.table
    console.print(
        f"{len(t)} association clusters ({int(t['association_specific'].sum())} "
        f"association-specific), {len(rep.analysis.embed_table)} embedding clusters"
    )
    if rep.table9 is not None:
        console.print(f"background: {rep.params['background']}")
        for r in rep.table9.itertuples(index=False):
            console.print(
                f"  {r.clusters:<28} n={r.n:<4} coherent "
                f"{format_pct(r.pct_coherent, r.sd_coherent)}, partial "
                f"{format_pct(r.pct_partial, r.sd_partial)}"
            )
    for src, spaces in rep.validation.items():
        for space, d in spaces.items():
            console.print(
                f"  {src} edges inside {space} clusters: density {d['density']:.4f} vs random "
                f"{d['random_density_mean']:.4f}"
            )
    console.print(f"wrote {out}/")


@app.command()
def transform(
    model_dir: Annotated[Path, typer.Argument(help="Model directory (or evaluate run directory)")],
    h5ad: Annotated[Path, typer.Argument(help="AnnData .h5ad to annotate")],
    out: Annotated[Path, typer.Option(help="Output .h5ad")],
    layer: c.Layer = None,
    id_column: Annotated[
        str | None, typer.Option(help="obs column with entity names (lookup mode)")
    ] = None,
    mode: Annotated[
        str, typer.Option(help="auto | transform (apply f to the rows) | lookup (match names)")
    ] = "auto",
    cluster: Annotated[bool, typer.Option(help="Also write HDBSCAN labels")] = True,
    min_cluster_size: MinClusterSize = 5,
    min_samples: MinSamples = 3,
    force: c.Force = False,
) -> None:
    """Write obsm['X_cal'], obs['cal_cluster'] and uns['cal']['params'] into a copy of an h5ad."""
    from calbio.analysis.anndata_io import transform_h5ad

    info = transform_h5ad(
        resolve_model_dir(model_dir),
        h5ad,
        out,
        force=force,
        layer=layer,
        id_column=id_column,
        mode=mode,
        cluster=cluster,
        min_cluster_size=min_cluster_size,
        min_samples=min_samples,
    )
    note = "" if info["mode"] == "transform" else " (unmapped rows: NaN vectors, no cluster)"
    console.print(
        f"{info['mode']}: {info['n_mapped']:,} of {info['n_obs']:,} rows mapped{note}; "
        f"{info['n_clusters']} clusters, {info.get('n_noise', 0):,} noise rows (cluster -1); "
        f"wrote {out}"
    )  # warnings (e.g. rows that differ from the training table) go to the calbio logger


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="Evaluate run directory or model directory")],
    out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("report.html"),
    clusters_dir: Annotated[
        Path | None, typer.Option("--clusters", help="Output directory of `calbio clusters`")
    ] = None,
    genesets: GeneSetsOpt = None,
    validate_with: Annotated[
        list[Path] | None, typer.Option(help="Independent pairs for cluster edge density")
    ] = None,
    min_cluster_size: MinClusterSize = 5,
    min_samples: MinSamples = 3,
    reps: Annotated[int, typer.Option(help="Random matched-size repetitions")] = 10,
    title: Annotated[str | None, typer.Option(help="Page title")] = None,
    id_tables: c.IdTables = None,
    force: c.Force = False,
) -> None:
    """One self-contained HTML report (figures embedded) for a run or model directory."""
    from calbio.analysis.enrichment import save_cluster_report
    from calbio.core.io import check_output_file
    from calbio.report.html import load_run, write_report

    check_output_file(out, force)
    if validate_with and not genesets:
        raise CalbioInputError(
            "--validate-with measures edge density inside the clusters the report computes "
            "with --genesets; add --genesets, or run `calbio clusters --validate-with` and pass "
            "its output with --clusters"
        )
    if genesets and clusters_dir is not None:
        raise CalbioInputError(
            "--genesets computes clusters and --clusters reads computed ones: give one of them"
        )
    load_run(run)  # a bad run directory fails here, before any clustering
    with tempfile.TemporaryDirectory(prefix="calbio-report-") as tmp:
        if genesets:
            err_console.print("clustering and enrichment for the report...")
            rep = _cluster_report(  # the clusters command's defaults
                run, genesets, validate_with, min_cluster_size, min_samples, reps,
                seed=0, alpha=0.05, correction="bh", min_set_size=5, max_set_size=500,
                id_tables=id_tables,
            )  # fmt: skip
            clusters_dir = save_cluster_report(rep, Path(tmp) / "clusters")
        info = write_report(run, out, force=force, clusters_dir=clusters_dir, title=title)
    console.print(f"wrote {out} ({len(info['figures'])} figures embedded)")
