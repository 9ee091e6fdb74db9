"""`restore_tiles`: tiles back to audio with the manifest's spec (the way back from `prepare`).

Tiles are joined in the order given and turned into one signal by fast Griffin-Lim.
When they are consecutive tiles of one source file the manifest lists, unchanged
since prepare, that file is found (`find_source`): its STFT phase can start
Griffin-Lim, its recorded gain is undone, and the log-spectral distance to it is
reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import audio, image_io
from . import tiles as T
from .manifest import MANIFEST_NAME, Manifest, TileRecord
from .preparation import PrepareError
from .prepare_worker import CLIPS_PER_READ, LONG_FILE_S
from .spec import SpectrogramSpec


@dataclass
class Restored:
    """Audio rebuilt from tiles: y (n_samples,) float32 at spec.sample_rate."""

    y: np.ndarray
    spec: SpectrogramSpec
    source: Path | None  # the source file, when the tiles are consecutive tiles of one
    source_note: str  # why there is no source, when there is none
    lsd_db: float | None  # log-spectral distance to the source over the tiles' span


def _tile_record(m: Manifest, p: Path) -> TileRecord | None:
    """The manifest's record of tile ``p`` (by path, else by a unique file name)."""
    root, target = m.root.resolve(), p.resolve()
    for t in m.tiles:
        if root / t.path == target:
            return t
    same_name = [t for t in m.tiles if Path(t.path).name == p.name]
    return same_name[0] if len(same_name) == 1 else None  # a copy of one of our tiles


def _source_record(m: Manifest, p: Path) -> dict[str, Any]:
    t = _tile_record(m, p)
    return m.files.get(f"{t.domain}/{t.source}", {}) if t else {}


def find_source(m: Manifest, tile_paths: list[Path]) -> tuple[Path | None, list[int], str]:
    """(source file, running tile indices, "") when every tile is a consecutive tile of one
    existing, unchanged source file listed in ``m``; else (None, [], reason)."""
    recs = []
    for p in tile_paths:
        rec = _tile_record(m, Path(p))
        if rec is None:
            return None, [], f"{p} is not a tile of {m.root / MANIFEST_NAME}"
        recs.append(rec)
    if len({(r.domain, r.source) for r in recs}) != 1:
        return None, [], "the tiles come from more than one source file"
    indices = [T.tile_index(r.offset_s, m.spec) for r in recs]
    if any(b != a + 1 for a, b in zip(indices, indices[1:])):
        return None, [], "the tiles are not consecutive tiles of their source file"
    folder = m.sources.get(recs[0].domain)
    source = Path(folder or ".") / recs[0].source
    record = m.files.get(f"{recs[0].domain}/{recs[0].source}", {})
    if not folder or not source.exists():
        return None, [], f"source file {source} no longer exists"
    st = source.stat()
    if (record.get("size"), record.get("mtime_ns")) != (st.st_size, st.st_mtime_ns):
        return None, [], f"source file {source} changed since prepare"
    return source, indices, ""


def _load_source_clips(source: Path, indices: list[int], spec: SpectrogramSpec):
    """(signal, index shift): the source at spec rate, decoded as prepare decoded it."""
    per_clip = T.tiles_per_clip(spec)
    if audio.info(source).seconds <= LONG_FILE_S:
        return audio.load(source, spec.sample_rate), 0
    first = (min(indices) // per_clip // CLIPS_PER_READ) * CLIPS_PER_READ
    last = max(indices) // per_clip + 1
    y = audio.load(
        source,
        spec.sample_rate,
        offset_s=first * spec.clip_seconds,
        duration_s=(last - first) * spec.clip_seconds,
    )
    return y, first * per_clip


def restore_tiles(
    tile_paths: list[str | Path],
    manifest: str | Path,
    *,
    phase: str = "random",
    n_iter: int | None = None,
    seed: int = 0,
) -> Restored:
    """Tiles in the given order -> one signal, with the manifest's spec.

    ``phase``: "random", "pghi" (when `phase` offers it) or "source" (Griffin-Lim
    starts from the source file's STFT phase; needs `find_source` to succeed).
    """
    import torch

    from . import metrics
    from . import phase as P
    from . import spectrogram as S

    m = Manifest.load(manifest)
    spec = m.spec
    paths = [Path(p) for p in tile_paths]
    if not paths:
        raise PrepareError("no tiles given")
    unit = T.concat_tiles([image_io.read_png(p, spec.tile_shape) for p in paths])
    mag = S.unit_to_stft_magnitude(torch.from_numpy(unit), spec)
    source, indices, note = find_source(m, paths)
    y_src = None
    if source is not None:
        y_src, shift = _load_source_clips(source, indices, spec)
        indices = [i - shift for i in indices]
    if phase == "source":
        if source is None:
            raise PrepareError(f"--phase source needs consecutive tiles of one source file: {note}")
        init = T.source_stft(y_src, indices, spec)
    else:
        init = phase
    y = P.griffin_lim(
        mag, spec, n_iter=P.DEFAULT_N_ITER if n_iter is None else n_iter, init=init, seed=seed
    )
    # back to the recording's own level when we know which recording it was
    gain_db = _source_record(m, paths[0]).get("gain_db", 0.0) if source is not None else 0.0
    y = (y.numpy() * 10.0 ** (-gain_db / 20.0)).astype(np.float32)
    lsd = None
    if y_src is not None:
        per_clip = T.tiles_per_clip(spec)
        starts = [
            c * spec.clip_samples + k * spec.tile_samples
            for c, k in (divmod(i, per_clip) for i in indices)
        ]
        ref = np.concatenate([y_src[s : s + spec.tile_samples] for s in starts])
        lsd = metrics.log_spectral_distance(y, ref, spec)
    return Restored(y=y, spec=spec, source=source, source_note=note, lsd_db=lsd)
