"""``calbio neighbors`` (top partners of every entity) and ``calbio index`` (faiss index)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from calbio.cli import common as c
from calbio.cli.app import app, console, err_console
from calbio.core.errors import CalbioInputError

TABLE_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".csv.gz", ".tsv.gz")


def _table_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".tsv", ".tsv.gz")):
        return "tsv"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    raise CalbioInputError(f"output must end in one of {', '.join(TABLE_SUFFIXES)}", path)


@app.command()
def neighbors(
    model_dir: Annotated[Path, typer.Argument(help="Model directory from `calbio fit`")],
    out: Annotated[Path, typer.Option(help="Table to write: .parquet, .csv or .tsv")],
    top: Annotated[int, typer.Option(help="Partners per entity")] = 50,
    index: Annotated[
        Path | None,
        typer.Option(help="Search this `calbio index` directory instead of exact search"),
    ] = None,
    nprobe: Annotated[int | None, typer.Option(help="IVF cells to search (with --index)")] = None,
    ef_search: Annotated[
        int | None, typer.Option(help="HNSW search breadth (with --index)")
    ] = None,
    threads: c.Threads = None,
    force: c.Force = False,
) -> None:
    """Top partners of EVERY entity (exact blocked search, or an approximate --index)."""
    import torch

    from calbio.core.io import atomic_file, check_output_file
    from calbio.models.cal.estimator import CAL
    from calbio.retrieval.exact import exact_neighbors, neighbors_table

    fmt = _table_format(out)
    check_output_file(out, force)
    if top < 1:
        raise CalbioInputError("--top must be >= 1")
    if threads:
        torch.set_num_threads(threads)
    model = CAL.load(model_dir)
    k = min(top, len(model.names_) - 1)
    t0 = time.perf_counter()
    if index is None:
        nb = exact_neighbors(
            model.association_,
            model.embedding_,
            k,
            kind=model.config.score,
            blend_lambda=model.config.blend_lambda,
        )
        how = "exact"
    else:
        from calbio.retrieval.index import load_index, model_index_neighbors, set_search_params

        idx, meta = load_index(index)
        set_search_params(idx, nprobe, ef_search)
        nb = model_index_neighbors(model, idx, meta, k)
        how = f"{meta.get('kind', 'faiss')} index"
    seconds = time.perf_counter() - t0
    table = neighbors_table(nb, model.names_, model.embedding_, model.train_pairs_)
    with atomic_file(out) as tmp:
        if fmt == "parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False, sep="\t" if fmt == "tsv" else ",")
    err_console.print(
        f"{how} search: top {k} partners of {len(model.names_):,} entities in {seconds:.2f} s"
    )
    console.print(f"wrote {len(table):,} rows to {out}")


@app.command("index")
def build_index_command(
    model_dir: Annotated[Path, typer.Argument(help="Model directory from `calbio fit`")],
    out: Annotated[Path, typer.Option(help="Index directory to write")],
    kind: Annotated[
        str, typer.Option(help="auto (flat below 50k entities, else ivf) | flat | ivf | hnsw")
    ] = "auto",
    nlist: Annotated[int | None, typer.Option(help="IVF cells (default ~4 sqrt(n))")] = None,
    nprobe: Annotated[int | None, typer.Option(help="IVF cells searched by default")] = None,
    threads: c.Threads = None,
    force: c.Force = False,
) -> None:
    """Build a faiss inner-product index of a model's entities (needs calbio[index])."""
    from calbio.core.io import check_output_file
    from calbio.models.cal.estimator import CAL
    from calbio.retrieval.index import build_model_index, require_faiss, save_index

    faiss = require_faiss()
    check_output_file(out, force)
    if threads:
        faiss.omp_set_num_threads(threads)
    model = CAL.load(model_dir)
    t0 = time.perf_counter()
    idx, meta = build_model_index(model, kind, nlist=nlist, nprobe=nprobe)
    seconds = time.perf_counter() - t0
    meta["model_dir"] = str(model_dir)
    meta["build_seconds"] = seconds
    save_index(idx, out, meta, force=force)
    console.print(f"wrote {out} ({idx.ntotal:,} entities, {seconds:.2f} s)")
