"""One persistence module for every model: round trips, and tampered directories refused."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from calbio.core.errors import CalbioInputError
from calbio.models import resolve_model
from calbio.models.cal.estimator import CAL
from calbio.models.persistence import load_model


@pytest.fixture(scope="module")
def saved(synthetic, tiny, tmp_path_factory):
    model = CAL("paper", random_state=3, validation_fraction=0.2, **tiny).fit(
        synthetic.embeddings, synthetic.pairs
    )
    path = model.save(tmp_path_factory.mktemp("m") / "model")
    return model, path


def _copy(path, tmp_path):
    import shutil

    dst = tmp_path / "copy"
    shutil.copytree(path, dst)
    return dst


@pytest.mark.parametrize(
    "name,params",
    [
        ("cal", {}),
        ("cal", {"pca": 8}),
        ("cal", {"score": "both"}),
        ("cal", {"score": "blend", "blend_lambda": 0.3}),
        ("cal", {"negatives": "random", "mask_false_negatives": True}),
        ("cal", {"negatives": "degree", "both_orientations": True}),
        ("cosine", {}),
        ("degree", {}),
        ("adamic_adar", {}),
        ("resource_allocation", {}),
        ("common_neighbours", {}),
    ],
)
def test_round_trip_equals_the_fitted_model(name, params, synthetic, tiny, tmp_path) -> None:
    model = resolve_model(name, **params, **(tiny if name == "cal" else {}))
    model.fit(synthetic.embeddings, synthetic.pairs)
    back = load_model(model.save(tmp_path / "m"))
    assert type(back) is type(model) and back.get_params() == model.get_params()
    idx = np.array([[0, 1], [3, 2], [10, 200], [5, 5]])
    np.testing.assert_allclose(back.score_pairs(idx), model.score_pairs(idx), rtol=1e-6)
    a, b = model.query("SYN0001", top=7), back.query("SYN0001", top=7)
    assert list(a["partner"]) == list(b["partner"])
    np.testing.assert_allclose(a["association"], b["association"], rtol=1e-6)
    if name == "cal":
        new_rows = synthetic.embeddings.X[:9] * 1.7 + 0.1
        np.testing.assert_allclose(back.transform(new_rows), model.transform(new_rows), atol=1e-6)


def test_pca_components_survive_a_fortran_ordered_fit(synthetic, tiny, tmp_path) -> None:
    model = CAL("paper", pca=8, **tiny).fit(synthetic.embeddings, synthetic.pairs)
    model.pca_components_ = np.asfortranarray(model.pca_components_)  # as sklearn may hand it
    back = load_model(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(back.pca_components_, model.pca_components_)
    rows = synthetic.embeddings.X[:5]
    np.testing.assert_allclose(back.transform(rows), model.transform(rows), atol=1e-6)


def test_every_fitted_attribute_round_trips(saved) -> None:
    model, path = saved
    back = CAL.load(path)
    assert back.history_ == model.history_
    assert back.history_.val_loss and back.history_.best_epoch == model.history_.best_epoch
    np.testing.assert_array_equal(back.train_pairs_, model.train_pairs_)
    np.testing.assert_array_equal(back.embedding_, model.embedding_)
    assert back.n_features_in_ == model.n_features_in_ and back.random_state == 3
    assert back.sources_ == model.sources_ and back.mapping_stats_ == model.mapping_stats_


def _tamper_tensor(path, key, fn):
    t = load_file(str(path / "model.safetensors"))
    t = fn(t, key)
    save_file(t, str(path / "model.safetensors"))


def _drop(t, key):
    t.pop(key)
    return t


def _reshape(t, key):
    t[key] = np.ascontiguousarray(t[key][:-1])
    return t


def _nan(t, key):
    t[key] = t[key].copy()
    t[key][0] = np.nan
    return t


@pytest.mark.parametrize(
    "tamper,message",
    [
        (lambda p: _tamper_tensor(p, "embedding", _drop), "lacks the array 'embedding'"),
        (lambda p: _tamper_tensor(p, "embedding", _reshape), "has shape"),
        (lambda p: _tamper_tensor(p, "embedding", _nan), "NaN or inf"),
        (lambda p: _tamper_tensor(p, "module.g.7.weight", _nan), "NaN or inf"),
        (
            lambda p: (p / "model.safetensors").write_bytes(
                (p / "model.safetensors").read_bytes()[:100]
            ),
            "not a readable safetensors",
        ),
        (lambda p: (p / "model.safetensors").unlink(), "is missing"),
        (
            lambda p: (p / "model.safetensors").write_bytes(pickle.dumps({"x": 1})),
            "never pickles",
        ),
        (lambda p: (p / "config.json").write_text("{not json"), "not valid JSON"),
        (lambda p: (p / "config.json").write_text("[1, 2]"), "not a JSON object"),
        (
            lambda p: (p / "entities.csv").write_text(
                "\n".join((p / "entities.csv").read_text().splitlines()[:-3]) + "\n"
            ),
            "entities.csv has",
        ),
        (lambda p: (p / "config.json").unlink(), "config.json missing"),
    ],
)
def test_tampered_model_directories_give_one_clear_error(saved, tmp_path, tamper, message) -> None:
    _, path = saved
    bad = _copy(path, tmp_path)
    tamper(bad)
    with pytest.raises(CalbioInputError, match=message):
        load_model(bad)


def test_other_format_versions_are_refused(saved, tmp_path) -> None:
    _, path = saved
    bad = _copy(path, tmp_path)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["format"] = 1
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CalbioInputError, match="format 1 is not supported"):
        load_model(bad)


def test_model_files_follow_the_umask(saved) -> None:
    _, path = saved
    modes = {f.name: f.stat().st_mode & 0o777 for f in path.iterdir()}
    assert len(set(modes.values())) == 1, modes


def test_load_as_the_wrong_class_is_refused(synthetic, tmp_path) -> None:
    path = resolve_model("cosine").fit(synthetic.embeddings, synthetic.pairs).save(tmp_path / "c")
    with pytest.raises(CalbioInputError, match="holds a Cosine, not a CAL"):
        CAL.load(path)


# kills the mutations persistence_saves_nonfinite and persistence_accepts_nonfinite
# (tests/mutations/run.py)


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


TRAIN = ["--epochs", "2", "--hidden", "16", "--batch-size", "64"]


def _copy_model(cli_model_dir: Path, tmp_path: Path) -> Path:
    import shutil

    m = tmp_path / "m"
    shutil.copytree(cli_model_dir, m)
    return m


def test_rotated_entities_are_refused(cli_model_dir, tmp_path, cli) -> None:
    m = _copy_model(cli_model_dir, tmp_path)
    lines = (m / "entities.csv").read_text().splitlines()
    rotated = [lines[0], *lines[2:], lines[1]]  # header kept, rows rotated by one
    (m / "entities.csv").write_text("\n".join(rotated) + "\n")
    code, _, err = cli(["query", m, "SYN0001"])
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert "entities.csv" in err and "does not match the hash" in err


def test_changed_array_is_refused(cli_model_dir, tmp_path, cli) -> None:
    from safetensors.numpy import load_file, save_file

    m = _copy_model(cli_model_dir, tmp_path)
    arrays = load_file(str(m / "model.safetensors"))
    k = sorted(arrays)[0]
    arrays[k] = arrays[k] * 1.01
    save_file(arrays, str(m / "model.safetensors"))
    code, _, err = cli(["query", m, "SYN0001"])
    assert code == 2 and "model.safetensors" in err and repr(k) in err


def test_model_without_hashes_loads_with_a_warning(cli_model_dir, tmp_path, caplog) -> None:
    from calbio.models.persistence import load_model

    m = _copy_model(cli_model_dir, tmp_path)
    cfg = json.loads((m / "config.json").read_text())
    assert set(cfg["hashes"]) == {"entities", "train_pairs", "arrays"}
    del cfg["hashes"]
    (m / "config.json").write_text(json.dumps(cfg))
    with caplog.at_level("WARNING", logger="calbio"):
        model = load_model(m)
    assert "records no hashes" in caplog.text
    assert list(model.names_) == list(load_model(cli_model_dir).names_)
