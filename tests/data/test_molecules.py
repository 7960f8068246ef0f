"""Molecules as entities: Morgan fingerprints from SMILES, invalid SMILES, Tanimoto."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from calbio.core.errors import CalbioInputError
from calbio.data.embeddings import load_embeddings
from calbio.data.molecules import (
    is_binary,
    load_smiles_embeddings,
    morgan_fingerprints,
    tanimoto_pairs,
    tanimoto_rows,
)

pytest.importorskip("rdkit")

DRUGS = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "ibuprofen": "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "broken": "C1CC(",
    "nonsense": "not a molecule",
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
}


def _drug_file(tmp_path):
    f = tmp_path / "drugs.csv"
    pd.DataFrame({"name": list(DRUGS), "smiles": list(DRUGS.values())}).to_csv(f, index=False)
    return f


def test_fingerprints_match_rdkit_and_invalid_are_listed(tmp_path):
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    res = load_smiles_embeddings(_drug_file(tmp_path), radius=2, n_bits=1024)
    emb = res.embeddings
    assert list(emb.names) == ["aspirin", "caffeine", "ibuprofen", "paracetamol"]
    assert list(res.invalid["id"]) == ["broken", "nonsense"]
    assert list(res.invalid["row"]) == [4, 5]
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    fps = [gen.GetFingerprint(Chem.MolFromSmiles(DRUGS[n])) for n in emb.names]
    for i, fp in enumerate(fps):
        assert np.flatnonzero(emb.X[i]).tolist() == list(fp.GetOnBits())
    want = DataStructs.BulkTanimotoSimilarity(fps[0], fps)
    np.testing.assert_allclose(tanimoto_rows(emb.X, [0])[0], want, rtol=1e-6)


def test_cli_embed_smiles_round_trip(tmp_path, cli):
    out, bad = tmp_path / "emb.parquet", tmp_path / "invalid.csv"
    code, stdout, err = cli(
        [
            "embed",
            "smiles",
            _drug_file(tmp_path),
            "--out",
            out,
            "--bits",
            "512",
            "--invalid-out",
            bad,
        ]
    )
    assert code == 0, err
    assert "row 4: 'broken'" in err and "'nonsense'" in err and "Traceback" not in err
    emb = load_embeddings(out)
    assert emb.dim == 512 and len(emb) == 4 and is_binary(emb.X)
    assert list(pd.read_csv(bad)["id"]) == ["broken", "nonsense"]
    code, _, err = cli(["embed", "smiles", _drug_file(tmp_path), "--out", out])
    assert code == 2 and "--force" in err


def test_all_invalid_or_no_smiles_column_is_an_input_error(tmp_path, cli):
    f = tmp_path / "d.csv"
    f.write_text("name,smiles\na,xx(\nb,((\n")
    with pytest.raises(CalbioInputError, match="none of the 2 SMILES"):
        load_smiles_embeddings(f)
    f.write_text("name,structure\na,CCO\n")
    code, _, err = cli(["embed", "smiles", f, "--out", tmp_path / "e.parquet"])
    assert code == 2 and "--smiles-column" in err and not (tmp_path / "e.parquet").exists()
    code, _, err = cli(
        ["embed", "smiles", f, "--out", tmp_path / "e.parquet", "--smiles-column", "structure"]
    )
    assert code == 0, err


def test_morgan_radius_and_bits_are_used():
    X1, ok = morgan_fingerprints(["CCO", "c1ccccc1O"], radius=1, n_bits=64)
    X3, _ = morgan_fingerprints(["CCO", "c1ccccc1O"], radius=3, n_bits=64)
    assert X1.shape == (2, 64) and ok.all()
    assert X3[1].sum() > X1[1].sum()


@given(arrays(np.uint8, (6, 24), elements=st.integers(0, 1)))
@settings(max_examples=60, deadline=None)
def test_tanimoto_pairs_and_rows_agree_with_set_definition(X):
    idx = np.array([[i, j] for i in range(6) for j in range(6)])
    sets = [set(np.flatnonzero(r)) for r in X]
    want = [
        len(sets[i] & sets[j]) / len(sets[i] | sets[j]) if sets[i] | sets[j] else 0.0
        for i, j in idx
    ]
    np.testing.assert_allclose(tanimoto_pairs(X, idx, block=5), want)
    np.testing.assert_allclose(tanimoto_rows(X, np.arange(6), np.arange(6)).ravel(), want)


def test_tanimoto_refuses_non_binary():
    with pytest.raises(ValueError, match="binary"):
        tanimoto_pairs(np.array([[0.5, 1.0], [1.0, 0.0]]), np.array([[0, 1]]))
