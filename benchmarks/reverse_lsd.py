"""LSD of the other direction (B -> A) for every epoch checkpoint of a run.

The quality benchmark measures A -> B (test/A translated, against test/B); the validation
score judges both directions. This translates test/B with each epoch's B -> A generator
(averaged and raw weights, loudness ``model``) and measures it against test/A, one JSON
line per checkpoint and weights, so a score can be checked against both directions.

    python benchmarks/reverse_lsd.py /tmp/q/runs/cello_marimba-ema-s0-e20 \\
        ../shared/data/cello_marimba /tmp/q/reverse-lsd.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import _lsd_pair  # noqa: E402

from cyclegan_audio.audio import find_audio_files, load_with_rate  # noqa: E402
from cyclegan_audio.checkpoint import load_translation, read_checkpoint  # noqa: E402
from cyclegan_audio.ema import has_average  # noqa: E402
from cyclegan_audio.inference import translate_signal  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path, help="a run folder with epoch-NNN.ckpt files")
    p.add_argument("set_dir", type=Path, help="the set (test/A and test/B, same names)")
    p.add_argument("out", type=Path, help="JSON lines; checkpoints already in it are skipped")
    args = p.parse_args(argv)
    done = set()
    if args.out.is_file():
        done = {(r["ckpt"], r["weights"]) for r in map(json.loads, args.out.open())}
    tests = []
    for src in find_audio_files(args.set_dir / "test/B"):
        truth = args.set_dir / "test/A" / src.relative_to(args.set_dir / "test/B")
        tests.append((load_with_rate(src), load_with_rate(truth)))
    for ckpt in sorted(args.run_dir.glob("epoch-*.ckpt")):
        averaged = has_average(read_checkpoint(ckpt).state_dict)
        for weights in ("ema", "raw") if averaged else ("raw",):
            if (ckpt.name, weights) in done:
                continue
            spec, g, peak_db = load_translation(ckpt, "BtoA", "cpu", ema=weights == "ema")
            lsd = [
                _lsd_pair(
                    translate_signal(y, sr, g, spec, loudness="model", input_peak_db=peak_db),
                    truth,
                    sr_truth,
                )
                for (y, sr), (truth, sr_truth) in tests
            ]
            mean, mean_gain = (float(v) for v in np.mean(lsd, axis=0))
            row = dict(run=args.run_dir.name, ckpt=ckpt.name, epoch=int(ckpt.stem.split("-")[-1]),
                       weights=weights, lsd_ba=mean, lsd_gain_ba=mean_gain)  # fmt: skip
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"{ckpt.name} {weights}: LSD B->A {mean:.2f} dB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
