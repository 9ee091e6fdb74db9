"""One function that runs (or resumes) a CycleGAN training run: `run_training(RunConfig)`.

Checkpoints: ``<checkpoint_dir>/<run_name>/best.ckpt`` (lowest ``val/score``) and
``last.ckpt`` (end of every epoch), written atomically.

Resume (`RunConfig.resume`) continues the run in the folder of the checkpoint it resumes, with
its best score and its W&B run, unless a checkpoint folder or run name is given (a branch:
best.ckpt is copied there, W&B starts a new run). Hyper-parameters come from the checkpoint;
those the caller gives override them, one printed line each; other network sizes are refused.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_only

from . import errors, register
from .atomic import atomic_path
from .callbacks import (
    LOGGERS,
    WANDB_KEY,
    AtomicCheckpointIO,
    EveryEpochCheckpoint,
    LossProgressBar,
    QuietLightning,
    ResumedHyperparameters,
    RunCheckpoint,
    StopAtGeneratorSteps,
    WandbMonitor,
    make_logger,
    silence_lightning_noise,
)
from .checkpoint import load_raw, read_meta
from .data import TileDataModule, load_tile, spread
from .errors import CheckpointError, CycleGanAudioError, TrainingError
from .manifest import domain_lufs
from .model import CycleGan, TrainConfig, check_resume_compatible
from .networks import NetworkConfig

MONITOR = "val/score"


@dataclass(frozen=True)
class RunConfig:
    """A training run; the train command's flags come from these fields (cli/config_args.py)."""

    data: Path = field(
        default=Path("data/prepared"), metadata={"help": "prepared folder (manifest.json)"}
    )
    net: NetworkConfig = field(default_factory=NetworkConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    gpus: int = field(default=0, metadata={"help": "GPUs per node; 0 = CPU; > 1 = DDP"})
    num_nodes: int = field(default=1, metadata={"help": "machines, each with --gpus GPUs"})
    # > 1: spawned processes, mainly for tests.
    cpu_processes: int = field(
        default=1, metadata={"help": "CPU DDP processes (gloo) when --gpus 0"}
    )
    max_epochs: int | None = field(
        default=None,
        metadata={"help": "stop after this many epochs (default: --n-epochs + --n-epochs-decay)"},
    )
    max_steps: int = field(
        default=-1, metadata={"help": "generator steps (batches); -1 = no limit"}
    )
    batch_size: int = field(default=1, metadata={"help": "tile pairs per step"})
    precision: str | None = field(
        default=None,
        metadata={
            "help": "Lightning precision, e.g. 32-true, bf16-mixed (default: bf16-mixed on GPU, "
            "32-true on CPU)"
        },
    )
    num_workers: int | None = field(
        default=None, metadata={"help": "data loader workers (default: cores-1, max 8)"}
    )
    # Spread over the val recordings (data.spread).
    n_val_tiles: int = field(
        default=32,
        metadata={"help": "validation tiles per domain that score each epoch", "at_least": 2},
    )
    val_every: int = field(default=1, metadata={"help": "epochs between validation scores"})
    measure_register: bool = field(
        default=False,
        metadata={
            "help": "set --register-shift from the training tiles: the semitones between the "
            "two domains' median pitches (voices; needs tiles that resolve the lower voice's "
            "harmonics, e.g. log-frequency ones); a --register-shift written wins; ignored on "
            "resume",
            "negatable": True,
        },
    )
    keep_epochs: bool = field(
        default=False,
        metadata={
            "help": "also keep a checkpoint of every epoch (epoch-NNN.ckpt) to evaluate or listen to"
        },
    )
    resume: Path | None = field(
        default=None,
        metadata={"help": "a checkpoint (last.ckpt) to continue from, in its own folder"},
    )
    run_name: str | None = field(
        default=None,
        metadata={"help": "run folder name (default: a timestamp; on resume, the resumed run's)"},
    )
    checkpoint_dir: Path | None = field(
        default=None,
        metadata={
            "help": "folder of run folders (default: checkpoints; on resume, the resumed run's)"
        },
    )
    logger: str = field(
        default="wandb",
        metadata={
            "help": "where losses and scores go; W&B runs offline without credentials",
            "choices": LOGGERS,
        },
    )
    log_dir: Path = field(default=Path("logs"), metadata={"help": "the logger's local files"})
    log_every: int = field(default=20, metadata={"help": "batches between loss logs"})
    log_media_every: int = field(
        default=5, metadata={"help": "epochs between W&B spectrograms/audio; 0 = never"}
    )
    progress_bar: bool = field(default=True, metadata={"help": "hide the progress bar"})
    # Each host read of a GPU value stalls the host until the GPU catches up.
    sync_every: int | None = field(
        default=None,
        metadata={
            "help": "batches between host reads of GPU values (progress bar, NaN check); "
            "default: 1 on CPU, --log-every on GPU",
            "at_least": 1,
        },
    )
    # Fields the caller set explicitly ("train.lr", "net.ngf", "run_name", ...): on resume these,
    # and only these, override the checkpoint. None: those that differ from the defaults.
    given: frozenset[str] | None = field(default=None, metadata={"flags": ()})


@dataclass
class RunResult:
    run_dir: Path
    best_path: Path | None
    best_score: float | None
    generator_steps: int
    epochs: int


def _resume_state(cfg: RunConfig, dm: TileDataModule) -> tuple[dict, NetworkConfig, TrainConfig]:
    """The checkpoint, its network and hyper-parameters; refuses other specs or format versions."""
    path = Path(cfg.resume)
    raw = load_raw(path)
    _, net, meta = read_meta(raw, path)
    check_resume_compatible(raw, dm.spec, net, str(path))
    if "optimizer_states" not in raw:
        raise CheckpointError(
            f"{path}: holds weights only (no optimiser state); cannot resume from it"
        )
    return raw, net, TrainConfig.from_dict(meta.get("hparams", {}))


# How to run, not what to learn: always the current call's (fused Adam follows the hardware).
RUN_OPTIONS = ("compile", "fused_adam")


def given_fields(cfg: RunConfig) -> frozenset[str]:
    """``cfg.given``, or for library callers the fields that differ from their defaults."""
    if cfg.given is not None:
        return cfg.given
    out = {name for name in ("run_name", "checkpoint_dir") if getattr(cfg, name) is not None}
    for prefix, value, default in (
        ("net", cfg.net, NetworkConfig()),
        ("train", cfg.train, TrainConfig()),
    ):
        out |= {
            f"{prefix}.{f.name}"
            for f in dataclasses.fields(value)
            if getattr(value, f.name) != getattr(default, f.name)
        }
    return frozenset(out)


def resumed_train_config(
    cfg: RunConfig, ckpt_net: NetworkConfig, ckpt_train: TrainConfig
) -> tuple[TrainConfig, list[str]]:
    """The checkpoint's hyper-parameters with those given now, and one line per changed value.

    Everything in TrainConfig may change (lr, betas, loss weights, schedule, pool size, seed);
    network sizes may not: the weights would not fit, so a differing one is refused.
    """
    given = given_fields(cfg)
    refused = [
        f"--{f.name.replace('_', '-')} {getattr(cfg.net, f.name)} "
        f"(checkpoint: {getattr(ckpt_net, f.name)})"
        for f in dataclasses.fields(ckpt_net)
        if f"net.{f.name}" in given and getattr(cfg.net, f.name) != getattr(ckpt_net, f.name)
    ]
    if refused:
        raise CheckpointError(
            f"{cfg.resume}: network sizes cannot change on resume: {', '.join(refused)}; "
            "drop the flag or start a new run"
        )
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    now = {n: getattr(cfg.train, n) for n in names if f"train.{n}" in given or n in RUN_OPTIONS}
    train = dataclasses.replace(ckpt_train, **now)
    lines = [
        f"resume: {n.replace('_', '-')} {getattr(ckpt_train, n)} -> {getattr(train, n)}"
        for n in names
        if f"train.{n}" in given and getattr(ckpt_train, n) != getattr(train, n)
    ]
    return train, lines


def run_folder(cfg: RunConfig) -> tuple[Path, str]:
    """(run folder, run name). A resume continues in the folder of the checkpoint it resumes
    unless ``checkpoint_dir`` or ``run_name`` name another."""
    if cfg.resume is None:
        name = cfg.run_name or time.strftime("%Y%m%d-%H%M%S")
        return Path(cfg.checkpoint_dir or "checkpoints") / name, name
    own = Path(cfg.resume).resolve().parent
    if cfg.run_name is None and cfg.checkpoint_dir is None:
        return Path(cfg.resume).parent, own.name
    name = cfg.run_name or own.name
    return Path(cfg.checkpoint_dir or own.parent) / name, name


def _carry_best(raw: dict, best: RunCheckpoint, resume: Path, run_dir: Path) -> str | None:
    """A resume into another folder: copy the run's best checkpoint there, so that the best
    score carried over (RunCheckpoint) keeps its file beside the new ones."""
    state = raw.get("callbacks", {}).get(best.state_key) or {}
    name = os.path.basename(state.get("best_model_path") or "")
    src, dst = Path(resume).resolve().parent / name, run_dir / f"{best.filename}.ckpt"
    if not name or not src.is_file() or dst.exists():
        return None
    if rank_zero_only.rank == 0:
        dst.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dst, fsync=True) as tmp:
            shutil.copyfile(src, tmp)
    score = state.get("best_model_score")
    score = f" (val/score {float(score):.4f})" if score is not None else ""
    return f"resume: {src}{score} copied to {dst}"


