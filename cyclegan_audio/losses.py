"""CycleGAN losses as pure functions (no state, no Lightning).

Shapes: discriminator outputs (B, 1, F', T'); tiles (B, 1, F, T) on the [-1, 1] scale.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

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
