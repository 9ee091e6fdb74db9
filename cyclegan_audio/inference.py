"""Translating whole signals: overlapping tiles through a generator, a seam-free blend, ONE phase pass.

Pipeline (decision 5 of the design): resample to the spec's rate -> STFT -> tile axis
(`spectrogram.to_tile_freq`) -> [0, 1] magnitude -> overlapping tiles (quarter-tile hop) -> generator -> blend with a smooth
window whose weights are normalised to sum to 1 (`stitching`) -> magnitude -> STFT axis
(`spectrogram.to_linear_freq`) -> Griffin-Lim over the whole signal, initialised from the input's own phase ->
resample back -> loudness matched to the input.

There is one pipeline, `stream_translate`, which works chunk by chunk so memory stays
bounded; `translate_signal` without a chunk size is one chunk of it. Chunked equals
one piece up to float error: every chunk is computed on the global tile grid, and
each chunk is extended by a margin wider than everything that can reach its middle
(resampler filter, STFT window, tile context, and Griffin-Lim's spread of one n_fft
per iteration). Stage timings for the benchmarks: `timing.recording`.
"""

from __future__ import annotations

import math
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import audio, timing
from . import spectrogram as S
from .chunking import plan_chunks
from .loudness import LoudnessMeter, matching_gain, peak_gain_db
from .phase import DEFAULT_N_ITER, griffin_lim
from .spec import SpectrogramSpec
from .stitching import (  # noqa: F401 - re-exported: inference's public names
    DEFAULT_BATCH_SIZE,
    DEFAULT_TILE_OVERLAP,
    TileFn,
    TileGrid,
    apply_tiled,
    blend,
    overlap_hop,
    run_tiles,
    tile_window,
    window_frames,
)

# "pghi" is not chunk-local (heap integration spans the whole signal): it is done in one piece.
PHASE_INITS = ("source", "random", "pghi")
LOUDNESS_POLICIES = ("input", "domain", "model")  # see `output_gain`
# "model": measured closest to the paired truth on every instrument set (docs/quality.md).
DEFAULT_LOUDNESS = "model"
DEFAULT_CHUNK_SECONDS = 60.0


# ---------------------------------------------------------------- the generator


def generator_fn(generator: torch.nn.Module, device=None) -> TileFn:
    """Wrap a generator ((B, 1, F, T) on [-1, 1]) as a tile function on the [0, 1] scale."""
    dev = torch.device(device) if device is not None else module_device(generator)

    def fn(unit: torch.Tensor) -> torch.Tensor:
        with timing.stage("generator"), torch.inference_mode():
            y = generator(S.unit_to_model(unit.to(dev)).unsqueeze(1))
            return S.model_to_unit(y[:, 0].float()).to(unit.device)

    return fn


class CompiledGenerator(torch.nn.Module):
    """A generator run through ``torch.compile`` for inference, eager if compiling fails.

    Weights are frozen into the compiled graph (inductor ``freezing``: constant folding and
    pre-packed convolution weights), compiled once on the first call (speed:
    docs/performance.md). A machine without a working compiler (no C++ toolchain, an
    unsupported GPU) gets one warning line and the eager generator.
    """

    def __init__(self, net: torch.nn.Module, warn: Callable[[str], None] | None = None):
        super().__init__()
        self.net = net.eval()
        self._compiled = torch.compile(self.net)
        self._warn = warn or (lambda msg: print(msg, file=sys.stderr))
        self.ok = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.ok:
            import torch._inductor.config as inductor_config

            try:
                with inductor_config.patch(freezing=True):
                    return self._compiled(x)
            except Exception as e:  # noqa: BLE001 - any compiler failure: fall back, keep going
                self.ok = False
                first = (str(e).strip().splitlines() or [""])[0][:200]
                self._warn(
                    f"warning: --compile failed ({type(e).__name__}: {first}); "
                    "translating with the uncompiled generator"
                )
        return self.net(x)


