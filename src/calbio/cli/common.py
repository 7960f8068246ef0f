"""Shared CLI option types and the loaders they feed."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from calbio.core.errors import CalbioInputError
from calbio.core.options import EVALUATION_SPECS, OptionSpec, Rule, check_options
from calbio.core.seeds import DEFAULT_SEED
from calbio.models.cal.config import CAL_SPECS

if TYPE_CHECKING:  # pandas/torch load on first use, not when the CLI starts
    from calbio.data.types import Embeddings, Pairs

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
        help="Training recipe: 'fast' (h=256, 20 one-cycle epochs) or 'paper' "
        "(the paper's exact recipe: h=1024, 100 epochs)"
    ),
]


def spec_option(spec: OptionSpec, help: str | None = None) -> Any:
    """The typer option of a spec: ``Annotated[type, typer.Option(help=...)]``.

    Unset (``None``) unless the spec has a ``cli_default``; a ``bool`` is an on/off flag.
    """
    kind: Any = spec.type if spec.cli_default is not None else spec.type | None
    return Annotated[kind, typer.Option(help=help or spec.help)]


def spec_options(specs: dict[str, OptionSpec]) -> dict[str, tuple[Any, Any]]:
    """``name -> (typer annotation, default)`` for every spec offered on the command line."""
    return {n: (spec_option(s), s.cli_default) for n, s in specs.items() if s.cli}


# Evaluation options, generated from calbio.core.options.EVALUATION_SPECS (defaults there too).
MinMapped = spec_option(EVALUATION_SPECS["min_mapped"])
TestFraction = spec_option(EVALUATION_SPECS["test_fraction"])
CbThreshold = spec_option(EVALUATION_SPECS["cb_threshold"])
NBoot = spec_option(EVALUATION_SPECS["n_boot"])
RankSample = spec_option(EVALUATION_SPECS["rank_sample"])
NegativeRatio = spec_option(EVALUATION_SPECS["negative_ratio"])


# Training options other commands take alone (e.g. `calbio speed --threads`).
Seed = spec_option(CAL_SPECS["seed"])
Epochs = spec_option(CAL_SPECS["epochs"])
Threads = spec_option(CAL_SPECS["threads"])


def eval_default(name: str) -> Any:
    """The default of an evaluation option (the Python API's)."""
    return EVALUATION_SPECS[name].default


IdTables = Annotated[
    Path | None,
    typer.Option(
        "--id-tables",
        # no typer envvar: $CALBIO_ID_TABLES is read in one place, data.identifiers.id_resolver
        help="Folder with NCBI Homo_sapiens.gene_info.gz (+ GeneID -> UniProt table) to convert "
        "identifier namespaces and outdated symbols (`calbio fetch gene-info`); default "
        "$CALBIO_ID_TABLES",
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
    from calbio.data.embeddings import load_embeddings

    return load_embeddings(
        path, id_column=id_column, layer=layer, names_file=names_file, drop=drop, dedupe=dedupe
    )


def parse_columns(columns: str | None) -> tuple[str, str] | None:
    """Parse ``--columns a,b`` into a pair of column names (None when not given)."""
    if not columns:
        return None
    parts = [x.strip() for x in columns.split(",")]
    if len(parts) != 2 or not all(parts):
        raise CalbioInputError(f"--columns must name two columns as 'a,b', got {columns!r}")
    return parts[0], parts[1]


def read_pairs(
    path: Path,
    columns: str | None,
    min_score: list[str] | None,
    protein_info: Path | None,
    min_mapped: float | None = 0.5,
    known_ids: Any = None,
    keep_rows: bool = False,
) -> Pairs:
    """Load pairs with the CLI's options (``keep_rows``: see ``calbio.data.pairs.load_pairs``)."""
    from calbio.data.pairs import load_pairs, parse_min_score

    return load_pairs(
        path,
        columns=parse_columns(columns),
        min_score=parse_min_score(min_score or []) or None,
        protein_info=protein_info,
        min_mapped=min_mapped,
        known_ids=known_ids,
        keep_rows=keep_rows,
    )


def written_listing(out: Path) -> str:
    """'wrote DIR/: a, b, model/, models/sage/': every output a command left in ``out``.

    Read from the folder itself after the (atomic) save, so the line cannot miss a file.
    """
    items: list[str] = []
    for entry in sorted(out.iterdir(), key=lambda p: (p.is_dir(), p.name)):
        if entry.is_dir() and entry.name == "models":
            items += [f"models/{sub.name}/" for sub in sorted(entry.iterdir()) if sub.is_dir()]
        else:
            items.append(entry.name + ("/" if entry.is_dir() else ""))
    return f"wrote {out}/: {', '.join(items) or 'nothing'}"


def report_pair_drops(pairs: Pairs) -> None:
    """Print what reading the pairs file dropped, step by step, and its warnings, on stderr."""
    from calbio.cli.app import err_console
    from calbio.data.pairs import describe_drops

    st = pairs.stats
    if int(st.get("n_rows_read", len(pairs))) != len(pairs):
        err_console.print(describe_drops(pairs), markup=False, highlight=False, soft_wrap=True)
    for w in st.get("warnings", []):
        err_console.print(f"warning: {w}", markup=False, highlight=False, soft_wrap=True)


def train_overrides(
    specs: Mapping[str, OptionSpec] | None = None,
    rules: Iterable[Rule] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """Training overrides from CLI options: drop unset values and False flags, then check them
    (by default CAL_SPECS and TRAIN_RULES: the same checks and texts as the Python API)."""
    from calbio.models.cal.config import TRAIN_RULES

    out = {k: v for k, v in kw.items() if v is not None and v is not False}
    check_options(
        CAL_SPECS if specs is None else specs, out, TRAIN_RULES if rules is None else rules
    )
    return out


# --------------------------------------------------------------------------- shared option groups
# One definition of the input and training options that `fit` and `evaluate` both take.
INPUT_OPTIONS: dict[str, tuple[Any, Any]] = {
    "id_column": (IdColumn, None),
    "layer": (Layer, None),
    "names_file": (NamesFile, None),
    "drop": (Drop, None),
    "dedupe": (Dedupe, None),
    "columns": (Columns, None),
    "min_score": (MinScore, None),
    "protein_info": (ProteinInfo, None),
    "min_mapped": (MinMapped, None),
    "id_tables": (IdTables, None),
}
# The training options, generated from the CAL specs (models.cal.config.CAL_SPECS): one
# typer option per spec offered on the CLI, with its help; None leaves the preset's value.
TRAIN_OPTIONS: dict[str, tuple[Any, Any]] = {
    "preset": (Preset, DEFAULT_PRESET),
    **spec_options(CAL_SPECS),
}


@dataclass(frozen=True)
class InputOptions:
    """How to read the embedding table and the pairs file."""

    id_column: str | None = None
    layer: str | None = None
    names_file: Path | None = None
    drop: str | None = None
    dedupe: str | None = None
    columns: str | None = None
    min_score: list[str] | None = None
    protein_info: Path | None = None
    min_mapped: float | None = None
    id_tables: Path | None = None
    _resolver: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def id_resolver(self) -> Any:
        """This command's ``IdResolver`` (``--id-tables``, else $CALBIO_ID_TABLES), built once."""
        if self._resolver is None:
            from calbio.data.identifiers import id_resolver

            object.__setattr__(self, "_resolver", id_resolver(self.id_tables))  # frozen: cache
        return self._resolver

    def embeddings(self, path: Path) -> Embeddings:
        """Load the embedding table."""
        return read_embeddings(
            path, self.id_column, self.layer, self.names_file, self.drop, self.dedupe
        )

    def pairs(self, path: Path, known_ids: Any = None) -> Pairs:
        """Load the pairs file (``known_ids``: the table's names, to spot a missing header)."""
        return read_pairs(
            path,
            self.columns,
            self.min_score,
            self.protein_info,
            min_mapped=self.min_mapped,
            known_ids=known_ids,
        )

    def paths(self, *given: Path) -> list[Path]:
        """Every input file: the given ones plus names/protein-info files (outputs must not hit)."""
        return [p for p in (*given, self.names_file, self.protein_info) if p is not None]


# The model `calbio fit` / `calbio evaluate` use unless --model says otherwise.
DEFAULT_MODEL = "cal"
ModelName = Annotated[
    str,
    typer.Option(
        "--model", help="Registered model name (cal, hybrid, sage, adamic_adar, cosine, ...)"
    ),
]


@dataclass(frozen=True)
class TrainingOptions:
    """Preset, seed and the preset fields overridden on the command line."""

    preset: str = DEFAULT_PRESET
    seed: int = DEFAULT_SEED
    overrides: dict[str, Any] = field(default_factory=dict)


def validate_shared(
    inputs: InputOptions,
    training: TrainingOptions,
    specs: Mapping[str, OptionSpec] | None = None,
    rules: Iterable[Rule] | None = None,
) -> None:
    """Check the shared options before any work (same checks as the Python API)."""
    from calbio.core.options import check_min_mapped
    from calbio.models.cal.config import get_preset

    check_min_mapped(inputs.min_mapped)
    train_overrides(specs, rules, seed=training.seed, **training.overrides)
    try:
        get_preset(training.preset)
    except ValueError as exc:
        raise CalbioInputError(f"--preset: {exc}") from None


def with_shared_options(
    fn: Callable[..., Any] | None = None,
    *,
    train: tuple[str, ...] | None = None,
    inputs: tuple[str, ...] | None = None,
    defaults: dict[str, Any] | None = None,
    specs: Mapping[str, OptionSpec] | None = None,
    rules: Iterable[Rule] | None = None,
) -> Any:
    """Give a command the shared input and training options, passed as ``inputs``/``training``.

    ``train`` / ``inputs`` name a subset of TRAIN_OPTIONS / INPUT_OPTIONS (default: all);
    ``defaults`` changes a default (e.g. ``{"min_mapped": 0.1}``). Commands pass
    ``inputs.id_resolver`` (from ``--id-tables`` / $CALBIO_ID_TABLES) as ``id_tables=``.
    ``specs`` / ``rules``: the training option specs (default: CAL_SPECS, TRAIN_RULES); every
    spec offered on the CLI becomes an option, checked by its spec before the command runs.
    """
    train_table = (
        TRAIN_OPTIONS
        if specs is None
        else {"preset": (Preset, DEFAULT_PRESET), **spec_options(specs)}
    )
    train_names = tuple(train_table) if train is None else train
    input_names = tuple(INPUT_OPTIONS) if inputs is None else inputs
    table = {**train_table, **INPUT_OPTIONS}
    chosen = {
        n: (table[n][0], (defaults or {}).get(n, table[n][1])) for n in (*train_names, *input_names)
    }

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(func, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name not in ("inputs", "training")]
        extra = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a)
            for name, (a, d) in chosen.items()
        ]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            given_inputs = InputOptions(**{k: kwargs.pop(k) for k in input_names})
            train_values = {k: kwargs.pop(k) for k in train_names}
            head = {k: train_values.pop(k) for k in ("preset", "seed") if k in train_values}
            overrides = {k: v for k, v in train_values.items() if v is not None and v is not False}
            training = TrainingOptions(**head, overrides=overrides)
            validate_shared(given_inputs, training, specs, rules)
            return func(**kwargs, inputs=given_inputs, training=training)

        params = own + extra
        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate(fn) if fn is not None else decorate


@contextlib.contextmanager
def training_progress(quiet: bool = False) -> Iterator:
    """Per-epoch progress: a rich bar on a terminal, periodic log lines otherwise (core.logs)."""
    from calbio.cli.app import err_console
    from calbio.core.logs import training_progress as progress

    with progress(quiet, console=err_console) as cb:
        yield cb
