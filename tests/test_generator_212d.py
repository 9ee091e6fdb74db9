"""The 2-1-2D generator (generator="212d"): shapes, range, gradients, options, and that a
model trained with it checkpoints and translates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cyclegan_audio.audio import load, save
from cyclegan_audio.checkpoint import load_translator, read_checkpoint
from cyclegan_audio.cli.translate import main as translate_main
from cyclegan_audio.data import TileDataModule
from cyclegan_audio.errors import CheckpointError, TrainingError
from cyclegan_audio.generator_212d import Generator212d, ResidualBlock1d
from cyclegan_audio.model import CycleGan, TrainConfig
from cyclegan_audio.networks import NetworkConfig, build_generator, tiny_config

from .conftest import harmonic_tone
from .test_train import fast_dev_fit, make_prepared


def _g(n_freq: int = 32, **options) -> torch.nn.Module:
    return build_generator(tiny_config(generator="212d", **options), n_freq)


@pytest.mark.parametrize("upsample", ["transpose", "resize"])
@pytest.mark.parametrize(
    ("n_downsampling", "n_freq", "n_frames"), [(2, 32, 48), (2, 64, 16), (1, 16, 20), (3, 24, 32)]
)
def test_output_has_the_input_shape_and_range(upsample, n_downsampling, n_freq, n_frames):
    torch.manual_seed(0)
    g = _g(n_freq, upsample=upsample, n_downsampling=n_downsampling)
    assert isinstance(g, Generator212d)
    x = torch.rand(2, 1, n_freq, n_frames) * 2 - 1
    y = g(x)
    assert y.shape == x.shape
    assert y.abs().max() <= 1.0 and y.std() > 0


def test_gradient_reaches_every_parameter():
    torch.manual_seed(0)
    g = _g(n_blocks=2, dilation_cycle=2, freq_position=True)
    g(torch.rand(2, 1, 32, 24) * 2 - 1).square().mean().backward()
    # no bias sits before an instance norm (it would get a zero gradient), so all are live
    dead = [n for n, p in g.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert dead == []


def test_freq_position_adds_a_channel_to_the_first_convolution():
    for flag in (False, True):
        first = next(m for m in _g(freq_position=flag).modules() if isinstance(m, torch.nn.Conv2d))
        assert first.in_channels == 1 + flag


def test_one_d_blocks_dilate_by_powers_of_two_in_a_cycle():
    def dilations(cycle: int) -> list[int]:
        g = _g(n_blocks=4, dilation_cycle=cycle)
        return [b.block[1].dilation[0] for b in g.modules() if isinstance(b, ResidualBlock1d)]

    assert dilations(0) == [1, 1, 1, 1]
    assert dilations(3) == [1, 2, 4, 1]


def test_wrong_sizes_and_names_fail_with_the_fix():
    with pytest.raises(ValueError, match="needs n_freq"):
        build_generator(tiny_config(generator="212d"))
    with pytest.raises(ValueError, match="divisible by 2\\*\\*n_downsampling = 4"):
        _g(n_freq=30)
    with pytest.raises(ValueError, match="built for 32 frequency bins, got 64"):
        _g(n_freq=32)(torch.zeros(1, 1, 64, 16))
    with pytest.raises(TrainingError, match="unknown generator 'unet'.*'resnet', '212d'"):
        NetworkConfig(generator="unet")


def test_stored_configs_keep_their_generator():
    assert NetworkConfig.from_dict({"ngf": 8, "n_blocks": 3}).generator == "resnet"
    cfg = NetworkConfig(ngf=8, generator="212d")
    assert NetworkConfig.from_dict(cfg.to_dict()) == cfg
    assert type(build_generator(NetworkConfig.from_dict({}), 32)).__name__ == "ResnetGenerator"


@pytest.fixture(scope="module")
def trained_212d(tmp_path_factory):
    """One batch of training (fast_dev_run) with generator="212d", saved: (model, its state
    before training, checkpoint path)."""
    root = tmp_path_factory.mktemp("g212d")
    dm = TileDataModule(make_prepared(root / "data"), batch_size=2, num_workers=0)
    torch.manual_seed(0)
    model = CycleGan(dm.spec, tiny_config(generator="212d"), TrainConfig(pool_size=4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = fast_dev_fit(model, dm, root)
    assert trainer.global_step == 2
    trainer.save_checkpoint(root / "last.ckpt")
    return model, before, root / "last.ckpt"


def test_training_step_runs_with_the_212d_generator(trained_212d):
    model, before, _ = trained_212d
    assert isinstance(model.g_ab, Generator212d) and isinstance(model.g_ba, Generator212d)
    for net in ("g_ab", "g_ba", "d_a", "d_b"):
        assert any(
            not torch.equal(v, before[k])
            for k, v in model.state_dict().items()
            if k.startswith(net + ".")
        ), f"{net} did not change"


def test_a_212d_checkpoint_loads_and_translates(trained_212d, tmp_path):
    model, _, ckpt = trained_212d
    assert read_checkpoint(ckpt).network.generator == "212d"
    g = load_translator(ckpt, "AtoB").generator
    assert isinstance(g, Generator212d)
    # translation loads the weight average when training kept one (the default), else raw
    trained = (model.g_ab_ema or model.g_ab).state_dict()
    assert all(torch.equal(v, trained[k]) for k, v in g.state_dict().items())
    sr = model.spec.sample_rate
    inp = save(tmp_path / "in.wav", harmonic_tone(220.0, 0.6, sr), sr)
    assert translate_main(["--ckpt", str(ckpt), str(inp), "--n-iter", "2"]) == 0
    out = load(tmp_path / "in.AtoB.wav", None)
    assert out.shape[0] == int(0.6 * sr) and np.all(np.isfinite(out))


def test_a_checkpoint_naming_an_unknown_generator_is_refused(trained_212d, tmp_path):
    *_, ckpt = trained_212d
    raw = torch.load(ckpt, map_location="cpu", weights_only=True)
    raw["cyclegan_audio"]["network"]["generator"] = "unet"
    torch.save(raw, tmp_path / "future.ckpt")
    with pytest.raises(CheckpointError, match="unknown generator 'unet'"):
        read_checkpoint(tmp_path / "future.ckpt")
