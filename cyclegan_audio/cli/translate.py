"""``cyclegan-audio translate --ckpt best.ckpt in.wav [more.wav …]``: audio in, translated audio out.

The spectrogram spec comes only from the checkpoint (no STFT flags). Output has
each input's own sample rate and channels (each channel translated on its own),
loudness matched, written beside the input as ``<stem>.AtoB.wav`` unless ``-o``
names a file or folder (a trailing "/" means a folder); an input is never
overwritten. A bad input is named on one ``skip`` line and the others are still
translated; the exit code is 1 when any was skipped.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..audio import refuse_to_overwrite
from ..checkpoint import DIRECTIONS, load_translator
from ..devices import resolve_device
from ..errors import AudioError, CycleGanAudioError
from ..inference import (
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_LOUDNESS,
    DEFAULT_TILE_OVERLAP,
    LOUDNESS_POLICIES,
    PHASE_INITS,
    CompiledGenerator,
    overlap_hop,
    translate_file,
    translated_name,
)
from ..phase import DEFAULT_N_ITER
from . import describe_os_error, user_errors
from .config_args import HelpFormatter, add_fields, from_args


@dataclass(frozen=True)
class TranslateArgs:
    """The translate command's options: its flags come from these fields (config_args.py)."""

    ckpt: Path = field(metadata={"help": "checkpoint from train.py (best.ckpt)"})
    inputs: list[Path] = field(metadata={"help": "audio files to translate", "flags": ("inputs",)})
    direction: str = field(
        default="AtoB",
        metadata={"help": "which generator: A to B or B to A", "choices": DIRECTIONS},
    )
    output: str | None = field(  # a str: a trailing "/" says "folder"
        default=None,
        metadata={
            "help": 'output file (one input) or folder (a trailing "/" means a folder)',
            "flags": ("-o", "--output"),
        },
    )
    phase: str = field(
        default="source",
        metadata={
            "help": "Griffin-Lim's initial phase: the input's own (default), random, or pghi "
            "(pghi is done in one piece, so memory is not bounded for long files)",
            "choices": PHASE_INITS,
        },
    )
    n_iter: int = field(default=DEFAULT_N_ITER, metadata={"help": "Griffin-Lim iterations"})
    device: str = field(
        default="auto",
        metadata={
            "help": "where the generator runs (auto: CUDA if there is one)",
            "choices": ("auto", "cpu", "cuda"),
        },
    )
    chunk_seconds: float = field(
        default=DEFAULT_CHUNK_SECONDS,
        metadata={
            "help": "audio per streamed chunk (memory bound; the result does not depend on it)"
        },
    )
    batch_size: int | None = field(
        default=None,
        metadata={"help": "tiles per generator call (default 1 on CPU, 8 on CUDA)"},
    )
    tile_overlap: float = field(
        default=DEFAULT_TILE_OVERLAP,
        metadata={
            "help": "share of a window its neighbour overlaps (0.75 = quarter-window hop, the "
            "default: lowest LSD; 0.5, 0.25 or 0 run the generator 2x, 3x or 4x less, see "
            "README Translate)"
        },
    )
    window_tiles: int | None = field(
        default=None,
        metadata={
            "help": "tiles of frames the generator hears at once (default: the checkpoint's "
            "own: 2 for the cpu-voice preset, else 1)",
            "at_least": 1,
        },
    )
    compile: bool = field(
        default=False,
        metadata={
            "help": "torch.compile the generator: 15-35 s once, then 1.1-1.3x faster tiles on "
            "CPU (worth it from about a minute of audio)"
        },
    )
    loudness: str = field(
        default=DEFAULT_LOUDNESS,
        metadata={
            "help": "output level: as loud as the input; the input's loudness plus the level the "
            "target domain had relative to the source in training (falls back to input for "
            "checkpoints without it); or the generator's own level",
            "choices": LOUDNESS_POLICIES,
        },
    )
    scratch_dir: Path | None = field(
        default=None,
        metadata={
            "help": "where unscaled intermediate audio goes (default: the system's temporary "
            "folder, $TMPDIR); never the output folder"
        },
    )


# TranslateArgs fields that translate_file takes under the same name.
SAME_NAME = ("chunk_seconds", "n_iter", "batch_size", "loudness", "scratch_dir")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cyclegan-audio translate",
        description="Translate audio files with a trained checkpoint; the spec comes from it.",
        formatter_class=HelpFormatter,
    )
    add_fields(p, TranslateArgs)
    return p


