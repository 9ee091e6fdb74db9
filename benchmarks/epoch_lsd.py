"""Every kept epoch of a run, quickly: its validation score and its LSD to the paired truth.

`quality.py --every-epoch` runs the full evaluation (pitch, target share) on every epoch
checkpoint, ~1.5 min each here. Issue 11's figures need only the score and the LSD, and
often for weights the run did not benchmark (the raw weights of an averaged run): this
scores each ``epoch-NNN.ckpt`` on the run's validation tiles (`rescore.score_checkpoints`,
the numbers `cyclegan-audio score` prints) and translates the set's test/A with
`quality.translate_with` at translate's default loudness, ~15 s per epoch.

    python benchmarks/epoch_lsd.py RUN_DIR SET_DIR PREPARED --weights raw --out rows.jsonl

``--average-last K`` scores instead each epoch's raw weights averaged with the K - 1 epochs
before it (an average over epoch snapshots, no retraining).

One JSON row per epoch: epoch, weights, score (and its parts), lsd, lsd_gain; then the
run's Spearman(score, LSD), the picked epoch's LSD minus the best, and the second-half
swing, as `quality.epoch_summary` computes them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import quality as Q  # noqa: E402

from cyclegan_audio.checkpoint import level_offset_db, load_translation, read_checkpoint  # noqa: E402
from cyclegan_audio.rescore import score_checkpoints  # noqa: E402


def epoch_rows(run_dir: Path, set_dir: Path, data: Path, weights: str, scratch: Path) -> list[dict]:
    """One row per epoch checkpoint of ``run_dir`` for the ``weights`` ("ema" or "raw")."""
    paths = sorted(run_dir.glob("epoch-*.ckpt"))
    rows = []
    for cs in score_checkpoints(paths, data, use_ema=weights == "ema"):
        spec, g, peak_db = load_translation(cs.path, "AtoB", "cpu", ema=weights == "ema")
        offset = level_offset_db(read_checkpoint(cs.path).meta, "AtoB")
        folder = Q.translate_with(g, spec, peak_db, offset, set_dir, scratch / cs.path.stem)
        lsd, lsd_gain = Q._lsd_folder(set_dir, folder["model"])
        rows.append(
            dict(
                run=run_dir.name, set=set_dir.name, system="epoch", ckpt=cs.path.stem,
                epoch=cs.epoch, weights=cs.weights, score_now=cs.result["score"],
                parts_now=cs.result, lsd=lsd, lsd_gain=lsd_gain, loudness="model",
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


def snapshot_averages(run_dir: Path, k: int, out_dir: Path) -> Path:
    """``out_dir`` with one checkpoint per epoch e >= k - 1 whose raw generator weights are the
    mean of epochs e - k + 1 … e (an average over epoch snapshots, computed after training)."""
    paths = sorted(run_dir.glob("epoch-*.ckpt"))
    ckpts = [torch.load(p, map_location="cpu", weights_only=False) for p in paths]
    out_dir.mkdir(parents=True, exist_ok=True)
    for e in range(k - 1, len(paths)):
        states = [c["state_dict"] for c in ckpts[e - k + 1 : e + 1]]
        torch.save(dict(ckpts[e], state_dict=average_states(states)), out_dir / paths[e].name)
    return out_dir


def summary(rows: list[dict]) -> dict:
    """Spearman(score, LSD), picked - best LSD, the picked and last LSD, the 2nd-half swing."""
    rows = sorted(rows, key=lambda r: r["epoch"])
    score, lsd = [r["score_now"] for r in rows], [r["lsd"] for r in rows]
    pick = min(range(len(rows)), key=score.__getitem__)
    half = lsd[len(lsd) // 2 :]
    swing = sum(abs(b - a) for a, b in zip(half, half[1:])) / max(1, len(half) - 1)
    return dict(
        rho=Q._spearman(score, lsd), picked_epoch=rows[pick]["epoch"], picked=lsd[pick],
        best=min(lsd), picked_minus_best=lsd[pick] - min(lsd), last=lsd[-1], swing=swing,
    )  # fmt: skip


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
    if not any(a.run_dir.glob("epoch-*.ckpt")):
        print(f"error: {a.run_dir}: no epoch-NNN.ckpt (train with --keep-epochs)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        run_dir, weights = a.run_dir, a.weights
        if a.average_last > 1:
            run_dir, weights = (
                snapshot_averages(a.run_dir, a.average_last, Path(tmp) / "avg"),
                "raw",
            )
        rows = epoch_rows(run_dir, a.set_dir, a.prepared, weights, Path(tmp))
    for r in rows:
        r.update(run=a.run_dir.name, average_last=a.average_last)
    for r in rows:
        print(json.dumps({k: v for k, v in r.items() if k != "parts_now"}))
    if a.out:
        with a.out.open("a") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    print(json.dumps(summary(rows)))
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
