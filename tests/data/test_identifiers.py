"""Identifier namespaces: detection, conversion through gene_info, aliases, Excel-mangled ids."""

from __future__ import annotations

import gzip
import io
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calbio.core.errors import CalbioInputError
from calbio.data.embeddings import embeddings_from_array
from calbio.data.identifiers import (
    AMBIGUOUS,
    UNKNOWN,
    IdentifierTables,
    IdResolver,
    classify_ids,
    detect_namespace,
    find_excel_mangled,
    id_resolver,
    resolve_id_tables,
)
from calbio.data.matching import map_pairs, write_id_mapping
from calbio.data.pairs import pairs_from_list


def _emb(names: list[str]):
    rng = np.random.default_rng(0)
    return embeddings_from_array(rng.normal(size=(len(names), 4)) + 5, names)


def test_tables_resolve_every_namespace(tables_dir) -> None:
    t = IdentifierTables.from_dir(tables_dir)
    ids = ["TP53", "tp53", "C7orf26", "7157", "ENSG00000146576.4", "P04637", "P04637-2"]
    ids += ["SHARED1", "OLDB", "nothing", "424242"]
    gid, how = t.to_geneid(ids)
    assert gid.tolist() == [7157, 7157, 79034, 7157, 79034, 7157, 7157, AMBIGUOUS, 101] + [
        UNKNOWN,
        UNKNOWN,
    ]
    assert how.tolist()[:9] == [
        "symbol",
        "case",
        "alias",
        "entrez",
        "ensembl_gene",
        "uniprot",
        "uniprot",
        "alias",
        "symbol",
    ]
    assert t.current_symbol("MARCH1") == "MARCHF1"
    assert t.stats["n_aliases_ambiguous"] == 1


def test_tables_parsed_once_per_process(tables_dir) -> None:
    assert IdentifierTables.from_dir(tables_dir) is IdentifierTables.from_dir(tables_dir)


def test_missing_tables_are_one_clear_error(tmp_path) -> None:
    with pytest.raises(CalbioInputError, match="does not exist"):
        IdentifierTables.from_dir(tmp_path / "nope")
    with pytest.raises(CalbioInputError, match="calbio fetch gene-info"):
        IdentifierTables.from_dir(tmp_path)


def test_tables_from_argument_resolver_or_environment(tables_dir, monkeypatch) -> None:
    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    assert resolve_id_tables() is None
    assert id_resolver().tables is None
    resolver = IdResolver(tables_dir)
    assert id_resolver(resolver) is resolver  # a resolver passes through unchanged
    assert resolve_id_tables(resolver) is IdentifierTables.from_dir(tables_dir)
    assert resolve_id_tables(tables_dir) is IdentifierTables.from_dir(tables_dir)
    monkeypatch.setenv("CALBIO_ID_TABLES", str(tables_dir))
    assert resolve_id_tables() is IdentifierTables.from_dir(tables_dir)


def test_entrez_pairs_onto_symbol_embedding(tables_dir, monkeypatch) -> None:
    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    emb = _emb(["TP53", "INTS15", "A1BG", "SEPTIN7"])
    pairs = pairs_from_list([("7157", "79034"), ("1", "989"), ("7157", "1")], source="e.csv")
    with pytest.raises(CalbioInputError, match="Entrez GeneID"):
        map_pairs(pairs, emb)  # no tables: the namespaces cannot be reconciled
    mp = map_pairs(pairs, emb, id_tables=tables_dir)
    assert mp.idx.tolist() == [[0, 1], [2, 3], [0, 2]]
    assert mp.stats["n_converted_ids"] == 4
    assert mp.stats["namespaces"] == (
        "pairs: Entrez GeneID (3 rows) -> embedding: HGNC symbol; converted through NCBI gene_info"
    )
    assert set(mp.id_mapping["how"]) == {"converted"}
    assert mp.id_mapping.set_index("id").loc["7157", "mapped_to"] == "TP53"


def test_ensembl_embedding_against_symbol_pairs(tables_dir) -> None:
    emb = _emb(["ENSG00000141510", "ENSG00000146576", "ENSG00000121410"])
    pairs = pairs_from_list([("TP53", "C7orf26"), ("A1BG", "TP53")])
    mp = map_pairs(pairs, emb, id_tables=IdentifierTables.from_dir(tables_dir))
    assert mp.idx.tolist() == [[0, 1], [2, 0]]
    how = mp.id_mapping.set_index("id")["how"]
    assert how["TP53"] == "converted" and how["C7orf26"] == "alias"
    assert mp.stats["namespace_embedding"] == "ensembl_gene"


