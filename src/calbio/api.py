"""High-level helpers shared by the CLI and notebooks: scoring tables and the demo."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from calbio._io import atomic_dir, write_json_atomic
from calbio.data.matching import map_pairs
from calbio.data.types import Embeddings, Pairs
from calbio.errors import CalbioInputError
from calbio.model.estimator import CAL
from calbio.scoring import pair_scores

REAL_DEMO_FILES = (
    "embeddings/depmap_crispr_gene_effect_pca50.csv",
    "associations/string_ge950_pairs.csv",
)


def score_pairs_table(
    model: CAL, pairs: Pairs, kind: str | None = None, min_mapped: float = 0.5
) -> pd.DataFrame:
    """Pairs that map onto the model's entities, with association score and cosine."""
    mapped = map_pairs(
        pairs, Embeddings(model.names_, model.embedding_, source="model"), min_fraction=min_mapped
    )
    idx = mapped.idx
    assoc = model.score_pairs(idx, kind=kind)
    cos = pair_scores(model.embedding_, model.embedding_, idx, "cosine")
    return pd.DataFrame(
        {
            "a": model.names_[idx[:, 0]],
            "b": model.names_[idx[:, 1]],
            "association": assoc,
            "cosine": cos,
        }
    )


def _demo_inputs(data: Path | None) -> tuple[Embeddings, Pairs, str]:
    if data is None:
        from calbio.data.synthetic import make_synthetic

        syn = make_synthetic(seed=0)
        return syn.embeddings, syn.pairs, "synthetic"
    from calbio.data.embeddings import load_embeddings
    from calbio.data.pairs import load_pairs

    emb_file, pairs_file = (Path(data) / f for f in REAL_DEMO_FILES)
    for f in (emb_file, pairs_file):
        if not f.is_file():
            raise CalbioInputError(
                f"--data expects {REAL_DEMO_FILES[0]} and {REAL_DEMO_FILES[1]} inside it; "
                f"missing {f.relative_to(data)}",
                data,
            )
    return load_embeddings(emb_file), load_pairs(pairs_file), "real"


def run_demo(
    out: str | Path,
    *,
    data: Path | None = None,
    preset: str = "fast",
    epochs: int | None = None,
    force: bool = False,
    progress: Any = None,
) -> dict[str, Any]:
    """Evaluate on held-out edges, then query the entity with most held-out partners."""
    from calbio.evaluation.protocol import evaluate

    t0 = time.perf_counter()
    out = Path(out)
    if out.exists() and not force:
        from calbio.errors import OutputExistsError

        raise OutputExistsError("output directory already exists; pass --force to overwrite", out)
    emb, prs, kind = _demo_inputs(data)
    min_mapped = 0.5 if kind == "synthetic" else 0.1  # genome-wide STRING vs 2,732 genes
    result = evaluate(
        emb,
        prs,
        protocol="edge",
        preset=preset,
        epochs=epochs,
        n_boot=200,
        min_mapped=min_mapped,
        progress=progress,
    )
    model = result.model
    # query the entity with the most held-out partners: can CAL rank pairs it never saw?
    held = result.scores[result.scores["set"] == "positive"]
    counts = pd.concat([held["a"], held["b"]]).value_counts()
    hub = str(counts.index[0])
    q = model.query(hub, top=20)
    held_partners = set(held.loc[held["a"] == hub, "b"]) | set(held.loc[held["b"] == hub, "a"])
    q["held_out_pair"] = q["partner"].isin(held_partners)
    metrics = result.to_dict()
    cfg = result.model.config
    metrics["demo"] = {"data": kind, "preset": preset, "epochs": cfg.epochs, "hidden": cfg.hidden}
    with atomic_dir(out, force=force) as tmp:
        write_json_atomic(tmp / "metrics.json", metrics)
        result.scores.to_csv(tmp / "test_scores.csv.gz", index=False)
        model.save(tmp / "model", force=True)
        q.to_csv(tmp / "query.csv", index=False)
    return {
        "metrics": metrics,
        "query": q,
        "query_entity": hub,
        "seconds": time.perf_counter() - t0,
    }
