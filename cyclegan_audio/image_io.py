"""Tile images: the only module that imports PIL.

A tile is a (n_freq, n_frames) array on the [0, 1] scale. On disk it is a
greyscale PNG, frequency on the vertical axis with low frequencies at the
bottom (row 0 of the image is the highest bin), time left to right.
16-bit by default; 8-bit and RGB PNGs of the right size are read too, so tiles
from other CycleGAN implementations come back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .errors import CycleGanAudioError

_MAX16 = 65535.0


def unit_to_pixels(unit: np.ndarray, bits: int = 16) -> np.ndarray:
    """[0, 1] spectrogram (F, T), bin 0 first -> image array (F, T), low bins at the bottom."""
    top = _MAX16 if bits == 16 else 255.0
    dtype = np.uint16 if bits == 16 else np.uint8
    u = np.clip(np.asarray(unit, dtype=np.float64), 0.0, 1.0)
    return np.round(u[::-1] * top).astype(dtype)


def pixels_to_unit(pixels: np.ndarray) -> np.ndarray:
    """Inverse of `unit_to_pixels` for uint8 or uint16 arrays."""
    top = 255.0 if pixels.dtype == np.uint8 else _MAX16
    return (pixels[::-1].astype(np.float32) / np.float32(top)).copy()


def write_png(
    path: str | Path, unit: np.ndarray, *, bits: int = 16, compress_level: int | None = None
) -> Path:
    """Write a [0, 1] spectrogram (F, T) as a greyscale PNG (atomic).

    ``compress_level`` 0-9 (zlib; None = PIL's default 6); 1 is ~1.5x faster and barely larger.
    """
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = unit_to_pixels(unit, bits)
    img = Image.fromarray(pixels)  # uint16 -> "I;16", uint8 -> "L"
    options = {} if compress_level is None else {"compress_level": compress_level}
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG", **options)
    return path


def read_png(path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a tile PNG -> [0, 1] float32 (F, T), bin 0 first.

    Accepts 16-bit and 8-bit greyscale and 8-bit RGB/RGBA (channels averaged).
    ``shape`` (F, T), when given, must match the image or a clear error is raised.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise CycleGanAudioError(f"{path}: file not found")
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in ("I;16", "I;16B", "I;16L"):
                pixels = np.asarray(img, dtype=np.uint16)
            elif mode == "I":
                arr = np.asarray(img)
                pixels = np.clip(arr, 0, 65535).astype(np.uint16)
            elif mode == "L":
                pixels = np.asarray(img, dtype=np.uint8)
            elif mode in ("RGB", "RGBA", "LA", "P"):
                rgb = np.asarray(img.convert("RGB"), dtype=np.float32)
                pixels = np.round(rgb.mean(axis=2)).astype(np.uint8)
            else:
                raise CycleGanAudioError(f"{path}: unsupported PNG mode {mode!r}")
    except (UnidentifiedImageError, OSError) as exc:
        raise CycleGanAudioError(f"{path}: not a readable image ({exc})") from None
    if shape is not None and tuple(pixels.shape) != tuple(shape):
        raise CycleGanAudioError(
            f"{path}: image is {pixels.shape[0]}x{pixels.shape[1]} (HxW) but the spec's tiles are "
            f"{shape[0]}x{shape[1]}; resize it or use the manifest it was made with"
        )
    return pixels_to_unit(pixels)


def write_rgb_png(path: str | Path, rgb: np.ndarray) -> Path:
    """Write an 8-bit colour picture (H, W, 3) uint8 as PNG (atomic); for reports, not tiles."""
    from PIL import Image

    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(tmp, format="PNG")
    return path
