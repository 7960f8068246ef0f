"""Helpers shared by test files in several folders (tests/ is on sys.path via conftest.py)."""

from __future__ import annotations

from pathlib import Path


def one_line_error(code: int, err: str, *needles: str) -> None:
    """Exit 2, one line on stderr (no traceback) that contains every needle."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)


def verdict(
    model: str,
    against: str,
    kind: str,
    diff: float,
    ci: tuple[float, float],
    where: str = "test",
    metric: str = "auc",
    label: str = "AUC",
    value: float = 0.5,
) -> dict:
    """A paired verdict as ``paired_verdicts`` records it (``value``: the rival's value)."""
    return {
        "model": model,
        "metric": metric,
        "label": label,
        "where": where,
        "against": against,
        "against_kind": kind,
        "model_value": value + diff,
        "against_value": value,
        "diff": diff,
        "diff_ci": list(ci),
        "verdict": "wins" if ci[0] > 0 else "loses" if ci[1] < 0 else "ties",
    }


def string_world(folder: Path, synthetic, info_fraction: float) -> tuple[Path, Path]:
    """STRING native links (both orientations) and a protein.info naming some proteins."""
    names = list(synthetic.embeddings.names)
    pid = {n: f"9606.ENSP{i:011d}" for i, n in enumerate(names)}
    a, b = synthetic.pairs.a[:300], synthetic.pairs.b[:300]
    rows = [f"{pid[x]} {pid[y]} 900" for x, y in zip(a, b, strict=True)]
    rows += [f"{pid[y]} {pid[x]} 900" for x, y in zip(a, b, strict=True)]
    links = folder / "9606.protein.links.v12.0.txt"
    links.write_text("protein1 protein2 combined_score\n" + "\n".join(rows) + "\n")
    kept = names[: int(len(names) * info_fraction)]
    info = folder / "9606.protein.info.v12.0.txt"
    info.write_text(
        "#string_protein_id\tpreferred_name\tsize\n"
        + "".join(f"{pid[n]}\t{n}\t100\n" for n in kept)
    )
    return links, info


def _foreign_dir(tmp_path: Path, name: str) -> Path:
    """A folder holding a file calbio did not write (notes.txt)."""
    d = tmp_path / name
    d.mkdir()
    (d / "notes.txt").write_text("my notes\n")
    return d
