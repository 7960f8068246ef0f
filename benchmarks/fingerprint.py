"""Behaviour fingerprint for refactors: every metric of the graph_models and real_data runs, short.

A refactor that claims "behaviour unchanged" must give the same numbers before and after. The
full benchmarks take an hour on 2 cores; this runs the same calls (same models, protocols,
validation sets, seeds, negative modes) with few epochs and bootstrap draws, which exercises the
same code paths, and writes every metric to one JSON file. ``--compare`` lists what differs.

    python benchmarks/fingerprint.py --out before.json      # on the old commit
    python benchmarks/fingerprint.py --out after.json       # on the new one
    python benchmarks/fingerprint.py --compare before.json after.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import SHARED  # noqa: E402

# the very calls of graph_models.py and real_data.py: their inputs, models and negative modes
from graph_models import EMB, PAIRS, VALID  # noqa: E402
from graph_models import MODELS as GRAPH_MODELS  # noqa: E402
from real_data import NEGATIVE_MODES  # noqa: E402
from real_data import VALID as REAL_DATA_VALID  # noqa: E402

# keys that measure the machine, not the behaviour
VOLATILE = ("timings", "time", "seconds", "wall", "version", "revision", "started", "date", "path")


def volatile(key: str) -> bool:
    """A key that measures the machine (a timing, a version), not the behaviour."""
    return any(word in part.lower() for part in key.split(".") for word in VOLATILE)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf values of nested dicts/lists under dotted keys, volatile keys dropped."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if volatile(str(k)):
                continue
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}{i}."))
    else:
        out[prefix.rstrip(".")] = obj
    return out


def run(epochs: int, seed: int) -> dict[str, Any]:
    """Every metric of the shortened graph_models and real_data calls."""
    import torch

    import calbio

    torch.set_num_threads(1)
    emb = calbio.load_embeddings(SHARED / EMB)
    pairs = calbio.load_pairs(SHARED / PAIRS)
    valid = [calbio.load_pairs(SHARED / v) for v in VALID]
    runs: dict[str, Any] = {}
    for protocol in ("edge", "node"):
        t0 = time.perf_counter()
        res = calbio.evaluate(
            emb,
            pairs,
            model=GRAPH_MODELS,
            protocol=protocol,
            preset="fast",
            epochs=epochs,
            seed=seed,
            validate_with=valid,
            n_boot=50,
            min_mapped=0.1,
        )
        runs[f"graph_models/{protocol}"] = res.to_dict()
        print(f"graph_models {protocol}: {time.perf_counter() - t0:.0f} s", flush=True)
    for protocol in ("transductive", "edge", "node"):
        res = calbio.evaluate(
            emb,
            pairs,
            protocol=protocol,
            preset="paper",
            epochs=epochs,
            seed=seed,
            validate_with=[valid[VALID.index(REAL_DATA_VALID)]],
            n_boot=50,
        )
        runs[f"real_data/{protocol}"] = res.to_dict()
    for label, opts in NEGATIVE_MODES.items():
        res = calbio.evaluate(
            emb,
            pairs,
            protocol="edge",
            preset="paper",
            epochs=epochs,
            seed=seed,
            rank=False,
            n_boot=50,
            **opts,
        )
        runs[f"real_data/negatives_{label}"] = res.to_dict()
        print(f"negatives {label} done", flush=True)
    return flatten(runs)


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def compare(before: Path, after: Path) -> int:
    """Print the keys whose values differ (or exist on one side only); 1 when any differ."""
    a, b = (
        {k: v for k, v in json.loads(f.read_text()).items() if not volatile(k)}
        for f in (before, after)
    )
    diffs = [k for k in sorted(set(a) | set(b)) if k not in a or k not in b or not same(a[k], b[k])]
    for k in diffs[:50]:
        print(f"{k}: {a.get(k, '<absent>')!r} -> {b.get(k, '<absent>')!r}")
    numeric = sum(isinstance(v, int | float) for v in a.values())
    print(f"{len(a)} values ({numeric} numeric) before, {len(b)} after: {len(diffs)} differ")
    return 1 if diffs else 0


def main() -> None:
    """Write a fingerprint, or compare two."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args()
    if args.compare:
        sys.exit(compare(*args.compare))
    if args.out is None:
        ap.error("--out (or --compare) is required")
    values = run(args.epochs, args.seed)
    args.out.write_text(json.dumps(values, indent=0, sort_keys=True, default=str))
    print(f"{len(values)} values -> {args.out}")


if __name__ == "__main__":
    main()
