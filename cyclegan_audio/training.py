"""One function that runs (or resumes) a CycleGAN training run: `run_training(RunConfig)`.

Checkpoints: ``<checkpoint_dir>/<run_name>/best.ckpt`` (lowest ``val/score``) and
``last.ckpt`` (end of every epoch), written atomically.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from .callbacks import (
    AtomicCheckpointIO,
    EveryEpochCheckpoint,
    LossProgressBar,
    StopAtGeneratorSteps,
    WandbMonitor,
    make_logger,
)
from .checkpoint import load_raw, read_meta
from .data import TileDataModule
from .errors import CheckpointError, TrainingError
from .model import CycleGan, TrainConfig, check_resume_compatible
from .networks import NetworkConfig

MONITOR = "val/score"


@dataclass(frozen=True)
class RunConfig:
    data: Path = Path("data/prepared")
    net: NetworkConfig = field(default_factory=NetworkConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    gpus: int = 0  # 0 = CPU
    num_nodes: int = 1
    cpu_processes: int = 1  # > 1: CPU DDP (gloo, spawned), mainly for tests
    max_epochs: int | None = None  # None: n_epochs + n_epochs_decay
    max_steps: int = -1  # generator steps (= batches); -1: no limit
    batch_size: int = 1
    precision: str | None = None  # None: bf16-mixed on GPU, 32-true on CPU
    num_workers: int | None = None
    n_val_tiles: int = 32  # per domain; spread over the val recordings (data.spread)
    val_every: int = 1
    keep_epochs: bool = False  # also keep epoch-NNN.ckpt for every epoch
    resume: Path | None = None
    run_name: str | None = None
    checkpoint_dir: Path = Path("checkpoints")
    logger: str = "wandb"
    log_dir: Path = Path("logs")
    log_every: int = 20
    log_media_every: int = 5
    progress_bar: bool = True
    # Steps between host reads of GPU values (progress-bar refresh, the NaN check); each read
    # stalls the host until the GPU catches up. None: 1 on CPU (free there), log_every on GPU.
    sync_every: int | None = None


@dataclass
class RunResult:
    run_dir: Path
    best_path: Path | None
    best_score: float | None
    generator_steps: int
    epochs: int


def _resume_state(cfg: RunConfig, dm: TileDataModule) -> tuple[NetworkConfig, TrainConfig]:
    """Network and hyper-parameters of the checkpoint; refuses other specs or format versions."""
    path = Path(cfg.resume)
    raw = load_raw(path)
    _, net, meta = read_meta(raw, path)
    check_resume_compatible(raw, dm.spec, net, str(path))
    if "optimizer_states" not in raw:
        raise CheckpointError(
            f"{path}: holds weights only (no optimiser state); cannot resume from it"
        )
    return net, TrainConfig.from_dict(meta.get("hparams", {}))


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


def run_training(cfg: RunConfig, extra_callbacks: tuple[pl.Callback, ...] = ()) -> RunResult:
    """Train (or resume) as ``cfg`` says; ``extra_callbacks`` join ours (benchmarks, tests)."""
    pl.seed_everything(cfg.train.seed, workers=True, verbose=False)
    dm = TileDataModule(
        cfg.data,
        batch_size=cfg.batch_size,
        num_workers=cfg.num_workers,
        n_val_tiles=cfg.n_val_tiles,
    )
    net, train = cfg.net, cfg.train
    if cfg.resume is not None:
        net, train = _resume_state(cfg, dm)
        train = dataclasses.replace(
            train, compile=cfg.train.compile, fused_adam=cfg.train.fused_adam
        )
    run_name = cfg.run_name or (
        Path(cfg.resume).parent.name if cfg.resume else time.strftime("%Y%m%d-%H%M%S")
    )
    run_dir = Path(cfg.checkpoint_dir) / run_name
    model = CycleGan(dm.spec, net, train, input_peak_db=dm.manifest.settings.get("peak_db"))

    best = ModelCheckpoint(
        dirpath=run_dir,
        filename="best",
        monitor=MONITOR,
        mode="min",
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    # A second callback so last.ckpt is written every epoch even when validation is not.
    last = ModelCheckpoint(
        dirpath=run_dir,
        filename="last",
        save_top_k=1,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )
    callbacks: list[pl.Callback] = [best, last, *extra_callbacks]
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
    logger = make_logger(cfg.logger, run_name, cfg.log_dir, config)
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
    trainer.fit(model, datamodule=dm, ckpt_path=str(cfg.resume) if cfg.resume else None)
    best_path = Path(best.best_model_path) if best.best_model_path else None
    score = float(best.best_model_score) if best.best_model_score is not None else None
    return RunResult(run_dir, best_path, score, trainer.global_step // 2, trainer.current_epoch)
