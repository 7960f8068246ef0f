"""Run every malformed-input and fault case of issue 11 against the CLI; write docs/RELIABILITY.md.

    python benchmarks/reliability.py            # ~5 min on 2 busy cores; tiny synthetic inputs

Every case runs the ``calbio`` console script (the installed entry point; this checkout's ``src``
is put first on PYTHONPATH so that the code under test is this one) in a fresh folder, and the
table records what happened: exit code, the first line of stderr, and what was written, removed
or left behind. Nothing in the table is typed by hand. A row is flagged when stderr holds a
traceback, the exit code is neither 0 nor 2, or a refused command (exit != 0) wrote anything, or
anything is left that looks like a partial output (``.NAME.calbio-PID-*.tmp`` / ``.old``).
The script exits 1 when any row is flagged.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOC = ROOT / "docs" / "RELIABILITY.md"
TINY = ["--epochs", "1", "--hidden", "8", "--batch-size", "64"]
DEBRIS_MARKERS = (".calbio-", ".old-")


@dataclass
class Case:
    """One command line run in its own folder after ``setup`` prepared it."""

    section: str
    name: str
    argv: list[str]
    want: (
        str  # what issue 11 asks for ("exit 2" / "exit 0" / "exit 2 or 0"): the spec, not a result
    )
    setup: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    before: Callable[[Path], str] | None = None  # runs after setup, before the snapshot
    show: str = ""  # stderr must hold a line with this text; the table shows that line
    fsize: int | None = None  # RLIMIT_FSIZE in bytes for the command (SIGXFSZ ignored: EFBIG)


# ----------------------------------------------------------------------------- inputs
def write_inputs(d: Path) -> None:
    """emb.csv and pairs.csv of a tiny synthetic world (ground truth documented in calbio)."""
    from calbio.data.synthetic import make_synthetic

    syn = make_synthetic(n_entities=120, dim=8, n_pairs=400, seed=5)
    syn.embeddings.to_frame().to_csv(d / "emb.csv")
    pd.DataFrame({"gene1": syn.pairs.a, "gene2": syn.pairs.b}).to_csv(d / "pairs.csv", index=False)


def string_files(d: Path) -> None:
    """STRING native links (both orientations) + a protein.info naming half of the proteins."""
    emb = pd.read_csv(d / "emb.csv", index_col=0)
    pairs = pd.read_csv(d / "pairs.csv")
    pid = {n: f"9606.ENSP{i:011d}" for i, n in enumerate(emb.index)}
    rows = [f"{pid[a]} {pid[b]} 900" for a, b in zip(pairs.gene1, pairs.gene2, strict=True)]
    rows += [f"{pid[b]} {pid[a]} 900" for a, b in zip(pairs.gene1, pairs.gene2, strict=True)]
    (d / "9606.protein.links.txt").write_text(
        "protein1 protein2 combined_score\n" + "\n".join(rows) + "\n"
    )
    kept = list(emb.index)[::2]
    (d / "9606.protein.info.txt").write_text(
        "#string_protein_id\tpreferred_name\n" + "".join(f"{pid[n]}\t{n}\n" for n in kept)
    )


def score_pairs_with_unknowns(d: Path) -> None:
    """Four known pairs and six pairs with an identifier the model never saw."""
    names = pd.read_csv(d / "emb.csv", index_col=0).index.astype(str).tolist()
    rows = [(names[i], names[i + 1]) for i in range(0, 8, 2)]
    rows += [(f"UNKNOWN{i}", names[i]) for i in range(6)]
    pd.DataFrame(rows, columns=["gene1", "gene2"]).to_csv(d / "mixed.csv", index=False)


def headerless(d: Path) -> None:
    """pairs.csv without its header line."""
    lines = (d / "pairs.csv").read_text().splitlines(keepends=True)[1:]
    (d / "noheader.csv").write_text("".join(lines))


def extreme_norms(d: Path) -> None:
    """Two rows scaled to norms of ~1e-30 and ~1e30."""
    emb = pd.read_csv(d / "emb.csv", index_col=0)
    emb.iloc[3] *= 1e-30
    emb.iloc[7] *= 1e30
    emb.to_csv(d / "emb_extreme.csv")


def dup_obs_h5ad(d: Path) -> None:
    """An h5ad whose obs lists the column 'gene' twice."""
    import anndata
    import h5py

    emb = pd.read_csv(d / "emb.csv", index_col=0)
    obs = pd.DataFrame({"gene": emb.index.astype(str), "batch": 1}, index=emb.index.astype(str))
    anndata.AnnData(X=emb.to_numpy(np.float32), obs=obs).write_h5ad(d / "dup.h5ad")
    with h5py.File(d / "dup.h5ad", "r+") as f:
        f["obs"].attrs["column-order"] = np.array([b"gene", b"gene", b"batch"])


def experiment(d: Path, steps: str, head: str = "") -> None:
    """exp.toml over emb.csv / pairs.csv with tiny training."""
    (d / "exp.toml").write_text(
        f"{head}seeds = [1]\n[data]\nembeddings = 'emb.csv'\npairs = 'pairs.csv'\n"
        "min_mapped = 0.0\n[training]\npreset = 'fast'\nepochs = 1\nhidden = 8\n"
        "batch_size = 64\n" + steps
    )


def traversal_setup(d: Path) -> None:
    """An experiment whose step name points two levels up, at a folder that must survive."""
    victim = d / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me\n")
    work = d / "a" / "b"
    work.mkdir(parents=True)
    for f in ("emb.csv", "pairs.csv"):
        shutil.copy(d / f, work / f)
    experiment(work, "[[steps]]\nkind = 'evaluate'\nname = '../../victim'\nn_boot = 2\n")


def changed_pairs_setup(d: Path) -> None:
    """A finished one-step run, then half of the pairs file removed."""
    experiment(d, "[[steps]]\nkind = 'doctor'\ntrain_check = false\n")
    run_cli(["run", "exp.toml", "--out", "run"], d)
    pairs = pd.read_csv(d / "pairs.csv")
    pairs.iloc[: len(pairs) // 2].to_csv(d / "pairs.csv", index=False)


# ----------------------------------------------------------------------------- model variants
def with_model(d: Path) -> None:
    """A fitted model directory ``m`` (copied from the shared one)."""
    shutil.copytree(d.parent / "_model", d / "m")


def tamper(kind: str) -> Callable[[Path], None]:
    """A model directory with one defect."""

    def setup(d: Path) -> None:
        from safetensors.numpy import load_file, save_file

        with_model(d)
        m = d / "m"
        st = m / "model.safetensors"
        if kind == "missing tensors file":
            st.unlink()
        elif kind == "truncated tensors":
            st.write_bytes(st.read_bytes()[: st.stat().st_size // 2])
        elif kind == "pickle planted as model.safetensors":
            import pickle

            st.write_bytes(pickle.dumps({"embedding": [1.0, 2.0]}))
        elif kind == "malformed config.json":
            (m / "config.json").write_text("{not json")
        elif kind == "entities.csv one row short":
            lines = (m / "entities.csv").read_text().splitlines(keepends=True)
            (m / "entities.csv").write_text("".join(lines[:-1]))
        elif kind == "NaN weights":
            t = load_file(str(st))
            key = next(k for k in t if k.startswith("module.") and t[k].ndim == 2)
            t[key] = np.full_like(t[key], np.nan)
            t["embedding"][0] = np.nan
            save_file(t, str(st))
        elif kind == "wrong-shape tensor":
            t = load_file(str(st))
            key = next(k for k in t if k.startswith("module.") and t[k].ndim == 2)
            t[key] = np.zeros((t[key].shape[0] + 1, t[key].shape[1]), np.float32)
            save_file(t, str(st))
        else:
            raise ValueError(kind)

    return setup


def first_entity(d: Path) -> str:
    """An entity the model knows."""
    return str(pd.read_csv(d / "emb.csv", index_col=0).index[0])


# ----------------------------------------------------------------------------- crash
def killed_save(d: Path) -> str:
    """SIGKILL a `fit --force` over the model ``m`` in the middle of its save; describe it."""
    env = {**os.environ, **cli_env(), "CALBIO_TEST_SAVE_DELAY": "0.4"}
    argv = ["fit", "emb.csv", "pairs.csv", "--out", "m", "--force", "--seed", "7", *TINY]
    proc = subprocess.Popen(
        cli_cmd() + argv, cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not any(p.name.startswith(".m.calbio-") for p in d.iterdir()):
        if proc.poll() is not None or time.monotonic() > deadline:
            return "the save was never seen (fit ended first)"
        time.sleep(0.005)
    time.sleep(0.6)  # after the new directory is complete, around the swap
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cfg = d / "m" / "config.json"
    state = "missing"
    if cfg.is_file():
        seed = json.loads(cfg.read_text())["params"]["random_state"]
        state = "the new model (seed 7)" if seed == 7 else f"the old model (seed {seed})"
    debris = sorted(p.name for p in d.iterdir() if any(x in p.name for x in DEBRIS_MARKERS))
    return f"after SIGKILL mid-save: m/ held {state}; debris {debris or 'none'}"


def legacy_debris(d: Path) -> str:
    """Leftovers of older crashed runs (dead PIDs) beside the output."""
    with_model(d)
    dead = 2**22 + 777  # above Linux's largest pid_max: never a live process
    (d / f".m.old-{dead}").mkdir()
    (d / f".m.calbio-{dead}-x.tmp").mkdir()
    (d / f".m.calbio-{dead}-x.tmp" / "model.safetensors").write_bytes(b"partial")
    return "planted .m.old-PID and .m.calbio-PID-x.tmp of dead PIDs"


# ----------------------------------------------------------------------------- cases
def cases(unwritable: Path) -> list[Case]:
    """Every case of issue 11 (sections 1-5)."""
    q = ["query", "m", "{entity}"]
    return [
        # §1
        Case(
            "1",
            "experiment step named ../../victim",
            ["run", "a/b/exp.toml", "--out", "a/b/run", "--force"],
            "exit 2",
            traversal_setup,
        ),
        Case(
            "1",
            "experiment named ../../victim",
            ["run", "exp.toml", "--force"],
            "exit 2",
            lambda d: experiment(d, "[[steps]]\nkind = 'doctor'\n", "name = '../../victim'\n"),
        ),
        Case(
            "1",
            "fit --out . --force (the folder of the inputs)",
            ["fit", "emb.csv", "pairs.csv", "--out", ".", "--force", *TINY],
            "exit 2",
        ),
        Case(
            "1",
            "fit --out emb.csv --force (an input)",
            ["fit", "emb.csv", "pairs.csv", "--out", "emb.csv", "--force", *TINY],
            "exit 2",
        ),
        Case(
            "1",
            "score --out pairs.csv --force (an input)",
            ["score", "m", "pairs.csv", "--out", "pairs.csv", "--force"],
            "exit 2",
            with_model,
        ),
        Case(
            "1",
            "clusters m --out m --force (the input model)",
            ["clusters", "m", "--out", "m", "--force"],
            "exit 2",
            with_model,
        ),
        Case(
            "1",
            "tampered model: pickle planted as model.safetensors",
            q,
            "exit 2",
            tamper("pickle planted as model.safetensors"),
        ),
        # §2
        Case(
            "2",
            "STRING links, protein.info names half of the proteins",
            [
                "fit",
                "emb.csv",
                "9606.protein.links.txt",
                "--protein-info",
                "9606.protein.info.txt",
                "--out",
                "m",
                *TINY,
            ],
            "exit 2",
            string_files,
        ),
        Case(
            "2",
            "same with --min-mapped 0.1 (per-step drop report)",
            [
                "fit",
                "emb.csv",
                "9606.protein.links.txt",
                "--protein-info",
                "9606.protein.info.txt",
                "--out",
                "m",
                "--min-mapped",
                "0.1",
                *TINY,
            ],
            "exit 0",
            string_files,
        ),
        Case(
            "2",
            "score with 6 of 10 pairs unknown, --min-mapped 0.5 (the strict rule)",
            ["score", "m", "mixed.csv", "--min-mapped", "0.5"],
            "exit 2",
            lambda d: (with_model(d), score_pairs_with_unknowns(d)),
        ),
        Case(
            "2",
            "score with 6 of 10 pairs unknown (default: score what maps, report the rest)",
            ["score", "m", "mixed.csv"],
            "exit 0",
            lambda d: (with_model(d), score_pairs_with_unknowns(d)),
        ),
        Case(
            "2",
            "score with unknown ids, --min-mapped 0.2 --out s.csv",
            ["score", "m", "mixed.csv", "--min-mapped", "0.2", "--out", "s.csv"],
            "exit 0",
            lambda d: (with_model(d), score_pairs_with_unknowns(d)),
        ),
        Case(
            "2",
            "run resumed after its pairs file changed",
            ["run", "exp.toml", "--out", "run"],
            "exit 0",
            changed_pairs_setup,
        ),
        Case(
            "2",
            "pairs file without a header",
            ["fit", "emb.csv", "noheader.csv", "--out", "m", *TINY],
            "exit 0",
            headerless,
        ),
        # §3
        Case("3", "query --top 0", [*q, "--top", "0"], "exit 2", with_model),
        Case("3", "query --top -5", [*q, "--top", "-5"], "exit 2", with_model),
        Case(
            "3",
            "score --score bogus",
            ["score", "m", "pairs.csv", "--score", "bogus"],
            "exit 2",
            with_model,
        ),
        Case(
            "3",
            "fit --lr -1",
            ["fit", "emb.csv", "pairs.csv", "--out", "m", *TINY, "--lr", "-1"],
            "exit 2",
        ),
        Case(
            "3",
            "fit --lr nan",
            ["fit", "emb.csv", "pairs.csv", "--out", "m", *TINY, "--lr", "nan"],
            "exit 2",
        ),
        Case(
            "3",
            "fit --threads -3",
            ["fit", "emb.csv", "pairs.csv", "--out", "m", *TINY, "--threads", "-3"],
            "exit 2",
        ),
        Case(
            "3",
            "evaluate --test-fraction 1.5",
            ["evaluate", "emb.csv", "pairs.csv", "--out", "e", *TINY, "--test-fraction", "1.5"],
            "exit 2",
        ),
        Case(
            "3",
            "evaluate --n-boot 0",
            ["evaluate", "emb.csv", "pairs.csv", "--out", "e", *TINY, "--n-boot", "0"],
            "exit 2",
        ),
        Case(
            "3",
            f"fit --out in an unwritable folder ({unwritable})",
            ["fit", "emb.csv", "pairs.csv", "--out", str(unwritable / "m"), *TINY],
            "exit 2",
        ),
        Case(
            "3",
            "fit --out an existing file --force",
            ["fit", "emb.csv", "pairs.csv", "--out", "afile", "--force", *TINY],
            "exit 2",
            lambda d: (d / "afile").write_text("not a directory\n"),
        ),
        Case(
            "3",
            "h5ad with a duplicated obs column",
            ["fit", "dup.h5ad", "pairs.csv", "--out", "m", "--id-column", "gene", *TINY],
            "exit 2",
            dup_obs_h5ad,
        ),
        *[
            Case("3", f"tampered model: {k}", q, "exit 2", tamper(k))
            for k in (
                "missing tensors file",
                "truncated tensors",
                "malformed config.json",
                "entities.csv one row short",
                "wrong-shape tensor",
                "NaN weights",
            )
        ],
        # §4
        Case(
            "4",
            "embedding rows with norms 1e-30 and 1e30",
            ["fit", "emb_extreme.csv", "pairs.csv", "--out", "m", *TINY],
            "exit 2",
            extreme_norms,
        ),
        Case(
            "4",
            "fit --lr 1e6 (diverges)",
            ["fit", "emb.csv", "pairs.csv", "--out", "m", *TINY, "--lr", "1e6"],
            "exit 2",
        ),
        # §5
        Case(
            "5",
            "fit --force again after a SIGKILL during a save",
            ["fit", "emb.csv", "pairs.csv", "--out", "m", "--force", *TINY],
            "exit 0",
            with_model,
            before=killed_save,
        ),
        Case(
            "5",
            "fit --force beside debris of older crashed runs",
            ["fit", "emb.csv", "pairs.csv", "--out", "m", "--force", *TINY],
            "exit 0",
            before=legacy_debris,
        ),
        *messages_cases(),  # issue 19: messages
    ]


# issue 19: messages ------------------------------------------------------------------------
def _pairs_frame(d: Path) -> pd.DataFrame:
    return pd.read_csv(d / "pairs.csv")


def msg_three_columns(d: Path) -> None:
    """x, y, z: three id-like text columns without known names."""
    p = _pairs_frame(d)
    pd.DataFrame({"x": p.gene1, "y": p.gene2, "z": p.gene1[::-1].to_numpy()}).to_csv(
        d / "three.csv", index=False
    )


def msg_float_ids(d: Path) -> None:
    """Integer ids in the embedding, the same ids written as floats in the pairs."""
    emb = pd.read_csv(d / "emb.csv", index_col=0)
    code = {n: i + 1 for i, n in enumerate(emb.index)}
    emb.index = [str(code[n]) for n in emb.index]
    emb.to_csv(d / "emb_int.csv")
    p = _pairs_frame(d)
    pd.DataFrame({"gene1": p.gene1.map(code) * 1.0, "gene2": p.gene2.map(code) * 1.0}).to_csv(
        d / "float_pairs.csv", index=False
    )


def msg_comment(d: Path) -> None:
    """A '# comment' line at the top of the pairs file."""
    (d / "commented.csv").write_text("# exported from our lab\n" + (d / "pairs.csv").read_text())


def msg_single_pair(d: Path) -> None:
    """One valid pair."""
    _pairs_frame(d).iloc[:1].to_csv(d / "one.csv", index=False)


def msg_compressed(kind: str) -> Callable[[Path], None]:
    """The pairs (or embedding) file compressed but named .csv."""

    def setup(d: Path) -> None:
        import gzip
        import zipfile

        for name in ("pairs.csv", "emb.csv"):
            data = (d / name).read_bytes()
            target = d / f"{kind}_{name}"
            if kind == "zip":
                with zipfile.ZipFile(target, "w") as zf:
                    zf.writestr(name, data)
            else:
                target.write_bytes(gzip.compress(data))

    return setup


def msg_case_model(d: Path) -> None:
    """A cosine model over a table holding both 'ABC' and 'abc'."""
    sys.path.insert(0, str(ROOT / "src"))
    from calbio.data.embeddings import embeddings_from_frame
    from calbio.data.pairs import pairs_from_frame
    from calbio.models.registry import resolve_model

    emb = pd.read_csv(d / "emb.csv", index_col=0)
    names = list(emb.index.astype(str))
    rename = {names[0]: "ABC", names[1]: "abc"}
    emb.index = [rename.get(n, n) for n in names]
    p = _pairs_frame(d).replace(rename)
    model = resolve_model("cosine").fit(embeddings_from_frame(emb), pairs_from_frame(p))
    model.save(d / "mc")


def msg_flat(kind: str) -> Callable[[Path], None]:
    """An embedding with one column, or whose rows are all the same."""

    def setup(d: Path) -> None:
        emb = pd.read_csv(d / "emb.csv", index_col=0)
        if kind == "one column":
            emb = emb.iloc[:, :1].abs() + 1.0
        else:
            emb.loc[:, :] = np.tile(np.arange(1.0, emb.shape[1] + 1), (len(emb), 1))
        emb.to_csv(d / "flat.csv")

    return setup


def msg_counter_ids(d: Path) -> None:
    """SYN0001-style ids in both files."""
    emb = pd.read_csv(d / "emb.csv", index_col=0)
    code = {n: f"SYN{i + 1:04d}" for i, n in enumerate(emb.index)}
    emb.index = [code[n] for n in emb.index]
    emb.to_csv(d / "emb_syn.csv")
    _pairs_frame(d).replace(code).to_csv(d / "pairs_syn.csv", index=False)


def msg_half_mapping(d: Path) -> None:
    """An experiment whose pairs map < 50% but cover the table (fit / evaluate accept them)."""
    p = _pairs_frame(d)
    extra = pd.DataFrame(
        {"gene1": [f"OTHER{i}" for i in range(600)], "gene2": [f"ELSE{i}" for i in range(600)]}
    )
    pd.concat([p, extra]).to_csv(d / "pairs.csv", index=False)
    experiment(d, "[[steps]]\nkind = 'doctor'\ntrain_check = false\n")
    text = (d / "exp.toml").read_text().replace("min_mapped = 0.0\n", "")
    (d / "exp.toml").write_text(text)


def messages_cases() -> list[Case]:
    """The cases of issue 19's messages (sections 2-4); ``-k msg:`` runs only these."""

    def run_exp(name: str, steps: str, head: str = "") -> Case:
        return Case(
            "3",
            f"msg: {name}",
            ["run", "exp.toml"],
            "exit 2",
            lambda d: experiment(d, steps, head),
            show="unknown key",
        )

    return [
        Case(
            "2",
            "msg: pairs with three id-like columns",
            ["fit", "emb.csv", "three.csv", "--out", "m", *TINY],
            "exit 0",
            msg_three_columns,
            show="ignored text column",
        ),
        run_exp(
            "experiment step key misspelled (protocl)",
            "[[steps]]\nkind = 'evaluate'\nprotocl = 'node'\n",
        ),
        run_exp(
            "experiment seed = [1, 2] (for seeds)",
            "[[steps]]\nkind = 'doctor'\n",
            "seed = [1, 2]\n",
        ),
        run_exp("experiment unknown top-level key", "[[steps]]\nkind = 'doctor'\n", "nmae = 'x'\n"),
        Case(
            "3",
            "msg: run accepts pairs that fit/evaluate accept (< 50% map)",
            ["run", "exp.toml", "--out", "run"],
            "exit 0",
            msg_half_mapping,
        ),
        Case(
            "4",
            "msg: embedding ids 1, pair ids 1.0",
            ["fit", "emb_int.csv", "float_pairs.csv", "--out", "m", *TINY],
            "exit 2",
            msg_float_ids,
            show="floats of the embedding's integer",
        ),
        Case(
            "4",
            "msg: '# comment' line at the top of the pairs",
            ["fit", "emb.csv", "commented.csv", "--out", "m", *TINY],
            "exit 0",
            msg_comment,
            show="comment line",
        ),
        Case(
            "4",
            "msg: a single valid pair",
            ["fit", "emb.csv", "one.csv", "--out", "m", *TINY],
            "exit 2",
            msg_single_pair,
            show="too few pairs",
        ),
        *[
            Case(
                "4",
                f"msg: {kind} pairs file named .csv",
                ["fit", "emb.csv", f"{kind}_pairs.csv", "--out", "m", *TINY],
                "exit 0",
                msg_compressed(kind),
                show=f"{kind}-compressed",
            )
            for kind in ("gzip", "zip")
        ],
        Case(
            "4",
            "msg: gzip embedding named .csv",
            ["fit", "gzip_emb.csv", "pairs.csv", "--out", "m", *TINY],
            "exit 0",
            msg_compressed("gzip"),
            show="gzip-compressed",
        ),
        Case(
            "4",
            "msg: query Abc when the model has ABC and abc",
            ["query", "mc", "Abc"],
            "exit 2",
            msg_case_model,
            show="ambiguous by case",
        ),
        *[
            Case(
                "4",
                f"msg: {cmd} on a flat embedding ({kind})",
                [cmd, "flat.csv", "pairs.csv", *args],
                "exit 0",
                msg_flat(kind),
                show="no usable geometry",
            )
            for kind in ("one column", "identical rows")
            for cmd, args in (
                ("fit", ["--out", "m", *TINY]),
                ("evaluate", ["--out", "r", "--model", "cosine", "--n-boot", "5"]),
                ("doctor", ["--no-train"]),
            )
        ],
        Case(
            "4",
            "msg: SYN0001-style ids are not called HGNC symbols",
            ["fit", "emb_syn.csv", "pairs_syn.csv", "--out", "m", *TINY],
            "exit 0",
            msg_counter_ids,
            show="pairs: ",
        ),
        Case(
            "4",
            "msg: evaluate lists every output it wrote",
            [
                "evaluate",
                "emb.csv",
                "pairs.csv",
                "--out",
                "r",
                "--model",
                "cosine",
                "--n-boot",
                "5",
            ],
            "exit 0",
        ),
    ]


