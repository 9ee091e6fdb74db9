"""Training-free style transfer and texture synthesis with a random-weight shallow CNN.

Gatys-style optimisation of a log-magnitude spectrogram, as Ulyanov & Lebedev
adapted it to audio: one random convolution over time with the frequency bins
as channels (or a small 2-D variant), ReLU, Gram matrices of its features as
"style", the features themselves as "content". Following Grinstein et al. the
default starts from the content spectrogram with no content loss: the melody
stays where it was and the optimiser moves the timbre statistics toward the
style's. Optional energy/frequency-envelope constraints (Verma & Smith, Liu et
al.) keep the result's loudness contour and spectral balance near the content's.

Shapes: a log-magnitude spectrogram is ``(n_freq, n_frames)``; features are
``(n_filters, n_positions)``; a Gram matrix is ``(n_filters, n_filters)``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from . import phase
from . import spectrogram as S
from .devices import resolve_device
from .errors import AudioError, CycleGanAudioError
from .loudness import integrated_loudness, matching_gain
from .spec import SpectrogramSpec

# log1p(LOG_GAIN·|X|) with |X| = 1 at a full-scale sine: logarithmic above about
# -60 dB and ~linear (toward 0) below, so silence is a finite 0. The gain puts our
# scaled magnitudes where Ulyanov's unscaled n_fft=2048 magnitudes were.
LOG_GAIN = 1000.0
SILENCE_PEAK = 1e-4  # a style clip whose peak is below -80 dBFS has no texture to copy
CONV_KINDS = ("1d", "2d")
INITS = ("content", "noise")
OPTIMIZERS = ("lbfgs", "adam")


@dataclass(frozen=True)
class StyleTransferConfig:
    """Everything that shapes a stylisation except the audio and the spectrogram spec.

    ``n_filters`` None means the variant's default: 512 for "1d" and 64 for "2d"
    (whose features hold n_filters x n_freq x n_frames values). Ulyanov & Lebedev
    used 4096 1-D filters; on a 2-core CPU one evaluation over a 20 s clip then
    costs ~15x more than with 512 (the Gram alone is 4096² x 2052 multiply-adds),
    so 4096 is for GPUs (``n_filters=4096``).
    ``n_iter`` counts objective evaluations (forward + backward passes), so the
    cost is predictable for L-BFGS and Adam alike.
    """

    content_weight: float = 0.0
    style_weight: float = 1.0
    init: str = "content"
    n_filters: int | None = None
    kernel_width: int = 11
    conv: str = "1d"
    optimizer: str = "lbfgs"
    n_iter: int = 20
    learning_rate: float = 0.05  # Adam only; log1p units
    seed: int = 0
    constraints: bool = False
    constraint_weight: float = 1.0
    phase_iters: int = 50
    phase_init: str = "auto"  # "auto" = the content's phase when init="content", else random

    def __post_init__(self) -> None:
        problems = []
        if self.init not in INITS:
            problems.append(f"init must be one of {INITS}, got {self.init!r}")
        if self.conv not in CONV_KINDS:
            problems.append(f"conv must be one of {CONV_KINDS}, got {self.conv!r}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.phase_init not in ("auto", "content", "random"):
            problems.append(f"phase_init must be auto, content or random, got {self.phase_init!r}")
        if self.n_filters is not None and self.n_filters < 1:
            problems.append(f"n_filters must be >= 1, got {self.n_filters}")
        if self.kernel_width < 1:
            problems.append(f"kernel_width must be >= 1, got {self.kernel_width}")
        if self.n_iter < 0 or self.phase_iters < 0:
            problems.append("n_iter and phase_iters must be >= 0")
        if min(self.content_weight, self.style_weight, self.constraint_weight) < 0:
            problems.append("loss weights must be >= 0")
        if problems:
            raise CycleGanAudioError("invalid style-transfer settings: " + "; ".join(problems))

    @property
    def filters(self) -> int:
        if self.n_filters is not None:
            return self.n_filters
        return 512 if self.conv == "1d" else 64


# A cheap preset for benchmarks (the evaluation's baseline): fewer evaluations and phase passes.
FAST = StyleTransferConfig(n_iter=10, phase_iters=32)


@dataclass
class StyleTransferResult:
    """Output audio (n_samples,) at ``sample_rate`` plus the loss trace, one entry per evaluation."""

    y: np.ndarray
    sample_rate: int
    style_loss: list[float] = field(default_factory=list)
    content_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    phase_convergence_db: float = float(
        "nan"
    )  # Griffin-Lim's spectral convergence (lower = closer)

    @property
    def style_loss_reduction(self) -> float:
        """First / best style loss (how many times the Gram distance shrank)."""
        if not self.style_loss:
            return 1.0
        return self.style_loss[0] / max(min(self.style_loss), 1e-30)


# ---------------------------------------------------------------- features and losses


def to_log(mag: torch.Tensor) -> torch.Tensor:
    """Linear magnitude -> the optimised log1p scale."""
    return torch.log1p(LOG_GAIN * mag)


def from_log(log_mag: torch.Tensor) -> torch.Tensor:
    """Inverse of `to_log`; negative values (below silence) become 0."""
    return torch.expm1(log_mag.clamp_min(0.0)) / LOG_GAIN


def random_weights(n_freq: int, cfg: StyleTransferConfig) -> torch.Tensor:
    """Seeded He-scaled conv kernel: 1d (n_filters, n_freq, width), 2d (n_filters, 1, width, width)."""
    g = torch.Generator().manual_seed(cfg.seed)
    k = cfg.kernel_width
    shape = (cfg.filters, n_freq, k) if cfg.conv == "1d" else (cfg.filters, 1, k, k)
    fan_in = shape[1] * int(np.prod(shape[2:]))
    return torch.randn(shape, generator=g) * np.sqrt(2.0 / fan_in)


def features(log_mag: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """ReLU(conv(log_mag)): (n_freq, n_frames) -> (n_filters, n_positions), 'same' padding."""
    if weights.dim() == 3:
        out = F.conv1d(log_mag[None], weights, padding=weights.shape[-1] // 2)
    else:
        out = F.conv2d(log_mag[None, None], weights, padding=weights.shape[-1] // 2)
    return torch.relu(out).reshape(weights.shape[0], -1)


def gram(feats: torch.Tensor) -> torch.Tensor:
    """(n_filters, n_positions) -> (n_filters, n_filters), divided by n_positions.

    Dividing by the number of positions makes clips of different lengths comparable.
    """
    return feats @ feats.T / feats.shape[-1]


def relative_sq_error(a: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||a - target||² / ||target||²: 1 means 'as far as zero', 0 means equal."""
    return ((a - target) ** 2).sum() / (target**2).sum().clamp_min(1e-12)


