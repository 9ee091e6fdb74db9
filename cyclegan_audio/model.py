"""The CycleGAN LightningModule: wiring only (networks, losses and the pool live elsewhere).

``g_ab`` translates A -> B, ``g_ba`` B -> A; ``d_a`` judges A tiles, ``d_b`` B tiles.
Manual optimisation, as the reference: each batch first steps both generators
(discriminators frozen), then both discriminators on pooled fakes. Lightning's
``global_step`` therefore advances by 2 per batch; ``generator_steps`` is the
number of batches trained. With ``ema_decay`` > 0, ``g_ab_ema``/``g_ba_ema`` hold the
moving average of the generators (ema.py), updated after each generator step; with
``average_epochs`` N > 0 they hold the raw weights until the last N epochs and then the mean of
the raw weights at the ends of those epochs (ema.snapshot_decay). Validation translates with
them and translate loads them from the checkpoint.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytorch_lightning as pl
import torch

from . import ema, losses, register, val_score
from .checkpoint import META_KEY, make_meta, read_meta
from .data import undo_distributed_padding
from .errors import CheckpointError, TrainingError
from .image_pool import ImagePool, gather_to_rank_zero
from .networks import NetworkConfig, build_discriminator, build_generator
from .spec import SpectrogramSpec

POOL_KEY = "image_pools"
NEVER = 2**62  # "no non-finite loss" in the cross-rank MIN of first bad steps (above any step)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation hyper-parameters; defaults are the reference CycleGAN's."""

    # The train command's flags come from these fields (cli/config_args.py).
    gan_mode: str = field(
        default="lsgan",
        metadata={
            "help": "adversarial loss: least squares or cross-entropy",
            "choices": ("lsgan", "vanilla"),
        },
    )
    lambda_cycle: float = field(default=10.0, metadata={"help": "cycle-consistency weight"})
    lambda_identity: float = field(
        default=0.5, metadata={"help": "identity weight as a fraction of --lambda-cycle"}
    )
    lambda_pitch: float = field(
        default=0.0,
        metadata={
            "help": "weight of the pitch term: each translation must keep its source's pitch "
            "in the source's voiced frames (losses.pitch_kept_loss); 0 = off"
        },
    )
    cycle_noise_db: float = field(
        default=0.0,
        metadata={
            "help": "the cycle reconstructs from each translation heard through random noise "
            "this many dB below the tile's peak, so the generators cannot hide the source in "
            "faint sound (losses.under_noise_floor); 0 = off"
        },
    )
    pool_size: int = field(
        default=50, metadata={"help": "past fakes the discriminators also see; 0 = off"}
    )
    lr: float = field(default=2e-4, metadata={"help": "Adam learning rate, all networks"})
    beta1: float = field(default=0.5, metadata={"help": "Adam beta1"})
    beta2: float = field(default=0.999, metadata={"help": "Adam beta2"})
    n_epochs: int = field(default=100, metadata={"help": "epochs at the initial lr"})
    n_epochs_decay: int = field(default=100, metadata={"help": "epochs of linear lr decay to 0"})
    fused_adam: bool = field(
        default=False,
        metadata={"help": "fused Adam kernels (train's default: on with GPUs)", "negatable": True},
    )
    compile: bool = field(
        default=False,
        metadata={"help": "torch.compile the four networks (in place: state_dict keys unchanged)"},
    )
    seed: int = field(default=0, metadata={"help": "seed of weights, data order and image pools"})
    # Off by default: it cut the epoch-to-epoch LSD swing to about a quarter on every
    # development set but did not lower LSD on every set (docs/validation-score.md).
    ema_decay: float = field(
        default=0.0,
        metadata={
            "help": "EMA of the generator weights (ema.py), validated and translated; 0 = off"
        },
    )

    # Off by default: see docs/quality.md, "The last epochs averaged (session 20)".
    average_epochs: int = field(
        default=0,
        metadata={
            "help": "validate and translate the mean of the generator weights at the ends of "
            "the last N epochs (stochastic weight averaging; raw weights before them); 0 = off"
        },
    )

    def __post_init__(self) -> None:
        if self.average_epochs < 0:
            raise TrainingError(
                f"--average-epochs {self.average_epochs}: a number of epochs, 0 or more (0 = off)"
            )
        if self.average_epochs and self.ema_decay:
            raise TrainingError(
                "--average-epochs and --ema-decay are two ways to average the generator "
                "weights: give one of them"
            )
        if self.cycle_noise_db < 0:
            raise TrainingError(
                f"--cycle-noise-db {self.cycle_noise_db:g}: dB below the peak, 0 or more (0 = off)"
            )
        if self.lambda_pitch < 0:
            raise TrainingError(f"--lambda-pitch {self.lambda_pitch:g}: a weight, 0 or more")
        if not 0.0 <= self.ema_decay < 1.0:
            raise TrainingError(f"ema_decay must be in [0, 1) (0 = off), got {self.ema_decay}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def lr_factor(epoch: int, n_epochs: int, n_epochs_decay: int) -> float:
    """The reference 'linear' policy: 1 for n_epochs epochs, then linearly towards 0."""
    return 1.0 - max(0, epoch + 1 - n_epochs) / float(n_epochs_decay + 1)


class CycleGan(pl.LightningModule):
    def __init__(
        self,
        spec: SpectrogramSpec | dict,
        net: NetworkConfig | dict | None = None,
        train: TrainConfig | dict | None = None,
        input_peak_db: float | None = None,
        domain_lufs: dict[str, float] | None = None,
    ):
        """``input_peak_db``: the level prepare brought each file's sample peak to (manifest
        settings); stored in the checkpoint so translate feeds the generator audio at that level."""
        super().__init__()
        self.input_peak_db = input_peak_db
        self.domain_lufs = domain_lufs  # manifest.domain_lufs: translate's "domain" level policy
        self.spec = spec if isinstance(spec, SpectrogramSpec) else SpectrogramSpec.from_dict(spec)
        self.net_cfg = net if isinstance(net, NetworkConfig) else NetworkConfig.from_dict(net or {})
        self.cfg = train if isinstance(train, TrainConfig) else TrainConfig.from_dict(train or {})
        self.save_hyperparameters(
            {
                "spec": self.spec.to_dict(),
                "net": self.net_cfg.to_dict(),
                "train": self.cfg.to_dict(),
                "input_peak_db": input_peak_db,
                "domain_lufs": domain_lufs,
            }
        )
        self.automatic_optimization = False
        self.g_ab = build_generator(self.net_cfg, self.spec.n_freq)
        self.g_ba = build_generator(self.net_cfg, self.spec.n_freq)
        # Register moves before each generator (nn.Identity when off): no weights, no state.
        self.warp_ab = register.direction_warp(self.spec, self.net_cfg, "AtoB")
        self.warp_ba = register.direction_warp(self.spec, self.net_cfg, "BtoA")
        self.d_a = build_discriminator(self.net_cfg, self.spec.n_freq)
        self.d_b = build_discriminator(self.net_cfg, self.spec.n_freq)
        # Averaged generators (before compile: a plain copy); None with neither average.
        on = self.cfg.ema_decay > 0 or self.cfg.average_epochs > 0
        self.g_ab_ema = ema.ema_copy(self.g_ab) if on else None
        self.g_ba_ema = ema.ema_copy(self.g_ba) if on else None
        self.use_ema = on  # validation and score_tiles translate with the EMA (False: raw)
        self.pool_a = ImagePool(self.cfg.pool_size, seed=self.cfg.seed)  # fakes of A, for d_a
        self.pool_b = ImagePool(self.cfg.pool_size, seed=self.cfg.seed + 1)
        # In a list so its fixed weights stay out of state_dict and out of DDP.
        self._val_features = [val_score.RandomFeatures()]
        self._val_stats: dict[int, list[dict[str, torch.Tensor]]] = {0: [], 1: []}
        self.val_media: dict[str, tuple[torch.Tensor, ...]] = {}  # read by callbacks
        self.last_val_score: dict[str, float] = {}
        if self.cfg.compile:
            for net_ in (self.g_ab, self.g_ba, self.d_a, self.d_b):
                net_.compile()
        # Non-finite losses are noted on the device and read by the host every
        # `finite_check_every` steps (see `note_finite`): reading a GPU value stalls the
        # host until the GPU catches up, which every step would cost throughput.
        self.finite_check_every = 1
        self._first_bad: dict[str, torch.Tensor] = {}

    # ---- bookkeeping ----
    @property
    def generator_steps(self) -> int:
        """Batches trained (each = one generator and one discriminator optimiser step)."""
        return self.global_step // 2

    def configure_optimizers(self):
        c = self.cfg
        kw = dict(lr=c.lr, betas=(c.beta1, c.beta2))
        if c.fused_adam:
            kw["fused"] = True
        opt_g = torch.optim.Adam([*self.g_ab.parameters(), *self.g_ba.parameters()], **kw)
        opt_d = torch.optim.Adam([*self.d_a.parameters(), *self.d_b.parameters()], **kw)

        def rule(epoch: int) -> float:
            return lr_factor(epoch, c.n_epochs, c.n_epochs_decay)

        scheds = [torch.optim.lr_scheduler.LambdaLR(o, rule) for o in (opt_g, opt_d)]
        return [opt_g, opt_d], scheds

    # ---- training ----
    def note_finite(self, name: str, value: torch.Tensor) -> None:
        """Remember the first generator step at which ``value`` was non-finite (no host sync)."""
        step = self.generator_steps
        bad = ~torch.isfinite(value.detach())
        first = self._first_bad.get(name)
        if first is None:
            first = torch.full((), -1, dtype=torch.long, device=value.device)
        here = torch.full((), step, dtype=torch.long, device=value.device)
        self._first_bad[name] = torch.where(bad & (first < 0), here, first)
        if (step + 1) % self.finite_check_every == 0:
            self.check_finite()

    def check_finite(self) -> None:
        """Raise TrainingError if a loss noted since the start was non-finite (one host read).

        Under DDP the first bad step is agreed across ranks (every rank calls this at the same
        steps), so all raise together: one rank raising alone would leave the others waiting in
        their next collective."""
        if not self._first_bad:
            return
        names = list(self._first_bad)
        firsts = torch.stack([self._first_bad[n] for n in names])
        if self._trainer is not None and self.trainer.world_size > 1:
            marked = torch.where(firsts < 0, torch.full_like(firsts, NEVER), firsts)
            earliest = self.trainer.strategy.reduce(marked, reduce_op="min")
            firsts = torch.where(earliest >= NEVER, torch.full_like(firsts, -1), earliest)
        firsts = firsts.tolist()
        bad = [(step, n) for step, n in zip(firsts, names) if step >= 0]
        if bad:
            step, name = min(bad)
            raise TrainingError(
                f"{name} became nan or inf at generator step {step} (epoch "
                f"{self.current_epoch}); stopped without saving. The last good checkpoint is "
                "untouched: resume from it with a lower --lr or --precision 32"
            )

    def translate_ab(self, x: torch.Tensor) -> torch.Tensor:
        """A -> B in training: the register move (if any), then g_ab."""
        return self.g_ab(self.warp_ab(x))

    def translate_ba(self, x: torch.Tensor) -> torch.Tensor:
        return self.g_ba(self.warp_ba(x))

    def heard(self, fake: torch.Tensor) -> torch.Tensor:
        """The translation the cycle reconstructs from: through the noise floor when
        ``cycle_noise_db`` is set (`losses.under_noise_floor`), else as it is."""
        if self.cfg.cycle_noise_db <= 0:
            return fake
        s = self.spec
        return losses.under_noise_floor(fake, self.cfg.cycle_noise_db, s.db_floor, s.db_ceiling)

    def generator_loss(
        self, real_a: torch.Tensor, real_b: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """(B, 1, F, T) x2 -> (total loss, {log name: weighted term}, fake_a, fake_b)."""
        c = self.cfg
        ab, ba = self.translate_ab, self.translate_ba
        fake_b = ab(real_a)
        rec_a = ba(self.heard(fake_b))
        fake_a = ba(real_b)
        rec_b = ab(self.heard(fake_a))
        terms = {
            "loss/g_ab_gan": losses.gan_loss(self.d_b(fake_b), True, c.gan_mode),
            "loss/g_ba_gan": losses.gan_loss(self.d_a(fake_a), True, c.gan_mode),
            "loss/cycle_a": losses.l1(rec_a, real_a) * c.lambda_cycle,
            "loss/cycle_b": losses.l1(rec_b, real_b) * c.lambda_cycle,
        }
        if c.lambda_identity > 0:
            w = c.lambda_cycle * c.lambda_identity
            # The networks themselves, without the register move: g_ab keeps B as B.
            terms["loss/idt_a"] = losses.l1(self.g_ab(real_b), real_b) * w
            terms["loss/idt_b"] = losses.l1(self.g_ba(real_a), real_a) * w
        if c.lambda_pitch > 0:
            # The pitch each translation should have: its input's, moved by the register shift.
            s, w, shift = self.spec, c.lambda_pitch, self.net_cfg.register_shift
            terms["loss/pitch_ab"] = losses.pitch_kept_loss(real_a, fake_b, s, shift) * w
            terms["loss/pitch_ba"] = losses.pitch_kept_loss(real_b, fake_a, s, -shift) * w
        return sum(terms.values()), terms, fake_a, fake_b

    def discriminator_loss(
        self, real_a: torch.Tensor, real_b: torch.Tensor, fake_a: torch.Tensor, fake_b: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Both discriminators on real tiles and on fakes drawn from the history pools."""
        mode = self.cfg.gan_mode
        fake_b_old = self.pool_b.query(fake_b.detach())
        fake_a_old = self.pool_a.query(fake_a.detach())
        loss_d_a = losses.discriminator_loss(self.d_a(real_a), self.d_a(fake_a_old), mode)
        loss_d_b = losses.discriminator_loss(self.d_b(real_b), self.d_b(fake_b_old), mode)
        return loss_d_a + loss_d_b, {"loss/d_a": loss_d_a, "loss/d_b": loss_d_b}

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        real_a, real_b = batch["a"], batch["b"]
        opt_g, opt_d = self.optimizers()

        # Generators, with the discriminators frozen (toggle_optimizer sets requires_grad).
        self.toggle_optimizer(opt_g)
        loss_g, logs, fake_a, fake_b = self.generator_loss(real_a, real_b)
        self.note_finite("generator loss", loss_g)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        decay = self._average_decay(batch_idx)
        if decay is not None:
            ema.update(self.g_ab_ema, self.g_ab, decay)
            ema.update(self.g_ba_ema, self.g_ba, decay)

        self.toggle_optimizer(opt_d)
        loss_d, logs_d = self.discriminator_loss(real_a, real_b, fake_a, fake_b)
        self.note_finite("discriminator loss", loss_d)
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss_d)
        opt_d.step()
        self.untoggle_optimizer(opt_d)

        logs.update(logs_d)
        bs = real_a.shape[0]
        self.log_dict({k: v.detach() for k, v in logs.items()}, batch_size=bs)
        # Not prog_bar=True: Lightning turns those into Python floats after every batch (a GPU
        # sync each step); callbacks.LossProgressBar reads them only when it redraws.
        self.log("loss/g", loss_g.detach(), batch_size=bs)
        self.log("loss/d", loss_d.detach(), batch_size=bs)

    def _average_decay(self, batch_idx: int) -> float | None:
        """The decay of the averaged generators' update after this generator step; None: no
        update. EMA: every step. Epoch averaging: a copy of the raw weights at every step before
        the averaged epochs, then one snapshot at the end of each of them."""
        if self.g_ab_ema is None:
            return None
        if self.cfg.ema_decay > 0:
            return ema.decay_at(self.generator_steps, self.cfg.ema_decay)
        k = ema.averaged_epoch(self.current_epoch, self.trainer.max_epochs, self.cfg.average_epochs)
        if k is None:
            return 0.0
        return ema.snapshot_decay(k) if batch_idx + 1 == self.trainer.num_training_batches else None

    def on_train_epoch_end(self) -> None:
        self.check_finite()  # at least once an epoch (and before any checkpoint, see below)
        # Manual optimisation: Lightning does not step schedulers for us. One step per epoch.
        opt_g, opt_d = self.optimizers()
        self.log("lr/g", opt_g.param_groups[0]["lr"], sync_dist=True)
        self.log("lr/d", opt_d.param_groups[0]["lr"], sync_dist=True)
        for sched in self.lr_schedulers():
            sched.step()

    # ---- validation: translate the fixed tiles both ways, score in a fixed feature space ----
    def on_validation_epoch_start(self) -> None:
        self._val_features[0] = self._val_features[0].to(self.device)
        self._val_stats = {0: [], 1: []}
        self.val_media = {}

    def _direction(self, real: torch.Tensor, a_to_b: bool):
        """real -> fake -> rec one way (EMA generators when there are and ``use_ema``), and the
        tiles' validation statistics."""
        g_ab, g_ba = (self.g_ab_ema, self.g_ba_ema) if self.use_ema else (self.g_ab, self.g_ba)
        ab, ba = (g_ab, self.warp_ab), (g_ba, self.warp_ba)
        (g_fwd, w_fwd), (g_back, w_back) = (ab, ba) if a_to_b else (ba, ab)
        fake = g_fwd(w_fwd(real))
        rec = g_back(w_back(fake))
        stats = val_score.direction_stats(real, fake, rec, self._val_features[0], self.spec)
        return stats, fake, rec

    def validation_step(self, batch: torch.Tensor, batch_idx: int, dataloader_idx: int = 0) -> None:
        stats, fake, rec = self._direction(batch, a_to_b=dataloader_idx == 0)
        self._val_stats[dataloader_idx].append(stats)
        if batch_idx == 0:
            name = "AtoB" if dataloader_idx == 0 else "BtoA"
            self.val_media[name] = tuple(t.detach().float().cpu() for t in (batch, fake, rec))

    @torch.no_grad()
    def score_tiles(
        self, real_a: torch.Tensor, real_b: torch.Tensor, batch_size: int = 8
    ) -> dict[str, float]:
        """The validation score (and its parts) of tiles (N, 1, F, T) of each domain, computed
        as validation does, outside a Trainer (re-scoring saved checkpoints)."""
        self._val_features[0] = self._val_features[0].to(self.device)
        stats = []
        for real, a_to_b in ((real_a, True), (real_b, False)):
            parts = [
                self._direction(real[i : i + batch_size].to(self.device), a_to_b)[0]
                for i in range(0, real.shape[0], batch_size)
            ]
            stats.append({k: torch.cat([p[k] for p in parts]).float().cpu() for k in parts[0]})
        return val_score.score(*stats)

    def _gathered(self, idx: int) -> dict[str, torch.Tensor]:
        parts = self._val_stats[idx]
        cat = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        if self.trainer.world_size > 1:  # each val tile once, not the sampler's padding too
            loaders = self.trainer.val_dataloaders
            n = len((loaders[idx] if isinstance(loaders, (list, tuple)) else loaders).dataset)
            cat = {k: undo_distributed_padding(v, n) for k, v in self.all_gather(cat).items()}
        return {k: v.float().cpu() for k, v in cat.items()}

    def on_validation_epoch_end(self) -> None:
        if not self._val_stats[0] or not self._val_stats[1]:
            return
        result = val_score.score(self._gathered(0), self._gathered(1))
        self.last_val_score = result
        # Every rank computed the same numbers from the gathered stats; sync_dist is a no-op mean.
        self.log("val/score", result["score"], prog_bar=True, sync_dist=True)
        self.log_dict({f"val/{k}": v for k, v in result.items() if k != "score"}, sync_dist=True)

    # ---- checkpoint: the spec for downstream, the pools for resume ----
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.check_finite()  # never write weights that a non-finite loss has reached
        checkpoint[META_KEY] = make_meta(
            self.spec,
            self.net_cfg,
            hparams=self.cfg.to_dict(),
            generator_steps=self.generator_steps,
            val_score=self.last_val_score,
            input_peak_db=self.input_peak_db,
            domain_lufs=self.domain_lufs,
        )
        # Every rank's pools (a collective: Lightning builds the checkpoint on every rank).
        mine = {"a": self.pool_a.state_dict(), "b": self.pool_b.state_dict()}
        checkpoint[POOL_KEY] = {"ranks": gather_to_rank_zero(mine)}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        check_resume_compatible(checkpoint, self.spec, self.net_cfg)
        # Called before Lightning loads the weights: a checkpoint without EMA starts it here.
        ema.complete_state_dict(checkpoint.get("state_dict", {}), self.g_ab_ema is not None)
        pools = checkpoint.get(POOL_KEY)
        if pools:
            # Each rank its own; checkpoints before per-rank pools hold rank 0's only. With more
            # ranks than saved pools, the extra ones start from a copy, on their own random stream.
            saved = pools.get("ranks") or [pools]
            mine = saved[self.global_rank % len(saved)]
            self.pool_a.load_state_dict(mine["a"])
            self.pool_b.load_state_dict(mine["b"])
            if self.global_rank >= len(saved):
                self._seed_pools()

    def setup(self, stage: str) -> None:
        self._seed_pools()

    def _seed_pools(self) -> None:
        """Each rank's pools their own random stream (rank 0's as in a single-process run)."""
        seed = self.cfg.seed + 2 * self.global_rank
        self.pool_a.reseed(seed)
        self.pool_b.reseed(seed + 1)


def check_resume_compatible(
    checkpoint: dict[str, Any], spec: SpectrogramSpec, net: NetworkConfig, path: str = "checkpoint"
) -> None:
    """Refuse a checkpoint of an unknown format, another spec or other network sizes."""
    ckpt_spec, ckpt_net, _ = read_meta(checkpoint, path)
    diff = ckpt_spec.diff(spec)
    if diff:
        raise CheckpointError(
            f"{path}: its spectrogram spec differs from the data's manifest (checkpoint != data: "
            + "; ".join(diff)
            + "); resume only on data prepared with the same spec"
        )
    if ckpt_net != net:
        fields = [
            f"{f.name}: checkpoint {getattr(ckpt_net, f.name)!r} != now {getattr(net, f.name)!r}"
            for f in dataclasses.fields(net)
            if getattr(ckpt_net, f.name) != getattr(net, f.name)
        ]
        raise CheckpointError(f"{path}: network sizes differ ({'; '.join(fields)})")
