"""Identifier harmonisation on the shared tables: DepMap x STRING in Entrez, Ensembl, UniProt."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import calbio
from calbio.data.embeddings import Embeddings
from calbio.data.identifiers import IdentifierTables, IdResolver, find_excel_mangled
from calbio.data.matching import map_pairs
from calbio.data.types import Pairs

pytestmark = pytest.mark.realdata

EMB = "embeddings/depmap_crispr_gene_effect_pca50.csv"
STRING = "associations/string_ge950_pairs.csv"
REACTOME = "associations/reactome_pairs.csv"


@pytest.fixture(scope="module")
def real(shared_data):
    tables = IdentifierTables.from_dir(shared_data / "identifiers")
    emb = calbio.load_embeddings(shared_data / EMB)
    pairs = calbio.load_pairs(shared_data / STRING)
    return tables, emb, pairs


def _convert(ids: np.ndarray, lookup: pd.Series, tables: IdentifierTables) -> np.ndarray:
    """Translate ids through GeneIDs with ``lookup`` (GeneID -> new id); '' when impossible."""
    gid, _ = tables.to_geneid(ids)
    out = pd.Series(gid).map(lookup)
    return out.fillna("").astype(str).to_numpy(dtype=object)


def _recode_pairs(pairs: Pairs, lookup: pd.Series, tables: IdentifierTables, src: str) -> Pairs:
    a, b = _convert(pairs.a, lookup, tables), _convert(pairs.b, lookup, tables)
    keep = (a != "") & (b != "")
    return Pairs(a[keep], b[keep], source=src)


def test_string_recovers_outdated_symbols(real) -> None:
    tables, emb, pairs = real
    plain = map_pairs(pairs, emb)
    mp = map_pairs(pairs, emb, id_tables=tables)
    assert len(plain) == 11_532
    st = mp.stats
    assert st["n_pairs_recovered_alias"] == 23 and len(mp) == 11_532 + 23
    assert "23 pairs recovered through previous symbols" in st["namespaces"]
    row = mp.id_mapping.set_index("id").loc["C7orf26"]
    assert (row["mapped_to"], row["how"], row["gene_id"]) == ("INTS15", "alias", 79034)
    assert st["n_ambiguous_ids"] > 0
    assert (mp.id_mapping["how"] == "ambiguous").sum() == st["n_ambiguous_ids"]
    # every recovered pair involves an id resolved through an alias, never through a symbol
    aliases = mp.id_mapping.loc[mp.id_mapping["how"] == "alias", "id"]
    assert not aliases.isin(tables.symbol.index).any()


def test_entrez_keyed_pairs_give_the_same_pairs_and_aucs(real) -> None:
    tables, emb, pairs = real
    gid_str = pd.Series(tables.gene_symbol.index.astype(str), index=tables.gene_symbol.index)
    entrez = _recode_pairs(pairs, gid_str, tables, "string_entrez.csv")
    assert len(entrez) == 57_438  # of 58,059: the rest have ids no table resolves (README)
    sym = map_pairs(pairs, emb, id_tables=tables)
    ent = map_pairs(entrez, emb, id_tables=tables)
    assert ent.stats["namespace_pairs"] == "entrez"
    assert ent.stats["namespaces"].startswith(
        f"pairs: Entrez GeneID ({len(entrez):,} rows) -> embedding: HGNC symbol; converted "
        "through NCBI gene_info"
    )
    assert np.array_equal(sym.idx, ent.idx)
    opts = {"epochs": 1, "hidden": 16, "threads": 1, "n_boot": 10, "rank": False}
    resolver = IdResolver(tables)
    r_sym = calbio.evaluate(emb, pairs, protocol="edge", id_tables=resolver, **opts)
    r_ent = calbio.evaluate(emb, entrez, protocol="edge", id_tables=resolver, **opts)
    for method in ("cal", "cosine", "degree", "adamic_adar"):
        assert r_sym.methods[method]["auc"] == r_ent.methods[method]["auc"]
    # the tables themselves do the same as a resolver
    r_arg = calbio.evaluate(emb, entrez, protocol="edge", id_tables=tables, **opts)
    assert r_arg.n_test_pairs == r_ent.n_test_pairs
    assert r_arg.methods["cal"]["auc"] == r_ent.methods["cal"]["auc"]


def test_ensembl_keyed_embedding_against_symbol_pairs(real) -> None:
    tables, emb, pairs = real
    ensg = pd.Series(tables.ensembl.index.to_numpy(), index=tables.ensembl.to_numpy())
    ensg = ensg[(ensg.index >= 0) & ~ensg.index.duplicated(keep=False)]
    names = _convert(emb.names, ensg, tables)
    keep = names != ""
    assert keep.mean() > 0.9  # genes with one Ensembl gene id in gene_info
    by_ensembl = Embeddings(names[keep], emb.X[keep], source="ensembl.csv")
    by_symbol = Embeddings(emb.names[keep], emb.X[keep], source="symbol.csv")
    mp_e = map_pairs(pairs, by_ensembl, id_tables=tables)
    mp_s = map_pairs(pairs, by_symbol, id_tables=tables)
    assert mp_e.stats["namespace_embedding"] == "ensembl_gene"
    assert mp_e.stats["n_converted_ids"] > 2000
    assert np.array_equal(mp_e.idx, mp_s.idx)


def test_uniprot_keyed_validation_file_through_cli(real, shared_data, tmp_path, cli) -> None:
    tables, emb, _ = real
    up = tables.uniprot[tables.uniprot >= 0]
    acc = pd.Series(up.index.to_numpy(), index=up.to_numpy())
    acc = acc[~acc.index.duplicated(keep="first")]  # one accession per gene
    reactome = calbio.load_pairs(shared_data / REACTOME)
    by_uniprot = _recode_pairs(reactome, acc, tables, "reactome_uniprot.csv")
    path = tmp_path / "reactome_uniprot.csv"
    pd.DataFrame({"protein1": by_uniprot.a, "protein2": by_uniprot.b}).to_csv(path, index=False)
    sym_val = map_pairs(reactome, emb, id_tables=tables)
    up_val = map_pairs(by_uniprot, emb, id_tables=tables)
    assert up_val.stats["namespace_pairs"] == "uniprot"
    assert len(up_val) > 0.95 * len(sym_val)  # 2,865 Reactome pairs inside DepMap by symbol
    out = tmp_path / "run"
    code, stdout, err = cli(
        [
            "evaluate",
            shared_data / EMB,
            shared_data / STRING,
            "--validate-with",
            path,
            "--id-tables",
            shared_data / "identifiers",
            "--epochs",
            "1",
            "--hidden",
            "16",
            "--threads",
            "1",
            "--n-boot",
            "10",
            "--out",
            out,
        ]
    )
    assert code == 0, err
    assert "reactome_uniprot.csv: pairs: UniProt accession" in err
    assert "23 pairs recovered through previous symbols" in err
    m = json.loads((out / "metrics.json").read_text())
    assert m["data"]["mapping"]["n_mapped"] == 11_555
    # the validation pairs that are not training pairs
    assert 0 < m["validation"]["reactome_uniprot"]["n_pairs"] <= len(up_val)
    ids = pd.read_csv(out / "id_mapping.tsv", sep="\t", dtype=str, keep_default_na=False)
    val = ids[ids["source"] == str(path)]
    assert (val["how"] == "converted").sum() > 0.9 * len(val[val["mapped_to"] != ""])
    assert ids.loc[ids["id"] == "C7orf26", "mapped_to"].tolist() == ["INTS15"]


def test_no_current_symbol_looks_excel_mangled(real) -> None:
    tables, _, _ = real
    assert find_excel_mangled(tables.symbol.index).empty


def test_query_and_context_pairs_resolve_outdated_symbols(shared_data, tmp_path, cli) -> None:
    """`query` and the context readers use the same identifier tables as fit/evaluate."""
    import numpy as np

    from calbio.data.context import ContextPairs, context_embeddings_from_frame, map_context_pairs
    from calbio.models.graph.heuristics import Cosine

    tables = shared_data / "identifiers"
    rng = np.random.default_rng(0)
    names = ["INTS15", "INTS6", "INTS3", "TP53", "MDM2", "CDK1"]
    emb = calbio.Embeddings(np.array(names, dtype=object), rng.normal(size=(6, 4)))
    model_dir = Cosine().fit(emb, [("INTS15", "INTS6"), ("TP53", "MDM2")]).save(tmp_path / "m")
    code, _, err = cli(["query", model_dir, "C7orf26", "--top", "2"])
    assert code == 2 and "C7orf26" in err
    code, out, err = cli(["query", model_dir, "C7orf26", "--top", "2", "--id-tables", tables])
    assert code == 0, err
    # context pairs: an outdated symbol maps through the same tables
    frame = pd.DataFrame(
        rng.normal(size=(12, 4)),
        index=pd.MultiIndex.from_product([names, ["liver", "lung"]], names=["entity", "context"]),
    ).reset_index()
    cemb = context_embeddings_from_frame(frame, entity_column="entity", context_column="context")
    prs = ContextPairs(
        np.array(["C7orf26", "TP53"], dtype=object),
        np.array(["INTS6", "MDM2"], dtype=object),
        np.array(["", ""], dtype=object),
    )
    mapped = map_context_pairs(prs, cemb, min_fraction=0.9, id_tables=IdResolver(tables))
    assert len(mapped) == 4  # two pairs, each in both contexts
