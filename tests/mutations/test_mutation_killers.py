"""Behaviour tests written to catch the bugs in tests/mutations/run.py that the suite missed.

Each test names the mutation it kills; all run on small synthetic data in seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from calbio.core import io as _io
from calbio.core.graph import known_csr
from calbio.core.metrics import roc_auc
from calbio.evaluation.pairsets import PairSets
from calbio.evaluation.scoring import score_sets, tie_safe
from calbio.models.cal.config import TrainConfig
from calbio.models.cal.estimator import CAL
from calbio.models.cal.module import cal_module
from calbio.training.trainer import split_validation, train_module, validation_loss

# ---------------------------------------------------------------- cal_load_drops_pca


def test_cal_pca_round_trips_through_save_load(synthetic, tiny, tmp_path) -> None:
    model = CAL(random_state=0, pca=5, **tiny).fit(synthetic.embeddings, synthetic.pairs)
    arrays, _ = model._get_state()
    assert {"pca.mean", "pca.components"} <= set(arrays)
    assert all(np.asarray(v).flags.c_contiguous for v in arrays.values())
    loaded = CAL.load(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.pca_components_, model.pca_components_)
    np.testing.assert_array_equal(loaded.pca_mean_, model.pca_mean_)
    raw = synthetic.embeddings.X[:20] * 3.0 + 0.5  # new rows, not the fitted table
    np.testing.assert_allclose(loaded.transform(raw), model.transform(raw), atol=1e-6)


# ---------------------------------------------------------------- cross_boundary_inverted


class _FixedScores:
    """A stand-in fitted model that scores pair i with ``scores[i]`` (in stacking order)."""

    cold_start = True

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def score_pairs(self, pairs: np.ndarray) -> np.ndarray:
        return self.scores[: len(pairs)]


def test_cross_boundary_selects_pairs_with_small_cosine() -> None:
    # Entity k is a unit vector at angle theta_k; pair (0, k) has cosine cos(theta_k).
    theta = np.deg2rad([0, 10, 20, 80, 85, 88, 95, 100, 170, 30, 60, 89])
    emb = np.stack([np.cos(theta), np.sin(theta)], 1)
    cos_of = np.cos(theta)
    pos = np.array([[0, 1], [0, 3], [0, 4], [0, 6]])  # |cos| .98 .17 .09 .09
    neg = np.array([[0, 2], [0, 5], [0, 7], [0, 8], [0, 9], [0, 11]])  # .94 .03 .17 .98 .87 .02
    ps = PairSets("test", pos, neg, np.zeros((0, 2), np.int64), np.arange(12), known_csr(pos, 12))
    rng = np.random.default_rng(0)
    scores = rng.standard_normal(len(pos) + len(neg))
    res, table = score_sets(
        {"m": _FixedScores(scores)}, ps, emb, np.ones(12), 0.5, n_boot=20, seed=0, rank=False
    )
    np.testing.assert_allclose(table["cosine"], cos_of[np.r_[pos[:, 1], neg[:, 1]]], atol=1e-12)
    small = np.abs(table["cosine"].to_numpy()) < 0.5
    assert res["m"]["cb_n_pos"] == 3 and res["m"]["cb_n_neg"] == 3
    label = table["label"].to_numpy()
    assert res["m"]["cb_auc"] == pytest.approx(roc_auc(label[small], scores[small]))


# ---------------------------------------------------------------- tie_safe_noop


def test_tie_safe_merges_float_noise_but_keeps_real_differences() -> None:
    s = np.array([0.1 + 0.2, 0.3, 0.3 + 1e-15, 0.31, -2.0])
    t = tie_safe(s)
    assert t[0] == t[1] == t[2]
    assert t[3] > t[1] and t[4] < t[1]
    assert roc_auc(np.array([1, 0, 0]), tie_safe(np.array([0.1 + 0.2, 0.3, 0.0]))) == 0.75


# ---------------------------------------------------------------- known_matrix_one_orientation


def test_known_matrix_is_symmetric_and_filters_both_orientations() -> None:
    known = known_csr(np.array([[0, 2], [3, 1]]), 4).toarray()
    np.testing.assert_array_equal(known, known.T)
    assert known[2, 0] and known[0, 2] and known[1, 3] and known[3, 1]


# ---------------------------------------------------------------- early_stopping_keeps_last


def test_early_stopping_restores_the_best_validation_epoch(synthetic) -> None:
    from calbio.scoring import l2_normalize

    X = torch.from_numpy(l2_normalize(synthetic.embeddings.X))
    idx = synthetic.embeddings.index
    pairs = np.array([[idx[a], idx[b]] for a, b in zip(synthetic.pairs.a, synthetic.pairs.b)])
    cfg = TrainConfig(
        hidden=16, epochs=50, batch_size=64, lr=3e-2, validation_fraction=0.2, patience=2
    )
    model, hist = train_module(X, pairs, cfg, module=cal_module(cfg))
    assert hist.stopped_early and hist.best_epoch < len(hist.val_loss) - 1
    _, val_idx = split_validation(pairs, cfg.validation_fraction, cfg.seed)
    final = validation_loss(model, X, val_idx, cfg)
    assert final == pytest.approx(min(hist.val_loss), rel=1e-5)
    assert final < hist.val_loss[-1]


# ---------------------------------------------------------------- atomic_dir_leaves_partial


def test_failed_atomic_dir_leaves_nothing_behind(tmp_path) -> None:
    target = tmp_path / "out"
    with pytest.raises(RuntimeError), _io.atomic_dir(target) as tmp:
        (tmp / "half.csv").write_text("a,b\n")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with _io.atomic_dir(target) as tmp:
        pd.DataFrame({"a": [1]}).to_csv(tmp / "ok.csv", index=False)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (target / "ok.csv").is_file()


# ---------------------------------------------------------------- l2_normalisation_skipped


def test_rows_are_unit_length_for_training_and_scoring(synthetic, tiny) -> None:
    from calbio.scoring import l2_normalize

    X = np.array([[3.0, 4.0], [0.0, 0.0], [-1e-3, 0.0]])
    np.testing.assert_allclose(l2_normalize(X), [[0.6, 0.8], [0.0, 0.0], [-1.0, 0.0]])
    model = CAL(random_state=0, **tiny).fit(synthetic.embeddings, synthetic.pairs)
    np.testing.assert_allclose(np.linalg.norm(model.embedding_, axis=1), 1.0, atol=1e-5)


# ---------------------------------------------------------------- persistence_*_nonfinite


def _cosine_model(synthetic):
    from calbio.models.registry import resolve_model

    return resolve_model("cosine").fit(synthetic.embeddings, synthetic.pairs)


def test_save_refuses_nonfinite_weights(synthetic, tmp_path) -> None:
    from calbio.core.errors import CalbioInputError

    model = _cosine_model(synthetic)
    model.embedding_ = model.embedding_.copy()
    model.embedding_[3, 1] = np.inf
    with pytest.raises(CalbioInputError, match="NaN or inf"):
        model.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_load_refuses_nonfinite_weights(synthetic, tmp_path) -> None:
    from safetensors.numpy import load_file, save_file

    from calbio.core.errors import CalbioInputError
    from calbio.models.persistence import ARRAYS_FILE, load_model

    out = _cosine_model(synthetic).save(tmp_path / "m")
    arrays = load_file(str(out / ARRAYS_FILE))
    arrays["embedding"][0, 0] = np.nan
    save_file(arrays, str(out / ARRAYS_FILE))
    with pytest.raises(CalbioInputError, match="NaN or inf"):
        load_model(out)
