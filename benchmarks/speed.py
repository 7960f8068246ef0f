"""Speed and scale benchmark: writes benchmarks/SPEED.md (generated) and speed_curves.png.

Sections (each measured in this one run, on this machine; absolute seconds are noisy on a shared
2-core box, so the claims are the ratios and slopes):

1. time to quality: ``paper`` vs ``fast`` preset on DepMap PCA-50 x STRING >= 950
   (../shared/data), edge and node protocols, same split and seed; held-out CAL AUC and the
   training wall time of each. ``fast`` runs twice per protocol (before and after ``paper``)
   and the slower run counts. A short probe also times the paper recipe at 1 and 2 threads, so
   the ratio is reported against the paper preset at its best thread setting too.
2. training cost vs pairs: synthetic d = 50, 10k / 100k / 1M training pairs, seconds per epoch
   and pairs per second (fast: 2 epochs each; paper: 1 epoch at 10k and 100k).
3. exact all-pairs top-50 vs n (2k -> 200k entities, d = 50), each size in a fresh process
   (peak RSS), beside the machine's own matrix-multiply rate measured here.
4. faiss index at 1M synthetic entities: build time, recall@50 against exact search on a
   sample of queries, queries per second.

    nice -n 10 python benchmarks/speed.py            # ~30 min on 2 idle cores
    python benchmarks/speed.py --max-n 100000        # stop the neighbors curve at 100k
    python benchmarks/speed.py --quick               # smaller sizes, no real data (~3 min)
    python benchmarks/speed.py --skip-quality        # sections 2-4 only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import calbio
from calbio.models.cal.config import PRESET_DESCRIPTIONS, get_preset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import SHARED, git_revision, update_section  # noqa: E402

HERE = Path(__file__).resolve().parent
SPEED = HERE / "SPEED.md"
PLOT = HERE / "speed_curves.png"
RAW = HERE / "results" / "speed.json"
EMB = "embeddings/depmap_crispr_gene_effect_pca50.csv"
PAIRS = "associations/string_ge950_pairs.csv"
AUC_SLACK = 0.005
RATIO_TARGET = 10.0
DIM = 50
TOP = 50


def log(msg: str) -> None:
    """Progress line on stderr with a timestamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """n random unit vectors in R^d (float32)."""
    x = rng.standard_normal((n, d), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --------------------------------------------------------------------------- machine rate
def matmul_rate(threads: int, seconds: float = 2.0) -> dict[str, float]:
    """GFLOP/s of float32 matmul: a square 2048^3 product and the retrieval tile shape."""
    torch.set_num_threads(threads)
    out = {}
    for name, (m, kd, n) in {"square_2048": (2048, 2048, 2048), "tile": (1024, 100, 16384)}.items():
        a, b = torch.randn(m, kd), torch.randn(kd, n)
        a @ b
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            a @ b
            reps += 1
        out[name] = 2.0 * m * kd * n * reps / (time.perf_counter() - t0) / 1e9
    return out


# --------------------------------------------------------------------------- 1. quality
def time_to_quality(protocols: list[str], n_boot: int, threads: int) -> dict:
    """paper vs fast on the real data: AUC and training seconds, same split and seed.

    ``threads`` is the torch thread count the paper preset inherits (its recipe leaves it to
    torch); the fast preset pins 1 thread itself.
    """
    from calbio.data.coerce import as_embeddings
    from calbio.data.embeddings import load_embeddings
    from calbio.data.pairs import load_pairs
    from calbio.evaluation.protocol import evaluate
    from calbio.models.cal.module import cal_module
    from calbio.scoring import l2_normalize
    from calbio.training.trainer import train_module

    emb = load_embeddings(SHARED / EMB)
    prs = load_pairs(SHARED / PAIRS)

    def run(preset: str, protocol: str) -> dict:
        torch.set_num_threads(threads)
        r = evaluate(
            emb, prs, protocol=protocol, preset=preset, n_boot=n_boot, rank=False, min_mapped=0.1
        )
        m, h = r.model, r.model.history_
        out = {
            "auc": r.methods["cal"]["auc"],
            "auc_ci": r.methods["cal"]["auc_ci"],
            "adamic_adar_auc": r.methods.get("adamic_adar", {}).get("auc"),
            "fit_seconds": m.fit_seconds_,
            "train_seconds": float(sum(h.epoch_seconds)),
            "epochs_run": len(h.loss),
            "best_epoch": h.best_epoch,
            "n_train_pairs": r.n_train_pairs,
            "n_test_pairs": r.n_test_pairs,
        }
        log(f"{preset:>5} {protocol}: AUC {out['auc']:.4f} in {out['fit_seconds']:.1f} s")
        return out

    res: dict = {"protocols": {}}
    for protocol in protocols:
        fast1 = run("fast", protocol)
        paper = run("paper", protocol)
        fast2 = run("fast", protocol)
        slow_fast = max(fast1, fast2, key=lambda d: d["fit_seconds"])
        assert abs(fast1["auc"] - fast2["auc"]) < 1e-9, "fast preset is not deterministic"
        res["protocols"][protocol] = {
            "paper": paper,
            "fast": slow_fast,
            "fast_runs": [fast1, fast2],
        }

    # paper recipe per-epoch time at 1 and 2 threads (3-epoch probe on the edge training pairs)
    probe = {}
    e = as_embeddings(emb)
    X = torch.from_numpy(l2_normalize(e.X))
    from calbio.data.matching import map_pairs

    idx = map_pairs(prs, e, min_fraction=0.1).idx
    for threads in (1, 2):
        cfg = get_preset("paper").replace(epochs=3, threads=threads)
        _, h = train_module(X, idx[: int(0.7 * len(idx))], cfg, module=cal_module(cfg))
        probe[threads] = float(np.median(h.epoch_seconds))
    res["paper_epoch_probe"] = probe
    return res


# --------------------------------------------------------------------------- 2. training cost
def training_cost(sizes: list[int], paper_sizes: list[int], threads: int) -> list[dict]:
    """Seconds per epoch and pairs/s vs number of training pairs (synthetic, d = 50)."""
    from calbio.models.cal.module import cal_module
    from calbio.training.trainer import train_module

    rng = np.random.default_rng(0)
    n_ent = 50_000
    X = torch.from_numpy(unit_rows(rng, n_ent, DIM))
    rows = []
    for preset, epochs, szs in (("fast", 2, sizes), ("paper", 1, paper_sizes)):
        for m in szs:
            idx = rng.integers(0, n_ent, size=(m, 2))
            idx = idx[idx[:, 0] != idx[:, 1]]
            cfg = _no_early_stop(get_preset(preset).replace(epochs=epochs, threads=threads))
            _, h = train_module(X, idx, cfg, module=cal_module(cfg))
            sec = float(np.median(h.epoch_seconds))
            rows.append(
                {
                    "preset": preset,
                    "pairs": len(idx),
                    "sec_per_epoch": sec,
                    "pairs_per_s": len(idx) / sec,
                }
            )
            log(f"train {preset} {len(idx):,} pairs: {sec:.2f} s/epoch")
    return rows


def _no_early_stop(cfg):
    """The same recipe without a validation split (cost curves measure full epochs)."""
    import dataclasses

    return dataclasses.replace(cfg, validation_fraction=0.0, patience=None)


# --------------------------------------------------------------------------- 3. exact neighbors
def neighbors_child(n: int, threads: int) -> dict:
    """(run in a fresh process) time exact top-50 for all n entities; peak RSS."""
    from calbio.retrieval.exact import exact_neighbors

    torch.set_num_threads(threads)
    rng = np.random.default_rng(n)
    Z, E = unit_rows(rng, n, DIM), unit_rows(rng, n, DIM)
    exact_neighbors(Z[:2000], E[:2000], TOP)  # warm-up
    rate = matmul_rate(threads, seconds=1.0)["square_2048"]  # same conditions as the search
    torch.set_num_threads(threads)
    reset_peak_rss()
    rss0 = proc_status_mb("VmRSS")
    t0 = time.perf_counter()
    nb = exact_neighbors(Z, E, TOP)
    sec = time.perf_counter() - t0
    rss1 = proc_status_mb("VmHWM")
    assert nb.index.shape == (n, TOP) and (nb.index >= 0).all()
    return {
        "n": n,
        "seconds": sec,
        "gflops": 2.0 * n * n * 2 * DIM / sec / 1e9,
        "matmul_gflops": rate,
        "rss_before_mb": rss0,
        "peak_rss_mb": rss1,
        "search_rss_growth_mb": max(rss1 - rss0, 0.0),
        "inputs_mb": 2 * n * DIM * 4 / 2**20,
        "output_mb": n * TOP * 12 / 2**20,
        "dense_matrix_mb": n * n * 4 / 2**20,
    }


def reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS counter (VmHWM) of this process (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def proc_status_mb(field: str) -> float:
    """A memory field of /proc/self/status in MB (falls back to ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def neighbors_curve(sizes: list[int], threads: int) -> list[dict]:
    """Exact neighbors vs n, each size in a fresh interpreter (honest peak memory)."""
    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--neighbors-child", str(n), "--threads", str(threads)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        log(
            f"neighbors n={n:,}: {rows[-1]['seconds']:.2f} s, peak {rows[-1]['peak_rss_mb']:.0f} MB"
        )
    return rows


# --------------------------------------------------------------------------- 4. index
def clustered_entities(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic (Z, E) with module structure, like gene embeddings.

    E: 1,000 random unit module centres plus per-entity noise of norm ~0.3, renormalised.
    Z = normalise(E @ Q + noise) for a random orthogonal Q, so an entity's partners sit in
    *other* modules (association is not similarity).
    """
    sigma = 0.3 / np.sqrt(DIM)
    centres = unit_rows(rng, 1000, DIM)
    E = centres[rng.integers(0, 1000, n)]
    E += sigma * rng.standard_normal((n, DIM), dtype=np.float32)
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    Q, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
    Z = E @ Q.astype(np.float32) + sigma * rng.standard_normal((n, DIM), dtype=np.float32)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    return Z, E


def index_bench(n: int, n_queries: int, nprobes: list[int], threads: int, hnsw_n: int) -> dict:
    """IVF (and HNSW at a smaller n) recall@50 vs exact, build time, queries per second."""
    import faiss

    from calbio.retrieval.exact import topk_inner_product
    from calbio.retrieval.index import build_index, default_nlist, search_index
    from calbio.scoring import score_vectors

    faiss.omp_set_num_threads(threads)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(1)
    Z, E = clustered_entities(n, rng)
    left, right = score_vectors(Z, E, "half")
    q = np.sort(rng.choice(n, n_queries, replace=False))
    t0 = time.perf_counter()
    exact = topk_inner_product(left, right, TOP, queries=q)
    exact_sec = time.perf_counter() - t0
    out: dict = {"n": n, "n_queries": n_queries, "exact_qps": n_queries / exact_sec, "ivf": []}
    nlist = min(default_nlist(n), int(2 * np.sqrt(n)))
    t0 = time.perf_counter()
    index = build_index(right, "ivf", nlist=nlist, train_size=min(n, 40 * nlist))
    out["ivf_build_seconds"] = time.perf_counter() - t0
    out["nlist"] = nlist
    log(f"ivf build n={n:,} nlist={nlist}: {out['ivf_build_seconds']:.1f} s")
    for nprobe in nprobes:
        index.nprobe = nprobe
        t0 = time.perf_counter()
        got = search_index(index, left, TOP, queries=q)
        sec = time.perf_counter() - t0
        out["ivf"].append(
            {"nprobe": nprobe, "recall": recall(got.index, exact.index), "qps": n_queries / sec}
        )
        log(f"  nprobe={nprobe}: recall {out['ivf'][-1]['recall']:.3f}, {n_queries / sec:,.0f} q/s")
    del index
    if hnsw_n:
        sub = np.arange(min(hnsw_n, n))
        qh = q[q < len(sub)][: n_queries // 2]
        ex = topk_inner_product(left[: len(sub)], right[: len(sub)], TOP, queries=qh)
        t0 = time.perf_counter()
        h = build_index(right[: len(sub)], "hnsw", ef_search=256)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        got = search_index(h, left[: len(sub)], TOP, queries=qh)
        sec = time.perf_counter() - t0
        out["hnsw"] = {
            "n": len(sub),
            "build_seconds": build,
            "recall": recall(got.index, ex.index),
            "qps": len(qh) / sec,
            "ef_search": 256,
        }
        log(f"hnsw n={len(sub):,}: build {build:.1f} s, recall {out['hnsw']['recall']:.3f}")
    return out


def recall(got: np.ndarray, ref: np.ndarray) -> float:
    """Mean fraction of the exact top-k found (recall@k)."""
    hits = [len(np.intersect1d(g[g >= 0], r)) for g, r in zip(got, ref, strict=True)]
    return float(np.mean(hits) / ref.shape[1])


# --------------------------------------------------------------------------- report
def fmt(v: float | None, nd: int = 3) -> str:
    """Fixed decimals, or '-'."""
    return "-" if v is None or v != v else f"{v:.{nd}f}"


def quality_section(q: dict) -> tuple[str, dict]:
    """Markdown table paper vs fast; returns (body, verdict)."""
    lines = [
        "| protocol | preset | held-out CAL AUC (95% CI) | Adamic-Adar AUC | epochs run | "
        "training wall time (s) | time ratio paper/fast |",
        "|---|---|---|---|---|---|---|",
    ]
    verdict = {}
    best_paper_epoch = min(q["paper_epoch_probe"].values())
    for proto, r in q["protocols"].items():
        p, f = r["paper"], r["fast"]
        ratio = p["fit_seconds"] / f["fit_seconds"]
        cons = min(p["fit_seconds"], best_paper_epoch * p["epochs_run"]) / f["fit_seconds"]
        ok_auc = f["auc"] >= p["auc"] - AUC_SLACK
        verdict[proto] = {
            "auc_ok": ok_auc,
            "ratio": ratio,
            "ratio_vs_best_threads": cons,
            "ratio_ok": cons >= RATIO_TARGET,
        }
        for name, d in (("paper", p), ("fast", f)):
            ci = d["auc_ci"]
            lines.append(
                f"| {proto} | {name} | {fmt(d['auc'])} ({fmt(ci[0])}-{fmt(ci[1])}) | "
                f"{fmt(d['adamic_adar_auc'])} | {d['epochs_run']} | {d['fit_seconds']:.1f} | "
                + (f"**{ratio:.1f}x** |" if name == "fast" else "|")
            )
    lines.append("")
    lines.append(
        f"Paper recipe per-epoch time probed here at 1 thread: {q['paper_epoch_probe'][1]:.2f} s, "
        f"at 2 threads: {q['paper_epoch_probe'][2]:.2f} s."
    )
    for proto, v in verdict.items():
        p, f = q["protocols"][proto]["paper"], q["protocols"][proto]["fast"]
        lines.append(
            f"- {proto}: fast AUC {fmt(f['auc'], 4)} vs paper {fmt(p['auc'], 4)} "
            f"(needs >= paper - {AUC_SLACK}: {'met' if v['auc_ok'] else 'NOT met'}); "
            f"time ratio {v['ratio']:.1f}x as run, {v['ratio_vs_best_threads']:.1f}x against the "
            f"paper recipe at its best thread count (needs >= {RATIO_TARGET:.0f}x: "
            f"{'met' if v['ratio_ok'] else 'NOT met'})."
        )
    fast_runs = [
        proto + ": " + ", ".join(f"{x['fit_seconds']:.1f}" for x in r["fast_runs"]) + " s"
        for proto, r in q["protocols"].items()
    ]
    lines.append(
        "- fast ran twice per protocol (before and after paper; identical AUCs, the slower time "
        f"is in the table): {'; '.join(fast_runs)}."
    )
    return "\n".join(lines), verdict


def slope(x: list[float], y: list[float]) -> float:
    """Least-squares slope of log y on log x (1 = linear, 2 = quadratic)."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0]) if len(x) > 1 else float("nan")


def training_section(rows: list[dict]) -> str:
    """Markdown table of training cost vs pairs."""
    lines = [
        "| preset | training pairs | seconds / epoch | pairs / s |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['preset']} | {r['pairs']:,} | {r['sec_per_epoch']:.2f} | "
            f"{r['pairs_per_s']:,.0f} |"
        )
    for preset in ("fast", "paper"):
        rs = [r for r in rows if r["preset"] == preset]
        if len(rs) > 1:
            s = slope([r["pairs"] for r in rs], [r["sec_per_epoch"] for r in rs])
            lines.append(
                f"\n{preset}: log-log slope of time per epoch vs pairs = **{s:.2f}** (1 = linear)."
            )
    return "\n".join(lines)


def neighbors_section(rows: list[dict], rate: dict) -> str:
    """Markdown table of exact neighbors vs n."""
    lines = [
        f"Machine matmul rate at the start of this run: {rate['square_2048']:.0f} GFLOP/s "
        f"(2048^3), {rate['tile']:.0f} GFLOP/s (1024x100 @ 100x16384, the retrieval tile shape). "
        "The machine is shared, so each size re-measures the 2048^3 matmul rate in its own "
        "process just before its search; the fraction is against that rate. Effective GFLOP/s "
        "counts only the 2 n^2 (2d) flops of the score products, so the partial sort is the gap.",
        "",
        "| entities n | seconds | effective GFLOP/s | matmul GFLOP/s (same moment) | fraction | "
        "RSS before (MB) | "
        "peak RSS during search (MB) | growth (MB) | output n x k (MB) | "
        "n x n float32 matrix would be (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['seconds']:.2f} | {r['gflops']:.0f} | {r['matmul_gflops']:.0f} | "
            f"{r['gflops'] / r['matmul_gflops']:.2f} | "
            f"{r['rss_before_mb']:.0f} | {r['peak_rss_mb']:.0f} | "
            f"{r['search_rss_growth_mb']:.0f} | "
            f"{r['output_mb']:.1f} | {r['dense_matrix_mb']:,.0f} |"
        )
    s = slope([r["n"] for r in rows], [r["seconds"] for r in rows])
    at20 = [r for r in rows if r["n"] == 20_000]
    lines.append("")
    lines.append(f"log-log slope of time vs n = **{s:.2f}** (all pairs: 2 is the floor).")
    if at20:
        lines.append(
            f"n = 20,000, top-{TOP} for every entity: **{at20[0]['seconds']:.2f} s** "
            f"(target < 10 s: {'met' if at20[0]['seconds'] < 10 else 'NOT met'})."
        )
    return "\n".join(lines)


def index_section(ix: dict) -> str:
    """Markdown table of the faiss index numbers."""
    lines = [
        f"{ix['n']:,} synthetic entities (d = {DIM}; half-score vectors of dimension {2 * DIM}), "
        f"recall@{TOP} against exact search on {ix['n_queries']:,} random queries. "
        f"IVF-Flat, nlist = {ix['nlist']} (about 2 sqrt(n)), build (k-means + add) "
        f"**{ix['ivf_build_seconds']:.1f} s**. "
        f"Exact blocked search on the same queries: {ix['exact_qps']:,.0f} queries/s.",
        "",
        "| index | nprobe / efSearch | recall@50 | queries / s |",
        "|---|---|---|---|",
    ]
    for r in ix["ivf"]:
        lines.append(f"| IVF-Flat | {r['nprobe']} | {r['recall']:.3f} | {r['qps']:,.0f} |")
    if "hnsw" in ix:
        h = ix["hnsw"]
        lines.append(
            f"| HNSW (M=32, n = {h['n']:,}, build {h['build_seconds']:.1f} s) | {h['ef_search']} | "
            f"{h['recall']:.3f} | {h['qps']:,.0f} |"
        )
    ok = [r for r in ix["ivf"] if r["recall"] >= 0.95]
    lines.append("")
    lines.append(
        f"Smallest nprobe reaching recall >= 0.95: **{ok[0]['nprobe']}** ({ok[0]['recall']:.3f}, "
        f"{ok[0]['qps']:,.0f} queries/s)."
        if ok
        else "No nprobe tried reached recall 0.95."
    )
    return "\n".join(lines)


def plot(train: list[dict], nbrs: list[dict], ix: dict | None) -> None:
    """Three panels: training cost vs pairs, neighbors time vs n, index recall vs throughput."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    for preset, mk in (("fast", "o-"), ("paper", "s-")):
        rs = [r for r in train if r["preset"] == preset]
        if rs:
            ax.loglog([r["pairs"] for r in rs], [r["sec_per_epoch"] for r in rs], mk, label=preset)
    ax.set(xlabel="training pairs", ylabel="seconds per epoch", title="Training cost vs pairs")
    ax.legend()
    ax = axes[1]
    ns = np.array([r["n"] for r in nbrs], float)
    ts = np.array([r["seconds"] for r in nbrs])
    ax.loglog(ns, ts, "o-", label=f"exact top-{TOP}")
    ax.loglog(ns, ts[-1] * (ns / ns[-1]) ** 2, ":", color="grey", label="n^2 reference")
    ax.set(xlabel="entities n", ylabel="seconds (all entities)", title="Exact all-pairs top-k")
    ax.legend()
    ax = axes[2]
    if ix:
        ax.semilogx(
            [r["qps"] for r in ix["ivf"]], [r["recall"] for r in ix["ivf"]], "o-", label="IVF"
        )
        for r in ix["ivf"]:
            ax.annotate(f"nprobe {r['nprobe']}", (r["qps"], r["recall"]), fontsize=8)
        ax.axhline(0.95, color="grey", ls=":")
        ax.set(
            xlabel="queries / s",
            ylabel=f"recall@{TOP}",
            title=f"faiss index, {ix['n']:,} entities",
        )
        ax.legend()
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


# --------------------------------------------------------------------------- 5. genome scale
GENOME_N = 20_000
GENOME_DIM = 64
GENOME_SIZES = (50_000, 100_000, 200_000, 400_000)


def genome_world(n: int, m: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic genome-shaped data: n entities x dim, m distinct heavy-tailed pairs."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dim)).astype(np.float32)
    w = rng.pareto(1.2, n) + 1.0  # heavy-tailed propensity: hubs exist, as in STRING
    p = w / w.sum()
    keys = np.zeros(0, dtype=np.int64)
    while len(keys) < m:
        c = rng.choice(n, size=(2 * (m - len(keys)) + 1000, 2), p=p)
        c = c[c[:, 0] != c[:, 1]]
        new = np.minimum(c[:, 0], c[:, 1]) * n + np.maximum(c[:, 0], c[:, 1])
        keys = np.unique(np.concatenate([keys, new]))
    keys = rng.permutation(keys)[:m]
    return X, np.stack([keys // n, keys % n], axis=1)


def genome_stages(X: np.ndarray, pairs: np.ndarray, protocol: str, n_boot: int) -> dict:
    """Every stage of an evaluation, timed: calbio's stage functions called directly.

    Mirrors what ``calbio evaluate`` does (split, uniform and degree-matched negatives, CAL fit
    on the training pairs, every method's pair scores, filtered ranking, bootstrap CIs, writing
    the score table) with the genome-scale machinery of evaluation/ranking.py, splits.py,
    metrics.py and the Adamic-Adar model's cached candidate rows, stage by stage.
    """
    import tempfile

    import pandas as pd

    from calbio.core.graph import known_csr, pair_keys, sample_uniform_negatives
    from calbio.core.metrics import bootstrap_auc_ci
    from calbio.data.types import Embeddings, MappedPairs
    from calbio.evaluation.ranking import filtered_ranking
    from calbio.evaluation.splits import make_split, sample_degree_matched_negatives
    from calbio.evaluation.timing import Timer
    from calbio.models.cal.estimator import CAL
    from calbio.models.graph.heuristics import (
        adamic_adar_score,
        degree_product_score,
        training_degree,
    )
    from calbio.scoring import pair_scores, score_vectors

    n = len(X)
    timer = Timer()
    with timer("split"):
        split = make_split(pairs, n, protocol, 0.3, 42)
    rng = np.random.default_rng(49)
    all_keys = np.unique(pair_keys(pairs, n))
    held = split.heldout_mask() if protocol == "node" else None
    with timer("negatives"):
        neg = sample_uniform_negatives(
            min(5 * len(split.test_idx), 50_000), split.universe, all_keys, n, rng, held
        )
    deg = training_degree(split.train_idx, n)
    with timer("degree_matched_negatives"):
        dm = sample_degree_matched_negatives(
            split.test_idx, 5, split.universe, deg, all_keys, n, rng, held, 50_000
        )
    names = np.array([f"g{i}" for i in range(n)], dtype=object)
    emb = Embeddings(names, X, source="synthetic")
    with timer("fit"):
        model = CAL("fast", random_state=42).fit(emb, MappedPairs(split.train_idx, n, {}))
    Z, E = model.association_, model.embedding_
    sets = np.concatenate([split.test_idx, neg, dm])
    label = np.r_[np.ones(len(split.test_idx)), np.zeros(len(neg) + len(dm))]
    methods: dict = {
        "cal": (lambda idx: pair_scores(Z, E, idx), {"vectors": score_vectors(Z, E)}),
        "cosine": (lambda idx: pair_scores(E, E, idx, "cosine"), {"vectors": (E, E)}),
        "degree": (
            lambda idx: degree_product_score(deg, idx),
            {"rows": lambda q, c: np.outer(deg[q], deg[c]).astype(np.float64)},
        ),
    }
    if protocol != "node":
        tr = split.train_idx
        from calbio.models.graph.heuristics import AdamicAdar

        aa = AdamicAdar().fit(emb, MappedPairs(tr, n, {}))
        methods["adamic_adar"] = (
            lambda idx: adamic_adar_score(tr, n, idx),
            {"rows": aa.score_rows},
        )
    known = known_csr(pairs, n)
    table = pd.DataFrame({"a": names[sets[:, 0]], "b": names[sets[:, 1]], "label": label})
    out: dict = {"protocol": protocol, "n_pairs": int(len(pairs)), "methods": {}}
    for name, (pair_fn, rank_src) in methods.items():
        with timer(f"scores_{name}"):
            s = np.asarray(pair_fn(sets), dtype=np.float64)
        table[name] = s
        with timer("ranking"):
            rk = filtered_ranking(split.test_idx, split.universe, known, n_boot=n_boot, **rank_src)
        with timer("bootstrap"):
            ci = bootstrap_auc_ci(
                label[: len(split.test_idx) + len(neg)],
                s[: len(split.test_idx) + len(neg)],
                n_boot=n_boot,
            )
        out["methods"][name] = {"mrr": rk["mrr"], "n_queries": rk["n_queries"], "auc_ci": ci}
    with timer("writing"), tempfile.TemporaryDirectory() as tmp:
        table.to_csv(Path(tmp) / "test_scores.csv.gz", index=False)
    out["timings"] = timer.as_dict()
    out["evaluate_seconds"] = timer.total
    out["n_test"] = int(len(split.test_idx))
    out["n_train"] = int(len(split.train_idx))
    return out


def time_full_evaluate(X: np.ndarray, pairs: np.ndarray, protocol: str, n_boot: int) -> dict:
    """Wall time and stage timings of the public ``calbio.evaluate`` (``--full-evaluate``).

    The issue measured 398 s for edge at 20k x 400k before the genome-scale stages; this times
    the real function, where :func:`genome_stages` calls the stages directly.
    """
    from calbio.data.types import Embeddings, Pairs
    from calbio.evaluation.protocol import evaluate

    n = len(X)
    names = np.array([f"g{i}" for i in range(n)], dtype=object)
    emb = Embeddings(names, X, source="synthetic")
    prs = Pairs(names[pairs[:, 0]], names[pairs[:, 1]])
    t0 = time.perf_counter()
    res = evaluate(emb, prs, protocol=protocol, preset="fast", n_boot=n_boot)
    return {
        "protocol": protocol,
        "n_pairs": int(len(pairs)),
        "evaluate_seconds": time.perf_counter() - t0,
        "timings": dict(res.timings),
    }


def genome_child(m: int, protocol: str, n_boot: int, full: bool, fit_all: bool = True) -> dict:
    """(fresh process) one protocol at m pairs: fit on all pairs, then evaluate; peak RSS."""
    from calbio.data.types import Embeddings, MappedPairs
    from calbio.models.cal.estimator import CAL

    torch.set_num_threads(1)
    X, pairs = genome_world(GENOME_N, m, GENOME_DIM)
    names = np.array([f"g{i}" for i in range(GENOME_N)], dtype=object)
    reset_peak_rss()
    t0, c0 = time.perf_counter(), time.process_time()
    if fit_all:
        emb = Embeddings(names, X, source="synthetic")
        CAL("fast", random_state=42).fit(emb, MappedPairs(pairs, GENOME_N, {}))
    fit_seconds = time.perf_counter() - t0 if fit_all else float("nan")
    fit_cpu = time.process_time() - c0 if fit_all else float("nan")
    c1 = time.process_time()
    res = (time_full_evaluate if full else genome_stages)(X, pairs, protocol, n_boot)
    # CPU seconds: everything here runs on one thread, so CPU time is the load-free wall time
    res["evaluate_cpu_seconds"] = time.process_time() - c1
    res["fit_all_pairs_cpu_seconds"] = fit_cpu
    res["ratio_cpu"] = res["evaluate_cpu_seconds"] / fit_cpu
    res["fit_all_pairs_seconds"] = fit_seconds
    res["peak_rss_mb"] = proc_status_mb("VmHWM")
    res["ratio"] = res["evaluate_seconds"] / fit_seconds
    return res


def genome_scale(sizes: list[int], n_boot: int, full: bool) -> dict:
    """Edge and node at the largest size, edge at every size (cost curve); fresh processes."""

    def child(m: int, protocol: str, fit_all: bool = True) -> dict:
        cmd = (
            [
                sys.executable,
                __file__,
                "--genome-child",
                str(m),
                "--genome-protocol",
                protocol,
                "--n-boot",
                str(n_boot),
            ]
            + (["--full-evaluate"] if full else [])
            + ([] if fit_all else ["--no-fit-all"])
        )
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        log(
            f"genome {protocol} {m:,} pairs: evaluate {r['evaluate_seconds']:.1f} s, fit(all) "
            f"{r['fit_all_pairs_seconds']:.1f} s, ratio {r['ratio']:.2f}, "
            f"peak {r['peak_rss_mb']:.0f} MB"
        )
        return r

    top = max(sizes)
    res = {"edge": child(top, "edge"), "node": child(top, "node")}
    # curve points skip the reference fit on all pairs: the slope is of evaluate alone
    res["curve"] = [child(m, "edge", False) for m in sorted(sizes) if m != top] + [res["edge"]]
    return res


def genome_section(g: dict, n_boot: int, full: bool) -> str:
    """Markdown: stage table for edge and node, target verdicts, cost curve with slope."""
    e, nd = g["edge"], g["node"]
    stages = list(dict.fromkeys([*e["timings"], *nd["timings"]]))
    lines = [
        f"Synthetic: {GENOME_N:,} entities x {GENOME_DIM} dims, {e['n_pairs']:,} distinct "
        "heavy-tailed pairs (Pareto 1.2 propensities), fast preset (1 torch thread), "
        f"{n_boot} bootstrap resamples, one fresh process per run. The machine is shared "
        "(other jobs ran meanwhile), so wall seconds are noisy; every stage runs on one thread, "
        "so CPU seconds are the load-free measure and both ratios are shown. "
        + (
            "Timings from `calbio.evaluate` itself."
            if full
            else "Stages are calbio's functions called directly (evaluation/ranking.py, splits.py, "
            "metrics.py and the Adamic-Adar model's candidate rows), as `evaluate` calls them; "
            "`--full-evaluate` times `calbio.evaluate` instead."
        ),
        "",
        "| stage (s) | edge | node |",
        "|---|---:|---:|",
    ]
    for s in stages:
        lines.append(f"| {s} | {fmt(e['timings'].get(s), 2)} | {fmt(nd['timings'].get(s), 2)} |")
    lines += [
        f"| **evaluate (sum)** | **{e['evaluate_seconds']:.1f}** | "
        f"**{nd['evaluate_seconds']:.1f}** |",
        f"| fit on all pairs (reference) | {e['fit_all_pairs_seconds']:.1f} | "
        f"{nd['fit_all_pairs_seconds']:.1f} |",
        f"| ratio evaluate / fit, wall (target <= 2) | {e['ratio']:.2f} | {nd['ratio']:.2f} |",
        f"| evaluate / fit on all pairs, CPU s | {e['evaluate_cpu_seconds']:.1f} / "
        f"{e['fit_all_pairs_cpu_seconds']:.1f} | {nd['evaluate_cpu_seconds']:.1f} / "
        f"{nd['fit_all_pairs_cpu_seconds']:.1f} |",
        f"| ratio evaluate / fit, CPU time | {e['ratio_cpu']:.2f} | {nd['ratio_cpu']:.2f} |",
        f"| peak RSS, MB (target < 4096) | {e['peak_rss_mb']:.0f} | {nd['peak_rss_mb']:.0f} |",
        "",
    ]
    ok = max(e["ratio"], nd["ratio"], e["ratio_cpu"], nd["ratio_cpu"]) <= 2
    mem_ok = max(e["peak_rss_mb"], nd["peak_rss_mb"]) < 4096
    curve = g["curve"]
    xs = [r["n_pairs"] for r in curve]
    ys = [r["evaluate_seconds"] for r in curve]
    sl = slope(xs, ys) if len(curve) > 1 else float("nan")
    sl_cpu = slope(xs, [r["evaluate_cpu_seconds"] for r in curve]) if len(curve) > 1 else sl
    lines += [
        "Edge protocol cost curve:",
        "",
        "| pairs | evaluate s | evaluate CPU s | fit(all) s | ratio | peak RSS MB |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in curve:
        lines.append(
            f"| {r['n_pairs']:,} | {r['evaluate_seconds']:.1f} | "
            f"{r['evaluate_cpu_seconds']:.1f} | "
            f"{fmt(r['fit_all_pairs_seconds'], 1)} | {fmt(r['ratio'], 2)} | "
            f"{r['peak_rss_mb']:.0f} |"
        )
    lines += [
        "",
        f"Log-log slope of evaluate time vs pairs: **{sl:.2f}** wall, **{sl_cpu:.2f}** CPU "
        "(target <= 1.1).",
        "",
        "Verdict: 2x target "
        + ("met" if ok else "NOT met (gap: ratios above)")
        + "; memory target "
        + ("met" if mem_ok else "NOT met")
        + "; slope target "
        + ("met." if sl <= 1.1 else "NOT met."),
    ]
    return "\n".join(lines)


def main() -> None:
    """Run the sections and write SPEED.md + speed_curves.png."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, skip real data")
    ap.add_argument("--skip-quality", action="store_true", help="skip section 1 (real data)")
    ap.add_argument("--threads", type=int, default=2, help="threads for retrieval/index")
    ap.add_argument(
        "--train-threads",
        type=int,
        default=1,
        help="torch threads for training (paper inherits it; fast pins 1 itself)",
    )
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--index-n", type=int, default=1_000_000, help="entities in the index test")
    ap.add_argument(
        "--max-n", type=int, default=200_000, help="largest n of the exact-neighbors curve"
    )
    ap.add_argument("--neighbors-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument(
        "--genome-only", action="store_true", help="run only section 5 (genome scale, ~10 min)"
    )
    ap.add_argument("--skip-genome", action="store_true", help="skip section 5")
    ap.add_argument(
        "--genome-sizes",
        default=",".join(map(str, GENOME_SIZES)),
        help="pairs per cost-curve point (the largest also runs node)",
    )
    ap.add_argument(
        "--full-evaluate",
        action="store_true",
        help="section 5 times calbio.evaluate itself instead of the stage functions",
    )
    ap.add_argument("--genome-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--genome-protocol", default="edge", help=argparse.SUPPRESS)
    ap.add_argument("--no-fit-all", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.neighbors_child:
        print(json.dumps(neighbors_child(args.neighbors_child, args.threads)))
        return
    if args.genome_child:
        res = genome_child(
            args.genome_child,
            args.genome_protocol,
            args.n_boot,
            args.full_evaluate,
            not args.no_fit_all,
        )
        print(json.dumps(res, default=float))
        return
    if args.genome_only:
        t_start = time.perf_counter()
        sizes = [int(x) for x in args.genome_sizes.split(",")]
        g = genome_scale(sizes, args.n_boot, args.full_evaluate)
        update_section(
            SPEED,
            "speed-genome",
            "## Genome scale: evaluation cost at 20k entities\n\n"
            + genome_section(g, args.n_boot, args.full_evaluate)
            + "\n\nGenerated by `python benchmarks/speed.py --genome-only"
            + (" --full-evaluate" if args.full_evaluate else "")
            + f"` @ {git_revision()} "
            f"in {(time.perf_counter() - t_start) / 60:.1f} min on {os.cpu_count()} CPUs.",
        )
        RAW.parent.mkdir(exist_ok=True)
        (RAW.parent / "speed_genome.json").write_text(json.dumps(g, indent=2, default=float))
        log(f"wrote the genome section of {SPEED}")
        return
    import torch._dynamo  # noqa: F401  (torch.optim imports it lazily: a one-off cost per process)

    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    results: dict = {"machine": {"cpus": os.cpu_count(), "threads": args.threads}}
    results["matmul_gflops"] = rate = matmul_rate(args.threads)
    log(f"matmul: {rate}")
    quality = None
    if not args.quick and not args.skip_quality:
        if not (SHARED / EMB).is_file():
            log(f"{SHARED} not found: skipping time-to-quality")
        else:
            quality = results["quality"] = time_to_quality(
                ["edge", "node"], args.n_boot, args.train_threads
            )
    torch.set_num_threads(args.threads)
    if args.quick:
        train_sizes, paper_sizes = [10_000, 100_000], [10_000]
        nb_sizes = [2_000, 5_000, 10_000, 20_000]
        index_n, hnsw_n = 100_000, 20_000
    else:
        train_sizes, paper_sizes = [10_000, 100_000, 1_000_000], [10_000, 100_000]
        nb_sizes = [
            n for n in (2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000) if n <= args.max_n
        ]
        index_n, hnsw_n = args.index_n, 50_000
    results["training"] = train = training_cost(train_sizes, paper_sizes, args.train_threads)
    results["neighbors"] = nbrs = neighbors_curve(nb_sizes, args.threads)
    results["matmul_gflops_after"] = matmul_rate(args.threads)
    try:
        import faiss  # noqa: F401

        results["index"] = ix = index_bench(index_n, 1000, [4, 8, 16, 32, 64], args.threads, hnsw_n)
    except ImportError:
        ix = None
        log("faiss missing: index section skipped")
    total = time.perf_counter() - t_start
    results["total_seconds"] = total

    header = (
        f"calbio {calbio.__version__} @ {git_revision()}, torch {torch.__version__}, "
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, {args.threads} threads; "
        f"benchmark wall time {total / 60:.1f} min ({'quick' if args.quick else 'full'} run). "
        "Generated by `python benchmarks/speed.py`; do not edit by hand."
    )
    update_section(SPEED, "speed-header", header, "Speed and scale (generated)")
    if quality:
        body, verdict = quality_section(quality)
        desc = "\n".join(f"- `{k}`: {PRESET_DESCRIPTIONS[k]}" for k in ("paper", "fast"))
        body = (
            "DepMap CRISPR PCA-50 x STRING >= 950 (../shared/data), same split and seed (42) for "
            "both presets; training wall time is CAL.fit on the training pairs; the paper preset "
            f"ran with {args.train_threads} torch thread(s) (see the probe below).\n\n"
            + desc
            + "\n\n"
            + body
        )
        update_section(SPEED, "speed-quality", "## Time to quality\n\n" + body)
        results["verdict"] = verdict
    update_section(
        SPEED,
        "speed-training",
        "## Training cost vs training pairs\n\nSynthetic: 50,000 random unit entities (d = 50), "
        "uniformly random pairs; fast preset 2 epochs and paper preset 1 epoch per size "
        f"(median epoch), no validation split, {args.train_threads} torch thread(s).\n\n"
        + training_section(train),
    )
    rate_after = results["matmul_gflops_after"]
    update_section(
        SPEED,
        "speed-neighbors",
        f"## Exact all-pairs top-{TOP}\n\nRandom unit Z and E (d = {DIM}), half score (vectors "
        f"of dimension {2 * DIM}), every entity's top {TOP} partners (self excluded), one fresh "
        f"process per size. Matmul rate re-measured after this section: "
        f"{rate_after['square_2048']:.0f} GFLOP/s.\n\n" + neighbors_section(nbrs, rate),
    )
    if ix:
        update_section(SPEED, "speed-index", "## Approximate index (faiss)\n\n" + index_section(ix))
    plot(train, nbrs, ix)
    update_section(SPEED, "speed-plot", f"![cost curves]({PLOT.name})")
    RAW.parent.mkdir(exist_ok=True)
    RAW.write_text(json.dumps(results, indent=2, default=float))
    log(f"wrote {SPEED} and {PLOT} in {total / 60:.1f} min")


if __name__ == "__main__":
    main()
