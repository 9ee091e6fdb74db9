"""The evaluation's HTML page: score tables, and per test file spectrogram pictures with players.

Everything the page links to lives in its own folder (relative links only), so
the folder can be copied, zipped or opened offline. Pictures are rendered here
with numpy and a small colour map (no plotting library).
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from urllib.parse import quote

import numpy as np

from .image_io import write_rgb_png

PICTURE_WIDTH = 640
PICTURE_MELS = 128
PICTURE_DB_RANGE = (-85.0, -5.0)  # fixed, so pictures of different systems compare
# Anchor colours of a dark-to-bright map (black, indigo, magenta, orange, pale yellow).
_ANCHORS = np.array(
    [[0, 0, 4], [60, 15, 110], [180, 54, 122], [250, 140, 60], [252, 253, 191]], dtype=np.float64
)

METRICS = (
    ("pitch_accuracy", "pitch accuracy ↑", "{:.3f}"),
    ("target_share", "target-style share ↑", "{:.3f}"),
    ("lsd_db", "LSD to truth, dB ↓", "{:.2f}"),
)
SYSTEM_LABELS = {
    "identity": "identity (input)",
    "model": "translation (model)",
    "baseline": "style-transfer baseline",
    "ground_truth": "ground truth",
}


def colorize(unit: np.ndarray) -> np.ndarray:
    """[0, 1] array (H, W) -> RGB uint8 (H, W, 3) through the anchor colour map."""
    u = np.clip(np.nan_to_num(unit), 0.0, 1.0) * (len(_ANCHORS) - 1)
    lo = np.minimum(np.floor(u).astype(int), len(_ANCHORS) - 2)
    frac = (u - lo)[..., None]
    return np.round(_ANCHORS[lo] * (1 - frac) + _ANCHORS[lo + 1] * frac).astype(np.uint8)


def spectrogram_picture(y: np.ndarray, sample_rate: int, width: int = PICTURE_WIDTH) -> np.ndarray:
    """Mel spectrogram picture of mono ``y``: RGB uint8 (2·PICTURE_MELS, width, 3), low pitches at the bottom."""
    import librosa

    y = np.asarray(y, dtype=np.float32)
    hop = max(64, int(math.ceil(y.size / width / 64.0)) * 64)
    mel = librosa.feature.melspectrogram(
        y=y, sr=sample_rate, n_fft=2048, hop_length=hop, n_mels=PICTURE_MELS, fmax=sample_rate / 2
    )
    # 0 dB = a full-scale sine's mel power (n_fft/4 amplitude squared); fixed, not per picture.
    db = 10.0 * np.log10(np.maximum(mel, 1e-12) / (2048 / 4) ** 2 * 2)
    lo, hi = PICTURE_DB_RANGE
    rgb = colorize((db - lo) / (hi - lo))[::-1]
    rgb = np.repeat(rgb, 2, axis=0)
    cols = np.clip(np.round(np.linspace(0, rgb.shape[1] - 1, width)).astype(int), 0, None)
    return rgb[:, cols]


def write_picture(path: str | Path, y: np.ndarray, sample_rate: int) -> Path:
    return write_rgb_png(path, spectrogram_picture(y, sample_rate))


def _fmt(value, pattern: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return pattern.format(value)


def score_table(means: dict[str, dict[str, float]], systems: list[str]) -> list[list[str]]:
    """Rows [system, metric…] as text, for the console and the page."""
    rows = [["system"] + [label for _, label, _ in METRICS]]
    for s in systems:
        rows.append([SYSTEM_LABELS.get(s, s)] + [_fmt(means[s].get(k), f) for k, _, f in METRICS])
    return rows


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _html_table(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.3em .6em}
td{text-align:right}td:first-child{text-align:left}th{background:#f3f3f3}
.row{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}figcaption{font-weight:600}
img{display:block;width:320px;height:128px;image-rendering:pixelated;border:1px solid #999}
audio{width:320px}.note{color:#555;font-size:.9em}
"""


def write_report(results: dict, out_dir: str | Path) -> Path:
    """Write ``out_dir/report.html`` from an evaluation's ``results`` dict (see `evaluation`).

    ``results["files"][name]["media"][system]`` holds paths relative to ``out_dir``
    ({"audio": ..., "picture": ...}).
    """
    out_dir = Path(out_dir)
    systems = results["systems"]
    cfg = results["config"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>cyclegan-audio evaluation: {html.escape(cfg['direction'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Evaluation {html.escape(cfg['direction'])}</h1>",
        f"<p class='note'>test set <code>{html.escape(str(cfg['test_dir']))}</code>, "
        f"{len(results['files'])} files; pitch reference: {html.escape(results['pitch_reference'])}; "
        f"domain classifier held-out accuracy "
        f"{_fmt(results['classifier']['holdout_accuracy'], '{:.3f}')}.</p>",
        "<h2>Mean scores</h2>",
        _html_table(score_table(results["mean"], systems)),
        "<p class='note'>pitch accuracy: share of note frames whose pyin pitch is within ±50 cents; "
        "target-style share: share of 1 s segments a classifier trained on the two training "
        "domains assigns to the target domain; LSD: log-spectral distance to the paired ground "
        "truth. Pictures: mel spectrogram, 0 Hz at the bottom to half the sample rate, "
        f"{PICTURE_DB_RANGE[0]:.0f}..{PICTURE_DB_RANGE[1]:.0f} dB.</p>",
    ]
    for name, entry in results["files"].items():
        parts.append(f"<h2>{html.escape(name)}</h2><div class='row'>")
        for s in systems:
            media = entry["media"].get(s)
            if not media:
                continue
            scores = entry["scores"][s]
            caption = " · ".join(_fmt(scores.get(k), f) for k, _, f in METRICS)
            parts.append(
                f"<figure><figcaption>{html.escape(SYSTEM_LABELS.get(s, s))}</figcaption>"
                f"<img src='{quote(media['picture'])}' alt='spectrogram: {html.escape(s)}'>"
                f"<audio controls preload='none' src='{quote(media['audio'])}'></audio>"
                f"<div class='note'>{html.escape(caption)}</div></figure>"
            )
        parts.append("</div>")
        rows = score_table({s: entry["scores"][s] for s in systems}, systems)
        parts.append(_html_table(rows))
    parts.append("</body></html>\n")
    path = out_dir / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
