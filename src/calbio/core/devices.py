"""Torch device resolution: the one place ``auto`` / ``cuda`` / ``mps`` become a device."""

from __future__ import annotations

from typing import TYPE_CHECKING

from calbio.core.errors import CalbioInputError

if TYPE_CHECKING:
    import torch


def _mps_available() -> bool:
    import torch

    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(name: str | torch.device = "cpu") -> torch.device:
    """``auto`` -> CUDA when present, else MPS when present, else CPU; others must be present."""
    import torch

    name = str(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise CalbioInputError(f"--device {name}: CUDA is not available on this machine")
    if dev.type == "mps" and not _mps_available():
        raise CalbioInputError(f"--device {name}: MPS is not available on this machine")
    return dev
