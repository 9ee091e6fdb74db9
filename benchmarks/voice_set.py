#!/usr/bin/env python3
"""Render a male -> female synthetic voice set with espeak-ng, in the development sets' layout.

    python benchmarks/voice_set.py /tmp/q/speech_mf          # needs espeak-ng on PATH
    python benchmarks/voice_set.py /tmp/q/speech_m3f4 --voice-a en+m3 --voice-b en+f4 --seed 1

Why: the shared ``speech_gb`` set is degenerate. espeak-ng 1.51 ignores a variant after a
language *with a region* (``en-gb+f2`` renders exactly as ``en-gb``), so its "female" clips
are the male ones byte for byte. A variant after a plain language works (``en+f2``: median
pitch ~198 Hz against ``en+m1``'s ~95 Hz). This script renders with the working names and
refuses to write a set whose two voices render alike.

Layout (as ``../shared/data``'s README): 20 s mono FLAC at 22,050 Hz; ``train/A``,
``train/B`` with different sentences in every clip; ``test/A``, ``test/B`` pairs with the
same sentences and file names; ``meta.json`` with ``test`` notes ``null`` (speech). A test
pair is aligned sentence by sentence: each sentence is padded with silence to the longer of
its two renderings, so the voices' different speaking durations do not accumulate.
"""

from __future__ import annotations

import argparse
import json
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
VOICE_A, VOICE_B = "en+m1", "en+f2"
GAP_S = 0.3  # silence between sentences

# The word classes, exactly as the measured set (docs/quality.md) was rendered: a few words
# sit in an odd class ("cold" a noun, "today" a preposition); the sentences only need to be
# varied speech, and changing a list changes every clip.
DETERMINERS = ("the", "a", "one", "every", "this")
ADJECTIVES = tuple("red green blue small large old new quick slow bright dark warm".split())
NOUNS = tuple(
    ("cold river mountain garden window table letter morning evening city village forest "
     "ocean teacher doctor farmer singer painter driver child friend mother father").split()
)  # fmt: skip
VERBS = tuple(
    "neighbour walks runs sings reads writes finds brings keeps opens closes carries follows".split()
)
ADVERBS = tuple("watches quietly loudly often never always slowly gladly early late".split())
PREPS = tuple("today tomorrow under over near behind across through".split())


def sentence(rng: np.random.Generator) -> str:
    """A random simple sentence: det adj noun verb (adv) prep det noun."""
    pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
    words = [pick(DETERMINERS), pick(ADJECTIVES), pick(NOUNS), pick(VERBS)]
    if rng.random() < 0.5:
        words.append(pick(ADVERBS))
    words += [pick(PREPS), pick(DETERMINERS), pick(ADJECTIVES), pick(NOUNS)]
    return " ".join(words)


def render(text: str, voice: str, tmp: Path, wpm: int = 150) -> np.ndarray:
    """espeak-ng's rendering of ``text`` at 22,050 Hz, float mono."""
    wav = tmp / "s.wav"
    cmd = ["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(wav), text]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"voice_set: espeak-ng failed for voice {voice!r}: {done.stderr.strip()}")
    y, sr = load_with_rate(wav)
    if sr != SR:
        raise SystemExit(f"espeak-ng wrote {sr} Hz, expected {SR}")
    return y.astype(np.float32)


def clip(sentences: list[np.ndarray]) -> np.ndarray:
    """Sentences joined by GAP_S of silence, cut or zero-padded to CLIP_S."""
    gap = np.zeros(int(GAP_S * SR), np.float32)
    y = np.concatenate([part for s in sentences for part in (s, gap)])
    n = int(CLIP_S * SR)
    return np.pad(y, (0, max(0, n - len(y))))[:n]


def sentences_for(rng, voices: tuple[str, ...], tmp: Path) -> list[list[np.ndarray]]:
    """Enough sentences for one clip, each rendered in every voice and padded to the longest
    rendering of that sentence; one list of sentences per voice."""
    out: list[list[np.ndarray]] = [[] for _ in voices]
    total = 0.0
    while total < CLIP_S:
        text = sentence(rng)
        ys = [render(text, v, tmp) for v in voices]
        n = max(len(y) for y in ys)
        for o, y in zip(out, ys):
            o.append(np.pad(y, (0, n - len(y))))
        total += n / SR + GAP_S
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="the set's folder (must not exist)")
    p.add_argument("--train", type=int, default=16, help="training clips per domain")
    p.add_argument("--test", type=int, default=4, help="test pairs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--voice-a", default=VOICE_A, help="espeak-ng voice of domain A (source)")
    p.add_argument("--voice-b", default=VOICE_B, help="espeak-ng voice of domain B (target)")
    args = p.parse_args(argv)
    voice_a, voice_b = args.voice_a, args.voice_b
    problem = cannot_start("voice_set", args.out, "espeak-ng", "espeak-ng")
    if problem:
        print(problem, file=sys.stderr)
        return 1
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        probe = "a quick test of both voices"
        if np.array_equal(render(probe, voice_a, tmp), render(probe, voice_b, tmp)):
            print(
                f"voice_set: {voice_a} and {voice_b} render alike; no set written", file=sys.stderr
            )
            return 1
        for domain, voice in (("A", voice_a), ("B", voice_b)):
            for i in range(args.train):
                (s,) = sentences_for(rng, (voice,), tmp)
                save(args.out / "train" / domain / f"{domain}_{i:03d}.flac", clip(s), SR)
        names = []
        for i in range(args.test):
            sa, sb = sentences_for(rng, (voice_a, voice_b), tmp)
            name = f"pair_{i:03d}.flac"
            save(args.out / "test" / "A" / name, clip(sa), SR)
            save(args.out / "test" / "B" / name, clip(sb), SR)
            names.append(name)
    meta = {"sr": SR, "clip_s": CLIP_S, "voice_a": voice_a, "voice_b": voice_b,
            "espeak_ng": subprocess.run(["espeak-ng", "--version"], capture_output=True,
                                        text=True).stdout.strip(),
            "test": {n: None for n in names}}  # fmt: skip
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1))
    print(f"voice_set: wrote {args.out} ({args.train} + {args.train} train clips, "
          f"{args.test} test pairs)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
