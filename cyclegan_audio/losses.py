"""CycleGAN losses as pure functions (no state, no Lightning).

Shapes: discriminator outputs (B, 1, F', T'); tiles (B, 1, F, T) on the [-1, 1] scale.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import val_score as V

GAN_MODES = ("lsgan", "vanilla")


def gan_loss(
    pred: torch.Tensor | list[torch.Tensor], target_is_real: bool, mode: str = "lsgan"
) -> torch.Tensor:
    """Adversarial loss of discriminator scores against an all-real or all-fake target.

    "lsgan": mean squared error to 1 (real) or 0 (fake), as the reference CycleGAN;
    "vanilla": binary cross-entropy on logits.
    """
    if isinstance(pred, (list, tuple)):  # several discriminators: the mean of their losses
        return sum(gan_loss(p, target_is_real, mode) for p in pred) / len(pred)
    target = torch.ones_like(pred) if target_is_real else torch.zeros_like(pred)
    if mode == "lsgan":
        return F.mse_loss(pred.float(), target.float())
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(pred.float(), target.float())
    raise ValueError(f"unknown gan mode {mode!r}; use one of {GAN_MODES}")


def discriminator_loss(
    pred_real: torch.Tensor, pred_fake: torch.Tensor, mode: str = "lsgan"
) -> torch.Tensor:
    """0.5 * (loss on real + loss on fake): the reference halves D's loss to slow it down."""
    return 0.5 * (gan_loss(pred_real, True, mode) + gan_loss(pred_fake, False, mode))


def l1(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error (cycle and identity losses), in fp32."""
    return F.l1_loss(x.float(), target.float())


_DB_PER_NEPER_POWER = 10.0 / math.log(10.0)  # 10*log10(p) = this * ln(p)


def under_noise_floor(
    x: torch.Tensor, below_peak_db: float, db_floor: float, db_ceiling: float
) -> torch.Tensor:
    """Tiles (B, 1, F, T) on the [-1, 1] scale (``db_floor`` .. ``db_ceiling`` dB) heard
    through random noise ``below_peak_db`` below each tile's loudest pixel.

    The noise is what a complex Gaussian noise floor adds in power: its power per pixel is
    exponentially distributed around the floor's, and it adds to the tile's power, so a
    pixel well above the floor is unchanged (gradient 1) and one well below it becomes
    noise (gradient ~0). CycleGAN's cycle loss rewards a generator that hides the source's
    details in a faint signal its partner reads back (Chu et al. 2017, "CycleGAN, a Master
    of Steganography"; the defence of adding noise before the reverse generator: Bashkirova
    et al. 2019). In a spectrogram that faint signal is the decay tail a sustained source
    leaves in a struck target, or noise between the harmonics: quiet, yet above the
    floor a listener and the LSD hear. Reconstructing from the noisy translation takes
    that channel away.
    """
    rng = db_ceiling - db_floor
    db = db_floor + (x.float() + 1.0) * (0.5 * rng)
    noise_db = db.detach().amax(dim=(-2, -1), keepdim=True) - below_peak_db
    draw = torch.empty_like(db).exponential_().clamp_min(1e-12)
    log_p = torch.logaddexp(db / _DB_PER_NEPER_POWER, noise_db / _DB_PER_NEPER_POWER + draw.log())
    out_db = (log_p * _DB_PER_NEPER_POWER).clamp(db_floor, db_ceiling)
    return ((out_db - db_floor) / rng * 2.0 - 1.0).to(x.dtype)


PITCH_NEAR_STEPS = 2  # candidates within this many quarter-semitones (50 cents) are one pitch
PITCH_MARGIN = 0.5  # the most salience (in mean saliences) the source's pitch must lead by


def pitch_kept_loss(
    src: torch.Tensor, fake: torch.Tensor, spec, semitones: float = 0.0
) -> torch.Tensor:
    """How far the translation ``fake`` lets another pitch win over the source's (moved by
    ``semitones``), in the source's voiced frames; tiles (B, 1, F, T) on [-1, 1]. 0 for
    ``fake`` = ``src`` and no move.

    Each frame's pitch salience (`val_score.pitch_salience`, divided by the frame's mean
    salience) is read off both tiles. Where the source is voiced (louder than its tile's
    mean, confidence above `val_score.PITCH_MIN_CONFIDENCE`), its pitch leads every pitch
    more than 50 cents away by a gap; in the translation, the best salience within 50 cents
    of that pitch times 2^(semitones/12) must lead the others by the same gap, capped at
    PITCH_MARGIN. The hinge is the shortfall, averaged over voiced frames: a translation
    that keeps the melody costs nothing, whatever its timbre, and one that moves a note or
    buries it in noise pays in proportion. ``src`` is detached: the pitch it asks for is a
    target. With a register move the pitch is read off the source itself and moved on the
    candidate grid (the tracker cannot read the envelope-kept move's tile reliably).
    Frames whose moved pitch leaves the tracker's range ask for nothing.
    """
    _, s_src = V.pitch_salience(src.detach(), spec)
    _, s_fake = V.pitch_salience(fake, spec)
    r_src = s_src / s_src.mean(1, keepdim=True).clamp_min(1e-12)
    r_fake = s_fake / s_fake.mean(1, keepdim=True).clamp_min(1e-12)
    best, idx = r_src.max(1)  # (B, T)
    n_cand = r_src.shape[1]
    want = idx + round(semitones * V.PITCH_STEPS_PER_SEMITONE)
    inside = (want >= 0) & (want < n_cand)
    steps = torch.arange(n_cand, device=src.device)[None, :, None]

    def lead(r: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
        near = (steps - centre.clamp(0, n_cand - 1)[:, None, :]).abs() <= PITCH_NEAR_STEPS
        return r.masked_fill(~near, -math.inf).amax(1) - r.masked_fill(near, -math.inf).amax(1)

    short = F.relu(lead(r_src, idx).clamp(max=PITCH_MARGIN) - lead(r_fake, want))
    voiced = V.voiced_frames(src.detach(), best) * inside
    return torch.where(voiced > 0, short, 0.0).sum() / voiced.sum().clamp_min(1.0)
