"""The one door for pairs (data/coerce): every input form gives the same rows and the same
mapping report, and nothing outside ``calbio.data`` maps pairs any other way."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calbio.core.errors import CalbioInputError
from calbio.data.coerce import as_context_mapped_pairs, as_mapped_pairs
from calbio.data.context import ContextEmbeddings, ContextMappedPairs, ContextPairs
from calbio.data.pairs import pairs_from_list
from calbio.data.types import Embeddings, MappedPairs

SRC = Path(__file__).resolve().parents[2] / "src" / "calbio"
# the matching engine and the readers behind the door: only calbio.data calls them
ENGINE = {"map_pairs", "map_context_pairs", "pairs_from_frame", "pairs_from_list"}
# a second door would be a method like these anywhere but models/base.py
DOORS = {"pair_index", "_resolve_pairs", "map_onto_model"}


def _emb(n: int) -> Embeddings:
    rng = np.random.default_rng(n)
    return Embeddings(np.array([f"G{i}" for i in range(n)], dtype=object), rng.normal(size=(n, 3)))


def _expected(rows: list[tuple[int, int]]) -> np.ndarray:
    """What matching keeps: first orientation of each undirected pair, no self-pairs."""
    seen, out = set(), []
    for a, b in rows:
        if a != b and frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            out.append((a, b))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


pair_rows = st.integers(3, 25).flatmap(
    lambda n: st.tuples(
        st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), min_size=1)
    )
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair_rows)
def test_every_pair_form_maps_to_the_same_rows(world) -> None:
    """Pairs, a DataFrame, a list of tuples (any case) and a MappedPairs give the same rows."""
    n, rows = world
    emb = _emb(n)
    names = [(f"G{a}", f"G{b}") for a, b in rows]
    want = _expected(rows)
    if not len(want):
        with pytest.raises(CalbioInputError):
            as_mapped_pairs(names, emb, 0.0)
        return
    forms = {
        "list": names,
        "lower-case list": [(a.lower(), b.lower()) for a, b in names],
        "Pairs": pairs_from_list(names),
        "DataFrame": pd.DataFrame(names, columns=["gene1", "gene2"]),
    }
    for what, form in forms.items():
        mp = as_mapped_pairs(form, emb, 0.0)
        np.testing.assert_array_equal(mp.idx, want, err_msg=what)
        assert mp.stats["n_mapped"] == len(want), what
        assert as_mapped_pairs(mp, emb) is mp  # already mapped: passes unchanged
    # rows are taken as given: checked, in order, duplicates and orientation kept
    idx = np.array(rows, dtype=np.int64)
    np.testing.assert_array_equal(as_mapped_pairs(idx, emb).idx, idx)


def test_a_pairs_file_path_is_read_like_the_cli_reads_it(tmp_path) -> None:
    """A str or Path names a pairs file (it is not a sequence of characters)."""
    emb = _emb(6)
    path = tmp_path / "pairs.csv"
    pd.DataFrame({"gene1": ["G0", "G2"], "gene2": ["G1", "G3"]}).to_csv(path, index=False)
    for form in (path, str(path)):
        np.testing.assert_array_equal(as_mapped_pairs(form, emb, 0.0).idx, [[0, 1], [2, 3]])


def test_rows_and_mapped_pairs_are_checked_against_the_table() -> None:
    emb = _emb(5)
    with pytest.raises(CalbioInputError, match="out of range of the 5 entities"):
        as_mapped_pairs(np.array([[0, 5]]), emb)
    with pytest.raises(CalbioInputError, match="out of range"):
        as_mapped_pairs(np.array([[-1, 2]]), emb)
    with pytest.raises(CalbioInputError, match="table of 6 rows"):
        as_mapped_pairs(MappedPairs(np.array([[0, 1]]), 6), emb)


def test_the_mapping_report_comes_back_on_mapped_pairs() -> None:
    """How many pairs mapped, which ids were matched by case, which are unknown: on the result."""
    emb = _emb(40)
    rows = [(f"G{i}", f"G{i + 1}") for i in range(30)] + [("g0", "G5"), ("NOPE1", "G2")]
    mp = as_mapped_pairs(pd.DataFrame(rows, columns=["a", "b"]), emb)
    st_ = mp.stats
    assert (st_["n_input"], st_["n_mapped"], st_["n_unmapped"]) == (32, 31, 1)
    assert st_["examples_unmapped"] == ["NOPE1"] and st_["n_ids_unmapped"] == 1
    assert st_["n_case_insensitive_ids"] == 1 and st_["n_converted_ids"] == 0
    how = mp.id_mapping.set_index("id")["how"]
    assert (how["g0"], how["NOPE1"], how["G3"]) == ("case", "unknown", "exact")


def _cemb() -> ContextEmbeddings:
    """Entities e0..e5 in contexts A (all) and B (e0..e3 only)."""
    X = np.random.default_rng(0).normal(size=(10, 3))
    return ContextEmbeddings(
        np.array([f"e{i}" for i in range(6)], dtype=object),
        np.array(["A", "B"], dtype=object),
        X,
        np.r_[np.arange(6), np.arange(4)],
        np.r_[np.zeros(6, int), np.ones(4, int)],
    )


def test_the_context_door_takes_every_form() -> None:
    """Plain pairs hold in every context where both are measured; a context column pins one."""
    cemb = _cemb()
    plain = [("e0", "e1"), ("e2", "e5"), ("E3", "e4")]
    for form in (plain, pairs_from_list(plain), np.array([[0, 1], [2, 5], [3, 4]])):
        mp = as_context_mapped_pairs(form, cemb, 0.5)
        got = sorted(zip(map(tuple, mp.idx.tolist()), mp.context.tolist(), strict=True))
        assert got == [((0, 1), 0), ((0, 1), 1), ((2, 5), 0), ((3, 4), 0)]
    df = pd.DataFrame({"a": ["e0", "e2"], "b": ["e1", "e3"], "context": ["B", ""]})
    for form in (df, ContextPairs(df.a, df.b, df.context)):
        mp = as_context_mapped_pairs(form, cemb, 0.5)
        got = sorted(zip(map(tuple, mp.idx.tolist()), mp.context.tolist(), strict=True))
        assert got == [((0, 1), 1), ((2, 3), 0), ((2, 3), 1)]
    assert as_context_mapped_pairs(mp, cemb, 0.5) is mp
    with pytest.raises(CalbioInputError, match="another table"):
        as_context_mapped_pairs(ContextMappedPairs(mp.idx, mp.context, 7, 2), cemb, 0.5)


def _calls_and_defs(path: Path) -> tuple[set[str], set[str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls, defs = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            calls.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            defs.add(node.name)
    return calls, defs


def test_no_second_door_for_pairs() -> None:
    """Outside calbio.data nothing calls the matching engine or the pair readers directly, and
    no module but models/base.py defines a pair-resolving method: pairs enter through
    data/coerce (``as_mapped_pairs`` / ``as_context_mapped_pairs``) only."""
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        calls, defs = _calls_and_defs(path)
        if not rel.startswith("data/"):
            bad += [f"{rel} calls {c}()" for c in sorted(calls & ENGINE)]
        if rel != "models/base.py":
            bad += [f"{rel} defines {d}()" for d in sorted(defs & DOORS)]
    assert not bad, "a second door for pairs: " + "; ".join(bad)


def test_models_and_the_score_table_go_through_the_door(monkeypatch) -> None:
    """fit, score_pairs by name and the score table all reach the matching engine via the door."""
    import calbio.data.matching as matching
    from calbio.api import score_pairs_table
    from calbio.models.registry import resolve_model

    seen: list[int] = []
    engine = matching.map_pairs

    def spy(pairs, *args, **kwargs):
        seen.append(len(pairs))
        return engine(pairs, *args, **kwargs)

    monkeypatch.setattr(matching, "map_pairs", spy)
    emb = _emb(40)
    names = [(f"G{i}", f"G{(i * 7 + 3) % 40}") for i in range(40)]
    model = resolve_model("cosine").fit(emb, names)
    model.score_pairs([("G1", "G2")])
    score_pairs_table(model, pairs_from_list([("G1", "G2"), ("x", "G3")]))
    assert seen == [len(pairs_from_list(names)), 1, 2]
