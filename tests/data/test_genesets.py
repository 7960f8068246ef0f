"""The one GMT reader: records for enrichment, name -> members for derived pairs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from calbio.core.errors import CalbioInputError
from calbio.data.derive import read_gene_sets
from calbio.data.genesets import read_gmt

names = st.text(alphabet="ABCDEFGH123", min_size=1, max_size=4)
lines = st.lists(st.tuples(st.sampled_from(["S1", "S2", "S3"]), st.lists(names, max_size=5)))


@given(lines)
def test_by_name_unites_repeated_names_and_drops_empty_sets(tmp_path_factory, rows) -> None:
    path = tmp_path_factory.mktemp("gmt") / "sets.gmt"
    path.write_text("".join(f"{n}\tdesc\t" + "\t".join(g) + "\n" for n, g in rows) or "#\n")
    expected: dict[str, set[str]] = {}
    for n, g in rows:
        if g:
            expected.setdefault(n, set()).update(g)
    if not rows:
        with pytest.raises(CalbioInputError, match="no gene sets"):
            read_gmt(path)
        return
    records = read_gmt(path)
    assert len(records) == len(rows)  # every line is a record, in order
    got = {k: set(v) for k, v in records.by_name().items()}
    assert got == expected
    if expected:
        assert {k: set(v) for k, v in read_gene_sets(path).items()} == expected
        assert all(np.all(v[:-1] < v[1:]) for v in read_gene_sets(path).values())


def test_a_line_without_a_name_is_refused_with_its_number(tmp_path) -> None:
    path = tmp_path / "bad.gmt"
    path.write_text("S1\td\tA\tB\n\td\tC\n")
    with pytest.raises(CalbioInputError, match="line 2 is not GMT"):
        read_gmt(path)