def test_ambiguous_alias_dropped_and_counted(tables_dir) -> None:
    emb = _emb(["GENEA", "GENEC", "TP53", "A1BG"])
    pairs = pairs_from_list([("SHARED1", "TP53"), ("TP53", "A1BG"), ("GENEA", "GENEC")])
    mp = map_pairs(pairs, emb, id_tables=tables_dir)
    assert mp.idx.tolist() == [[2, 3], [0, 1]]
    assert mp.stats["n_ambiguous_ids"] == 1
    assert "1 ambiguous id dropped" in mp.stats["namespaces"]
    row = mp.id_mapping.set_index("id").loc["SHARED1"]
    assert row["how"] == "ambiguous" and row["mapped_to"] == ""


def test_alias_that_is_another_genes_symbol_is_never_used(tables_dir) -> None:
    # OLDB is an alias of GENEA but the current symbol of gene 101, which is not in the table
    emb = _emb(["GENEA", "TP53", "A1BG"])
    pairs = pairs_from_list([("OLDB", "TP53"), ("TP53", "A1BG")])
    mp = map_pairs(pairs, emb, id_tables=tables_dir)
    assert mp.idx.tolist() == [[1, 2]]
    row = mp.id_mapping.set_index("id").loc["OLDB"]
    assert row["how"] == "absent" and row["gene_id"] == 101


def test_outdated_symbols_recovered_and_reported(tables_dir) -> None:
    emb = _emb(["INTS15", "TP53", "MARCHF1"])
    pairs = pairs_from_list([("C7orf26", "TP53"), ("MARCH1", "TP53"), ("INTS15", "MARCHF1")])
    without = map_pairs(pairs, emb)
    assert len(without) == 1
    mp = map_pairs(pairs, emb, id_tables=tables_dir)
    assert len(mp) == 3
    assert mp.stats["n_pairs_recovered_alias"] == 2
    assert (
        "2 pairs recovered through previous symbols (C7orf26 -> INTS15, MARCH1 -> MARCHF1)"
        in (mp.stats["namespaces"])
    )


def test_exact_match_wins_and_no_tables_keeps_old_behaviour(tables_dir, monkeypatch) -> None:
    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    emb = _emb(["C7orf26", "TP53", "tp53x"])
    pairs = pairs_from_list([("C7orf26", "TP53"), ("TP53X", "TP53")])
    a = map_pairs(pairs, emb)
    b = map_pairs(pairs, emb, id_tables=tables_dir)
    assert a.idx.tolist() == b.idx.tolist() == [[0, 1], [2, 1]]
    assert a.id_mapping["how"].tolist() == ["exact", "case", "exact"]


def test_write_id_mapping_from_resolver(tables_dir, tmp_path) -> None:
    emb = _emb(["TP53", "INTS15", "A1BG"])
    resolver = IdResolver(tables_dir)
    p1 = pairs_from_list([("7157", "C7orf26"), ("1", "zzz")], source="p.csv")
    map_pairs(p1, emb, id_tables=resolver)
    map_pairs(pairs_from_list([("TP53", "A1BG")], source="v.csv"), emb, id_tables=resolver)
    assert len(resolver.lines) == 2 and resolver.lines[0].startswith("p.csv: pairs: Entrez")
    path = write_id_mapping(resolver, tmp_path / "id_mapping.tsv")
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    assert list(df.columns) == ["source", "id", "namespace", "mapped_to", "how", "gene_id"]
    got = {(r.source, r.id): (r.mapped_to, r.how) for r in df.itertuples()}
    assert got[("p.csv", "7157")] == ("TP53", "converted")
    assert got[("p.csv", "C7orf26")] == ("INTS15", "alias")
    assert got[("p.csv", "zzz")] == ("", "unknown")
    assert got[("v.csv", "TP53")] == ("TP53", "exact")


def test_excel_mangled_ids_warned_with_count_and_examples(caplog, tables_dir) -> None:
    emb = _emb(["TP53", "A1BG", "1-Mar", "7-Sep"])
    pairs = pairs_from_list([("1-Mar", "TP53"), ("7-Sep", "A1BG"), ("TP53", "A1BG")])
    with caplog.at_level(logging.WARNING, logger="calbio"):
        mp = map_pairs(pairs, emb, id_tables=tables_dir)
    assert len(mp) == 3  # named, not converted
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "2 identifiers look like dates Excel made of gene symbols" in m
        and "'1-Mar' (likely MARCH1 (now MARCHF1))" in m
        and "'7-Sep' (likely SEPT7 (now SEPTIN7))" in m
        for m in msgs
    )
    assert mp.stats["excel_mangled_pairs"]["n"] == 2


