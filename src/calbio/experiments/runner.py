"""Run an experiment file: data + training options + a list of steps, into a run directory.

The run directory holds one JSON per finished step (written atomically, last), a copy of the
experiment file (``config.toml``), ``environment.json`` and ``summary.md`` with every table.
Re-running skips steps whose JSON exists (resumable after a kill) unless an input file changed
since (each record holds the sha256 of every file the step read); ``force`` recomputes. Step and
experiment names are plain names, and every path written is resolved inside the run directory.

Experiment file::

    [data]                      # paths are relative to the experiment file
    embeddings = "emb.csv"      # + id_column, layer, names_file, drop, dedupe
    pairs = "pairs.csv"         # + columns = ["a", "b"], min_score = {combined_score = 900}
    min_mapped = 0.1
    validate_with = ["reactome.csv"]
    pca = 50                    # optional

    [training]                  # any TrainConfig field, plus preset
    preset = "paper"
    epochs = 20

    seeds = [42]                # default seeds of every step (top level)

    [[steps]]
    kind = "doctor"             # doctor | evaluate | ablate | sweep | degree
    [[steps]]
    kind = "sweep"
    sweep = "threshold"         # threshold | lambda | cb
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from calbio.core.errors import CalbioInputError
from calbio.core.io import (
    check_not_input,
    inside,
    sha256_file,
    write_json_atomic,
    write_text_atomic,
)
from calbio.core.options import check_evaluation
from calbio.core.seeds import DEFAULT_SEED
from calbio.data.types import Embeddings, Pairs
from calbio.models.cal.config import check_training, get_preset
from calbio.report.tables import tables_markdown

STEP_KINDS = ("doctor", "evaluate", "ablate", "sweep", "degree")
SWEEPS = ("threshold", "lambda", "cb")
DATA_KEYS = {
    "embeddings",
    "pairs",
    "id_column",
    "layer",
    "names_file",
    "drop",
    "dedupe",
    "columns",
    "min_score",
    "protein_info",
    "min_mapped",
    "id_tables",
    "validate_with",
    "pca",
}
# Every key the experiment file accepts, per table: anything else is refused with the closest
# valid key named (a misspelled key would otherwise fall back to its default without a word).
TOP_KEYS = {"name", "seeds", "data", "training", "steps"}
STEP_COMMON_KEYS = {"kind", "name", "seeds", "training"}
STEP_KEYS = {
    "doctor": {"train_check", "quick_training"},
    "evaluate": {"protocol", "test_fraction", "cb_threshold", "n_boot", "rank"},
    "ablate": {"conditions", "test_fraction", "cb_threshold", "n_boot"},
    "degree": {"from", "cb_threshold", "top"},
}
SWEEP_STEP_KEYS = {
    "threshold": {
        "sweep",
        "pairs",
        "column",
        "values",
        "channels",
        "protocol",
        "min_mapped",
        "cb_threshold",
        "validate",
        "n_boot",
    },
    "lambda": {"sweep", "lambdas", "validation_fraction", "select", "cb_threshold"},
    "cb": {"sweep", "from", "thresholds"},
}
PROTOCOLS = ("edge", "node", "transductive")
Log = Callable[[str], None]
# Step and experiment names become file and folder names in the run directory: plain names only
# (no separators, no leading dot, so never '..' or an absolute path).
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def check_name(value: Any, what: str, path: Path | None = None) -> str:
    """A step or experiment name that is safe as a file name; refuse anything else."""
    text = str(value)
    if not isinstance(value, str) or not NAME_RE.match(text):
        raise CalbioInputError(
            f"{what} {text!r} is not a plain name (letters, digits, '_', '-', '.'; not starting "
            "with '.'; no path separators)",
            path,
        )
    return text


@dataclass
class Experiment:
    """A parsed experiment file."""

    path: Path
    text: str
    data: dict[str, Any]
    training: dict[str, Any]
    seeds: list[int]
    steps: list[dict[str, Any]]
    name: str = ""

    @property
    def preset(self) -> str:
        """Training preset name."""
        return str(self.training.get("preset", "paper"))

    @property
    def train_options(self) -> dict[str, Any]:
        """TrainConfig overrides (everything in [training] but the preset, plus data.pca)."""
        opts = {k: v for k, v in self.training.items() if k != "preset"}
        if self.data.get("pca") is not None:
            opts["pca"] = int(self.data["pca"])
        return opts


def _resolve(base: Path, value: Any) -> Path:
    from calbio.data.paths import resolve  # ${CALBIO_DATA}, ${VAR:-default}; unset = error

    return resolve(base, value)


def check_keys(
    table: Any, allowed: set[str], where: str, path: Path | None = None
) -> dict[str, Any]:
    """Refuse a table that is not a table or holds a key not in ``allowed`` (closest one named)."""
    import difflib

    if not isinstance(table, dict):
        raise CalbioInputError(f"{where} must be a table, got {table!r}", path)
    for key in table:
        if key == "seed" and "seeds" not in allowed:
            raise CalbioInputError(
                f"unknown key 'seed' in {where}; seeds are set with seeds = [...] at the top "
                "level or in a [[steps]] table",
                path,
            )
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise CalbioInputError(
                f"unknown key {key!r} in {where}; {hint}valid keys: {', '.join(sorted(allowed))}",
                path,
            )
    return dict(table)


def check_seeds(value: Any, where: str, path: Path | None = None) -> list[int]:
    """``seeds``: a list of integers >= 0 (a single integer is read as a list of one)."""
    items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    ok = isinstance(items, list) and bool(items)
    ok = ok and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in items)
    if not ok:
        raise CalbioInputError(
            f"{where}seeds must be a list of integers >= 0 (e.g. seeds = [42, 123]), got {value!r}",
            path,
        )
    return [int(x) for x in items]


def _step_keys(step: dict[str, Any]) -> set[str]:
    if step["kind"] == "sweep":
        return STEP_COMMON_KEYS | SWEEP_STEP_KEYS[step["sweep"]]
    return STEP_COMMON_KEYS | STEP_KEYS[step["kind"]]


def _check_training_table(table: Any, where: str, path: Path) -> dict[str, Any]:
    """A [training] table: preset + TrainConfig fields, each checked (closest key named)."""
    training = check_keys(table, _train_fields() | {"preset"}, where, path)
    try:
        check_training(training)
        get_preset(training.get("preset", "paper")).replace(
            **{k: v for k, v in training.items() if k != "preset"}
        )
    except (ValueError, TypeError) as exc:
        raise CalbioInputError(f"{where}: {exc}", path) from None
    return training


def _train_fields() -> set[str]:
    import dataclasses

    from calbio.models.cal.config import TrainConfig

    # seeds are set by `seeds` (top level or per step), never by a training table
    return {f.name for f in dataclasses.fields(TrainConfig)} - {"seed"}


def _step_name(step: dict[str, Any]) -> str:
    if "name" in step:
        return str(step["name"])
    kind = step["kind"]
    if kind == "evaluate":
        return f"evaluate_{step.get('protocol', 'edge')}"
    if kind == "sweep":
        return f"sweep_{step.get('sweep', '')}"
    return kind


def load_experiment(path: str | Path) -> Experiment:
    """Parse and validate an experiment TOML file (paths resolved against its folder)."""
    path = Path(path)
    if not path.is_file():
        raise CalbioInputError("experiment file not found", path)
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalbioInputError(f"invalid TOML: {exc}", path) from None
    check_keys(raw, TOP_KEYS, "the experiment file (top level)", path)
    base = path.resolve().parent
    data = _check_data_table(raw.get("data", {}), base, path)
    training = _check_training_table(raw.get("training", {}), "[training]", path)
    raw_steps = raw.get("steps", [])
    if not isinstance(raw_steps, list) or not all(isinstance(s, dict) for s in raw_steps):
        raise CalbioInputError("steps must be a list of [[steps]] tables", path)
    steps = [dict(s) for s in raw_steps]
    if not steps:
        raise CalbioInputError("no [[steps]] in the experiment", path)
    names = set()
    for i, s in enumerate(steps, 1):
        _check_step(i, s, base, path)
        if s["name"] in names:
            raise CalbioInputError(f"two steps are named {s['name']!r}; give one a name", path)
        names.add(s["name"])
    for s in steps:
        if s.get("from") is not None and s["from"] not in names:
            raise CalbioInputError(
                f"step {s['name']!r}: from = {s['from']!r} names no step of the experiment", path
            )
    seeds = check_seeds(raw.get("seeds", [DEFAULT_SEED]), "", path)
    name = check_name(raw.get("name", path.stem), "experiment name", path)
    return Experiment(path, text, data, training, seeds, steps, name)


def _check_data_table(table: Any, base: Path, path: Path) -> dict[str, Any]:
    """The checked [data] table, its file paths resolved against the experiment's folder."""
    data = check_keys(table, DATA_KEYS, "[data]", path)
    for key in ("embeddings", "pairs"):
        if key not in data:
            raise CalbioInputError(f"[data] needs '{key}'", path)
    for key in ("embeddings", "pairs", "names_file", "protein_info", "id_tables"):
        if data.get(key) is not None:
            data[key] = _resolve(base, data[key])
    data["validate_with"] = [_resolve(base, v) for v in data.get("validate_with", [])]
    if data.get("min_mapped") is not None:
        try:
            check_evaluation(min_mapped=data["min_mapped"])
        except CalbioInputError as exc:
            raise CalbioInputError(f"[data]: {exc}", path) from None
    return data


