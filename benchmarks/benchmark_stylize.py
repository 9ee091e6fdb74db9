#!/usr/bin/env python3
"""Time and score `stylize` on paired test clips (content = domain A, truth = its B twin).

For each pair: content = <data>/test/A/<pair>, style = a clip from <data>/train/B,
ground truth = <data>/test/B/<pair>. Prints wall time, the style (Gram) distance
of the content and of the output after phase reconstruction, pitch agreement
with the content (pYIN) and with the notes in meta.json, and the log-spectral
distance to the ground truth beside the identity's (the content itself).

    OMP_NUM_THREADS=2 python benchmarks/benchmark_stylize.py --data ../shared/data/violin_guitar
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cyclegan_audio import audio  # noqa: E402
from cyclegan_audio.metrics import log_spectral_distance  # noqa: E402
from cyclegan_audio.spec import SpectrogramSpec  # noqa: E402
from cyclegan_audio.style_transfer import (  # noqa: E402
    FAST,
    StyleTransferConfig,
    run_style_transfer,
    style_distance,
)

FMIN_HZ, FMAX_HZ = 65.0, 2100.0
PYIN_HOP = 256


def pitch_track(y: np.ndarray, sr: int) -> np.ndarray:
    """pYIN f0 in Hz per 256-sample hop, NaN where unvoiced."""
    import librosa

    f0, voiced, _ = librosa.pyin(y, fmin=FMIN_HZ, fmax=FMAX_HZ, sr=sr, hop_length=PYIN_HOP)
    return np.where(voiced, f0, np.nan)


def agreement(f0_est: np.ndarray, f0_ref: np.ndarray, cents: float = 50.0) -> float:
    """Fraction of frames voiced in the reference where the estimate is within ``cents``."""
    n = min(len(f0_est), len(f0_ref))
    est, ref = f0_est[:n], f0_ref[:n]
    mask = np.isfinite(ref)
    if not mask.any():
        return float("nan")
    err = np.abs(1200 * np.log2(np.where(np.isfinite(est[mask]), est[mask], 1e-3) / ref[mask]))
    return float(np.mean(err <= cents))


def notes_track(notes: list, n_frames: int, sr: int) -> np.ndarray:
    """meta.json notes [onset_s, offset_s, midi, velocity] -> f0 in Hz per pYIN frame (NaN = rest)."""
    f0 = np.full(n_frames, np.nan)
    t = np.arange(n_frames) * PYIN_HOP / sr
    for onset, offset, midi, _ in notes:
        # skip the attack: the first 50 ms of a bowed note is not yet at pitch
        f0[(t >= onset + 0.05) & (t < offset)] = 440.0 * 2 ** ((midi - 69) / 12)
    return f0


def parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", type=Path, default=Path("../shared/data/violin_guitar"))
    p.add_argument("--pairs", nargs="+", default=["pair_000.flac"])
    p.add_argument("--style", default="B_000.flac", help="clip in <data>/train/B")
    p.add_argument("--fast", action="store_true", help="start from the FAST preset")
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="override StyleTransferConfig fields, e.g. n_filters=1024 n_iter=40",
    )
    p.add_argument("--no-pitch", action="store_true", help="skip pYIN (slow)")
    p.add_argument("--save", type=Path, help="folder for the outputs")
    p.add_argument("--json", type=Path, help="append one JSON line per pair here")
    return p.parse_args(argv)


def config_from(args) -> StyleTransferConfig:
    cfg = FAST if args.fast else StyleTransferConfig()
    types = {f.name: f.type for f in dataclasses.fields(cfg)}
    changes = {}
    for item in args.set:
        name, value = item.split("=", 1)
        kind = types[name]
        if "int" in str(kind) and value != "None":
            changes[name] = int(value)
        elif "float" in str(kind):
            changes[name] = float(value)
        elif "bool" in str(kind):
            changes[name] = value.lower() in ("1", "true", "yes")
        else:
            changes[name] = None if value == "None" else value
    return dataclasses.replace(cfg, **changes)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.manual_seed(0)
    spec = SpectrogramSpec()
    sr = spec.sample_rate
    cfg = config_from(args)
    meta = json.loads((args.data / "meta.json").read_text())
    style = audio.load(args.data / "train" / "B" / args.style, sr)
    print(f"config: {cfg}  threads={torch.get_num_threads()}")
    for pair in args.pairs:
        content = audio.load(args.data / "test" / "A" / pair, sr)
        truth = audio.load(args.data / "test" / "B" / pair, sr)
        cpu0 = time.process_time()
        res = run_style_transfer(content, style, sr, spec=spec, config=cfg, progress=False)
        cpu_s = time.process_time() - cpu0
        row = {
            "pair": pair,
            "style": args.style,
            "seconds": round(res.seconds, 1),
            "cpu_s": round(cpu_s, 1),
            "content_s": round(len(content) / sr, 1),
            "opt_style_loss_first": res.style_loss[0] if res.style_loss else None,
            "opt_style_loss_best": min(res.style_loss) if res.style_loss else None,
            "style_dist_content": style_distance(content, style, spec, cfg),
            "style_dist_output": style_distance(res.y, style, spec, cfg),
            "style_dist_truth": style_distance(truth, style, spec, cfg),
            "phase_convergence_db": res.phase_convergence_db,
            "lsd_output_db": log_spectral_distance(res.y, truth, spec),
            "lsd_identity_db": log_spectral_distance(content, truth, spec),
        }
        if not args.no_pitch:
            f0_content = pitch_track(content, sr)
            f0_out = pitch_track(res.y, sr)
            f0_notes = notes_track(meta["test"][pair], len(f0_content), sr)
            row["pitch_agree_content"] = agreement(f0_out, f0_content)
            row["pitch_agree_notes_output"] = agreement(f0_out, f0_notes)
            row["pitch_agree_notes_content"] = agreement(f0_content, f0_notes)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            audio.save(args.save / f"{Path(pair).stem}.stylized.wav", res.y, sr)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))
        if args.json:
            with args.json.open("a") as f:
                f.write(json.dumps({**row, "config": dataclasses.asdict(cfg)}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
