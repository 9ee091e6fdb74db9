"""`prepare`: two folders of audio -> 16-bit PNG tiles + manifest.json.

Each file is decoded once, in a worker process (`prepare_worker`), which cuts it
into tiles (`tiles.cut_tiles`), drops near-silent ones and writes the PNGs itself;
the parent (this module) only gathers small records. The validation split is chosen per FILE
from a hash of (seed, relative path), so it is deterministic, no clip leaks
between splits, and adding files never moves old ones. A second run reuses
every file whose size and mtime match the manifest and whose tiles exist.

Only a verdict about a file (unreadable, empty, too short, silent) is remembered;
a failure of the environment (disk full, no permission, I/O error) is reported
and retried on the next run. The manifest is saved before any tile it names is
removed, so it never names a tile that is not on disk.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import audio
from .errors import CycleGanAudioError, ManifestError
from .manifest import DOMAINS, MANIFEST_NAME, Manifest, TileRecord, domain_band_loss
from .prepare_worker import band_loss_db, run_jobs
from .presets import BRIGHT_TARGET_SPEC
from .spec import SpectrogramSpec

DEFAULT_OUT = Path("data/prepared")
DEFAULT_SILENCE_DB = -60.0
DEFAULT_VAL_FRACTION = 0.1
PNG_COMPRESS_LEVEL = 1  # zlib level 1: ~1.5x faster than PIL's 6, files ~3 % larger
DEFAULT_PEAK_DB = -1.0  # each file's sample peak is brought to this level (None: keep levels)
SAVE_EVERY_S = 5.0
# A domain losing this much (LSD, dB) above the spec's band gets a note: the development
# targets held by the cpu spec lose 1.0-1.4 dB, a trumpet 7.4, voices 7.8-9.1 (docs/quality.md)
BAND_LOSS_NOTE_DB = 3.0
BAND_PROBE_FILES = 8  # files probe_band_loss measures before a preset's spec is chosen


class PrepareError(CycleGanAudioError):
    """Input or output folders that prepare cannot use."""


@dataclass
class PrepareSummary:
    out: Path
    manifest_path: Path
    n_files: dict[str, int]  # domain -> audio files found
    n_reused: dict[str, int]  # domain -> files unchanged since the last run
    n_tiles: dict[tuple[str, str], int]  # (domain, split) -> tiles in the manifest
    n_new_tiles: int
    skipped: list[tuple[str, str, str]]  # (path, kind, reason) of files that gave no tiles
    n_silent_tiles: int
    n_remainders: int
    remainder_s: float
    n_vanished: int  # files in the manifest that are no longer in the input folders
    silence_db: float
    seconds: float
    empty_domains: list[str] = field(default_factory=list)  # domains with no training tiles
    # (path, reason) of files that failed for a reason outside the file; retried next run
    failed: list[tuple[str, str]] = field(default_factory=list)
    # what the spec's band loses of each domain (dB, manifest.domain_band_loss) and the band
    band_loss: dict[str, float] | None = None
    band_hz: float = 0.0

    def lines(self) -> list[str]:
        out = [f"prepared {self.out} in {self.seconds:.1f} s (manifest: {self.manifest_path})"]
        for d in DOMAINS:
            out.append(
                f"  {d}: {self.n_files[d]} files ({self.n_reused[d]} unchanged), tiles: "
                f"train {self.n_tiles[(d, 'train')]}, val {self.n_tiles[(d, 'val')]}"
            )
        out.append(f"  new tiles this run: {self.n_new_tiles}")
        kinds = Counter(kind for _, kind, _ in self.skipped)
        detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        out.append(f"  skipped files: {len(self.skipped)}" + (f" ({detail})" if detail else ""))
        if self.failed:
            out.append(f"  failed files, retried next run: {len(self.failed)}")
        out.append(
            f"  near-silent tiles skipped (below {self.silence_db:g} dB): {self.n_silent_tiles}"
        )
        out.append(
            f"  remainders shorter than a tile dropped: {self.n_remainders} ({self.remainder_s:.1f} s)"
        )
        if self.band_loss and any(self.band_loss.values()):
            losses = ", ".join(f"{d} {v:.1f} dB" for d, v in self.band_loss.items())
            out.append(
                f"  lost above the spec's {self.band_hz:,.0f} Hz (LSD against the full band, "
                f"median file): {losses}"
            )
            for d, v in self.band_loss.items():
                if v >= BAND_LOSS_NOTE_DB:
                    out.append(
                        f"  note: domain {d}'s sound reaches above {self.band_hz:,.0f} Hz; "
                        f"translations into {d} lose at least {v:.1f} dB of it at this spec "
                        "(a higher --sample-rate keeps it)"
                    )
        if self.n_vanished:
            out.append(
                f"  {self.n_vanished} files in the manifest are gone from the inputs; tiles kept"
            )
        return out


def probe_band_loss(
    folder: str | Path, spec: SpectrogramSpec, max_files: int = BAND_PROBE_FILES
) -> float | None:
    """What ``spec``'s band loses of a folder's audio before anything is prepared: the
    median band loss (dB, `prepare_worker.band_loss_db`) of up to ``max_files`` of its
    files, evenly spread over the sorted list; None when none could be read (prepare
    itself then says why, file by file)."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    files = audio.find_audio_files(folder)
    if len(files) > max_files:
        files = [files[round(i * (len(files) - 1) / (max_files - 1))] for i in range(max_files)]
    losses = []
    for path in files:
        try:
            losses.append(band_loss_db(path, audio.info(path).sample_rate, spec))
        except CycleGanAudioError:
            continue
    return float(np.median(losses)) if losses else None


