"""Issue 11 (hardening): no path escapes, no silent data loss, one line + exit 2, no debris."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calbio.core.errors import CalbioInputError

TRAIN = ["--epochs", "1", "--hidden", "8", "--batch-size", "64"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def one_line_error(code: int, err: str, *needles: str) -> None:
    """Exit 2, one line on stderr (no traceback) that contains every needle."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)


@pytest.fixture(scope="module")
def files(tmp_path_factory, synthetic) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    synthetic.embeddings.to_frame().to_csv(d / "emb.csv")
    pd.DataFrame({"gene1": synthetic.pairs.a, "gene2": synthetic.pairs.b}).to_csv(
        d / "pairs.csv", index=False
    )
    return d


@pytest.fixture(scope="module")
def model_dir(files, tmp_path_factory) -> Path:
    from calbio.data.embeddings import load_embeddings
    from calbio.data.matching import map_pairs
    from calbio.data.pairs import load_pairs
    from calbio.models.cal.estimator import CAL

    emb = load_embeddings(files / "emb.csv")
    m = CAL("fast", epochs=1, hidden=8, batch_size=64).fit(
        emb, map_pairs(load_pairs(files / "pairs.csv"), emb)
    )
    out = tmp_path_factory.mktemp("model") / "m"
    m.save(out)
    return out


@pytest.fixture()
def unwritable(tmp_path) -> Path:
    """A folder in which nothing can be created (root ignores modes: use /proc then)."""
    if os.geteuid() == 0:
        return Path("/proc")
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    return d


# ------------------------------------------------------------------- §1 nothing outside the output
def write_experiment(folder: Path, files: Path, steps: str, head: str = "") -> Path:
    text = (
        f"{head}seeds = [1]\n[data]\nembeddings = '{files / 'emb.csv'}'\n"
        f"pairs = '{files / 'pairs.csv'}'\nmin_mapped = 0.0\n"
        "[training]\npreset = 'fast'\nepochs = 1\nhidden = 8\nbatch_size = 64\n" + steps
    )
    path = folder / "exp.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("steps", "head"),
    [
        ("[[steps]]\nkind = 'evaluate'\nname = '../../victim'\nn_boot = 2\n", ""),
        ("[[steps]]\nkind = 'evaluate'\nname = '/tmp/victim'\nn_boot = 2\n", ""),
        ("[[steps]]\nkind = 'doctor'\nname = '..'\n", ""),
        ("[[steps]]\nkind = 'degree'\nfrom = '../victim'\n", ""),
        ("[[steps]]\nkind = 'doctor'\n", "name = '../../victim'\n"),
    ],
)
def test_run_refuses_path_names(tmp_path, files, cli, steps, head) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    exp = write_experiment(work, files, steps, head)
    code, _, err = cli(["run", exp, "--out", work / "run", "--force"])
    one_line_error(code, err, "not a plain name")
    assert (victim / "precious.txt").read_text() == "keep me"
    assert not (work / "run").exists()


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=12))
def test_accepted_names_stay_inside(name: str) -> None:
    from calbio.experiments.runner import check_name

    root = Path("/srv/run")
    try:
        check_name(name, "step name")
    except CalbioInputError:
        return
    resolved = (root / name / "seed1").resolve()
    assert resolved.parent.parent == root and resolved.parent.name == name


def test_inside_refuses_escapes(tmp_path) -> None:
    from calbio.core.io import inside

    assert inside(tmp_path / "a" / "b", tmp_path) == (tmp_path / "a" / "b").resolve()
    for bad in (tmp_path / ".." / "x", Path("/etc/passwd"), tmp_path / "a" / ".." / ".." / "y"):
        with pytest.raises(CalbioInputError, match="outside"):
            inside(bad, tmp_path)
    (tmp_path / "link").symlink_to(tmp_path.parent)
    with pytest.raises(CalbioInputError, match="outside"):
        inside(tmp_path / "link" / "z", tmp_path)


def test_force_never_destroys_inputs(files, tmp_path, cli) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for f in ("emb.csv", "pairs.csv"):
        (data / f).write_bytes((files / f).read_bytes())
    before = snapshot(data)
    for out in (data, tmp_path):  # equals / contains the inputs' folder
        code, _, err = cli(
            ["fit", data / "emb.csv", data / "pairs.csv", "--out", out, "--force", *TRAIN]
        )
        one_line_error(code, err, "input")
    code, _, err = cli(
        ["fit", data / "emb.csv", data / "pairs.csv", "--out", data / "emb.csv", "--force"]
    )
    one_line_error(code, err, "input")
    assert snapshot(data) == before


