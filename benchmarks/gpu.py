"""GPU vs CPU benchmark: writes benchmarks/GPU.md (generated) when run on a machine with a GPU.

Measured in one run, on one machine, for every available device (CPU always; CUDA or MPS when
present):

1. DepMap CRISPR PCA-50 x STRING >= 950 (../shared/data), edge split, seed 42: fit wall time of
   the ``paper`` and ``fast`` presets and the held-out AUC (test positives vs uniform
   negatives), fp32 and, on accelerators, bf16 (issue 13: bf16 may move AUC by <= 0.002;
   target: the paper recipe fits in under 3 s on one modern GPU).
2. One epoch over 1M synthetic pairs at batch 4096 (fast preset's module).
3. Filtered ranking (MRR) of 20k x 400k synthetic pairs with CAL-style factor vectors, and
   exact all-pairs top-50 at 20k entities, on each device.

    python benchmarks/gpu.py                      # GPU machine: ~2-5 min, writes GPU.md
    python benchmarks/gpu.py --quick              # smoke run (small sizes, CPU ok, ~1 min)

GPU numbers are only ever written from a run that had a GPU; a run without one prints its
table and writes nothing unless ``--write`` is given (for testing the generator).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

import calbio
from calbio.core.devices import resolve_device

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import SHARED, git_revision, update_section  # noqa: E402

HERE = Path(__file__).resolve().parent
GPU_MD = HERE / "GPU.md"
RAW = HERE / "results" / "gpu.json"
EMB = "embeddings/depmap_crispr_gene_effect_pca50.csv"
PAIRS = "associations/string_ge950_pairs.csv"


def log(msg: str) -> None:
    """Progress line on stderr with a timestamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def devices() -> list[str]:
    """CPU plus the accelerator ``auto`` resolves to, if any."""
    acc = resolve_device("auto")
    return ["cpu"] if acc.type == "cpu" else ["cpu", acc.type]


def sync(device: str) -> None:
    """Wait for queued device work (timings must include it)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def heldout_auc(model, test_idx: np.ndarray, neg_idx: np.ndarray) -> float:
    """AUC of test positives vs negatives under the model's score."""
    from calbio.core.metrics import roc_auc
    from calbio.scoring import pair_scores

    idx = np.concatenate([test_idx, neg_idx])
    y = np.r_[np.ones(len(test_idx)), np.zeros(len(neg_idx))]
    return roc_auc(y, pair_scores(model.association_, model.embedding_, idx))


def real_data(devs: list[str], quick: bool) -> list[dict]:
    """Section 1: presets x devices x precision on DepMap x STRING (or small synthetic data)."""
    from calbio.core.graph import pair_keys, sample_uniform_negatives
    from calbio.data.matching import map_pairs
    from calbio.data.synthetic import make_synthetic
    from calbio.data.types import MappedPairs
    from calbio.evaluation.splits import make_split
    from calbio.models.cal.estimator import CAL

    if not quick and (SHARED / EMB).is_file():
        from calbio.data.embeddings import load_embeddings
        from calbio.data.pairs import load_pairs

        emb = load_embeddings(SHARED / EMB)
        mapped = map_pairs(load_pairs(SHARED / PAIRS), emb, min_fraction=0.1)
        label = "DepMap PCA-50 x STRING >= 950"
    else:
        syn = make_synthetic(n_entities=1000, dim=32, n_pairs=6000, seed=0)
        emb = syn.embeddings
        mapped = map_pairs(syn.pairs, emb)
        label = "synthetic (1,000 x 32, 6,000 pairs)"
    n = len(emb)
    split = make_split(mapped.idx, n, "edge", 0.3, 42)
    neg = sample_uniform_negatives(
        5 * len(split.test_idx),
        split.universe,
        np.unique(pair_keys(mapped.idx, n)),
        n,
        np.random.default_rng(7),
    )
    train = MappedPairs(split.train_idx, n, mapped.stats)
    rows = []
    presets = ["fast"] if quick else ["paper", "fast"]
    for dev in devs:
        CAL("fast", epochs=1, device=dev).fit(emb, train)  # warm-up: context, kernels
        for preset in presets:
            for precision in ["fp32"] if dev == "cpu" else ["fp32", "bf16"]:
                opts = {"epochs": 2} if quick else {}
                if dev == "cpu" and preset == "paper":
                    opts["threads"] = os.cpu_count()  # the CPU at its best, not one thread
                sync(dev)
                t0 = time.perf_counter()
                model = CAL(preset, device=dev, precision=precision, **opts).fit(emb, train)
                sync(dev)
                sec = time.perf_counter() - t0
                auc = heldout_auc(model, split.test_idx, neg)
                rows.append(
                    {
                        "data": label,
                        "device": dev,
                        "preset": preset,
                        "precision": precision,
                        "fit_seconds": sec,
                        "auc": auc,
                    }
                )
                log(f"{label} {preset} {dev} {precision}: {sec:.2f} s, AUC {auc:.4f}")
    return rows


