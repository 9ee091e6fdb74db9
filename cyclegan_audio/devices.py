"""Choosing the torch device from a user's ``--device`` (looked at when called, not at import)."""

from __future__ import annotations

import torch

from .errors import CycleGanAudioError


def resolve_device(device: str | torch.device | None) -> torch.device:
    """ "auto" or None -> cuda when available, else cpu; a CUDA device without a GPU is an error."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise CycleGanAudioError(f"--device {device}: no CUDA GPU is available; use --device cpu")
    return torch.device(device)
