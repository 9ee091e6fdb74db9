"""Loggers, W&B monitoring and atomic checkpoint writes: the only module that imports wandb.

* `make_logger`: W&B by default, online when credentials exist, otherwise offline
  (decided up front: "online" without network retries for ~90 s and then fails).
  ``WANDB_MODE`` in the environment always wins (tests set "disabled"/"offline").
  A resumed run passes the W&B run id its checkpoint recorded: the same W&B run goes on.
* `WandbMonitor`: every few epochs, spectrogram images (real | translated |
  reconstructed) and Griffin-Lim audio of the fixed val tiles both ways; the best
  epoch and score in the run summary, carried across resumes in the checkpoint.
  Losses, lr and val score are logged by the model through Lightning's ``self.log``.
* `RunCheckpoint`: Lightning's ModelCheckpoint, whose best score survives a resume
  whose run folder moved (Lightning drops it when the folder's path changed).
* `QuietLightning`: filters out Lightning messages that are noise to our users.
* `ResumedHyperparameters`: a resumed run's own lr, betas and fused Adam, not the checkpoint's.
* `AtomicCheckpointIO`: Lightning writes through fsspec, whose local "transaction"
  stages in the system temp dir and then *copies* across filesystems, without
  fsync; a kill mid-copy truncates last.ckpt. We write a temp file in the target
  folder, fsync it and ``os.replace`` it, which is atomic on POSIX.
"""

from __future__ import annotations

import logging
import netrc
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar

from . import image_io, phase
from . import spectrogram as S
from .atomic import atomic_path

LOGGERS = ("wandb", "tensorboard", "csv", "none")
WANDB_KEY = "wandb_run"  # checkpoint key: the W&B run id and the best epoch in its summary

# Lightning messages that say nothing our users can act on: an advert printed by every
# Trainer, a deprecation inside Lightning's own code (torch 2.13), and, when resuming, the
# run folder's being non-empty and the callbacks of the original run (chosen by us, not them).
_NOISE = ("try installing [litlogger]",)
_NOISE_WARNINGS = (r"`isinstance\(treespec, LeafSpec\)` is deprecated",)
_RESUME_NOISE_WARNINGS = (
    r"Checkpoint directory .* exists and is not empty",
    r"Be aware that when using `ckpt_path`",
)


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in _NOISE)


def silence_lightning_noise(resuming: bool = False) -> None:
    """Targeted filters for `_NOISE` (idempotent; every other warning still shows)."""
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _DropNoise) for f in log.filters):
            log.addFilter(_DropNoise())
    for message in _NOISE_WARNINGS + (_RESUME_NOISE_WARNINGS if resuming else ()):
        warnings.filterwarnings("ignore", message=message)


class QuietLightning(pl.Callback):
    """`silence_lightning_noise` in every process (spawned DDP ranks start without filters)."""

    def __init__(self, resuming: bool = False):
        self.resuming = resuming

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        silence_lightning_noise(self.resuming)


class AtomicCheckpointIO(TorchCheckpointIO):
    """torch.save to ``<dir>/.<name>.XXXX.tmp``, fsync, then os.replace onto the target."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        with atomic_path(path, fsync=True) as tmp, open(tmp, "wb") as f:
            torch.save(checkpoint, f)


def wandb_credentials_available() -> bool:
    """True when an API key is in the environment or in ~/.netrc (what `wandb login` writes)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("//")[-1].split("/")[0]
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def make_logger(
    kind: str,
    run_name: str,
    log_dir: str | Path,
    config: dict[str, Any],
    wandb_run_id: str | None = None,
):
    """A Lightning logger, or False for "none". ``wandb_run_id``: the W&B run to continue."""
    from pytorch_lightning import loggers

    log_dir = Path(log_dir)
    if kind == "none":
        return False
    if kind == "tensorboard":
        return loggers.TensorBoardLogger(
            save_dir=str(log_dir), name=run_name, default_hp_metric=False
        )
    if kind == "csv":
        return loggers.CSVLogger(save_dir=str(log_dir), name=run_name)
    if kind != "wandb":
        raise ValueError(f"unknown logger {kind!r}; use one of {LOGGERS}")
    log_dir.mkdir(parents=True, exist_ok=True)
    offline = "WANDB_MODE" not in os.environ and not wandb_credentials_available()
    resume = dict(id=wandb_run_id, resume="allow") if wandb_run_id else {}
    logger = loggers.WandbLogger(
        name=run_name,
        project=os.environ.get("WANDB_PROJECT", "cyclegan-audio"),
        save_dir=str(log_dir),
        offline=offline,
        config=config,
        **resume,
    )
    # Lightning always passes anonymous=None, on which wandb >= 0.22 prints "The anonymous
    # setting has no effect" on every run; not passing it is the same setting.
    getattr(logger, "_wandb_init", {}).pop("anonymous", None)
    return logger


