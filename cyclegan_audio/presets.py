"""Named recipes: a spectrogram spec, network sizes and a schedule that belong together.

``cpu``: the small recipe measured on a 2-core CPU (11,025 Hz, 128x128 tiles of ~1 s, ngf 8,
3 blocks, 10 + 10 epochs). ``gpu``: the design's 512x512 tiles with the reference-sized
networks. Each preset is a dict of keyword overrides per config class; `prepare --preset`
applies its ``spec`` part, `train --preset` its ``net`` and ``train`` parts (flags given
explicitly still win).
"""

from __future__ import annotations

import copy
from typing import Any

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "cpu": {
        "spec": {"sample_rate": 11025, "n_fft": 254, "hop_length": 86, "tile_frames": 128},
        "net": {"ngf": 8, "ndf": 8, "n_blocks": 3},
        "train": {"n_epochs": 10, "n_epochs_decay": 10},
    },
    "gpu": {"spec": {}, "net": {}, "train": {}},
}


def preset(name: str) -> dict[str, dict[str, Any]]:
    """A copy of preset ``name`` ({"spec": {...}, "net": {...}, "train": {...}})."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return copy.deepcopy(PRESETS[name])
