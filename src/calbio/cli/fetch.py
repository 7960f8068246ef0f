"""``calbio fetch``: list the public datasets, or install them hash-checked into the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from calbio.cli.app import app, console, err_console
from calbio.core.errors import CalbioInputError


def _size(n: int | None) -> str:
    return "unknown" if n is None else f"{n / 1e6:,.1f} MB"


def _print_list() -> None:
    from rich.table import Table

    from calbio.data.fetch import TOFU, list_datasets

    table = Table(title="calbio fetch: public datasets", show_lines=True)
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("file", overflow="fold")
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("licence", no_wrap=True)
    table.add_column("citation", overflow="fold")
    for ds in list_datasets():
        table.add_row(ds.name, ds.filename, _size(ds.size_bytes), ds.licence, ds.citation)
    console.print(table)
    for ds in list_datasets():
        console.print(f"[bold]{ds.name}[/]: {ds.description}", highlight=False)
        console.print(f"  checksum: {ds.known_hash or TOFU}", markup=False, highlight=False)
        if ds.usage:
            console.print(f"  use: {ds.usage}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def fetch(
    names: Annotated[
        list[str] | None, typer.Argument(help="Dataset names (see --list), or 'all'")
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="Show the datasets, sizes, licences and citations")
    ] = False,
    mirror: Annotated[
        Path | None,
        typer.Option(help="Install from a local folder holding the files under their names"),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Cache folder (default: $CALBIO_DATA_DIR, else user data dir)"),
    ] = None,
) -> None:
    """Download public data with checksums into the cache; print each local path."""
    from calbio.data.fetch import MANIFEST, REGISTRY, TOFU, install, with_companions

    if list_:
        _print_list()
        return
    if not names:
        raise CalbioInputError("name a dataset (see `calbio fetch --list`), or 'all'")
    wanted = list(REGISTRY) if names == ["all"] else with_companions(names)
    for name in wanted:
        res = install(name, mirror=mirror, data_dir=data_dir)
        if res.status == "installed":
            if res.checked_against == TOFU:
                note = (
                    f"recorded sha256:{res.sha256} in {MANIFEST} (no published checksum: "
                    "trust on first use; later fetches are verified against it)"
                )
            else:
                note = f"verified {res.checked_against}; sha256:{res.sha256}"
            err_console.print(
                f"installed {name} from {res.source}\n  {note}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        typer.echo(str(res.path))
    if "gene-info" in wanted:
        folder = res.path.parent
        err_console.print(
            f"identifier tables are in {folder}: use --id-tables {folder} or "
            f"export CALBIO_ID_TABLES={folder}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
