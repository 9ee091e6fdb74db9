"""The cycle's noise floor (``--cycle-noise-db``): known answers, gradient, training."""

from __future__ import annotations

import math

import pytest
import torch

from cyclegan_audio import losses
from cyclegan_audio.errors import TrainingError
from cyclegan_audio.model import CycleGan, TrainConfig
from cyclegan_audio.networks import tiny_config
from tests.test_train import fit_spying

FLOOR, CEIL = -100.0, 6.0


def _to_model(db: torch.Tensor) -> torch.Tensor:
    return (db - FLOOR) / (CEIL - FLOOR) * 2 - 1


def _to_db(x: torch.Tensor) -> torch.Tensor:
    return FLOOR + (x + 1) / 2 * (CEIL - FLOOR)


def test_loud_pixels_pass_and_quiet_ones_become_the_noise_floor():
    torch.manual_seed(0)
    db = torch.full((4, 1, 64, 64), -100.0)  # silence...
    db[:, :, 10, :] = -10.0  # ...under one loud partial: the peak
    db[:, :, 20, :] = -30.0  # 20 dB down: far above a floor 60 dB below the peak
    out = _to_db(losses.under_noise_floor(_to_model(db), 60.0, FLOOR, CEIL))
    assert torch.allclose(out[:, :, 10], db[:, :, 10], atol=1e-3)
    assert torch.allclose(out[:, :, 20], db[:, :, 20], atol=0.01)
    silent = out[:, :, 30:]
    # the noise power is exponential around the floor's: its mean is the floor's power
    mean_power_db = 10 * math.log10(float((10 ** (silent / 10)).mean()))
    assert mean_power_db == pytest.approx(-70.0, abs=0.2)
    assert float(silent.std()) > 3.0  # random, not a constant the partner could read back


def test_floor_follows_each_tiles_peak_and_stays_on_the_scale():
    torch.manual_seed(1)
    db = torch.full((2, 1, 32, 32), -100.0)
    db[0, :, 5, :] = 0.0
    db[1, :, 5, :] = -40.0
    out = losses.under_noise_floor(_to_model(db), 30.0, FLOOR, CEIL)
    assert out.shape == db.shape and out.dtype == db.dtype
    assert float(out.min()) >= -1.0 and float(out.max()) <= 1.0
    quiet = _to_db(out)[:, :, 10:]
    p0 = 10 * math.log10(float((10 ** (quiet[0] / 10)).mean()))
    p1 = 10 * math.log10(float((10 ** (quiet[1] / 10)).mean()))
    assert p0 == pytest.approx(-30.0, abs=0.3) and p1 == pytest.approx(-70.0, abs=0.3)


def test_gradient_reaches_loud_pixels_only():
    db = torch.full((1, 1, 16, 16), -100.0)
    db[:, :, 3, :] = -5.0
    x = _to_model(db).requires_grad_(True)
    losses.under_noise_floor(x, 40.0, FLOOR, CEIL).sum().backward()
    assert torch.allclose(x.grad[:, :, 3], torch.ones(1, 1, 16), atol=5e-3)
    assert float(x.grad[:, :, 8:].abs().max()) < 1e-3


def test_negative_noise_floor_is_refused():
    with pytest.raises(TrainingError, match="--cycle-noise-db -10"):
        TrainConfig(cycle_noise_db=-10)


def test_training_reconstructs_from_the_noisy_translation(tmp_path, monkeypatch):
    train = TrainConfig(pool_size=4, cycle_noise_db=50.0)
    seen, model, dm = fit_spying(tmp_path, monkeypatch, "under_noise_floor", train)
    # both cycles per generator step, with the spec's own dB scale
    assert seen and all(a == (50.0, dm.spec.db_floor, dm.spec.db_ceiling) for a in seen)
    assert len(seen) % 2 == 0
    off = CycleGan(dm.spec, tiny_config(), TrainConfig(pool_size=4))
    x = torch.rand(1, 1, 8, 8)
    assert off.heard(x) is x
