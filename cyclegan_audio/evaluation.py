"""Score translations of a paired test set against their floor and ceiling.

For every test pair (``test_dir/A/x`` and ``test_dir/B/x``: the same content in
each domain) and every system — identity (the untouched input), the model's
translation, the style-transfer baseline, the ground truth itself — three
figures: pitch accuracy (content kept), target-style share (style reached),
log-spectral distance to the ground truth. Results go to ``results.json`` and
an offline HTML page (`report`).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import metrics as M
from .audio import AUDIO_EXTENSIONS, find_audio_files, load, load_with_rate, save
from .domain_classifier import train_domain_classifier
from .errors import CycleGanAudioError
from .inference import DEFAULT_LOUDNESS, LOUDNESS_POLICIES, translated_name
from .report import describe_checkpoint, format_table, score_table, write_picture, write_report
from .spec import SpectrogramSpec

SYSTEMS = ("identity", "model", "baseline", "ground_truth")
BASELINES = ("stylize",)


@dataclass(frozen=True)
class EvalConfig:
    """An evaluation; the evaluate command's flags come from these fields (cli/config_args.py)."""

    test_dir: str = field(metadata={"help": "folder with A/ and B/ holding same-named files"})
    train_dir: str = field(
        metadata={"help": "folder with A/ and B/ training audio (domain classifier)"}
    )
    out_dir: str = field(
        metadata={
            "help": "report folder (default: reports/<checkpoint run or folder name>)",
            "flags": ("--out",),
        }
    )
    ckpt: str | None = field(default=None, metadata={"help": "checkpoint to translate with"})
    translated_dir: str | None = field(
        default=None,
        metadata={
            "help": "folder of already-translated files (same names as the inputs); with "
            "neither, only the references (and --baseline) are scored",
            "flags": ("--translated",),
        },
    )
    # meta.json holds {"test": {name: [[start_s, end_s, midi, velocity], ...]}}.
    notes: str | None = field(
        default=None,
        metadata={"help": "meta.json with the test files' true notes (else: the source's pitch)"},
    )
    direction: str = field(
        default="AtoB",
        metadata={"help": "which way the checkpoint translates", "choices": ("AtoB", "BtoA")},
    )
    baseline: str | None = field(
        default=None,
        metadata={"help": "also score the training-free style transfer", "choices": BASELINES},
    )
    seed: int = field(default=0, metadata={"help": "domain classifier seed"})
    device: str | None = field(
        default=None,
        metadata={"help": "cpu, cuda, … (default: cpu for the model, auto for the baseline)"},
    )
    loudness: str = field(
        default=DEFAULT_LOUDNESS,
        metadata={
            "help": "with --ckpt: translate's output level policy",
            "choices": LOUDNESS_POLICIES,
        },
    )

    @property
    def domains(self) -> tuple[str, str]:
        """(source, target) domain folder names."""
        return (self.direction[0], self.direction[-1])


@dataclass
class Pair:
    name: str  # path relative to the domain folder, e.g. "pair_000.flac"
    source: Path
    target: Path

    @property
    def slug(self) -> str:
        """File-name-safe stem, unique within the test set."""
        return str(Path(self.name).with_suffix("")).replace("/", "__").replace("\\", "__")


def find_pairs(test_dir: str | Path, direction: str = "AtoB") -> list[Pair]:
    """Same-named files of ``test_dir/<source>/`` and ``test_dir/<target>/``."""
    src_dom, tgt_dom = direction[0], direction[-1]
    src_dir, tgt_dir = Path(test_dir) / src_dom, Path(test_dir) / tgt_dom
    for d in (src_dir, tgt_dir):
        if not d.is_dir():
            raise CycleGanAudioError(f"{d}: test folder not found (need {src_dom}/ and {tgt_dom}/)")
    sources = {str(p.relative_to(src_dir)): p for p in find_audio_files(src_dir)}
    targets = {str(p.relative_to(tgt_dir)): p for p in find_audio_files(tgt_dir)}
    missing = sorted(set(sources) - set(targets))
    if missing:
        raise CycleGanAudioError(f"{tgt_dir}: no ground truth for {', '.join(missing[:5])}")
    if not sources:
        raise CycleGanAudioError(f"{src_dir}: no audio files to evaluate")
    return [Pair(name, sources[name], targets[name]) for name in sorted(sources)]


