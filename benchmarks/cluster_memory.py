"""Peak memory of HDBSCAN clustering at 20,000 entities (the issue's scale target).

    /usr/bin/time -v python benchmarks/cluster_memory.py      # prints 'Maximum resident set size'

Measured here (2 cores, 24 GB): 9.7-10.2 GB peak, 15-55 s, for 20,000 entities x 50 dimensions
(quoted in docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from calbio.analysis.clusters import hdbscan_cosine


def main() -> None:
    """Cluster n clustered synthetic vectors and print time and peak memory."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=50)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(400, args.dim))
    V = centers[rng.integers(0, 400, args.n)] + 0.3 * rng.normal(size=(args.n, args.dim))
    t0 = time.perf_counter()
    labels = hdbscan_cosine(V.astype(np.float32))
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"n={args.n}: {labels.max() + 1} clusters in {time.perf_counter() - t0:.0f} s, "
        f"peak RSS {peak_gb:.1f} GB"
    )


if __name__ == "__main__":
    main()
