"""``calbio pairs from-genesets``: complex-like pairs from small gene sets (GMT)."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calbio.core.errors import CalbioInputError
from calbio.data.derive import pairs_from_genesets, read_gene_sets

gene = st.text(alphabet="ABCDEFGHJK0123456789-", min_size=1, max_size=6)
gset = st.lists(gene, min_size=0, max_size=12)
sets = st.dictionaries(st.text(alphabet="GOabc:_0123456789", min_size=1, max_size=10), gset,
                       max_size=8)  # fmt: skip


def _write(path: Path, named: dict[str, list[str]]) -> Path:
    path.write_text("".join(f"{k}\tdesc {k}\t" + "\t".join(v) + "\n" for k, v in named.items()))
    return path


@settings(max_examples=60, deadline=None)
@given(named=sets, max_size=st.integers(2, 10))
def test_pairs_are_exactly_the_co_members_of_small_sets(tmp_path_factory, named, max_size):
    path = _write(tmp_path_factory.mktemp("g") / "s.gmt", named)
    usable = {k: v for k, v in named.items() if any(g.strip() for g in v)}
    if not usable:
        with pytest.raises(CalbioInputError):
            read_gene_sets(path)
        return
    got = pairs_from_genesets(read_gene_sets(path), max_size=max_size)
    want: dict[tuple[str, str], int] = {}
    for v in usable.values():
        members = sorted(set(v))
        if 2 <= len(members) <= max_size:
            for a, b in combinations(members, 2):
                want[(a, b)] = want.get((a, b), 0) + 1
    assert dict(zip(zip(got["entity1"], got["entity2"]), got["n_sets"])) == want
    assert (got["entity1"] < got["entity2"]).all()


@settings(max_examples=40, deadline=None)
@given(text=st.text(alphabet="ab\t\n #", max_size=60))
def test_parser_reads_or_refuses_with_an_input_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("g") / "x.gmt"
    path.write_text(text)
    try:
        sets_ = read_gene_sets(path)
    except CalbioInputError as exc:
        assert str(path) in str(exc) or "gene sets" in str(exc)
    else:
        assert sets_ and all(len(v) >= 1 for v in sets_.values())


def test_bad_sizes_refused():
    with pytest.raises(CalbioInputError, match="min-size"):
        pairs_from_genesets({"x": ["A", "B"]}, max_size=1)
    with pytest.raises(CalbioInputError, match="min-size"):
        pairs_from_genesets({"x": ["A", "B"]}, min_size=1)


def test_cli_writes_pairs_and_refuses_bad_input(tmp_path, cli):
    gmt = _write(tmp_path / "s.gmt", {"big": list("ABCDEFG"), "small": ["A", "B", "C"]})
    out = tmp_path / "p.csv"
    code, stdout, err = cli(["pairs", "from-genesets", gmt, "--max-size", "3", "--out", out])
    assert code == 0, err
    t = pd.read_csv(out)
    assert set(zip(t.entity1, t.entity2)) == {("A", "B"), ("A", "C"), ("B", "C")}
    code, _, err = cli(["pairs", "from-genesets", gmt, "--max-size", "3", "--out", out])
    assert code == 2 and "exists" in err  # no overwrite without --force
    bad = tmp_path / "bad.gmt"
    bad.write_text("only-a-name\n")
    code, _, err = cli(["pairs", "from-genesets", bad, "--out", tmp_path / "q.csv"])
    assert code == 2 and "not GMT" in err and not (tmp_path / "q.csv").exists()
    code, _, err = cli(["pairs", "from-genesets", gmt, "--max-size", "1", "--out", tmp_path / "r"])
    assert code == 2 and "--min-size" in err


def test_go_cc_complex_like_pairs(shared_data):
    sets_ = read_gene_sets(shared_data / "genesets" / "GO_CC_propagated_5_500.gmt")
    t = pairs_from_genesets(sets_, max_size=30)
    assert len(t) > 10_000 and t["n_sets"].min() >= 1
    assert not t.duplicated(["entity1", "entity2"]).any()