def _keep_newer_record(best: RunCheckpoint, resume: Path, run_last: Path) -> str | None:
    """An earlier checkpoint (epoch-003.ckpt) resumed in its run's folder: the run's best record
    is the one in last.ckpt, not that epoch's, so that a better best.ckpt written since is
    not replaced by a worse epoch. last.ckpt itself will be replaced: say so."""
    if resume.name == run_last.name or not run_last.is_file():
        return None
    try:
        record = (load_raw(run_last).get("callbacks") or {}).get(best.state_key)
    except CheckpointError:
        record = None  # unreadable: the resumed checkpoint's record stands
    best.newer_record = record
    return (
        f"resume: from {resume.name} in the run's folder: its last.ckpt will be replaced "
        "(give --run-name to branch instead)"
    )


def user_error_of_spawned(exc: Exception) -> CycleGanAudioError | None:
    """The user error (a NaN loss, ...) a spawned DDP process (``--cpu-processes``) died of:
    torch hands the parent only the process's traceback, whose last line names it."""
    text = str(exc).strip()
    name, _, message = text.splitlines()[-1].partition(": ") if text else ("", "", "")
    module, _, cls_name = name.rpartition(".")
    cls = getattr(errors, cls_name, None) if module == errors.__name__ else None
    if isinstance(cls, type) and issubclass(cls, CycleGanAudioError):
        return cls(message)
    return None


