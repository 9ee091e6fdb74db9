"""Translate's tile hop and window, screened on saved checkpoints: the LSD to the paired truth.

`translate` runs the generator on overlapping tiles and blends them with a raised-cosine
window; the design's hop was half a tile, translate's default since session 16 is a quarter
(stitching.DEFAULT_TILE_OVERLAP). A smaller hop runs the generator on more tiles and averages
more of them per frame (against the half tile: 2x the generator passes at a quarter tile, 4x
at an eighth; Griffin-Lim's cost is unchanged). For each checkpoint and each hop this translates the set's
test/A at translate's default loudness and prints the mean LSD, and the LSD after the best
global gain, against test/B; with ``--evaluate`` also `evaluate`'s pitch accuracy (against
the set's notes when it has them) and target share (its classifier on train/A vs train/B),
as the quality benchmark scores a run.

    python benchmarks/tile_hop.py SET_DIR CKPT [CKPT ...] --divisors 2 4 8 --weights raw --out rows.jsonl
    python benchmarks/tile_hop.py SET_DIR CKPT --divisors 2 4 --evaluate   # + pitch, share

``--divisors``: the hop is the window's frames divided by each (2 = half a window, 4 =
today's default). ``--windows``: the tiles the generator hears at once (translate's
``--window-tiles``; 1 = the training tile, a checkpoint's own otherwise), one row per window
and divisor:

    python benchmarks/tile_hop.py SET_DIR CKPT --divisors 4 --windows 1 2 4 --evaluate
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import quality as Q  # noqa: E402
from set_layout import missing_test_pairs  # noqa: E402

from cyclegan_audio.checkpoint import load_translator  # noqa: E402
from cyclegan_audio.errors import CycleGanAudioError  # noqa: E402
from cyclegan_audio.stitching import window_frames  # noqa: E402


def hop_rows(
    ckpt: Path,
    set_dir: Path,
    divisors: list[int],
    weights: str,
    scratch: Path,
    evaluate: bool = False,
    windows: tuple[int, ...] = (1,),
) -> list[dict]:
    """One row per window and divisor: the checkpoint's mean (LSD, LSD after the best gain)
    over the set's test pairs, translated at loudness "model" with the generator on windows of
    ``window`` tiles, a hop of window_frames // divisor apart (`quality.translate_with`, files
    under ``scratch``; ``seconds`` includes writing them); ``evaluate``: also the pitch
    accuracy and target share of `quality._evaluate` (seed 0)."""
    t = load_translator(ckpt, "AtoB", "cpu", ema=weights == "ema")
    rows = []
    for window in windows:
        for div in divisors:
            hop = max(1, window_frames(t.spec, window) // div)
            start = time.perf_counter()
            folder = Q.translate_with(
                t.generator, t.spec, t.input_peak_db, t.level_offset_db, set_dir,
                scratch / f"{ckpt.stem}-w{window}-{div}", hop_frames=hop, window_tiles=window,
            )["model"]  # fmt: skip
            seconds = round(time.perf_counter() - start, 1)
            lsd, lsd_gain = Q._lsd_folder(set_dir, folder)
            row = dict(
                ckpt=str(ckpt), set=set_dir.name, weights=weights, window_tiles=window,
                divisor=div, hop_frames=hop, lsd=lsd, lsd_gain=lsd_gain, loudness="model",
                seconds=seconds,
            )  # fmt: skip
            if evaluate:
                m = Q._evaluate(set_dir, folder, folder.parent / f"eval-w{window}-{div}", 0)
                m = m["mean"]["model"]
                row.update(pitch=m["pitch_accuracy"], share=m["target_share"])
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("set_dir", type=Path, help="the set in the shared layout (test/A, test/B)")
    p.add_argument("ckpts", type=Path, nargs="+", help="checkpoints to translate with")
    p.add_argument("--divisors", type=int, nargs="+", default=[2, 4])
    p.add_argument("--windows", type=int, nargs="+", default=[1], help="tiles per window")
    p.add_argument("--weights", choices=("ema", "raw"), default="raw")
    p.add_argument("--out", type=Path, help="append the rows here (JSON lines)")
    p.add_argument(
        "--evaluate",
        action="store_true",
        help="also pitch accuracy and target share (needs train/A, train/B)",
    )
    a = p.parse_args(argv)
    problem = missing_test_pairs(a.set_dir)
    if not problem and a.evaluate:
        missing = [d for d in ("train/A", "train/B") if not (a.set_dir / d).is_dir()]
        if missing:
            problem = f"{a.set_dir}: --evaluate needs {' and '.join(missing)} (the target-share classifier)"
    for flag, values in (("--divisors", a.divisors), ("--windows", a.windows)):
        if not problem and any(v < 1 for v in values):
            problem = f"{flag} {' '.join(map(str, values))}: each must be 1 or more"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    for ckpt in a.ckpts:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                rows = hop_rows(
                    ckpt, a.set_dir, a.divisors, a.weights, Path(tmp), a.evaluate, a.windows
                )
        except CycleGanAudioError as exc:  # a missing or damaged checkpoint: its own line
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for r in rows:
            print(json.dumps(r), flush=True)
        if a.out:
            with a.out.open("a") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
