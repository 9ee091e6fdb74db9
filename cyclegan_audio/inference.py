"""Translating whole signals: overlapping tiles through a generator, a seam-free blend, ONE phase pass.

Pipeline (decision 5 of the design): resample to the spec's rate -> STFT -> [0, 1]
magnitude -> overlapping tiles (half-tile hop) -> generator -> blend with a smooth
window whose weights are normalised to sum to 1 -> magnitude -> Griffin-Lim over the
whole signal, initialised from the input's own phase -> resample back -> loudness
matched to the input.

Long inputs are streamed in chunks (`translate_file`) so memory stays bounded, and
the result equals the one-piece result (`translate_signal`) up to float error:
every chunk is computed on the global tile grid, and each chunk is extended by a
margin wider than everything that can reach its middle (resampler filter, STFT
window, tile context, and Griffin-Lim's spread of one n_fft per iteration).
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import audio
from . import spectrogram as S
from .loudness import LoudnessMeter, matching_gain, peak_gain_db
from .phase import DEFAULT_N_ITER, griffin_lim
from .spec import SpectrogramSpec

# "pghi" is not chunk-local (heap integration spans the whole signal): it is done in one piece.
PHASE_INITS = ("source", "random", "pghi")
LOUDNESS_POLICIES = ("input", "domain", "model")  # see `output_gain`
DEFAULT_LOUDNESS = "input"
DEFAULT_CHUNK_SECONDS = 60.0
DEFAULT_TILE_OVERLAP = 0.5  # the design's half-tile hop
DEFAULT_BATCH_SIZE = 4  # tiles per generator call for `apply_tiled` used on its own
RESAMPLE_MARGIN_S = 0.1  # soxr_hq's filter reaches well under this (measured: 1e-6 agreement)

TileFn = Callable[[torch.Tensor], torch.Tensor]


# ---------------------------------------------------------------- stitching


def tile_window(n_frames: int) -> torch.Tensor:
    """Raised-cosine blending weights (n_frames,): sin² offset by half a frame, so never 0.

    At a half-tile hop the shifted copies already sum to 1; `blend` normalises by
    the sum anyway, so any hop and the signal's edges are exact too.
    """
    n = torch.arange(n_frames, dtype=torch.float64)
    return (torch.sin(math.pi * (n + 0.5) / n_frames) ** 2).float()


def _reflect(index: torch.Tensor, n: int) -> torch.Tensor:
    """Map any frame index into [0, n) by mirror reflection (np.pad "reflect"), repeatedly."""
    if n == 1:
        return torch.zeros_like(index)
    period = 2 * (n - 1)
    index = torch.remainder(index, period)
    return torch.where(index >= n, period - index, index)


@dataclass(frozen=True)
class TileGrid:
    """Where the tiles of a signal of ``n_frames`` frames lie.

    The signal is padded by mirror reflection with half a tile in front, so its
    first frame sits at the centre of tile 0; tile k starts at frame
    ``k * hop_frames - pad_frames`` (negative = inside the padding); there are
    just enough tiles for the last frame to lie at or before the last tile's centre.
    """

    n_frames: int
    tile_frames: int
    hop_frames: int

    def __post_init__(self) -> None:
        if not 0 < self.hop_frames <= self.tile_frames:
            raise ValueError(
                f"hop_frames must be in (0, {self.tile_frames}], got {self.hop_frames}"
            )
        if self.n_frames < 1:
            raise ValueError("a signal needs at least one frame")

    @property
    def pad_frames(self) -> int:
        return self.tile_frames // 2

    @property
    def n_tiles(self) -> int:
        return math.ceil((self.n_frames - 1) / self.hop_frames) + 1

    def start(self, k: int) -> int:
        return k * self.hop_frames - self.pad_frames

    def frame_index(self, k: int) -> torch.Tensor:
        """Source frame (in [0, n_frames)) of each of tile k's frames, (tile_frames,)."""
        s = self.start(k)
        return _reflect(torch.arange(s, s + self.tile_frames), self.n_frames)

    def tiles_touching(self, t_lo: int, t_hi: int) -> range:
        """Tiles that overlap frames [t_lo, t_hi)."""
        n, h, p = self.tile_frames, self.hop_frames, self.pad_frames
        k_lo = max(0, (t_lo + p - n) // h + 1)
        k_hi = min(self.n_tiles, -(-(t_hi + p) // h))
        return range(k_lo, k_hi)


def overlap_hop(spec: SpectrogramSpec, overlap: float = DEFAULT_TILE_OVERLAP) -> int:
    """Tile hop in frames for the share of a tile its neighbour overlaps (0.5 -> half a tile)."""
    return max(1, round(spec.tile_frames * (1.0 - overlap)))


def run_tiles(
    unit: torch.Tensor, first_frame: int, grid: TileGrid, ks, fn: TileFn, batch_size: int
) -> dict[int, torch.Tensor]:
    """fn applied to tiles ``ks`` cut from ``unit`` (C, F, n), whose frame 0 is global ``first_frame``.

    Returns {k: (C, F, tile_frames)}. ``fn`` sees batches (B, F, tile_frames) on the [0, 1] scale.
    """
    ks = list(ks)
    out: dict[int, torch.Tensor] = {}
    for i in range(0, len(ks), batch_size):
        batch = ks[i : i + batch_size]
        idx = torch.stack([grid.frame_index(k) for k in batch]) - first_frame  # (B, T)
        x = unit[..., idx.to(unit.device)].movedim(
            -2, 0
        )  # one index copy per batch -> (B, C, F, T)
        y = fn(x.reshape(-1, *x.shape[-2:])).reshape(x.shape)
        out.update(zip(batch, y))
    return out


def blend(tiles: dict[int, torch.Tensor], grid: TileGrid, t_lo: int, t_hi: int) -> torch.Tensor:
    """Window-weighted average of the tiles over frames [t_lo, t_hi) -> (C, F, t_hi - t_lo).

    ``tiles`` must hold every tile in ``grid.tiles_touching(t_lo, t_hi)``.
    """
    first = tiles[grid.tiles_touching(t_lo, t_hi)[0]]
    window = tile_window(grid.tile_frames).to(first.device)
    num = torch.zeros(*first.shape[:-1], t_hi - t_lo, dtype=first.dtype, device=first.device)
    den = torch.zeros(t_hi - t_lo, dtype=first.dtype, device=first.device)
    for k in grid.tiles_touching(t_lo, t_hi):
        s = grid.start(k)
        a, b = max(s, t_lo), min(s + grid.tile_frames, t_hi)
        w = window[a - s : b - s]
        num[..., a - t_lo : b - t_lo] += tiles[k][..., a - s : b - s] * w
        den[a - t_lo : b - t_lo] += w
    return num / den


def apply_tiled(
    mag_unit: torch.Tensor,
    fn: TileFn,
    spec: SpectrogramSpec,
    *,
    hop_frames: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> torch.Tensor:
    """Run a tile->tile function over a long [0, 1] magnitude (..., F, T) and blend seam-free.

    Tiles are ``spec.tile_frames`` wide with a hop of ``hop_frames`` (half a tile by
    default); ``fn`` maps (B, F, tile_frames) -> the same shape. Returns (..., F, T).
    With the identity function the input comes back exactly (to float error), for
    any T >= 1, including T shorter than one tile.
    """
    x = torch.as_tensor(mag_unit, dtype=torch.float32)
    flat = x.reshape(-1, *x.shape[-2:])
    grid = TileGrid(flat.shape[-1], spec.tile_frames, hop_frames or overlap_hop(spec))
    tiles = run_tiles(flat, 0, grid, range(grid.n_tiles), fn, batch_size)
    return blend(tiles, grid, 0, grid.n_frames).reshape(x.shape)


def generator_fn(generator: torch.nn.Module, device=None, timings: dict | None = None) -> TileFn:
    """Wrap a generator ((B, 1, F, T) on [-1, 1]) as a tile function on the [0, 1] scale."""
    dev = torch.device(device) if device is not None else module_device(generator)

    def fn(unit: torch.Tensor) -> torch.Tensor:
        with _timed(timings, "generator"), torch.inference_mode():
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


# ---------------------------------------------------------------- phase


def _phase_pass(mag, x_source, t_lo, spec, opts, length, device) -> np.ndarray:
    """Griffin-Lim over frames starting at global frame ``t_lo``; ``x_source`` is the input's STFT there."""
    init = torch.angle(x_source).to(device) if opts.phase_init == "source" else opts.phase_init
    y = griffin_lim(
        mag.to(device), spec, n_iter=opts.n_iter, init=init, length=length,
        seed=opts.seed, frame_offset=t_lo,
    )  # fmt: skip
    return y.cpu().numpy()


# ---------------------------------------------------------------- translation


@dataclass(frozen=True)
class TranslateOptions:
    phase_init: str = "source"
    n_iter: int = DEFAULT_N_ITER
    hop_frames: int | None = None  # None = half a tile
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
        if self.loudness not in LOUDNESS_POLICIES:
            raise ValueError(
                f"unknown loudness policy {self.loudness!r}; use one of {LOUDNESS_POLICIES}"
            )


def default_batch_size(device) -> int:
    """Tiles per generator call: 1 on CPU, 8 on GPU.

    On CPU a larger batch buys no speed (one 512x512 tile already fills the cores;
    docs/performance.md) but each tile of the default model holds ~0.2 GB of
    activations, so batch 1 keeps memory low.
    """
    return 8 if torch.device(device).type == "cuda" else 1


def input_gain(peak: float, input_peak_db: float | None) -> float:
    """Linear gain that brings a sample peak to ``input_peak_db`` dBFS: prepare's rule."""
    return 10.0 ** (peak_gain_db(peak, input_peak_db) / 20.0)


@contextmanager
def _timed(timings: dict | None, key: str):
    """Add the seconds of the block to ``timings[key]``; with timings asked for, GPU work is
    waited for at both ends (work is queued asynchronously, so the split would be wrong)."""
    _sync_if_timed(timings)
    t0 = time.perf_counter()
    yield
    if timings is not None:
        _sync_if_timed(timings)
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0


def _sync_if_timed(timings: dict | None) -> None:
    if timings is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _fix_length(y: np.ndarray, n: int) -> np.ndarray:
    return y[:n] if y.shape[-1] >= n else np.pad(y, (0, n - y.shape[-1]))


def translate_signal(
    y: np.ndarray,
    sr: int,
    generator: torch.nn.Module,
    spec: SpectrogramSpec,
    *,
    chunk_seconds: float | None = None,
    timings: dict | None = None,
    **options,
) -> np.ndarray:
    """Translate a mono signal (n_samples,) at rate ``sr``; returns (n_samples,) at ``sr``, loudness matched.

    ``options`` are `TranslateOptions` fields (phase_init, n_iter, hop_frames,
    batch_size, seed, device). ``chunk_seconds`` streams in chunks (same result up
    to float error, bounded memory); None does it in one piece.
    """
    opts = TranslateOptions(**options)
    y = np.asarray(y, dtype=np.float32)
    gain_in = input_gain(float(np.abs(y).max(initial=0.0)), opts.input_peak_db)
    if chunk_seconds is not None:
        pieces: list[np.ndarray] = []
        stats = stream_translate(
            lambda a, b: y[a:b], y.shape[-1], sr, pieces.append, generator, spec, opts,
            chunk_seconds=chunk_seconds, timings=timings, gain_in=gain_in,
        )  # fmt: skip
        return _apply_gain(np.concatenate(pieces), stats, opts, gain_in)
    device = opts.device or module_device(generator)
    fn = generator_fn(generator, device, timings)
    n_spec = _spec_length(y.shape[-1], sr, spec)
    with _timed(timings, "resample"):
        y_spec = _fix_length(audio.resample(y * gain_in, sr, spec.sample_rate), n_spec)
    with _timed(timings, "stft"):  # on the generator's device: tiles never leave it
        x = S.stft(torch.from_numpy(y_spec).to(device), spec)
        unit = S.magnitude_to_unit(x.abs(), spec)
    _sync_if_timed(timings)
    t0 = time.perf_counter()
    hop = opts.hop_frames or overlap_hop(spec)
    out_unit = apply_tiled(
        unit, fn, spec, hop_frames=hop, batch_size=opts.batch_size or default_batch_size(device)
    )
    _sync_if_timed(timings)
    if timings is not None:  # stitching = everything in apply_tiled but the generator
        timings["stitching"] = timings.get("stitching", 0.0) + time.perf_counter() - t0
        timings["stitching"] -= timings.get("generator", 0.0)
    with _timed(timings, "phase"):
        mag = S.unit_to_magnitude(out_unit, spec)
        z = _phase_pass(mag, x, 0, spec, opts, n_spec, device)
    with _timed(timings, "resample"):
        out = _fix_length(audio.resample(z, spec.sample_rate, sr), y.shape[-1])
    meter_in, meter_out = LoudnessMeter(sr), LoudnessMeter(sr)
    meter_in.add(y)
    meter_out.add(out)
    stats = {"source_lufs": meter_in.lufs(), "output_lufs": meter_out.lufs()}
    stats["peak"] = float(np.abs(out).max()) if out.size else 0.0
    return _apply_gain(out, stats, opts, gain_in)


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


def _apply_gain(out: np.ndarray, stats: dict, opts: TranslateOptions, gain_in: float) -> np.ndarray:
    return (out * output_gain(stats, opts, gain_in)).astype(np.float32)


def _spec_length(n_in: int, sr_in: int, spec: SpectrogramSpec) -> int:
    """Samples at the spec's rate of an input of ``n_in`` samples at ``sr_in`` (soxr's length)."""
    return -(-n_in * spec.sample_rate // sr_in)


@dataclass(frozen=True)
class _Rates:
    """Converts sample positions between the input's rate and the spec's, exactly at aligned points."""

    sr_in: int
    sr_spec: int

    @property
    def unit_in(self) -> int:
        """Input samples per step at which both rates fall on whole samples."""
        return self.sr_in // math.gcd(self.sr_in, self.sr_spec)

    @property
    def unit_spec(self) -> int:
        return self.sr_spec // math.gcd(self.sr_in, self.sr_spec)

    def to_spec(self, n_in: int) -> int:
        return n_in * self.sr_spec // self.sr_in

    def to_in(self, n_spec: int) -> int:
        return n_spec * self.sr_in // self.sr_spec


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
    timings: dict | None = None,
    progress: Callable[[int], None] | None = None,
    gain_in: float = 1.0,
) -> dict:
    """Translate ``n_in`` input samples in chunks; ``emit`` receives the unscaled output in order.

    ``read(a, b)`` returns input samples [a, b) (mono, rate ``sr_in``); they are
    scaled by ``gain_in`` before translation (see `input_gain`). Returns the
    loudness figures `_apply_gain` needs (source_lufs, output_lufs, peak); the
    caller scales the emitted output by that gain.
    """
    device = opts.device or module_device(generator)
    fn = generator_fn(generator, device, timings)
    batch_size = opts.batch_size or default_batch_size(device)
    n_spec = _spec_length(n_in, sr_in, spec)
    grid = TileGrid(spec.n_frames(n_spec), spec.tile_frames, opts.hop_frames or overlap_hop(spec))
    rates = _Rates(sr_in, spec.sample_rate)
    hop = spec.hop_length
    if opts.phase_init == "pghi":
        chunk_seconds = math.inf  # PGHI is not chunk-local; see PHASE_INITS
    chunk_in = _round_up(max(1, n_in), rates.unit_in)
    if chunk_seconds * sr_in < n_in:
        chunk_in = max(rates.unit_in, int(chunk_seconds * sr_in) // rates.unit_in * rates.unit_in)
    r_spec = _round_up(math.ceil(RESAMPLE_MARGIN_S * spec.sample_rate), rates.unit_spec)
    r_in = rates.to_in(r_spec)
    gl_margin = (opts.n_iter + 2) * spec.n_fft  # Griffin-Lim spreads one n_fft per iteration
    meter_in, meter_out = LoudnessMeter(sr_in), LoudnessMeter(sr_in)
    cache: dict[int, torch.Tensor] = {}
    peak = 0.0
    for q0 in range(0, max(n_in, 1), chunk_in):
        q1 = min(n_in, q0 + chunk_in)
        # 1. output at the spec's rate needed to resample [q0, q1) back to the input's rate
        s_lo = max(0, (rates.to_spec(q0) - r_spec) // rates.unit_spec * rates.unit_spec)
        s_hi = min(n_spec, -(-q1 * spec.sample_rate // sr_in) + r_spec)
        # 2. frames Griffin-Lim must see for [s_lo, s_hi) to come out as in one piece
        t_lo = max(0, (s_lo - gl_margin) // hop)
        t_hi = min(grid.n_frames, -(-(s_hi + gl_margin) // hop) + 1)
        # 3. source frames the tiles over [t_lo, t_hi) read (reflection may reach anywhere near edges)
        ks = grid.tiles_touching(t_lo, t_hi)
        idx = torch.cat([grid.frame_index(k) for k in ks])
        f_lo, f_hi = min(t_lo, int(idx.min())), max(t_hi, int(idx.max()) + 1)
        # 4. spec-rate samples whose STFT gives frames [f_lo, f_hi) exactly; 5. input samples for them
        j_lo = max(0, (f_lo * hop - spec.n_fft) // hop * hop)
        j_hi = min(n_spec, (f_hi - 1) * hop + spec.n_fft)
        p_lo = max(0, (rates.to_in(j_lo) - r_in) // rates.unit_in * rates.unit_in)
        p_lo = min(p_lo, q0 // rates.unit_in * rates.unit_in)
        p_hi = max(q1, min(n_in, -(-j_hi * sr_in // spec.sample_rate) + r_in))
        y_in = np.asarray(read(p_lo, p_hi), dtype=np.float32)
        meter_in.add(y_in[q0 - p_lo : q1 - p_lo])
        y_in = y_in * gain_in
        with _timed(timings, "resample"):
            y_spec = audio.resample(y_in, sr_in, spec.sample_rate)
            y_spec = _fix_length(y_spec, n_spec - rates.to_spec(p_lo))
        off = rates.to_spec(p_lo)
        with _timed(timings, "stft"):  # on the generator's device: tiles never leave it
            x = S.stft(torch.from_numpy(y_spec[j_lo - off : j_hi - off]).to(device), spec)
            unit = S.magnitude_to_unit(x.abs(), spec)[None]
        first = j_lo // hop
        new = [k for k in ks if k not in cache]
        _sync_if_timed(timings)
        t0 = time.perf_counter()
        g0 = timings.get("generator", 0.0) if timings is not None else 0.0
        cache.update(run_tiles(unit, first, grid, new, fn, batch_size))
        for k in [k for k in cache if k < ks[0]]:
            del cache[k]
        out_unit = blend(cache, grid, t_lo, t_hi)[0]
        _sync_if_timed(timings)
        if timings is not None:
            g1 = timings.get("generator", 0.0)
            timings["stitching"] = (
                timings.get("stitching", 0.0) + time.perf_counter() - t0 - (g1 - g0)
            )
        with _timed(timings, "phase"):
            length = (n_spec if t_hi == grid.n_frames else (t_hi - 1) * hop) - t_lo * hop
            mag = S.unit_to_magnitude(out_unit, spec)
            x_t = x[..., t_lo - first : t_hi - first]
            z = _phase_pass(mag, x_t, t_lo, spec, opts, length, device)
        z = z[s_lo - t_lo * hop : s_hi - t_lo * hop]
        with _timed(timings, "resample"):
            out = audio.resample(z, spec.sample_rate, sr_in)
        out_off = rates.to_in(s_lo)
        out = _fix_length(out[q0 - out_off :], q1 - q0)
        meter_out.add(out)
        peak = max(peak, float(np.abs(out).max()) if out.size else 0.0)
        emit(out)
        if progress is not None:
            progress(q1 - q0)
    return {"source_lufs": meter_in.lufs(), "output_lufs": meter_out.lufs(), "peak": peak}


def _round_up(n: int, unit: int) -> int:
    return -(-n // unit) * unit


def translate_file(
    in_path: str | Path,
    out_path: str | Path,
    generator: torch.nn.Module,
    spec: SpectrogramSpec,
    *,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    protect: tuple = (),
    timings: dict | None = None,
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
        bar = tqdm(
            total=n_ch * n_in / sr_in, unit="s", desc=in_path.name, leave=False,
            disable=not progress,
        )  # fmt: skip
        try:
            per_channel = []
            for c in range(n_ch):
                with audio.AudioWriter(scratch[c], sr_in, subtype="FLOAT") as w:
                    per_channel.append(stream_translate(
                        lambda a, b, c=c: read(a, b)[c], n_in, sr_in, w.write, generator, spec,
                        opts, chunk_seconds=chunk_seconds, timings=timings,
                        progress=lambda n: bar.update(n / sr_in), gain_in=gain_in,
                    ))  # fmt: skip
        finally:
            bar.close()
        stats = _combine_channels(per_channel)
        gain = output_gain(stats, opts, gain_in)
        step = int(chunk_seconds * sr_in) or n_in
        with (
            _timed(timings, "io"),
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