def constraint_loss(log_mag: torch.Tensor, content_log: torch.Tensor) -> torch.Tensor:
    """Energy per frame + frequency envelope (mean over time) relative to the content's."""
    energy = relative_sq_error(log_mag.sum(0), content_log.sum(0))
    envelope = relative_sq_error(log_mag.mean(1), content_log.mean(1))
    return energy + envelope


# ---------------------------------------------------------------- optimisation


def optimise_log_spectrogram(
    content_log: torch.Tensor | None,
    style_log: torch.Tensor,
    cfg: StyleTransferConfig,
    *,
    n_frames: int | None = None,
    progress: bool = True,
) -> tuple[torch.Tensor, list[float], list[float]]:
    """Optimise a log-magnitude spectrogram (n_freq, n_frames) toward the style's Gram matrix.

    ``content_log`` None is texture synthesis (noise init, ``n_frames`` frames).
    Everything runs on ``style_log``'s device. Returns (result, style loss per
    evaluation, content loss per evaluation); losses are relative (see `relative_sq_error`).
    """
    from tqdm.auto import tqdm

    device = style_log.device
    n_freq = style_log.shape[0]
    weights = random_weights(n_freq, cfg).to(device)
    with torch.no_grad():
        style_gram = gram(features(style_log, weights))
        content_feats = None if content_log is None else features(content_log, weights)

    if content_log is not None and cfg.init == "content":
        x = content_log.clone(memory_format=torch.contiguous_format)
    else:
        frames = content_log.shape[1] if content_log is not None else n_frames
        g = torch.Generator().manual_seed(cfg.seed + 1)
        # Uniform noise shaped by the style's mean spectrum, rather than Ulyanov &
        # Lebedev's near-zero noise: it starts with live ReLU features and the right balance.
        noise = torch.rand((n_freq, frames), generator=g).to(device)
        x = noise * style_log.mean(1, keepdim=True)
    x.requires_grad_(True)

    style_trace: list[float] = []
    content_trace: list[float] = []
    bar = tqdm(total=cfg.n_iter, desc="stylize", unit="eval", disable=not progress, leave=False)

    def objective() -> torch.Tensor:
        feats = features(x, weights)
        style = relative_sq_error(gram(feats), style_gram)
        loss = cfg.style_weight * style
        content = torch.zeros((), device=device)
        if content_feats is not None:
            content = relative_sq_error(feats, content_feats)
            loss = loss + cfg.content_weight * content
            if cfg.constraints:
                loss = loss + cfg.constraint_weight * constraint_loss(x, content_log)
        style_trace.append(float(style.detach()))
        content_trace.append(float(content.detach()))
        bar.update(1)
        bar.set_postfix(style=f"{style_trace[-1]:.3g}")
        return loss

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    if cfg.n_iter > 0:
        if cfg.optimizer == "lbfgs":
            opt = torch.optim.LBFGS(
                [x],
                lr=1.0,
                max_iter=cfg.n_iter,
                max_eval=cfg.n_iter,
                history_size=20,
                line_search_fn="strong_wolfe",
                tolerance_grad=1e-9,
                tolerance_change=1e-12,
            )
            opt.step(closure)
        else:
            opt = torch.optim.Adam([x], lr=cfg.learning_rate)
            for _ in range(cfg.n_iter):
                opt.step(closure)
    bar.close()
    return x.detach(), style_trace, content_trace


