"""``cyclegan-audio <verb> [args]``: one console command for every script."""

from __future__ import annotations

import importlib
import sys

VERBS = {
    "prepare": "Slice two folders of audio into spectrogram tiles + manifest",
    "restore": "Turn tile PNGs back into audio",
    "train": "Train a CycleGAN on prepared tiles",
    "translate": "Translate audio files with a trained checkpoint",
    "evaluate": "Score translations on a paired test set and write an HTML report",
    "score": "Re-score and rank saved checkpoints with the validation score",
    "stylize": "Training-free style transfer / texture synthesis",
    "make-demo-data": "Synthesise a two-instrument demo data set",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in VERBS and argv[0] not in ("-h", "--help"):
        print(
            f"error: unknown command {argv[0]!r}; one of: {', '.join(VERBS)} "
            "(cyclegan-audio --help)",
            file=sys.stderr,
        )
        return 2
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: cyclegan-audio <verb> [options]\n\nverbs:")
        for verb, text in VERBS.items():
            print(f"  {verb:15s} {text}")
        return 0 if argv else 2
    module = importlib.import_module(f"cyclegan_audio.cli.{argv[0].replace('-', '_')}")
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