def _check_step(i: int, s: dict[str, Any], base: Path, path: Path) -> None:
    """Check the ``i``-th [[steps]] table in place: kind, keys, values, paths and its name."""
    if s.get("kind") not in STEP_KINDS:
        raise CalbioInputError(
            f"step {i}: step kind must be one of {STEP_KINDS}, got {s.get('kind')!r}", path
        )
    if s["kind"] == "sweep" and s.get("sweep") not in SWEEPS:
        raise CalbioInputError(
            f"step {i}: a sweep step needs sweep = one of {SWEEPS}, got {s.get('sweep')!r}",
            path,
        )
    where = f"step {i} ({s['kind']}{' ' + s['sweep'] if s['kind'] == 'sweep' else ''})"
    check_keys(s, _step_keys(s), where, path)
    if "seeds" in s:
        s["seeds"] = check_seeds(s["seeds"], f"{where}: ", path)
    if "training" in s:
        s["training"] = check_keys(s["training"], _train_fields(), f"{where}: training", path)
    if s.get("protocol") is not None and s["protocol"] not in PROTOCOLS:
        raise CalbioInputError(
            f"{where}: protocol must be one of {', '.join(PROTOCOLS)}, got {s['protocol']!r}",
            path,
        )
    if s.get("pairs") is not None:
        s["pairs"] = _resolve(base, s["pairs"])
    try:
        check_evaluation(
            test_fraction=s.get("test_fraction"),
            n_boot=s.get("n_boot"),
            cb_threshold=s.get("cb_threshold"),
            min_mapped=s.get("min_mapped"),
        )
        check_training(s.get("training", {}))
        if s.get("quick_training") is not None:
            check_keys(s["quick_training"], _train_fields(), f"{where}: quick_training", path)
            check_training(s["quick_training"])
    except CalbioInputError as exc:
        raise CalbioInputError(f"step {_step_name(s)!r}: {exc}", path) from None
    s["name"] = check_name(_step_name(s), "step name", path)
    if s.get("from") is not None:
        check_name(s["from"], f"step {s['name']!r}: from", path)


