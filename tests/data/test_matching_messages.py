"""Mapping messages that misled (issue 19 §4): float ids, too few pairs, case, namespace."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from calbio.core.errors import CalbioInputError
from calbio.data.embeddings import embeddings_from_array
from calbio.data.identifiers import NOT_SYMBOLS, SYMBOL_LIKE, IdentifierTables, namespace_label
from calbio.data.matching import map_pairs
from calbio.data.pairs import pairs_from_list


def _emb(names: list[str]):
    rng = np.random.default_rng(0)
    return embeddings_from_array(rng.normal(size=(len(names), 4)), names)


def test_float_ids_of_integer_ids_are_named(monkeypatch):
    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    emb = _emb([str(i) for i in range(1, 61)])
    pairs = pairs_from_list([(f"{i}.0", f"{i + 1}.0") for i in range(1, 50)], source="p.csv")
    with pytest.raises(CalbioInputError) as info:
        map_pairs(pairs, emb)
    msg = str(info.value)
    assert "look like floats of the embedding's integer identifiers" in msg
    assert "'1.0' for '1'" in msg
    assert "gene_info" not in msg and "\n" not in msg


def test_a_single_pair_is_too_few_not_a_mismatch(monkeypatch):
    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    emb = _emb([f"G{i}" for i in range(100)])
    with pytest.raises(CalbioInputError) as info:
        map_pairs(pairs_from_list([("G1", "G2")], source="one.csv"), emb)
    msg = str(info.value)
    assert "too few pairs: 1 pair maps" in msg
    assert "touching 2 of its 100 entities; need pairs touching >= 20 entities" in msg
    assert "at least 10 pairs" in msg
    assert "do not match" not in msg


def test_too_few_pairs_names_the_unknown_identifier(monkeypatch, tables_dir):
    """One unknown id (an outdated symbol) can leave no pair: the message names it."""
    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    emb = _emb(["INTS15"] + [f"G{i}" for i in range(99)])
    pairs = pairs_from_list([("C7orf26", f"G{i}") for i in range(30)], source="old.csv")
    with pytest.raises(CalbioInputError) as info:
        map_pairs(pairs, emb)
    msg = str(info.value)
    assert "too few pairs: 0 pairs map" in msg and "\n" not in msg
    assert "1 identifier matches no entity ('C7orf26'" in msg and "--id-tables" in msg
    assert len(map_pairs(pairs, emb, id_tables=tables_dir)) == 30  # the tables resolve it


def test_id_ambiguous_by_case_in_pairs_is_warned(caplog):
    emb = _emb(["ABC", "abc"] + [f"G{i}" for i in range(40)])
    rows = [(f"G{i}", f"G{i + 1}") for i in range(39)] + [("Abc", "G1")]
    with caplog.at_level(logging.WARNING, logger="calbio"):
        mp = map_pairs(pairs_from_list(rows, source="p.csv"), emb)
    assert mp.stats["n_case_ambiguous_ids"] == 1
    assert "'Abc' is ambiguous by case: it matches 'ABC' and 'abc'" in caplog.text


def test_query_ambiguous_by_case_names_both(tmp_path):
    from calbio.api import resolve_entity
    from calbio.models.registry import resolve_model

    names = ["ABC", "abc"] + [f"G{i}" for i in range(40)]
    emb = _emb(names)
    rows = [(f"G{i}", f"G{i + 1}") for i in range(39)] + [("ABC", "G1"), ("abc", "G2")]
    model = resolve_model("cosine").fit(emb, pairs_from_list(rows))
    for call in (lambda: model.query("Abc"), lambda: resolve_entity(model, "Abc")):
        with pytest.raises(CalbioInputError) as info:
            call()
        msg = str(info.value)
        assert "ambiguous by case" in msg and "'ABC'" in msg and "'abc'" in msg
    assert resolve_entity(model, "ABC") == 0  # exact spelling still works


def test_counter_ids_are_not_called_hgnc_symbols(monkeypatch):
    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    ids = [f"SYN{i:04d}" for i in range(1, 200)]
    assert namespace_label(ids, "symbol") != "HGNC symbol"
    emb = _emb(ids)
    mp = map_pairs(pairs_from_list([(ids[i], ids[i + 1]) for i in range(150)]), emb)
    assert "HGNC symbol" not in mp.stats["namespaces"]
    assert namespace_label(["TP53", "MYC", "EGFR", "C1orf112"], "symbol") == SYMBOL_LIKE


def test_symbols_are_confirmed_by_gene_info(shared_data):
    folder = shared_data / "identifiers"
    if not (folder / "Homo_sapiens.gene_info.gz").is_file():
        pytest.skip(f"no gene_info in {folder} (set CALBIO_DATA to the shared data folder)")
    tables = IdentifierTables.from_dir(folder)
    assert namespace_label(["TP53", "MYC", "EGFR", "KRAS"], "symbol", tables) == "HGNC symbol"
    syn = [f"SYN{i:04d}" for i in range(1, 50)]
    assert namespace_label(syn, "symbol", tables) == NOT_SYMBOLS
    emb = _emb(syn)
    mp = map_pairs(
        pairs_from_list([(syn[i], syn[i + 1]) for i in range(40)]), emb, id_tables=tables
    )
    assert mp.stats["namespaces"].startswith(f"pairs: {NOT_SYMBOLS} (40 rows)")


def test_evaluate_lists_every_output_it_wrote(tmp_path, cli):
    import pandas as pd

    from calbio.data.synthetic import make_synthetic

    syn = make_synthetic(n_entities=80, dim=8, n_pairs=300, seed=4)
    syn.embeddings.to_frame().to_csv(tmp_path / "emb.csv")
    pd.DataFrame({"gene1": syn.pairs.a, "gene2": syn.pairs.b}).to_csv(
        tmp_path / "p.csv", index=False
    )
    out = tmp_path / "res"
    argv = ["evaluate", tmp_path / "emb.csv", tmp_path / "p.csv", "--out", out]
    argv += ["--model", "cosine", "--model", "adamic_adar", "--n-boot", "5"]
    code, stdout, err = cli(argv)
    assert code == 0, err
    line = next(x for x in stdout.splitlines() if x.startswith("wrote "))
    written = [p.name + ("/" if p.is_dir() else "") for p in out.iterdir() if p.name != "models"]
    written += (
        [f"models/{p.name}/" for p in (out / "models").iterdir()]
        if (out / "models").is_dir()
        else []
    )
    assert len(written) >= 3  # metrics.json, test_scores.csv.gz, model/ at least
    for name in written:
        assert name in line, (name, line)
