"""Named recipes: a spectrogram spec, network sizes and a schedule that belong together.

``cpu``: the small recipe measured on a 2-core CPU (11,025 Hz, 128x128 tiles of ~1 s, ngf 8,
6 blocks, 10 + 10 epochs, cycle weight 5 with the pitch term; for a target with sound above
5.5 kHz, `prepare` takes ``BRIGHT_TARGET_SPEC``'s full band instead). ``cpu-voice``: the same
width with 3 blocks on 22,050 Hz tiles of 256 log-frequency rows, with the measured register
move (voices; the reference's loss weights: the pitch term did not lower a voice's LSD), and
translated in windows of two tiles.
``gpu``: the design's 512x512 tiles with the reference-sized networks. Each preset is a
dict of keyword overrides per config class; `prepare --preset` applies its ``spec`` part,
`train --preset` its ``net``, ``train`` and ``run`` parts (flags given explicitly still win).
"""

from __future__ import annotations

import copy
from typing import Any

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "cpu": {
        "spec": {"sample_rate": 11025, "n_fft": 254, "hop_length": 86, "tile_frames": 128},
        # 6 residual blocks, the reference's depth for 128-pixel images (3 until session 18): an
        # output frame hears 117 input frames (0.9 s) instead of 69, and the notes' tails, too
        # loud with 3 blocks, come closer to the truth. Lower LSD at 20 epochs on 5 of the 6
        # development runs and on every set's seed mean (violin 5.22 -> 5.04, cello 5.40 ->
        # 5.10, clarinet's full band 8.44 -> 8.30 dB; its seed 0 +0.06); ~1.25x the step time
        # (docs/quality.md, "Twice as deep: the reference's depth (session 18)").
        "net": {"ngf": 8, "ndf": 8, "n_blocks": 6},
        # A lighter cycle with the pitch term: lower LSD than the reference's weights on
        # all 6 instrument screens (4 epochs, seeds 0 and 1) and at the full 20 epochs
        # (seed 0) on cello and clarinet, level on violin; the melody kept
        # (docs/quality.md, "A pitch term"). No generator weight average: it makes the
        # validation score meet issue 11's targets on all eight 20-epoch development runs, but
        # its pick is worse than the raw weights' on violin -> guitar (both seeds, +0.22 and
        # +0.15 dB), and a default changes only when it wins on every set
        # (docs/validation-score.md, "The weight average against the raw weights: every
        # run (session 14)"); --ema-decay 0.999 turns it on.
        "train": {"n_epochs": 10, "n_epochs_decay": 10, "lambda_cycle": 5.0, "lambda_pitch": 1.0},
    },
    # The cpu recipe for voices: 256 log-frequency rows over the full band (an octave is a
    # shift of ~30 rows), and the register moved before each generator by the semitones
    # measured between the domains, the spectral envelope kept (docs/quality.md, "Moving a
    # voice's register"). "run" holds train options outside the network and schedule.
    "cpu-voice": {
        "spec": {
            "sample_rate": 22050,
            "n_fft": 1022,
            "hop_length": 172,
            "tile_frames": 128,
            "freq_scale": "log",
            "n_bins": 256,
            "fmin_hz": 32.7,
        },
        # window_tiles 2: translate runs the generator on 2 s windows (it trains on 1 s tiles).
        # Lower LSD on all six voice checkpoints tried (two seeds of two voice pairs among
        # them: -0.03 to -0.15 dB); on the instruments it was not (cello seed 1 and
        # clarinet higher), so `cpu` keeps 1 (docs/quality.md, "Wider windows at translation").
        "net": {"ngf": 8, "ndf": 8, "n_blocks": 3, "register_envelope": 200.0, "window_tiles": 2},
        "train": {"n_epochs": 10, "n_epochs_decay": 10},
        "run": {"measure_register": True},
    },  # fmt: skip
    "gpu": {"spec": {}, "net": {}, "train": {}},
}

# A preset's spec for a bright target: `prepare --preset cpu` measures what the preset's
# band loses of domain B (the target of translate's default direction) and, at
# preparation.BAND_LOSS_NOTE_DB or more, takes this full-band spec instead: the same 43 Hz
# bins and 7.8 ms hop up to 11,025 Hz (256x128 tiles, about twice the training time).
# Clarinet -> trumpet (the trumpet loses 7.4 dB at 11,025 Hz; the guitar and the marimba
# 1.0-1.4, where the wide tiles were worse): docs/quality.md, "A spec for bright targets".
BRIGHT_TARGET_SPEC: dict[str, dict[str, Any]] = {
    "cpu": {"sample_rate": 22050, "n_fft": 510, "hop_length": 172, "tile_frames": 128},
}
# The full-band spec's own training overrides: `train --preset cpu` applies them when the
# prepared tiles are BRIGHT_TARGET_SPEC's (flags written still win). Twice the learning
# rate: lower LSD on all six 4-epoch runs of three bright-target pairs (clarinet -> trumpet
# and two FluidR3 pairs, seeds 0 and 1) and at 20 epochs on clarinet; on the narrow tiles it
# was not (docs/quality.md, "Three pairs from another SoundFont; a learning rate for the full
# band (session 14)").
BRIGHT_TARGET_TRAIN: dict[str, dict[str, Any]] = {"cpu": {"lr": 4e-4}}


def bright_target_train(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Preset ``name``'s training overrides for tiles of ``spec`` (`SpectrogramSpec.to_dict`):
    BRIGHT_TARGET_TRAIN's when ``spec`` is the preset's full-band spec on linear rows, else {}."""
    wide = BRIGHT_TARGET_SPEC.get(name)
    if not wide or spec.get("freq_scale", "linear") != "linear":
        return {}
    if any(spec.get(key) != value for key, value in wide.items()):
        return {}
    return dict(BRIGHT_TARGET_TRAIN.get(name, {}))


def preset(name: str) -> dict[str, dict[str, Any]]:
    """A copy of preset ``name`` ({"spec": {...}, "net": {...}, "train": {...}})."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return copy.deepcopy(PRESETS[name])