def _tiles_to_uint8(tiles: list[torch.Tensor]) -> np.ndarray:
    """Tiles (1, F, T) on [-1, 1] side by side, low frequencies at the bottom, uint8 (F, n*T + gaps).

    Converted ourselves: wandb.Image rescales [-1, 1] and [0, 1] input differently.
    """
    cols = []
    for t in tiles:
        cols.append(image_io.unit_to_pixels(S.model_to_unit(t[0]).numpy(), bits=8))
        cols.append(np.full((t.shape[-2], 4), 255, np.uint8))
    return np.concatenate(cols[:-1], axis=1)


class WandbMonitor(pl.Callback):
    """Images and audio of fixed val tiles every ``every_n_epochs``; best epoch in the summary."""

    def __init__(self, spec, every_n_epochs: int = 5, n_tiles: int = 2, gl_iters: int = 16):
        self.spec, self.every, self.n_tiles, self.gl_iters = spec, every_n_epochs, n_tiles, gl_iters
        self.run_id: str | None = None
        # {"best/epoch", "best/val_score", "best/generator_step"}: the run summary's best so far
        self.best: dict[str, float] = {}

    @property
    def best_score(self) -> float | None:
        return self.best.get("best/val_score")

    @staticmethod
    def _run(trainer: pl.Trainer):
        from pytorch_lightning.loggers import WandbLogger

        for lg in trainer.loggers:
            if isinstance(lg, WandbLogger):
                return lg.experiment
        return None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            run = self._run(trainer)
            # WandbLogger(offline=True) starts wandb in mode "dryrun"; WANDB_MODE=offline gives "offline".
            if run is not None and getattr(run.settings, "mode", "") in ("offline", "dryrun"):
                run_dir = Path(run.dir).parent
                print(
                    f"W&B offline (no credentials): run in {run_dir}; upload: wandb sync {run_dir}"
                )
            if run is not None:
                self.run_id = run.id
                # A resumed run: the summary keeps the best of the epochs before the resume
                # (an offline run starts with an empty one).
                run.summary.update(self.best)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # Finished here, not at exit: a second run in the same process (a resume, a benchmark)
        # would otherwise be logged into this one.
        if trainer.is_global_zero and self.run_id is not None:
            self._run(trainer).finish()

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        # Top level rather than callback state: a resume with another --logger draws no
        # Lightning warning about a missing callback.
        checkpoint[WANDB_KEY] = {"run_id": self.run_id, "best": dict(self.best)}

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        self.best = dict((checkpoint.get(WANDB_KEY) or {}).get("best") or {})

    def _audio(self, tile: torch.Tensor) -> np.ndarray:
        mag = S.unit_to_stft_magnitude(S.model_to_unit(tile[0]), self.spec)
        y = phase.griffin_lim(mag, self.spec, n_iter=self.gl_iters, init="random")
        return np.clip(y.numpy(), -1.0, 1.0)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        run = self._run(trainer)
        result = getattr(pl_module, "last_val_score", {})
        if run is None or not result:
            return
        import wandb

        epoch = trainer.current_epoch
        if self.best_score is None or result["score"] < self.best_score:
            self.best = {
                "best/epoch": epoch,
                "best/val_score": result["score"],
                "best/generator_step": trainer.global_step // 2,
            }
            run.summary.update(self.best)
        if self.every <= 0 or epoch % self.every != 0:
            return
        media: dict[str, Any] = {}
        for direction, (real, fake, rec) in pl_module.val_media.items():
            for i in range(min(self.n_tiles, real.shape[0])):
                key = f"media/{direction}_{i}"
                media[f"{key}/spectrogram"] = wandb.Image(
                    _tiles_to_uint8([real[i], fake[i], rec[i]]),
                    caption="real | translated | reconstructed (low frequencies at the bottom)",
                )
                sr = self.spec.sample_rate
                media[f"{key}/real"] = wandb.Audio(self._audio(real[i]), sample_rate=sr)
                media[f"{key}/translated"] = wandb.Audio(self._audio(fake[i]), sample_rate=sr)
        media["trainer/global_step"] = trainer.global_step
        run.log(media)