# --------------------------------------------------------------------------- properties

SYMBOLS = st.from_regex(r"[A-Z]{2,5}[0-9]{0,2}", fullmatch=True)
GENERATORS = {
    "entrez": st.integers(1, 10**9).map(str),
    "ensembl_gene": st.integers(0, 10**11 - 1).map(lambda i: f"ENSG{i:011d}"),
    "ensembl_protein": st.integers(0, 10**11 - 1).map(lambda i: f"9606.ENSP{i:011d}"),
    "uniprot": st.from_regex(
        r"[OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9][A-Z][A-Z0-9]{2}[0-9]", fullmatch=True
    ),
    "symbol": SYMBOLS,
}


@settings(max_examples=60, deadline=None)
@given(
    ns=st.sampled_from(sorted(GENERATORS)),
    other=st.sampled_from(sorted(GENERATORS)),
    data=st.data(),
)
def test_detector_finds_the_majority_namespace(ns, other, data) -> None:
    main = data.draw(st.lists(GENERATORS[ns], min_size=3, max_size=30))
    noise = data.draw(st.lists(GENERATORS[other], max_size=len(main) - 1))
    assert set(classify_ids(main)) == {ns}
    guess = detect_namespace(main + noise)
    assert guess.namespace == ns
    assert guess.fraction >= 0.5


@settings(max_examples=60, deadline=None)
@given(
    day=st.integers(1, 31),
    month=st.sampled_from(["Mar", "Sep", "Oct", "Dec", "MAR", "sep"]),
    year=st.integers(1990, 2030),
    form=st.integers(0, 2),
)
def test_excel_detector_names_dates_and_suggests_the_symbol(day, month, year, form) -> None:
    mon_no = {"mar": 3, "sep": 9, "oct": 10, "dec": 12}[month.lower()]
    text = [f"{day}-{month}", f"{month}-{day:02d}", f"{year}-{mon_no:02d}-{day:02d}"][form]
    found = find_excel_mangled([text, "TP53"])
    family = {"mar": "MARCH", "sep": "SEPT", "oct": "OCT", "dec": "DEC"}[month.lower()]
    assert found.to_dict("records") == [{"id": text, "suggestion": f"{family}{day}"}]


@settings(max_examples=60, deadline=None)
@given(st.lists(SYMBOLS, max_size=20))
def test_excel_detector_leaves_symbols_alone(symbols) -> None:
    assert find_excel_mangled(symbols).empty


# --------------------------------------------------------------------------- fetch


def test_fetch_gene_info_brings_uniprot_table_and_loads(tables_dir, tmp_path, cli) -> None:
    """`calbio fetch gene-info` from a file:// mirror: both tables, checksummed, usable."""
    import hashlib
    import json

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "Homo_sapiens.gene_info.gz").write_bytes(
        (tables_dir / "Homo_sapiens.gene_info.gz").read_bytes()
    )
    # UniProt's idmapping_selected layout: 22 columns, accession first, GeneIDs third
    rows = ["P04637\tP53_HUMAN\t7157\t" + "\t".join("-" * 19), "Q96N11\tX\t79034; 7157\t-"]
    with gzip.open(mirror / "HUMAN_9606_idmapping_selected.tab.gz", "wt") as fh:
        fh.write("\n".join(rows) + "\n")
    cache = tmp_path / "cache"
    code, out, err = cli(["fetch", "gene-info", "--mirror", mirror, "--dir", cache])
    assert code == 0, err
    assert out.split() == [
        str(cache / "Homo_sapiens.gene_info.gz"),
        str(cache / "HUMAN_9606_idmapping_selected.tab.gz"),
    ]
    assert f"--id-tables {cache}" in err
    manifest = json.loads((cache / "calbio-fetch.json").read_text())["files"]
    digest = hashlib.sha256((mirror / "Homo_sapiens.gene_info.gz").read_bytes()).hexdigest()
    assert manifest["Homo_sapiens.gene_info.gz"]["sha256"] == digest
    t = IdentifierTables.from_dir(cache)
    gid, how = t.to_geneid(["P04637", "Q96N11", "C7orf26"])
    assert gid.tolist() == [7157, AMBIGUOUS, 79034]
    # a changed source file is refused against the recorded checksum; nothing replaced
    (cache / "Homo_sapiens.gene_info.gz").write_bytes(b"tampered")
    (mirror / "Homo_sapiens.gene_info.gz").write_bytes(b"other")
    code, _, err = cli(["fetch", "gene-info", "--mirror", mirror, "--dir", cache])
    assert code == 2 and "failed its hash check" in err


