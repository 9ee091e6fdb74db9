"""Exponential moving average (EMA) of the generators' weights.

GAN weights wander from step to step; their running average sounds steadier and is
what validation scores and checkpoints hand to translate (the raw weights and the
optimiser states stay in the checkpoint for resuming). After the update that follows
``step`` earlier generator steps:

    ema <- d * ema + (1 - d) * raw,    d = min(decay, (1 + step) / (10 + step))

The warm-up term keeps a short run from being dominated by the random initial weights
(d = 0.1 at the first step, 0.5 at step 8, 0.9 at step 80). Buffers are copied, not
averaged (the reference generator's instance norms have none).

The same slot can hold an average over epochs instead (stochastic weight averaging, Izmailov
et al. 2018): the raw weights until the last N epochs, then the mean of the raw weights at the
ends of those epochs. The k-th snapshot (k = 0, 1, ...) enters with decay k / (k + 1), so
after it the slot is the plain mean of the k + 1 snapshots.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

# state_dict prefixes: raw generator -> its EMA (sibling modules of the LightningModule)
EMA_PREFIXES = {"g_ab.": "g_ab_ema.", "g_ba.": "g_ba_ema."}


def has_average(state: dict[str, torch.Tensor]) -> bool:
    """Whether a CycleGan state_dict holds generator averages (it was trained with EMA)."""
    return any(k.startswith(tuple(EMA_PREFIXES.values())) for k in state)


def ema_copy(net: nn.Module) -> nn.Module:
    """A frozen copy of ``net`` (no gradients, in no optimiser) to hold its average."""
    return copy.deepcopy(net).requires_grad_(False)


def decay_at(step: int, decay: float) -> float:
    """The decay of the update after ``step`` earlier updates (warm-up, see the module doc)."""
    return min(decay, (1.0 + step) / (10.0 + step))


def averaged_epoch(epoch: int, max_epochs: int | None, n: int) -> int | None:
    """Which of the last ``n`` of ``max_epochs`` epochs ``epoch`` (0-based) is (0 = the first
    averaged), or None when it comes before them (or averaging over epochs is off)."""
    if n <= 0 or max_epochs is None or max_epochs < 0:
        return None
    k = epoch - max(0, max_epochs - n)
    return k if k >= 0 else None


def snapshot_decay(k: int) -> float:
    """The decay that adds the ``k``-th snapshot (0-based) to a plain mean of the k before it."""
    return k / (k + 1.0)


@torch.no_grad()
def update(ema: nn.Module, net: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * net, parameter by parameter (one fused call per
    list on a GPU, no host sync); buffers copied."""
    ema_params, params = list(ema.parameters()), list(net.parameters())
    torch._foreach_lerp_(ema_params, [p.detach() for p in params], 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), net.buffers()):
        b_ema.copy_(b)


def complete_state_dict(state: dict[str, torch.Tensor], enabled: bool) -> dict[str, torch.Tensor]:
    """``state`` (a CycleGan state_dict, changed in place and returned) made to fit a model with
    EMA ``enabled``: a checkpoint written without EMA gets its raw generator weights as the
    EMA; one written with EMA loses the EMA entries when EMA is off."""
    has = {ema: any(k.startswith(ema) for k in state) for ema in EMA_PREFIXES.values()}  # per net
    for raw, ema in EMA_PREFIXES.items():
        if enabled and not has[ema]:
            for k in [k for k in state if k.startswith(raw)]:
                state[ema + k[len(raw) :]] = state[k].clone()
        elif not enabled and has[ema]:
            for k in [k for k in state if k.startswith(ema)]:
                del state[k]
    return state
