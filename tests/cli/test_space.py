"""cli.space (clusters, report): the documented gene-set and validation examples run, any saved
model is read (a hybrid's own CAL), --force refuses foreign files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from _helpers import _foreign_dir
from calbio.data.synthetic import make_synthetic

TRAIN = ["--epochs", "2", "--hidden", "16", "--batch-size", "64"]


def test_clusters_with_genesets_and_validation_runs(
    cli_inputs, cli_model_dir, tmp_path, cli
) -> None:
    """docs/association-space.md: clusters MODEL --genesets G --validate-with P (crashed)."""
    out = tmp_path / "clusters"
    code, stdout, err = cli(
        ["clusters", cli_model_dir, "--out", out, "--genesets", cli_inputs / "sets.gmt",
         "--validate-with", cli_inputs / "validation.csv", "--reps", "2"]
    )  # fmt: skip
    assert code == 0, err
    assert "Traceback" not in err
    val = json.loads((out / "validation.json").read_text())
    assert set(val["validation"]) == {"association", "embedding"}
    assert val["validation"]["association"]["n_mapped"] == 300
    assert "edges inside association clusters" in stdout
    assert (out / "table9.csv").is_file()


def test_report_with_genesets_and_validation_runs(cli_inputs, cli_model_dir, tmp_path, cli) -> None:
    """docs/association-space.md: report RUN --genesets G --validate-with P (crashed)."""
    run = tmp_path / "run"
    code, _, err = cli(
        ["evaluate", cli_inputs / "emb.csv", cli_inputs / "pairs.csv", "--out", run, *TRAIN,
         "--validate-with", cli_inputs / "validation.csv"]
    )  # fmt: skip
    assert code == 0, err
    html = tmp_path / "report.html"
    code, _, err = cli(
        ["report", run, "--out", html, "--genesets", cli_inputs / "sets.gmt",
         "--validate-with", cli_inputs / "validation.csv", "--reps", "2"]
    )  # fmt: skip
    assert code == 0, err
    assert "Traceback" not in err
    assert html.stat().st_size > 0


@pytest.mark.realdata
def test_clusters_with_genesets_and_validation_real_data(shared_data, tmp_path, cli) -> None:
    """The documented clusters example on DepMap x STRING with GO BP and Reactome, short fit."""
    emb = shared_data / "embeddings" / "depmap_crispr_gene_effect_pca50.csv"
    pairs = shared_data / "associations" / "string_ge950_pairs.csv"
    model = tmp_path / "model"
    code, _, err = cli(
        ["fit", emb, pairs, "--out", model, "--epochs", "1", "--hidden", "32",
         "--batch-size", "512"]
    )  # fmt: skip
    assert code == 0, err
    out = tmp_path / "clusters"
    code, _, err = cli(
        ["clusters", model, "--out", out,
         "--genesets", shared_data / "genesets" / "GO_BP_propagated_5_500.gmt",
         "--validate-with", shared_data / "associations" / "reactome_pairs.csv", "--reps", "2"]
    )  # fmt: skip
    assert code == 0, err
    val = json.loads((out / "validation.json").read_text())
    assert val["reactome_pairs"]["association"]["n_mapped"] > 1000


def test_force_refuses_a_directory_with_a_foreign_file_clusters(
    cli_inputs, cli_model_dir, tmp_path, cli
):
    out = _foreign_dir(tmp_path, "clusters")
    code, _, err = cli(["clusters", cli_model_dir, "--out", out, "--force"])
    assert code == 2 and "notes.txt" in err
    assert (out / "notes.txt").is_file()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("space")
    world = make_synthetic(n_entities=120, dim=8, n_pairs=500, seed=3)
    world.embeddings.to_frame().to_csv(d / "emb.csv")
    pd.DataFrame({"gene1": world.pairs.a, "gene2": world.pairs.b}).to_csv(
        d / "pairs.csv", index=False
    )
    return d


@pytest.mark.parametrize("model", ["hybrid", "adamic_adar"])
def test_clusters_use_a_hybrids_cal_and_refuse_a_model_without_a_space(cli, world, model):
    mdir = world / f"model_{model}"
    fit = [
        "fit",
        world / "emb.csv",
        world / "pairs.csv",
        "--out",
        mdir,
        "--model",
        model,
    ]
    code, _, err = cli([*fit, "--epochs", "2", "--hidden", "16"] if model == "hybrid" else fit)
    assert code == 0, err
    out = world / f"clusters_{model}"
    code, _, err = cli(["clusters", mdir, "--out", out, "--min-cluster-size", "3"])
    if model == "hybrid":
        assert code == 0, err
        assert (out / "clusters.csv").is_file()
    else:
        assert code == 2 and "Traceback" not in err
        assert "association space" in err and "adamic_adar" in err
        assert not out.exists()
