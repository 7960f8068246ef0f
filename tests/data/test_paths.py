"""data.paths: ${CALBIO_DATA} and ${VAR:-default} in experiment paths."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from calbio.data.paths import expand, resolve


@given(st.text(alphabet="abc/._-", max_size=20))
def test_expand_leaves_plain_paths_alone(s):
    assert expand(s) == s


def test_expand_defaults_and_resolve(tmp_path, monkeypatch):
    monkeypatch.delenv("CALBIO_DATA", raising=False)
    assert expand("${CALBIO_DATA:-../d}/x") == "../d/x"
    assert resolve(tmp_path, "${CALBIO_DATA:-d}/x") == tmp_path / "d" / "x"
    monkeypatch.setenv("CALBIO_DATA", "/abs")
    assert resolve(tmp_path, "$CALBIO_DATA/x") == Path("/abs/x")