@dataclass
class Context:
    """Lazily loaded inputs shared by the steps of one run."""

    exp: Experiment
    out: Path
    log: Log
    cache: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def embeddings(self) -> Embeddings:
        """The embedding table."""
        from calbio.data.embeddings import load_embeddings

        d = self.exp.data
        return load_embeddings(
            d["embeddings"],
            id_column=d.get("id_column"),
            layer=d.get("layer"),
            names_file=d.get("names_file"),
            drop=d.get("drop"),
            dedupe=d.get("dedupe"),
        )

    def pairs(self, path: Path | None = None, filtered: bool = True) -> Pairs:
        """The pairs file (or another one), with [data] columns/min_score/protein_info."""
        from calbio.data.pairs import load_pairs

        d = self.exp.data
        p = Path(path or d["pairs"])
        key = f"{p}|{filtered}"
        if key not in self.cache:
            cols = d.get("columns")
            self.cache[key] = load_pairs(
                p,
                columns=tuple(cols) if cols else None,
                min_score=(d.get("min_score") or None) if filtered else None,
                protein_info=d.get("protein_info"),
                min_mapped=self.min_mapped,
                known_ids=self.embeddings.names,
            )
        return self.cache[key]

    @cached_property
    def validation(self) -> list[Pairs]:
        """Independent validation pair sets."""
        from calbio.data.pairs import load_pairs

        return [load_pairs(p) for p in self.exp.data.get("validate_with", [])]

    @property
    def min_mapped(self) -> float | None:
        """[data] min_mapped; unset (None) is the embedding-coverage rule of fit and evaluate.

        Every step maps its pairs with :func:`calbio.data.coerce.as_mapped_pairs` (the function
        the CLI's fit / evaluate / doctor use), so a run accepts exactly what the CLI accepts.
        """
        value = self.exp.data.get("min_mapped")
        return None if value is None else float(value)

    @cached_property
    def id_resolver(self) -> Any:
        """One ``IdResolver`` for the run: [data] id_tables, else $CALBIO_ID_TABLES, else none."""
        from calbio.data.identifiers import id_resolver

        return id_resolver(self.exp.data.get("id_tables"))

    def options(self, step: dict[str, Any]) -> dict[str, Any]:
        """Training overrides for a step: [training] updated by the step's own [training]."""
        return {**self.exp.train_options, **step.get("training", {})}

    def seeds(self, step: dict[str, Any]) -> list[int]:
        """The step's seeds (default: the experiment's)."""
        return [int(s) for s in step.get("seeds", self.exp.seeds)]

    def input_files(self, step: dict[str, Any]) -> list[Path]:
        """Every file a step reads: [data] files, the step's own pairs, an earlier step's record."""
        d = self.exp.data
        files = [d[k] for k in ("embeddings", "pairs", "names_file", "protein_info") if d.get(k)]
        files += list(d.get("validate_with", []))
        if step.get("pairs") is not None:
            files.append(step["pairs"])
        src = step.get("from")
        if src is None and (step["kind"] == "degree" or step.get("sweep") == "cb"):
            src = next((s["name"] for s in self.exp.steps if s["kind"] == "evaluate"), None)
        if src is not None:
            files.append(self.out / f"{src}.json")
        return [Path(f) for f in files]

    def input_hashes(self, step: dict[str, Any]) -> dict[str, str | None]:
        """sha256 of every input file of a step (None for a missing one), cached per run."""
        hashes = self.cache.setdefault("_sha256", {})
        out: dict[str, str | None] = {}
        for f in self.input_files(step):
            key = str(f)
            if key not in hashes or f.suffix == ".json":  # step records change during a run
                hashes[key] = sha256_file(f) if f.is_file() else None
            out[key] = hashes[key]
        return out


