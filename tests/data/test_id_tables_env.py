"""$CALBIO_ID_TABLES is read in one place (data.identifiers), and the CLI still honours it."""

from __future__ import annotations

from pathlib import Path

import calbio.data.identifiers as ids

SRC = Path(__file__).resolve().parents[2] / "src" / "calbio"


def _reads_env(text: str) -> bool:
    return (
        'envvar="CALBIO_ID_TABLES"' in text
        or 'environ.get("CALBIO_ID_TABLES"' in text
        or ('ENV_VAR = "CALBIO_ID_TABLES"' in text and "environ" in text)
    )


def test_env_var_is_read_in_one_module() -> None:
    files = SRC.rglob("*.py")
    readers = sorted(str(p.relative_to(SRC)) for p in files if _reads_env(p.read_text()))
    assert readers == ["data/identifiers.py"], readers


def test_tables_fall_back_to_the_env_var(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(ids.ENV_VAR, raising=False)
    assert ids.resolve_id_tables(None) is None
    seen = []
    monkeypatch.setattr(ids.IdentifierTables, "from_dir", classmethod(lambda c, d: seen.append(d)))
    monkeypatch.setenv(ids.ENV_VAR, str(tmp_path))
    ids.resolve_id_tables(None)
    assert seen == [str(tmp_path)]


def test_identifier_tables_travel_without_a_global() -> None:
    """Tables are an IdResolver passed as ``id_tables=``: no ContextVar or session anywhere."""
    hits = sorted(
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if any(w in p.read_text() for w in ("ContextVar", "id_session", "IdSession"))
    )
    assert hits == [], hits
