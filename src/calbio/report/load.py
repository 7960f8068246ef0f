"""What ``calbio report`` reads from disk: evaluate runs, saved models, sweeps, doctor, clusters.

Inputs it understands (all optional except one of metrics.json / transfer.json / a model):
- an evaluate run directory (``calbio evaluate --out DIR``): ``metrics.json``,
  ``test_scores.csv.gz``, the first model in ``model/`` and every other in ``models/NAME/``;
- a runner directory whose sub-directories are evaluate runs (one section per protocol);
- a model directory (``calbio fit --out DIR``): its configuration and training curve only;
- a transfer run (``transfer.json``);
- ``clusters/`` from ``calbio clusters --out RUN/clusters`` (or ``clusters_dir=``);
- sweep tables (``*sweep*.csv`` or ``sweeps/*.csv``) and ``doctor.json`` when present;
- experiment-runner step JSONs (``NAME.json`` with ``kind`` and ``result``).
Models are read from their ``config.json`` (the format of ``models/persistence.py``) without
loading any weights: the parameter count comes from the recorded array shapes.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calbio.core.errors import CalbioInputError
from calbio.report import figures

# Parameters of a model's config that say how it computes, not what it learns.
HIDDEN_PARAMS = {"verbose", "threads", "device", "devices", "precision", "strategy"}


@dataclass
class RunSection:
    """One evaluation (one protocol) found in the run directory."""

    name: str
    path: Path
    metrics: dict[str, Any]
    scores: pd.DataFrame | None = None


@dataclass
class ModelInfo:
    """One saved model as the report shows it (read from config.json, weights not loaded)."""

    name: str
    path: Path
    kind: str
    preset: str | None
    n_parameters: int
    settings: dict[str, Any]
    loss: pd.DataFrame | None = None
    fit_seconds: float | None = None
    note: str | None = None


@dataclass
class RunData:
    """Everything the report reads from disk."""

    root: Path
    sections: list[RunSection] = field(default_factory=list)
    models: list[ModelInfo] = field(default_factory=list)
    sweeps: dict[str, pd.DataFrame] = field(default_factory=dict)
    doctor: Any = None
    clusters_dir: Path | None = None
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # experiment-runner steps
    transfer: dict[str, Any] | None = None  # transfer.json of a transfer run

    @property
    def model_dir(self) -> Path | None:
        """The first model's directory (None when the run saved no model)."""
        return self.models[0].path if self.models else None


