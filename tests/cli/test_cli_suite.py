"""CLI: doctor --json, ablate, sweep threshold/lambda/cb, degree, run."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from _helpers import one_line_error
from calbio.cli.main import app
from calbio.core.errors import CalbioInputError
from calbio.data.synthetic import make_synthetic

TINY = ["--epochs", "2", "--hidden", "16", "--threads", "1"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_suite")
    syn = make_synthetic(n_entities=150, dim=12, n_pairs=600, seed=6)
    syn.embeddings.to_frame().to_csv(folder / "emb.csv")
    pd.DataFrame(
        {
            "a": syn.pairs.a,
            "b": syn.pairs.b,
            "combined_score": [400 + (i * 53) % 600 for i in range(len(syn.pairs))],
        }
    ).to_csv(folder / "pairs.csv", index=False)
    return folder


def test_doctor_json_is_only_json(files):
    res = CliRunner().invoke(
        app,
        [
            "doctor",
            str(files / "emb.csv"),
            str(files / "pairs.csv"),
            "--json",
            "--quick-epochs",
            "1",
            "--quick-hidden",
            "16",
            "--threads",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert {c["check"] for c in report["checks"]} == {
        "independence",
        "positive_cosine",
        "ratio",
        "degree_shortcut",
        "evidence",
        "no_latent_signal",
        "shuffled",
    }


def test_doctor_text(files):
    res = CliRunner().invoke(
        app, ["doctor", str(files / "emb.csv"), str(files / "pairs.csv"), "--no-train"]
    )
    assert res.exit_code == 0, res.output
    assert "overall:" in res.stdout and "Positive-pair cosine histogram" in res.stdout


def test_ablate_sweeps_degree(files, tmp_path):
    r = CliRunner()
    emb, prs = str(files / "emb.csv"), str(files / "pairs.csv")
    out = tmp_path / "abl"
    res = r.invoke(
        app, ["ablate", emb, prs, "--out", str(out), "--conditions", "full,shuffled"] + TINY
    )
    assert res.exit_code == 0, res.output
    data = json.loads((out / "ablation.json").read_text())
    assert set(data["conditions"]) == {"full", "shuffled"}
    assert "transductive (paper)" in (out / "ablation.md").read_text()
    again = r.invoke(app, ["ablate", emb, prs, "--out", str(out)] + TINY)
    assert again.exit_code != 0  # refuses to overwrite without --force

    res = r.invoke(
        app,
        ["sweep", "threshold", emb, prs, "--values", "400,700", "--channel", "combined_score=900"]
        + TINY,
    )
    assert res.exit_code == 0, res.output
    assert "paper Table 1" in res.stdout and "Tables 2-3" in res.stdout

    lam = tmp_path / "lam.json"
    res = r.invoke(
        app,
        ["sweep", "lambda", emb, prs, "--lambdas", "0,1", "--seeds", "1,2", "--out", str(lam)]
        + TINY,
    )
    assert res.exit_code == 0, res.output
    assert len(json.loads(lam.read_text())["chosen"]) == 2

    run = tmp_path / "eval"
    res = r.invoke(app, ["evaluate", emb, prs, "--out", str(run), "--n-boot", "5"] + TINY)
    assert res.exit_code == 0, res.output
    res = r.invoke(app, ["sweep", "cb", str(run)])
    assert res.exit_code == 0 and "paper Table 13" in res.stdout
    res = r.invoke(app, ["degree", str(run), "--top", "3"])
    assert res.exit_code == 0 and "Spearman" in res.stdout
    res = r.invoke(app, ["degree", str(run / "model"), "--pairs", prs])
    assert res.exit_code == 0, res.output
    # --pairs / --id-tables with a run directory would be ignored: refused (an input error: one
    # line, exit 2 through the console entry point) instead
    res = r.invoke(app, ["degree", str(run), "--pairs", prs])
    assert isinstance(res.exception, CalbioInputError)
    assert "--pairs: for a model directory" in str(res.exception)
    res = r.invoke(app, ["degree", str(run), "--id-tables", str(tmp_path)])
    assert isinstance(res.exception, CalbioInputError)
    assert "--id-tables: for a model directory" in str(res.exception)


# Current symbols the identifier tables (conftest ``tables_dir``) know, given to four entities
SYMBOLS = {"SYN0001": "INTS15", "SYN0002": "TP53", "SYN0003": "A1BG", "SYN0004": "MARCHF1"}


@pytest.fixture(scope="module")
def symbol_model(tmp_path_factory, tiny):
    """(CAL model directory, held-out partners of INTS15): four entities named by symbols."""
    import calbio
    from calbio.data.embeddings import embeddings_from_array

    syn = make_synthetic(n_entities=150, dim=12, n_pairs=600, seed=6)
    names = [SYMBOLS.get(n, n) for n in syn.embeddings.names]
    emb = embeddings_from_array(syn.embeddings.X, names)
    a, b = (pd.Series(x).replace(SYMBOLS).to_numpy() for x in (syn.pairs.a, syn.pairs.b))
    model = calbio.CAL("fast", random_state=0, **tiny).fit(emb, pd.DataFrame({"a": a, "b": b}))
    out = tmp_path_factory.mktemp("symbol_model") / "m"
    model.save(out)
    known = set(a[b == "INTS15"]) | set(b[a == "INTS15"])
    partners = [n for n in names if n not in known and n != "INTS15"][:25]
    return out, partners


def test_degree_model_pairs_resolve_old_symbols_with_id_tables(
    symbol_model, tables_dir, tmp_path, cli, monkeypatch
):
    """C7orf26 (INTS15's old symbol) scores as INTS15 with --id-tables, and is unknown without."""
    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    model, partners = symbol_model
    results = {}
    for symbol in ("INTS15", "C7orf26"):
        prs = tmp_path / f"{symbol}.csv"
        pd.DataFrame({"a": symbol, "b": partners}).to_csv(prs, index=False)
        out = tmp_path / f"{symbol}.json"
        tables = ["--id-tables", tables_dir]
        code, _, err = cli(["degree", model, "--pairs", prs, *tables, "--out", out])
        assert code == 0, err
        results[symbol] = json.loads(out.read_text())
    assert results["C7orf26"] == results["INTS15"]
    assert results["INTS15"]["tables"][0]["rows"]  # the pairs were scored, not dropped

    code, _, err = cli(["degree", model, "--pairs", tmp_path / "C7orf26.csv"])
    one_line_error(code, err, "identifier matches no entity ('C7orf26'", "--id-tables")


def test_run_command_and_bad_input_exit_code(files, tmp_path):
    exp = tmp_path / "e.toml"
    exp.write_text(
        f'[data]\nembeddings = "{files / "emb.csv"}"\npairs = "{files / "pairs.csv"}"\n'
        '[[steps]]\nkind = "doctor"\ntrain_check = false\n'
    )
    res = CliRunner().invoke(app, ["run", str(exp), "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "summary.md").is_file()
    bad = tmp_path / "bad.toml"
    bad.write_text('[data]\nembeddings = "x"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "calbio.cli.main", "run", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "needs 'pairs'" in proc.stderr and proc.stdout == ""


def test_bad_data_path_cli_exit_2(data_dir, tmp_path, monkeypatch, cli, experiment_toml):
    exp_file = tmp_path / "e.toml"
    exp_file.write_text(experiment_toml.replace("pairs.csv", "nope.csv"))
    monkeypatch.setenv("CALBIO_DATA", str(data_dir))
    code, _, err = cli(["run", exp_file, "--out", tmp_path / "run"])
    assert code == 2 and "nope.csv" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_run_data_option_sets_calbio_data(data_dir, tmp_path, monkeypatch, cli, experiment_toml):
    monkeypatch.delenv("CALBIO_DATA", raising=False)
    exp_file = tmp_path / "e.toml"
    exp_file.write_text(experiment_toml.replace("emb.csv", "missing.csv"))
    code, _, err = cli(["run", exp_file, "--out", tmp_path / "run", "--data", data_dir])
    # the variable resolved (the error names the data folder), and nothing was written
    assert code == 2 and str(data_dir / "embeddings" / "missing.csv") in err
    assert not (tmp_path / "run").exists()
    code, _, err = cli(["run", exp_file, "--data", tmp_path / "nowhere"])
    assert code == 2 and "not a directory" in err


def test_score_with_id_tables_does_not_call_converted_ids_unknown(
    symbol_model, tables_dir, tmp_path, cli, monkeypatch
):
    """An old symbol that --id-tables converts is scored, so it is not listed as unknown."""
    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    model, partners = symbol_model
    prs = tmp_path / "old.csv"
    pd.DataFrame({"a": "C7orf26", "b": [*partners[:5], "NOPE"]}).to_csv(prs, index=False)
    out = tmp_path / "scores.csv"
    code, _, err = cli(["score", model, prs, "--id-tables", tables_dir, "--out", out])
    assert code == 0, err
    t = pd.read_csv(out, keep_default_na=False)
    assert list(t["a"][:5]) == ["INTS15"] * 5 and (t["status"][:5] == "scored").all()
    assert (tmp_path / "scores.csv.unknown.txt").read_text() == "NOPE\n"
    assert "1 identifier(s) unknown" in err
