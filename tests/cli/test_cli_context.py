"""The context commands end to end through the CLI (simulate -> fit -> equivalent)."""

import json
import re

import pytest

from _helpers import one_line_error


def test_context_fit_and_equivalent(tmp_path, cli) -> None:
    world, model = tmp_path / "world", tmp_path / "model"
    code, _, err = cli(["context-simulate", "--out", world])
    assert code == 0, err
    code, out, err = cli(
        [
            "context-fit",
            world / "table.csv.gz",
            world / "pairs.csv",
            "--label-column",
            "label",
            "--covariate",
            "log10_dose",
            "--pair-context-column",
            "context",
            "--epochs",
            "2",
            "--hidden",
            "32",
            "--seed",
            "3",
            "--context-dim",
            "8",
            "--out",
            model,
        ]
    )
    assert code == 0, err
    cfg = json.loads((model / "config.json").read_text())
    # options reach the model, and the context commands keep `paper` as their default preset
    params = cfg["params"]
    assert cfg["model"] == "context"  # saved through the one persistence module
    assert params["random_state"] == 3 and params["hidden"] == 32
    assert params["epochs"] == 2 and params["preset"] == "paper"
    assert params["context_dim"] == 8 and params["calibration"] == "isotonic"
    # the table's column options reach the reader (labels L1..L3 rather than one per context)
    assert cfg["state"]["label_names"] == ["L1", "L2", "L3"]
    assert cfg["state"]["covariate_names"] == ["log10_dose"]
    code, out, err = cli(["equivalent", model, "P001_M01", "P002_M01"])
    assert code == 0, err
    assert "P(equivalent)" in out
    code, _, err = cli(["context-fit", world / "table.csv.gz", world / "pairs.csv", "--out", model])
    assert code == 2 and "--force" in err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--test-fraction", "1.5", r"--test-fraction \(test_fraction\) must be in \(0, 1\)"),
        ("--n-boot", "-1", r"--n-boot \(n_boot\) must be an integer >= 0"),
        ("--k-shot", "0", r"--k-shot \(k_shot\) must be an integer >= 1"),
    ],
)
def test_context_evaluate_checks_its_options_before_reading(tmp_path, cli, option, value, message):
    """The option error comes first: the (missing) input files are never opened."""
    out = tmp_path / "out"
    missing = [tmp_path / "absent_table.csv", tmp_path / "absent_pairs.csv"]
    code, _, err = cli(["context-evaluate", *missing, "--out", out, option, value])
    assert code == 2 and re.search(message, err), err
    assert "not found" not in err and not out.exists()


@pytest.fixture(scope="module")
def symbol_context_model(tmp_path_factory):
    """A one-context model (``all``) whose entities include INTS15 and TP53 by symbol."""
    import pandas as pd

    from calbio.data.embeddings import embeddings_from_array
    from calbio.data.synthetic import make_synthetic
    from calbio.models.context.estimator import ContextCAL

    symbols = {"SYN0001": "INTS15", "SYN0002": "TP53"}
    syn = make_synthetic(n_entities=120, dim=8, n_pairs=500, seed=4)
    emb = embeddings_from_array(syn.embeddings.X, [symbols.get(n, n) for n in syn.embeddings.names])
    a, b = (pd.Series(x).replace(symbols).to_numpy() for x in (syn.pairs.a, syn.pairs.b))
    model = ContextCAL("fast", epochs=1, hidden=8, context_dim=4, random_state=0)
    out = tmp_path_factory.mktemp("symbol_context_model") / "m"
    model.fit(emb, pd.DataFrame({"a": a, "b": b})).save(out)
    return out


def test_equivalent_resolves_old_symbols_with_id_tables(
    symbol_context_model, tables_dir, cli, monkeypatch
) -> None:
    """C7orf26 (INTS15's old symbol) scores as INTS15 with --id-tables; unknown without."""
    monkeypatch.delenv("CALBIO_ID_TABLES", raising=False)
    model = symbol_context_model
    code, current, err = cli(["equivalent", model, "INTS15", "TP53"])
    assert code == 0, err
    code, old, err = cli(["equivalent", model, "C7orf26", "TP53", "--id-tables", tables_dir])
    assert code == 0, err
    title, *rows = old.splitlines()
    assert title.strip() == "C7orf26 (INTS15) vs TP53"
    assert rows == current.splitlines()[1:]  # the same g, cosine and probability
    assert re.search(r"all\s.*\d\.\d{3}", "\n".join(rows))  # a scored row, not '-'

    code, _, err = cli(["equivalent", model, "C7orf26", "TP53"])
    one_line_error(code, err, "'C7orf26' is not among the model's")
    code, _, err = cli(["equivalent", model, "TP53", "NOTAGENE", "--id-tables", tables_dir])
    one_line_error(code, err, "'NOTAGENE' is not among the model's")
