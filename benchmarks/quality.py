#!/usr/bin/env python3
"""Quality benchmark: prepare -> train (fixed budget) -> translate -> evaluate, per set and seed.

    python benchmarks/quality.py --sets ../shared/data/* --config baseline --seeds 0 1
    python benchmarks/quality.py --summary docs/quality/results.jsonl

A set is a folder with ``train/A``, ``train/B``, ``test/A``, ``test/B`` (paired test files
with the same names) and optionally ``meta.json`` with the test notes (see the development
data's README). For every set and seed it appends rows to ``--results`` (JSON lines):

- ``identity``: the untouched source against the paired truth;
- ``ceiling``: the truth itself through this spec's tiles and Griffin-Lim (the best any
  model at this spec can reach);
- ``model`` for ``best.ckpt`` (by val score) and ``last.ckpt``, once per output-level policy
  (``--loudness``: input, domain, model);

each with pitch accuracy, target share, LSD and LSD after the best global gain (dB), plus the
run's wall time and generator steps. Every quality figure in docs/quality.md comes from here.
Runs at one thread per process by default (``OMP_NUM_THREADS``), so two can share two cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cyclegan_audio import metrics as M  # noqa: E402
from cyclegan_audio.audio import find_audio_files, load, load_with_rate, save  # noqa: E402
from cyclegan_audio.checkpoint import load_translator, read_checkpoint  # noqa: E402
from cyclegan_audio.cli.prepare import main as prepare_main  # noqa: E402
from cyclegan_audio.ema import has_average  # noqa: E402
from cyclegan_audio.evaluation import EvalConfig, evaluate  # noqa: E402
from cyclegan_audio.inference import (  # noqa: E402
    LOUDNESS_POLICIES,
    TranslateOptions,
    output_gain,
    translate_signal,  # noqa: E402
)
from cyclegan_audio.loudness import integrated_loudness  # noqa: E402
from cyclegan_audio.model import TrainConfig  # noqa: E402
from cyclegan_audio.networks import REFERENCE_OPTIONS, NetworkConfig  # noqa: E402
from cyclegan_audio.presets import preset  # noqa: E402
from cyclegan_audio.spec import SpectrogramSpec  # noqa: E402
from cyclegan_audio.training import RunConfig, run_training  # noqa: E402

# The cpu preset's network sizes when the configs below were named and measured: pinned, so
# that a config keeps its meaning when the preset's own sizes change.
CPU_NET = {"ngf": 8, "ndf": 8, "n_blocks": 3}


def _config(
    base: str,
    ema_decay: float = 0.0,
    spec: dict | None = None,
    run: dict | None = None,
    train: dict | None = None,
    **net,
) -> dict:
    """A preset with the audio-aware options pinned: the reference's, overridden by ``net``
    (the library's defaults may change; a config's meaning must not); ``run``: RunConfig
    fields (e.g. measure_register); ``train``: TrainConfig fields."""
    c = preset(base)
    c["run"] = dict(run or {})
    c["spec"].update(spec or {})
    c["net"].update({**REFERENCE_OPTIONS, **(CPU_NET if base == "cpu" else {}), **net})
    c["train"]["ema_decay"] = ema_decay  # pinned: the library default may change
    c["train"]["average_epochs"] = 0
    c["train"].update(  # pinned too
        lambda_cycle=10.0, lambda_identity=0.5, cycle_noise_db=0.0, lambda_pitch=0.0
    )
    c["train"].update(train or {})
    return c


SPEC_22K = {"sample_rate": 22050, "n_fft": 254, "hop_length": 172, "tile_frames": 128}
# the same tile length and hop in seconds with the cpu preset's 43 Hz bins over the full band
SPEC_22K_256 = {"sample_rate": 22050, "n_fft": 510, "hop_length": 172, "tile_frames": 128}
# 16,000 Hz: the cpu preset's tile size and hop in seconds, 63 Hz bins up to 8 kHz (a
# trumpet's upper harmonics kept; ceilings within 2 dB of the default on the instruments)
SPEC_16K = {"sample_rate": 16000, "n_fft": 254, "hop_length": 125, "tile_frames": 128}
# full band on a log-frequency axis (spec.freq_scale "log"): the cpu preset's tile size
# (128 rows, ~15 per octave from 32.7 Hz) and twice its height (256 rows, ~30 per octave)
SPEC_LOG_128 = {"sample_rate": 22050, "n_fft": 1022, "hop_length": 172, "tile_frames": 128,
                "freq_scale": "log", "n_bins": 128}  # fmt: skip
SPEC_LOG_256 = dict(SPEC_LOG_128, n_bins=256)
AUDIO = {"freq_position": True, "dilation_cycle": 3, "discriminator": "patch+freq"}


# the cpu preset's loss weights (since session 9), and its full-band branch for a bright
# target (since session 14: 22,050 Hz, 256x128 tiles, lr 4e-4): configs built on today's presets
PRESET_TRAIN = {"lambda_cycle": 5.0, "lambda_pitch": 1.0}


def _preset(ema_decay: float = 0.0, bright: bool = False, train: dict | None = None, **net) -> dict:
    """Today's `cpu` preset (``bright``: its full-band branch) with ``train`` / ``net``
    overrides."""
    if bright:
        return _config(
            "cpu", ema_decay, spec=SPEC_22K_256, train={**PRESET_TRAIN, "lr": 4e-4, **(train or {})},
            **net,
        )  # fmt: skip
    return _config("cpu", ema_decay, train={**PRESET_TRAIN, **(train or {})}, **net)


def _cpu_voice(train: dict | None = None, ema_decay: float = 0.0, **net) -> dict:
    """The cpu-voice preset's recipe (log-256 tiles, the measured register move with the
    envelope kept, ``log-256-reg-env``), with ``train`` / ``net`` overrides."""
    return _config(
        "cpu", ema_decay=ema_decay, spec=SPEC_LOG_256, run={"measure_register": True},
        train=train, **{"register_envelope": 200.0, **net},
    )  # fmt: skip


# name -> {"spec", "net", "train"} overrides. "baseline" is the README's CPU recipe.
CONFIGS: dict[str, dict] = {
    "baseline": _config("cpu"),
    "freqpos": _config("cpu", freq_position=True),
    "dilated": _config("cpu", dilation_cycle=3),
    "freqdisc": _config("cpu", discriminator="patch+freq"),
    "audio": _config("cpu", **AUDIO),
    "ema": _config("cpu", ema_decay=0.999),
    # CycleGAN-VC2's 2-1-2D generator (generator_212d.py) with the reference discriminator
    "vc2": _config("cpu", generator="212d"),
    # the same with 1-D blocks as wide as half the folded spectrum (256 = 32 ngf at the preset)
    "vc2-wide": _config("cpu", generator="212d", width_1d=32),
    # the same tiles' size and hop in seconds, over the full band (22,050 Hz, 86 Hz bins)
    "baseline-22k": _config("cpu", spec=SPEC_22K),
    "baseline-22k-256": _config("cpu", spec=SPEC_22K_256),
    # the reference CycleGAN's depth (6 residual blocks, ~1.8x the parameters) at the cpu sizes
    "blocks6": _config("cpu", n_blocks=6),
    "log-128": _config("cpu", spec=SPEC_LOG_128),
    "log-256": _config("cpu", spec=SPEC_LOG_256),
    "log-256-ema": _config("cpu", ema_decay=0.999, spec=SPEC_LOG_256),
    # The register measured on the training tiles (--measure-register): voices.
    "log-256-reg": _config("cpu", spec=SPEC_LOG_256, run={"measure_register": True}),
    # ... moving the harmonics only: the envelope (200 Hz smoothing) stays, as formants do.
    "log-256-reg-env": _cpu_voice(),
    # the cycle reconstructs through a noise floor 60 dB below each tile's peak
    "cyclenoise60": _config("cpu", train={"cycle_noise_db": 60.0}),
    # a lighter cycle-consistency weight (the reference's 10; identity stays half of it)
    "cycle5": _config("cpu", train={"lambda_cycle": 5.0}),
    "cycle2.5": _config("cpu", train={"lambda_cycle": 2.5}),
    "log-256-reg-env-cycle5": _cpu_voice(train={"lambda_cycle": 5.0}),
    "cycle5-pitch": _config("cpu", train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}),
    "log-256-reg-env-cycle5-pitch": _cpu_voice(train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}),
    # the identity term off (CycleGAN-VC keeps it only for its first 10k iterations)
    "cycle5-pitch-noid": _config(
        "cpu", train={"lambda_cycle": 5.0, "lambda_pitch": 1.0, "lambda_identity": 0.0}
    ),
    "log-256-reg-env-cycle5-pitch-noid": _cpu_voice(
        train={"lambda_cycle": 5.0, "lambda_pitch": 1.0, "lambda_identity": 0.0}
    ),
    # today's cpu preset with a whole-tile (127-frame) spectrum judge beside the PatchGAN
    "cycle5-pitch-long": _config(
        "cpu", discriminator="patch+long", train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}
    ),
    "log-256-reg-env-long": _cpu_voice(discriminator="patch+long"),
    # today's presets with a generator that outputs a change to its input (--residual)
    "cycle5-pitch-res": _config(
        "cpu", residual=True, train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}
    ),
    "log-256-reg-env-res": _cpu_voice(residual=True),
    # today's cpu preset at 16,000 Hz
    "cycle5-pitch-16k": _config(
        "cpu", spec=SPEC_16K, train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}
    ),
    # the pitch term three times as heavy: the melody held harder (cello, clarinet < 0.97)
    "cycle5-pitch3": _config("cpu", train={"lambda_cycle": 5.0, "lambda_pitch": 3.0}),
    # the cpu preset with dilated residual blocks (1, 2, 4): the generator's view (norms
    # aside) grows from 69 to 101 frames (0.54 -> 0.79 s), so a frame later in a note sees
    # its onset (the error anatomy: late in notes the struck targets come out too loud)
    "cycle5-pitch-dil": _config(
        "cpu", dilation_cycle=3, train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}
    ),
    # the cpu preset over the full band at its 43 Hz bins (22,050 Hz, n_fft 510: 256x128
    # tiles, 2x the cost): a target whose upper harmonics the 11,025 Hz spec cuts (trumpet)
    "cycle5-pitch-22k-256": _config(
        "cpu", spec=SPEC_22K_256, train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}
    ),
    # session 13's screens, each on the spec prepare chooses per pair (the narrow cpu tiles
    # for violin and cello, the full band for the trumpet): twice the learning rate (4e-4:
    # more progress per step at the same cost)
    "cycle5-pitch-lr4": _config(
        "cpu", train={"lambda_cycle": 5.0, "lambda_pitch": 1.0, "lr": 4e-4}
    ),
    "cycle5-pitch-22k-256-lr4": _config(
        "cpu", spec=SPEC_22K_256, train={"lambda_cycle": 5.0, "lambda_pitch": 1.0, "lr": 4e-4}
    ),
    # generator normalisation that keeps the input tile's level (networks.GEN_NORMS): the
    # reference's instance norm makes G(a*x + b) = G(x), a quiet tile translated as a loud one
    "cycle5-pitch-gnfirst": _config(
        "cpu", gen_norm="first", train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}
    ),
    "cycle5-pitch-22k-256-gnfirst": _config(
        "cpu",
        gen_norm="first",
        spec=SPEC_22K_256,
        train={"lambda_cycle": 5.0, "lambda_pitch": 1.0},
    ),  # fmt: skip
    "cycle5-pitch-gnnone": _config(
        "cpu", gen_norm="none", train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}
    ),
    "cycle5-pitch-22k-256-gnnone": _config(
        "cpu", gen_norm="none", spec=SPEC_22K_256, train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}
    ),
    # both: the level-keeping generator at twice the learning rate
    "cycle5-pitch-gnfirst-lr4": _config(
        "cpu", gen_norm="first", train={"lambda_cycle": 5.0, "lambda_pitch": 1.0, "lr": 4e-4}
    ),
    # the generator's downsampling halves time only (networks.NetworkConfig.freq_downsampling):
    # every 43 Hz row kept to the bottleneck, where two halvings leave 172 Hz rows
    "cycle5-pitch-fd0": _config(
        "cpu", freq_downsampling=0, train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}
    ),
    "cycle5-pitch-22k-256-fd0": _config(
        "cpu",
        freq_downsampling=0,
        spec=SPEC_22K_256,
        train={"lambda_cycle": 5.0, "lambda_pitch": 1.0},
    ),  # fmt: skip
    # session 14: a discriminator twice as wide (ndf 16; the preset's 8 is the reference's
    # 64 cut by eight, as the generator): a sharper judge of the harmonics' placement, the
    # error that remains (session 13: right loudness, wrong contrast)
    "cycle5-pitch-ndf16": _config("cpu", ndf=16, train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}),
    # resize-then-convolve upsampling in the generator (--upsample resize) instead of the
    # reference's stride-2 transposed convolutions, whose uneven overlap leaves a period-2
    # pattern on both axes: the grainy texture between harmonics in the translations
    "cycle5-pitch-resize": _config(
        "cpu", upsample="resize", train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}
    ),
    "cycle5-pitch-22k-256-resize": _config(
        "cpu",
        upsample="resize",
        spec=SPEC_22K_256,
        train={"lambda_cycle": 5.0, "lambda_pitch": 1.0},
    ),
    # the same on the full band at its own learning rate (the cpu preset for a bright target
    # since session 14)
    "cycle5-pitch-22k-256-lr4-resize": _config(
        "cpu",
        upsample="resize",
        spec=SPEC_22K_256,
        train={"lambda_cycle": 5.0, "lambda_pitch": 1.0, "lr": 4e-4},
    ),  # fmt: skip
    # the cpu-voice preset's recipe with resize upsampling
    "log-256-reg-env-resize": _cpu_voice(upsample="resize"),
    # today's presets (cpu, cpu-voice) with the generator weight average: issue 11's runs
    "cycle5-pitch-ema": _config(
        "cpu", ema_decay=0.999, train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}
    ),
    "log-256-reg-env-ema": _cpu_voice(ema_decay=0.999),
    # a shorter average (time constant ~200 steps, half an epoch of an instrument set at
    # 20 epochs): does it keep the raw weights' good epochs (issue 11, session 15)?
    "cycle5-pitch-ema995": _config(
        "cpu", ema_decay=0.995, train={"lambda_cycle": 5.0, "lambda_pitch": 1.0}
    ),
    # the full band's preset (lr 4e-4) with the 0.999 average: the raw weights' score misranks
    # its epochs (Spearman 0.59 / -0.04, session 15); does the average steady them?
    "cycle5-pitch-22k-256-lr4-ema": _preset(ema_decay=0.999, bright=True),
    # session 17: a generator twice as wide (ngf 16: 269,377 parameters against the preset's
    # 67,873), on each spec's preset: the one lever of the network's size never screened (the
    # budget of an hour on 2 cores leaves room for it; trained 1.5-1.9x as long here)
    "cycle5-pitch-ngf16": _preset(ngf=16),
    "cycle5-pitch-22k-256-lr4-ngf16": _preset(bright=True, ngf=16),
    # ... and twice as deep instead (6 residual blocks, the reference's depth at 128 px; the
    # blocks run at a quarter of the tile's size, so it costs less than the width), after the
    # wider one lost on violin and clarinet
    "cycle5-pitch-blocks6": _preset(n_blocks=6),
    "cycle5-pitch-22k-256-lr4-blocks6": _preset(bright=True, n_blocks=6),
    # session 18: depth won on the first three runs. It lengthens what one output frame hears
    # (the generator's receptive field over time: 69 frames with 3 blocks, 117 with 6, at
    # 7.8 ms a frame), and the tails the anatomy found too loud lie beyond 0.5 s. Further:
    # 9 blocks (165 frames), or a third stride-2 convolution that halves time only (133
    # frames with 3 blocks: the blocks run on half the frames at twice the width)
    "cycle5-pitch-blocks9": _preset(n_blocks=9),
    "cycle5-pitch-22k-256-lr4-blocks9": _preset(bright=True, n_blocks=9),
    "cycle5-pitch-down3": _preset(n_downsampling=3, freq_downsampling=2),
    "cycle5-pitch-22k-256-lr4-down3": _preset(bright=True, n_downsampling=3, freq_downsampling=2),
    "log-256-reg-env-blocks6": _cpu_voice(n_blocks=6),
    # session 20: the 6-block preset translating the mean of the raw generator weights at the
    # ends of the last 3 epochs (stochastic weight averaging, --average-epochs 3); the raw
    # weights train exactly as the preset's. Session 15's snapshot averages of 3 epochs
    # (benchmarks/epoch_lsd.py --average-last 3) ended lower on 3 of 4 raw runs
    "cycle5-pitch-blocks6-avg3": _preset(n_blocks=6, train={"average_epochs": 3}),
    "cycle5-pitch-22k-256-lr4-blocks6-avg3": _preset(
        bright=True, n_blocks=6, train={"average_epochs": 3}
    ),
    "log-256-reg-env-w2-avg3": _cpu_voice(window_tiles=2, train={"average_epochs": 3}),
    # session 19: the cpu-voice preset since then: the same training, translated in windows of
    # two tiles (NetworkConfig.window_tiles; every config above pins 1)
    "log-256-reg-env-w2": _cpu_voice(window_tiles=2),
    "audio-ema-22k": _config("cpu", ema_decay=0.999, spec=SPEC_22K, **AUDIO),
    "audio-ema": _config("cpu", ema_decay=0.999, **AUDIO),
}


def _git_commit() -> str:
    """The code's commit (``+dirty`` with uncommitted edits). A copy of the code outside the
    repository (a snapshot a long run reads while the checkout moves on) has no git: it
    names its commit in ``QUALITY_COMMIT``, else the row says "?"."""
    if os.environ.get("QUALITY_COMMIT"):
        return os.environ["QUALITY_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parents[1],
        )  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
            text=True, cwd=Path(__file__).resolve().parents[1],
        ).stdout.strip()  # fmt: skip
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def _spec_key(spec: dict) -> str:
    return "-".join(f"{k}{v}" for k, v in sorted(spec.items())) or "default"


def _notes(set_dir: Path) -> Path | None:
    meta = set_dir / "meta.json"
    if not meta.is_file():
        return None
    test = json.loads(meta.read_text()).get("test") or {}
    return meta if test and all(isinstance(v, list) for v in test.values()) else None


def prepare_set(set_dir: Path, spec: dict, work: Path) -> Path:
    out = work / "prepared" / f"{set_dir.name}-{_spec_key(spec)}"
    if (out / "manifest.json").is_file():
        return out
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in spec.items()]
    argv = [str(set_dir / "train/A"), str(set_dir / "train/B"), "--out", str(out), "--quiet"]
    if prepare_main(argv + flags + ["--workers", "1"]) != 0:
        raise SystemExit(f"prepare failed for {set_dir}")
    return out


def _lsd_pair(y: np.ndarray, truth: np.ndarray, sr: int) -> tuple[float, float]:
    lsd_spec = SpectrogramSpec(sample_rate=sr)  # as evaluate.py: the truth's own rate, full band
    return M.log_spectral_distances(y, truth, lsd_spec)


def _evaluate(set_dir: Path, folder: Path | None, out: Path, seed: int) -> dict:
    notes = _notes(set_dir)
    cfg = EvalConfig(
        test_dir=str(set_dir / "test"), train_dir=str(set_dir / "train"), out_dir=str(out),
        translated_dir=str(folder) if folder else None, notes=str(notes) if notes else None,
        seed=seed,
    )  # fmt: skip
    return evaluate(cfg)


def translate_policies(ckpt: Path, set_dir: Path, out: Path, ema: bool = True) -> dict[str, Path]:
    """Translate test/A once; write one folder per loudness policy (same audio, other gain).
    ``ema``: the averaged generator when the checkpoint has one, else the raw weights."""
    t = load_translator(ckpt, "AtoB", "cpu", ema=ema)
    return translate_with(
        t.generator, t.spec, t.input_peak_db, t.level_offset_db, set_dir, out,
        window_tiles=t.window_tiles,
    )  # fmt: skip


def translate_with(
    g: torch.nn.Module,
    spec: SpectrogramSpec,
    input_peak_db,
    offset,
    set_dir: Path,
    out: Path,
    hop_frames: int | None = None,
    window_tiles: int = 1,
) -> dict[str, Path]:
    """`translate_policies` for any generator (B, 1, F, T) on [-1, 1]: ``input_peak_db`` the
    training tiles' input gain, ``offset`` the domains' level difference (dB, A to B);
    ``hop_frames`` the window hop (None: translate's default); ``window_tiles`` the tiles the
    generator hears at once."""
    folders = {p: out / p for p in LOUDNESS_POLICIES}
    for src in find_audio_files(set_dir / "test/A"):
        y, sr = load_with_rate(src)
        # "model" level = the generator's own output with the input gain undone; the other
        # policies are a gain on top of it, computed by translate's own `output_gain`.
        raw = translate_signal(
            y, sr, g, spec, loudness="model", input_peak_db=input_peak_db, hop_frames=hop_frames,
            window_tiles=window_tiles,
        )  # fmt: skip
        stats = {
            "source_lufs": integrated_loudness(y, sr),
            "output_lufs": integrated_loudness(raw, sr),
            "peak": float(np.abs(raw).max(initial=0.0)),
        }
        for policy, folder in folders.items():
            opts = TranslateOptions(loudness=policy, level_offset_db=offset)
            gain = output_gain(stats, opts, 1.0)
            save(folder / src.relative_to(set_dir / "test/A"), (raw * gain).astype(np.float32), sr)
    return folders


def ceiling(set_dir: Path, spec: SpectrogramSpec, out: Path) -> Path:
    """test/B through this spec's tiles and Griffin-Lim (identity generator), as test/A names."""
    if out.is_dir() and any(out.iterdir()):
        return out
    for truth_path in find_audio_files(set_dir / "test/B"):
        y, sr = load_with_rate(truth_path)
        z = translate_signal(y, sr, torch.nn.Identity(), spec)
        save(out / truth_path.relative_to(set_dir / "test/B"), z, sr)
    return out


def _rows_from_eval(results: dict, which: str, **common) -> dict:
    m = results["mean"][which]
    return dict(
        common, pitch=m["pitch_accuracy"], share=m["target_share"], lsd=m["lsd_db"],
        shift=m.get("pitch_shift_st"),
    )  # fmt: skip


def truth_pairs(set_dir: Path, folder: Path):
    """(translation, truth, rate) for each test/B file and ``folder``'s file of the same name,
    both at the truth's own rate."""
    for truth_path in find_audio_files(set_dir / "test/B"):
        truth, sr = load_with_rate(truth_path)
        yield load(folder / truth_path.relative_to(set_dir / "test/B"), sr), truth, sr


def _lsd_folder(set_dir: Path, folder: Path) -> tuple[float, float]:
    """Mean (LSD, LSD after the best gain) of ``folder``'s files (test/B's names) vs test/B."""
    pairs = [_lsd_pair(y, truth, sr) for y, truth, sr in truth_pairs(set_dir, folder)]
    return tuple(float(v) for v in np.mean(pairs, axis=0))


def references(set_dir: Path, spec_kw: dict, spec: SpectrogramSpec, work: Path, seed: int):
    """The identity and ceiling rows of a set at a spec (computed once, then read back)."""
    key = f"{set_dir.name}-{_spec_key(spec_kw)}"
    cache = work / "ceiling" / f"{key}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    ceil_dir = ceiling(set_dir, spec, work / "ceiling" / key)
    res = _evaluate(set_dir, ceil_dir, work / "ceiling" / f"{key}-eval", seed)
    rows = [
        _rows_from_eval(res, "identity", system="identity", ckpt=None),
        _rows_from_eval(res, "model", system="ceiling", ckpt=None),
    ]
    rows[0]["lsd_gain"] = _lsd_folder(set_dir, set_dir / "test/A")[1]
    rows[1]["lsd_gain"] = _lsd_folder(set_dir, ceil_dir)[1]
    cache.write_text(json.dumps(rows))
    return rows


def resume_point(run_dir: Path) -> Path | None:
    """The run's last.ckpt, to continue a stopped run of the same config (a finished one is
    only re-evaluated), or None to train from scratch."""
    last = run_dir / "last.ckpt"
    return last if last.is_file() else None


def schedule(epochs: int) -> tuple[int, int]:
    """``--epochs E`` as (epochs at the full lr, epochs of linear decay): half and half."""
    return math.ceil(epochs / 2), epochs // 2


def run_one(set_dir: Path, name: str, config: dict, seed: int, args) -> list[dict]:
    work = Path(args.work)
    t0 = time.perf_counter()
    data = prepare_set(set_dir, config["spec"], work)
    t_prep = time.perf_counter() - t0
    spec = SpectrogramSpec(**config["spec"])
    epochs = args.epochs
    n, n_decay = schedule(epochs)
    train = dict(config["train"], n_epochs=n, n_epochs_decay=n_decay)
    run_name = f"{set_dir.name}-{name}-s{seed}-e{epochs}"
    resume = resume_point(work / "runs" / run_name) if args.resume else None
    resumed_at = read_checkpoint(resume).meta.get("generator_steps") if resume else None
    t1 = time.perf_counter()
    result = run_training(
        RunConfig(
            data=data, net=NetworkConfig(**config["net"]),
            train=TrainConfig(**dict(train, seed=seed)), gpus=0, num_workers=0,
            checkpoint_dir=work / "runs", run_name=run_name, logger="none",
            log_media_every=0, progress_bar=args.progress, max_steps=args.max_steps,
            keep_epochs=args.every_epoch, resume=resume, **config["run"],
        )
    )  # fmt: skip
    t_train = time.perf_counter() - t1
    common = dict(
        set=set_dir.name, config=name, spec=config["spec"], seed=seed, epochs=epochs,
        steps=result.generator_steps,
        train_s=round(t_train, 1), prepare_s=round(t_prep, 1), commit=_git_commit(),
        machine=_machine(), date=time.strftime("%Y-%m-%d"),
    )  # fmt: skip
    if resume is not None:  # train_s then counts only the steps after it
        common["resumed_at_steps"] = resumed_at
    out = work / "eval" / run_name
    rows = [dict(common, **r) for r in references(set_dir, config["spec"], spec, work, seed)]
    ckpts = {"last": result.run_dir / "last.ckpt", "best": result.best_path}
    steps_of = {}
    for label, ckpt in ckpts.items():
        if ckpt is None or not Path(ckpt).is_file():
            continue
        steps_of[label] = read_checkpoint(ckpt).meta.get("generator_steps")
        if label == "best" and steps_of["best"] == steps_of.get("last"):  # the same epoch
            rows += [dict(r, ckpt="best") for r in rows if r.get("ckpt") == "last"]
            continue
        folders = translate_policies(Path(ckpt), set_dir, out / label)
        res = _evaluate(set_dir, folders[args.eval_policy], out / label / "eval", seed)
        for policy, folder in folders.items():
            lsd, lsd_gain = _lsd_folder(set_dir, folder)
            row = _rows_from_eval(res, "model", **common, system="model", ckpt=label)
            row.update(loudness=policy, lsd=lsd, lsd_gain=lsd_gain, ckpt_steps=steps_of[label])
            rows.append(row)
    if args.every_epoch:
        common["data"] = str(data)
        weights_of = ("ema",) if args.epoch_weights == "average" else ("ema", "raw")
        rows += every_epoch(
            result.run_dir, set_dir, out, seed, args.eval_policy, common, weights_of
        )
    for r in rows:
        r["wall_s"] = round(time.perf_counter() - t0, 1)
    return rows


def every_epoch(
    run_dir: Path, set_dir: Path, out: Path, seed: int, policy: str, common: dict,
    weights_of: tuple[str, ...] = ("ema", "raw"),
):  # fmt: skip
    """One row per epoch-NNN.ckpt and generator weights ("ema" when the checkpoint holds an
    average, and always "raw"): the val score recorded in training beside the benchmark. The
    recorded score belongs to the weights validation used (the EMA when there is one); the
    raw weights' score comes from ``--rescore``. ``weights_of``: which of the two to benchmark
    when the checkpoint holds an average (the average does not change training, so the raw
    weights can come from `benchmarks/epoch_lsd.py --weights raw`, ~15 s an epoch)."""
    rows = []
    for ckpt in sorted(run_dir.glob("epoch-*.ckpt")):
        info = read_checkpoint(ckpt)
        meta, averaged = info.meta, has_average(info.state_dict)
        label = ckpt.stem
        val = meta.get("val_score") or {}
        for weights in weights_of if averaged else ("raw",):
            sub = out / label / weights
            folder = translate_policies(ckpt, set_dir, sub, ema=weights == "ema")[policy]
            res = _evaluate(set_dir, folder, sub / "eval", seed)
            lsd, lsd_gain = _lsd_folder(set_dir, folder)
            row = _rows_from_eval(res, "model", **common, system="epoch", ckpt=label)
            recorded = weights == "ema" or not averaged
            row.update(
                loudness=policy, lsd=lsd, lsd_gain=lsd_gain, ckpt_steps=meta.get("generator_steps"),
                epoch=int(label.split("-")[-1]), weights=weights, ckpt_path=str(ckpt),
                val_score=val.get("score") if recorded else None,
                val_parts=val if recorded else {},
            )  # fmt: skip
            rows.append(row)
    return rows


def _spearman(x: list[float], y: list[float]) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    if len(x) < 3 or rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def run_figures(score: list[float], lsd: list[float]) -> dict:
    """Issue 11's figures of one run from its epochs' scores and LSDs (in epoch order): rho =
    Spearman(score, LSD), the picked epoch's index and LSD (the lowest score), the best and
    last LSD, and the swing: the mean |LSD change| from epoch to epoch over the second half."""
    pick = int(np.argmin(score))
    half = lsd[len(lsd) // 2 :]
    swing = float(np.mean(np.abs(np.diff(half)))) if len(half) > 1 else float("nan")
    return dict(
        rho=_spearman(score, lsd), pick=pick, picked=lsd[pick], best=min(lsd),
        picked_minus_best=lsd[pick] - min(lsd), last=lsd[-1], swing=swing,
    )  # fmt: skip


def epoch_summary(rows: list[dict], score_key: str = "val_score") -> str:
    """Per run and generator weights: Spearman(val score, LSD), Spearman(val score, pitch
    error), the picked epoch's LSD minus the run's best, and the mean epoch-to-epoch LSD
    change in the second half. ``score_key``: the recorded score or a re-scored one."""
    from collections import defaultdict

    runs: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if r["system"] == "epoch" and r.get(score_key) is not None:
            key = (r["config"], r["set"], r["seed"], r["epochs"], r.get("weights", "-"))
            runs[key].append(r)
    lines = [
        "| config | set | seed | epochs | weights | rho(score, LSD) | rho(score, pitch err) "
        "| picked - best LSD, dB | best LSD, dB | 2nd-half swing, dB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(runs):
        rs = sorted(runs[key], key=lambda r: r["epoch"])
        score = [r[score_key] for r in rs]
        lsd = [r["lsd"] for r in rs]
        pitch_err = [1.0 - r["pitch"] if r.get("pitch") is not None else np.nan for r in rs]
        f = run_figures(score, lsd)
        lines.append(
            f"| {' | '.join(str(k) for k in key)} | {f['rho']:.2f} "
            f"| {_spearman(score, pitch_err):.2f} | {f['picked_minus_best']:.2f} "
            f"| {f['best']:.2f} | {f['swing']:.2f} |"
        )
    return "\n".join(lines)


def _before(parts: dict) -> float:
    """The same parts summed the way the score before commit 9739990 did."""
    content = [parts[k] for k in ("pitch", "onset", "cycle") if k in parts]
    return 0.5 * (parts["domain_ab"] + parts["domain_ba"]) + sum(content) / len(content)


def ema_summary(rows: list[dict], score_key: str = "score_now") -> str:
    """Per set and seed of runs with both weights: the 2nd-half swing, the last epoch's LSD
    and the LSD of the epoch the score picks, averaged (EMA) / raw weights."""
    from collections import defaultdict

    runs: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["system"] == "epoch" and r.get(score_key) is not None:
            runs[(r["set"], r["seed"], r["epochs"])][r.get("weights", "-")].append(r)
    lines = [
        "| set | seed | epochs | 2nd-half swing, dB: EMA / raw | last epoch LSD: EMA / raw "
        "| picked epoch LSD: EMA / raw |",
        "|---|---|---|---|---|---|",
    ]
    for key, by_weights in sorted(runs.items()):
        if set(by_weights) != {"ema", "raw"}:
            continue
        cells = defaultdict(list)
        for w in ("ema", "raw"):
            rs = sorted(by_weights[w], key=lambda r: r["epoch"])
            f = run_figures([r[score_key] for r in rs], [r["lsd"] for r in rs])
            for cell in ("swing", "last", "picked"):
                cells[cell].append(f[cell])
        body = " | ".join(f"{v[0]:.2f} / {v[1]:.2f}" for v in cells.values())
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {body} |")
    return "\n".join(lines)


def rescore(rows: list[dict], n_val_tiles: int = 32) -> list[dict]:
    """The epoch rows that name their checkpoint and data, each with ``score_now``: today's
    val score of the row's weights (rescore.py, the tiles validation uses) and its parts,
    and ``score_before``: the same parts summed as the score before commit 9739990 did."""
    from collections import defaultdict

    from cyclegan_audio.rescore import score_checkpoints

    groups: dict[tuple, list[dict]] = defaultdict(list)  # one tile load per data and weights
    for r in rows:
        if r.get("system") == "epoch" and r.get("data") and Path(r.get("ckpt_path", "")).is_file():
            groups[(r["data"], r["weights"])].append(r)
    out = []
    for (data, weights), rs in groups.items():
        paths = [r["ckpt_path"] for r in rs]
        scores = score_checkpoints(paths, data, n_val_tiles=n_val_tiles, use_ema=weights == "ema")
        for r, s in zip(rs, scores):
            parts = s.result
            out.append(
                dict(r, score_now=parts["score"], parts_now=parts, score_before=_before(parts))
            )
    return out


def recompose(rows: list[dict]) -> list[dict]:
    """Re-scored rows (``parts_now``) with ``score_now`` composed by today's val_score.compose
    from the same parts; the value they had is kept as ``score_previous``."""
    from cyclegan_audio.val_score import compose

    out = []
    for r in rows:
        if r.get("parts_now"):
            now = compose(r["parts_now"])
            parts = dict(r["parts_now"], score=now)
            out.append(dict(r, score_now=now, parts_now=parts, score_previous=r["score_now"]))
    return out


def summarize(rows: list[dict], loudness: str = "domain") -> str:
    """Markdown: per config and set the mean over seeds of the model (last.ckpt and best.ckpt)."""
    from collections import defaultdict

    cells: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if r["system"] == "model" and r.get("loudness") != loudness:
            continue
        key = (r["config"], r.get("epochs"), r["system"], r.get("ckpt") or "", r["set"])
        cells[key].append(r)
    lines = [
        "| config | epochs | system | ckpt | set | seeds | pitch | share | LSD dB | LSD gain-free dB | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(cells):
        rs = cells[key]

        def mean(k: str, rs: list[dict] = rs) -> float:
            v = [r[k] for r in rs if r.get(k) is not None]
            return float(np.mean(v)) if v else float("nan")

        seeds = ",".join(str(r["seed"]) for r in rs)
        lines.append(
            f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {key[4]} | {seeds} | {mean('pitch'):.3f} "
            f"| {mean('share'):.2f} | {mean('lsd'):.2f} | {mean('lsd_gain'):.2f} | {mean('train_s'):.0f} |"
        )
    return "\n".join(lines)


def _spec_label(row: dict) -> str:
    """The spec a row's tiles had (rows before it was recorded: from the config's name)."""
    if "spec" in row:
        return _spec_key(row["spec"])
    return _spec_key(SPEC_22K if row["config"].endswith("22k") else preset("cpu")["spec"])


def pivot(rows: list[dict], metric: str, loudness: str, ckpt: str = "last", mean_sets=None) -> str:
    """Markdown: one row per config (and the identity/ceiling references), one column per set,
    ``metric`` of ``ckpt`` at ``loudness`` (mean over seeds, seed count in brackets), and the
    mean over the sets every row has."""
    from collections import defaultdict

    cells: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["system"] == "model" and r.get("ckpt") == ckpt and r.get("loudness") == loudness:
            name = f"{r['config']} (e{r['epochs']})"
        elif r["system"] in ("identity", "ceiling"):
            name = f"{r['system']} @ {_spec_label(r)}"
        else:
            continue
        if r.get(metric) is not None:
            cells[name][r["set"]].append(float(r[metric]))
    sets = sorted({s for c in cells.values() for s in c})
    in_mean = [s for s in sets if not mean_sets or s in mean_sets]
    lines = [
        f"| {metric} ({ckpt}.ckpt, loudness {loudness}) | "
        + " | ".join(sets)
        + f" | mean of {', '.join(in_mean)} |",
        "|---" * (len(sets) + 2) + "|",
    ]
    for name in sorted(cells):
        vals = [cells[name].get(s, []) for s in sets]
        text = [f"{np.mean(v):.3f} ({len(v)})" if v else "—" for v in vals]
        picked = [cells[name].get(s, []) for s in in_mean]
        mean = np.mean([np.mean(v) for v in picked]) if all(picked) else float("nan")
        lines.append(f"| {name} | " + " | ".join(text) + f" | {mean:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="*", type=Path, default=[], help="set folders")
    p.add_argument("--config", default="baseline", choices=sorted(CONFIGS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--epochs", type=int, default=4, help="half at the full lr, half decaying")
    p.add_argument("--max-steps", type=int, default=-1, help="cap on generator steps")
    p.add_argument("--work", default="/tmp/cyclegan-quality", help="scratch: tiles, runs, audio")
    p.add_argument("--results", type=Path, default=Path("docs/quality/results.jsonl"))
    p.add_argument("--eval-policy", default="domain", choices=LOUDNESS_POLICIES,
                   help="loudness policy whose files get the full evaluation (pitch, share)")  # fmt: skip
    p.add_argument("--progress", action="store_true", help="training progress bar")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue a run whose folder already holds a last.ckpt (a stopped run) instead "
        "of training it from scratch; its row records resumed_at_steps",
    )
    p.add_argument(
        "--every-epoch",
        action="store_true",
        help="keep and benchmark every epoch's checkpoint (does the val score pick the best?)",
    )
    p.add_argument(
        "--epoch-weights",
        choices=("both", "average"),
        default="both",
        help="with --every-epoch and a weight average: benchmark both weights, or the average only",
    )
    p.add_argument("--summary", type=Path, help="print the table of a results file and exit")
    p.add_argument("--mean-sets", nargs="*", help="with --summary: sets the mean is over")
    p.add_argument(
        "--rescore",
        type=Path,
        metavar="OUT",
        help="with --summary: re-score the kept epoch checkpoints with today's val score, "
        "write the rows to OUT (JSON lines) and print the every-epoch table",
    )
    p.add_argument(
        "--recompose",
        type=Path,
        metavar="OUT",
        help="with --summary of re-scored rows: today's score composed from their saved parts "
        "(no model runs; the previous score kept as score_previous), rows to OUT",
    )
    args = p.parse_args(argv)
    if args.summary:
        rows = [json.loads(line) for line in args.summary.read_text().splitlines() if line.strip()]
        if args.rescore or args.recompose:
            rescored = rescore(rows) if args.rescore else recompose(rows)
            out = args.rescore or args.recompose
            out.write_text("".join(json.dumps(r) + "\n" for r in rescored))
            print("today's score\n" + epoch_summary(rescored, "score_now"))
            if args.recompose:
                print("\nthe previous score\n" + epoch_summary(rescored, "score_previous"))
            print("\nthe same parts, summed as before\n" + epoch_summary(rescored, "score_before"))
            print("\naveraged and raw weights\n" + ema_summary(rescored))
            return 0
        for policy in LOUDNESS_POLICIES:
            print(f"\nloudness = {policy}\n" + summarize(rows, policy))
        for metric in ("lsd", "lsd_gain", "pitch", "share"):
            print("\n" + pivot(rows, metric, args.eval_policy, mean_sets=args.mean_sets))
        if any(r["system"] == "epoch" for r in rows):
            print("\nevery epoch\n" + epoch_summary(rows))
        return 0
    args.results.parent.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for set_dir in args.sets:
            rows = run_one(set_dir, args.config, CONFIGS[args.config], seed, args)
            with args.results.open("a") as f:
                for r in rows:
                    f.write(json.dumps(r) + "\n")
            print(summarize(rows, args.eval_policy), flush=True)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    sys.exit(main())
