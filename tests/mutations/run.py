"""Mutation check: plant realistic bugs one at a time and see whether the test suite notices.

Each mutation is a small textual patch (search -> replace) on one file under ``src/``. Its anchor
text must occur exactly once in that file, so a mutation cannot silently stop applying after the
code changes (``--check`` verifies every anchor in a second). For each mutation the script copies
the repository (src/, tests/, pyproject.toml and the few folders tests read) into a scratch
directory, applies the patch there -- the working tree is never modified -- and runs pytest with
``PYTHONPATH`` pointing at the scratch ``src``. The scratch location has no ``../shared/data``, so
real-data tests skip: every mutation must be caught by fast synthetic tests.

A mutation is run first against its ``focus`` test files (quick kill), then, if those pass,
against the whole suite. ``killed`` means some test failed; ``survived`` means the whole suite
passed with the bug in place; ``timeout`` means neither happened within ``--timeout`` seconds.

Usage (from the repository root, with the project's virtualenv active)::

    python tests/mutations/run.py                   # all mutations, writes docs/TESTING.md
    python tests/mutations/run.py --jobs 2 --timeout 240
    python tests/mutations/run.py --only loss_mask_ignored --only cal_load_drops_pca
    python tests/mutations/run.py --only NAME --write  # update NAME's row in docs/TESTING.md
    python tests/mutations/run.py --check           # anchors only, no test runs
    python tests/mutations/run.py --list

Not part of CI: the full run takes several minutes per CPU.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What the scratch copy holds: the package, the tests, and what tests read from the repository.
COPY = ("src", "tests", "pyproject.toml", "README.md", "docs", "benchmarks", "experiments")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", "mutations")
RESULTS_JSON = ROOT / "tests" / "mutations" / "results.json"
DOC = ROOT / "docs" / "TESTING.md"
PYTEST = ["-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]


@dataclass(frozen=True)
class Mutation:
    """One planted bug: ``patches`` are (file under src/calbio, old text, new text)."""

    name: str
    breaks: str
    patches: tuple[tuple[str, str, str], ...]
    focus: tuple[str, ...] = field(default=())

    @property
    def files(self) -> str:
        """The patched files, comma-separated."""
        return ", ".join(sorted({p[0] for p in self.patches}))


def M(name: str, file: str, old: str, new: str, breaks: str, *focus: str) -> Mutation:  # noqa: N802
    """A one-patch mutation."""
    return Mutation(name, breaks, ((file, old, new),), tuple(focus))


MUTATIONS: tuple[Mutation, ...] = (
    # ------------------------------------------------------------ the four known survivors
    M(
        "loss_mask_ignored",
        "training/losses.py",
        'logits = logits.masked_fill(mask, float("-inf"))',
        "logits = logits",
        "in-batch InfoNCE ignores the false-negative mask (known positives pushed apart)",
        "tests/training/test_losses.py",
        "tests/training/test_training.py",
    ),
    M(
        "bootstrap_negatives_fixed",
        "core/metrics.py",
        "neg_draws = rng.integers(0, n_n, size=(b, n_n), dtype=np.uint32)",
        "neg_draws = np.broadcast_to(np.arange(n_n, dtype=np.uint32), (b, n_n))",
        "bootstrap AUC CI resamples positives but never negatives (CI too narrow)",
        "tests/core/test_metrics.py",
    ),
    M(
        "bootstrap_positives_fixed",
        "core/metrics.py",
        "pos_draws = rng.integers(0, n_p, size=(b, n_p), dtype=np.uint32)",
        "pos_draws = np.broadcast_to(np.arange(n_p, dtype=np.uint32), (b, n_p))",
        "bootstrap AUC CI resamples negatives but never positives (CI too narrow)",
        "tests/core/test_metrics.py",
    ),
    M(
        "cal_load_drops_pca",
        "models/cal/estimator.py",
        'self.pca_components_ = arrays.get("pca.components")',
        "self.pca_components_ = None",
        "CAL.load silently drops the fitted PCA (new rows transformed without it)",
        "tests/models/test_estimator.py",
    ),
    M(
        "cross_boundary_inverted",
        "evaluation/scoring.py",
        "np.abs(cos) < cb_threshold",
        "np.abs(cos) > cb_threshold",
        "cross-boundary AUC computed on pairs with |cos| > t instead of < t",
        "tests/evaluation/test_evaluation_scoring.py",
        "tests/evaluation/test_protocol.py",
    ),
    # ------------------------------------------------------------ evaluation: splits, negatives
    M(
        "negatives_include_known",
        "core/graph.py",
        "ok &= ~in_sorted(pair_keys(cand, n), known)",
        "ok &= np.ones(len(cand), dtype=bool)",
        "test negatives may be known positive pairs",
        "tests/evaluation/test_splits.py",
    ),
    M(
        "node_split_leaks",
        "evaluation/splits.py",
        "touches = held[pairs_idx[:, 0]] | held[pairs_idx[:, 1]]",
        "touches = held[pairs_idx[:, 0]] & held[pairs_idx[:, 1]]",
        "node protocol trains on pairs with one held-out end (cold start leaks)",
        "tests/evaluation/test_splits.py",
    ),
    M(
        "node_negatives_warm",
        "core/graph.py",
        "ok &= held[cand[:, 0]] | held[cand[:, 1]]",
        "ok &= held[cand[:, 0]] | ~held[cand[:, 1]]",
        "node protocol negatives need not touch a held-out entity",
        "tests/evaluation/test_splits.py",
    ),
    M(
        "edge_split_overlap",
        "evaluation/splits.py",
        "pairs_idx[np.sort(perm[n_test:])]",
        "pairs_idx[np.sort(perm[n_test - 1 :])]",
        "edge split puts one test pair into training too (off by one)",
        "tests/evaluation/test_splits.py",
    ),
    M(
        "degree_strata_collapsed",
        "evaluation/splits.py",
        "if acc >= min_size:",
        "if acc >= 10**9:",
        "degree-matched negatives drawn from one stratum (uniform, not degree-matched)",
        "tests/evaluation/test_splits.py",
    ),
    # ------------------------------------------------------------ evaluation: metrics, ranks
    M(
        "filtered_rank_unfiltered",
        "evaluation/ranking.py",
        "greater = (r + 1) * c - hi - (end_x - hx)",
        "greater = (r + 1) * c - hi",
        "filtered ranking does not remove known pairs scored above the target",
        "tests/evaluation/test_ranking.py",
    ),
    M(
        "ties_optimistic",
        "evaluation/ranking.py",
        "return 1.0 + greater + 0.5 * ties",
        "return 1.0 + greater",
        "tied candidates do not count half in ranks (optimistic ranks)",
        "tests/evaluation/test_ranking.py",
    ),
    M(
        "tie_safe_noop",
        "evaluation/scoring.py",
        "return np.round(s / q) * q",
        "return s",
        "float noise from sparse products breaks ties in evaluation scores",
        "tests/evaluation/test_evaluation_scoring.py",
    ),
    M(
        "hits_at_k_exclusive",
        "evaluation/ranking.py",
        "float(np.mean(r <= k))",
        "float(np.mean(r < k))",
        "Hits@k counts rank < k (a partner ranked exactly k is not a hit)",
        "tests/evaluation/test_ranking_pinned.py",
    ),
    M(
        "known_matrix_one_orientation",
        "core/graph.py",
        "cols = np.concatenate([k[:, 1], k[:, 0]])",
        "cols = np.concatenate([k[:, 1], k[:, 1]])",
        "filtered ranks remove known pairs in one orientation only",
        "tests/core/test_core_graph.py",
    ),
    M(
        "validation_keeps_main_pairs",
        "evaluation/pairsets.py",
        "in_ref = np.isin(o_keys, ref_keys)",
        "in_ref = np.zeros(len(o_keys), dtype=bool)",
        "--validate-with keeps the main file's own held-out pairs (not independent)",
        "tests/evaluation/test_protocol.py",
    ),
    M(
        "heuristics_scored_in_cold_start",
        "evaluation/scoring.py",
        'if ps.cold and not getattr(model, "cold_start", True):',
        "if False:",
        "graph heuristics are scored on cold-start pairs they know nothing about",
        "tests/models/test_models_interface.py",
        "tests/evaluation/test_protocol.py",
    ),
    # ------------------------------------------------------------ scores and graph models
    M(
        "score_both_is_half",
        "scoring.py",
        'if kind == "both":\n        return Z, Z',
        'if kind == "both":\n        return Z, E',
        'score kind "both" computes f(a).e_b instead of f(a).f(b)',
        "tests/test_scoring.py",
    ),
    M(
        "score_half_swapped",
        "scoring.py",
        "half_r = np.concatenate([E, Z], axis=1)",
        "half_r = np.concatenate([Z, E], axis=1)",
        'score kind "half" pairs f(a) with f(b) and e_a with e_b',
        "tests/test_scoring.py",
    ),
    M(
        "l2_normalisation_skipped",
        "scoring.py",
        "return X / np.maximum(norms, np.finfo(np.float32).tiny)",
        "return X",
        "embeddings are not L2-normalised before training and scoring",
        "tests/test_scoring.py",
    ),
    M(
        "adamic_adar_weights_ra",
        "models/graph/heuristics.py",
        "w[ok] = 1.0 / np.log(deg[ok])",
        "w[ok] = 1.0 / deg[ok]",
        "Adamic-Adar weights neighbours by 1/deg (resource allocation) instead of 1/log(deg)",
        "tests/models/test_graph_models.py",
    ),
    M(
        "degree_product_sum",
        "models/graph/heuristics.py",
        "return d[p[:, 0]] * d[p[:, 1]]",
        "return d[p[:, 0]] + d[p[:, 1]]",
        "degree baseline sums degrees instead of multiplying them",
        "tests/models/test_graph_models.py",
    ),
    # ------------------------------------------------------------ training
    M(
        "sampled_loss_mask_ignored",
        "training/losses.py",
        'l_ab[:, 1:] = l_ab[:, 1:].masked_fill(mask_ab, float("-inf"))',
        "l_ab[:, 1:] = l_ab[:, 1:]",
        "sampled-negative InfoNCE ignores the false-negative mask in the a -> b direction",
        "tests/training/test_losses.py",
    ),
    M(
        "in_batch_mask_transposed",
        "training/negatives.py",
        "mask = known.contains(a[:, None], b[None, :])",
        "mask = known.contains(a[None, :], b[:, None])",
        "false-negative mask built with anchors and partners swapped (wrong entries masked)",
        "tests/training/test_training.py",
    ),
    M(
        "degree_sampler_uniform",
        "training/negatives.py",
        "self.weights = torch.from_numpy(deg[deg > 0] ** degree_power)",
        "self.weights = torch.from_numpy(deg[deg > 0] ** 0.0)",
        "degree negatives drawn uniformly instead of by training degree",
        "tests/training/test_training.py",
    ),
    M(
        "trainer_seed_ignored",
        "training/trainer.py",
        'gen = torch.Generator().manual_seed(child_seed(cfg.seed, "batches"))',
        "gen = torch.Generator()\n    gen.seed()",
        "the trainer's batch order ignores the seed (runs not reproducible)",
        "tests/training/test_training.py",
    ),
    M(
        "early_stopping_keeps_last",
        "training/trainer.py",
        "if stopper.best_state is not None and cfg.patience is not None:",
        "if False:",
        "early stopping keeps the last epoch's weights instead of the best validation epoch",
        "tests/training/test_training.py",
    ),
    M(
        "loss_one_direction",
        "training/losses.py",
        "return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))",
        "return F.cross_entropy(logits, target)",
        "symmetric InfoNCE drops the b -> a direction",
        "tests/training/test_losses.py",
    ),
    # ------------------------------------------------------------ data, persistence, output
    M(
        "mapping_no_case_fallback",
        "data/matching.py",
        "if missing.any():",
        "if False:",
        "identifiers differing only in case are no longer matched",
        "tests/data/test_matching.py",
    ),
    M(
        "pairs_dedupe_oriented",
        "data/pairs.py",
        "key = pair_key(ca, cb, len(uniques))",
        "key = ca * len(uniques) + cb",
        "pairs file dedupe keeps (b, a) after (a, b)",
        "tests/data/test_pairs.py",
    ),
    M(
        "persistence_accepts_nonfinite",
        "models/persistence.py",
        'if arrays[k].dtype.kind == "f" and not np.isfinite(arrays[k]).all():',
        "if False:",
        "loading a model with NaN/inf weights is not refused",
        "tests/models/test_persistence.py",
    ),
    M(
        "persistence_saves_nonfinite",
        "models/persistence.py",
        'if v.dtype.kind == "f" and not np.isfinite(v).all():',
        "if False:",
        "saving a model with NaN/inf weights is not refused",
        "tests/models/test_persistence.py",
    ),
    M(
        "atomic_dir_leaves_partial",
        "core/io.py",
        "if tmp.exists():\n            shutil.rmtree(tmp, ignore_errors=True)",
        "if False:\n            shutil.rmtree(tmp, ignore_errors=True)",
        "a failed directory write leaves its partial temporary directory behind",
        "tests/core/test_io.py",
        "tests/cli/test_cli.py",
    ),
    # ------------------------------------------------------------ the hybrid (issue 17)
    M(
        "hybrid_cold_own_scale",
        "models/hybrid/estimator.py",
        'if self.cold_scale == "warm" and combiners["cold"] is not combiners["warm"]:',
        'if False and combiners["cold"] is not combiners["warm"]:',
        "cold-start scores stay at their own Platt level, not on the warm combiner's scale",
        "tests/models/test_hybrid.py",
    ),
    M(
        "hybrid_evidence_unbounded",
        "models/hybrid/estimator.py",
        "bounded = np.isin(FEATURES, EVIDENCE) if self.nonnegative else None",
        "bounded = None",
        "nonnegative=True no longer bounds the evidence weights (collinear weights flip sign)",
        "tests/models/test_hybrid.py",
    ),
    M(
        "hybrid_validation_pairs_in_their_graph",
        "models/hybrid/estimator.py",
        "warm_graph = np.concatenate([fit_idx, cold]) if self.dense_warm_graph else fit_idx",
        "warm_graph = np.concatenate([fit_idx, cold, warm])",
        "warm validation pairs count as their own shared-neighbour evidence (leakage)",
        "tests/models/test_hybrid.py",
    ),
    M(
        "hybrid_explain_drops_intercept",
        "models/hybrid/estimator.py",
        'contrib[sel, -1] = float(c["intercept"][0]) + float(coef @ mu)',
        "contrib[sel, -1] = 0.0",
        "explain's contributions no longer sum to the score",
        "tests/models/test_hybrid_explain.py",
    ),
    M(
        "hybrid_closure_gate_off",
        "models/hybrid/estimator.py",
        "return float(self.prior_strength) * pull",
        "return 0.0 * pull",
        "a graph of cliques is fitted freely again (the closure gate never pulls)",
        "tests/models/test_hybrid.py",
    ),
    M(
        "hybrid_closure_reads_cal",
        "models/hybrid/estimator.py",
        'return auc(FEATURES.index("log_aa")) - auc(FEATURES.index("cosine"))',
        'return auc(FEATURES.index("log_aa")) - auc(FEATURES.index("cal"))',
        "the closure compares Adamic-Adar with CAL, which learns the cliques, not the embedding",
        "tests/models/test_hybrid.py",
    ),
)


# ---------------------------------------------------------------------------- mechanics


def apply(mutation: Mutation, src_root: Path) -> None:
    """Apply a mutation's patches under ``src_root`` (.../src/calbio); each anchor exactly once."""
    for file, old, new in mutation.patches:
        path = src_root / file
        text = path.read_text()
        n = text.count(old)
        if n != 1:
            raise RuntimeError(f"{mutation.name}: anchor found {n} times in {file}: {old!r}")
        path.write_text(text.replace(old, new))