def read_json(path: Path) -> Any:
    """A JSON file, or one CalbioInputError naming it."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CalbioInputError(f"cannot read JSON: {exc.__class__.__name__}", path) from None


def check_metrics(metrics: Any, path: Path) -> dict[str, Any]:
    """Refuse a metrics.json the report cannot show (not an object, no per-method results)."""
    if not isinstance(metrics, dict):
        raise CalbioInputError("is not a JSON object (expected calbio evaluate's metrics)", path)
    methods = metrics.get("methods")
    if not isinstance(methods, dict) or not methods:
        raise CalbioInputError(
            "has no per-method results ('methods' is missing or empty); "
            "write it with `calbio evaluate --out DIR`",
            path,
        )
    bad = [m for m, v in methods.items() if not isinstance(v, dict)]
    if bad:
        raise CalbioInputError(f"'methods' entry {bad[0]!r} is not an object", path)
    return metrics


def _read_section(d: Path, name: str) -> RunSection:
    metrics = check_metrics(read_json(d / "metrics.json"), d / "metrics.json")
    scores_file = d / "test_scores.csv.gz"
    scores = pd.read_csv(scores_file) if scores_file.is_file() else None
    return RunSection(name, d, metrics, scores)


def is_model_dir(path: Path) -> bool:
    """True when ``path`` holds a saved model (config.json with model.safetensors)."""
    return (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def _preset_values(preset: Any) -> dict[str, Any]:
    if not isinstance(preset, str):
        return {}
    from calbio.models.cal.config import get_preset

    try:
        return dataclasses.asdict(get_preset(preset))
    except (KeyError, ValueError):
        return {}


def count_parameters(arrays: dict[str, list[int]]) -> int:
    """Learned weights of a saved model: network tensors (``module.``) and combiners.

    Stored copies of the input (``embedding``), derived node vectors, PCA and the combiners'
    standardisation statistics (``mu``, ``sd``) are not counted.
    """
    n = 0
    for key, shape in arrays.items():
        weight = key.startswith("combiner.") and key.rsplit(".", 1)[-1] in ("coef", "intercept")
        if key.startswith("module.") or ".module." in key or weight:
            n += int(np.prod(shape, dtype=np.int64)) if shape else 1
    return n


def _loss_of(model_dir: Path, state: dict[str, Any]) -> pd.DataFrame | None:
    if (model_dir / "loss_curve.csv").is_file():
        return pd.read_csv(model_dir / "loss_curve.csv")
    for hist in (state.get("history"), (state.get("cal") or {}).get("history"), state):
        loss = hist.get("loss") if isinstance(hist, dict) else None
        if isinstance(loss, list) and loss:
            return pd.DataFrame({"epoch": np.arange(1, len(loss) + 1), "loss": loss})
    return None


def read_model_info(model_dir: Path, name: str | None = None) -> ModelInfo:
    """What a model directory says about the model (kind, preset, parameters, settings, loss)."""
    config = read_json(model_dir / "config.json")
    if not isinstance(config, dict):
        raise CalbioInputError("config.json is not a JSON object", model_dir)
    kind = str(config.get("model") or config.get("kind") or "?")
    name = name or kind
    if not isinstance(config.get("params"), dict) or not isinstance(config.get("arrays"), dict):
        note = f"model format {config.get('format')!r} is not this calbio's; refit to show it"
        return ModelInfo(name, model_dir, kind, None, 0, {}, note=note)
    params = config["params"]
    state = config.get("state") if isinstance(config.get("state"), dict) else {}
    preset = params.get("preset") if isinstance(params.get("preset"), str) else None
    base = _preset_values(preset)
    settings = {}
    for k, v in params.items():
        if k in HIDDEN_PARAMS or k == "preset":
            continue
        v = base.get(k) if v is None else v
        if v is not None and not isinstance(v, dict | list):
            settings[k] = v
    fit = state.get("fit_seconds")
    return ModelInfo(
        name=name,
        path=model_dir,
        kind=kind,
        preset=preset,
        n_parameters=count_parameters(config["arrays"]),
        settings=settings,
        loss=_loss_of(model_dir, state),
        fit_seconds=float(fit) if isinstance(fit, int | float) else None,
    )


def find_models(root: Path, sections: list[RunSection]) -> list[ModelInfo]:
    """Every saved model of the run: the directory itself, or ``model/`` and ``models/NAME/``."""
    if is_model_dir(root):
        return [read_model_info(root)]
    for base in [root, *(s.path for s in sections)]:
        names = next((s.metrics.get("models") for s in sections if s.path == base), None) or []
        found = []
        if is_model_dir(base / "model"):
            found.append(read_model_info(base / "model", names[0] if names else None))
        for d in sorted((base / "models").glob("*")):
            if is_model_dir(d):
                found.append(read_model_info(d, d.name))
        if found:
            order = {n: i for i, n in enumerate(names)}
            return sorted(found, key=lambda m: order.get(m.name, len(order)))
    return []


def _read_steps(root: Path, run: RunData) -> None:
    for f in sorted(root.glob("*.json")):
        if f.name in ("doctor.json", "metrics.json", "environment.json", "transfer.json"):
            continue
        rec = read_json(f)
        if isinstance(rec, dict) and isinstance(rec.get("result"), dict) and "kind" in rec:
            run.steps[f.stem] = rec
            if rec["kind"] == "doctor" and run.doctor is None:
                run.doctor = rec["result"]
            if rec["kind"] == "sweep":
                df = figures.sweep_frame(rec["result"])
                if df is not None and len(df):
                    run.sweeps[f"{f.stem} ({rec['result'].get('sweep')})"] = df


def load_run(path: str | Path, clusters_dir: str | Path | None = None) -> RunData:
    """Discover metrics, scores, models, sweeps, doctor verdicts and clusters under ``path``."""
    root = Path(path)
    if not root.is_dir():
        raise CalbioInputError("not a directory (expected a run or model directory)", root)
    run = RunData(root)
    if (root / "metrics.json").is_file():
        run.sections.append(_read_section(root, run_name(root)))
    else:  # a runner directory: STEP/metrics.json or STEP/seedN/metrics.json
        found = sorted(root.glob("*/metrics.json")) or sorted(root.glob("*/*/metrics.json"))
        for f in found:
            run.sections.append(_read_section(f.parent, str(f.parent.relative_to(root))))
    if (root / "transfer.json").is_file():
        run.transfer = read_json(root / "transfer.json")
    run.models = find_models(root, run.sections)
    if not run.sections and not run.models and run.transfer is None:
        raise CalbioInputError(
            "neither metrics.json (an evaluate run), transfer.json nor a model (config.json) found",
            root,
        )
    sweep_files = sorted(root.glob("*sweep*.csv")) + sorted(root.glob("sweeps/*.csv"))
    for f in sweep_files:
        df = pd.read_csv(f)
        if len(df.columns) >= 2 and len(df):
            run.sweeps[f.stem] = df
    if (root / "doctor.json").is_file():
        run.doctor = read_json(root / "doctor.json")
    _read_steps(root, run)
    cdir = Path(clusters_dir) if clusters_dir else root / "clusters"
    if (cdir / "clusters.csv").is_file():
        run.clusters_dir = cdir
    elif clusters_dir:
        raise CalbioInputError("no clusters.csv here (write it with `calbio clusters`)", cdir)
    return run


def run_name(path: Path) -> str:
    """A readable name for a run directory."""
    return path.resolve().name
