"""Audio file I/O: the only module that imports soundfile.

`load` returns mono float32 at the requested rate; `save` writes atomically
(temporary file, then rename) and never overwrites a file the caller said to
protect. Every failure is an `AudioError` whose message names the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path, commit, discard, temp_beside
from .errors import AudioError

AUDIO_EXTENSIONS = (
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
    ".au", ".snd", ".caf", ".w64", ".m4a", ".wma",
)  # fmt: skip


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    n_channels: int
    n_samples: int

    @property
    def seconds(self) -> float:
        return self.n_samples / self.sample_rate if self.sample_rate else 0.0


def find_audio_files(folder: str | Path) -> list[Path]:
    """All audio files under ``folder`` (recursive, sorted, hidden files skipped)."""
    root = Path(folder)
    out = []
    for p in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS:
            out.append(p)
    return out


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.replace("Error opening", "cannot open").strip()
    return text[:200]


def info(path: str | Path) -> AudioInfo:
    """Header facts without decoding the samples."""
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    try:
        i = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types for bad files
        return _info_fallback(path, exc)
    return AudioInfo(int(i.samplerate), int(i.channels), int(i.frames))


def _info_fallback(path: Path, exc: Exception) -> AudioInfo:
    y, sr = _load_fallback(path, exc, sr=None)
    return AudioInfo(int(sr), 1, int(y.shape[-1]))


def _load_fallback(path: Path, exc: Exception, sr: int | None) -> tuple[np.ndarray, int]:
    """Formats libsndfile cannot read (m4a, wma…) go through librosa/audioread when available."""
    if path.suffix.lower() in (".m4a", ".wma", ".mp3", ".opus"):
        try:
            import warnings

            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y, got_sr = librosa.load(str(path), sr=sr, mono=True)
            if y.size:
                return y.astype(np.float32), int(got_sr)
        except Exception:
            pass
    raise AudioError(f"{path}: not a readable audio file ({_describe(exc)})")


def load(
    path: str | Path,
    sample_rate: int | None,
    *,
    offset_s: float = 0.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """Read ``path`` as mono float32, resampled to ``sample_rate`` (None keeps the file's rate).

    Multichannel audio is averaged to mono. ``offset_s``/``duration_s`` read a
    window of the file without decoding the rest (where the format allows).
    """
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    try:
        with sf.SoundFile(str(path)) as f:
            file_sr = int(f.samplerate)
            start = int(round(offset_s * file_sr))
            n = -1 if duration_s is None else int(round(duration_s * file_sr))
            if start:
                f.seek(min(start, f.frames))
            y = f.read(frames=n, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as exc:
        y1, file_sr = _load_fallback(path, exc, sr=None)
        start = int(round(offset_s * file_sr))
        stop = None if duration_s is None else start + int(round(duration_s * file_sr))
        y = y1[start:stop, None]
    y = y.mean(axis=1) if y.shape[1] > 1 else y[:, 0]
    if not np.all(np.isfinite(y)):
        raise AudioError(f"{path}: contains NaN or infinite samples")
    if sample_rate is not None and file_sr != sample_rate:
        y = resample(y, file_sr, sample_rate)
    return np.ascontiguousarray(y, dtype=np.float32)


def load_with_rate(path: str | Path) -> tuple[np.ndarray, int]:
    """Read ``path`` as mono float32 at its own sample rate; returns (samples, rate)."""
    rate = info(path).sample_rate
    return load(path, None), rate


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """High-quality resampling (soxr via librosa)."""
    if orig_sr == target_sr:
        return y
    import librosa

    return librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq").astype(
        np.float32
    )


def save(path: str | Path, y: np.ndarray, sample_rate: int, *, protect: tuple = ()) -> Path:
    """Write mono float audio atomically; refuse to write over any path in ``protect``.

    The format follows the extension (wav, flac, ogg, …); samples are clipped to [-1, 1].
    """
    import soundfile as sf

    path = Path(path)
    for p in protect:
        if Path(p).exists() and path.exists() and path.resolve() == Path(p).resolve():
            raise AudioError(f"{path}: refusing to overwrite an input file; choose another -o")
    path.parent.mkdir(parents=True, exist_ok=True)
    y = np.clip(np.asarray(y, dtype=np.float32), -1.0, 1.0)
    fmt = path.suffix.lstrip(".").upper() or "WAV"
    if fmt == "WAVE":
        fmt = "WAV"
    with atomic_path(path) as tmp:
        try:
            sf.write(str(tmp), y, sample_rate, format=fmt)
        except Exception as exc:
            raise AudioError(f"{path}: cannot write audio ({_describe(exc)})") from None
    return path


def rms_db(y: np.ndarray) -> float:
    """RMS level in dBFS (-inf for digital silence)."""
    r = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    return 20.0 * np.log10(r) if r > 0 else float("-inf")


class AudioWriter:
    """Write mono audio piece by piece (bounded memory), atomically, like `save`.

    Samples go to a temporary file beside ``path``; `close` renames it into place,
    and an exception inside the ``with`` block removes it, so a killed run never
    leaves a truncated file under the final name. ``subtype`` is soundfile's
    (e.g. "FLOAT" for an unclipped scratch file); None keeps the format's default.
    """

    def __init__(self, path: str | Path, sample_rate: int, *, protect: tuple = (), subtype=None):
        import soundfile as sf

        self.path = Path(path)
        for p in protect:
            if Path(p).exists() and self.path.exists() and self.path.resolve() == Path(p).resolve():
                raise AudioError(
                    f"{self.path}: refusing to overwrite an input file; choose another -o"
                )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fmt = self.path.suffix.lstrip(".").upper() or "WAV"
        fmt = "WAV" if fmt == "WAVE" else fmt
        self._tmp = temp_beside(self.path)
        self.clip = subtype != "FLOAT"
        try:
            self._file = sf.SoundFile(
                str(self._tmp), "w", sample_rate, 1, subtype=subtype, format=fmt
            )
        except Exception as exc:
            discard(self._tmp)
            raise AudioError(f"{self.path}: cannot write audio ({_describe(exc)})") from None

    def write(self, y: np.ndarray) -> None:
        y = np.asarray(y, dtype=np.float32)
        self._file.write(np.clip(y, -1.0, 1.0) if self.clip else y)

    def close(self) -> Path:
        self._file.close()
        return commit(self._tmp, self.path)

    def abort(self) -> None:
        self._file.close()
        discard(self._tmp)

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