def epoch_1m(devs: list[str], quick: bool) -> list[dict]:
    """Section 2: one epoch over 1M synthetic pairs at batch 4096."""
    from calbio.models.cal.config import get_preset
    from calbio.models.cal.module import cal_module
    from calbio.training.trainer import train_module

    m, n, d = (50_000, 5_000, 50) if quick else (1_000_000, 20_000, 50)
    rng = np.random.default_rng(0)
    X = torch.nn.functional.normalize(torch.from_numpy(rng.standard_normal((n, d))).float(), dim=1)
    idx = rng.integers(0, n, size=(m, 2))
    rows = []
    for dev in devs:
        cfg = get_preset("fast").replace(epochs=1, batch_size=4096, device=dev, threads=None)
        train_module(X, idx[:20_000], cfg, module=cal_module(cfg))  # warm-up
        sync(dev)
        t0 = time.perf_counter()
        train_module(X, idx, cfg, module=cal_module(cfg))
        sync(dev)
        sec = time.perf_counter() - t0
        rows.append({"device": dev, "pairs": m, "seconds": sec, "pairs_per_s": m / sec})
        log(f"epoch of {m:,} pairs on {dev}: {sec:.2f} s")
    return rows


def scoring(devs: list[str], quick: bool) -> list[dict]:
    """Section 3: filtered ranking and exact top-50 with the factors on each device."""
    from calbio.core.graph import known_csr
    from calbio.evaluation.ranking import filtered_ranking
    from calbio.retrieval.exact import topk_inner_product

    n, m = (5_000, 50_000) if quick else (20_000, 400_000)
    rng = np.random.default_rng(1)
    left = rng.standard_normal((n, 128)).astype(np.float32)
    right = rng.standard_normal((n, 128)).astype(np.float32)
    pairs = rng.integers(0, n, size=(m, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    test = pairs[: int(0.3 * len(pairs))]
    known = known_csr(pairs, n)
    cand = np.unique(pairs)
    rows = []
    for dev in devs:
        sync(dev)
        t0 = time.perf_counter()
        rk = filtered_ranking(test, cand, known, vectors=(left, right), device=dev, n_boot=200)
        sync(dev)
        t_rank = time.perf_counter() - t0
        t0 = time.perf_counter()
        topk_inner_product(left, right, 50, device=dev)
        sync(dev)
        t_topk = time.perf_counter() - t0
        rows.append(
            {
                "device": dev,
                "entities": n,
                "test_pairs": len(test),
                "ranking_seconds": t_rank,
                "mrr": rk["mrr"],
                "top50_seconds": t_topk,
            }
        )
        log(f"ranking {dev}: {t_rank:.2f} s (MRR {rk['mrr']:.5f}); top-50 {t_topk:.2f} s")
    return rows


def table(rows: list[dict], cols: list[tuple[str, str, str]]) -> str:
    """Markdown table of ``rows`` with (key, header, format) columns."""
    head = "| " + " | ".join(h for _, h, _ in cols) + " |"
    sep = "|" + "|".join("---" for _ in cols) + "|"
    body = [
        "| " + " | ".join(format(r[k], f) if f else str(r[k]) for k, _, f in cols) + " |"
        for r in rows
    ]
    return "\n".join([head, sep, *body])


def main() -> None:
    """Run the sections; write GPU.md only from a run that had an accelerator (or --write)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (a CPU smoke run)")
    ap.add_argument("--write", action="store_true", help="write GPU.md even without a GPU")
    args = ap.parse_args()
    devs = devices()
    t0 = time.perf_counter()
    res = {
        "devices": devs,
        "fit": real_data(devs, args.quick),
        "epoch_1m": epoch_1m(devs, args.quick),
        "scoring": scoring(devs, args.quick),
    }
    name = torch.cuda.get_device_name(0) if "cuda" in devs else ", ".join(devs)
    body = (
        f"calbio {calbio.__version__} @ {git_revision()}, torch {torch.__version__}, python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, accelerator: {name}; "
        f"{'quick' if args.quick else 'full'} run, {(time.perf_counter() - t0) / 60:.1f} min. "
        "Generated by `python benchmarks/gpu.py`; do not edit by hand.\n\n"
        "### Fit (edge split, held-out AUC vs uniform negatives)\n\n"
        + table(
            res["fit"],
            [
                ("data", "data", ""),
                ("preset", "preset", ""),
                ("device", "device", ""),
                ("precision", "precision", ""),
                ("fit_seconds", "fit s", ".2f"),
                ("auc", "AUC", ".4f"),
            ],
        )
        + "\n\n### One epoch at batch 4096\n\n"
        + table(
            res["epoch_1m"],
            [
                ("device", "device", ""),
                ("pairs", "pairs", ","),
                ("seconds", "s", ".2f"),
                ("pairs_per_s", "pairs/s", ",.0f"),
            ],
        )
        + "\n\n### Ranking and retrieval\n\n"
        + table(
            res["scoring"],
            [
                ("device", "device", ""),
                ("entities", "entities", ","),
                ("test_pairs", "test pairs", ","),
                ("ranking_seconds", "filtered ranking s", ".2f"),
                ("top50_seconds", "exact top-50 s", ".2f"),
            ],
        )
    )
    print(body)
    if len(devs) > 1 or args.write:
        update_section(GPU_MD, "gpu", body, "GPU vs CPU (generated)")
        RAW.parent.mkdir(exist_ok=True)
        RAW.write_text(json.dumps(res, indent=2, default=float))
        log(f"wrote {GPU_MD}")
    else:
        log("no accelerator: nothing written (GPU numbers come only from a GPU run)")


if __name__ == "__main__":
    main()