def check_anchors() -> list[str]:
    """Problems with the mutation list against the working tree (empty when all is well)."""
    problems, seen = [], set()
    for m in MUTATIONS:
        if m.name in seen:
            problems.append(f"{m.name}: duplicate name")
        seen.add(m.name)
        for file, old, _new in m.patches:
            path = ROOT / "src" / "calbio" / file
            n = path.read_text().count(old) if path.is_file() else -1
            if n != 1:
                where = "file missing" if n < 0 else f"anchor found {n} times"
                problems.append(f"{m.name}: {file}: {where}: {old!r}")
        for f in m.focus:
            if not (ROOT / f).is_file():
                problems.append(f"{m.name}: focus file {f} missing")
    return problems


def _scratch_copy() -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="calbio-mut-"))
    repo = tmp / "repo"  # tmp/shared/data does not exist, so real-data tests skip
    repo.mkdir()
    for item in COPY:
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, repo / item, ignore=IGNORE)
        elif src.is_file():
            shutil.copy2(src, repo / item)
    return repo


def _env(repo: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CALBIO_DATA", None)  # real-data tests skip: synthetic tests must catch every bug
    env.update(
        PYTHONPATH=str(repo / "src"),
        PYTHONDONTWRITEBYTECODE="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MPLBACKEND="Agg",
    )
    return env


_FAIL_LINE = re.compile(r"^(FAILED|ERROR) (\S+)", re.M)


def _pytest(repo: Path, targets: list[str], deadline: float) -> tuple[str, str]:
    """(outcome, killer) of one pytest run: outcome in passed/failed/timeout/error."""
    left = deadline - time.monotonic()
    if left <= 0:
        return "timeout", ""
    try:
        proc = subprocess.run(
            [sys.executable, *PYTEST, *targets],
            cwd=repo,
            env=_env(repo),
            capture_output=True,
            text=True,
            timeout=left,
        )
    except subprocess.TimeoutExpired:
        return "timeout", ""
    out = proc.stdout + proc.stderr
    if proc.returncode == 0:
        return "passed", ""
    if proc.returncode in (1, 2):  # test failures, or collection/import errors
        hits = _FAIL_LINE.findall(out)
        killer = hits[0][1] if hits else out.strip().splitlines()[-1][:120]
        return "failed", killer.split(" - ")[0]
    return "error", f"pytest exit {proc.returncode}: {out.strip().splitlines()[-1][:120]}"


def run_one(mutation: Mutation | None, timeout: float, focus_only: bool = False) -> dict:
    """Run one mutation (``None``: the unmutated baseline) in a fresh scratch copy."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    repo = _scratch_copy()
    try:
        if mutation is not None:
            apply(mutation, repo / "src" / "calbio")
        outcome, killer = "passed", ""
        if mutation is not None and mutation.focus:
            outcome, killer = _pytest(repo, list(mutation.focus), deadline)
        if outcome == "passed" and not (focus_only and mutation is not None):
            outcome, killer = _pytest(repo, ["tests"], deadline)
    finally:
        shutil.rmtree(repo.parent, ignore_errors=True)
    status = {"passed": "survived", "failed": "killed"}.get(outcome, outcome)
    return {
        "name": mutation.name if mutation else "baseline",
        "status": status,
        "killer": killer,
        "seconds": round(time.monotonic() - t0, 1),
    }


# ---------------------------------------------------------------------------- report


def render(results: dict[str, dict], when: str) -> str:
    """docs/TESTING.md from the results of every mutation."""
    rows = [results[m.name] for m in MUTATIONS if m.name in results]
    killed = sum(r["status"] == "killed" for r in rows)
    lines = [
        "# Testing: can the tests fail?",
        "",
        "<!-- Generated by tests/mutations/run.py; do not edit by hand. -->",
        "",
        "Each row below is a realistic bug planted on purpose in a scratch copy of the repository,",
        "one at a time; the test suite then runs against it without the real data in",
        "`../shared/data` (real-data tests skip), with `pytest -x -q -p no:cacheprovider`. A bug",
        "is *killed* when some test fails, and *survived* when the whole suite passes with it.",
        "",
        "Run it (not part of CI; several minutes per CPU):",
        "",
        "```bash",
        "python tests/mutations/run.py --jobs 2 --timeout 240  # all mutations, rewrites this file",
        "python tests/mutations/run.py --only NAME             # one mutation, prints the result",
        "python tests/mutations/run.py --check                 # every anchor still applies",
        "python tests/mutations/run.py --render                # this file from results.json",
        "```",
        "",
        f"Last full run: {when}. **Killed {killed} of {len(rows)} mutations "
        f"({100.0 * killed / max(len(rows), 1):.0f}%).**",
        "",
        "| mutation | file | what it breaks | result |",
        "|---|---|---|---|",
    ]
    by_name = {m.name: m for m in MUTATIONS}
    for r in rows:
        m = by_name[r["name"]]
        if r["status"] == "killed":
            result = f"killed by `{r['killer']}`"
        else:
            result = f"**{r['status'].upper()}** {r.get('killer', '')}".rstrip()
        breaks = m.breaks.replace("|", "\\|")  # a literal pipe would split the table cell
        lines.append(f"| `{m.name}` | `{m.files}` | {breaks} | {result} |")
    lines += [
        "",
        "Every mutation names its anchor text, which must occur exactly once in its file;",
        "`--check` fails loudly when a refactor moves an anchor, so a mutation cannot silently",
        "stop applying.",
        "",
    ]
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", default=[], metavar="NAME")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=240.0, help="seconds per mutation")
    ap.add_argument("--check", action="store_true", help="verify anchors only")
    ap.add_argument("--list", action="store_true", help="list mutations")
    ap.add_argument(
        "--render", action="store_true", help="rewrite docs/TESTING.md from results.json only"
    )
    ap.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    ap.add_argument(
        "--focus-only",
        action="store_true",
        help="quick triage: run only each mutation's focus tests (never writes the report)",
    )
    ap.add_argument(
        "--write",
        action="store_true",
        help="with --only: update those rows of docs/TESTING.md (a full run always writes)",
    )
    args = ap.parse_args(argv)

    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:32s} {m.files:28s} {m.breaks}")
        return 0
    if args.render:
        stored = json.loads(RESULTS_JSON.read_text())
        _write(DOC, render(stored["results"], stored["when"]))
        print(f"wrote {DOC.relative_to(ROOT)} from {RESULTS_JSON.relative_to(ROOT)}")
        return 0
    problems = check_anchors()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    if args.check:
        print(f"all {len(MUTATIONS)} mutation anchors apply")
        return 0
    names = {m.name for m in MUTATIONS}
    unknown = [n for n in args.only if n not in names]
    if unknown:
        print(f"--only: unknown mutation(s) {unknown}; see --list", file=sys.stderr)
        return 2
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    jobs: list[Mutation | None] = ([] if args.no_baseline else [None]) + chosen

    results: dict[str, dict] = {}
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        # the unmutated baseline runs the whole suite: give it more room than one mutation
        futures = [
            pool.submit(run_one, m, args.timeout * (3 if m is None else 1), args.focus_only)
            for m in jobs
        ]
        for fut in futures:
            r = fut.result()
            results[r["name"]] = r
            print(f"{r['name']:32s} {r['status']:9s} {r['seconds']:7.1f}s  {r['killer']}")
            sys.stdout.flush()

    base = results.pop("baseline", None)
    if base is not None and base["status"] != "survived":
        print(
            f"baseline suite does not pass ({base['status']}: {base['killer']}); "
            "results are meaningless",
            file=sys.stderr,
        )
        return 1
    killed = sum(r["status"] == "killed" for r in results.values())
    print(f"killed {killed}/{len(results)} ({100.0 * killed / max(len(results), 1):.0f}%)")

    if (not args.only or args.write) and not args.focus_only:
        stored = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.is_file() else {}
        merged = {**stored.get("results", {}), **results} if args.only else results
        merged = {k: v for k, v in merged.items() if k in names}
        when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        _write(RESULTS_JSON, json.dumps({"when": when, "results": merged}, indent=2) + "\n")
        _write(DOC, render(merged, when))
        print(f"wrote {DOC.relative_to(ROOT)} and {RESULTS_JSON.relative_to(ROOT)}")
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
