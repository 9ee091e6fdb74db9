"""Two instrument-like domains synthesised from random melodies (pure numpy, no download).

Domain A, "breathy pipe": a sustained tone with vibrato, a soft attack, a steep
harmonic roll-off and band-passed breath noise. Domain B, "plucked string":
decaying harmonics with a pluck-position comb, faster decay for higher partials
and a short pluck noise burst. Both follow a note list
``[[start_s, end_s, midi, velocity], ...]`` exactly, so the notes are the
ground truth for pitch accuracy.

Everything is deterministic given a `numpy.random.Generator`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import signal

Note = list  # [start_s, end_s, midi, velocity]

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
MIDI_LOW, MIDI_HIGH = 55, 84  # G3..C6, inside both instruments' range
TARGET_RMS_DBFS = -20.0


def random_melody(rng: np.random.Generator, seconds: float) -> list[Note]:
    """A monophonic melody in a random key: stepwise motion, varied durations, a few rests."""
    root = int(rng.integers(MIDI_LOW, MIDI_LOW + 12))
    steps = SCALES[str(rng.choice(list(SCALES)))]
    scale = [root + 12 * octv + s for octv in range(-1, 4) for s in steps]
    scale = [m for m in scale if MIDI_LOW <= m <= MIDI_HIGH]
    idx = int(rng.integers(2, len(scale) - 6))
    notes: list[Note] = []
    t = 0.2 + 0.3 * float(rng.random())
    while True:
        dur = float(rng.choice([0.25, 0.5, 0.5, 0.75, 1.0]))
        if t + dur > seconds - 0.3:
            break
        idx = int(np.clip(idx + rng.choice([-3, -2, -1, -1, 0, 1, 1, 2, 3]), 0, len(scale) - 1))
        velocity = int(rng.integers(70, 115))
        notes.append([round(t, 4), round(t + 0.92 * dur, 4), int(scale[idx]), velocity])
        t += dur
        if rng.random() < 0.12:
            t += float(rng.choice([0.25, 0.5]))
    return notes


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def _pipe_note(rng, f0_hz: float, dur_s: float, sr: int) -> np.ndarray:
    release_s = 0.08
    n = int((dur_s + release_s) * sr)
    t = np.arange(n) / sr
    vib_rate = 5.0 + float(rng.random())
    vib_depth = 0.2 + 0.1 * float(rng.random())  # semitones; stays well inside ±50 cents
    vib = (
        vib_depth
        * np.sin(2 * np.pi * vib_rate * t + 2 * np.pi * rng.random())
        * np.minimum(t / 0.25, 1.0)
    )
    phase = 2 * np.pi * np.cumsum(f0_hz * 2.0 ** (vib / 12.0)) / sr
    tone = np.zeros(n)
    for k, amp in enumerate((1.0, 0.45, 0.18, 0.1, 0.05, 0.03, 0.015), start=1):
        if k * f0_hz < 0.45 * sr:
            tone += amp * np.sin(k * phase)
    env = np.minimum(t / 0.07, 1.0) * np.clip((dur_s + release_s - t) / release_s, 0.0, 1.0)
    env *= 1.0 + 0.08 * np.sin(2 * np.pi * 0.7 * t)  # breath swell
    b, a = signal.butter(2, [min(1500.0, 0.3 * sr), min(5000.0, 0.45 * sr)], btype="band", fs=sr)
    breath = signal.lfilter(b, a, rng.standard_normal(n)) * (0.6 + 0.4 * np.cos(phase))
    return env * (tone + 0.35 * breath)


def _pluck_note(rng, f0_hz: float, dur_s: float, sr: int) -> np.ndarray:
    damp_s = 0.04
    n = int((dur_s + 4 * damp_s) * sr)
    t = np.arange(n) / sr
    pluck_pos = 0.12 + 0.13 * float(rng.random())
    decay_1 = 2.0 + f0_hz / 300.0  # 1/s; higher notes die sooner
    tone = np.zeros(n)
    for k in range(1, 25):
        if k * f0_hz >= 0.45 * sr:
            break
        amp = abs(np.sin(np.pi * k * pluck_pos)) / k**1.2
        tone += (
            amp * np.exp(-decay_1 * (1.0 + 0.3 * (k - 1)) * t) * np.sin(2 * np.pi * k * f0_hz * t)
        )
    # Silence the string when the note ends (finger damping) and soften the very first sample.
    env = np.minimum(t / 0.002, 1.0) * np.exp(-np.maximum(t - dur_s, 0.0) / damp_s)
    burst = rng.standard_normal(n) * np.exp(-t / 0.008)
    b, a = signal.butter(2, min(2000.0, 0.3 * sr), btype="high", fs=sr)
    return env * tone + 0.25 * signal.lfilter(b, a, burst)


def render(
    notes: list[Note], domain: str, seconds: float, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """Render ``notes`` as domain ``"A"`` (breathy pipe) or ``"B"`` (plucked string).

    Returns float32 (round(seconds * sr),), normalised to `TARGET_RMS_DBFS` RMS.
    """
    voice = {"A": _pipe_note, "B": _pluck_note}[domain]
    out = np.zeros(int(round(seconds * sr)))
    for start_s, end_s, midi, velocity in notes:
        y = voice(rng, _hz(midi), end_s - start_s, sr) * (velocity / 127.0)
        i = int(round(start_s * sr))
        j = min(out.size, i + y.size)
        out[i:j] += y[: j - i]
    rms = float(np.sqrt(np.mean(out**2)))
    if rms > 0:
        out *= 10.0 ** (TARGET_RMS_DBFS / 20.0) / rms
    peak = float(np.max(np.abs(out)))
    if peak > 0.98:
        out *= 0.98 / peak
    return out.astype(np.float32)


def _rng(seed: int, *key: int) -> np.random.Generator:
    # One independent stream per file, so changing --n-train never changes the test set.
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def make_demo_dataset(
    out: str | Path,
    *,
    seed: int = 0,
    n_train: int = 16,
    n_test: int = 4,
    seconds: float = 20.0,
    sample_rate: int = 16000,
    progress: bool = False,
) -> dict:
    """Write a demo data set under ``out`` and return its meta dict.

    Layout (as ``violin_guitar``)::

        out/train/A/A_000.wav …   unpaired: every file its own melody
        out/train/B/B_000.wav …
        out/test/A/pair_000.wav … paired: the same melody in both domains
        out/test/B/pair_000.wav …
        out/meta.json             {"sr", "clip_s", "synth", "seed", "test": {name: notes}}

    Same arguments -> byte-identical files (16-bit WAV).
    """
    from tqdm import tqdm

    from .audio import save

    out = Path(out)
    jobs = [("train", d, i) for d in ("A", "B") for i in range(n_train)]
    jobs += [("test", None, i) for i in range(n_test)]
    meta = {"sr": sample_rate, "clip_s": seconds, "synth": "numpy", "seed": seed, "test": {}}
    for split, domain, i in tqdm(jobs, desc="synthesising", unit="file", disable=not progress):
        if split == "train":
            code = 0 if domain == "A" else 1
            notes = random_melody(_rng(seed, code, i, 0), seconds)
            y = render(notes, domain, seconds, sample_rate, _rng(seed, code, i, 1))
            save(out / "train" / domain / f"{domain}_{i:03d}.wav", y, sample_rate)
            continue
        name = f"pair_{i:03d}.wav"
        notes = random_melody(_rng(seed, 2, i, 0), seconds)
        for code, dom in ((3, "A"), (4, "B")):
            y = render(notes, dom, seconds, sample_rate, _rng(seed, code, i, 1))
            save(out / "test" / dom / name, y, sample_rate)
        meta["test"][name] = notes
    (out / "meta.json").write_text(json.dumps(meta) + "\n")
    return meta
