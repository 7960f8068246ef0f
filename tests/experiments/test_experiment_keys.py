"""Experiment files (issue 19 §3): every key of every table checked, seeds, one mapping rule."""

from __future__ import annotations

import string
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calbio.core.errors import CalbioInputError
from calbio.data.coerce import as_mapped_pairs
from calbio.data.embeddings import load_embeddings
from calbio.data.pairs import load_pairs
from calbio.data.synthetic import make_synthetic
from calbio.experiments import runner
from calbio.experiments.runner import load_experiment, run_experiment

HEAD = 'seeds = [7]\n[data]\nembeddings = "e.csv"\npairs = "p.csv"\n'
EVALUATE = '[[steps]]\nkind = "evaluate"\n'
CB = '[[steps]]\nkind = "sweep"\nsweep = "cb"\n'


def parse(tmp_path: Path, body: str):
    p = tmp_path / "exp.toml"
    p.write_text(body)
    return load_experiment(p)


@pytest.mark.parametrize(
    ("body", "key", "closest"),
    [
        (HEAD + EVALUATE + 'protocl = "node"\n', "protocl", "protocol"),
        (HEAD.replace("seeds = [7]", "seed = [1, 2]") + EVALUATE, "seed", "seeds"),
        ("nmae = 'x'\n" + HEAD + EVALUATE, "nmae", "name"),
        (HEAD + "[trainig]\nepochs = 2\n" + EVALUATE, "trainig", "training"),
        (HEAD + "[training]\nepoch = 2\n" + EVALUATE, "epoch", "epochs"),
        (HEAD + 'embedings = "x"\n' + EVALUATE, "embedings", "embeddings"),
        (HEAD + EVALUATE + "seed = [1, 2]\n", "seed", "seeds"),
        (HEAD + EVALUATE + "[steps.training]\nhiden = 8\n", "hiden", "hidden"),
        (HEAD + '[[steps]]\nkind = "degree"\nfrom_ = "e"\n', "from_", "from"),
        (HEAD + CB + "threshold = [0.1]\n", "threshold", "thresholds"),
        (HEAD + '[[steps]]\nkind = "doctor"\nquick_training = {epoch = 2}\n', "epoch", "epochs"),
    ],
)
def test_unknown_keys_are_refused_with_the_closest_key(tmp_path, body, key, closest):
    with pytest.raises(CalbioInputError) as info:
        parse(tmp_path, body)
    msg = str(info.value)
    assert f"unknown key {key!r}" in msg and "\n" not in msg
    assert f"{closest!r}" in msg


def test_a_key_of_another_step_kind_is_refused(tmp_path):
    # `thresholds` is a key of the cb sweep; an evaluate step would have ignored it
    with pytest.raises(CalbioInputError, match="unknown key 'thresholds' in step 1"):
        parse(tmp_path, HEAD + EVALUATE + "thresholds = [0.1]\n")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (HEAD.replace("[7]", "[1, -2]") + EVALUATE, "seeds must be a list of integers"),
        (HEAD.replace("[7]", '"1,2"') + EVALUATE, "seeds must be a list of integers"),
        (HEAD.replace("[7]", "[]") + EVALUATE, "seeds must be a list of integers"),
        (HEAD + EVALUATE + "seeds = [1.5]\n", "seeds must be a list of integers"),
        (HEAD + EVALUATE + 'protocol = "nodes"\n', "protocol must be one of"),
        (HEAD + "[training]\nseed = 3\n" + EVALUATE, "seeds are set with seeds"),
        ("steps = 3\n" + HEAD, "steps must be a list"),
    ],
)
def test_bad_values_are_refused_before_any_step(tmp_path, body, message):
    with pytest.raises(CalbioInputError, match=message):
        parse(tmp_path, body)


def test_lists_of_seeds_where_the_docs_allow_them(tmp_path):
    exp = parse(tmp_path, HEAD.replace("[7]", "[1, 2]") + EVALUATE + "seeds = [3, 4, 5]\n")
    assert exp.seeds == [1, 2]
    assert exp.steps[0]["seeds"] == [3, 4, 5]
    assert parse(tmp_path, HEAD.replace("[7]", "9") + EVALUATE).seeds == [9]  # one integer


def test_docs_list_every_valid_step_key():
    """docs/experiments.md names every key a step accepts (docs and behaviour agree)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "experiments.md").read_text()
    keys = set(runner.STEP_COMMON_KEYS) | set(runner.TOP_KEYS) | set(runner.DATA_KEYS)
    for k in runner.STEP_KEYS.values():
        keys |= k
    for k in runner.SWEEP_STEP_KEYS.values():
        keys |= k
    missing = sorted(k for k in keys if k not in doc)
    assert not missing


_ALL = (
    runner.TOP_KEYS
    | runner.DATA_KEYS
    | runner.STEP_COMMON_KEYS
    | set().union(*runner.STEP_KEYS.values(), *runner.SWEEP_STEP_KEYS.values())
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=st.sampled_from(["top", "data", "step", "training"]),
    key=st.text(string.ascii_lowercase + "_", min_size=1, max_size=12).filter(
        lambda k: k not in _ALL and k not in runner._train_fields() and k != "seed"
    ),
)
def test_any_unknown_key_in_any_table_is_refused(tmp_path, table, key):
    body = {
        "top": f"{key} = 1\n" + HEAD + EVALUATE,
        "data": HEAD + f"{key} = 1\n" + EVALUATE,
        "step": HEAD + EVALUATE + f"{key} = 1\n",
        "training": HEAD + f"[training]\n{key} = 1\n" + EVALUATE,
    }[table]
    with pytest.raises(CalbioInputError, match=f"unknown key '{key}'"):
        parse(tmp_path, body)


def _half_mapping_world(folder: Path) -> None:
    """Pairs the CLI accepts (they cover the table) of which under half map (unknown ids)."""
    syn = make_synthetic(n_entities=100, dim=8, n_pairs=300, seed=3)
    syn.embeddings.to_frame().to_csv(folder / "e.csv")
    a = list(syn.pairs.a) + [f"OTHER{i}" for i in range(400)]
    b = list(syn.pairs.b) + [f"OTHER{i + 1000}" for i in range(400)]
    pd.DataFrame({"gene1": a, "gene2": b}).to_csv(folder / "p.csv", index=False)


def test_run_maps_pairs_with_the_cli_rule(tmp_path):
    """A file that maps < 50% of its pairs but covers the table: fit/evaluate accept it; so does
    an experiment without min_mapped (it applied the old 50% rule)."""
    _half_mapping_world(tmp_path)
    emb = load_embeddings(tmp_path / "e.csv")
    pairs = load_pairs(tmp_path / "p.csv")
    mapped = as_mapped_pairs(pairs, emb, None)  # what fit and evaluate call
    assert mapped.stats["fraction_mapped"] < 0.5
    exp = tmp_path / "exp.toml"
    exp.write_text(
        HEAD + "[training]\nepochs = 1\nhidden = 8\nthreads = 1\n"
        '[[steps]]\nkind = "doctor"\ntrain_check = false\n'
    )
    status = run_experiment(exp, tmp_path / "run")
    assert status == {"doctor": "done"}