def test_score_out_cannot_be_an_input(files, model_dir, tmp_path, cli) -> None:
    pairs = tmp_path / "p.csv"
    pairs.write_bytes((files / "pairs.csv").read_bytes())
    code, _, err = cli(["score", model_dir, pairs, "--out", pairs, "--force"])
    one_line_error(code, err, "input")
    assert pairs.read_bytes() == (files / "pairs.csv").read_bytes()
    before = snapshot(model_dir)
    code, _, err = cli(["score", model_dir, pairs, "--out", model_dir, "--force"])
    one_line_error(code, err, "input")
    assert snapshot(model_dir) == before


# ---------------------------------------------------------------------- §2 no silent data loss
def string_world(folder: Path, synthetic, info_fraction: float) -> tuple[Path, Path]:
    """STRING native links (both orientations) and a protein.info naming some proteins."""
    names = list(synthetic.embeddings.names)
    pid = {n: f"9606.ENSP{i:011d}" for i, n in enumerate(names)}
    a, b = synthetic.pairs.a[:300], synthetic.pairs.b[:300]
    rows = [f"{pid[x]} {pid[y]} 900" for x, y in zip(a, b, strict=True)]
    rows += [f"{pid[y]} {pid[x]} 900" for x, y in zip(a, b, strict=True)]
    links = folder / "9606.protein.links.v12.0.txt"
    links.write_text("protein1 protein2 combined_score\n" + "\n".join(rows) + "\n")
    kept = names[: int(len(names) * info_fraction)]
    info = folder / "9606.protein.info.v12.0.txt"
    info.write_text(
        "#string_protein_id\tpreferred_name\tsize\n"
        + "".join(f"{pid[n]}\t{n}\t100\n" for n in kept)
    )
    return links, info


def test_string_losses_counted_from_raw_file(tmp_path, synthetic) -> None:
    from calbio.data.pairs import describe_drops, load_pairs

    links, info = string_world(tmp_path, synthetic, info_fraction=0.1)
    with pytest.raises(CalbioInputError, match=r"only \d+ of 600 rows .* protein ids"):
        load_pairs(links, protein_info=info)
    prs = load_pairs(links, protein_info=info, min_mapped=0.0)
    st_ = prs.stats
    assert st_["n_rows_read"] == 600
    lost = st_["n_rows_unmapped_protein"]
    assert lost > 500
    assert lost + st_["n_self_dropped"] + st_["n_duplicates_dropped"] + len(prs) == 600
    line = describe_drops(prs)
    assert "600 rows read" in line and f"{lost:,} with protein ids missing" in line
    assert f"{len(prs):,} pairs kept" in line


def test_string_losses_refused_by_fit(tmp_path, synthetic, cli) -> None:
    links, info = string_world(tmp_path, synthetic, info_fraction=0.1)
    synthetic.embeddings.to_frame().to_csv(tmp_path / "emb.csv")
    out = tmp_path / "m"
    args = ["fit", tmp_path / "emb.csv", links, "--protein-info", info, "--out", out, *TRAIN]
    code, _, err = cli(args)
    one_line_error(code, err, "of 600 rows", "--min-mapped")
    assert not out.exists()
    code, _, err = cli([*args, "--min-mapped", "0.0"])
    assert code == 0, err
    assert "600 rows read" in err and "protein ids missing" in err


def test_score_reports_unknown_ids_and_takes_min_mapped(model_dir, tmp_path, cli) -> None:
    names = pd.read_csv(model_dir / "entities.csv")["id"].astype(str).tolist()
    rows = [(names[i], names[i + 1]) for i in range(0, 8, 2)]
    rows += [(f"NOPE{i}", names[i]) for i in range(6)]
    pairs = tmp_path / "p.csv"
    pd.DataFrame(rows, columns=["gene1", "gene2"]).to_csv(pairs, index=False)
    code, _, err = cli(["score", model_dir, pairs, "--min-mapped", "0.5"])  # the strict rule
    one_line_error(code, err, "--min-mapped")
    code, stdout, err = cli(
        ["score", model_dir, pairs]
    )  # default: score what maps, report the rest
    assert code == 0 and "6 identifier(s) unknown" in err and len(stdout.splitlines()) == 11
    assert stdout.count(",unknown id,") == 6  # every input row answered, unknown ones marked
    out = tmp_path / "s.csv"
    code, _, err = cli(["score", model_dir, pairs, "--min-mapped", "0.2", "--out", out])
    assert code == 0, err
    assert "6 identifier(s) unknown" in err and "NOPE0" in err
    assert (pd.read_csv(out)["status"] == "scored").sum() == 4
    side = tmp_path / "s.csv.unknown.txt"
    assert side.read_text().split() == [f"NOPE{i}" for i in range(6)]
    code, stdout, err = cli(["score", model_dir, pairs, "--min-mapped", "0.2"])
    assert code == 0 and "6 identifier(s) unknown" in err and "listed in" not in err