# ---------------------------------------------------------------- audio in, audio out


def require_audible(y: np.ndarray, what: str) -> None:
    """Raise AudioError naming ``what`` when ``y`` is empty or silent (peak below -80 dBFS)."""
    y = np.asarray(y)
    if y.size == 0:
        raise AudioError(f"{what}: no samples")
    if float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioError(
            f"{what}: silent (peak below -80 dBFS); it has no sound to take a style from"
        )


def run_style_transfer(
    content_y: np.ndarray | None,
    style_y: np.ndarray,
    sr: int,
    *,
    spec: SpectrogramSpec | None = None,
    config: StyleTransferConfig | None = None,
    device: str | torch.device | None = "auto",
    texture_seconds: float | None = None,
    progress: bool = True,
    **overrides,
) -> StyleTransferResult:
    """Give ``content_y`` the texture of ``style_y``: the result with its loss trace and timing.

    Both inputs are mono float arrays at ``sr`` of any length (resampled to the
    spec's rate inside; ``spec`` None: `SpectrogramSpec()`). The output ``.y`` is mono
    float32 (n_samples,) at ``sr`` with the content's length. ``content_y`` None
    synthesises ``texture_seconds`` of the style's texture from noise. ``config``
    (default `StyleTransferConfig()`, or `FAST`) may be overridden by keyword, e.g.
    ``stylize(c, s, sr, content_weight=0.1, n_iter=50)``. Loudness is matched to the
    content (texture: to the style).
    """
    t0 = time.perf_counter()
    spec = spec or SpectrogramSpec()
    cfg = dataclasses.replace(config or StyleTransferConfig(), **overrides)
    dev = resolve_device(device)
    require_audible(style_y, "style clip")
    if content_y is None:
        if not texture_seconds or texture_seconds <= 0:
            raise CycleGanAudioError(
                "texture synthesis needs texture_seconds > 0 (or give a content clip)"
            )
        if cfg.constraints:
            raise CycleGanAudioError("spectral constraints need a content clip")
        cfg = dataclasses.replace(cfg, init="noise")
    else:
        content_y = np.asarray(content_y, dtype=np.float32)
        if content_y.size == 0:
            raise AudioError("content clip: no samples")

    def at_spec_rate(y: np.ndarray) -> np.ndarray:
        from .audio import resample

        return resample(np.asarray(y, dtype=np.float32), sr, spec.sample_rate)

    # Optimised on the tile frequency axis (the spec's log axis when it has one); the
    # result goes back to the STFT axis for phase reconstruction.
    style_log = to_log(S.tile_magnitude(at_spec_rate(style_y), spec))
    style_log = style_log.contiguous().to(dev)
    content_log = content_stft = None
    if content_y is not None:
        content_stft = S.stft(at_spec_rate(content_y), spec)
        content_log = to_log(S.to_tile_freq(content_stft.abs(), spec)).contiguous().to(dev)
        n_samples = len(at_spec_rate(content_y))
    else:
        n_samples = int(round(texture_seconds * spec.sample_rate))

    log_mag, style_trace, content_trace = optimise_log_spectrogram(
        content_log, style_log, cfg, n_frames=spec.n_frames(n_samples), progress=progress
    )

    use_content_phase = content_stft is not None and (
        cfg.phase_init == "content" or (cfg.phase_init == "auto" and cfg.init == "content")
    )
    init = content_stft.to(dev) if use_content_phase else "random"
    target_mag = S.to_linear_freq(from_log(log_mag), spec)
    y = phase.griffin_lim(target_mag, spec, n_iter=cfg.phase_iters, init=init, length=n_samples)
    convergence_db = phase.spectral_convergence_db(target_mag, y, spec)
    y = y.detach().cpu().numpy().astype(np.float32)
    reference = at_spec_rate(content_y) if content_y is not None else at_spec_rate(style_y)
    y = _match_loudness(y, reference, spec.sample_rate)
    if sr != spec.sample_rate:
        from .audio import resample

        y = resample(y, spec.sample_rate, sr)
        target = len(content_y) if content_y is not None else int(round(texture_seconds * sr))
        y = np.pad(y, (0, max(0, target - len(y))))[:target]
    seconds = time.perf_counter() - t0
    return StyleTransferResult(y, sr, style_trace, content_trace, seconds, convergence_db)


