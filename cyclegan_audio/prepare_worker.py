"""One source file -> its tiles, in a worker process: prepare's worker side.

Each file is decoded once (a long one a few clips at a time, to bound memory), brought
to the wanted peak level, cut into tiles (`tiles.cut_tiles`); the tiles that are not
near-silent are written as PNGs here, so the parent (`preparation.prepare`) only
gathers small records. A bad file never raises: its record says why it gave no tiles.
"""

from __future__ import annotations

import hashlib
import math
import re
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from . import audio, image_io
from . import tiles as T
from .errors import CycleGanAudioError
from .loudness import LoudnessMeter, peak_gain_db
from .manifest import SPLITS
from .metrics import band_limit_loss_db
from .spec import SpectrogramSpec

# The band a narrow spec is measured against: the default (512x512 design's) spec's.
FULL_BAND_RATE = SpectrogramSpec().sample_rate
BAND_PROBE_S = 30.0  # seconds of each file the band loss is measured on
LONG_FILE_S = 600.0  # longer files are decoded a few clips at a time to bound memory
CLIPS_PER_READ = 15


def _slug(rel: str) -> str:
    """Readable, collision-free file-name stem for a source's tiles."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", rel.rsplit(".", 1)[0].replace("/", "__"))[-60:]
    return f"{stem}-{hashlib.sha1(rel.encode()).hexdigest()[:8]}"


def _read_chunks(path: Path, spec: SpectrogramSpec, duration_s: float):
    """Yield (signal at spec rate, index shift, offset shift): the whole file, or groups of clips if long."""
    if duration_s <= LONG_FILE_S:
        yield audio.load(path, spec.sample_rate), 0, 0.0
        return
    per_clip = T.tiles_per_clip(spec)
    start_clip = 0
    while start_clip * spec.clip_seconds < duration_s:
        start_s = start_clip * spec.clip_seconds
        read_s = CLIPS_PER_READ * spec.clip_seconds
        yield (
            audio.load(path, spec.sample_rate, offset_s=start_s, duration_s=read_s),
            start_clip * per_clip,
            start_s,
        )
        start_clip += CLIPS_PER_READ


def process_file(job: dict[str, Any]) -> dict[str, Any]:
    """Decode one file, write its non-silent tiles; returns {"record": ..., "tiles": [...]}.

    Never raises for a bad file: the record's status is "skipped" with a kind and reason
    (a verdict on the file, remembered), or "failed" (the environment failed: disk full,
    permission, I/O; not remembered, the file is tried again next run).
    """
    spec = SpectrogramSpec.from_dict(job["spec"])
    path, rel, domain, split = Path(job["path"]), job["rel"], job["domain"], job["split"]
    record = {
        "domain": domain,
        "source": rel,
        "split": split,
        "size": job["size"],
        "mtime_ns": job["mtime_ns"],
        "status": "ok",
        "kind": "",
        "reason": "",
        "n_tiles": 0,
        "n_silent": 0,
        "n_remainders": 0,
        "remainder_s": 0.0,
    }
    tiles: list[dict[str, Any]] = []
    scratch = tempfile.TemporaryDirectory(prefix="cyclegan-audio-", ignore_cleanup_errors=True)
    try:
        for s in SPLITS:  # tiles of this file on disk but not in the manifest: an interrupted run's
            for stale in (Path(job["out"]) / domain / s).glob(f"{_slug(rel)}-*.png"):
                stale.unlink()
        # a format only the fallback decoder reads is decoded once, not once per chunk
        path_read = audio.decoded_copy(path, scratch.name)
        head = audio.info(path_read)
        record.update(
            sample_rate=head.sample_rate,
            n_channels=head.n_channels,
            duration_s=round(head.seconds, 3),
        )
        chunks = _read_chunks(path_read, spec, head.seconds)
        if head.seconds <= LONG_FILE_S:
            chunks = list(chunks)  # decoded once, used for the peak and the tiles
        meter, peak = LoudnessMeter(spec.sample_rate), 0.0
        for y, _, _ in chunks:
            peak = max(peak, float(np.abs(y).max(initial=0.0)))
            meter.add(y)
        gain_db = peak_gain_db(peak, job["peak_db"])
        record["gain_db"] = round(gain_db, 4)
        # The file's own loudness before the gain: the domains' levels (manifest.domain_lufs).
        lufs = meter.lufs()
        record["lufs"] = round(lufs, 3) if math.isfinite(lufs) else None
        record["band_loss_db"] = band_loss_db(path_read, head.sample_rate, spec)
        if head.seconds > LONG_FILE_S:
            chunks = _read_chunks(path_read, spec, head.seconds)  # second pass over a long file
        n_cut = 0
        for y, index_shift, offset_shift in chunks:
            cut = T.cut_tiles(y * np.float32(10.0 ** (record["gain_db"] / 20.0)), spec)
            # silence is judged at the file's own level, before the gain
            silent = T.tile_level_db(cut.tiles, spec) - gain_db < job["silence_db"]
            n_cut += len(cut.tiles)
            record["n_silent"] += int(silent.sum())
            record["n_remainders"] += cut.n_remainders
            record["remainder_s"] += round(cut.remainder_s, 3)
            for tile, is_silent, index, offset in zip(
                cut.tiles, silent, cut.indices, cut.offsets_s
            ):
                if is_silent:
                    continue
                tile_rel = f"{domain}/{split}/{_slug(rel)}-{index + index_shift:05d}.png"
                image_io.write_png(
                    Path(job["out"]) / tile_rel, tile, compress_level=job["compress_level"]
                )
                tiles.append(
                    {
                        "path": tile_rel,
                        "domain": domain,
                        "split": split,
                        "source": rel,
                        "offset_s": offset + offset_shift,
                    }
                )
        if n_cut == 0:
            raise _Skip(
                "too short",
                f"too short: {head.seconds:.2f} s, one tile needs {spec.tile_seconds:.2f} s",
            )
        if not tiles:
            raise _Skip("silent", f"silent: all {n_cut} tiles below {job['silence_db']:g} dB")
    except _Skip as exc:
        record.update(status="skipped", kind=exc.kind, reason=exc.reason)
    except CycleGanAudioError as exc:  # a verdict on the file
        text = str(exc).removeprefix(f"{path}: ").replace(f" '{path}'", "") or type(exc).__name__
        kind = "empty" if "empty file" in text else "unreadable"
        record.update(status="skipped", kind=kind, reason=text)
    except Exception as exc:  # disk full, permission, I/O (or a bug): never stops the run
        record.update(status="failed", kind="error", reason=_failure_reason(exc, path))
    finally:
        scratch.cleanup()
    if record["status"] != "ok":
        for t in tiles:  # a failure half-way through a file: keep nothing of it
            (Path(job["out"]) / t["path"]).unlink(missing_ok=True)
        tiles = []
    record["n_tiles"] = len(tiles)
    return {"record": record, "tiles": tiles}


def band_loss_db(path: Path, file_rate: int, spec: SpectrogramSpec) -> float:
    """What the spec's band loses of this file (`metrics.band_limit_loss_db`, dB) against
    the default spec's full band, on its first ``BAND_PROBE_S`` seconds: 0 when the spec
    holds the file's whole band. The domains' figures (`manifest.domain_band_loss`) say
    when a target's sound lies above a narrow spec's band."""
    full = min(file_rate, FULL_BAND_RATE)
    if full <= spec.sample_rate:
        return 0.0
    y = audio.load(path, full, duration_s=BAND_PROBE_S)
    return round(band_limit_loss_db(y, full, spec.sample_rate), 2)


class _Skip(Exception):
    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind, self.reason = kind, reason


def _failure_reason(exc: Exception, path: Path) -> str:
    """One line for a failure that is not the file's fault, e.g. "No space left on device (x.png)"."""
    if isinstance(exc, OSError):
        text = exc.strerror or str(exc) or type(exc).__name__
        if exc.filename and str(exc.filename) != str(path):
            text += f" ({exc.filename})"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return f"{text}; not remembered, tried again next run"


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # one process per core; intra-op threads would fight them


def run_jobs(jobs: list[dict[str, Any]], workers: int):
    """Results of `process_file` for each job, in completion order."""
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            yield process_file(job)
        return
    import multiprocessing

    # forkserver: workers start from a clean process, never a fork of a parent whose
    # OpenMP pool is already running (which can deadlock); preloading makes starts cheap:
    ctx = multiprocessing.get_context("forkserver")
    # scipy.signal (pulled in by the first resample) alone takes seconds to import
    ctx.set_forkserver_preload(
        ["cyclegan_audio.prepare_worker", "scipy.signal", "librosa.core.audio"]
    )
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=ctx, initializer=_init_worker
    ) as pool:
        futures = [pool.submit(process_file, job) for job in jobs]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        finally:
            for fut in futures:
                fut.cancel()
