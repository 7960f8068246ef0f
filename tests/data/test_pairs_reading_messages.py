"""Pairs and embedding files (issue 19 §2, §4): comment lines, compressed files, ignored columns."""

from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calbio.core.errors import CalbioInputError
from calbio.data.embeddings import load_embeddings, sniff_compression
from calbio.data.pairs import load_pairs

SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ids = st.from_regex(r"[A-Z][A-Z0-9]{1,6}", fullmatch=True)
pair_lists = st.lists(st.tuples(ids, ids), min_size=1, max_size=20).map(
    lambda rows: [(a, b) for a, b in rows if a != b]
)
comment_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n"), max_size=30
)


def _csv(rows: list[tuple[str, str]], sep: str = ",") -> str:
    return f"gene1{sep}gene2\n" + "".join(f"{a}{sep}{b}\n" for a, b in rows)


def _expected(rows: list[tuple[str, str]]) -> set[frozenset[str]]:
    return {frozenset(r) for r in rows}


@SETTINGS
@given(
    rows=pair_lists,
    comments=st.lists(comment_text, min_size=1, max_size=5),
    sep=st.sampled_from([",", "\t"]),
)
def test_comment_lines_above_the_header_are_skipped_and_said(tmp_path, rows, comments, sep):
    if not rows:
        return
    path = tmp_path / "p.csv"
    path.write_text("".join(f"#{c}\n" for c in comments) + _csv(rows, sep))
    pairs = load_pairs(path)
    assert pairs.stats["columns"] == ["gene1", "gene2"]
    assert {frozenset(p) for p in zip(pairs.a, pairs.b, strict=True)} == _expected(rows)
    assert any(f"skipped {len(comments)} comment line" in n for n in pairs.stats["notes"])


def test_comment_line_message_is_logged(tmp_path, caplog):
    path = tmp_path / "p.csv"
    path.write_text("# from our lab, v2\n# section\n" + _csv([("A1", "B1"), ("A2", "B2")]))
    with caplog.at_level(logging.INFO, logger="calbio"):
        pairs = load_pairs(path)
    assert len(pairs) == 2
    assert "skipped 2 comment lines starting with '#'" in caplog.text


def test_a_hash_header_is_still_a_header(tmp_path):
    """BioGRID / STRING style: the header itself starts with '#'."""
    path = tmp_path / "p.tsv"
    path.write_text("#protein_a\tprotein_b\nA1\tB1\nA2\tB2\n")
    pairs = load_pairs(path, columns=("#protein_a", "protein_b"))
    assert len(pairs) == 2


def test_only_comment_lines_is_refused(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("# nothing here\n\n# really\n")
    with pytest.raises(CalbioInputError, match="only '#' comment lines"):
        load_pairs(path)


def _compress(kind: str, data: bytes) -> bytes:
    if kind == "gzip":
        return gzip.compress(data)
    if kind == "bz2":
        return bz2.compress(data)
    if kind == "xz":
        return lzma.compress(data)
    raise AssertionError(kind)


@SETTINGS
@given(rows=pair_lists, kind=st.sampled_from(["gzip", "bz2", "xz", "zip"]))
def test_compressed_pairs_named_csv_are_read(tmp_path, rows, kind):
    if not rows:
        return
    path = tmp_path / "p.csv"
    text = _csv(rows).encode()
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("inner.csv", text)
    else:
        path.write_bytes(_compress(kind, text))
    assert sniff_compression(path) == kind
    pairs = load_pairs(path)
    assert {frozenset(p) for p in zip(pairs.a, pairs.b, strict=True)} == _expected(rows)
    assert any(f"{kind}-compressed" in n for n in pairs.stats["notes"])


@SETTINGS
@given(head=st.binary(min_size=0, max_size=16))
def test_magic_detection_never_misreads_text(tmp_path, head):
    """Only the five magic prefixes count as compressed; anything else is None."""
    path = tmp_path / "x.bin"
    path.write_bytes(head)
    magic = {
        b"\x1f\x8b": "gzip",
        b"PK\x03\x04": "zip",
        b"BZh": "bz2",
        b"\xfd7zXZ\x00": "xz",
        b"\x28\xb5\x2f\xfd": "zstd",
    }
    want = next((v for k, v in magic.items() if head.startswith(k)), None)
    assert sniff_compression(path) == want


def test_zstd_without_zstandard_is_one_line(tmp_path):
    try:
        import zstandard  # noqa: F401

        pytest.skip("zstandard is installed: zstd files are read")
    except ImportError:
        pass
    path = tmp_path / "p.csv"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\0" * 20)
    with pytest.raises(CalbioInputError, match="zstd-compressed; decompress it first"):
        load_pairs(path)


def test_gzip_embedding_named_csv_is_read(tmp_path, caplog):
    frame = pd.DataFrame(
        np.random.default_rng(0).normal(size=(5, 3)), index=[f"G{i}" for i in range(5)]
    )
    plain = tmp_path / "plain.csv"
    frame.to_csv(plain)
    path = tmp_path / "emb.csv"
    path.write_bytes(gzip.compress(plain.read_bytes()))
    with caplog.at_level(logging.INFO, logger="calbio"):
        emb = load_embeddings(path)
    assert emb.X.shape == (5, 3) and list(emb.names) == list(frame.index)
    assert "gzip-compressed although its name does not say so" in caplog.text
    npy = tmp_path / "emb.npy"
    npy.write_bytes(gzip.compress(b"\x93NUMPY"))
    with pytest.raises(CalbioInputError, match="gzip-compressed; a .npy file"):
        load_embeddings(npy, names_file=tmp_path / "n.txt")


def test_third_text_column_is_named_as_ignored(tmp_path, caplog):
    path = tmp_path / "p.csv"
    pd.DataFrame({"gene1": ["A", "B"], "gene2": ["C", "D"], "gene3": ["E", "F"]}).to_csv(
        path, index=False
    )
    with caplog.at_level(logging.INFO, logger="calbio"):
        pairs = load_pairs(path)
    assert pairs.stats["columns"] == ["gene1", "gene2"]
    assert "ignored text column 'gene3'" in caplog.text and "--columns" in caplog.text
    path2 = tmp_path / "q.csv"
    pd.DataFrame({"x": ["A", "B"], "y": ["C", "D"], "z": ["E", "F"]}).to_csv(path2, index=False)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="calbio"):
        load_pairs(path2)
    rec = [r for r in caplog.records if "ignored text column 'z'" in r.getMessage()]
    assert rec and rec[0].levelno == logging.WARNING  # only the first two text columns: warn
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="calbio"):
        load_pairs(path2, columns=("x", "z"))
    assert "ignored" not in caplog.text  # chosen by the user: nothing to say


