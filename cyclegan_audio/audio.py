"""Audio file I/O: the only module that imports soundfile.

`load` returns mono float32 at the requested rate (or every channel); `save`
writes atomically (temporary file, then rename) and never overwrites a file the
caller said to protect. A verdict about a file (missing, a folder, empty,
undecodable) is an `AudioError` whose message names it; an error of the
environment (no permission, I/O error, disk full) stays an `OSError`, so callers
can tell "this file is bad" from "try again".
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import commit, discard, temp_beside
from .errors import AudioError

AUDIO_EXTENSIONS = tuple(
    ".wav .wave .flac .ogg .oga .opus .mp3 .aif .aiff .aifc .au .snd .caf .w64 .m4a .wma".split()
)


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    n_channels: int
    n_samples: int

    @property
    def seconds(self) -> float:
        return self.n_samples / self.sample_rate if self.sample_rate else 0.0


def find_audio_files(
    folder: str | Path, on_ignored: Callable[[Path, str], None] | None = None
) -> list[Path]:
    """All audio files under ``folder`` (recursive, sorted, hidden names skipped).

    Symlinks are followed, each folder searched once. ``on_ignored(path, reason)`` hears
    of what looks like audio but is not used: a folder named ``x.wav`` (searched as a
    folder), a symlink loop, a broken link, a folder that cannot be read.
    """
    root = Path(folder)
    out: list[Path] = []
    tell = on_ignored or (lambda path, reason: None)
    searched: dict[tuple[int, int], Path] = {}

    def walk(d: Path, ancestors: frozenset[tuple[int, int]]) -> None:
        st = d.stat()
        key = (st.st_dev, st.st_ino)
        if key in ancestors:
            return tell(d, "symlink loop (a folder inside itself); not followed")
        if key in searched:
            return tell(d, f"same folder as {searched[key]}; searched once")
        searched[key] = d
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            return tell(d, f"cannot read folder ({exc.strerror or exc})")
        for e in entries:
            if e.name.startswith("."):
                continue
            p, audio_name = Path(e.path), Path(e.name).suffix.lower() in AUDIO_EXTENSIONS
            try:
                p.stat()
            except OSError as exc:  # a dangling link or a link loop
                if exc.errno == errno.ELOOP:
                    tell(p, "symlink loop; not followed")
                elif audio_name:
                    tell(p, f"broken link ({exc.strerror or exc})")
                continue
            if p.is_dir():
                if audio_name:
                    tell(p, "is a folder, not an audio file (searched as a folder)")
                walk(p, ancestors | {key})
            elif audio_name and p.is_file():
                out.append(p)
            elif audio_name:
                tell(p, "not a regular file")

    walk(root, frozenset())
    return sorted(out)


def _check_file(path: Path) -> None:
    """AudioError for a missing file, a folder or an empty file; OSError if it cannot be opened."""
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    with open(path, "rb"):  # no permission, I/O error: an OSError, not a verdict on the file
        pass


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.replace("Error opening", "cannot open").strip()
    return text[:200]


def info(path: str | Path) -> AudioInfo:
    """Header facts without decoding the samples."""
    import soundfile as sf

    path = Path(path)
    _check_file(path)
    try:
        i = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types for bad files
        if (system := _system_error(exc, path)) is not None:
            raise system from None
        return _info_fallback(path, exc)
    return AudioInfo(int(i.samplerate), int(i.channels), int(i.frames))


def _info_fallback(path: Path, exc: Exception) -> AudioInfo:
    y, sr = _load_fallback(path, exc, sr=None)
    return AudioInfo(int(sr), y.shape[0], int(y.shape[-1]))


def _load_fallback(path: Path, exc: Exception, sr: int | None) -> tuple[np.ndarray, int]:
    """Formats libsndfile cannot read (m4a, wma…), decoded whole by librosa/audioread when
    available: (samples (n_channels, n_samples) float32, rate). Slow: see `decoded_copy`."""
    if path.suffix.lower() in (".m4a", ".wma", ".mp3", ".opus"):
        try:
            import warnings

            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y, got_sr = librosa.load(str(path), sr=sr, mono=False)
            if y.size:
                return np.atleast_2d(y).astype(np.float32), int(got_sr)
        except Exception:
            pass
    raise AudioError(f"{path}: not a readable audio file ({_describe(exc)})")


def decoded_copy(path: str | Path, folder: str | Path) -> Path:
    """``path`` itself when libsndfile reads it; else the file decoded ONCE by the fallback
    decoder (m4a, wma…) into a float W64 file in ``folder`` (every channel, its own rate).

    For reading a fallback-format file piece by piece: `load` with an offset decodes the
    whole file on every call, so chunked reading of the original is quadratic in length.
    """
    import soundfile as sf

    path = Path(path)
    _check_file(path)
    try:
        sf.info(str(path))
        return path
    except Exception as exc:  # soundfile raises several types for files it cannot read
        if (system := _system_error(exc, path)) is not None:
            raise system from None
        y, sr = _load_fallback(path, exc, sr=None)
    dest = Path(folder) / f"decoded-{path.stem[:60]}.w64"
    sf.write(str(dest), y.T, sr, subtype="FLOAT", format="W64")
    return dest


def load(
    path: str | Path,
    sample_rate: int | None,
    *,
    offset_s: float = 0.0,
    duration_s: float | None = None,
    mono: bool = True,
) -> np.ndarray:
    """Read ``path`` as float32 (n_samples,) at ``sample_rate`` (None keeps the file's rate).

    Multichannel audio is averaged to mono; ``mono=False`` keeps the channels:
    (n_channels, n_samples). ``offset_s``/``duration_s`` read a window of the file
    without decoding the rest (where the format allows; see `decoded_copy`).
    """
    import soundfile as sf

    path = Path(path)
    _check_file(path)
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
        if (system := _system_error(exc, path)) is not None:
            raise system from None
        y1, file_sr = _load_fallback(path, exc, sr=None)
        start = int(round(offset_s * file_sr))
        stop = None if duration_s is None else start + int(round(duration_s * file_sr))
        y = y1[:, start:stop].T
    y = (y.mean(axis=1) if y.shape[1] > 1 else y[:, 0]) if mono else y.T
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


def refuse_to_overwrite(path: str | Path, inputs: Iterable[str | Path]) -> None:
    """Raise AudioError when ``path`` is one of ``inputs`` (links and ".." resolved).

    Commands call it before their work and `AudioWriter` again before writing.
    """
    target = Path(path).resolve()
    if any(Path(p).resolve() == target for p in inputs):
        raise AudioError(f"{path}: refusing to overwrite an input file; choose another -o")


def save(path: str | Path, y: np.ndarray, sample_rate: int, *, protect: tuple = ()) -> Path:
    """Write float audio (n_samples,) or (n_channels, n_samples) atomically; refuse to write
    over any path in ``protect``.

    The format follows the extension (wav, flac, ogg, …); samples are clipped to [-1, 1].
    """
    y = np.asarray(y, dtype=np.float32)
    with AudioWriter(
        path, sample_rate, protect=protect, n_channels=y.shape[0] if y.ndim > 1 else 1
    ) as w:
        w.write(y)
    return Path(path)


def write_error(exc: Exception, path: str | Path) -> Exception:
    """What to raise when writing ``path`` failed with ``exc``: an OSError naming ``path`` for
    an error of the system (disk full, read-only file system, no permission), else an
    AudioError (e.g. a format the extension names but libsndfile cannot write)."""
    return _system_error(exc, path) or AudioError(f"{path}: cannot write audio ({_describe(exc)})")


def _system_error(exc: Exception, path: str | Path) -> OSError | None:
    """``exc`` as an OSError naming ``path`` when the system failed (not the file), else None."""
    if isinstance(exc, OSError):
        return OSError(exc.errno, exc.strerror or str(exc), str(path))
    import soundfile as sf

    # libsndfile says only "System error"; the C errno behind it is in cffi's record
    code = getattr(getattr(sf, "_ffi", None), "errno", 0)
    if "System error" in f"{exc} {getattr(exc, 'error_string', '')}" and code:
        return OSError(code, os.strerror(code), str(path))
    return None


def rms_db(y: np.ndarray) -> float:
    """RMS level in dBFS (-inf for digital silence)."""
    r = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    return 20.0 * np.log10(r) if r > 0 else float("-inf")


class AudioWriter:
    """Write audio piece by piece (bounded memory), atomically, like `save`.

    Samples go to a temporary file beside ``path``; `close` renames it into place,
    and an exception inside the ``with`` block removes it, so a failed run never
    leaves a truncated file under the final name. ``subtype`` is soundfile's
    (e.g. "FLOAT" for an unclipped scratch file); None keeps the format's default.
    A failure of the system raises an OSError naming ``path`` (see `write_error`).
    """

    def __init__(
        self,
        path: str | Path,
        sample_rate: int,
        *,
        protect: tuple = (),
        subtype=None,
        n_channels: int = 1,
    ):
        import soundfile as sf

        self.path = Path(path)
        refuse_to_overwrite(self.path, protect)
        if self.path.is_dir():
            raise AudioError(f"{self.path}: is a folder; name a file to write")
        fmt = self.path.suffix.lstrip(".").upper() or "WAV"
        fmt = "WAV" if fmt == "WAVE" else fmt
        self.n_channels = n_channels
        self.clip = subtype != "FLOAT"
        self._file = None
        try:
            self._tmp = temp_beside(self.path)
        except OSError as exc:
            raise write_error(exc, self.path) from None
        try:
            self._file = sf.SoundFile(
                str(self._tmp), "w", sample_rate, n_channels, subtype=subtype, format=fmt
            )
        except Exception as exc:
            self.abort()
            raise write_error(exc, self.path) from None

    def write(self, y: np.ndarray) -> None:
        """Append samples: (n_samples,) for one channel, else (n_channels, n_samples)."""
        y = np.asarray(y, dtype=np.float32)
        y = np.clip(y, -1.0, 1.0) if self.clip else y
        try:
            self._file.write(y.T if y.ndim > 1 else y)
        except Exception as exc:
            raise write_error(exc, self.path) from None

    def close(self) -> Path:
        try:
            self._file.close()
            return commit(self._tmp, self.path)
        except Exception as exc:
            self.abort()
            raise write_error(exc, self.path) from None

    def abort(self) -> None:
        """Remove the temporary file; never raises (it runs while another error is raised)."""
        try:
            if self._file is not None:
                self._file.close()
        except Exception:  # noqa: BLE001 - the original error matters, not this one
            pass
        try:
            discard(self._tmp)
        except OSError:
            pass

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
