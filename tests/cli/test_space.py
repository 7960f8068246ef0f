"""`calbio clusters` reads any saved model: CAL's space, a hybrid's own CAL, or one clear line."""

from __future__ import annotations

import pandas as pd
import pytest

from calbio.data.synthetic import make_synthetic


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("space")
    world = make_synthetic(n_entities=120, dim=8, n_pairs=500, seed=3)
    world.embeddings.to_frame().to_csv(d / "emb.csv")
    pd.DataFrame({"gene1": world.pairs.a, "gene2": world.pairs.b}).to_csv(
        d / "pairs.csv", index=False
    )
    return d


@pytest.mark.parametrize("model", ["hybrid", "adamic_adar"])
def test_clusters_use_a_hybrids_cal_and_refuse_a_model_without_a_space(cli, files, model):
    mdir = files / f"model_{model}"
    fit = ["fit", files / "emb.csv", files / "pairs.csv", "--out", mdir, "--model", model]
    code, _, err = cli([*fit, "--epochs", "2", "--hidden", "16"] if model == "hybrid" else fit)
    assert code == 0, err
    out = files / f"clusters_{model}"
    code, _, err = cli(["clusters", mdir, "--out", out, "--min-cluster-size", "3"])
    if model == "hybrid":
        assert code == 0, err
        assert (out / "clusters.csv").is_file()
    else:
        assert code == 2 and "Traceback" not in err
        assert "association space" in err and "adamic_adar" in err
        assert not out.exists()