def _match_loudness(y: np.ndarray, reference: np.ndarray, sample_rate: int) -> np.ndarray:
    """Scale ``y`` to the reference's loudness (BS.1770, as translate does), never clipping."""
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    gain = matching_gain(
        integrated_loudness(reference, sample_rate), integrated_loudness(y, sample_rate), peak
    )
    return (y * gain).astype(np.float32)


def stylize(
    content_y: np.ndarray | None, style_y: np.ndarray, sr: int, **options: Any
) -> np.ndarray:
    """`run_style_transfer`'s audio alone: mono float32 (n_samples,) at ``sr``.

    ``options``: `run_style_transfer`'s keywords (spec, config, device, texture_seconds,
    progress, and `StyleTransferConfig` fields as overrides).
    """
    return run_style_transfer(content_y, style_y, sr, **options).y


def style_distance(
    y: np.ndarray, style_y: np.ndarray, spec: SpectrogramSpec, config: StyleTransferConfig
) -> float:
    """Relative Gram distance between two signals (at the spec's rate) in ``config``'s network.

    Measures a finished output after phase reconstruction, not the optimised spectrogram.
    """
    weights = random_weights(spec.n_freq, config)

    def gram_of(signal: np.ndarray) -> torch.Tensor:
        log_mag = to_log(S.tile_magnitude(np.asarray(signal, np.float32), spec))
        return gram(features(log_mag, weights))

    with torch.no_grad():
        return float(relative_sq_error(gram_of(y), gram_of(style_y)))