class LossProgressBar(TQDMProgressBar):
    """Lightning's bar, plus the latest generator/discriminator losses, read only when it redraws.

    Values logged with ``prog_bar=True`` are turned into Python floats after every batch,
    which on a GPU waits for the step to finish; here they are read every ``refresh_rate``
    batches instead.
    """

    SHOWN = ("loss/g", "loss/d")

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        for key in self.SHOWN:
            value = trainer.callback_metrics.get(key)
            if value is not None:
                items[key] = f"{float(value):.3g}"
        return items


class RunCheckpoint(ModelCheckpoint):
    """ModelCheckpoint whose record (best score, best and last file) survives a resume from a
    run folder that was moved or copied: Lightning keeps the record only when the folder's path
    is unchanged. Here the same file names in the current folder are taken as the run's own;
    when they are not there, the record starts afresh (as Lightning, without its warning)."""

    # Restored instead of the resumed checkpoint's record when set: run_training gives it the
    # record in last.ckpt when an earlier checkpoint of the run is resumed in the run's folder.
    newer_record: dict[str, Any] | None = None

    def _generate_state_key(self, **kwargs: Any) -> str:
        # Plain ModelCheckpoint's key: checkpoints written before this class existed still match.
        return f"ModelCheckpoint{kwargs!r}"

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = self.newer_record or state_dict
        saved_dir = state_dict.get("dirpath", self.dirpath)
        if self.dirpath is None or saved_dir == self.dirpath:
            super().load_state_dict(state_dict)
            return

        def here(path: str | None) -> str:
            return os.path.join(self.dirpath, os.path.basename(path)) if path else ""

        best = here(state_dict.get("best_model_path"))
        if not (best and os.path.isfile(best)):
            return  # nothing of the old record is in this folder
        moved = dict(
            state_dict,
            dirpath=self.dirpath,
            best_model_path=best,
            kth_best_model_path=here(state_dict.get("kth_best_model_path")),
            last_model_path=here(state_dict.get("last_model_path")),
            best_k_models={here(p): v for p, v in state_dict.get("best_k_models", {}).items() if p},
        )
        super().load_state_dict(moved)


class EveryEpochCheckpoint(RunCheckpoint):
    """``epoch-NNN.ckpt`` at the end of every training epoch, none ever deleted (train.py
    ``--keep-epochs``): the validation score is a noisy guide, so keep every epoch to
    evaluate or listen to later."""

    def __init__(self, dirpath: str | Path):
        super().__init__(
            dirpath=dirpath,
            filename="epoch-{epoch:03d}",
            save_top_k=-1,
            save_on_train_epoch_end=True,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        )

    @property
    def state_key(self) -> str:  # unique beside last.ckpt's callback, whose settings it shares
        return "EveryEpochCheckpoint"


class StopAtGeneratorSteps(pl.Callback):
    """Stop after ``n`` generator steps (batches), counted across resumes.

    Used instead of Trainer(max_steps): Lightning counts both optimisers' steps
    (2 per batch), and a max_steps stop skips the validation of the cut epoch,
    while ``should_stop`` still runs it, so best.ckpt exists after a short run.
    """

    def __init__(self, n: int):
        self.n = n

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step // 2 >= self.n:
            trainer.should_stop = True


class ResumedHyperparameters(pl.Callback):
    """Lightning restores each optimiser's lr and betas and each scheduler's base lr from the
    checkpoint; this sets the run's (possibly changed) TrainConfig ones instead, at the point the
    lr schedule has reached, and fused Adam as the run asks."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        c = pl_module.cfg  # model.TrainConfig
        for config in trainer.lr_scheduler_configs:
            sched = config.scheduler
            sched.base_lrs = [c.lr for _ in sched.base_lrs]
            for group, rule in zip(sched.optimizer.param_groups, sched.lr_lambdas):
                group.update(initial_lr=c.lr, lr=c.lr * rule(sched.last_epoch))
                group["betas"] = (c.beta1, c.beta2)
                if "fused" in group and bool(group["fused"]) != c.fused_adam:
                    group["fused"] = True if c.fused_adam else None
                    if c.fused_adam:  # fused kernels keep the step count on the device, as fp32
                        for p in group["params"]:
                            st = sched.optimizer.state.get(p, {})
                            if "step" in st:
                                st["step"] = st["step"].to(p.device, torch.float32)
            sched._last_lr = [g["lr"] for g in sched.optimizer.param_groups]