def test_cli_fit_and_score_entrez_pairs_with_id_tables(
    tables_dir, tmp_path, cli, monkeypatch
) -> None:
    """fit/score: Entrez-keyed pairs onto a symbol table; id_mapping.tsv beside the model."""
    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    names = ["TP53", "INTS15", "A1BG", "SEPTIN7", "MARCHF1", "GENEA", "GENEC", "OLDB"]
    rng = np.random.default_rng(1)
    pd.DataFrame(rng.normal(size=(8, 6)), index=pd.Index(names, name="gene")).to_csv(
        tmp_path / "emb.csv"
    )
    gids = ["7157", "79034", "1", "989", "55016"]
    rows = [(a, b) for i, a in enumerate(gids) for b in gids[i + 1 :]] + [("100", "102")]
    pd.DataFrame(rows, columns=["gene1", "gene2"]).to_csv(tmp_path / "pairs.csv", index=False)
    out = tmp_path / "model"
    base = ["fit", tmp_path / "emb.csv", tmp_path / "pairs.csv", "--out", out]
    tiny = ["--epochs", "1", "--hidden", "8", "--batch-size", "4"]
    code, _, err = cli([*base, *tiny])
    assert code == 2 and "Entrez GeneID ('7157'" in err and "--id-tables" in err
    assert not out.exists()
    code, _, err = cli([*base, *tiny, "--id-tables", tables_dir])
    assert code == 0, err
    assert "pairs: Entrez GeneID (11 rows) -> embedding: HGNC symbol; converted" in err
    ids = pd.read_csv(out / "id_mapping.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert dict(zip(ids["id"], ids["mapped_to"], strict=True))["79034"] == "INTS15"
    code, csv, err = cli(["score", out, tmp_path / "pairs.csv", "--id-tables", tables_dir])
    assert code == 0, err
    scored = pd.read_csv(io.StringIO(csv))
    assert len(scored) == 11 and scored.iloc[0][["a", "b"]].tolist() == ["TP53", "INTS15"]


def _world(tmp_path: Path) -> tuple[Path, Path]:
    """A 64-entity symbol table and pairs naming two of its genes by an alias and an Entrez id."""
    rng = np.random.default_rng(1)
    names = [f"G{i}" for i in range(60)] + ["INTS15", "TP53", "A1BG", "SEPTIN7"]
    emb = pd.DataFrame(rng.normal(size=(len(names), 8)), index=pd.Index(names, name="gene"))
    emb_path = tmp_path / "emb.csv"
    emb.to_csv(emb_path)
    a, b = rng.integers(0, 60, 300), rng.integers(0, 60, 300)
    pairs = [(names[i], names[j]) for i, j in zip(a, b, strict=True) if i != j]
    pairs += [("C7orf26", "G1"), ("C7orf26", "G2"), ("7157", "G3"), ("7157", "A1BG")]
    pairs_path = tmp_path / "pairs.csv"
    pd.DataFrame(pairs, columns=["a", "b"]).to_csv(pairs_path, index=False)
    return emb_path, pairs_path


def test_two_resolvers_in_one_process_do_not_leak(tables_dir, tmp_path, monkeypatch) -> None:
    """Evaluate with tables, then without: the second converts nothing, and each resolver
    records only its own mappings (a process-wide default would carry the tables over)."""
    import calbio
    from calbio.data.pairs import load_pairs

    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    emb_path, pairs_path = _world(tmp_path)
    pairs_path = load_pairs(pairs_path)
    opts = {"model": None, "n_boot": 5, "rank": False}
    with_tables, without = IdResolver(tables_dir), id_resolver()
    r1 = calbio.evaluate(emb_path, pairs_path, id_tables=with_tables, **opts)
    r2 = calbio.evaluate(emb_path, pairs_path, id_tables=without, **opts)
    r3 = calbio.evaluate(emb_path, pairs_path, **opts)  # no argument, no env: no tables
    how1 = dict(zip(r1.id_mapping["id"], r1.id_mapping["how"], strict=True))
    assert how1["C7orf26"] == "alias" and how1["7157"] == "converted"
    assert r1.data["mapping"]["n_pairs_recovered_alias"] == 2
    for r in (r2, r3):
        how = dict(zip(r.id_mapping["id"], r.id_mapping["how"], strict=True))
        assert how["C7orf26"] == how["7157"] == "unknown"
        assert r.data["mapping"]["n_converted_ids"] == r.data["mapping"]["n_alias_ids"] == 0
        assert r.data["mapping"]["id_tables"] is None
        assert r.n_test_pairs < r1.n_test_pairs or r.n_train_pairs < r1.n_train_pairs
    assert len(with_tables.mappings) == len(without.mappings) == 1
    assert "converted through NCBI gene_info" in with_tables.lines[0]


def test_cli_evaluate_with_then_without_tables_in_one_process(
    tables_dir, tmp_path, monkeypatch, cli
) -> None:
    """The CLI builds one resolver per command: id_mapping.tsv comes from that run's result."""
    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    emb_path, pairs_path = _world(tmp_path)
    base = ["evaluate", emb_path, pairs_path, "--model", "none", "--n-boot", "5"]
    code, _, err = cli([*base, "--id-tables", tables_dir, "--out", tmp_path / "with"])
    assert code == 0, err
    assert "converted through NCBI gene_info" in err
    code, _, err = cli([*base, "--out", tmp_path / "without"])
    assert code == 0, err
    assert "pairs: symbol-like names" in err and "converted through" not in err
    got = {}
    for run in ("with", "without"):
        df = pd.read_csv(tmp_path / run / "id_mapping.tsv", sep="\t", dtype=str)
        got[run] = dict(zip(df["id"], df["how"], strict=True))
    assert got["with"]["C7orf26"] == "alias" and got["with"]["7157"] == "converted"
    assert got["without"]["C7orf26"] == got["without"]["7157"] == "unknown"
    monkeypatch.setenv("CALBIO_ID_TABLES", str(tables_dir))  # the variable still works
    code, _, err = cli([*base, "--out", tmp_path / "env"])
    assert code == 0, err
    df = pd.read_csv(tmp_path / "env" / "id_mapping.tsv", sep="\t", dtype=str)
    assert dict(zip(df["id"], df["how"], strict=True))["C7orf26"] == "alias"


def test_clusters_map_validation_pairs_through_id_tables(tables_dir, tmp_path, cli, monkeypatch):
    """`calbio clusters --id-tables`: Entrez-keyed validation pairs reach a symbol model."""
    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    names = ["TP53", "INTS15", "A1BG", "SEPTIN7", "MARCHF1", "GENEA", "GENEC", "OLDB"]
    rng = np.random.default_rng(1)
    pd.DataFrame(rng.normal(size=(8, 6)), index=pd.Index(names, name="gene")).to_csv(
        tmp_path / "emb.csv"
    )
    gids = ["7157", "79034", "1", "989", "55016"]
    rows = [(a, b) for i, a in enumerate(gids) for b in gids[i + 1 :]]
    pd.DataFrame(rows, columns=["gene1", "gene2"]).to_csv(tmp_path / "pairs.csv", index=False)
    valid = [("100", "102"), ("100", "7157"), ("102", "989")]  # not training pairs
    pd.DataFrame(valid, columns=["gene1", "gene2"]).to_csv(tmp_path / "valid.csv", index=False)
    model = tmp_path / "model"
    tiny = ["--epochs", "1", "--hidden", "8", "--batch-size", "4", "--id-tables", tables_dir]
    code, _, err = cli(["fit", tmp_path / "emb.csv", tmp_path / "pairs.csv", "--out", model, *tiny])
    assert code == 0, err
    mapped = {}
    for extra in ([], ["--id-tables", tables_dir]):
        out = tmp_path / f"clusters{len(extra)}"
        args = ["clusters", model, "--out", out, "--validate-with", tmp_path / "valid.csv"]
        code, _, err = cli([*args, "--min-cluster-size", "2", "--min-samples", "1", *extra])
        assert code == 0, err
        density = json.loads((out / "validation.json").read_text())["valid"]["association"]
        mapped[bool(extra)] = density["n_mapped"]
    assert mapped == {False: 0, True: 3}
