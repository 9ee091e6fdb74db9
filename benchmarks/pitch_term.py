"""The pitch term's scale (`losses.pitch_kept_loss`) on a trained model's validation tiles.

    python benchmarks/pitch_term.py CKPT PREPARED_DIR [--tiles 16] [--reverse] [--raw]

For tiles of domain A (``PREPARED_DIR/A/val``, else ``A/train``) it prints the term for:
the untouched source, the source moved up a semitone, unrelated real tiles of domain B,
and the model's A -> B translation; with the model's register move where it has one. The
first is 0 by construction (without a move); the second and third are what a lost note
costs; the last is what the model pays. ``--lambda-pitch W`` multiplies these.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.hidden_info import val_or_train_tiles  # noqa: E402
from cyclegan_audio import losses, register  # noqa: E402
from cyclegan_audio.checkpoint import load_translator  # noqa: E402
from cyclegan_audio.data import load_tile, spread  # noqa: E402
from cyclegan_audio.errors import CycleGanAudioError  # noqa: E402


def measure(
    ckpt: Path, prepared: Path, n_tiles: int, reverse: bool, ema: bool = True
) -> list[tuple[str, float]]:
    fwd, src, other = ("BtoA", "B", "A") if reverse else ("AtoB", "A", "B")
    tr = load_translator(ckpt, fwd, ema=ema)
    spec, net = tr.spec, tr.generator
    move = [m for m in net.modules() if isinstance(m, register.FrequencyWarp)]
    shift = move[0].semitones if move else 0.0
    x = torch.stack(
        [load_tile(p, spec) for p in spread(val_or_train_tiles(prepared, src), n_tiles)]
    )
    y = torch.stack(
        [load_tile(p, spec) for p in spread(val_or_train_tiles(prepared, other), n_tiles)]
    )
    with torch.no_grad():
        cases = (
            ("the source, untouched", x),
            ("the source a semitone up", register.FrequencyWarp(spec, 1.0)(x)),
            (f"unrelated real {other} tiles", y),
            (f"the model's {fwd} translation", net(x)),
        )
        return [(k, float(losses.pitch_kept_loss(x, v, spec, shift))) for k, v in cases]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ckpt", type=Path)
    ap.add_argument("prepared", type=Path, help="the prepare output the model trained on")
    ap.add_argument("--tiles", type=int, default=16)
    ap.add_argument("--reverse", action="store_true", help="B -> A instead")
    ap.add_argument("--raw", action="store_true", help="the raw weights, not the average")
    args = ap.parse_args(argv)
    try:
        rows = measure(args.ckpt, args.prepared, args.tiles, args.reverse, not args.raw)
    except CycleGanAudioError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    for label, value in rows:
        print(f"{label:34} {value:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
