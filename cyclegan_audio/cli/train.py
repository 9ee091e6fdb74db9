"""``cyclegan-audio train``: train (or resume) a CycleGAN on a prepared folder.

    scripts/train.py --gpus 1                                  # data/prepared, W&B, bf16
    scripts/train.py --gpus 0 --max-steps 200 --ngf 16          # CPU smoke run
    scripts/train.py --resume checkpoints/<run>/last.ckpt --gpus 1

``--max-steps`` counts generator steps (= batches); Lightning's own global_step
counts 2 per batch because each batch steps two optimisers.

On ``--resume`` the checkpoint's hyper-parameters hold unless a flag is written on the
command line (a default never overrides them); network sizes cannot change.

Every flag but ``--preset`` is a field of `RunConfig`, `NetworkConfig` or `TrainConfig`,
with its type, default and help (config_args.py).
"""

from __future__ import annotations

import argparse

from ..errors import CycleGanAudioError
from ..manifest import Manifest
from ..model import TrainConfig
from ..networks import NetworkConfig
from ..presets import PRESETS, bright_target_train, preset
from ..training import RunConfig, run_training
from . import user_errors, written_dests
from .config_args import HelpFormatter, add_fields, from_args, option_names

MONITORING = (  # RunConfig fields shown under "monitoring", in this order
    "logger",
    "log_dir",
    "log_every",
    "val_every",
    "keep_epochs",
    "n_val_tiles",
    "log_media_every",
    "progress_bar",
    "sync_every",
)
HOW_TO_RUN = ("compile", "fused_adam", "seed")  # TrainConfig fields shown under "run"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cyclegan-audio train",
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    add_fields(p, RunConfig, ["data"])
    p.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        default=None,
        help="network sizes, schedule and loss weights of a measured recipe (cpu: ngf/ndf 8, "
        "6 blocks, 10 + 10 epochs, --lambda-cycle 5 --lambda-pitch 1, for "
        "tiles from `prepare --preset cpu`, and --lr 4e-4 when those are its full-band tiles "
        "for a bright target; cpu-voice: ngf/ndf 8, 3 blocks, the same schedule, with "
        "--measure-register --register-envelope 200 --window-tiles 2, for `prepare --preset "
        "cpu-voice`; gpu: "
        "the defaults); flags written on the command line still win",
    )
    run = p.add_argument_group("run")
    add_fields(run, RunConfig, skip=("data", *MONITORING))
    add_fields(run, TrainConfig, HOW_TO_RUN, defaults={"fused_adam": None})  # None: see parse
    add_fields(p.add_argument_group("monitoring"), RunConfig, MONITORING)
    add_fields(p.add_argument_group("networks"), NetworkConfig)
    opt = p.add_argument_group("optimisation (reference CycleGAN defaults)")
    add_fields(opt, TrainConfig, skip=HOW_TO_RUN)
    return p


def _tiles_spec(data) -> dict:
    """The spec of the tiles prepared in ``data`` ({} when there is no readable manifest:
    training reports that itself)."""
    try:
        return Manifest.load(data).spec.to_dict()
    except CycleGanAudioError:
        return {}


def parse(argv: list[str] | None) -> RunConfig:
    a = build_parser().parse_args(argv)
    written = written_dests(build_parser(), argv)
    if a.preset:  # the preset's values, except where a flag was written
        chosen = preset(a.preset)
        bright = bright_target_train(a.preset, _tiles_spec(a.data))
        if bright and not set(bright) <= written:
            print(
                f"train: {a.data} holds the {a.preset} preset's full-band tiles (a bright "
                f"target): {', '.join(f'--{k} {v:g}' for k, v in bright.items())}"
            )
        chosen["train"].update(bright)
        for name, value in {**chosen["net"], **chosen["train"], **chosen.get("run", {})}.items():
            if name not in written:
                setattr(a, name, value)
                written.add(name)
    net_names, train_names = option_names(NetworkConfig), option_names(TrainConfig)
    given = frozenset(
        f"net.{d}" if d in net_names else f"train.{d}" if d in train_names else d for d in written
    )
    fused_adam = a.gpus > 0 if a.fused_adam is None else a.fused_adam
    return from_args(
        RunConfig,
        a,
        net=from_args(NetworkConfig, a),
        train=from_args(TrainConfig, a, fused_adam=fused_adam),
        given=given,
    )


@user_errors
def main(argv: list[str] | None = None) -> int:
    result = run_training(parse(argv))
    best = str(result.best_path or "none")
    if result.best_score is not None:  # not reported back by spawned DDP processes
        best += f" (val/score {result.best_score:.4f})"
    print(
        f"trained {result.generator_steps} generator steps, {result.epochs} epochs; "
        f"checkpoints in {result.run_dir}; best: {best}"
    )
    return 0