def test_run_recomputes_a_step_whose_input_changed(tmp_path, files) -> None:
    from calbio.experiments.runner import run_experiment

    data = tmp_path / "d"
    data.mkdir()
    for f in ("emb.csv", "pairs.csv"):
        (data / f).write_bytes((files / f).read_bytes())
    exp = write_experiment(tmp_path, data, "[[steps]]\nkind = 'doctor'\ntrain_check = false\n")
    out = tmp_path / "run"
    assert run_experiment(exp, out) == {"doctor": "done"}
    assert run_experiment(exp, out) == {"doctor": "skipped"}
    rec = json.loads((out / "doctor.json").read_text())
    assert set(rec["inputs"]) == {str(data / "emb.csv"), str(data / "pairs.csv")}
    df = pd.read_csv(data / "pairs.csv")
    df.iloc[: len(df) // 2].to_csv(data / "pairs.csv", index=False)
    logs: list[str] = []
    assert run_experiment(exp, out, log=logs.append) == {"doctor": "done"}
    assert any("inputs changed" in m and "pairs.csv" in m for m in logs)
    assert run_experiment(exp, out) == {"doctor": "skipped"}


def test_headerless_pairs_file_keeps_its_first_pair(tmp_path, synthetic) -> None:
    from calbio.data.pairs import load_pairs

    a, b = synthetic.pairs.a[:50], synthetic.pairs.b[:50]
    path = tmp_path / "noheader.csv"
    path.write_text("".join(f"{x},{y}\n" for x, y in zip(a, b, strict=True)))
    prs = load_pairs(path, known_ids=synthetic.embeddings.names)
    assert len(prs) == 50
    assert (prs.a[0], prs.b[0]) == (a[0], b[0])
    assert any("looks like a pair" in w for w in prs.stats["warnings"])
    with_header = tmp_path / "header.csv"
    with_header.write_text("x,y\n" + path.read_text())
    prs = load_pairs(with_header, known_ids=synthetic.embeddings.names)
    assert len(prs) == 50 and not prs.stats["warnings"]
    # without the table's names: a first pair whose ids recur further down is still spotted
    body = "".join(f"{x},{y}\n" for x, y in zip(a, b, strict=True))
    path.write_text(f"{b[3]},{a[7]}\n" + body)
    prs = load_pairs(path)
    assert len(prs) == 51 and (prs.a[0], prs.b[0]) == (b[3], a[7])


# ---------------------------------------------- §3 one line and exit 2, nothing written
@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--lr", "-1"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--threads", "-3"], "--threads"),
        (["--hidden", "0"], "--hidden"),
        (["--score", "bogus"], "--score"),
        (["--min-mapped", "1.5"], "--min-mapped"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_fit_options(files, tmp_path, cli, monkeypatch, extra, needle) -> None:
    def no_work(*a, **k):
        raise AssertionError("options must be checked before any work")

    monkeypatch.setattr("calbio.data.embeddings.load_embeddings", no_work)
    out = tmp_path / "m"
    code, _, err = cli(["fit", files / "emb.csv", files / "pairs.csv", "--out", out, *extra])
    one_line_error(code, err, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--test-fraction", "1.5"], "--test-fraction"),
        (["--test-fraction", "0"], "--test-fraction"),
        (["--n-boot", "0"], "--n-boot"),
        (["--lr", "nan"], "--lr"),
    ],
)
def test_evaluate_options(files, tmp_path, cli, extra, needle) -> None:
    out = tmp_path / "e"
    code, _, err = cli(["evaluate", files / "emb.csv", files / "pairs.csv", "--out", out, *extra])
    one_line_error(code, err, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("top", ["0", "-5"])
def test_query_top(model_dir, cli, top) -> None:
    gene = pd.read_csv(model_dir / "entities.csv")["id"][0]
    code, _, err = cli(["query", model_dir, gene, "--top", top])
    one_line_error(code, err, "--top")


def test_score_bogus_kind(model_dir, files, tmp_path, cli) -> None:
    out = tmp_path / "s.csv"
    code, _, err = cli(["score", model_dir, files / "pairs.csv", "--score", "bogus", "--out", out])
    one_line_error(code, err, "--score", "half")
    assert not out.exists()


def test_unwritable_out_refused_before_training(files, tmp_path, cli, monkeypatch, unwritable):
    from calbio.models.cal.estimator import CAL

    def no_training(*a, **k):
        raise AssertionError("training started before the output was checked")

    monkeypatch.setattr(CAL, "fit", no_training)
    existing = tmp_path / "a_file"
    existing.write_text("x")
    for out, needle in ((unwritable / "m", "cannot write"), (existing, "not a directory")):
        for force in ([], ["--force"]):
            args = ["fit", files / "emb.csv", files / "pairs.csv", "--out", out, *force, *TRAIN]
            code, _, err = cli(args)
            one_line_error(code, err, needle)
    assert existing.read_text() == "x"
    code, _, err = cli(["evaluate", files / "emb.csv", files / "pairs.csv", "--out", existing])
    one_line_error(code, err, "not a directory")


def test_api_raises_the_cli_text() -> None:
    from calbio.models.cal.config import check_training, get_preset

    for field, value in (("lr", -1.0), ("lr", math.nan), ("threads", -3), ("score", "bogus")):
        with pytest.raises(ValueError) as api:
            get_preset("fast").replace(**{field: value})
        with pytest.raises(CalbioInputError) as cli_side:
            check_training({field: value})
        assert str(api.value) == str(cli_side.value)
        assert f"--{field}" in str(api.value)


@settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(
        st.integers(-10, 10), st.floats(allow_nan=True), st.none(), st.booleans(), st.text()
    )
)
def test_validators_property(value) -> None:
    from calbio.core.options import check_fraction, check_int, check_positive

    def ok(fn) -> bool:
        try:
            fn()
            return True
        except CalbioInputError as exc:
            assert "\n" not in str(exc)
            return False

    is_num = isinstance(value, int | float) and not isinstance(value, bool)
    assert ok(lambda: check_int("top", value, 1)) == (
        isinstance(value, int) and is_num and value >= 1
    )
    finite = is_num and math.isfinite(value)
    assert ok(lambda: check_positive("lr", value)) == (finite and value > 0)
    assert ok(lambda: check_fraction("test_fraction", value)) == (finite and 0 < value < 1)