def load_notes(path: str | Path) -> dict[str, list]:
    """The ``"test"`` block of a notes file: {file name: [[start_s, end_s, midi, velocity], ...]}."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        notes = data["test"]
        for rows in notes.values():
            for row in rows:
                float(row[0]), float(row[1]), float(row[2])
    except FileNotFoundError:
        raise CycleGanAudioError(f"{path}: notes file not found") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise CycleGanAudioError(
            f"{path}: not a notes file ({type(exc).__name__}: {exc}); expected "
            '{"test": {"name.wav": [[start_s, end_s, midi, velocity], ...]}}'
        ) from None
    return notes


def find_translation(folder: str | Path, pair: Pair, direction: str) -> Path:
    """The translated file for ``pair`` in ``folder``: same relative name, any audio extension,
    optionally with translate's ``.<direction>`` suffix (``x.AtoB.wav``)."""
    folder, rel = Path(folder), Path(pair.name)
    plain = [rel.with_name(rel.stem + ext) for ext in AUDIO_EXTENSIONS]
    named = [rel.with_name(translated_name(rel, direction, ext)) for ext in AUDIO_EXTENSIONS]
    for p in plain + named:
        if (folder / p).is_file():
            return folder / p
    raise CycleGanAudioError(
        f"{folder}: no translation of {pair.name} "
        f"(looked for {rel.with_suffix('')}[.{direction}].wav etc.)"
    )


def _translate_with_checkpoint(
    cfg: EvalConfig, pairs: list[Pair], media: Path
) -> tuple[dict[str, Path], SpectrogramSpec]:
    """{pair name: translated file} and the checkpoint's spec."""
    from .checkpoint import load_translator
    from .inference import translate_file

    # Translate exactly as translate.py does, input and output level included.
    t = load_translator(cfg.ckpt, cfg.direction, cfg.device or "cpu")
    spec, g = t.spec, t.generator
    out = {}
    for pair in pairs:
        path = media / f"{pair.slug}.model.wav"
        out[pair.name] = translate_file(
            pair.source,
            path,
            g,
            spec,
            protect=(pair.source,),
            progress=True,
            input_peak_db=t.input_peak_db,
            loudness=cfg.loudness,
            level_offset_db=t.level_offset_db,
            window_tiles=t.window_tiles,
        )
    return out, spec


def _run_baseline(
    cfg: EvalConfig, pairs: list[Pair], media: Path, spec: SpectrogramSpec | None
) -> dict[str, Path]:
    """Style transfer of each content file with a style example from the target's training set.

    ``spec``: the evaluated model's, so the baseline works at the same rate and resolution;
    None (no checkpoint) takes stylize's default spec.
    """
    from tqdm import tqdm

    from .style_transfer import FAST, stylize

    styles = find_audio_files(Path(cfg.train_dir) / cfg.domains[1])
    out = {}
    for i, pair in enumerate(tqdm(pairs, desc="baseline (stylize)", unit="file")):
        content, sr = load_with_rate(pair.source)
        style = load(styles[i % len(styles)], sr)
        y = stylize(
            content, style, sr, spec=spec, config=FAST, device=cfg.device or "auto", progress=False
        )
        out[pair.name] = save(media / f"{pair.slug}.baseline.wav", y, sr)
    return out


SOURCE_CONTOUR = "source pitch contour, median transposition removed"


def _nan_mean(values: list[float]) -> float:
    """The mean of the values that are not NaN; NaN when none is."""
    return float(np.nanmean(values)) if any(not math.isnan(v) for v in values) else float("nan")


