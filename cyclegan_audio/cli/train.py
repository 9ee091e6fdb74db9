"""``cyclegan-audio train``: train (or resume) a CycleGAN on a prepared folder.

    scripts/train.py --gpus 1                                  # data/prepared, W&B, bf16
    scripts/train.py --gpus 0 --max-steps 200 --ngf 16          # CPU smoke run
    scripts/train.py --resume checkpoints/<run>/last.ckpt --gpus 1

``--max-steps`` counts generator steps (= batches); Lightning's own global_step
counts 2 per batch because each batch steps two optimisers.

On ``--resume`` the checkpoint's hyper-parameters hold unless a flag is written on the
command line (a default never overrides them); network sizes cannot change.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..callbacks import LOGGERS
from ..model import TrainConfig
from ..networks import DISCRIMINATORS, NetworkConfig
from ..presets import PRESETS, preset
from ..training import RunConfig, run_training
from . import int_at_least, user_errors, written_dests

_T, _N = TrainConfig(), NetworkConfig()


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: X)" only where X is a real value the help does not already give."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or any(action.default is x for x in (None, False, argparse.SUPPRESS)):
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cyclegan-audio train",
        description=__doc__.split("\n\n")[0],
        formatter_class=_HelpFormatter,
    )
    p.add_argument(
        "--data", type=Path, default=RunConfig.data, help="prepared folder (manifest.json)"
    )
    p.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        default=None,
        help="network sizes and schedule of a measured recipe (cpu: ngf/ndf 8, 3 blocks, "
        "10 + 10 epochs, for tiles from `prepare --preset cpu`; gpu: the defaults); "
        "flags written on the command line still win",
    )
    run = p.add_argument_group("run")
    run.add_argument("--gpus", type=int, default=0, help="GPUs per node; 0 = CPU; > 1 = DDP")
    run.add_argument("--num-nodes", type=int, default=1, help="machines, each with --gpus GPUs")
    run.add_argument(
        "--cpu-processes", type=int, default=1, help="CPU DDP processes (gloo) when --gpus 0"
    )
    run.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="stop after this many epochs (default: --n-epochs + --n-epochs-decay)",
    )
    run.add_argument(
        "--max-steps", type=int, default=-1, help="generator steps (batches); -1 = no limit"
    )
    run.add_argument("--batch-size", type=int, default=1, help="tile pairs per step")
    run.add_argument(
        "--precision",
        default=None,
        help="Lightning precision, e.g. 32-true, bf16-mixed (default: bf16-mixed on GPU, "
        "32-true on CPU)",
    )
    run.add_argument(
        "--num-workers",
        type=int,
        default=None,
        help="data loader workers (default: cores-1, max 8)",
    )
    run.add_argument("--compile", action="store_true", help="torch.compile the four networks")
    run.add_argument(
        "--fused-adam",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fused Adam kernels (default: on with GPUs)",
    )
    run.add_argument(
        "--seed", type=int, default=_T.seed, help="seed of weights, data order and image pools"
    )
    run.add_argument(
        "--resume",
        type=Path,
        default=None,
        help="a checkpoint (last.ckpt) to continue from, in its own folder",
    )
    run.add_argument(
        "--run-name",
        default=None,
        help="run folder name (default: a timestamp; on resume, the resumed run's)",
    )
    run.add_argument(
        "--checkpoint-dir",
        type=Path,
        default=None,
        help="folder of run folders (default: checkpoints; on resume, the resumed run's)",
    )
    mon = p.add_argument_group("monitoring")
    mon.add_argument(
        "--logger",
        choices=LOGGERS,
        default="wandb",
        help="where losses and scores go; W&B runs offline without credentials",
    )
    mon.add_argument(
        "--log-dir", type=Path, default=RunConfig.log_dir, help="the logger's local files"
    )
    mon.add_argument(
        "--log-every", type=int, default=RunConfig.log_every, help="batches between loss logs"
    )
    mon.add_argument("--val-every", type=int, default=1, help="epochs between validation scores")
    mon.add_argument(
        "--keep-epochs",
        action="store_true",
        help="also keep a checkpoint of every epoch (epoch-NNN.ckpt) to evaluate or listen to",
    )
    mon.add_argument(
        "--n-val-tiles",
        type=int_at_least(2),
        default=RunConfig.n_val_tiles,
        help="validation tiles per domain that score each epoch",
    )
    mon.add_argument(
        "--log-media-every",
        type=int,
        default=RunConfig.log_media_every,
        help="epochs between W&B spectrograms/audio; 0 = never",
    )
    mon.add_argument("--no-progress-bar", action="store_true", help="no progress bar")
    mon.add_argument(
        "--sync-every",
        type=int_at_least(1),
        default=None,
        help="batches between host reads of GPU values (progress bar, NaN check); "
        "default: 1 on CPU, --log-every on GPU",
    )
    net = p.add_argument_group("networks")
    net.add_argument("--ngf", type=int, default=_N.ngf, help="generator width (first layer)")
    net.add_argument("--ndf", type=int, default=_N.ndf, help="discriminator width (first layer)")
    net.add_argument(
        "--n-blocks", type=int, default=_N.n_blocks, help="residual blocks in each generator"
    )
    net.add_argument(
        "--n-layers-d", type=int, default=_N.n_layers_d, help="strided layers per discriminator"
    )
    net.add_argument(
        "--upsample",
        choices=("transpose", "resize"),
        default=_N.upsample,
        help="generator upsampling: transposed conv, or resize then conv",
    )
    net.add_argument(
        "--freq-position",
        action=argparse.BooleanOptionalAction,
        default=_N.freq_position,
        help="give every network a channel holding each row's frequency position",
    )
    net.add_argument(
        "--dilation-cycle",
        type=int,
        default=_N.dilation_cycle,
        help="residual block i dilates by 2**(i %% N): longer context; 0 = no dilation",
    )
    net.add_argument(
        "--discriminator",
        choices=DISCRIMINATORS,
        default=_N.discriminator,
        help="patch: 70x70 PatchGAN; patch+freq: plus whole-spectrum judges at two time scales",
    )
    opt = p.add_argument_group("optimisation (reference CycleGAN defaults)")
    opt.add_argument(
        "--gan-mode",
        choices=("lsgan", "vanilla"),
        default=_T.gan_mode,
        help="adversarial loss: least squares or cross-entropy",
    )
    opt.add_argument("--lr", type=float, default=_T.lr, help="Adam learning rate, all networks")
    opt.add_argument("--beta1", type=float, default=_T.beta1, help="Adam beta1")
    opt.add_argument("--beta2", type=float, default=_T.beta2, help="Adam beta2")
    opt.add_argument(
        "--lambda-cycle", type=float, default=_T.lambda_cycle, help="cycle-consistency weight"
    )
    opt.add_argument(
        "--lambda-identity",
        type=float,
        default=_T.lambda_identity,
        help="identity weight as a fraction of --lambda-cycle",
    )
    opt.add_argument(
        "--pool-size",
        type=int,
        default=_T.pool_size,
        help="past fakes the discriminators also see; 0 = off",
    )
    opt.add_argument(
        "--ema-decay",
        type=float,
        default=_T.ema_decay,
        help="EMA of the generator weights, validated and translated; 0 = off",
    )
    opt.add_argument("--n-epochs", type=int, default=_T.n_epochs, help="epochs at the initial lr")
    opt.add_argument(
        "--n-epochs-decay",
        type=int,
        default=_T.n_epochs_decay,
        help="epochs of linear lr decay to 0",
    )
    return p


def parse(argv: list[str] | None) -> RunConfig:
    a = build_parser().parse_args(argv)
    net_names = {f.name for f in dataclasses.fields(NetworkConfig)}
    train_names = {f.name for f in dataclasses.fields(TrainConfig)}
    written = written_dests(build_parser(), argv)
    if a.preset:  # the preset's values, except where a flag was written
        chosen = preset(a.preset)
        for name, value in {**chosen["net"], **chosen["train"]}.items():
            if name not in written:
                setattr(a, name, value)
                written.add(name)
    given = frozenset(
        f"net.{d}" if d in net_names else f"train.{d}" if d in train_names else d for d in written
    )
    net = NetworkConfig(
        ngf=a.ngf,
        ndf=a.ndf,
        n_blocks=a.n_blocks,
        n_layers_d=a.n_layers_d,
        upsample=a.upsample,
        freq_position=a.freq_position,
        dilation_cycle=a.dilation_cycle,
        discriminator=a.discriminator,
    )
    train = TrainConfig(
        gan_mode=a.gan_mode,
        lambda_cycle=a.lambda_cycle,
        lambda_identity=a.lambda_identity,
        pool_size=a.pool_size,
        lr=a.lr,
        beta1=a.beta1,
        beta2=a.beta2,
        n_epochs=a.n_epochs,
        n_epochs_decay=a.n_epochs_decay,
        compile=a.compile,
        seed=a.seed,
        ema_decay=a.ema_decay,
        fused_adam=a.gpus > 0 if a.fused_adam is None else a.fused_adam,
    )
    return RunConfig(
        data=a.data,
        net=net,
        train=train,
        gpus=a.gpus,
        num_nodes=a.num_nodes,
        cpu_processes=a.cpu_processes,
        max_epochs=a.max_epochs,
        max_steps=a.max_steps,
        batch_size=a.batch_size,
        precision=a.precision,
        num_workers=a.num_workers,
        n_val_tiles=a.n_val_tiles,
        val_every=a.val_every,
        keep_epochs=a.keep_epochs,
        resume=a.resume,
        run_name=a.run_name,
        checkpoint_dir=a.checkpoint_dir,
        logger=a.logger,
        log_dir=a.log_dir,
        log_every=a.log_every,
        log_media_every=a.log_media_every,
        progress_bar=not a.no_progress_bar,
        sync_every=a.sync_every,
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