# ------------------------------------------------------------------------------ steps
def _mapped(ctx: Context):
    from calbio.data.coerce import as_mapped_pairs

    return as_mapped_pairs(ctx.pairs(), ctx.embeddings, ctx.min_mapped, ctx.id_resolver)


def step_doctor(ctx: Context, step: dict[str, Any]) -> dict[str, Any]:
    """The deployment checklist."""
    from calbio.analysis.doctor import QUICK_TRAINING, run_doctor

    opts = ctx.options(step)
    return run_doctor(
        ctx.embeddings,
        ctx.pairs(),
        pca=opts.get("pca"),
        seed=ctx.seeds(step)[0],
        min_mapped=ctx.min_mapped,
        id_tables=ctx.id_resolver,
        train_check=bool(step.get("train_check", True)),
        quick_training=step.get("quick_training", QUICK_TRAINING),
        threads=opts.get("threads"),
        log=ctx.log,
    )


METHOD_COLUMNS = (
    ("auc", "AUC"),
    ("cb_auc", "CB AUC"),
    ("auc_degree_matched", "degAUC"),
    ("ap", "AP"),
    ("mrr", "MRR"),
    ("hits@10", "Hits@10"),
)


def methods_tables(runs: list[dict[str, Any]], title: str) -> list[dict[str, Any]]:
    """Method × metric tables (held-out, then each validation set), mean ± SD over runs."""
    from calbio.analysis.tables import fmt_ms, table

    def one(blocks: list[dict[str, dict[str, Any]]], t: str, note: str) -> dict[str, Any]:
        keys = [(k, h) for k, h in METHOD_COLUMNS if any(k in m for m in blocks[0].values())]
        rows = [
            [name] + [fmt_ms([b[name].get(k) for b in blocks]) for k, _ in keys]
            for name in blocks[0]
        ]
        return table(t, ["method"] + [h for _, h in keys], rows, [note])

    r0 = runs[0]
    seeds = ", ".join(str(r["seed"]) for r in runs)
    sd = " (mean ± SD)" if len(runs) > 1 else ""
    head = (
        f"protocol {r0['protocol']}; {r0['n_train_pairs']:,} train / {r0['n_test_pairs']:,} test "
        f"pairs; {r0['n_negatives']:,} random + {r0['n_negatives_degree_matched']:,} "
        f"degree-matched negatives; CB |cos| < {r0['cb_threshold']}; seeds {seeds}{sd}."
    )
    if r0.get("note"):
        head += " " + r0["note"]
    out = [one([r["methods"] for r in runs], title, head)]
    for stem, v in r0.get("validation", {}).items():
        out.append(
            one(
                [r["validation"][stem]["methods"] for r in runs],
                f"Validation on {stem} ({v['n_pairs']:,} non-training pairs)",
                "Pairs of an independent file that are not training pairs, against random and "
                "degree-matched negatives.",
            )
        )
    out[0]["notes"].extend(mean_warnings(runs))
    return out


