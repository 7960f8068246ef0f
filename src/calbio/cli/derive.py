"""``calbio pairs coessential|colethal`` and ``calbio embed smiles``: inputs derived from data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from calbio.cli.app import app, console, err_console
from calbio.core.errors import CalbioInputError

pairs_app = typer.Typer(
    help="Derive association pairs from screens (co-essentiality, co-lethality).",
    no_args_is_help=True,
)
embed_app = typer.Typer(help="Build embedding tables (Morgan fingerprints from SMILES).")
app.add_typer(pairs_app, name="pairs")
app.add_typer(embed_app, name="embed")

Out = Annotated[Path, typer.Option(help="Pair file to write (CSV; .gz compresses)")]
Method = Annotated[
    str, typer.Option(help="pearson, or gls (Wainberg et al. 2021: corrects for related screens)")
]
TopK = Annotated[int | None, typer.Option(help="Keep each entity's K strongest partners")]
Fdr = Annotated[float | None, typer.Option(help="Keep pairs with Benjamini-Hochberg q <= this")]
ByContext = Annotated[
    Path | None,
    typer.Option(help="CSV: screen id, context name; derive pairs within each context"),
]
IdCol = Annotated[str | None, typer.Option(help="Identifier column (default: the first)")]
MinObserved = Annotated[
    float, typer.Option(help="Drop entities measured in fewer than this fraction of screens")
]
Shrinkage = Annotated[
    float | None,
    typer.Option(help="gls: fixed covariance shrinkage in [0, 1] (default: Ledoit-Wolf)"),
]
Force = Annotated[bool, typer.Option(help="Overwrite existing outputs")]


def _derive(
    kind: str,
    profiles: Path,
    out: Path,
    method: str,
    top_k: int | None,
    fdr: float | None,
    by_context: Path | None,
    id_column: str | None,
    min_observed: float,
    shrinkage: float | None,
    force: bool,
) -> None:
    from calbio.core.io import atomic_files, check_output_file, to_json
    from calbio.data.derive import (
        METHODS,
        constant_warnings,
        derive_pairs,
        derive_pairs_by_context,
        load_contexts,
        load_profiles,
    )

    if method not in METHODS:
        raise CalbioInputError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if (top_k is None) == (fdr is None):
        raise CalbioInputError("give exactly one of --top-k K or --fdr Q")
    if not 0 < min_observed <= 1:
        raise CalbioInputError(f"--min-observed must be in (0, 1], got {min_observed}")
    meta = out.with_name(out.name + ".json")  # what was derived and what got no pairs
    check_output_file(out, force)
    check_output_file(meta, force)
    contexts = load_contexts(by_context) if by_context is not None else None  # fail fast
    table, counts = load_profiles(profiles, id_column=id_column, min_observed=min_observed)
    err_console.print(
        f"{kind}: {len(table):,} entities x {table.shape[1]:,} screens from {profiles}"
        + (
            f"; {counts['n_dropped_sparse']:,} dropped (too sparse)"
            if counts["n_dropped_sparse"]
            else ""
        )
        + (
            f"; {counts['n_values_imputed']:,} missing values set to the entity's mean"
            if counts["n_values_imputed"]
            else ""
        ),
        highlight=False,
        soft_wrap=True,
    )
    opts = dict(method=method, top_k=top_k, fdr=fdr, shrinkage=shrinkage)
    if contexts is not None:
        res = derive_pairs_by_context(
            table,
            contexts,
            source=str(by_context),
            progress=lambda m: err_console.print(m, highlight=False),
            **opts,
        )
    else:
        res = derive_pairs(table, **opts)
    if len(res) == 0:
        raise CalbioInputError(
            "no pair passes the selection (try a larger --fdr, or --top-k)", profiles
        )
    warnings = constant_warnings(res.stats)
    for line in warnings:
        err_console.print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True)
    info = {"kind": kind, "profiles": str(profiles), **counts, **res.stats, "warnings": warnings}
    with atomic_files(out, meta) as (tmp, tmp_meta):
        res.table.to_csv(tmp, index=False, compression="gzip" if out.suffix == ".gz" else None)
        tmp_meta.write_text(to_json(info), encoding="utf-8")
    sel = f"top {top_k} per entity" if top_k is not None else f"BH q <= {fdr}"
    console.print(
        f"wrote {len(res):,} {kind} pairs ({method}, {sel}) to {out} (+ {meta.name})",
        highlight=False,
        soft_wrap=True,
    )


def _pairs_command(name: str, kind: str, table_help: str, doc: str) -> None:
    """Register ``calbio pairs NAME``: derive ``kind`` pairs from a profile table."""

    def command(
        profiles: Path,
        out: Out,
        method: Method = "pearson",
        top_k: TopK = None,
        fdr: Fdr = None,
        by_context: ByContext = None,
        id_column: IdCol = None,
        min_observed: MinObserved = 0.5,
        shrinkage: Shrinkage = None,
        force: Force = False,
    ) -> None:
        _derive(
            kind, profiles, out, method, top_k, fdr, by_context, id_column, min_observed,
            shrinkage, force,
        )  # fmt: skip

    command.__doc__ = doc
    command.__annotations__["profiles"] = Annotated[Path, typer.Argument(help=table_help)]
    pairs_app.command(name)(command)


_pairs_command(
    "coessential",
    "co-essential",
    "Genes x screens table (CSV/TSV/Parquet)",
    "Co-essential gene pairs: profiles that correlate across knockout screens.",
)
_pairs_command(
    "colethal",
    "co-lethal",
    "Drugs x cell lines viability table (CSV/TSV/Parquet)",
    "Co-lethal drug pairs: viability profiles that correlate across cell lines (PRISM).",
)


@pairs_app.command("from-genesets")
def from_genesets(
    gmt: Annotated[Path, typer.Argument(help="Gene sets (GMT: name, description, genes...)")],
    out: Out,
    max_size: Annotated[int, typer.Option(help="Largest set whose co-members are paired")] = 30,
    min_size: Annotated[int, typer.Option(help="Smallest set used")] = 2,
    force: Force = False,
) -> None:
    """Complex-like pairs: all co-members of small gene sets (e.g. GO cellular component)."""
    from calbio.core.io import atomic_file, check_output_file
    from calbio.data.derive import pairs_from_genesets, read_gene_sets

    if min_size < 2 or max_size < min_size:
        raise CalbioInputError(
            f"need 2 <= --min-size <= --max-size, got min {min_size}, max {max_size}"
        )
    check_output_file(out, force)
    sets = read_gene_sets(gmt)
    res = pairs_from_genesets(sets, max_size=max_size, min_size=min_size)
    if res.empty:
        raise CalbioInputError(f"no set of {min_size}-{max_size} genes (no pair to write)", gmt)
    used = sum(min_size <= len(g) <= max_size for g in sets.values())
    with atomic_file(out) as tmp:
        res.to_csv(tmp, index=False, compression="gzip" if out.suffix == ".gz" else None)
    console.print(
        f"wrote {len(res):,} pairs from {used:,} of {len(sets):,} sets "
        f"({min_size}-{max_size} genes) to {out}",
        highlight=False,
        soft_wrap=True,
    )


@embed_app.command()
def smiles(
    drugs: Annotated[Path, typer.Argument(help="Table of molecules: an id and a SMILES column")],
    out: Annotated[Path, typer.Option(help="Embedding table to write (.parquet or .csv)")],
    radius: Annotated[int, typer.Option(help="Morgan radius")] = 2,
    bits: Annotated[int, typer.Option(help="Fingerprint length")] = 2048,
    id_column: IdCol = None,
    smiles_column: Annotated[str | None, typer.Option(help="SMILES column")] = None,
    invalid_out: Annotated[
        Path | None, typer.Option(help="Also write the invalid SMILES to this CSV")
    ] = None,
    force: Force = False,
) -> None:
    """Morgan fingerprints from SMILES (RDKit); invalid SMILES are listed and left out."""
    import pandas as pd

    from calbio.core.io import atomic_file, check_output_file
    from calbio.data.molecules import load_smiles_embeddings

    if not out.name.lower().endswith((".parquet", ".pq", ".csv", ".csv.gz")):
        raise CalbioInputError("--out must end in .parquet or .csv", out)
    check_output_file(out, force)
    if invalid_out is not None:
        check_output_file(invalid_out, force)
    res = load_smiles_embeddings(
        drugs, id_column=id_column, smiles_column=smiles_column, radius=radius, n_bits=bits
    )
    for r in res.invalid.head(20).itertuples(index=False):
        err_console.print(
            f"{drugs}: row {r.row}: {r.id!r}: {r.reason}: {r.smiles!r}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if len(res.invalid) > 20:
        err_console.print(f"... and {len(res.invalid) - 20:,} more invalid SMILES")
    emb = res.embeddings
    df = pd.DataFrame(emb.X.astype("uint8"), columns=[f"bit{i}" for i in range(emb.dim)])
    df.insert(0, "id", emb.names)
    with atomic_file(out) as tmp:
        if out.name.lower().endswith((".parquet", ".pq")):
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False, compression="gzip" if out.suffix == ".gz" else None)
    if invalid_out is not None:
        with atomic_file(invalid_out) as tmp:
            res.invalid.to_csv(tmp, index=False)
    console.print(
        f"wrote {len(emb):,} Morgan fingerprints (radius {radius}, {bits} bits) to {out}; "
        f"{len(res.invalid):,} invalid SMILES left out",
        highlight=False,
        soft_wrap=True,
    )