def parse_args(argv: list[str] | None) -> TranslateArgs:
    p = build_parser()
    a = p.parse_args(argv)
    if not 0 <= a.tile_overlap < 1:
        p.error("--tile-overlap must be in [0, 1)")
    if a.n_iter < 0 or a.chunk_seconds <= 0 or (a.batch_size is not None and a.batch_size < 1):
        p.error("--n-iter must be >= 0, --chunk-seconds > 0 and --batch-size >= 1")
    return from_args(TranslateArgs, a)


def output_paths(inputs: list[Path], output: str | Path | None, direction: str) -> list[Path]:
    """Where each input's translation goes; refuses to overwrite an input or write two files to one path.

    ``output``: a file (one input) or a folder: one that exists, a name ending in "/", or a
    name without an extension when there are several inputs.
    """
    name = lambda p: translated_name(p, direction)  # noqa: E731
    trailing_slash = isinstance(output, str) and output.endswith(("/", os.sep))
    output = None if output is None else Path(output)
    if output is None:
        outs = [p.with_name(name(p)) for p in inputs]
    elif trailing_slash or output.is_dir() or (len(inputs) > 1 and not output.suffix):
        outs = [output / name(p) for p in inputs]
    elif len(inputs) > 1:
        raise AudioError(f"{output}: -o must be a folder when translating several files")
    else:
        outs = [output]
    for out in outs:
        refuse_to_overwrite(out, inputs)
    if len({o.resolve() for o in outs}) < len(outs):
        raise AudioError(
            f"{output}: several inputs have the same name; translate them into different folders"
        )
    return outs


def _reason(exc: Exception, inp: Path) -> str:
    """Why ``inp`` was not translated, in one line, without repeating its path."""
    text = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
    return text.removeprefix(f"{inp}: ")


def _input_problem(p: Path) -> str | None:
    """Why ``p`` cannot be an input, found without decoding it (None: try it)."""
    if p.is_dir():
        return "is a folder, not an audio file; give the files in it"
    if not p.exists():
        return "file not found"
    return None


@contextmanager
def _terminate_unwinds() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so a terminated run removes its temporary files."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@user_errors
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    outs = output_paths(args.inputs, args.output, args.direction)
    n_failed = 0
    for p in args.inputs:
        if (problem := _input_problem(p)) is not None:
            print(f"skip {p}: {problem}", file=sys.stderr)
            n_failed += 1
    if n_failed == len(args.inputs):
        print("error: nothing to translate", file=sys.stderr)
        return 1
    device = str(resolve_device(args.device))
    t = load_translator(args.ckpt, args.direction, device)
    spec, generator = t.spec, t.generator
    if args.loudness == "domain" and t.level_offset_db is None:
        print(
            f"note: {args.ckpt} carries no domain levels (trained on data prepared before they "
            "were measured); the output is as loud as the input",
            file=sys.stderr,
        )
    if args.compile:
        generator = CompiledGenerator(generator)
    # translate_file's options, the same for every input: the flags it takes under their own
    # names, then those it names otherwise and what the checkpoint holds.
    options = {k: getattr(args, k) for k in SAME_NAME}
    window = args.window_tiles or t.window_tiles
    options.update(
        phase_init=args.phase,
        window_tiles=window,
        hop_frames=overlap_hop(spec, args.tile_overlap, window),
        device=device,
        input_peak_db=t.input_peak_db,
        level_offset_db=t.level_offset_db,
    )
    with _terminate_unwinds():
        for inp, out in zip(args.inputs, outs):
            if _input_problem(inp) is not None:
                continue  # named above
            try:
                translate_file(
                    inp, out, generator, spec, protect=tuple(args.inputs), progress=True, **options
                )
            except (CycleGanAudioError, OSError) as exc:  # one bad file never stops the others
                print(f"skip {inp}: {_reason(exc, inp)}", file=sys.stderr)
                n_failed += 1
                continue
            print(f"{inp} -> {out}", file=sys.stderr)
    if n_failed:
        print(
            f"error: {n_failed} of {len(args.inputs)} inputs not translated (see skip lines above)",
            file=sys.stderr,
        )
        return 1
    return 0
