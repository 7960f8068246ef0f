"""Command-line startup time: each command N times in a fresh process, median wall time.

Writes the "Startup" section of benchmarks/SPEED.md (between its markers). A command is run
exactly as the ``calbio`` console script runs it (``from calbio.cli.main import main; main()``)
with the Python interpreter running this script, so the numbers are those of the checkout on
``sys.path`` (set PYTHONPATH=src to time a working tree). Targets (issue 19 section 6):
``--version`` and ``--help`` under 1 s, ``fetch --list`` under 2 s.

Usage::

    python benchmarks/startup.py            # 7 runs per command, writes SPEED.md
    python benchmarks/startup.py --runs 3 --no-write
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import git_revision, update_section  # noqa: E402

SPEED = Path(__file__).resolve().parent / "SPEED.md"
ENTRY = "import sys; from calbio.cli.main import main; sys.argv[0] = 'calbio'; main()"
# (arguments, target seconds or None)
COMMANDS: list[tuple[list[str], float | None]] = [
    (["--version"], 1.0),
    (["--help"], 1.0),
    (["fetch", "--list"], 2.0),
    (["fit", "--help"], None),
    (["evaluate", "--help"], None),
]
# modules whose import made every command slow before (issue 19 section 6)
HEAVY = ("torch", "sklearn", "scipy", "pandas", "anndata", "matplotlib", "pooch", "torch_geometric")
PROBE = (
    "import sys; from calbio.cli.main import main; sys.argv = ['calbio', *sys.argv[1:]]\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    f"sys.stderr.write('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
)


def time_command(args: list[str], runs: int) -> tuple[list[float], list[float]]:
    """(wall, CPU) seconds of ``runs`` fresh processes running ``calbio ARGS`` (output discarded).

    CPU is the child's user + system time: unlike wall time it barely depends on how busy the
    machine is, so it tells a slow start from a crowded machine.
    """
    wall, cpu = [], []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", ENTRY, *args], capture_output=True, text=True, check=False
        )
        wall.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"calbio {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return wall, cpu


def heavy_modules(args: list[str]) -> str:
    """The heavy libraries a command imported (comma-separated; '' when none)."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=False
    )
    line = [x for x in proc.stderr.splitlines() if x.startswith("HEAVY=")]
    return line[-1].partition("=")[2] if line else "?"


def baseline() -> float:
    """Median wall seconds of a bare ``python -c pass`` (the interpreter's own start)."""
    return statistics.median(_wall([sys.executable, "-c", "pass"]) for _ in range(5))


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=False)
    return time.perf_counter() - t0


def main() -> None:
    """Time every command and write (or print) the Startup section."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=7, help="fresh processes per command")
    ap.add_argument("--no-write", action="store_true", help="print only; leave SPEED.md alone")
    opts = ap.parse_args()
    import calbio

    rows, failed = [], []
    for args, target in COMMANDS:
        load = os.getloadavg()[0]
        times, cpu = time_command(args, opts.runs)
        med = statistics.median(times)
        verdict = "" if target is None else ("met" if med < target else "**missed**")
        if target is not None and med >= target:
            failed.append(" ".join(args))
        heavy = heavy_modules(args) or "none"
        rows.append(
            f"| `calbio {' '.join(args)}` | {med:.2f} | {min(times):.2f} | {max(times):.2f} | "
            f"{statistics.median(cpu):.2f} | {load:.1f} | "
            f"{'' if target is None else f'< {target:.0f}'} | {verdict} | {heavy} |"
        )
        print(rows[-1], flush=True)
    py = baseline()
    body = "\n".join(
        [
            "## Startup",
            "",
            f"calbio {calbio.__version__} @ {git_revision()}, python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs; each command {opts.runs} times in a fresh process "
            "(as the console script runs it), output discarded; a bare `python -c pass` takes "
            f"{py:.2f} s here. Wall time grows with the machine's load (the 1-minute load average "
            "when the command started is shown); CPU time (user + system) barely does. Heavy "
            "libraries (torch, scikit-learn, scipy, pandas, anndata, matplotlib, pooch, PyG) "
            "are imported where they are used, so a command "
            "that only parses its options or prints help loads none of them "
            "(tests/test_startup.py keeps it so). Generated by `python benchmarks/startup.py`; "
            "do not edit by hand.",
            "",
            "| command | median wall (s) | min (s) | max (s) | median CPU (s) | load average | "
            "target (s) | | heavy libraries loaded |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    if opts.no_write:
        print(body)
    else:
        update_section(SPEED, "speed-startup", body)
        print(f"wrote the Startup section of {SPEED}")
    if failed:
        raise SystemExit(f"startup target missed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
