"""Tests for calbio.data.matching: exact and case-insensitive mapping, collapse, thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from calbio.core.errors import CalbioInputError
from calbio.data.embeddings import embeddings_from_array, load_embeddings
from calbio.data.matching import map_pairs, summarize_mapping
from calbio.data.pairs import load_pairs, pairs_from_list
from calbio.data.types import Pairs


def _emb(names: list[str]):
    rng = np.random.default_rng(0)
    return embeddings_from_array(rng.normal(size=(len(names), 4)) + 5, names)


def test_exact_mapping_keeps_orientation() -> None:
    emb = _emb(["A", "B", "C", "D"])
    mp = map_pairs(pairs_from_list([("B", "A"), ("C", "D"), ("A", "D")]), emb)
    assert mp.idx.tolist() == [[1, 0], [2, 3], [0, 3]]
    assert mp.idx.dtype == np.int64
    assert mp.n_entities == 4
    st = mp.stats
    assert st["n_input"] == 3 and st["n_mapped"] == 3 and st["n_unmapped"] == 0
    assert st["n_case_insensitive_ids"] == 0
    assert st["n_entities_mapped"] == 4
    assert st["fraction_mapped"] == 1.0
    assert st["examples_unmapped"] == []


def test_case_insensitive_fallback() -> None:
    emb = _emb(["TP53", "C7orf50", "MYC"])
    mp = map_pairs(pairs_from_list([("tp53", "C7ORF50"), ("MYC", "TP53")]), emb)
    assert mp.idx.tolist() == [[0, 1], [2, 0]]
    assert mp.stats["n_case_insensitive_ids"] == 2
    assert "2 ids matched case-insensitively" in summarize_mapping(mp)


def test_exact_match_preferred_over_casefold() -> None:
    emb = _emb(["abc", "ABC", "X"])
    mp = map_pairs(pairs_from_list([("ABC", "X"), ("abc", "X")]), emb)
    assert mp.idx.tolist() == [[1, 2], [0, 2]]
    assert mp.stats["n_case_insensitive_ids"] == 0


def test_ambiguous_casefold_not_matched() -> None:
    emb = _emb(["abc", "ABC", "X", "Y"])
    pairs = pairs_from_list([("Abc", "X"), ("X", "Y"), ("Y", "abc")])
    mp = map_pairs(pairs, emb)
    assert mp.idx.tolist() == [[2, 3], [3, 0]]
    assert mp.stats["n_unmapped"] == 1
    assert mp.stats["examples_unmapped"] == ["Abc"]
    assert mp.stats["n_case_insensitive_ids"] == 0


def test_strict_rule_min_fraction_raises() -> None:
    emb = _emb(["A", "B", "C"])
    pairs = pairs_from_list([("A", "B"), ("A", "Q1"), ("Q2", "C"), ("Q3", "Q4")], source="p.csv")
    with pytest.raises(CalbioInputError) as info:
        map_pairs(pairs, emb, min_fraction=0.5)
    msg = str(info.value)
    assert info.value.path == "p.csv"
    assert "only 1 of 4 pairs (25.0%) map to the embedding identifiers (need >= 50%" in msg
    assert "'Q1'" in msg and "'Q2'" in msg
    mp = map_pairs(pairs, emb, min_fraction=0.25)
    assert len(mp) == 1
    assert mp.stats["examples_unmapped"] == ["Q2", "Q3", "Q1", "Q4"]
    # the default rule judges the embedding's coverage (2 of 3 entities): accepted
    assert len(map_pairs(pairs, emb)) == 1


def test_default_rule_refuses_low_embedding_coverage() -> None:
    names = [f"G{i}" for i in range(100)]
    emb = _emb(names)
    # 10 pairs on 19 embedding entities plus many foreign ids: under 20 entities
    ok = [(f"G{i}", f"G{i + 1}") for i in range(0, 18, 2)] + [("G18", "G0")]
    pairs = pairs_from_list(ok + [(f"X{i}", f"Y{i}") for i in range(500)], source="p.csv")
    with pytest.raises(CalbioInputError) as info:
        map_pairs(pairs, emb)
    msg = str(info.value)
    assert "touch 19 of 100 embedding entities (need >= 20)" in msg
    assert "symbol-like names ('X0', 'X1', 'X2')" in msg  # three unmapped examples per side
    assert "('G19', 'G20', 'G21')" in msg
    more = pairs_from_list(
        ok + [("G20", "G21"), ("G22", "G23")] + [(f"X{i}", "Y") for i in range(500)]
    )
    assert len(map_pairs(more, emb)) == 12  # 23 of 100 entities: fine, 2% of pairs map
    with pytest.raises(CalbioInputError, match="need >= 50%"):
        map_pairs(more, emb, min_fraction=0.5)


def test_namespace_mismatch_without_tables_names_both(monkeypatch) -> None:
    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    emb = _emb(["TP53", "MYC", "EGFR", "KRAS"])
    pairs = pairs_from_list([("7157", "4609"), ("1956", "3845")], source="entrez.csv")
    with pytest.raises(CalbioInputError) as info:
        map_pairs(pairs, emb)
    msg = str(info.value)
    assert "pairs look like Entrez GeneID ('7157', '1956', '4609')" in msg
    # without gene_info tables symbols cannot be confirmed: they only look like symbols
    assert "the embedding like symbol-like names ('TP53', 'MYC', 'EGFR')" in msg
    assert "--id-tables" in msg and "calbio fetch gene-info" in msg


def test_zero_pairs_raises() -> None:
    with pytest.raises(CalbioInputError, match="no pairs to map"):
        map_pairs(pairs_from_list([]), _emb(["A", "B"]))


def test_collapse_counting() -> None:
    emb = _emb(["TP53", "MYC", "EGFR"])
    # tp53/TP53 collapse to one row: a self pair, and a duplicate of (TP53, MYC)
    pairs = Pairs(
        a=np.array(["TP53", "tp53", "MYC", "tp53", "EGFR"], dtype=object),
        b=np.array(["MYC", "TP53", "tp53", "EGFR", "MYC"], dtype=object),
        source="direct",
    )
    mp = map_pairs(pairs, emb)
    assert mp.idx.tolist() == [[0, 1], [0, 2], [2, 1]]
    st = mp.stats
    assert st["n_collapsed"] == 2
    assert st["n_mapped"] == 3
    assert st["n_unmapped"] == 0
    assert st["n_input"] == st["n_mapped"] + st["n_unmapped"] + st["n_collapsed"]
    assert st["n_case_insensitive_ids"] == 1
    assert st["n_entities_mapped"] == 3
    line = summarize_mapping(mp)
    assert line.startswith("3 of 5 pairs mapped (60.0%) onto 3 entities; 1 id matched")
    assert "2 pairs collapsed" in line


def test_summary_format() -> None:
    names = [f"G{i}" for i in range(3000)]
    emb = _emb(names)
    pairs = pairs_from_list([(f"G{i}", f"G{i + 1}") for i in range(1500)])
    line = summarize_mapping(map_pairs(pairs, emb))
    assert line == (
        "1,500 of 1,500 pairs mapped (100.0%) onto 1,501 entities; 0 ids matched case-insensitively"
        "\npairs: symbol-like names (1,500 rows) -> embedding: symbol-like names; same namespace"
    )


@pytest.mark.realdata
def test_real_string_onto_depmap(shared_file) -> None:
    emb_path = shared_file("embeddings", "depmap_crispr_gene_effect_pca50.csv")
    pairs_path = shared_file("associations", "string_ge950_pairs.csv")
    emb = load_embeddings(emb_path, id_column="genes")
    pairs = load_pairs(pairs_path)
    assert len(pairs) == 58_059
    # only 19.9% of STRING pairs fall inside the 2,732 DepMap genes: fine by default (the pairs
    # touch 80% of the embedding's entities); the strict rule refuses
    mp = map_pairs(pairs, emb)
    assert len(mp) == 11_532
    assert mp.stats["namespaces"] == (
        "pairs: symbol-like names (58,059 rows) -> embedding: symbol-like names; same namespace"
    )
    with pytest.raises(CalbioInputError, match="only 11,532 of 58,059 pairs"):
        map_pairs(pairs, emb, min_fraction=0.5)
    mp = map_pairs(pairs, emb, min_fraction=0.1)
    assert len(mp) == 11_532
    assert mp.stats["n_collapsed"] == 0
    assert mp.n_entities == 2732
    assert summarize_mapping(mp).startswith("11,532 of 58,059 pairs mapped (19.9%)")