def bright_target_spec(
    preset_name: str, base: SpectrogramSpec, domain_b: str | Path
) -> tuple[SpectrogramSpec, float | None]:
    """(spec, band loss): preset ``preset_name``'s full-band spec
    (presets.BRIGHT_TARGET_SPEC) when its own spec ``base`` loses BAND_LOSS_NOTE_DB or more
    of domain B's audio (`probe_band_loss`), else ``base``; the loss is None when the preset
    has no full-band spec or no file of B could be read."""
    wide = BRIGHT_TARGET_SPEC.get(preset_name)
    if not wide:
        return base, None
    loss = probe_band_loss(domain_b, base)
    if loss is None or loss < BAND_LOSS_NOTE_DB:
        return base, loss
    return dataclasses.replace(base, **wide), loss


def _remembered(record: dict[str, Any] | None) -> bool:
    """Whether a file's record is a result to keep: tiles, or a verdict on the file.

    A failure of the environment is not (status "failed"; "skipped" with kind "error" in
    manifests written before the two were told apart).
    """
    if not record:
        return False
    return record["status"] == "ok" or (
        record["status"] == "skipped" and record.get("kind") != "error"
    )


def split_score(seed: int, rel: str) -> float:
    """Deterministic number in [0, 1) for a file: below val_fraction -> validation."""
    digest = hashlib.sha256(f"{seed}:{rel}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _check_folders(domain_dirs: dict[str, Path], out: Path) -> None:
    for d, folder in domain_dirs.items():
        if not folder.exists():
            raise PrepareError(f"{folder}: input folder for domain {d} not found")
        if not folder.is_dir():
            raise PrepareError(f"{folder}: input for domain {d} is not a folder")
    a, b = domain_dirs["A"], domain_dirs["B"]
    if a == b or a in b.parents or b in a.parents:
        raise PrepareError(
            f"{a} and {b}: the two domain folders overlap; give two separate folders"
        )
    for folder in domain_dirs.values():
        if out == folder or folder in out.parents:
            raise PrepareError(
                f"{out}: output folder is inside input folder {folder}; choose another --out"
            )
    if out.exists() and not out.is_dir():
        raise PrepareError(f"{out}: output exists and is not a folder; choose another --out")


def _open_manifest(
    out: Path, spec: SpectrogramSpec, sources: dict[str, str], settings: dict[str, Any]
) -> Manifest:
    """The existing manifest if it matches the request, else a new one; never clobbers other data."""
    if (out / MANIFEST_NAME).exists():
        m = Manifest.load(out)
        if m.spec != spec:
            diff = "; ".join(m.spec.diff(spec))
            raise PrepareError(
                f"{out}: prepared with a different spec ({diff}); choose another --out"
            )
        if m.sources != sources:
            raise PrepareError(
                f"{out}: prepared from other folders (A={m.sources.get('A')}, B={m.sources.get('B')}); "
                "choose another --out"
            )
        changed = [
            f"{k} {m.settings.get(k)!r} != {v!r}"
            for k, v in settings.items()
            if m.settings.get(k) != v
        ]
        if changed:
            raise PrepareError(
                f"{out}: prepared with other settings ({'; '.join(changed)}); choose another --out"
            )
        return m
    if out.exists() and any(out.iterdir()):
        raise PrepareError(
            f"{out}: folder is not empty and holds no {MANIFEST_NAME}; choose another --out"
        )
    m = Manifest(spec=spec, root=out, sources=sources, settings=dict(settings))
    _save(m)
    return m


def _save(m: Manifest) -> None:
    """Save the manifest; a failure (disk full, read-only) is one PrepareError line."""
    try:
        m.save()
    except ManifestError as exc:
        raise PrepareError(f"{exc}; fix that and run prepare again") from None


def _move_file(m: Manifest, record: dict[str, Any], split: str) -> None:
    """Move one source file's tiles (PNGs and records) to ``split``.

    New paths are linked (or copied) and the manifest saved before the old paths go, so
    a run killed half-way never leaves the saved manifest naming a missing tile.
    """
    old, record["split"] = record["split"], split
    gone = []
    for t in m.tiles:
        if t.domain == record["domain"] and t.source == record["source"]:
            new_path = t.path.replace(f"{t.domain}/{old}/", f"{t.domain}/{split}/", 1)
            src, dst = m.root / t.path, m.root / new_path
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.unlink(missing_ok=True)
            try:
                os.link(src, dst)
            except OSError:  # a file system without hard links
                shutil.copyfile(src, dst)
            gone.append(src)
            t.path, t.split = new_path, split
    _save(m)
    for src in gone:
        src.unlink(missing_ok=True)


def _balance_splits(m: Manifest, domain: str, seed: int) -> None:
    """Keep >= 1 training file, and >= 1 validation file once a domain has >= 2 usable files.

    Only fires when the hash rule left a split empty; files already placed stay put otherwise.
    """
    usable = [r for r in m.files.values() if r["domain"] == domain and r["status"] == "ok"]
    val = [r for r in usable if r["split"] == "val"]
    train = [r for r in usable if r["split"] == "train"]
    if usable and not train:
        _move_file(m, max(val, key=lambda r: split_score(seed, r["source"])), "train")
    elif len(usable) >= 2 and not val:
        _move_file(m, min(train, key=lambda r: split_score(seed, r["source"])), "val")


def _tiles_complete(m: Manifest, record: dict[str, Any], recs: list[TileRecord]) -> bool:
    """Every tile the file's record counts is in the manifest and on disk."""
    n = record.get("n_tiles")
    return (n is None or n == len(recs)) and all((m.root / t.path).exists() for t in recs)


def _default_echo(line: str) -> None:
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


def prepare(
    domain_a: str | Path,
    domain_b: str | Path,
    *,
    out: str | Path = DEFAULT_OUT,
    spec: SpectrogramSpec | None = None,
    workers: int | None = None,
    seed: int = 0,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    silence_db: float = DEFAULT_SILENCE_DB,
    peak_db: float | None = DEFAULT_PEAK_DB,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
) -> PrepareSummary:
    """Turn two folders of audio into tiles under ``out``; returns what was done.

    Bad files are reported through ``echo`` (one line each: path + reason) and skipped.
    ``peak_db``: each file is scaled so its sample peak sits there (gain stored per
    file in the manifest, undone by `restore_tiles`); None keeps recorded levels.
    """
    from tqdm import tqdm

    t0 = time.perf_counter()
    spec = spec or SpectrogramSpec()
    echo = echo or _default_echo
    if not 0.0 <= val_fraction < 1.0:
        raise PrepareError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    workers = max(1, workers or os.cpu_count() or 1)
    domain_dirs = {"A": Path(domain_a).resolve(), "B": Path(domain_b).resolve()}
    out = Path(out).resolve()
    _check_folders(domain_dirs, out)
    settings = {"seed": seed, "val_fraction": val_fraction, "silence_db": silence_db}
    settings.update(peak_db=peak_db, png_bits=16)
    common = {"out": str(out), "spec": spec.to_dict(), "silence_db": silence_db}
    common.update(peak_db=peak_db, compress_level=PNG_COMPRESS_LEVEL)
    m = _open_manifest(out, spec, {d: str(p) for d, p in domain_dirs.items()}, settings)

    tiles_by_key: dict[str, list[TileRecord]] = {}
    for t in m.tiles:
        tiles_by_key.setdefault(f"{t.domain}/{t.source}", []).append(t)
    jobs, seen, skipped, failed = [], set(), [], []
    n_files = {d: 0 for d in DOMAINS}
    n_reused = {d: 0 for d in DOMAINS}

    def ignored(path: Path, reason: str) -> None:
        echo(f"skip {path}: {reason}")
        skipped.append((str(path), "not a file", reason))

    dropped: set[str] = set()  # files whose old tiles go: out of the manifest, then off disk
    for d, folder in domain_dirs.items():
        for path in audio.find_audio_files(folder, on_ignored=ignored):
            rel = path.relative_to(folder).as_posix()
            key = f"{d}/{rel}"
            seen.add(key)
            n_files[d] += 1
            st = path.stat()
            old = m.files.get(key)
            old_tiles = tiles_by_key.get(key, [])
            if (
                _remembered(old)
                and (old["size"], old["mtime_ns"]) == (st.st_size, st.st_mtime_ns)
                and _tiles_complete(m, old, old_tiles)
            ):
                n_reused[d] += 1
                if old["status"] != "ok":
                    echo(f"skip {path}: {old['reason']}")
                    skipped.append((str(path), old["kind"], old["reason"]))
                continue
            if old_tiles:  # the file changed (or lost tiles): its old tiles go, the split stays
                dropped.add(key)
            split = (
                old["split"]
                if old
                else ("val" if split_score(seed, rel) < val_fraction else "train")
            )
            job = {"path": str(path), "rel": rel, "domain": d, "split": split}
            jobs.append(dict(common, **job, size=st.st_size, mtime_ns=st.st_mtime_ns))
    if dropped:
        m.tiles = [t for t in m.tiles if f"{t.domain}/{t.source}" not in dropped]
        _save(m)
        for key in dropped:
            for t in tiles_by_key[key]:
                (m.root / t.path).unlink(missing_ok=True)
    # big files first so a long one does not start last and leave the other workers idle
    jobs.sort(key=lambda j: -j["size"])

    n_new_tiles = n_silent = n_remainders = 0
    remainder_s = 0.0
    last_save = time.monotonic()
    bar = tqdm(total=len(jobs), unit="file", desc="prepare", disable=None if progress else True)
    try:
        for result in run_jobs(jobs, workers):
            rec = result["record"]
            m.files[f"{rec['domain']}/{rec['source']}"] = rec
            m.tiles.extend(TileRecord(**t) for t in result["tiles"])
            n_new_tiles += rec["n_tiles"]
            n_silent += rec["n_silent"]
            n_remainders += rec["n_remainders"]
            remainder_s += rec["remainder_s"]
            if rec["status"] != "ok":
                path = domain_dirs[rec["domain"]] / rec["source"]
                echo(f"skip {path}: {rec['reason']}")
                if rec["status"] == "failed":
                    failed.append((str(path), rec["reason"]))
                else:
                    skipped.append((str(path), rec["kind"], rec["reason"]))
            bar.update(1)
            if time.monotonic() - last_save > SAVE_EVERY_S:  # a killed run loses little
                _save(m)
                last_save = time.monotonic()
    finally:  # an interrupted run keeps what it finished
        bar.close()
        m.tiles.sort(key=lambda t: t.path)
        _save(m)
    if val_fraction > 0:
        for d in DOMAINS:
            _balance_splits(m, d, seed)
        m.tiles.sort(key=lambda t: t.path)
        _save(m)

    n_tiles = {(d, s): m.count(d, s) for d in DOMAINS for s in ("train", "val")}
    return PrepareSummary(
        out=out,
        manifest_path=out / MANIFEST_NAME,
        n_files=n_files,
        n_reused=n_reused,
        n_tiles=n_tiles,
        n_new_tiles=n_new_tiles,
        skipped=skipped,
        n_silent_tiles=n_silent,
        n_remainders=n_remainders,
        remainder_s=remainder_s,
        n_vanished=sum(1 for k in m.files if k not in seen),
        silence_db=silence_db,
        seconds=time.perf_counter() - t0,
        empty_domains=[d for d in DOMAINS if n_tiles[(d, "train")] == 0],
        failed=failed,
        band_loss=domain_band_loss(m),
        band_hz=spec.sample_rate / 2,
    )