def _trainer_devices(cfg: RunConfig) -> dict:
    if cfg.gpus > 0:
        n_visible = torch.cuda.device_count()
        if n_visible < cfg.gpus:
            raise TrainingError(
                f"--gpus {cfg.gpus} asked for, but {n_visible} CUDA GPU(s) are visible here; "
                "use --gpus 0 to train on the CPU"
            )
        multi = cfg.gpus > 1 or cfg.num_nodes > 1
        # A GAN step leaves the other pair of networks without gradients: plain DDP would fail.
        strategy = "ddp_find_unused_parameters_true" if multi else "auto"
        return dict(accelerator="gpu", devices=cfg.gpus, num_nodes=cfg.num_nodes, strategy=strategy)
    if cfg.cpu_processes > 1 or cfg.num_nodes > 1:
        return dict(
            accelerator="cpu",
            devices=cfg.cpu_processes,
            num_nodes=cfg.num_nodes,
            strategy="ddp_spawn_find_unused_parameters_true",
        )
    return dict(accelerator="cpu", devices=1)


REGISTER_TILES = 256  # training tiles per domain that measure the register


def training_register(dm: TileDataModule, say=print) -> float:
    """Semitones from domain A's median pitch to B's over up to REGISTER_TILES training tiles
    of each (register.measure_register), rounded to 0.1; a TrainingError says why not."""
    tiles = [
        torch.stack([load_tile(p, dm.spec) for p in spread(dm.manifest.tile_paths(d, "train"),
                                                           REGISTER_TILES)])
        for d in "AB"
    ]  # fmt: skip
    try:
        semitones, med = register.measure_register(*tiles, dm.spec)
    except ValueError as exc:
        raise TrainingError(f"{dm.data_dir}: cannot measure the register: {exc}") from None
    semitones = round(semitones, 1)
    say(f"register: A {med['A']:.0f} Hz, B {med['B']:.0f} Hz -> --register-shift {semitones:+.1f}")
    return semitones