def module_device(module: torch.nn.Module) -> torch.device:
    """Where a module's parameters live (CPU for a module without any)."""
    p = next(module.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def default_batch_size(device) -> int:
    """Tiles per generator call: 1 on CPU, 8 on GPU.

    On CPU a larger batch buys no speed (one 512x512 tile already fills the cores;
    docs/performance.md) but each tile of the default model holds ~0.2 GB of
    activations, so batch 1 keeps memory low.
    """
    return 8 if torch.device(device).type == "cuda" else 1


# ---------------------------------------------------------------- options and levels


@dataclass(frozen=True)
class TranslateOptions:
    phase_init: str = "source"
    n_iter: int = DEFAULT_N_ITER
    hop_frames: int | None = None  # None = stitching.overlap_hop's (a quarter window)
    # Tiles the generator hears at once (stitching.window_frames); a checkpoint names its own
    # (NetworkConfig.window_tiles, what translate passes by default).
    window_tiles: int = 1
    batch_size: int | None = None  # None = `default_batch_size(device)`
    seed: int = 0
    device: str | None = None  # None = wherever the generator lives
    # The level prepare brought each training file's sample peak to (checkpoint meta
    # "input_peak_db"): the input is fed to the generator at that level, as in training.
    input_peak_db: float | None = None
    loudness: str = DEFAULT_LOUDNESS  # output level policy: `LOUDNESS_POLICIES`, `output_gain`
    # Target domain's median loudness minus the source domain's, LU (checkpoint meta
    # "domain_lufs"); used by loudness="domain". None: unknown (old checkpoint) -> 0.
    level_offset_db: float | None = None

    def __post_init__(self) -> None:
        if self.phase_init not in PHASE_INITS:
            raise ValueError(f"unknown phase init {self.phase_init!r}; use one of {PHASE_INITS}")
        if self.window_tiles < 1:
            raise ValueError(f"window_tiles must be >= 1, got {self.window_tiles}")
        if self.loudness not in LOUDNESS_POLICIES:
            raise ValueError(
                f"unknown loudness policy {self.loudness!r}; use one of {LOUDNESS_POLICIES}"
            )


def input_gain(peak: float, input_peak_db: float | None) -> float:
    """Linear gain that brings a sample peak to ``input_peak_db`` dBFS: prepare's rule."""
    return 10.0 ** (peak_gain_db(peak, input_peak_db) / 20.0)


def output_gain(stats: dict, opts: TranslateOptions, gain_in: float = 1.0) -> float:
    """Linear gain for the generator's raw output under ``opts.loudness`` (clip-safe).

    ``stats``: `stream_translate`'s source_lufs, output_lufs and peak; ``gain_in``: the
    gain the input got before the generator (`input_gain`).
    - "input": the output as loud as the input (a mix keeps its balance);
    - "domain": the input's loudness plus the level the target domain has relative to the
      source in the training data (``opts.level_offset_db``);
    - "model": the level the generator produced, with the input gain undone.
    """
    if opts.loudness == "model":
        gain = 1.0 / gain_in
        return min(gain, 0.99 / stats["peak"]) if stats["peak"] > 0 else gain
    offset = (opts.level_offset_db or 0.0) if opts.loudness == "domain" else 0.0
    return matching_gain(stats["source_lufs"] + offset, stats["output_lufs"], stats["peak"])


def _fix_length(y: np.ndarray, n: int) -> np.ndarray:
    return y[:n] if y.shape[-1] >= n else np.pad(y, (0, n - y.shape[-1]))


# ---------------------------------------------------------------- translation


def translate_signal(
    y: np.ndarray,
    sr: int,
    generator: torch.nn.Module,
    spec: SpectrogramSpec,
    *,
    chunk_seconds: float | None = None,
    **options,
) -> np.ndarray:
    """Translate a mono signal (n_samples,) at rate ``sr``; returns (n_samples,) at ``sr``, loudness matched.

    ``options`` are `TranslateOptions` fields (phase_init, n_iter, hop_frames,
    batch_size, seed, device). ``chunk_seconds`` streams in chunks (same result up
    to float error, bounded memory); None does it in one piece (one chunk).
    """
    opts = TranslateOptions(**options)
    y = np.asarray(y, dtype=np.float32)
    gain_in = input_gain(float(np.abs(y).max(initial=0.0)), opts.input_peak_db)
    pieces: list[np.ndarray] = []
    chunk_s = math.inf if chunk_seconds is None else chunk_seconds
    stats = stream_translate(
        lambda a, b: y[a:b],
        y.shape[-1],
        sr,
        pieces.append,
        generator,
        spec,
        opts,
        chunk_seconds=chunk_s,
        gain_in=gain_in,
    )
    return (np.concatenate(pieces) * output_gain(stats, opts, gain_in)).astype(np.float32)


def stream_translate(
    read: Callable[[int, int], np.ndarray],
    n_in: int,
    sr_in: int,
    emit: Callable[[np.ndarray], None],
    generator: torch.nn.Module,
    spec: SpectrogramSpec,
    opts: TranslateOptions,
    *,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    progress: Callable[[int], None] | None = None,
    gain_in: float = 1.0,
) -> dict:
    """Translate ``n_in`` input samples in chunks; ``emit`` receives the unscaled output in order.

    ``read(a, b)`` returns input samples [a, b) (mono, rate ``sr_in``); they are
    scaled by ``gain_in`` before translation (see `input_gain`). ``chunk_seconds``
    may be ``math.inf`` (one chunk). Returns the loudness figures `output_gain` needs
    (source_lufs, output_lufs, peak); the caller scales the emitted output by that gain.
    """
    device = opts.device or module_device(generator)
    fn = generator_fn(generator, device)
    batch_size = opts.batch_size or default_batch_size(device)
    if opts.phase_init == "pghi":
        chunk_seconds = math.inf  # PGHI is not chunk-local; see PHASE_INITS
    hop_frames = opts.hop_frames or overlap_hop(spec, window_tiles=opts.window_tiles)
    window = window_frames(spec, opts.window_tiles)
    plan = plan_chunks(n_in, sr_in, spec, hop_frames, opts.n_iter, chunk_seconds, window)
    hop, grid, rates = spec.hop_length, plan.grid, plan.rates
    meter_in, meter_out = LoudnessMeter(sr_in), LoudnessMeter(sr_in)
    tiles: dict[int, torch.Tensor] = {}  # generator output, kept while later chunks need it
    peak = 0.0
    for c in plan.chunks():
        emit_lo, emit_hi = c.emit_in  # the ranges: see `chunking.Chunk`
        out_lo, out_hi = c.out_spec
        phase_lo, phase_hi = c.phase_frames
        stft_lo, stft_hi = c.stft_spec
        read_lo, read_hi = c.read_in
        y_in = np.asarray(read(read_lo, read_hi), dtype=np.float32)
        meter_in.add(y_in[emit_lo - read_lo : emit_hi - read_lo])
        spec_offset = rates.to_spec(read_lo)  # global spec-rate position of y_spec[0]
        with timing.stage("resample"):
            y_spec = audio.resample(y_in * gain_in, sr_in, spec.sample_rate)
            y_spec = _fix_length(y_spec, plan.n_spec - spec_offset)
        with timing.stage("stft"):  # on the generator's device: tiles never leave it
            y_stft = torch.from_numpy(y_spec[stft_lo - spec_offset : stft_hi - spec_offset])
            x = S.stft(y_stft.to(device), spec)
            unit = S.magnitude_to_unit(S.to_tile_freq(x.abs(), spec), spec)[None]
        first_frame = stft_lo // hop  # global frame of x[..., 0]
        with timing.stage("stitching"):
            new = [k for k in c.tiles if k not in tiles]
            tiles.update(run_tiles(unit, first_frame, grid, new, fn, batch_size))
            for k in [k for k in tiles if k < c.tiles[0]]:  # chunks only move forward
                del tiles[k]
            out_unit = blend(tiles, grid, phase_lo, phase_hi)[0]
        with timing.stage("phase"):
            mag = S.unit_to_stft_magnitude(out_unit, spec)
            x_phase = x[..., phase_lo - first_frame : phase_hi - first_frame]
            init = torch.angle(x_phase) if opts.phase_init == "source" else opts.phase_init
            length = plan.phase_length(phase_lo, phase_hi)
            z = griffin_lim(
                mag,
                spec,
                n_iter=opts.n_iter,
                init=init,
                length=length,
                seed=opts.seed,
                frame_offset=phase_lo,
            )
            z = z.cpu().numpy()
        z = z[out_lo - phase_lo * hop : out_hi - phase_lo * hop]  # z[0] is at sample phase_lo * hop
        with timing.stage("resample"):
            out = audio.resample(z, spec.sample_rate, sr_in)
        out = _fix_length(out[emit_lo - rates.to_in(out_lo) :], emit_hi - emit_lo)  # out[0]: out_lo
        meter_out.add(out)
        peak = max(peak, float(np.abs(out).max()) if out.size else 0.0)
        emit(out)
        if progress is not None:
            progress(emit_hi - emit_lo)
    return {"source_lufs": meter_in.lufs(), "output_lufs": meter_out.lufs(), "peak": peak}


def translated_name(source: str | Path, direction: str, suffix: str = ".wav") -> str:
    """File name of ``source``'s translation: ``<stem>.<direction><suffix>`` (x.AtoB.wav)."""
    return f"{Path(source).stem}.{direction}{suffix}"


def translate_file(
    in_path: str | Path,
    out_path: str | Path,
    generator: torch.nn.Module,
    spec: SpectrogramSpec,
    *,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    protect: tuple = (),
    progress: bool = False,
    scratch_dir: str | Path | None = None,
    **options,
) -> Path:
    """Translate an audio file of any length into ``out_path`` (the input's rate and channel
    count) in bounded memory.

    Each channel goes through the mono pipeline on its own, read chunk by chunk; the
    unscaled output goes to float scratch files in a temporary folder inside
    ``scratch_dir`` (None: the system's, $TMPDIR), never beside ``out_path``, so a killed
    run leaves no scratch in the output folder; then it is written with one gain for all
    channels (`output_gain`; clip-safe). A format only the fallback decoder reads (m4a,
    wma…) is decoded once into that folder first (`audio.decoded_copy`).
    """
    from tqdm import tqdm

    opts = TranslateOptions(**options)
    in_path, out_path = Path(in_path), Path(out_path)
    with tempfile.TemporaryDirectory(
        prefix="cyclegan-audio-", dir=scratch_dir, ignore_cleanup_errors=True
    ) as tmp:
        source = audio.decoded_copy(in_path, tmp)
        info = audio.info(source)
        sr_in, n_in, n_ch = info.sample_rate, info.n_samples, info.n_channels
        if n_in == 0:
            raise audio.AudioError(f"{in_path}: no samples")

        def read(a: int, b: int) -> np.ndarray:  # -> (n_ch, b - a)
            y = audio.load(source, None, offset_s=a / sr_in, duration_s=(b - a) / sr_in, mono=False)
            return y[:, : b - a]

        step = int(DEFAULT_CHUNK_SECONDS * sr_in)
        gain_in = 1.0
        if opts.input_peak_db is not None:  # one cheap pass for the peak (input rate)
            peak = max(
                float(np.abs(read(a, min(n_in, a + step))).max(initial=0.0))
                for a in range(0, n_in, step)
            )
            gain_in = input_gain(peak, opts.input_peak_db)
        scratch = [Path(tmp) / f"channel{c}.wav" for c in range(n_ch)]
        seconds = n_ch * n_in / sr_in
        bar = tqdm(total=seconds, unit="s", desc=in_path.name, leave=False, disable=not progress)
        try:
            per_channel = []
            for c in range(n_ch):
                with audio.AudioWriter(scratch[c], sr_in, subtype="FLOAT") as w:
                    channel_stats = stream_translate(
                        lambda a, b, c=c: read(a, b)[c],
                        n_in,
                        sr_in,
                        w.write,
                        generator,
                        spec,
                        opts,
                        chunk_seconds=chunk_seconds,
                        progress=lambda n: bar.update(n / sr_in),
                        gain_in=gain_in,
                    )
                    per_channel.append(channel_stats)
        finally:
            bar.close()
        stats = _combine_channels(per_channel)
        gain = output_gain(stats, opts, gain_in)
        step = int(chunk_seconds * sr_in) or n_in
        with (
            timing.stage("io"),
            audio.AudioWriter(out_path, sr_in, protect=protect, n_channels=n_ch) as writer,
        ):
            for a in range(0, n_in, step):
                b = min(n_in, a + step)
                window = dict(offset_s=a / sr_in, duration_s=(b - a) / sr_in)
                out = np.stack([_fix_length(audio.load(p, None, **window), b - a) for p in scratch])
                writer.write((out[0] if n_ch == 1 else out) * gain)
    return out_path


def _combine_channels(stats: list[dict]) -> dict:
    """One set of `stream_translate` loudness figures for channels translated apart.

    BS.1770 sums the channels' mean squares, so powers add (the gating is per channel
    here, a close approximation); the peak is the largest channel's.
    """
    if len(stats) == 1:
        return stats[0]

    def total(key: str) -> float:
        power = sum(10.0 ** (s[key] / 10.0) for s in stats if math.isfinite(s[key]))
        return 10.0 * math.log10(power) if power > 0 else -math.inf

    return {
        "source_lufs": total("source_lufs"),
        "output_lufs": total("output_lufs"),
        "peak": max(s["peak"] for s in stats),
    }
