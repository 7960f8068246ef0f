"""Render analysis tables (``calbio.analysis.tables.table`` dicts) as GitHub markdown."""

from __future__ import annotations

from typing import Any


def _cell(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def tables_markdown(tables: list[dict[str, Any]], level: int = 3) -> str:
    """Render analysis tables as GitHub markdown (multi-line notes become code blocks)."""
    out = []
    for t in tables:
        out.append(f"{'#' * level} {t['title']}\n")
        out.append("| " + " | ".join(_cell(c) for c in t["columns"]) + " |")
        out.append("|" + "|".join("---" for _ in t["columns"]) + "|")
        out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in t["rows"]]
        out.append("")
        for note in t.get("notes", []):
            if "\n" in note:
                head, _, body = note.partition("\n")
                out += [head, "", "```", body, "```", ""]
            else:
                out.append(f"- {note}")
        out.append("")
    return "\n".join(out)