def test_cli_fit_says_which_columns_it_used(tmp_path, cli):
    from calbio.data.synthetic import make_synthetic

    syn = make_synthetic(n_entities=60, dim=8, n_pairs=200, seed=2)
    syn.embeddings.to_frame().to_csv(tmp_path / "emb.csv")
    pd.DataFrame({"x": syn.pairs.a, "y": syn.pairs.b, "z": syn.pairs.a[::-1]}).to_csv(
        tmp_path / "p.csv", index=False
    )
    code, _, err = cli(
        [
            "fit",
            str(tmp_path / "emb.csv"),
            str(tmp_path / "p.csv"),
            "--out",
            str(tmp_path / "m"),
            "--epochs",
            "1",
            "--hidden",
            "8",
        ]
    )
    assert code == 0, err
    assert "identifier columns 'x' and 'y'" in err and "ignored text column 'z'" in err


@pytest.mark.parametrize(
    ("values", "what"),
    [
        (np.arange(1, 7, dtype=float).reshape(6, 1), "single feature column"),
        (np.tile([[1.0, 2.0, 3.0]], (6, 1)) * np.arange(1, 7)[:, None], "point the same way"),
    ],
)
def test_flat_embeddings_warn_no_usable_geometry(tmp_path, caplog, values, what):
    path = tmp_path / "emb.csv"
    pd.DataFrame(values, index=[f"G{i}" for i in range(6)]).to_csv(path)
    with caplog.at_level(logging.WARNING, logger="calbio"):
        load_embeddings(path)
    assert what in caplog.text and "no usable geometry" in caplog.text
    caplog.clear()
    good = np.random.default_rng(0).normal(size=(6, 3))
    pd.DataFrame(good, index=[f"G{i}" for i in range(6)]).to_csv(path)
    with caplog.at_level(logging.WARNING, logger="calbio"):
        load_embeddings(path)
    assert "no usable geometry" not in caplog.text


def test_cli_doctor_warns_on_a_flat_embedding(tmp_path, cli):
    from calbio.data.synthetic import make_synthetic

    syn = make_synthetic(n_entities=60, dim=8, n_pairs=200, seed=2)
    frame = syn.embeddings.to_frame().iloc[:, :1].abs() + 1.0
    frame.to_csv(tmp_path / "emb.csv")
    pd.DataFrame({"gene1": syn.pairs.a, "gene2": syn.pairs.b}).to_csv(
        tmp_path / "p.csv", index=False
    )
    code, _, err = cli(["doctor", str(tmp_path / "emb.csv"), str(tmp_path / "p.csv"), "--no-train"])
    assert code == 0, err
    assert "no usable geometry" in err
