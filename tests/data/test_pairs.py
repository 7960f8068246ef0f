"""Tests for calbio.data.pairs: reading, STRING's native format, cleanup, min-score parsing."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import calbio
from _helpers import string_world
from calbio.core.errors import CalbioInputError
from calbio.core.io import sha256_file
from calbio.data.pairs import load_pairs, pairs_from_frame, pairs_from_list, parse_min_score


def _write(tmp_path: Path, text: str, name: str = "pairs.csv") -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def _pairs(p) -> list[tuple[str, str]]:
    return list(zip(p.a.tolist(), p.b.tolist(), strict=True))


def _raises(path, match: str, **kw) -> CalbioInputError:
    with pytest.raises(CalbioInputError, match=match) as info:
        load_pairs(path, **kw)
    assert info.value.path == str(path)
    assert "\n" not in str(info.value)
    return info.value


# ---------------------------------------------------------------- reading


def test_autodetect_known_names_and_cleanup(tmp_path: Path) -> None:
    text = (
        "score,gene1,gene2\n"
        "0.9,A,B\n"
        "0.8,B,A\n"  # undirected duplicate
        "0.7, C ,D\n"  # stripped
        "0.6,C,C\n"  # self pair
        "0.5,,E\n"  # empty id
        "0.4,D,C\n"  # duplicate of C,D
        "0.3,E,F\n"
    )
    path = _write(tmp_path, text)
    p = load_pairs(path)
    assert _pairs(p) == [("A", "B"), ("C", "D"), ("E", "F")]
    assert p.stats["columns"] == ["gene1", "gene2"]
    assert p.stats["n_rows_read"] == 7
    assert p.stats["n_self_dropped"] == 1
    assert p.stats["n_duplicates_dropped"] == 2
    assert p.stats["n_empty_dropped"] == 1
    assert p.stats["n_filtered_min_score"] == 0
    assert p.stats["n_pairs"] == 3
    assert p.stats["warnings"] == []
    assert list(p.evidence.columns) == ["score"]
    np.testing.assert_allclose(p.evidence["score"], [0.9, 0.7, 0.3])  # kept rows' evidence
    assert p.source == str(path) and p.sha256 == sha256_file(path)


@pytest.mark.parametrize(
    "header", ["entity1,entity2", "protein1,protein2", "a,b", "source,target", "Gene_A,Gene_B"]
)
def test_known_header_names(tmp_path: Path, header: str) -> None:
    p = load_pairs(_write(tmp_path, f"x,{header},w\nq,A,B,1\nq,C,D,2\n"))
    assert _pairs(p) == [("A", "B"), ("C", "D")]


def test_first_two_text_columns(tmp_path: Path) -> None:
    p = load_pairs(_write(tmp_path, "w,left,right,other\n1,A,B,x\n2,C,D,y\n"))
    assert _pairs(p) == [("A", "B"), ("C", "D")]
    assert list(p.evidence.columns) == ["w"]


def test_undetectable_columns(tmp_path: Path) -> None:
    _raises(_write(tmp_path, "x,y,z\n1,2,3\n"), "cannot tell which two columns")


def test_explicit_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "gene1,gene2,sym_x,sym_y\nA,B,a,b\nC,D,c,d\n")
    p = load_pairs(path, columns=("sym_x", "sym_y"))
    assert _pairs(p) == [("a", "b"), ("c", "d")]
    err = _raises(path, "column\\(s\\) 'nope' not found", columns=("sym_x", "nope"))
    assert "'gene1'" in err.problem  # lists available columns


def test_numeric_looking_ids_kept_as_text(tmp_path: Path) -> None:
    p = load_pairs(_write(tmp_path, "gene1,gene2\n007,1\nNA,NULL\n"))
    assert _pairs(p) == [("007", "1"), ("NA", "NULL")]


def test_tsv_and_gzip(tmp_path: Path) -> None:
    text = "gene1\tgene2\tcombined_score\nA\tB\t950\nC\tD\t400\n"
    for name in ("p.tsv", "p.tsv.gz", "p.txt"):
        p = load_pairs(_write(tmp_path, text, name))
        assert _pairs(p) == [("A", "B"), ("C", "D")]
        assert p.evidence["combined_score"].tolist() == [950, 400]
    p = load_pairs(_write(tmp_path, text.replace("\t", ","), "p.csv.gz"))
    assert len(p) == 2


def test_parquet_pairs(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pd.DataFrame({"gene1": ["A", "B"], "gene2": ["B", "A"], "s": [1.0, 2.0]}).to_parquet(path)
    p = load_pairs(path)
    assert _pairs(p) == [("A", "B")]


def test_min_score_multiple(tmp_path: Path) -> None:
    text = (
        "gene1,gene2,combined_score,experimental,label\n"
        "A,B,950,800,x\n"
        "C,D,950,100,x\n"
        "E,F,500,900,x\n"
        "G,H,900,700,x\n"
        "H,G,999,999,x\n"
    )
    path = _write(tmp_path, text)
    p = load_pairs(path, min_score={"combined_score": 900, "experimental": 700})
    assert _pairs(p) == [("A", "B"), ("G", "H")]
    assert p.stats["n_filtered_min_score"] == 2
    assert p.stats["n_duplicates_dropped"] == 1
    assert p.evidence["experimental"].tolist() == [800, 700]
    err = _raises(path, "min-score column 'label' not found", min_score={"label": 1})
    assert "'combined_score'" in err.problem and "'experimental'" in err.problem
    _raises(path, "no pairs left", min_score={"combined_score": 10_000})


def test_bad_files(tmp_path: Path) -> None:
    _raises(tmp_path / "missing.csv", "file not found")
    _raises(_write(tmp_path, "", "empty.csv"), "empty")
    _raises(_write(tmp_path, "\n \n", "blank.csv"), "empty")
    _raises(_write(tmp_path, "gene1,gene2\n", "header.csv"), "no data rows")
    _raises(_write(tmp_path, "genes\nA\nB\n", "one.csv"), "fewer than two columns")
    _raises(_write(tmp_path, 'a,b\n1,2,3,4\n"x\n', "bad.csv"), "cannot parse")
    bad_gz = tmp_path / "bad.csv.gz"
    bad_gz.write_bytes(b"not gzip")
    _raises(bad_gz, "cannot read")
    _raises(_write(tmp_path, "gene1,gene2\nA,A\n", "self.csv"), "no pairs left")


# ---------------------------------------------------------------- STRING native format

LINKS_HEADER = (
    "protein1 protein2 neighborhood fusion cooccurence coexpression experimental "
    "database textmining combined_score\n"
)
LINKS = LINKS_HEADER + (
    "9606.ENSP00000000233 9606.ENSP00000356607 0 0 0 45 134 0 81 173\n"
    "9606.ENSP00000356607 9606.ENSP00000000233 0 0 0 45 134 0 81 173\n"
    "9606.ENSP00000000233 9606.ENSP00000427567 0 0 0 0 700 900 500 950\n"
    "9606.ENSP00000000412 9606.ENSP00000999999 0 0 0 0 800 900 500 990\n"
    "9606.ENSP00000000412 9606.ENSP00000000233 0 0 0 0 750 900 500 960\n"
)
INFO = (
    "#string_protein_id\tpreferred_name\tprotein_size\tannotation\n"
    '9606.ENSP00000000233\tARF5\t180\tADP-ribosylation factor 5; GTP-binding "protein"\n'
    "9606.ENSP00000356607\tRALGPS2\t583\tRas-specific guanine nucleotide-releasing factor\n"
    "9606.ENSP00000427567\tRRAS2\t211\tRas-related protein R-Ras2\n"
    "9606.ENSP00000000412\tM6PR\t277\tCation-dependent mannose-6-phosphate receptor\n"
)


def test_string_native_with_protein_info(tmp_path: Path) -> None:
    links = _write(tmp_path / "", LINKS, "9606.protein.links.detailed.v12.0.txt.gz")
    info = _write(tmp_path, INFO, "info_elsewhere.txt.gz")
    p = load_pairs(links, protein_info=info)
    assert _pairs(p) == [("ARF5", "RALGPS2"), ("ARF5", "RRAS2"), ("M6PR", "ARF5")]
    assert p.stats["format"] == "string-links"
    assert p.stats["n_unmapped_protein_ids"] == 1
    assert p.stats["examples_unmapped_protein_ids"] == ["9606.ENSP00000999999"]
    assert p.stats["n_duplicates_dropped"] == 1
    assert p.stats["protein_info"] == str(info)
    assert list(p.evidence.columns)[-1] == "combined_score"
    assert p.evidence["combined_score"].tolist() == [173, 950, 960]
    q = load_pairs(links, protein_info=info, min_score={"combined_score": 900, "experimental": 740})
    assert _pairs(q) == [("M6PR", "ARF5")]
    assert q.stats["n_filtered_min_score"] == 3


def test_string_sibling_protein_info(tmp_path: Path) -> None:
    links = _write(tmp_path, LINKS, "9606.protein.links.detailed.v12.0.txt.gz")
    _write(tmp_path, INFO, "9606.protein.info.v12.0.txt.gz")
    p = load_pairs(links)
    assert p.stats["protein_info"] == str(tmp_path / "9606.protein.info.v12.0.txt.gz")
    assert ("ARF5", "RRAS2") in _pairs(p)
    assert p.stats["warnings"] == []


def test_string_without_protein_info_warns(tmp_path: Path) -> None:
    links = _write(tmp_path, LINKS, "9606.protein.links.detailed.v12.0.txt")
    p = load_pairs(links)
    assert p.a[0] == "9606.ENSP00000000233"
    assert len(p) == 4
    assert len(p.stats["warnings"]) == 1
    assert "protein.info" in p.stats["warnings"][0]


def test_bad_protein_info(tmp_path: Path) -> None:
    links = _write(tmp_path, LINKS, "links.txt")
    with pytest.raises(CalbioInputError, match="protein info file not found"):
        load_pairs(links, protein_info=tmp_path / "nope.txt")
    bad = _write(tmp_path, "id\tname\nx\ty\n", "bad_info.txt")
    with pytest.raises(CalbioInputError, match="preferred_name"):
        load_pairs(links, protein_info=bad)


# ---------------------------------------------------------------- in-memory builders


def test_pairs_from_frame_and_list() -> None:
    df = pd.DataFrame({"entity1": ["A", "B", "X"], "entity2": ["B", "A", "X"], "w": [1, 2, 3]})
    p = pairs_from_frame(df)
    assert _pairs(p) == [("A", "B")]
    assert p.source == "dataframe"
    assert p.evidence["w"].tolist() == [1]
    q = pairs_from_list([("A", "B"), ("B", "A"), ("C", "C"), ("C", "D")])
    assert _pairs(q) == [("A", "B"), ("C", "D")]
    assert q.stats["n_self_dropped"] == 1 and q.stats["n_duplicates_dropped"] == 1
    assert q.evidence is None
    assert len(pairs_from_list([])) == 0
    with pytest.raises(CalbioInputError, match="exactly two items"):
        pairs_from_list([("A", "B", "C")])
    with pytest.raises(CalbioInputError, match="fewer than two columns"):
        pairs_from_frame(pd.DataFrame({"a": ["x"]}))


# ---------------------------------------------------------------- parse_min_score


def test_parse_min_score_examples() -> None:
    assert parse_min_score(["combined_score=900", " experimental >= 700.5"]) == {
        "combined_score": 900.0,
        "experimental": 700.5,
    }
    assert parse_min_score([]) == {}
    for bad in ["combined_score", "=900", "x=abc", "x=nan", "x=inf", "x="]:
        with pytest.raises(CalbioInputError, match="min-score") as info:
            parse_min_score([bad])
        assert info.value.path is None
    with pytest.raises(CalbioInputError, match="given twice"):
        parse_min_score(["a=1", "a=2"])


_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
_values = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(_names, _values, max_size=4))
def test_parse_min_score_roundtrip(d: dict[str, float]) -> None:
    items = [f"{k}={v!r}" for k, v in d.items()]
    assert parse_min_score(items) == d


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=4))
def test_parse_min_score_garbage(items: list[str]) -> None:
    try:
        out = parse_min_score(items)
    except CalbioInputError:
        return
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())
    assert len(out) == len(items)


# ---------------------------------------------------------------- cleanup property

_ids = st.sampled_from(["A", "B", "C", "D", "a", " A", "B ", "", "1"])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(_ids, _ids), max_size=30))
def test_cleanup_property(rows: list[tuple[str, str]]) -> None:
    p = pairs_from_list(rows)
    got = [frozenset((a, b)) for a, b in _pairs(p)]
    assert all(len(s) == 2 for s in got)  # no self pairs
    assert len(got) == len(set(got))  # no undirected duplicates
    expected = {frozenset((a.strip(), b.strip())) for a, b in rows}
    expected = {s for s in expected if len(s) == 2 and "" not in s}
    assert set(got) == expected  # every undirected non-self pair exactly once
    # first occurrence keeps its orientation
    first: dict[frozenset, tuple[str, str]] = {}
    for a, b in rows:
        first.setdefault(frozenset((a.strip(), b.strip())), (a.strip(), b.strip()))
    assert all(first[frozenset(t)] == t for t in _pairs(p))
    st_ = p.stats
    assert st_["n_pairs"] + st_["n_self_dropped"] + st_["n_duplicates_dropped"] + st_[
        "n_empty_dropped"
    ] == len(rows)


# ---------------------------------------------------------------- real data


@pytest.mark.realdata
def test_real_string_ge950(shared_file) -> None:
    path = shared_file("associations", "string_ge950_pairs.csv")
    p = load_pairs(path)
    assert p.stats["n_rows_read"] == 116_118
    assert len(p) == 58_059
    assert p.stats["n_duplicates_dropped"] == 58_059
    assert p.stats["columns"] == ["entity1", "entity2"]


@pytest.mark.realdata
def test_real_replogle_string_min_score(shared_file) -> None:
    path = shared_file("associations", "string_v12_replogle_k562_ge900.csv")
    full = load_pairs(path)
    assert len(full) == 23_268
    p = load_pairs(path, min_score=parse_min_score(["experimental=700"]))
    assert 0 < len(p) < len(full)
    assert p.stats["n_filtered_min_score"] == len(full) - len(p)
    for col in ("combined_score", "experimental", "database", "textmining", "coexpression"):
        assert col in p.evidence.columns
    assert (p.evidence["experimental"] >= 700).all()
    assert (p.evidence["combined_score"] >= 900).all()


def test_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffgene1,gene2\nA,B\n".encode())
    assert _pairs(load_pairs(path)) == [("A", "B")]


def test_load_pairs_from_frame_list_and_pairs():
    p = calbio.load_pairs([("A", "B"), ("B", "C"), ("B", "A")])
    assert len(p) == 2  # the reversed duplicate is dropped, as for files
    df = pd.DataFrame({"gene_a": ["A", "B"], "gene_b": ["B", "C"], "score": [900, 950]})
    p2 = calbio.load_pairs(df, min_score={"score": 920})
    assert len(p2) == 1 and p2.a[0] == "B"
    assert calbio.load_pairs(p) is p
    arr = np.array([["A", "B"], ["C", "D"]], dtype=object)
    assert len(calbio.load_pairs(arr)) == 2
    with pytest.raises(CalbioInputError, match="exactly two items"):
        calbio.load_pairs([("A", "B", "C")])
    with pytest.raises(CalbioInputError, match="expected a file path, DataFrame"):
        calbio.load_pairs(3.5)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ABCDEFG"), st.sampled_from("ABCDEFG")), max_size=30))
def test_load_pairs_list_matches_frame(rows):
    """A list of tuples and the same rows as a DataFrame give the same cleaned pairs."""
    if not rows:
        assert len(calbio.load_pairs(rows)) == 0
        return
    df = pd.DataFrame(rows, columns=["a", "b"])
    try:
        from_frame = calbio.load_pairs(df)
    except CalbioInputError:
        return
    from_list = calbio.load_pairs(rows)
    assert sorted(zip(from_list.a, from_list.b, strict=True)) == sorted(
        zip(from_frame.a, from_frame.b, strict=True)
    )


def test_string_losses_counted_from_raw_file(tmp_path, synthetic) -> None:
    from calbio.data.pairs import describe_drops, load_pairs

    links, info = string_world(tmp_path, synthetic, info_fraction=0.1)
    with pytest.raises(CalbioInputError, match=r"only \d+ of 600 rows .* protein ids"):
        load_pairs(links, protein_info=info)
    prs = load_pairs(links, protein_info=info, min_mapped=0.0)
    st_ = prs.stats
    assert st_["n_rows_read"] == 600
    lost = st_["n_rows_unmapped_protein"]
    assert lost > 500
    assert lost + st_["n_self_dropped"] + st_["n_duplicates_dropped"] + len(prs) == 600
    line = describe_drops(prs)
    assert "600 rows read" in line and f"{lost:,} with protein ids missing" in line
    assert f"{len(prs):,} pairs kept" in line


def test_headerless_pairs_file_keeps_its_first_pair(tmp_path, synthetic) -> None:
    from calbio.data.pairs import load_pairs

    a, b = synthetic.pairs.a[:50], synthetic.pairs.b[:50]
    path = tmp_path / "noheader.csv"
    path.write_text("".join(f"{x},{y}\n" for x, y in zip(a, b, strict=True)))
    prs = load_pairs(path, known_ids=synthetic.embeddings.names)
    assert len(prs) == 50
    assert (prs.a[0], prs.b[0]) == (a[0], b[0])
    assert any("looks like a pair" in w for w in prs.stats["warnings"])
    with_header = tmp_path / "header.csv"
    with_header.write_text("x,y\n" + path.read_text())
    prs = load_pairs(with_header, known_ids=synthetic.embeddings.names)
    assert len(prs) == 50 and not prs.stats["warnings"]
    # without the table's names: a first pair whose ids recur further down is still spotted
    body = "".join(f"{x},{y}\n" for x, y in zip(a, b, strict=True))
    path.write_text(f"{b[3]},{a[7]}\n" + body)
    prs = load_pairs(path)
    assert len(prs) == 51 and (prs.a[0], prs.b[0]) == (b[3], a[7])
