"""The result of one evaluation: metrics.json payload, per-pair scores, plots and saving."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from calbio.core.io import atomic_dir, write_json_atomic

TRANSDUCTIVE_NOTE = (
    "TRANSDUCTIVE: test positives are the training pairs themselves (the paper's protocol); "
    "these numbers measure fit, not generalisation."
)


@dataclass
class EvaluationResult:
    """Everything one evaluation produced; ``to_dict()`` is the metrics.json payload."""

    protocol: str
    seed: int
    n_entities: int
    n_train_pairs: int
    n_test_pairs: int
    n_negatives: int
    n_negatives_degree_matched: int
    cb_threshold: float
    methods: dict[str, dict[str, Any]]
    validation: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict, repr=False)
    scores: pd.DataFrame | None = field(default=None, repr=False)
    # the mapping report: per input identifier what it became (every pairs file mapped), and
    # one namespaces line per file; not in metrics.json (the CLI writes id_mapping.tsv)
    id_mapping: pd.DataFrame | None = field(default=None, repr=False)
    mapping_lines: list[str] = field(default_factory=list, repr=False)

    @property
    def transductive(self) -> bool:
        """True for the paper's train-on-test protocol."""
        return self.protocol == "transductive"

    @property
    def model(self) -> Any:
        """The first chosen (non-shortcut) model, or None for a baselines-only run."""
        return next(iter(self.models.values()), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metrics (the metrics.json contract)."""
        out = {
            "protocol": self.protocol,
            "transductive": self.transductive,
            "seed": self.seed,
            "n_entities": self.n_entities,
            "n_train_pairs": self.n_train_pairs,
            "n_test_pairs": self.n_test_pairs,
            "n_negatives": self.n_negatives,
            "n_negatives_degree_matched": self.n_negatives_degree_matched,
            "cb_threshold": self.cb_threshold,
            "models": list(self.models),
            "shortcuts": [m for m in self.methods if m not in self.models],
            "methods": self.methods,
            "validation": self.validation,
            "warnings": self.warnings,
            "verdicts": self.verdicts,
            "config": self.config,
            "data": self.data,
            "versions": self.versions,
            "timings": self.timings,
        }
        if self.transductive:
            out["note"] = TRANSDUCTIVE_NOTE
        return out

    def __repr__(self) -> str:
        from calbio.report.console import evaluation_repr

        return evaluation_repr(self)

    def plot_roc(self, methods: list[str] | None = None) -> Any:
        """ROC curve of every method on the held-out set (a matplotlib Figure)."""
        from calbio.report.plots import plot_roc

        return plot_roc(self, methods)

    def plot_loss(self) -> Any:
        """Training loss (and validation loss) of the first chosen model (a Figure)."""
        from calbio.report.plots import plot_loss

        return plot_loss(self.model.history_)

    def plot_degree_breakdown(self) -> Any:
        """AUC and MRR per training-degree bin for every method (a Figure)."""
        from calbio.report.plots import plot_degree_breakdown

        return plot_degree_breakdown(self)

    def plot_cross_boundary(self) -> Any:
        """Cosine histogram of positives and negatives with the cross-boundary band (a Figure)."""
        from calbio.report.plots import plot_cross_boundary

        return plot_cross_boundary(self)

    def save(
        self,
        out: str | Path,
        *,
        force: bool = False,
        save_model: bool = True,
        extra_files: dict[str, Any] | None = None,
    ) -> Path:
        """Write metrics.json, test_scores.csv.gz (every scored pair) and the fitted models.

        ``extra_files`` maps a file name to a writer ``f(path)`` run inside the atomic write.
        """
        with atomic_dir(out, force=force) as tmp:
            for name, writer in (extra_files or {}).items():
                writer(tmp / name)
            write_json_atomic(tmp / "metrics.json", self.to_dict())
            if self.scores is not None:
                self.scores.to_csv(tmp / "test_scores.csv.gz", index=False)
            if save_model:
                for i, (name, m) in enumerate(self.models.items()):
                    if not hasattr(m, "save"):
                        continue
                    m.save(tmp / ("model" if i == 0 else f"models/{name}"), force=True)
        return Path(out)