def test_h5ad_duplicated_obs_column(tmp_path, cli) -> None:
    anndata = pytest.importorskip("anndata")
    h5py = pytest.importorskip("h5py")
    obs = pd.DataFrame({"gene": ["a", "b", "c"], "x": [1, 2, 3]}, index=["a", "b", "c"])
    ad = anndata.AnnData(X=np.arange(12, dtype=np.float32).reshape(3, 4) + 1, obs=obs)
    path = tmp_path / "dup.h5ad"
    ad.write_h5ad(path)
    with h5py.File(path, "r+") as f:
        f["obs"].attrs["column-order"] = np.array([b"gene", b"gene", b"x"])
    pairs = tmp_path / "p.csv"
    pairs.write_text("gene1,gene2\na,b\nb,c\n")
    out = tmp_path / "m"
    for extra in ([], ["--id-column", "gene"]):
        code, _, err = cli(["fit", path, pairs, "--out", out, *extra, *TRAIN])
        one_line_error(code, err, "duplicated column", "gene")
    assert not out.exists()


# ----------------------------------------------------------------- §4 untrustworthy numbers
@pytest.mark.parametrize("scale", [1e-30, 1e30, 1e-20, 1e20])
def test_extreme_norm_rows_named(scale) -> None:
    from calbio.data.embeddings import embeddings_from_array

    X = np.random.default_rng(0).normal(size=(6, 4))
    X[2] *= scale
    X[4] *= scale
    with pytest.raises(CalbioInputError, match="too small or too large") as exc:
        embeddings_from_array(X, [f"g{i}" for i in range(6)])
    assert "g2" in str(exc.value) and "g4" in str(exc.value) and "g1 " not in str(exc.value)
    ok = embeddings_from_array(X[[0, 1, 3, 5]] * 1e6, ["a", "b", "c", "d"])
    assert np.isfinite(ok.X).all()