# issue 19: safety ------------------------------------------------------------------------------
def safety_inputs(d: Path) -> None:
    """A model ``m``, a GMT of 10-gene sets and validation pairs absent from pairs.csv."""
    with_model(d)
    names = pd.read_csv(d / "emb.csv", index_col=0).index.astype(str).tolist()
    (d / "sets.gmt").write_text(
        "".join(f"SET{k}\tset {k}\t" + "\t".join(names[k * 10 : k * 10 + 10]) + "\n"
                for k in range(len(names) // 10))
    )  # fmt: skip
    known = {frozenset(p) for p in pd.read_csv(d / "pairs.csv").itertuples(index=False)}
    rng = np.random.default_rng(19)
    val = []
    while len(val) < 60:
        a, b = rng.choice(len(names), 2, replace=False)
        if frozenset((names[a], names[b])) not in known:
            val.append((names[a], names[b]))
    pd.DataFrame(val, columns=["gene1", "gene2"]).drop_duplicates().to_csv(
        d / "validation.csv", index=False
    )


def foreign_file_in(folder: str, command: list[str] | None = None) -> Callable[[Path], None]:
    """``folder`` holding notes.txt (after ``command`` wrote calbio's output there)."""

    def setup(d: Path) -> None:
        if command is not None:
            run_cli(command, d)
        (d / folder).mkdir(exist_ok=True)
        (d / folder / "notes.txt").write_text("my notes\n")

    return setup


def score_case_duplicates(d: Path) -> None:
    """The issue's four rows: three are one pair after case matching."""
    with_model(d)
    n = pd.read_csv(d / "emb.csv", index_col=0).index.astype(str).tolist()
    lo = [x.lower() for x in n]
    rows = [(lo[0], lo[1]), (n[0], n[1]), (n[1], n[0]), (lo[2], n[3])]
    pd.DataFrame(rows, columns=["gene1", "gene2"]).to_csv(d / "rows.csv", index=False)


def constant_profiles(d: Path) -> None:
    """30 genes x 12 screens; G4 and G17 have the same value in every screen."""
    X = np.random.default_rng(0).normal(size=(30, 12))
    X[[4, 17]] = 0.5
    pd.DataFrame(X, index=pd.Index([f"G{i}" for i in range(30)], name="gene")).to_csv(
        d / "profiles.csv"
    )


def model_edit(kind: str) -> Callable[[Path], None]:
    """The model ``m`` with rotated entities.csv rows, a changed array, or no hashes."""

    def setup(d: Path) -> None:
        from safetensors.numpy import load_file, save_file

        with_model(d)
        m = d / "m"
        if kind == "rotated":
            lines = (m / "entities.csv").read_text().splitlines()
            (m / "entities.csv").write_text("\n".join([lines[0], *lines[2:], lines[1]]) + "\n")
        elif kind == "array":
            t = load_file(str(m / "model.safetensors"))
            t["embedding"] = t["embedding"] * 1.01
            save_file(t, str(m / "model.safetensors"))
        else:
            cfg = json.loads((m / "config.json").read_text())
            cfg.pop("hashes", None)
            (m / "config.json").write_text(json.dumps(cfg))

    return setup


def safety_cases() -> list[Case]:
    """Issue 19, safety: crashes, full disks, --force, score rows, constant rows, hashes."""
    fit = ["fit", "emb.csv", "pairs.csv", "--out"]
    val = ["--genesets", "sets.gmt", "--validate-with", "validation.csv", "--reps", "2"]
    return [
        Case("19.1", "clusters --genesets --validate-with (documented example)",
             ["clusters", "m", "--out", "cl", *val], "exit 0", safety_inputs),
        Case("19.1", "report --genesets --validate-with (documented example)",
             ["report", "m", "--out", "r.html", *val], "exit 0", safety_inputs),
        Case("19.1", "fit under a 100 kB file-size limit (full disk)",
             [*fit, "m", "--epochs", "1", "--hidden", "256", "--batch-size", "64"], "exit 2",
             fsize=100_000),
        Case("19.1", "score --out under a 1-byte file-size limit (full disk)",
             ["score", "m", "pairs.csv", "--out", "s.csv"], "exit 2", with_model, fsize=1),
        Case("19.2", "fit --force over results/ holding notes.txt",
             [*fit, "results", "--force", *TINY], "exit 2", foreign_file_in("results")),
        Case("19.2", "evaluate --force over a run whose model/ holds notes.txt",
             ["evaluate", "emb.csv", "pairs.csv", "--out", "run", "--force", *TINY,
              "--n-boot", "10"], "exit 2",
             foreign_file_in("run/model", ["evaluate", "emb.csv", "pairs.csv", "--out", "run",
                                           *TINY, "--n-boot", "10"])),
        Case("19.2", "clusters --force over a folder holding notes.txt",
             ["clusters", "m", "--out", "cl", "--force"], "exit 2",
             lambda d: (with_model(d), foreign_file_in("cl")(d))),
        Case("19.2", "score rows that are duplicates after case matching (4 rows in, 4 out)",
             ["score", "m", "rows.csv", "--out", "s.csv"], "exit 0", score_case_duplicates),
        Case("19.2", "pairs coessential with two constant profiles",
             ["pairs", "coessential", "profiles.csv", "--out", "co.csv", "--top-k", "3"],
             "exit 0", constant_profiles),
        Case("19.3", "model whose entities.csv rows were rotated",
             ["query", "m", "{entity}"], "exit 2", model_edit("rotated")),
        Case("19.3", "model whose array was changed after saving",
             ["query", "m", "{entity}"], "exit 2", model_edit("array")),
        Case("19.3", "model written before hashes (config.json without them)",
             ["query", "m", "{entity}"], "exit 0", model_edit("nohashes")),
        Case("19.4", "score --out with every id known (no empty .unknown.txt)",
             ["score", "m", "pairs.csv", "--out", "s.csv"], "exit 0", with_model),
    ]  # fmt: skip


# end of issue 19: safety -----------------------------------------------------------------------


# issue 19: report, validation, transfer, explain ----------------------------------------------
def empty_metrics_run(d: Path) -> None:
    """A run folder whose metrics.json is ``{}``."""
    (d / "run").mkdir()
    (d / "run" / "metrics.json").write_text("{}")


def validation_inside_main(d: Path) -> None:
    """valid.csv: the first 50 pairs of pairs.csv (none is novel)."""
    pd.read_csv(d / "pairs.csv").head(50).to_csv(d / "valid.csv", index=False)


def second_pairs_file(d: Path) -> None:
    """other.csv: pairs.csv reversed (the same pairs) plus nothing new: a valid second file."""
    pairs = pd.read_csv(d / "pairs.csv")
    pairs.iloc[:, ::-1].to_csv(d / "other.csv", index=False)


def lead_cases() -> list[Case]:
    """Issue 19 items outside the safety and messages blocks, and issue 17's new commands."""
    ev = ["evaluate", "emb.csv", "pairs.csv", "--out", "run", *TINY, "--n-boot", "10"]
    tr = ["transfer", "emb.csv", "pairs.csv"]
    return [
        Case("19.1", "report on a run whose metrics.json is {}",
             ["report", "run", "--out", "r.html"], "exit 2", empty_metrics_run),
        Case("19.4", "report MODEL --validate-with without --genesets",
             ["report", "m", "--out", "r.html", "--validate-with", "pairs.csv"], "exit 2",
             with_model),
        Case("19.2", "evaluate --validate-with a file whose pairs are all in the main file",
             [*ev, "--validate-with", "valid.csv"], "exit 0", validation_inside_main),
        Case("17.1", "transfer with one pairs file",
             [*tr, "--out", "t", *TINY], "exit 2"),
        Case("17.1", "transfer with a missing second pairs file",
             [*tr, "missing.csv", "--out", "t", *TINY], "exit 2"),
        Case("17.1", "transfer between two files with no novel pairs",
             [*tr, "other.csv", "--out", "t", *TINY, "--n-boot", "10", "--no-heldout"], "exit 0",
             second_pairs_file),
        Case("17.4", "score --explain on a model without explanations (cal)",
             ["score", "m", "pairs.csv", "--explain"], "exit 2", with_model),
    ]  # fmt: skip


# end of issue 19: report, validation, transfer, explain ---------------------------------------


# ----------------------------------------------------------------------------- running
def cli_cmd() -> list[str]:
    """The installed console script (falls back to the module when it is not on PATH)."""
    exe = shutil.which("calbio") or str(Path(sys.executable).with_name("calbio"))
    return [exe] if Path(exe).is_file() else [sys.executable, "-m", "calbio.cli.main"]


def cli_env() -> dict[str, str]:
    """This checkout's src first; no colours; wide lines; one torch thread."""
    return {
        "PYTHONPATH": str(ROOT / "src"),
        "NO_COLOR": "1",
        "TERM": "dumb",
        "COLUMNS": "250",
        "OMP_NUM_THREADS": "1",
    }


def _file_size_limit(fsize: int) -> Callable[[], None]:
    """preexec_fn: files may not grow past ``fsize`` bytes; a write past it fails with EFBIG."""

    def limit() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # ignored signals stay ignored across exec
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return limit


def run_cli(
    argv: list[str], cwd: Path, env: dict[str, str] | None = None, fsize: int | None = None
):
    """Run the CLI (``fsize``: a file-size limit, as on a full disk); returns the process."""
    full = {**os.environ, **cli_env(), **(env or {}), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        cli_cmd() + argv,
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=None if fsize is None else _file_size_limit(fsize),
    )


def snapshot(d: Path) -> dict[str, str]:
    """Relative path -> content hash of every file (and '<dir>' for folders) under ``d``."""
    out = {}
    for p in d.rglob("*"):
        rel = str(p.relative_to(d))
        if p.is_dir():
            out[rel + "/"] = "<dir>"
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _group(paths: list[str]) -> str:
    tops: dict[str, int] = {}
    for p in paths:
        top = p.split("/", 1)[0] + ("/" if "/" in p else "")
        tops[top] = tops.get(top, 0) + (0 if p.endswith("/") else 1)
    return ", ".join(f"{t} ({n} files)" if t.endswith("/") else t for t, n in sorted(tops.items()))


def describe_changes(before: dict[str, str], after: dict[str, str]) -> tuple[str, bool, bool]:
    """Text of what changed; whether anything changed; whether debris remains."""
    created = [p for p in after if p not in before]
    changed = [p for p in after if p in before and before[p] != after[p]]
    removed = [p for p in before if p not in after]
    parts = []
    if created:
        parts.append("created " + _group(created))
    if changed:
        parts.append("changed " + _group(changed))
    if removed:
        parts.append("removed " + _group(removed))
    debris = any(any(m in p for m in DEBRIS_MARKERS) for p in after)
    return "; ".join(parts) or "nothing", bool(created or changed or removed), debris


def first_line(text: str) -> str:
    """First non-empty line of stderr, trimmed for the table."""
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 220 else line[:217] + "..."
    return ""


def run_case(case: Case, root: Path, idx: int) -> dict:
    """Prepare the case folder, run it, and record the outcome."""
    d = root / f"case{idx:02d}"
    d.mkdir()
    for f in ("emb.csv", "pairs.csv"):
        shutil.copy(root / f, d / f)
    if case.setup is not None:
        case.setup(d)
    note = case.before(d) if case.before is not None else ""
    argv = [a.replace("{entity}", first_entity(d)) for a in case.argv]
    snap = snapshot(d)
    t0 = time.perf_counter()
    proc = run_cli(argv, d, case.env, case.fsize)
    seconds = time.perf_counter() - t0
    written, wrote, debris = describe_changes(snap, snapshot(d))
    traceback = "Traceback (most recent call last)" in proc.stderr
    problems = []
    if traceback:
        problems.append("traceback")
    if proc.returncode not in (0, 2):
        problems.append(f"exit {proc.returncode}")
    if proc.returncode != 0 and wrote:
        problems.append("wrote output although it failed")
    if debris:
        problems.append("partial output left")
    if case.want != f"exit {proc.returncode}":
        problems.append(f"wanted {case.want}")
    err_line = first_line(proc.stderr)
    if proc.returncode == 2:  # the refusal itself, not a progress line or a library's warning
        refusal = [ln for ln in proc.stderr.splitlines() if ln.startswith("calbio: error")]
        err_line = first_line("\n".join(refusal)) or err_line
    if case.section == "5" and proc.returncode == 0:
        cleaned = [ln for ln in proc.stderr.splitlines() if "crashed calbio run" in ln]
        err_line = first_line("\n".join(cleaned)) or err_line
    if case.show:
        shown = [ln for ln in proc.stderr.splitlines() if case.show in ln]
        err_line = first_line("\n".join(shown)) or err_line
        if not shown:
            problems.append(f"no line with {case.show!r}")
    err_line = err_line.replace(str(d) + "/", "").replace(str(d), ".")
    return {
        "section": case.section,
        "case": case.name,
        "command": "calbio " + " ".join(argv),
        "want": case.want,
        "exit": proc.returncode,
        "stderr": err_line,
        "written": written + (f" ({note})" if note else ""),
        "problems": problems,
        "seconds": seconds,
    }


def unwritable_folder(root: Path) -> Path:
    """A folder nobody can create files in (root ignores modes, so /proc for root)."""
    if os.geteuid() == 0:
        return Path("/proc")
    d = root / "readonly"
    d.mkdir()
    d.chmod(0o555)
    return d


def cell(x: object) -> str:
    """Escape a markdown table cell."""
    return str(x).replace("|", "\\|").replace("\n", " ").replace("`", "'")


def write_doc(rows: list[dict], started: str, wall: float, version: str) -> None:
    """docs/RELIABILITY.md from the measured rows."""
    flagged = [r for r in rows if r["problems"]]
    lines = [
        "# Reliability: malformed inputs and faults (issue 11)",
        "",
        "Generated by `python benchmarks/reliability.py` (never edit by hand) on "
        f"{started} UTC in {wall / 60:.1f} min; calbio {version}, run through the `calbio` "
        "console script with this checkout's `src` first on PYTHONPATH. Each case runs in a "
        "fresh folder holding `emb.csv` and `pairs.csv` of a tiny synthetic world "
        "(120 entities, 400 pairs), plus the files its setup adds (a fitted model `m/`, STRING "
        "files, a tampered model...).",
        "",
        "Columns: *wanted* is what the issue asks for; *exit* and *first line of stderr* are "
        "measured; *written* compares the folder before and after the command (paths created, "
        "changed or removed). *flags* lists a traceback, an exit code other than 0 or 2, output "
        "written by a refused command, or partial output (`.NAME.calbio-PID-*.tmp`/`.old`) left.",
        "",
        f"**{len(rows)} cases; {len(flagged)} flagged.**",
        "",
        "| § | case | wanted | exit | first line of stderr | written | flags |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            "| "
            + " | ".join(
                cell(x)
                for x in (
                    r["section"],
                    r["case"],
                    r["want"],
                    r["exit"],
                    r["stderr"],
                    r["written"],
                    ", ".join(r["problems"]) or "-",
                )
            )
            + " |"
        )
    lines += ["", "Commands (run in the case's folder):", ""]
    lines += [f"- {cell(r['case'])}: `{r['command']}`" for r in rows]
    DOC.write_text("\n".join(lines) + "\n")


def main() -> int:
    """Run every case and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only cases whose name contains this")
    parser.add_argument("--no-doc", action="store_true", help="print, do not write the doc")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    import calbio

    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="calbio-reliability-") as tmp:
        root = Path(tmp)
        write_inputs(root)
        model = run_cli(["fit", "emb.csv", "pairs.csv", "--out", "_model", *TINY], root)
        if model.returncode != 0:
            print(model.stderr, file=sys.stderr)
            return 1
        every = [*cases(unwritable_folder(root)), *safety_cases(), *lead_cases()]
        todo = [c for c in every if args.k in c.name]
        for i, case in enumerate(todo):
            row = run_case(case, root, i)
            rows.append(row)
            flag = f"  <-- {', '.join(row['problems'])}" if row["problems"] else ""
            print(f"[{row['exit']:>3}] {case.name}: {row['stderr'][:100]}{flag}", flush=True)
    wall = time.perf_counter() - t0
    if not args.no_doc:
        write_doc(rows, started, wall, calbio.__version__)
        print(f"wrote {DOC}")
    flagged = sum(bool(r["problems"]) for r in rows)
    print(f"{len(rows)} cases, {flagged} flagged, {wall:.0f} s")
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
