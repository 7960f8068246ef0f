"""Device, precision and divergence handling of the trainer (CPU-only; GPU tests skip)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from calbio.core.devices import resolve_device
from calbio.core.errors import CalbioInputError
from calbio.models.cal.config import TrainConfig
from calbio.models.cal.module import cal_module
from calbio.training.trainer import train_module

SMALL = dict(hidden=16, depth=1, epochs=2, batch_size=64, seed=3)


def _data(synthetic):
    from calbio.scoring import l2_normalize

    X = torch.from_numpy(l2_normalize(synthetic.embeddings.X))
    return X, _idx(synthetic)


def _idx(synthetic) -> np.ndarray:
    names = {n: i for i, n in enumerate(synthetic.embeddings.names)}
    a = np.array([names[x] for x in synthetic.pairs.a])
    b = np.array([names[x] for x in synthetic.pairs.b])
    return np.stack([a, b], axis=1)


def test_resolve_device_auto_and_explicit(monkeypatch) -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(CalbioInputError, match="--device cuda: CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(CalbioInputError, match="MPS is not available"):
        resolve_device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")  # auto prefers CUDA


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("device", "tpu", "device must be one of"),
        ("device", "cpu:1", "device must be one of"),
        ("precision", "fp16", "precision must be one of"),
        ("strategy", "fsdp", "strategy must be one of"),
        ("devices", 0, "devices must be an integer >= 1"),  # the one voice of core.options
        ("devices", 2, "needs strategy 'ddp'"),
    ],
)
def test_config_validates_device_options(field, value, match) -> None:
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{field: value})
    TrainConfig(device="cuda:1", precision="bf16", devices=2, strategy="ddp")  # all valid


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_cpu_fits_are_bit_for_bit_reproducible(synthetic, device, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    X, idx = _data(synthetic)
    cfg = TrainConfig(**SMALL, device=device)
    m1, h1 = train_module(X, idx, cfg, module=cal_module(cfg))
    m2, h2 = train_module(X, idx, cfg, module=cal_module(cfg))
    assert h1.loss == h2.loss
    for (k, v1), v2 in zip(m1.state_dict().items(), m2.state_dict().values(), strict=True):
        assert torch.equal(v1, v2), k
    # bf16 is autocast on accelerators only: on the CPU it is the same fp32 computation
    m3, h3 = train_module(X, idx, cfg.replace(precision="bf16"), module=cal_module(cfg))
    assert h3.loss == h1.loss
    assert all(
        torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m3.state_dict().values())
    )
    assert next(m1.parameters()).device.type == "cpu"


def test_divergence_stops_with_a_clear_error(synthetic) -> None:
    X, idx = _data(synthetic)
    with pytest.raises(
        CalbioInputError, match=r"training diverged at epoch \d+ \(loss nan\); lower"
    ):
        cfg = TrainConfig(**{**SMALL, "epochs": 5}, lr=1e6)
        train_module(X, idx, cfg, module=cal_module(cfg))


def test_cli_divergence_exits_2_and_writes_nothing(synthetic, tmp_path, cli) -> None:
    synthetic.embeddings.to_frame().to_csv(tmp_path / "emb.csv")
    pd.DataFrame({"gene1": synthetic.pairs.a, "gene2": synthetic.pairs.b}).to_csv(
        tmp_path / "pairs.csv", index=False
    )
    out = tmp_path / "model"
    argv = ["fit", tmp_path / "emb.csv", tmp_path / "pairs.csv", "--out", out]
    code, _, err = cli([*argv, "--epochs", "5", "--hidden", "16", "--lr", "1e6"])
    assert code == 2 and "training diverged at epoch" in err and "--lr" in err
    assert "Traceback" not in err and not out.exists()
    code, _, err = cli([*argv, "--epochs", "1", "--device", "tpu"])
    assert code == 2 and "device must be one of" in err and not out.exists()
    code, _, err = cli([*argv, "--epochs", "1", "--devices", "2"])
    assert code == 2 and "needs strategy 'ddp'" in err and not out.exists()
    code, _, err = cli([*argv, "--epochs", "1", "--hidden", "16", "--device", "cpu"])
    assert code == 0, err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_matches_cpu_closely(synthetic) -> None:  # pragma: no cover - GPU only
    X, idx = _data(synthetic)
    cfg = TrainConfig(**SMALL)
    _, h_cpu = train_module(X, idx, cfg, module=cal_module(cfg))
    m, h_gpu = train_module(X, idx, cfg.replace(device="cuda"), module=cal_module(cfg))
    assert next(m.parameters()).device.type == "cpu"
    np.testing.assert_allclose(h_gpu.loss, h_cpu.loss, rtol=1e-3)