# --------------------------------------------------------------------------- §5 crash debris
def test_debris_of_dead_runs_cleaned_on_start(tmp_path, files, cli, caplog) -> None:
    dead = 2**22 + 12345  # above pid_max on this platform: never alive
    out = tmp_path / "m"
    tmp_dir = tmp_path / f".m.calbio-{dead}-abc.tmp"
    tmp_dir.mkdir()
    (tmp_dir / "model.safetensors").write_bytes(b"partial")
    tmp_file = tmp_path / f".scores.csv.calbio-{dead}-xyz.tmp"
    tmp_file.write_text("partial")
    legacy = tmp_path / f".m.old-{dead}"
    legacy.mkdir()
    unrelated = tmp_path / f".config.old-{dead}"  # not beside our output name: left alone
    unrelated.mkdir()
    live = tmp_path / f".m.calbio-{os.getpid()}-live.tmp"
    live.mkdir()
    out.mkdir()  # the output exists, so the old moved-aside copy is debris, not to restore
    args = ["fit", files / "emb.csv", files / "pairs.csv", "--out", out, "--force", *TRAIN]
    code, _, err = cli(args)
    assert code == 0, err
    assert not tmp_dir.exists() and not tmp_file.exists() and not legacy.exists()
    assert live.exists() and unrelated.exists()  # a live process's work is left alone
    assert "crashed calbio run" in caplog.text


def test_moved_aside_output_is_restored(tmp_path) -> None:
    from calbio.core.io import clean_debris

    dead = 2**22 + 12345
    aside = tmp_path / f".m.calbio-{dead}.old"
    aside.mkdir()
    (aside / "config.json").write_text("{}")
    msgs = clean_debris(tmp_path)
    assert (tmp_path / "m" / "config.json").is_file() and not aside.exists()
    assert msgs and "restored" in msgs[0]


def test_force_replace_keeps_output_present(tmp_path, monkeypatch) -> None:
    """During a --force replacement the output directory never disappears."""
    from calbio.core import io as _io

    out = tmp_path / "out"
    with _io.atomic_dir(out) as t:
        (t / "v").write_text("old")
    seen = []
    real_remove = _io._remove

    def spy(p: Path) -> None:
        seen.append(((out / "v").read_text(), sorted(x.name for x in tmp_path.iterdir())))
        real_remove(p)

    monkeypatch.setattr(_io, "_remove", spy)
    with _io.atomic_dir(out, force=True) as t:
        (t / "v").write_text("new")
        assert (out / "v").read_text() == "old"
    assert seen and seen[0][0] == "new"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out"]


def test_every_command_refuses_an_out_holding_its_inputs(files, model_dir, tmp_path, cli):
    """The entry point guards --out for all commands, before any work."""
    data = tmp_path / "d"
    data.mkdir()
    (data / "pairs.csv").write_bytes((files / "pairs.csv").read_bytes())
    before = snapshot(model_dir)
    cases = [
        ["clusters", model_dir, "--out", model_dir, "--force"],
        ["neighbors", model_dir, "--out", model_dir, "--force"],
        ["index", model_dir, f"--out={model_dir}", "--force"],
        ["ablate", files / "emb.csv", data / "pairs.csv", "--out", data, "--force"],
    ]
    for argv in cases:
        code, _, err = cli(argv)
        one_line_error(code, err, "input")
    assert snapshot(model_dir) == before and (data / "pairs.csv").is_file()


@pytest.mark.parametrize(
    "steps",
    [
        "[[steps]]\nkind = 'evaluate'\nn_boot = 0\n",
        "[[steps]]\nkind = 'evaluate'\ntest_fraction = 1.5\n",
        "[[steps]]\nkind = 'evaluate'\n[steps.training]\nlr = -1.0\n",
    ],
)
def test_run_validates_step_options_before_work(tmp_path, files, steps) -> None:
    from calbio.experiments.runner import load_experiment

    exp = write_experiment(tmp_path, files, steps)
    with pytest.raises(CalbioInputError, match="step 'evaluate_edge': --"):
        load_experiment(exp)


def test_replace_without_rename_exchange(tmp_path, monkeypatch) -> None:
    """Where the OS has no atomic exchange, the two-rename fallback replaces and cleans up."""
    from calbio.core import io as _io

    monkeypatch.setattr(_io, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    for text in ("old", "new"):
        with _io.atomic_dir(out, force=True) as t:
            (t / "v").write_text(text)
    assert (out / "v").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