def _clean(value):
    """NaN -> None so results.json is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def evaluate(cfg: EvalConfig) -> dict:
    """Run the whole evaluation; writes results.json, report.html and media/ under ``cfg.out_dir``."""
    from tqdm import tqdm

    if cfg.ckpt is not None and cfg.translated_dir is not None:
        raise CycleGanAudioError("give a checkpoint or a folder of translated files, not both")
    if cfg.direction not in ("AtoB", "BtoA"):
        raise CycleGanAudioError(f"direction must be AtoB or BtoA, got {cfg.direction!r}")
    if cfg.baseline not in (None, *BASELINES):
        raise CycleGanAudioError(f"unknown baseline {cfg.baseline!r}; choose from {BASELINES}")
    t0 = time.perf_counter()
    src_dom, tgt_dom = cfg.domains
    out_dir = Path(cfg.out_dir)
    media = out_dir / "media"
    media.mkdir(parents=True, exist_ok=True)
    pairs = find_pairs(cfg.test_dir, cfg.direction)
    notes = load_notes(cfg.notes) if cfg.notes else {}
    train = {d: find_audio_files(Path(cfg.train_dir) / d) for d in ("A", "B")}
    for d, files in train.items():
        if not files:
            raise CycleGanAudioError(
                f"{Path(cfg.train_dir) / d}: no training audio for the domain classifier"
            )
    translated = None
    if cfg.translated_dir:
        translated = {p.name: find_translation(cfg.translated_dir, p, cfg.direction) for p in pairs}

    clf = train_domain_classifier(train["A"], train["B"], seed=cfg.seed, progress=True)
    model_spec = None
    if cfg.ckpt is not None:
        translated, model_spec = _translate_with_checkpoint(cfg, pairs, media)
    # Neither given: only the references (and the baseline) are scored.
    outputs = {"model": translated} if translated is not None else {}
    if cfg.baseline == "stylize":
        outputs["baseline"] = _run_baseline(cfg, pairs, media, model_spec)
    systems = [s for s in SYSTEMS if s in ("identity", "ground_truth") or s in outputs]

    files: dict[str, dict] = {}
    references = set()
    for pair in tqdm(pairs, desc="scoring", unit="file"):
        truth, sr = load_with_rate(pair.target)
        signals = {"identity": load(pair.source, sr), "ground_truth": truth}
        signals.update({s: load(outputs[s][pair.name], sr) for s in outputs})
        # Not the model's spec, on purpose: the truth's own full-band spec is one yardstick
        # for models of different specs, and a band-limited model must not score better by
        # leaving out the band it drops.
        lsd_spec = SpectrogramSpec(sample_rate=sr)
        file_notes = notes.get(pair.name) or notes.get(Path(pair.name).name)
        if file_notes:
            midi_range = M.midi_range_for_notes(file_notes)
            references.add("notes")
        else:
            midi_range = M.DEFAULT_MIDI_RANGE
            # Without notes nothing says which register is right: the contour is scored with
            # the median transposition removed, and the transposition reported beside it.
            references.add(SOURCE_CONTOUR)
            ref_track = M.pitch_track(signals["identity"], sr, midi_range)
        entry = {"source": str(pair.source), "target": str(pair.target), "scores": {}, "media": {}}
        for s in systems:
            y = signals[s]
            track = M.pitch_track(y, sr, midi_range)
            if file_notes:
                pitch, shift = M.pitch_accuracy_vs_notes(track, file_notes), float("nan")
            else:
                pitch = M.pitch_accuracy_vs_track(track, ref_track, transposed=True)
                shift = M.median_transposition(track, ref_track)
            lsd, lsd_gain_free = M.log_spectral_distances(y, truth, lsd_spec)
            entry["scores"][s] = {
                "pitch_accuracy": pitch,
                "target_share": clf.target_share(y, sr, tgt_dom),
                "lsd_db": lsd,
                "lsd_gain_free_db": lsd_gain_free,
                "pitch_shift_st": shift,
            }
            audio_rel = f"media/{pair.slug}.{s}.wav"
            if not (
                s in outputs
                and Path(outputs[s][pair.name]).resolve() == (out_dir / audio_rel).resolve()
            ):
                save(out_dir / audio_rel, y, sr)
            pic_rel = f"media/{pair.slug}.{s}.png"
            write_picture(out_dir / pic_rel, y, sr)
            entry["media"][s] = {
                "audio": audio_rel,
                "picture": pic_rel,
                "n_samples": int(y.size),
                "sample_rate": sr,
            }
        files[pair.name] = entry

    keys = ("pitch_accuracy", "target_share", "lsd_db", "lsd_gain_free_db", "pitch_shift_st")
    means = {
        s: {k: _nan_mean([f["scores"][s][k] for f in files.values()]) for k in keys}
        for s in systems
    }
    results = {
        "config": asdict(cfg),
        "systems": systems,
        "pitch_reference": " + ".join(sorted(references)),
        "classifier": {"holdout_accuracy": clf.holdout_accuracy, "n_segments": clf.n_segments},
        "mean": means,
        "files": files,
        "seconds": round(time.perf_counter() - t0, 1),
        "checkpoint": describe_checkpoint(cfg.ckpt) if cfg.ckpt is not None else None,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }
    results = _clean(results)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    write_report(results, out_dir)
    return results


def summary(results: dict) -> str:
    """The mean-score table as text."""
    return format_table(score_table(results["mean"], results["systems"]))
