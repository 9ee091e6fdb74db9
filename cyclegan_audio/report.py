"""The evaluation's HTML page: score tables, and per test file spectrogram pictures with players.

The page names what was evaluated (checkpoint: run folder, file, epoch; the two
training domains; the date). Everything it links to lives in its own folder
(relative links only), so the folder can be copied, zipped or opened offline.
Pictures are rendered here with numpy and a small colour map (no plotting library);
their time (s) and frequency (kHz) axes are HTML labels beside them.
"""

from __future__ import annotations

import html
import math
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

from .image_io import write_rgb_png

PICTURE_WIDTH = 640
PICTURE_MELS = 128
PICTURE_DB_RANGE = (-85.0, -5.0)  # fixed, so pictures of different systems compare
PICTURE_N_FFT = 2048
PICTURE_KHZ_TICKS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
# Anchor colours of a dark-to-bright map (black, indigo, magenta, orange, pale yellow).
_ANCHORS = np.array(
    [[0, 0, 4], [60, 15, 110], [180, 54, 122], [250, 140, 60], [252, 253, 191]], dtype=np.float64
)

METRICS = (
    ("pitch_accuracy", "pitch accuracy ↑", "{:.3f}"),
    ("target_share", "target-style share ↑", "{:.3f}"),
    ("lsd_db", "LSD to truth, dB ↓", "{:.2f}"),
    ("lsd_gain_free_db", "LSD after best gain, dB ↓", "{:.2f}"),
    ("pitch_shift_st", "pitch moved vs source, semitones", "{:+.1f}"),
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
    mel = librosa.feature.melspectrogram(
        y=y,
        sr=sample_rate,
        n_fft=PICTURE_N_FFT,
        hop_length=_picture_hop(y.size, width),
        n_mels=PICTURE_MELS,
        fmax=sample_rate / 2,
    )
    # 0 dB = a full-scale sine's mel power (n_fft/4 amplitude squared); fixed, not per picture.
    db = 10.0 * np.log10(np.maximum(mel, 1e-12) / (PICTURE_N_FFT / 4) ** 2 * 2)
    lo, hi = PICTURE_DB_RANGE
    rgb = colorize((db - lo) / (hi - lo))[::-1]
    rgb = np.repeat(rgb, 2, axis=0)
    cols = np.clip(np.round(np.linspace(0, rgb.shape[1] - 1, width)).astype(int), 0, None)
    return rgb[:, cols]


def _picture_hop(n_samples: int, width: int = PICTURE_WIDTH) -> int:
    """STFT hop (samples) of a picture: a multiple of 64 giving about ``width`` frames."""
    return max(64, int(math.ceil(n_samples / width / 64.0)) * 64)


def write_picture(path: str | Path, y: np.ndarray, sample_rate: int) -> Path:
    return write_rgb_png(path, spectrogram_picture(y, sample_rate))


def picture_axes(n_samples: int, sample_rate: int) -> tuple[list, list]:
    """Tick marks of a picture of ``n_samples`` at ``sample_rate``: (time, frequency) lists of
    (position as a fraction of the picture, label); time from the left in s, frequency from
    the bottom in kHz on the picture's mel scale (0 Hz to half the sample rate)."""
    import librosa

    hop = _picture_hop(n_samples)
    span_s = n_samples // hop * hop / sample_rate  # first column's frame to the last one's
    time_ticks = []
    if span_s > 0:
        step = next((s for s in (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300) if span_s / s <= 6), 600)
        n_ticks = int(span_s / step + 1e-9) + 1
        time_ticks = [(i * step / span_s, f"{i * step:g} s") for i in range(n_ticks)]
    top_mel = float(librosa.hz_to_mel(sample_rate / 2))
    freq_ticks = [
        (float(librosa.hz_to_mel(1000.0 * khz)) / top_mel, f"{khz:g} kHz")
        for khz in PICTURE_KHZ_TICKS
        if 1000.0 * khz <= sample_rate / 2
    ]
    return time_ticks, freq_ticks


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
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in rows
    ]
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
.row{display:flex;flex-wrap:wrap;gap:1em 2em}figure{margin:0}figcaption{font-weight:600}
.spec{position:relative;width:320px;height:128px;margin:.2em 0 1.4em 4em}
.spec img{display:block;width:320px;height:128px;image-rendering:pixelated;border:1px solid #999}
.spec span{position:absolute;font-size:.7em;color:#555;white-space:nowrap}
.spec .f{right:100%;padding-right:.4em;transform:translateY(50%)}
.spec .t{top:100%;transform:translateX(-50%)}
audio{width:320px;margin-left:4em}.note{color:#555;font-size:.9em}
"""


def describe_checkpoint(path: str | Path) -> dict:
    """What the page names about a checkpoint: file, run folder, epoch, generator steps and
    validation score (None where the checkpoint does not hold them)."""
    from .checkpoint import META_KEY, load_raw

    raw = load_raw(path)
    meta = raw.get(META_KEY) or {}
    epoch = raw.get("epoch")  # Lightning's, counted from 0 as the epoch-NNN.ckpt names are
    score = meta.get("val_score")
    if isinstance(score, dict):
        score = score.get("score")
    return {
        "path": str(path),
        "run": Path(path).resolve().parent.name,
        "file": Path(path).name,
        "epoch": epoch if isinstance(epoch, int) else None,
        "generator_steps": meta.get("generator_steps"),
        "val_score": float(score) if isinstance(score, (int, float)) else None,
    }


def _what_was_evaluated(results: dict) -> str:
    """One paragraph: model (checkpoint or folder), domains, test set, date."""
    cfg = results["config"]
    src, tgt = cfg["direction"][0], cfg["direction"][-1]
    ckpt = results.get("checkpoint")
    if ckpt:
        facts = [f"run <code>{html.escape(ckpt['run'])}</code>", html.escape(ckpt["file"])]
        if ckpt.get("epoch") is not None:
            facts.append(f"epoch {ckpt['epoch']}")
        if ckpt.get("generator_steps") is not None:
            facts.append(f"{ckpt['generator_steps']} generator steps")
        if ckpt.get("val_score") is not None:
            facts.append(f"val score {ckpt['val_score']:.3f}")
        model = "Checkpoint: " + ", ".join(facts) + f" (<code>{html.escape(ckpt['path'])}</code>)"
    elif cfg.get("translated_dir"):
        model = f"Translations from <code>{html.escape(str(cfg['translated_dir']))}</code>"
    else:
        model = "No model: the references only"
    train = Path(str(cfg["train_dir"]))
    domains = (
        f"domains: {src} = <code>{html.escape(str(train / src))}</code> → "
        f"{tgt} = <code>{html.escape(str(train / tgt))}</code>"
    )
    date = results.get("date") or time.strftime("%Y-%m-%d %H:%M %Z")
    return f"<p>{model}; {domains}; written {html.escape(date)}.</p>"


def _picture(src: str, alt: str, n_samples: int | None, sample_rate: int | None) -> str:
    """The picture with its tick labels (time below in s, frequency on the left in kHz)."""
    ticks = []
    if n_samples and sample_rate:
        time_ticks, freq_ticks = picture_axes(n_samples, sample_rate)
        ticks += [f"<span class='t' style='left:{100 * x:.1f}%'>{t}</span>" for x, t in time_ticks]
        ticks += [
            f"<span class='f' style='bottom:{100 * y:.1f}%'>{t}</span>" for y, t in freq_ticks
        ]
    return (
        f"<div class='spec'><img src='{quote(src)}' alt='{html.escape(alt)}'>{''.join(ticks)}</div>"
    )


def write_report(results: dict, out_dir: str | Path) -> Path:
    """Write ``out_dir/report.html`` from an evaluation's ``results`` dict (see `evaluation`).

    ``results["files"][name]["media"][system]`` holds paths relative to ``out_dir``
    ({"audio": ..., "picture": ...}) and the picture's ``n_samples`` and ``sample_rate``
    (for its axes); ``results["checkpoint"]`` is `describe_checkpoint`'s dict or None.
    """
    out_dir = Path(out_dir)
    systems = results["systems"]
    cfg = results["config"]
    direction = html.escape(cfg["direction"])
    accuracy = _fmt(results["classifier"]["holdout_accuracy"], "{:.3f}")
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>cyclegan-audio evaluation: {direction}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Evaluation {direction}</h1>",
        _what_was_evaluated(results),
        f"<p class='note'>test set <code>{html.escape(str(cfg['test_dir']))}</code>, "
        f"{len(results['files'])} files; pitch reference: "
        f"{html.escape(results['pitch_reference'])}; domain classifier held-out accuracy "
        f"{accuracy}.</p>",
        "<h2>Mean scores</h2>",
        _html_table(score_table(results["mean"], systems)),
        "<p class='note'>pitch accuracy: share of note frames whose pyin pitch is within ±50 cents; "
        "target-style share: share of 1 s segments a classifier trained on the two training "
        "domains assigns to the target domain; LSD: log-spectral distance to the paired ground "
        "truth. Pictures: mel spectrogram, time in s, frequency in kHz (0 Hz at the bottom to "
        f"half the sample rate), {PICTURE_DB_RANGE[0]:.0f}..{PICTURE_DB_RANGE[1]:.0f} dB.</p>",
    ]
    for name, entry in results["files"].items():
        parts.append(f"<h2>{html.escape(name)}</h2><div class='row'>")
        for s in systems:
            media = entry["media"].get(s)
            if not media:
                continue
            picture = _picture(
                media["picture"],
                f"spectrogram: {s}",
                media.get("n_samples"),
                media.get("sample_rate"),
            )
            parts.append(
                f"<figure><figcaption>{html.escape(SYSTEM_LABELS.get(s, s))}</figcaption>{picture}"
                f"<audio controls preload='none' src='{quote(media['audio'])}'></audio></figure>"
            )
        parts.append("</div>")
        rows = score_table({s: entry["scores"][s] for s in systems}, systems)
        parts.append(_html_table(rows))
    parts.append("</body></html>\n")
    path = out_dir / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
