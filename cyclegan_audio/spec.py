"""The one home of every spectrogram and tile parameter.

Only `prepare` accepts these as flags (and `stylize`, which trains nothing; it can take
a model's spec with ``--like``). The spec travels in ``manifest.json`` and in every
checkpoint; everything downstream reads it from there.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .errors import SpecError

SPEC_FORMAT_VERSION = 1
FREQ_SCALES = ("linear", "log")
# The frequency-axis fields: a linear spec's dict leaves them out, so it reads exactly as
# before they existed (older cyclegan-audio versions read it too).
FREQ_FIELDS = ("freq_scale", "n_bins", "fmin_hz")


@dataclass(frozen=True)
class SpectrogramSpec:
    """STFT, dB scaling and tiling of audio.

    Defaults: 22,050 Hz, n_fft 1022 -> 512 linear-frequency bins, hop 215 so that
    512 frames ~= 5 s and a 20 s clip holds exactly four full tiles.

    Magnitudes are scaled so a full-scale sine peaks at 0 dB (|X| divided by half
    the window sum); the largest possible bin is then +6.02 dB.

    Frequency axis of a tile: "linear" (the default) keeps the n_fft // 2 + 1 STFT bins;
    "log" maps them onto ``n_bins`` log-spaced rows from ``fmin_hz`` to sample_rate / 2
    (`spectrogram.to_tile_freq`), so a change of pitch is a vertical shift. Phase
    reconstruction always works on the linear STFT (`spectrogram.to_linear_freq`).
    """

    sample_rate: int = 22050
    n_fft: int = 1022
    hop_length: int = 215
    win_length: int | None = None
    window: str = "hann"
    center: bool = True
    # torch.stft defaults to "reflect", librosa to "constant"; we use one everywhere.
    pad_mode: str = "constant"
    tile_frames: int = 512
    clip_seconds: float = 20.0
    db_floor: float = -100.0
    db_ceiling: float = 6.0
    freq_scale: str = "linear"
    n_bins: int | None = None  # tile rows of a "log" spec (its tile height); None when linear
    fmin_hz: float = 32.7  # centre of the lowest "log" row (C1); unused when linear

    def __post_init__(self) -> None:
        problems = []
        if self.sample_rate <= 0:
            problems.append(f"sample_rate must be positive, got {self.sample_rate}")
        if self.n_fft < 2:
            problems.append(f"n_fft must be >= 2, got {self.n_fft}")
        if not 0 < self.hop_length <= self.n_fft_window:
            problems.append(f"hop_length must be in (0, win_length], got {self.hop_length}")
        if self.win_length is not None and not 0 < self.win_length <= self.n_fft:
            problems.append(f"win_length must be in (0, n_fft], got {self.win_length}")
        if self.window not in ("hann", "hamming"):
            problems.append(f"window must be 'hann' or 'hamming', got {self.window!r}")
        if self.pad_mode not in ("constant", "reflect"):
            problems.append(f"pad_mode must be 'constant' or 'reflect', got {self.pad_mode!r}")
        if self.tile_frames < 1:
            problems.append(f"tile_frames must be >= 1, got {self.tile_frames}")
        if self.db_ceiling <= self.db_floor:
            problems.append("db_ceiling must be above db_floor")
        if self.clip_seconds * self.sample_rate < self.tile_samples:
            problems.append("clip_seconds is shorter than one tile")
        if self.freq_scale not in FREQ_SCALES:
            problems.append(f"freq_scale must be 'linear' or 'log', got {self.freq_scale!r}")
        elif self.freq_scale == "log":
            if self.n_bins is None or self.n_bins < 2:
                problems.append(
                    f"freq_scale 'log' needs n_bins >= 2 (tile rows), got {self.n_bins}"
                )
            if not 0 < self.fmin_hz < self.sample_rate / 2:
                problems.append(
                    f"fmin_hz must be in (0, sample_rate / 2 = {self.sample_rate / 2:g}), "
                    f"got {self.fmin_hz}"
                )
        elif self.n_bins is not None:
            problems.append(
                f"n_bins is the tile height of freq_scale 'log'; leave it unset for "
                f"'linear' (got {self.n_bins})"
            )
        if problems:
            raise SpecError("invalid spectrogram spec: " + "; ".join(problems))

    # ---- derived quantities (never stored) ----
    @property
    def n_fft_window(self) -> int:
        return self.win_length or self.n_fft

    @property
    def n_stft_bins(self) -> int:
        """Frequency bins of the linear STFT (n_fft // 2 + 1): what phase reconstruction sees."""
        return self.n_fft // 2 + 1

    @property
    def n_freq(self) -> int:
        """Frequency rows of a tile (image height): the STFT bins, or ``n_bins`` when log."""
        return self.n_bins if self.freq_scale == "log" else self.n_stft_bins

    @property
    def tile_shape(self) -> tuple[int, int]:
        """(height, width) = (n_freq, tile_frames) of one tile image."""
        return (self.n_freq, self.tile_frames)

    @property
    def tile_samples(self) -> int:
        """Samples spanned by one tile's frames (tile_frames * hop_length)."""
        return self.tile_frames * self.hop_length

    @property
    def tile_seconds(self) -> float:
        return self.tile_samples / self.sample_rate

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    def n_frames(self, n_samples: int) -> int:
        """STFT frames for a signal of ``n_samples`` samples."""
        if self.center:
            return 1 + n_samples // self.hop_length
        return max(0, 1 + (n_samples - self.n_fft) // self.hop_length)

    def frames_to_samples(self, n_frames: int) -> int:
        """Signal length that an iSTFT of ``n_frames`` frames yields."""
        if self.center:
            return (n_frames - 1) * self.hop_length
        return self.n_fft + (n_frames - 1) * self.hop_length

    # ---- serialisation ----
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        defaults = SpectrogramSpec()
        if all(d[name] == getattr(defaults, name) for name in FREQ_FIELDS):
            for name in FREQ_FIELDS:
                del d[name]
        d["format_version"] = SPEC_FORMAT_VERSION
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpectrogramSpec:
        data = dict(data)  # fields it lacks (FREQ_FIELDS of older files) take their defaults
        version = data.pop("format_version", None)
        if version != SPEC_FORMAT_VERSION:
            raise SpecError(
                f"spectrogram spec format version {version!r} is not supported "
                f"(this cyclegan-audio reads version {SPEC_FORMAT_VERSION}); "
                "re-run prepare with this version of cyclegan-audio"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise SpecError(f"spectrogram spec has unknown fields: {', '.join(unknown)}")
        return cls(**data)

    def diff(self, other: SpectrogramSpec) -> list[str]:
        """Field-by-field differences, as 'name: self != other' lines."""
        out = []
        for f in dataclasses.fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if a != b:
                out.append(f"{f.name}: {a!r} != {b!r}")
        return out


def tiny_spec(**overrides: Any) -> SpectrogramSpec:
    """A small spec for tests and the CPU demo: 64 bins x 64 frames at 8 kHz."""
    base = dict(sample_rate=8000, n_fft=126, hop_length=32, tile_frames=64, clip_seconds=1.024)
    base.update(overrides)
    return SpectrogramSpec(**base)
