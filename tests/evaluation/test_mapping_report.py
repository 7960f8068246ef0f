"""The mapping report comes back up to an API user: on the result and in metrics.json, for the
main pairs file and for every validation file, with no CLI involved."""

from __future__ import annotations

import json

import numpy as np

import calbio
from calbio.data.pairs import pairs_from_list
from calbio.data.synthetic import make_synthetic


def test_result_and_metrics_json_carry_every_files_mapping_report(tmp_path) -> None:
    syn = make_synthetic(n_entities=200, dim=8, n_pairs=800, seed=1)
    a, b = np.asarray(syn.pairs.a), np.asarray(syn.pairs.b)
    main = list(zip(a, b, strict=True)) + [("NOT_A_GENE", a[0]), (b[1].lower(), a[2])]
    held = [(a[3], "ALSO_UNKNOWN"), *zip(b[::-1][:30], a[:30], strict=True)]
    result = calbio.evaluate(
        syn.embeddings,
        pairs_from_list(main, "main.csv"),
        model=None,
        validate_with=[pairs_from_list(held, "held.csv")],
        n_boot=5,
        rank=False,
    )
    result.save(tmp_path / "run")
    for m in (result.to_dict(), json.loads((tmp_path / "run" / "metrics.json").read_text())):
        st = m["data"]["mapping"]
        assert st["n_input"] == len(main) and st["n_unmapped"] == 1
        assert st["examples_unmapped"] == ["NOT_A_GENE"]
        assert st["n_case_insensitive_ids"] == 1 and st["n_converted_ids"] == 0
        held_st = m["validation"]["held"]["mapping"]
        assert held_st["examples_unmapped"] == ["ALSO_UNKNOWN"] and held_st["n_unmapped"] == 1
    how = result.id_mapping.set_index(["source", "id"])["how"]
    assert (
        how["main.csv", "NOT_A_GENE"] == "unknown" and how["held.csv", "ALSO_UNKNOWN"] == "unknown"
    )
    assert how["main.csv", b[1].lower()] == "case"
    assert [line.split(":")[0] for line in result.mapping_lines] == ["main.csv", "held.csv"]
