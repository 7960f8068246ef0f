"""The CLI contract: outputs, --force, and one-line errors with exit code 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

TRAIN = ["--epochs", "2", "--hidden", "16", "--batch-size", "64"]


def test_fit_query_score(files, tmp_path, cli) -> None:
    model = tmp_path / "model"
    code, out, err = cli(["fit", files / "emb.csv", files / "pairs.csv", "--out", model, *TRAIN])
    assert code == 0, err
    assert (model / "config.json").is_file() and "wrote" in out
    gene = pd.read_csv(files / "pairs.csv")["gene1"][0]
    code, out, err = cli(["query", model, gene, "--top", "5", "--out", tmp_path / "q.csv"])
    assert code == 0, err
    q = pd.read_csv(tmp_path / "q.csv")
    assert len(q) == 5 and list(q.columns) == [
        "rank",
        "partner",
        "association",
        "cosine",
        "training_pair",
    ]
    # the same partners, scores and flags as the model's own top-k query
    from calbio.models.persistence import load_model

    ref = load_model(model).query(gene, top=5)
    assert list(q["partner"]) == list(ref["partner"])
    np.testing.assert_allclose(q["association"], ref["association"], rtol=1e-6)
    assert list(q["training_pair"]) == list(ref["training_pair"])
    code, out, err = cli(["score", model, files / "pairs.csv"])
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("input_a,input_b,a,b,status,duplicate_of_row,association,cosine,")
    assert len(lines) == 1501
    # refusing to overwrite without --force, then overwriting with it
    code, _, err = cli(["fit", files / "emb.csv", files / "pairs.csv", "--out", model, *TRAIN])
    assert code == 2 and "--force" in err
    code, _, err = cli(
        ["fit", files / "emb.csv", files / "pairs.csv", "--out", model, *TRAIN, "--force"]
    )
    assert code == 0, err


def test_evaluate_writes_metrics(files, tmp_path, cli) -> None:
    out_dir = tmp_path / "ev"
    code, out, err = cli(
        [
            "evaluate",
            files / "emb.csv",
            files / "pairs.csv",
            "--out",
            out_dir,
            "--protocol",
            "node",
            "--n-boot",
            "20",
            *TRAIN,
        ]
    )
    assert code == 0, err
    m = json.loads((out_dir / "metrics.json").read_text())
    assert m["protocol"] == "node" and "cal" in m["methods"]
    assert "Held-out metrics (node)" in out


def _bad_inputs(d: Path) -> dict[str, Path]:
    names = [f"G{i}" for i in range(6)]
    good = pd.DataFrame(np.eye(6, 4) + 0.1, index=names)
    cases = {}
    nan = good.copy()
    nan.iloc[2, 1] = np.nan
    nan.to_csv(cases.setdefault("NaN", d / "nan.csv"))
    inf = good.copy()
    inf.iloc[1, 1] = np.inf
    inf.to_csv(cases.setdefault("inf", d / "inf.csv"))
    dup = good.copy()
    dup.index = ["G0", "G0", "G2", "G3", "G4", "G5"]
    dup.to_csv(cases.setdefault("duplicate", d / "dup.csv"))
    zero = good.copy()
    zero.iloc[3] = 0.0
    zero.to_csv(cases.setdefault("zero", d / "zero.csv"))
    text = good.copy()
    text[9] = "abc"
    text.to_csv(cases.setdefault("numeric", d / "text.csv"))
    (d / "empty.csv").write_text("")
    cases["empty"] = d / "empty.csv"
    cases["not found"] = d / "missing.csv"
    (d / "bad.h5ad").write_bytes(b"this is not an h5ad file")
    cases["h5ad"] = d / "bad.h5ad"
    return cases


@pytest.mark.parametrize(
    "case", ["NaN", "inf", "duplicate", "zero", "numeric", "empty", "not found", "h5ad"]
)
def test_bad_embeddings_one_line_exit_2(case, tmp_path, cli) -> None:
    cases = _bad_inputs(tmp_path)
    pairs = tmp_path / "p.csv"
    pd.DataFrame({"a": ["G0", "G1", "G2"], "b": ["G1", "G2", "G3"]}).to_csv(pairs, index=False)
    out_dir = tmp_path / "out"
    code, out, err = cli(["fit", cases[case], pairs, "--out", out_dir, *TRAIN])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(cases[case].name) in lines[0] and "Traceback" not in err
    assert case.split()[0].lower() in lines[0].lower() or case == "numeric"
    assert not out_dir.exists()  # nothing partial written


def test_pairs_that_do_not_map(tmp_path, files, cli) -> None:
    bad = tmp_path / "other.csv"
    pd.DataFrame({"a": ["X1", "X2", "SYN0001"], "b": ["X3", "X4", "SYN0002"]}).to_csv(
        bad, index=False
    )
    out_dir = tmp_path / "m"
    code, _, err = cli(["fit", files / "emb.csv", bad, "--out", out_dir, *TRAIN])
    assert code == 2 and "other.csv" in err and "map" in err and len(err.strip().splitlines()) == 1
    assert not out_dir.exists()


def test_bad_option_values(files, tmp_path, cli) -> None:
    code, _, err = cli(
        [
            "evaluate",
            files / "emb.csv",
            files / "pairs.csv",
            "--out",
            tmp_path / "x",
            "--protocol",
            "random",
        ]
    )
    assert code == 2 and "protocol" in err
    code, _, err = cli(
        [
            "fit",
            files / "emb.csv",
            files / "pairs.csv",
            "--out",
            tmp_path / "y",
            "--negatives",
            "sideways",
        ]
    )
    assert code == 2 and "negatives" in err
    code, _, err = cli(
        [
            "fit",
            files / "emb.csv",
            files / "pairs.csv",
            "--out",
            tmp_path / "y",
            "--min-score",
            "combined_score",
        ]
    )
    assert code == 2


def test_dedupe_option_fixes_duplicates(tmp_path, cli) -> None:
    names = ["G0", "G0"] + [f"G{i}" for i in range(1, 40)]
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(len(names), 6)), index=names).to_csv(tmp_path / "e.csv")
    pairs = tmp_path / "p.csv"
    pd.DataFrame({"a": [f"G{i}" for i in range(39)], "b": [f"G{i + 1}" for i in range(39)]}).to_csv(
        pairs, index=False
    )
    code, _, err = cli(
        ["fit", tmp_path / "e.csv", pairs, "--out", tmp_path / "m", "--dedupe", "mean", *TRAIN]
    )
    assert code == 0, err


def test_model_option_is_repeatable_and_keys_methods_by_name(files, tmp_path, cli) -> None:
    out = tmp_path / "multi"
    code, _, err = cli(
        [
            "evaluate", files / "emb.csv", files / "pairs.csv", "--out", out,
            "--model", "cal", "--model", "resource_allocation", "--n-boot", "10", *TRAIN,
        ]
    )  # fmt: skip
    assert code == 0, err
    m = json.loads((out / "metrics.json").read_text())
    assert m["models"] == ["cal", "resource_allocation"]
    assert set(m["methods"]) == {"cal", "resource_allocation", "cosine", "degree", "adamic_adar"}
    assert (out / "model" / "config.json").is_file()
    assert (out / "models" / "resource_allocation" / "config.json").is_file()


def test_shortcuts_alone_and_unknown_model(files, tmp_path, cli) -> None:
    out = tmp_path / "none"
    args = ["evaluate", files / "emb.csv", files / "pairs.csv", "--n-boot", "10"]
    code, _, err = cli([*args, "--out", out, "--model", "none"])
    assert code == 0, err
    assert set(json.loads((out / "metrics.json").read_text())["methods"]) == {
        "cosine",
        "degree",
        "adamic_adar",
    }
    code, _, err = cli([*args, "--out", tmp_path / "x", "--model", "nonsense"])
    assert code == 2 and "not a known model" in err and not (tmp_path / "x").exists()


def test_fit_a_graph_model_and_query_it(files, tmp_path, cli) -> None:
    model = tmp_path / "aa"
    code, _, err = cli(
        ["fit", files / "emb.csv", files / "pairs.csv", "--out", model, "--model", "adamic_adar"]
    )
    assert code == 0, err
    gene = pd.read_csv(files / "pairs.csv")["gene1"][0]
    code, out, err = cli(["query", model, gene, "--top", "3"])
    assert code == 0, err and "association partners" in out


def test_training_options_no_model_takes_are_errors(files, tmp_path, cli) -> None:
    args = ["evaluate", files / "emb.csv", files / "pairs.csv", "--n-boot", "5"]
    code, _, err = cli([*args, "--out", tmp_path / "x", "--model", "adamic_adar", "--lr", "0.01"])
    assert code == 2 and "--lr does not apply to adamic_adar" in err
    assert not (tmp_path / "x").exists()
    # applied where it applies: CAL takes --epochs, the heuristic does not need it
    out = tmp_path / "ok"
    code, _, err = cli([*args, "--out", out, "--model", "cal", "--model", "adamic_adar", *TRAIN])
    assert code == 0, err


def test_rank_sample_ranks_a_seeded_sample(files, tmp_path, cli) -> None:
    args = ["evaluate", files / "emb.csv", files / "pairs.csv", "--n-boot", "5", *TRAIN]
    code, _, err = cli([*args, "--out", tmp_path / "a", "--rank-sample", "50"])
    assert code == 0, err
    m = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert m["methods"]["cal"]["n_queries"] == 50 and m["config"]["rank_sample"] == 50
    assert {"split", "negatives", "fit:cal", "rank:cal", "bootstrap"} <= set(m["timings"])
    code, _, err = cli([*args, "--out", tmp_path / "b", "--rank-sample", "0"])
    assert code == 2 and "rank-sample" in err and not (tmp_path / "b").exists()
