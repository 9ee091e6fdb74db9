"""``cyclegan-audio stylize``: training-free style transfer and texture synthesis.

stylize --content c.wav --style s.wav -o out.wav [--content-weight W] [--init content|noise]
stylize --style s.wav --texture --seconds 20 -o tex.wav
stylize … --like data/prepared (or best.ckpt): at the spec of a model's data [--sample-rate …]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import audio
from ..checkpoint import read_checkpoint
from ..errors import CycleGanAudioError
from ..manifest import MANIFEST_NAME, Manifest
from ..spec import FREQ_FIELDS, SpectrogramSpec
from ..style_transfer import StyleTransferConfig, require_audible, run_style_transfer
from . import user_errors
from .spec_flags import add_spec_flags, spec_from_flags

_DEFAULTS = StyleTransferConfig()
# Flags named as the StyleTransferConfig fields they set.
SAME_NAME = (
    "content_weight",
    "n_filters",
    "kernel_width",
    "conv",
    "optimizer",
    "phase_iters",
    "seed",
    "constraints",
)
# The spec fields style transfer uses (it has no tiles and its own log scale; it optimises
# on the spec's frequency axis, log rows when the spec has them).
STFT_FLAGS = ("sample_rate", "n_fft", "hop_length", *FREQ_FIELDS)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cyclegan-audio stylize",
        description="Give a content clip the texture of a style clip (random-weight CNN, "
        "Gatys-style optimisation), or synthesise a texture from the style alone.",
    )
    p.add_argument("--content", type=Path, help="audio whose melody/rhythm to keep")
    p.add_argument("--style", type=Path, required=True, help="audio whose texture/timbre to copy")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        help="output file (default: <content>.stylized.wav or <style>.texture.wav)",
    )
    p.add_argument(
        "--texture", action="store_true", help="texture synthesis: no content, noise init"
    )
    p.add_argument(
        "--seconds", type=float, default=20.0, help="texture length in seconds (--texture)"
    )
    p.add_argument(
        "--content-weight",
        type=float,
        default=_DEFAULTS.content_weight,
        help="weight of the content-feature loss (0 = style/texture only)",
    )
    p.add_argument("--init", choices=("content", "noise"), default=_DEFAULTS.init)
    p.add_argument("--conv", choices=("1d", "2d"), default=_DEFAULTS.conv)
    p.add_argument(
        "--n-filters",
        type=int,
        default=_DEFAULTS.n_filters,
        help=f"random filters (default {StyleTransferConfig(conv='1d').filters} for 1d, "
        f"{StyleTransferConfig(conv='2d').filters} for 2d)",
    )
    p.add_argument("--kernel-width", type=int, default=_DEFAULTS.kernel_width)
    p.add_argument("--optimizer", choices=("lbfgs", "adam"), default=_DEFAULTS.optimizer)
    p.add_argument(
        "--iters",
        type=int,
        default=_DEFAULTS.n_iter,
        help="objective evaluations (forward+backward passes)",
    )
    p.add_argument(
        "--phase-iters", type=int, default=_DEFAULTS.phase_iters, help="Griffin-Lim iterations"
    )
    p.add_argument("--seed", type=int, default=_DEFAULTS.seed)
    p.add_argument(
        "--constraints",
        action="store_true",
        help="keep per-frame energy and frequency envelope near the content's",
    )
    p.add_argument(
        "--like",
        type=Path,
        help="a prepared folder or a checkpoint (.ckpt): work at its spectrogram spec, "
        "the rate and resolution of that model",
    )
    add_spec_flags(p, "spectrogram spec (default: that of --like, else these)", STFT_FLAGS)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def spec_like(path: Path) -> SpectrogramSpec:
    """The spec of a prepared folder (or its manifest.json) or of a checkpoint."""
    try:
        if not path.exists():
            raise CycleGanAudioError(f"{path}: not found")
        if path.is_dir() and not (path / MANIFEST_NAME).exists():
            raise CycleGanAudioError(f"{path}: a folder without {MANIFEST_NAME}")
        if path.is_dir() or path.suffix == ".json":
            return Manifest.load(path).spec
        return read_checkpoint(path).spec
    except CycleGanAudioError as exc:
        raise CycleGanAudioError(
            f"--like {exc} (give a folder made by prepare or a checkpoint from train)"
        ) from None


def default_output(args: argparse.Namespace) -> Path:
    if args.texture:
        return args.style.with_name(f"{args.style.stem}.texture.wav")
    return args.content.with_name(f"{args.content.stem}.stylized.wav")


@user_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.texture == (args.content is not None):
        raise CycleGanAudioError("give either --content c.wav or --texture (not both, not neither)")
    config = StyleTransferConfig(
        init="noise" if args.texture else args.init,
        n_iter=args.iters,
        **{name: getattr(args, name) for name in SAME_NAME},
    )
    spec = spec_from_flags(args, spec_like(args.like) if args.like else SpectrogramSpec())
    sr = spec.sample_rate
    style = audio.load(args.style, sr)
    require_audible(style, str(args.style))
    content = None if args.texture else audio.load(args.content, sr)
    if content is not None and content.size == 0:
        raise CycleGanAudioError(f"{args.content}: no samples")
    output = args.output or default_output(args)
    inputs = tuple(p for p in (args.content, args.style) if p is not None)
    audio.refuse_to_overwrite(output, inputs)  # before minutes of work, not after
    result = run_style_transfer(
        content,
        style,
        sr,
        spec=spec,
        config=config,
        device=args.device,
        texture_seconds=args.seconds if args.texture else None,
        progress=not args.quiet,
    )
    audio.save(output, result.y, sr, protect=inputs)
    reduction = result.style_loss_reduction
    print(
        f"wrote {output} ({len(result.y) / sr:.1f} s, style loss /{reduction:.3g}, "
        f"{result.seconds:.1f} s)"
    )
    return 0
