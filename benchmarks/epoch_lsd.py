"""Every kept epoch of a run, quickly: its validation score and its LSD to the paired truth.

`quality.py --every-epoch` runs the full evaluation (pitch, target share) on every epoch
checkpoint, ~1.5 min each here. Issue 11's figures need only the score and the LSD, and
often for weights the run did not benchmark (the raw weights of an averaged run): this
scores each ``epoch-NNN.ckpt`` on the run's validation tiles (`rescore.score_checkpoints`,
the numbers `cyclegan-audio score` prints) and translates the set's test/A with
`quality.translate_policies` at translate's default loudness, ~15 s per epoch.

    python benchmarks/epoch_lsd.py RUN_DIR SET_DIR PREPARED --weights raw --out rows.jsonl

``--average-last K`` scores instead each epoch's raw weights averaged with the K - 1 epochs
before it (an average over epoch snapshots, no retraining).

One JSON row per epoch: epoch, weights, score (and its parts), lsd, lsd_gain; then the
run's Spearman(score, LSD), the picked epoch's LSD minus the best, and the second-half
swing (`quality.run_figures`, as the benchmark's tables).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import deque
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import quality as Q  # noqa: E402
from set_layout import missing_test_pairs  # noqa: E402

from cyclegan_audio.errors import CycleGanAudioError  # noqa: E402
from cyclegan_audio.rescore import score_checkpoints  # noqa: E402


def epoch_rows(
    paths: list[Path], set_dir: Path, data: Path, weights: str, scratch: Path
) -> list[dict]:
    """One row per epoch checkpoint in ``paths`` for the ``weights`` ("ema" or "raw")."""
    rows = []
    for cs in score_checkpoints(paths, data, use_ema=weights == "ema"):
        out = scratch / cs.path.stem
        folder = Q.translate_policies(cs.path, set_dir, out, ema=weights == "ema")["model"]
        lsd, lsd_gain = Q._lsd_folder(set_dir, folder)
        rows.append(
            dict(
                set=set_dir.name, system="epoch", ckpt=cs.path.stem, epoch=cs.epoch,
                weights=cs.weights, score_now=cs.result["score"], parts_now=cs.result,
                lsd=lsd, lsd_gain=lsd_gain, loudness="model",
            )
        )  # fmt: skip
    return rows


def average_states(states: list[dict], prefixes: tuple[str, ...] = ("g_ab.", "g_ba.")) -> dict:
    """The first state_dict with each float tensor under ``prefixes`` replaced by its mean over
    ``states`` (the raw generators of several epochs averaged; the rest is the first's)."""
    out = dict(states[0])
    for k, v in out.items():
        if k.startswith(prefixes) and v.is_floating_point():
            out[k] = torch.stack([s[k] for s in states]).mean(0)
    return out


def snapshot_averages(paths: list[Path], k: int, out_dir: Path) -> list[Path]:
    """One checkpoint in ``out_dir`` per epoch e >= k - 1 of ``paths`` (in epoch order) whose raw
    generator weights are the mean of epochs e - k + 1 … e (an average over epoch snapshots,
    computed after training); k checkpoints in memory at a time."""
    out_dir.mkdir(parents=True, exist_ok=True)
    window: deque[dict] = deque(maxlen=k)
    written = []
    for path in paths:
        window.append(torch.load(path, map_location="cpu", weights_only=False))
        if len(window) == k:
            state = average_states([c["state_dict"] for c in window])
            torch.save(dict(window[-1], state_dict=state), out_dir / path.name)
            written.append(out_dir / path.name)
    return written


def summary(rows: list[dict]) -> dict:
    """`quality.run_figures` of the rows (any order), with the picked epoch's number."""
    rows = sorted(rows, key=lambda r: r["epoch"])
    figures = Q.run_figures([r["score_now"] for r in rows], [r["lsd"] for r in rows])
    return dict(figures, picked_epoch=rows[figures.pop("pick")]["epoch"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path, help="a run folder with epoch-NNN.ckpt (--keep-epochs)")
    p.add_argument("set_dir", type=Path, help="the set in the shared layout (test/A, test/B)")
    p.add_argument("prepared", type=Path, help="the prepared tiles the run trained on")
    p.add_argument("--weights", choices=("ema", "raw"), default="raw")
    p.add_argument("--out", type=Path, help="append the rows here (JSON lines)")
    p.add_argument(
        "--average-last",
        type=int,
        default=1,
        metavar="K",
        help="score each epoch's raw weights averaged with the K - 1 epochs before it",
    )
    a = p.parse_args(argv)
    paths = sorted(a.run_dir.glob("epoch-*.ckpt"))
    problem = None
    if not paths:
        problem = f"{a.run_dir}: no epoch-NNN.ckpt (train with --keep-epochs)"
    elif not 1 <= a.average_last <= len(paths):
        problem = f"--average-last {a.average_last}: give 1 to {len(paths)} (the kept epochs)"
    problem = problem or missing_test_pairs(a.set_dir)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory() as tmp:
            weights = a.weights
            if a.average_last > 1:
                paths = snapshot_averages(paths, a.average_last, Path(tmp) / "avg")
                weights = "raw"
            rows = epoch_rows(paths, a.set_dir, a.prepared, weights, Path(tmp))
    except CycleGanAudioError as exc:  # a bad prepared folder or checkpoint: its own line
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for r in rows:
        r.update(run=a.run_dir.name, average_last=a.average_last)
        print(json.dumps({k: v for k, v in r.items() if k != "parts_now"}))
    if a.out:
        with a.out.open("a") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    print(json.dumps(summary(rows)))
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
