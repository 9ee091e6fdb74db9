"""Where a translation's log-spectral distance sits: by frequency band and by time since note onset.

    python benchmarks/error_anatomy.py SET_DIR input FOLDER [FOLDER ...] [--json OUT]

For each folder of translations (file names as in ``SET_DIR/test/B``; ``input`` means the
untouched sources in ``SET_DIR/test/A``) against the paired truth in ``test/B``, with the
LSD's own STFT and floor (`metrics.spectral_error_db`: the truth's rate, full band, 80 dB
below the truth's peak):

* per frequency band: the LSD restricted to the band's bins ("lsd", dB) and the mean dB
  difference ("bias": > 0 means the translation is too loud there);
* for sets whose ``meta.json`` lists every test pair's notes (instrument sets): the same
  two figures below 2 kHz (where the harmonics that carry most of the error are) for frames
  grouped by the time since the start of the note that sounds in them, and for frames
  between notes ("rest"). A rising bias with time since the onset is a decay the
  translation does not make (a sustained source rendered as a struck target).

The "all" column is the clip's LSD as `evaluate` and `benchmarks/quality.py` report it; last,
the RMS level of each translation against its truth's (the level error a global gain
would fix, apart from the dynamics and spectra above).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from quality import _notes  # noqa: E402

from cyclegan_audio import metrics as M  # noqa: E402
from cyclegan_audio.audio import find_audio_files, load, load_with_rate  # noqa: E402
from cyclegan_audio.errors import CycleGanAudioError  # noqa: E402
from cyclegan_audio.evaluation import load_notes  # noqa: E402
from cyclegan_audio.spec import SpectrogramSpec  # noqa: E402

BAND_EDGES_HZ = (0, 500, 1000, 2000, 4000, 5500, 8000, 11025)
ONSET_EDGES_S = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, np.inf)
LOW_BAND_HZ = 2000.0


def _band_label(lo: float, hi: float) -> str:
    return f"{lo / 1000:g}-{hi / 1000:g}k"


def _onset_label(lo: float, hi: float) -> str:
    return f"{lo * 1000:.0f}+ms" if not np.isfinite(hi) else f"{lo * 1000:.0f}-{hi * 1000:.0f}ms"


def since_onset(times_s: np.ndarray, notes) -> np.ndarray:
    """Seconds since the start of the note sounding at each time (inf between notes)."""
    since = np.full(len(times_s), np.inf)
    for start, end, *_ in notes:
        inside = (times_s >= start) & (times_s < end)
        since[inside] = np.minimum(since[inside], times_s[inside] - start)
    return since


def anatomy(diff: np.ndarray, freqs: np.ndarray, times: np.ndarray, notes=None) -> dict:
    """Per-band and per-time-since-onset (lsd, bias) of one clip's dB difference (F, T)."""
    out = {"all": {"lsd": float(np.sqrt((diff**2).mean(0)).mean()), "bias": float(diff.mean())}}
    for lo, hi in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:]):
        rows = (freqs >= lo) & (freqs < hi)
        if rows.any():
            d = diff[rows]
            out[_band_label(lo, hi)] = {
                "lsd": float(np.sqrt((d**2).mean(0)).mean()),
                "bias": float(d.mean()),
            }
    if notes is not None:
        low = diff[freqs < LOW_BAND_HZ]
        since = since_onset(times, notes)
        groups = [(_onset_label(a, b), (since >= a) & (since < b))
                  for a, b in zip(ONSET_EDGES_S[:-1], ONSET_EDGES_S[1:])]  # fmt: skip
        for label, frames in groups + [("rest", ~np.isfinite(since))]:
            if frames.any():
                d = low[:, frames]
                out["<2k " + label] = {
                    "lsd": float(np.sqrt((d**2).mean(0)).mean()),
                    "bias": float(d.mean()),
                }
    return out


def folder_anatomy(set_dir: Path, folder: Path, notes: dict | None) -> dict:
    """`anatomy` averaged over the clips of ``folder`` (cell by cell, over the clips that have it)."""
    per_clip = []
    for truth_path in find_audio_files(set_dir / "test/B"):
        rel = truth_path.relative_to(set_dir / "test/B")
        truth, sr = load_with_rate(truth_path)
        y = load(folder / rel, sr)
        diff, freqs, times = M.spectral_error_db(y, truth, SpectrogramSpec(sample_rate=sr))
        clip_notes = notes.get(rel.as_posix()) if notes else None
        cells = anatomy(diff, freqs, times, clip_notes)
        n = min(len(y), len(truth))
        cells["all"]["rms"] = float(_rms_db(y[:n]) - _rms_db(truth[:n]))
        per_clip.append(cells)
    cells = {k: [c[k] for c in per_clip if k in c] for k in per_clip[0]}
    out = {
        k: {m: float(np.mean([v[m] for v in vs])) for m in ("lsd", "bias")}
        for k, vs in cells.items()
    }
    rms = [c["all"]["rms"] for c in per_clip]
    out["all"].update(rms=float(np.mean(rms)), rms_min=min(rms), rms_max=max(rms))
    return out


def _rms_db(y: np.ndarray) -> float:
    return 10.0 * np.log10(float(np.mean(np.square(y, dtype=np.float64))) + 1e-20)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("folders", nargs="+", help="folders of translations; 'input' = test/A")
    ap.add_argument("--json", type=Path, help="also write {folder: cells} here")
    args = ap.parse_args(argv)
    try:
        truth_dir = args.set_dir / "test/B"
        if not truth_dir.is_dir() or not find_audio_files(truth_dir):
            raise CycleGanAudioError(f"{truth_dir}: no audio files (not a paired set)")
        meta = _notes(args.set_dir)  # meta.json when it lists every test pair's notes
        notes = load_notes(meta) if meta else None
        result = {}
        for f in args.folders:
            folder = args.set_dir / "test/A" if f == "input" else Path(f)
            result[f] = folder_anatomy(args.set_dir, folder, notes)
    except CycleGanAudioError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    keys = list(next(iter(result.values())))
    width = max(len(f) for f in result) if result else 5
    for what in ("lsd", "bias"):
        print(f"\n{what} (dB)".ljust(width + 1) + " ".join(k.rjust(12) for k in keys))
        for f, cells in result.items():
            vals = " ".join(f"{cells[k][what]:12.2f}" if k in cells else " " * 12 for k in keys)
            print(f.ljust(width) + " " + vals)
    print("\nRMS level against the truth, dB (mean, clip range):")
    for f, cells in result.items():
        a = cells["all"]
        print(f"{f.ljust(width)} {a['rms']:+.2f} ({a['rms_min']:+.2f} .. {a['rms_max']:+.2f})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
