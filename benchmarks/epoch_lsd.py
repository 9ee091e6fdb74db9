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

``--level`` adds where each epoch's level lies: ``gain_db``, the mean over the test clips of
the global gain that would minimise the LSD (``gain_db_clips`` each; negative = the
translation is too loud), and ``val_level_db``, the log-mean level (dB over every pixel) of
the run's validation A tiles translated, minus that of the real validation B tiles. The
summary then fits gain_db = slope * val_level_db + intercept over the epochs: a slope near
-1 with a small residual says the epochs' level errors are the level the generator jumps to
on every tile, and the intercept is what a calibration to the real B tiles would still miss
(docs/validation-score.md, "The level the generator jumps to").

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

import numpy as np
import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import quality as Q  # noqa: E402
from set_layout import missing_test_pairs  # noqa: E402

from cyclegan_audio import metrics as M  # noqa: E402
from cyclegan_audio import spectrogram as S  # noqa: E402
from cyclegan_audio.checkpoint import load_translator  # noqa: E402
from cyclegan_audio.data import TileDataModule  # noqa: E402
from cyclegan_audio.errors import CycleGanAudioError  # noqa: E402
from cyclegan_audio.rescore import score_checkpoints, val_tiles  # noqa: E402
from cyclegan_audio.spec import SpectrogramSpec  # noqa: E402


def epoch_rows(
    paths: list[Path], set_dir: Path, data: Path, weights: str, scratch: Path, level: bool = False
) -> list[dict]:
    """One row per epoch checkpoint in ``paths`` for the ``weights`` ("ema" or "raw"); with
    ``level`` the row has the epoch's best gains and validation level too (module doc)."""
    rows = []
    if level:  # the tiles validation scores, read once
        real_a, real_b = val_tiles(TileDataModule(data, num_workers=0, n_val_tiles=32), 32)
    for cs in score_checkpoints(paths, data, use_ema=weights == "ema"):
        t = load_translator(cs.path, "AtoB", "cpu", ema=weights == "ema")
        out = scratch / cs.path.stem
        folder = Q.translate_with(
            t.generator, t.spec, t.input_peak_db, t.level_offset_db, set_dir, out
        )["model"]
        lsd, lsd_gain = Q._lsd_folder(set_dir, folder)
        rows.append(
            dict(
                set=set_dir.name, system="epoch", ckpt=cs.path.stem, epoch=cs.epoch,
                weights=cs.weights, score_now=cs.result["score"], parts_now=cs.result,
                lsd=lsd, lsd_gain=lsd_gain, loudness="model",
            )
        )  # fmt: skip
        if level:
            gains = best_gains_db(set_dir, folder)
            rows[-1].update(
                gain_db=float(np.mean(gains)),
                gain_db_clips=gains,
                val_level_db=val_level_db(t.generator, t.spec, real_a, real_b),
            )
    return rows


def log_mean_db(tiles: torch.Tensor, spec: SpectrogramSpec) -> float:
    """The mean dB over every pixel of tiles (N, 1, F, T) on [-1, 1]: their log-mean level."""
    return float(S.unit_to_db(S.model_to_unit(tiles.double()), spec).mean())


@torch.no_grad()
def val_level_db(
    generator: torch.nn.Module, spec: SpectrogramSpec, real_a: torch.Tensor, real_b: torch.Tensor
) -> float:
    """`log_mean_db` of validation A tiles (N, 1, F, T) translated by an A -> B ``generator``,
    minus that of the real validation B tiles."""
    fake = torch.cat([generator(real_a[i : i + 8]) for i in range(0, len(real_a), 8)])
    return log_mean_db(fake, spec) - log_mean_db(real_b, spec)


def best_gains_db(set_dir: Path, folder: Path) -> list[float]:
    """Per test clip (test/B's names, in order): the global gain (dB) on ``folder``'s file that
    minimises its LSD to the truth (`metrics.log_spectral_distance_best_gain`)."""
    gains = []
    for y, truth, sr in Q.truth_pairs(set_dir, folder):
        gain = M.log_spectral_distance_best_gain(y, truth, SpectrogramSpec(sample_rate=sr))[1]
        gains.append(round(gain, 2))  # found on a 0.1 dB grid
    return gains


def level_summary(rows: list[dict]) -> dict:
    """How the epochs' best gains follow their validation level (rows with ``gain_db`` and
    ``val_level_db``): Spearman, the least-squares line and its residual (dB), the gains'
    spread between the clips of one epoch and between epochs."""
    gain = np.array([r["gain_db"] for r in rows], dtype=float)
    level = np.array([r["val_level_db"] for r in rows], dtype=float)
    slope, intercept = np.polyfit(level, gain, 1)
    return dict(
        level_rho=float(spearmanr(level, gain)[0]),
        level_slope=float(slope),
        level_intercept_db=float(intercept),
        level_residual_db=float(np.std(gain - (slope * level + intercept))),
        gain_within_epoch_db=float(np.mean([np.std(r["gain_db_clips"]) for r in rows])),
        gain_between_epochs_db=float(np.std(gain)),
    )


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
    p.add_argument(
        "--level",
        action="store_true",
        help="add each epoch's best gains and validation level, and their fit (module doc)",
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
            rows = epoch_rows(paths, a.set_dir, a.prepared, weights, Path(tmp), a.level)
    except CycleGanAudioError as exc:  # a bad prepared folder or checkpoint: its own line
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for r in rows:
        r.update(run=a.run_dir.name, average_last=a.average_last)
        print(json.dumps({k: v for k, v in r.items() if k != "parts_now"}))
    if a.out:
        with a.out.open("a") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    figures = summary(rows)
    if a.level and len(rows) >= 2:
        figures.update(level_summary(rows))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
