"""Shared helper for benchmark scripts: each owns one marked section of a results file."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
# $CALBIO_DATA when set (as the tests and `calbio demo` read it), else ../shared/data
SHARED = Path(os.environ.get("CALBIO_DATA") or HERE.parent.parent / "shared" / "data")


def pair_files(files: dict[str, str], tmp: Path, max_size: int = 30) -> list[Path]:
    """Paths of shared pair files (relative to SHARED), in order; a ``.gmt`` gene-set file
    becomes the pairs of co-members of its sets of <= ``max_size`` genes, written into ``tmp``."""
    from calbio.data.derive import pairs_from_genesets, read_gene_sets

    out = []
    for name, rel in files.items():
        if rel.endswith(".gmt"):
            path = tmp / f"{name}.csv"
            sets = read_gene_sets(SHARED / rel)
            pairs_from_genesets(sets, max_size=max_size).to_csv(path, index=False)
            out.append(path)
        else:
            out.append(SHARED / rel)
    return out


def git_revision() -> str:
    """Short commit hash of the working tree (for provenance lines)."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
        ).stdout.strip()
    except OSError:
        return "unknown"
    return rev or "unknown"


def update_section(results_file: Path, name: str, body: str, title: str | None = None) -> None:
    """Replace (or append) the block between ``<!-- BEGIN name -->`` and ``<!-- END name -->``."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = results_file.read_text() if results_file.exists() else f"# {title or 'Results'}\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + block + "\n"
    )
    tmp = results_file.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(results_file)