def run_training(cfg: RunConfig, extra_callbacks: tuple[pl.Callback, ...] = ()) -> RunResult:
    """Train (or resume) as ``cfg`` says; ``extra_callbacks`` join ours (benchmarks, tests)."""
    resuming = cfg.resume is not None
    silence_lightning_noise(resuming)
    say = rank_zero_only(print)
    dm = TileDataModule(
        cfg.data,
        batch_size=cfg.batch_size,
        num_workers=cfg.num_workers,
        n_val_tiles=cfg.n_val_tiles,
    )
    net, train, raw, changes = cfg.net, cfg.train, {}, []
    if resuming:
        raw, net, ckpt_train = _resume_state(cfg, dm)
        train, changes = resumed_train_config(cfg, net, ckpt_train)
    elif cfg.measure_register and "net.register_shift" not in given_fields(cfg):  # written wins
        net = dataclasses.replace(net, register_shift=training_register(dm, say))
    pl.seed_everything(train.seed, workers=True, verbose=False)
    dm.seed = train.seed
    run_dir, run_name = run_folder(cfg)
    # The same folder is the same run (same W&B run); another folder is a branch of it.
    same_run = resuming and run_dir.resolve() == Path(cfg.resume).resolve().parent
    peak_db = dm.manifest.settings.get("peak_db")
    model = CycleGan(
        dm.spec, net, train, input_peak_db=peak_db, domain_lufs=domain_lufs(dm.manifest)
    )

    best = RunCheckpoint(
        dirpath=run_dir,
        filename="best",
        monitor=MONITOR,
        mode="min",
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    # A second callback so last.ckpt is written every epoch even when validation is not.
    last = RunCheckpoint(
        dirpath=run_dir,
        filename="last",
        save_top_k=1,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )
    if resuming and not same_run:
        changes.append(_carry_best(raw, best, cfg.resume, run_dir))
    if same_run:
        changes.append(_keep_newer_record(best, Path(cfg.resume), run_dir / "last.ckpt"))
    for line in changes:
        if line:
            say(line)
    callbacks: list[pl.Callback] = [best, last, QuietLightning(resuming), *extra_callbacks]
    if resuming:
        callbacks.append(ResumedHyperparameters())
    if cfg.keep_epochs:
        callbacks.append(EveryEpochCheckpoint(run_dir))
    if cfg.max_steps > 0:
        callbacks.append(StopAtGeneratorSteps(cfg.max_steps))
    config = {
        "spec": dm.spec.to_dict(),
        "net": net.to_dict(),
        "train": train.to_dict(),
        "batch_size": cfg.batch_size,
        "data": str(cfg.data),
    }
    wandb_run_id = (raw.get(WANDB_KEY) or {}).get("run_id") if same_run else None
    logger = make_logger(cfg.logger, run_name, cfg.log_dir, config, wandb_run_id)
    if cfg.logger == "wandb":
        callbacks.append(WandbMonitor(dm.spec, every_n_epochs=cfg.log_media_every))

    devices = _trainer_devices(cfg)
    on_gpu = devices["accelerator"] == "gpu"
    sync_every = max(1, cfg.sync_every or (cfg.log_every if on_gpu else 1))
    model.finite_check_every = sync_every
    if cfg.progress_bar:
        callbacks.append(LossProgressBar(refresh_rate=sync_every))
    trainer = pl.Trainer(
        **devices,
        precision=cfg.precision or ("bf16-mixed" if on_gpu else "32-true"),
        max_epochs=cfg.max_epochs or (train.n_epochs + train.n_epochs_decay),
        check_val_every_n_epoch=cfg.val_every,
        num_sanity_val_steps=0,
        logger=logger,
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        log_every_n_steps=cfg.log_every,
        enable_progress_bar=cfg.progress_bar,
        # Every tile has the same shape: let cuDNN time its convolution algorithms once and
        # keep the fastest (benchmark_train.py measures with this on, so train.py matches it).
        benchmark=True if on_gpu else None,
        enable_model_summary=False,
    )
    try:
        trainer.fit(model, datamodule=dm, ckpt_path=str(cfg.resume) if cfg.resume else None)
    except torch.multiprocessing.ProcessRaisedException as exc:
        raise user_error_of_spawned(exc) or exc from None
    best_path = Path(best.best_model_path) if best.best_model_path else None
    score = float(best.best_model_score) if best.best_model_score is not None else None
    return RunResult(run_dir, best_path, score, trainer.global_step // 2, trainer.current_epoch)