def mean_warnings(runs: list[dict[str, Any]]) -> list[str]:
    """Warnings over the seeds: each seed's paired verdicts (one bootstrap of the differences
    per seed) counted per model, rival, metric and set (runs saved before verdicts existed:
    the unpaired shortcut warnings on the seed-averaged metrics)."""
    from calbio.analysis.tables import mean_sd
    from calbio.evaluation.verdicts import HEADLINE_METRICS, shortcut_warnings, verdicts_over_seeds

    if all("verdicts" in r for r in runs):
        return verdicts_over_seeds([r["verdicts"] for r in runs])

    def avg(blocks: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
        return {
            m: {k: mean_sd([b[m].get(k) for b in blocks])[0] for k in HEADLINE_METRICS}
            for m in blocks[0]
        }

    warn = shortcut_warnings(avg([r["methods"] for r in runs]))
    for stem in runs[0].get("validation", {}):
        blocks = [r["validation"][stem]["methods"] for r in runs]
        warn += shortcut_warnings(avg(blocks), f" on {stem}")
    return warn


def step_evaluate(ctx: Context, step: dict[str, Any]) -> dict[str, Any]:
    """Held-out evaluation per seed; each seed's run directory is kept for later steps."""
    from calbio.evaluation.protocol import evaluate

    protocol = step.get("protocol", "edge")
    runs = []
    for seed in ctx.seeds(step):
        ctx.log(f"{step['name']}: seed {seed}")
        res = evaluate(
            ctx.embeddings,
            _mapped(ctx),
            protocol=protocol,
            preset=ctx.exp.preset,
            seed=seed,
            test_fraction=float(step.get("test_fraction", 0.3)),
            cb_threshold=float(step.get("cb_threshold", 0.2)),
            validate_with=ctx.validation,
            n_boot=int(step.get("n_boot", 1000)),
            rank=bool(step.get("rank", True)),
            min_mapped=ctx.min_mapped,
            id_tables=ctx.id_resolver,
            **ctx.options(step),
        )
        target = inside(ctx.out / step["name"] / f"seed{seed}", ctx.out, "step output")
        check_not_input(target, ctx.input_files(step))
        res.save(target, force=True)
        d = res.to_dict()
        d.pop("versions", None)
        d.pop("timings", None)
        runs.append(d)
    title = f"Held-out evaluation ({protocol} protocol)"
    if protocol == "transductive":
        title = "Transductive evaluation (paper's protocol: test pairs = training pairs)"
    return {
        "kind": "evaluate",
        "protocol": protocol,
        "runs": runs,
        "tables": methods_tables(runs, title),
    }


def step_ablate(ctx: Context, step: dict[str, Any]) -> dict[str, Any]:
    """Table 4 on one shared test set."""
    from calbio.analysis.ablation import CONDITIONS, ablate

    return ablate(
        ctx.embeddings,
        _mapped(ctx),
        seeds=ctx.seeds(step),
        conditions=step.get("conditions", list(CONDITIONS)),
        preset=ctx.exp.preset,
        test_fraction=float(step.get("test_fraction", 0.3)),
        cb_threshold=float(step.get("cb_threshold", 0.2)),
        n_boot=int(step.get("n_boot", 200)),
        log=ctx.log,
        **ctx.options(step),
    )


def _from_dir(ctx: Context, step: dict[str, Any]) -> Path:
    src = step.get("from") or next(
        (s["name"] for s in ctx.exp.steps if s["kind"] == "evaluate"), None
    )
    if src is None:
        raise CalbioInputError(f"step {step['name']!r} needs an evaluate step (from = NAME)")
    d = inside(ctx.out / src, ctx.out, "step folder")
    if not d.is_dir():
        raise CalbioInputError(f"step {step['name']!r}: evaluate step {src!r} has not run", d)
    return d


def step_sweep(ctx: Context, step: dict[str, Any]) -> dict[str, Any]:
    """Threshold, λ or cross-boundary sweep."""
    from calbio.analysis import sweep as sw

    kind = step["sweep"]
    if kind == "cb":
        from calbio.analysis.degree import load_run_scores

        runs = load_run_scores(_from_dir(ctx, step))
        return sw.cb_sensitivity([df for _, df in runs], step.get("thresholds", sw.CB_THRESHOLDS))
    if kind == "lambda":
        return sw.lambda_sweep(
            ctx.embeddings,
            _mapped(ctx),
            lambdas=step.get("lambdas", sw.LAMBDAS),
            seeds=ctx.seeds(step),
            validation_fraction=float(step.get("validation_fraction", 0.2)),
            select=step.get("select", "auc"),
            cb_threshold=float(step.get("cb_threshold", 0.2)),
            preset=ctx.exp.preset,
            log=ctx.log,
            **ctx.options(step),
        )
    from calbio.data.pairs import parse_min_score

    channels = [parse_min_score([c]) for c in step.get("channels", [])]
    return sw.threshold_sweep(
        ctx.embeddings,
        ctx.pairs(step.get("pairs"), filtered=False),
        column=step.get("column", "combined_score"),
        values=step.get("values", [400, 700, 900]),
        channels=channels,
        seeds=ctx.seeds(step),
        protocol=step.get("protocol", "edge"),
        min_mapped=step.get("min_mapped", ctx.min_mapped),
        id_tables=ctx.id_resolver,
        cb_threshold=float(step.get("cb_threshold", 0.2)),
        validate_with=ctx.validation if step.get("validate", True) else (),
        n_boot=int(step.get("n_boot", 200)),
        preset=ctx.exp.preset,
        log=ctx.log,
        **ctx.options(step),
    )


def step_degree(ctx: Context, step: dict[str, Any]) -> dict[str, Any]:
    """Degree dependence from an evaluate step's held-out scores."""
    from calbio.analysis.degree import degree_report, load_run_scores

    runs = load_run_scores(_from_dir(ctx, step))
    return degree_report(
        [df for _, df in runs],
        cb_threshold=float(step.get("cb_threshold", 0.2)),
        n_top=int(step.get("top", 20)),
    )


STEPS: dict[str, Callable[[Context, dict[str, Any]], dict[str, Any]]] = {
    "doctor": step_doctor,
    "evaluate": step_evaluate,
    "ablate": step_ablate,
    "sweep": step_sweep,
    "degree": step_degree,
}


# ------------------------------------------------------------------------------ reporting
def training_statement(exp: Experiment) -> str:
    """Which training settings differ from the preset (fast settings are stated, not hidden)."""
    base = get_preset(exp.preset)
    opts = exp.train_options
    diffs = [
        f"{k} {v} (preset: {getattr(base, k)})"
        for k, v in opts.items()
        if k != "threads" and getattr(base, k, None) != v
    ]
    threads = f" torch threads: {opts['threads']}." if opts.get("threads") else ""
    if not diffs:
        return f"Training: preset '{exp.preset}', unchanged.{threads}"
    changed = "; ".join(diffs)
    return f"Training: preset '{exp.preset}' with FAST/CHANGED settings: {changed}.{threads}"


def environment() -> dict[str, Any]:
    """Versions, platform and CPU of this run."""
    import torch

    from calbio.models.persistence import versions

    return {
        **versions(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "argv": sys.argv,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def write_summary(exp: Experiment, out: Path) -> Path:
    """summary.md from the step JSONs present in ``out`` (in experiment order)."""
    import json

    lines = [f"# Experiment `{exp.name}`", ""]
    lines.append(f"- Experiment file: `{exp.path.name}` (copied to `config.toml`)")
    lines.append(
        f"- Embeddings: `{Path(exp.data['embeddings']).name}`; pairs: "
        f"`{Path(exp.data['pairs']).name}`"
        + (f" (min_score {exp.data['min_score']})" if exp.data.get("min_score") else "")
    )
    if exp.data.get("validate_with"):
        names = ", ".join(f"`{Path(p).name}`" for p in exp.data["validate_with"])
        lines.append(f"- Validation sets: {names}")
    lines.append(f"- {training_statement(exp)}")
    env_file = out / "environment.json"
    if env_file.is_file():
        env = json.loads(env_file.read_text())
        lines.append(
            f"- Environment: calbio {env.get('calbio')}, torch {env.get('torch')}, numpy "
            f"{env.get('numpy')}, scikit-learn {env.get('scikit-learn')}, Python "
            f"{env.get('python')}, {env.get('cpu_count')} CPUs"
        )
    total, done = 0.0, 0
    body = []
    for s in exp.steps:
        f = out / f"{s['name']}.json"
        if not f.is_file():
            body.append(f"## {s['name']} ({s['kind']}): not run yet\n")
            continue
        rec = json.loads(f.read_text())
        total += rec.get("seconds", 0.0)
        done += 1
        body.append(f"## {s['name']} ({s['kind']}, {rec.get('seconds', 0):.0f} s)\n")
        body.append(tables_markdown(rec["result"].get("tables", [])))
    lines.append(f"- Steps finished: {done} of {len(exp.steps)}; compute time {total / 60:.1f} min")
    lines.append("")
    path = out / "summary.md"
    write_text_atomic(path, "\n".join(lines + body).rstrip() + "\n")
    return path


def _changed_inputs(record: Path, hashes: dict[str, str | None]) -> list[str]:
    """Input files whose sha256 differs from the one recorded when the step ran."""
    try:
        old = json.loads(record.read_text(encoding="utf-8")).get("inputs")
    except (OSError, ValueError):
        return [f"{record.name} unreadable"]
    if not isinstance(old, dict):
        return ["no input hashes recorded"]
    return [Path(k).name for k in sorted(set(old) | set(hashes)) if old.get(k) != hashes.get(k)]


def run_experiment(
    path: str | Path,
    out: str | Path | None = None,
    *,
    force: bool = False,
    log: Log | None = None,
) -> dict[str, Any]:
    """Run every step not yet done (all with ``force``); returns {name: status}."""
    exp = load_experiment(path)
    out = Path(out) if out is not None else Path("runs") / exp.name
    log = log or (lambda msg: None)
    cfg = out / "config.toml"
    if cfg.is_file() and cfg.read_text(encoding="utf-8") != exp.text and not force:
        raise CalbioInputError(
            "run directory holds a different experiment; pass --force to recompute or use "
            "another --out",
            out,
        )
    from calbio.data.paths import validate_experiment

    validate_experiment(exp)  # a bad data path writes nothing
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cfg, exp.text)
    write_json_atomic(out / "environment.json", environment())
    ctx = Context(exp, out, log)
    status: dict[str, str] = {}
    for step in exp.steps:
        f = inside(out / f"{step['name']}.json", out, "step record")
        hashes = ctx.input_hashes(step)
        if f.is_file() and not force:
            changed = _changed_inputs(f, hashes)
            if not changed:
                log(f"{step['name']}: done already, skipped")
                status[step["name"]] = "skipped"
                continue
            log(f"{step['name']}: inputs changed since it ran ({', '.join(changed)}); recomputing")
        log(f"{step['name']}: running")
        t0 = time.perf_counter()
        result = STEPS[step["kind"]](ctx, step)
        rec = {
            "name": step["name"],
            "kind": step["kind"],
            "inputs": hashes,
            "params": {k: v for k, v in step.items() if k != "name"},
            "seconds": time.perf_counter() - t0,
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "result": result,
        }
        write_json_atomic(f, rec)
        status[step["name"]] = "done"
        write_summary(exp, out)
    write_summary(exp, out)
    return status


__all__ = ["STEPS", "Experiment", "load_experiment", "run_experiment", "tables_markdown"]
