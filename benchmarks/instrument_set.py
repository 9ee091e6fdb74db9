#!/usr/bin/env python3
"""Render a two-instrument set with FluidSynth and any GM SoundFont, in the development sets' layout.

    apt-get install fluidsynth fluid-soundfont-gm
    python benchmarks/instrument_set.py /tmp/q/flute_trumpet --prog-a 73 --prog-b 56

Why: the four sets in ``../shared/data`` share one SoundFont (TimGM6mb), and the project
is judged on sets it has not seen (other instruments, another SoundFont). This script
renders more pairs the same way from another SoundFont (default: FluidR3_GM, Debian's
``fluid-soundfont-gm``), so a candidate can be checked beyond the sets it was developed
on, and a rule that depends on the target's sound (the bright-target spec) can be checked
on a second pair of its kind.

The melodies follow ``../shared/data``'s README: random diatonic monophonic lines in a
major key with a random root, MIDI 62–84, note lengths 0.25–1 s, about 10 % rests, random
velocities. Layout: 20 s mono FLAC at 22,050 Hz; ``train/A`` and ``train/B`` with different
melodies in every clip; ``test/A`` and ``test/B`` pairs with the same melody and file names;
``meta.json`` with each test pair's notes as ``[start_s, end_s, midi, velocity]``. The
script refuses to write a set whose two programs render alike.
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from set_layout import cannot_start  # noqa: E402

from cyclegan_audio.audio import load_with_rate, save  # noqa: E402

SR = 22050
CLIP_S = 20.0
SF2 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
MAJOR = (0, 2, 4, 5, 7, 9, 11)
TICKS_PER_S = 960  # 480 ticks per quarter at 120 bpm
# FluidSynth's gain: FluidR3 at 0.5 peaks near the shared sets' TimGM6mb renders (0.1–0.2)
GAIN = 0.5


def melody(rng: np.random.Generator, low: int = 62, high: int = 84) -> list[list[float]]:
    """A random diatonic monophonic line filling CLIP_S less a tail for the last decay:
    ``[start_s, end_s, midi, velocity]`` per note."""
    root = int(rng.integers(12))
    scale = [m for m in range(low, high + 1) if (m - root) % 12 in MAJOR]
    i = int(rng.integers(len(scale)))
    t = float(rng.uniform(0.0, 0.5))
    notes = []
    while True:
        length = float(rng.choice([0.25, 0.375, 0.5, 0.75, 1.0]))
        if t + length > CLIP_S - 1.0:
            return notes
        if rng.random() < 0.1:  # a rest
            t += length
            continue
        i = int(np.clip(i + rng.choice([-3, -2, -1, -1, 1, 1, 2, 3, 0]), 0, len(scale) - 1))
        # played a little short of its slot, as the shared sets' notes are
        notes.append(
            [round(t, 4), round(t + 0.95 * length, 4), scale[i], int(rng.integers(70, 111))]
        )
        t += length


def _varlen(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def midi_file(notes: list[list[float]], program: int) -> bytes:
    """A format-0 standard MIDI file: 120 bpm, one channel, ``program`` (GM, 0-based)."""
    events = [(0, bytes([0xFF, 0x51, 3]) + (500000).to_bytes(3, "big")),
              (0, bytes([0xC0, program]))]  # fmt: skip
    for start, end, pitch, vel in notes:
        events.append((round(start * TICKS_PER_S), bytes([0x90, pitch, vel])))
        events.append((round(end * TICKS_PER_S), bytes([0x80, pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1][0] != 0x80))  # offs before ons at the same tick
    track, now = b"", 0
    for tick, data in events:
        track += _varlen(tick - now) + data
        now = tick
    track += _varlen(0) + bytes([0xFF, 0x2F, 0])
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
            + b"MTrk" + struct.pack(">I", len(track)) + track)  # fmt: skip


def render(
    notes: list[list[float]], program: int, sf2: Path, tmp: Path, gain: float = GAIN
) -> np.ndarray:
    """FluidSynth's rendering of ``notes`` on ``program``: mono float at SR, CLIP_S long."""
    mid, wav = tmp / "m.mid", tmp / "m.wav"
    mid.write_bytes(midi_file(notes, program))
    cmd = [
        "fluidsynth",
        "-ni",
        "-q",
        "-g",
        str(gain),
        "-r",
        str(SR),
        "-F",
        str(wav),
        str(sf2),
        str(mid),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or not wav.exists():
        raise SystemExit(f"instrument_set: fluidsynth failed for program {program}: "
                         f"{done.stderr.strip()}")  # fmt: skip
    y, sr = load_with_rate(wav)  # the stereo render's mean
    if sr != SR:
        raise SystemExit(f"instrument_set: fluidsynth wrote {sr} Hz, expected {SR}")
    n = int(CLIP_S * SR)
    return np.pad(y, (0, max(0, n - len(y))))[:n]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="the set's folder (must not exist)")
    p.add_argument("--prog-a", type=int, required=True, help="GM program of A (0-based)")
    p.add_argument("--prog-b", type=int, required=True, help="GM program of B (0-based)")
    p.add_argument("--sf2", type=Path, default=SF2, help=f"SoundFont (default {SF2})")
    p.add_argument("--train", type=int, default=24, help="training clips per domain")
    p.add_argument("--test", type=int, default=6, help="test pairs")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    problem = cannot_start("instrument_set", args.out, "fluidsynth", "fluidsynth")
    if problem is None and not args.sf2.is_file():
        problem = (f"instrument_set: {args.sf2}: no such SoundFont (apt-get install "
                   "fluid-soundfont-gm, or --sf2 FILE)")  # fmt: skip
    if problem:
        print(problem, file=sys.stderr)
        return 1
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        probe = melody(np.random.default_rng(12345))
        if np.allclose(render(probe, args.prog_a, args.sf2, tmp),
                       render(probe, args.prog_b, args.sf2, tmp), atol=1e-4):  # fmt: skip
            print(f"instrument_set: programs {args.prog_a} and {args.prog_b} render alike; "
                  "no set written", file=sys.stderr)  # fmt: skip
            return 1
        for domain, prog in (("A", args.prog_a), ("B", args.prog_b)):
            for i in range(args.train):
                y = render(melody(rng), prog, args.sf2, tmp)
                save(args.out / "train" / domain / f"{domain}_{i:03d}.flac", y, SR)
        test = {}
        for i in range(args.test):
            notes, name = melody(rng), f"pair_{i:03d}.flac"
            save(args.out / "test" / "A" / name, render(notes, args.prog_a, args.sf2, tmp), SR)
            save(args.out / "test" / "B" / name, render(notes, args.prog_b, args.sf2, tmp), SR)
            test[name] = notes
    meta = {"sf2": args.sf2.name, "sr": SR, "clip_s": CLIP_S, "prog_a": args.prog_a,
            "prog_b": args.prog_b, "seed": args.seed, "test": test}  # fmt: skip
    (args.out / "meta.json").write_text(json.dumps(meta))
    print(
        f"instrument_set: wrote {args.out} ({args.train} + {args.train} train clips, "
        f"{args.test} test pairs; {args.sf2.name}, programs {args.prog_a} → {args.prog_b})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
