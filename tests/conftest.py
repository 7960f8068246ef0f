"""Shared fixtures: small synthetic worlds and the location of the real shared data."""

from __future__ import annotations

import gzip
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch

from calbio.data.synthetic import make_synthetic

# Unit-test models are tiny: one intra-op thread is fastest, and it keeps the suite from
# stalling on OpenMP barriers when the machine is busy.
torch.set_num_threads(1)

# Real data: $CALBIO_DATA when set (data outside the development layout), else ../shared/data.
DEV_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHARED = (
    Path(os.environ["CALBIO_DATA"]).expanduser() if os.environ.get("CALBIO_DATA") else DEV_SHARED
)

# Training options that keep unit tests fast; the paper recipe itself is tested structurally.
TINY = {"hidden": 32, "epochs": 3, "batch_size": 128}


@pytest.fixture(scope="session")
def tiny() -> dict:
    """Training options that keep unit tests fast."""
    return dict(TINY)


@pytest.fixture(scope="session")
def synthetic():
    """A small synthetic world (300 entities, 1,500 pairs)."""
    return make_synthetic(n_entities=300, dim=16, n_pairs=1500, seed=0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to the real data ($CALBIO_DATA, else ../shared/data); skip the test when absent.

    Every real-data test reaches the data through this fixture (or ``shared_file``), never
    through a path of its own, so setting CALBIO_DATA runs all of them.
    """
    if not (SHARED / "embeddings" / "depmap_crispr_gene_effect_pca50.csv").is_file():
        pytest.skip(f"real data not found at {SHARED} (set CALBIO_DATA to its folder)")
    return SHARED


@pytest.fixture(scope="session")
def shared_file(shared_data: Path) -> Callable[..., Path]:
    """``shared_file("associations", "x.csv")``: that real-data file, or skip naming CALBIO_DATA."""

    def get(*parts: str) -> Path:
        path = shared_data.joinpath(*parts)
        if not path.exists():
            pytest.skip(
                f"{'/'.join(parts)} not found in the real data at {shared_data} "
                "(set CALBIO_DATA to a folder that holds it)"
            )
        return path

    return get


@pytest.fixture()
def data_dir(tmp_path, synthetic) -> Path:
    """A data folder (embeddings/emb.csv, associations/pairs.csv) for ${CALBIO_DATA} paths."""
    d = tmp_path / "somewhere" / "data"
    (d / "embeddings").mkdir(parents=True)
    (d / "associations").mkdir()
    synthetic.embeddings.to_frame().to_csv(d / "embeddings" / "emb.csv")
    pd.DataFrame({"a": synthetic.pairs.a, "b": synthetic.pairs.b}).to_csv(
        d / "associations" / "pairs.csv", index=False
    )
    return d


@pytest.fixture()
def cli(capsys) -> Callable[[list], tuple[int, str, str]]:
    """Call the console entry point in-process: ``cli(argv) -> (exit code, stdout, stderr)``."""
    from calbio.cli.main import main

    def run(argv: list) -> tuple[int, str, str]:
        old = sys.argv
        sys.argv = ["calbio", *map(str, argv)]
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = old
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


# ---------------------------------------------------------------- inputs shared by test modules
# Module-scoped: each module that asks gets its own copy (tests may write beside them).
CLI_TRAIN = ["--epochs", "2", "--hidden", "16", "--batch-size", "64"]


@pytest.fixture(scope="module")
def cli_inputs(tmp_path_factory, synthetic) -> Path:
    """Embeddings, training pairs (first 1,200), validation pairs (last 300) and a GMT file."""
    import pandas as pd

    d = tmp_path_factory.mktemp("cli_inputs")
    synthetic.embeddings.to_frame().to_csv(d / "emb.csv")
    pairs = pd.DataFrame({"gene1": synthetic.pairs.a, "gene2": synthetic.pairs.b})
    pairs.iloc[:1200].to_csv(d / "pairs.csv", index=False)
    pairs.iloc[1200:].to_csv(d / "validation.csv", index=False)
    names = list(synthetic.embeddings.names)
    lines = [
        f"SET{k}\tdesc {k}\t" + "\t".join(names[k * 10 : k * 10 + 10])
        for k in range(len(names) // 10)
    ]
    (d / "sets.gmt").write_text("\n".join(lines) + "\n")
    return d


@pytest.fixture(scope="module")
def cli_model_dir(cli_inputs, tmp_path_factory) -> Path:
    """A CAL model fitted by the CLI (``calbio fit``) on ``cli_inputs``' training pairs."""
    from calbio.cli.main import main

    out = tmp_path_factory.mktemp("cli_model") / "model"
    argv = ["fit", cli_inputs / "emb.csv", cli_inputs / "pairs.csv", "--out", out, *CLI_TRAIN]
    old = sys.argv
    sys.argv = ["calbio", *map(str, argv)]
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, exc.code
    finally:
        sys.argv = old
    return out


@pytest.fixture(scope="module")
def inputs_with_unmapped(tmp_path_factory, synthetic) -> Path:
    """The synthetic table and all its pairs, plus one pair whose partner is not in the table."""
    import pandas as pd

    d = tmp_path_factory.mktemp("inputs_with_unmapped")
    synthetic.embeddings.to_frame().to_csv(d / "emb.csv")
    pairs = pd.DataFrame({"gene1": synthetic.pairs.a, "gene2": synthetic.pairs.b})
    extra = pd.DataFrame({"gene1": ["SYN0001"], "gene2": ["POLR2A"]})
    pd.concat([pairs, extra]).to_csv(d / "pairs.csv", index=False)
    return d


@pytest.fixture(scope="module")
def saved_cal(inputs_with_unmapped, tmp_path_factory, tiny) -> tuple:
    """(CAL loaded back, its directory): fitted in the API on ``inputs_with_unmapped``."""
    import calbio

    out = tmp_path_factory.mktemp("saved_cal") / "m"
    emb = calbio.load_embeddings(inputs_with_unmapped / "emb.csv")
    prs = calbio.load_pairs(inputs_with_unmapped / "pairs.csv")
    m = calbio.CAL("fast", random_state=0, **tiny).fit(emb, prs)
    m.sources_["pairs"] = {"path": str(inputs_with_unmapped / "pairs.csv"), "sha256": prs.sha256}
    m.save(out)
    return calbio.CAL.load(out), out


@pytest.fixture(scope="module")
def files(tmp_path_factory, synthetic) -> Path:
    """``emb.csv`` and ``pairs.csv`` (every pair) of the synthetic world; a module that needs
    other files defines its own ``files`` (it overrides this one)."""
    import pandas as pd

    d = tmp_path_factory.mktemp("inputs")
    synthetic.embeddings.to_frame().to_csv(d / "emb.csv")
    pd.DataFrame({"gene1": synthetic.pairs.a, "gene2": synthetic.pairs.b}).to_csv(
        d / "pairs.csv", index=False
    )
    return d


# An experiment file over ${CALBIO_DATA}/embeddings/emb.csv and .../associations/pairs.csv, one
# doctor step (the experiment tests of the runner and of the CLI write it, or a broken copy).
EXPERIMENT_TOML = """name = "t"
[data]
embeddings = "${CALBIO_DATA}/embeddings/emb.csv"
pairs = "${CALBIO_DATA:-fallback}/associations/pairs.csv"
[training]
preset = "fast"
epochs = 1
hidden = 8
batch_size = 64
[[steps]]
kind = "doctor"
"""


@pytest.fixture
def experiment_toml() -> str:
    """:data:`EXPERIMENT_TOML`."""
    return EXPERIMENT_TOML


# ---------------------------------------------------------------- identifier tables
# NCBI Homo_sapiens.gene_info + gene2uniprot layout (`calbio fetch gene-info`), eight genes:
# C7orf26 is the old symbol of INTS15, MARCH1 of MARCHF1, SEPT7 of SEPTIN7; SHARED1 names two.
GENE_INFO_HEADER = (
    "#tax_id\tGeneID\tSymbol\tLocusTag\tSynonyms\tdbXrefs\tchromosome\tmap_location\t"
    "description\ttype_of_gene\n"
)
# GeneID, Symbol, Synonyms, dbXrefs
GENE_INFO_ROWS = [
    (1, "A1BG", "A1B|ABG", "MIM:138670|Ensembl:ENSG00000121410"),
    (7157, "TP53", "P53|LFS1", "MIM:191170|Ensembl:ENSG00000141510"),
    (79034, "INTS15", "C7orf26", "Ensembl:ENSG00000146576"),
    (55016, "MARCHF1", "MARCH1|RNF171", "Ensembl:ENSG00000145416"),
    (989, "SEPTIN7", "SEPT7|CDC10", "Ensembl:ENSG00000122545"),
    (100, "GENEA", "SHARED1|OLDB", "Ensembl:ENSG00000000100"),  # OLDB: current symbol of 101
    (101, "OLDB", "-", "-"),
    (102, "GENEC", "SHARED1", "Ensembl:ENSG00000000102"),  # SHARED1 names two genes
]
GENE2UNIPROT_ROWS = [(7157, "P04637"), (7157, "K7PPA8"), (79034, "Q96N11"), (1, "P04217")]


@pytest.fixture
def tables_dir(tmp_path) -> Path:
    """A folder in the NCBI gene_info + gene2uniprot layout with eight genes."""
    d = tmp_path / "ids"
    d.mkdir()
    rows = "".join(
        f"9606\t{g}\t{s}\t-\t{syn}\t{x}\t1\t-\t-\tprotein-coding\n"
        for g, s, syn, x in GENE_INFO_ROWS
    )
    with gzip.open(d / "Homo_sapiens.gene_info.gz", "wt") as fh:
        fh.write(GENE_INFO_HEADER + rows)
    with gzip.open(d / "gene2uniprot_human.tsv.gz", "wt") as fh:
        fh.write("GeneID\tUniProtKB_AC\n" + "".join(f"{g}\t{a}\n" for g, a in GENE2UNIPROT_ROWS))
    return d
