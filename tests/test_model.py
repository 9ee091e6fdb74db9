"""Pieces of training with known answers: pool, losses, lr rule (the validation score:
test_val_score.py)."""

from __future__ import annotations

import pytest
import torch

from cyclegan_audio import losses
from cyclegan_audio.image_pool import ImagePool
from cyclegan_audio.model import lr_factor


def test_pool_fills_then_swaps_and_round_trips():
    pool = ImagePool(3, seed=1)
    batches = [torch.full((1, 1, 2, 2), float(i)) for i in range(20)]
    for b in batches[:3]:
        assert torch.equal(pool.query(b), b)  # while filling: returns the fresh fake
    assert len(pool) == 3
    clone = ImagePool(3)
    clone.load_state_dict(pool.state_dict())
    outs = [float(pool.query(b)[0, 0, 0, 0]) for b in batches[3:]]
    assert outs == [float(clone.query(b)[0, 0, 0, 0]) for b in batches[3:]]
    assert any(o < i + 3 for i, o in enumerate(outs))  # some historical fakes come back
    assert torch.equal(ImagePool(0).query(batches[5]), batches[5])


def test_lsgan_and_discriminator_losses():
    ones, zeros = torch.ones(2, 1, 3, 3), torch.zeros(2, 1, 3, 3)
    assert float(losses.gan_loss(ones, True)) == 0.0
    assert float(losses.gan_loss(ones, False)) == 1.0
    assert float(losses.discriminator_loss(ones, zeros)) == 0.0
    assert float(losses.discriminator_loss(zeros, ones)) == 1.0
    assert float(losses.l1(ones, zeros)) == 1.0


def test_lr_rule_matches_reference_linear_policy():
    assert [lr_factor(e, 100, 100) for e in (0, 99)] == [1.0, 1.0]
    assert lr_factor(100, 100, 100) == pytest.approx(1 - 1 / 101)
    assert lr_factor(199, 100, 100) == pytest.approx(1 - 100 / 101)
