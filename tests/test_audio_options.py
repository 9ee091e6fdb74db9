"""Audio-aware network options, the output-level policies and the level-free LSD: known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cyclegan_audio import losses
from cyclegan_audio import metrics as M
from cyclegan_audio.checkpoint import level_offset_db, load_generator, read_checkpoint
from cyclegan_audio.errors import TrainingError
from cyclegan_audio.inference import TranslateOptions, output_gain
from cyclegan_audio.manifest import Manifest, domain_lufs
from cyclegan_audio.networks import (
    RESIDUAL_EDGE,
    LongDiscriminator,
    build_discriminator,
    build_generator,
    tiny_config,
    with_freq_position,
)
from cyclegan_audio.presets import preset
from cyclegan_audio.spec import SpectrogramSpec

from .conftest import harmonic_tone
from .test_train import make_prepared, run_main


def test_freq_position_channel_ramps_over_frequency_only():
    x = torch.zeros(2, 1, 5, 3)
    y = with_freq_position(x)
    assert y.shape == (2, 2, 5, 3)
    assert torch.equal(y[:, :1], x)
    assert torch.allclose(y[0, 1, :, 0], torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]))
    assert torch.equal(y[:, 1, :, 0:1].expand(2, 5, 3), y[:, 1])  # constant over time


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"freq_position": True},
        {"dilation_cycle": 2},
        {"discriminator": "patch+freq"},
        {"discriminator": "patch+long"},
        {"gen_norm": "first"},
        {"gen_norm": "none"},
        {"freq_downsampling": 0},
        {"freq_downsampling": 1, "upsample": "resize"},
    ],
)
def test_network_options_keep_tile_shape(options):
    cfg = tiny_config(n_blocks=2, **options)
    g, d = build_generator(cfg), build_discriminator(cfg, n_freq=32)
    x = torch.rand(2, 1, 32, 48) * 2 - 1
    y = g(x)
    assert y.shape == x.shape
    scores = d(y)
    scores = scores if isinstance(scores, list) else [scores]
    assert all(s.shape[0] == 2 and s.dim() == 4 for s in scores)
    loss = losses.gan_loss(d(y), True)
    loss.backward()
    assert all(p.grad is not None for p in g.parameters())


def test_residual_generator_is_the_identity_plus_what_it_learns():
    """--residual: with its last convolution zero the generator returns its input (inside the
    clamp), so it starts near the identity; the change it learns is added on the pre-tanh
    scale, and the gradient reaches every layer."""
    cfg = tiny_config(n_blocks=2, residual=True, freq_position=True)
    g = build_generator(cfg)
    last = [m for m in g.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    x = torch.rand(2, 1, 32, 48) * 1.9 - 0.95
    x[0, 0, 0, :4] = torch.tensor([-1.0, 1.0, -0.9995, 0.9995])  # clamped to the edge
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(0.5)
        y = g(x)
        last.bias.zero_()
        y0 = g(x)
    edge = RESIDUAL_EDGE
    assert torch.allclose(y0, x.clamp(-edge, edge), atol=1e-5)
    assert torch.allclose(y, torch.tanh(torch.atanh(x.clamp(-edge, edge)) + 0.5), atol=1e-5)
    assert y.shape == x.shape and y.abs().max() < 1
    torch.nn.init.normal_(last.weight, 0.0, 0.02)
    g(x).pow(2).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters())
    assert build_generator(tiny_config()).residual is False
    with pytest.raises(TrainingError, match="resnet generator only"):
        tiny_config(residual=True, generator="212d")


def test_instance_norm_makes_the_generator_blind_to_level_and_contrast():
    """The reference generator (instance norm after every convolution) returns the same tile
    for a quieter, flatter copy of its input: G(a*x + b) = G(x). --gen-norm first and none
    keep the level: the same shift changes their output; none has no norm layer at all."""
    torch.manual_seed(0)
    x = torch.rand(1, 1, 32, 48) * 1.2 - 0.2
    quiet = 0.5 * x - 0.4  # 6 dB less contrast, ~21 dB quieter on the default spec's scale

    def change(norm: str) -> float:
        g = build_generator(tiny_config(n_blocks=2, gen_norm=norm)).eval()
        for m in g.modules():  # weights well away from zero, as after training
            if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d):
                torch.nn.init.normal_(m.weight, 0.0, 0.5)
                torch.nn.init.normal_(m.bias, 0.0, 0.5)
        with torch.no_grad():
            return float((g(quiet) - g(x)).abs().max())

    assert change("instance") < 1e-3
    assert change("first") > 0.05 and change("none") > 0.05
    norms = [m for m in build_generator(tiny_config(gen_norm="none")).modules()]
    assert not any(isinstance(m, torch.nn.InstanceNorm2d) for m in norms)
    with pytest.raises(TrainingError, match="resnet generator only"):
        tiny_config(gen_norm="first", generator="212d")
    with pytest.raises(TrainingError, match="unknown --gen-norm"):
        tiny_config(gen_norm="batch")


def test_freq_downsampling_keeps_the_frequency_rows_it_is_told_to():
    """--freq-downsampling N: the first N stride-2 convolutions halve both axes, the rest
    time only, and the upsampling mirrors them; -1 is the reference (all halve both)."""

    def strides(n: int) -> list[tuple[int, int]]:
        g = build_generator(tiny_config(n_blocks=1, freq_downsampling=n))
        convs = [
            m for m in g.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)
        ]
        return [tuple(m.stride) for m in convs if tuple(m.stride) != (1, 1)]

    assert strides(-1) == [(2, 2)] * 4
    assert strides(0) == [(1, 2)] * 4
    assert strides(1) == [(2, 2), (1, 2), (1, 2), (2, 2)]
    g = build_generator(tiny_config(n_blocks=1, freq_downsampling=0))
    x = torch.rand(1, 1, 30, 48) * 2 - 1  # rows need not be a multiple of 4 any more
    assert g(x).shape == x.shape
    with pytest.raises(TrainingError, match="--freq-downsampling 3"):
        tiny_config(freq_downsampling=3)
    with pytest.raises(TrainingError, match="resnet generator only"):
        tiny_config(freq_downsampling=0, generator="212d")


def test_long_discriminator_sees_127_frames_and_no_more():
    """Each score of the long judge depends on the 63 frames either side of it: the whole
    of a cpu-preset tile from its centre, and nothing further."""
    d = LongDiscriminator(tiny_config(), n_freq=8)
    x = torch.rand(1, 1, 8, 300, requires_grad=True)
    d(x)[0, 0, 0, 150].backward()
    reached = (x.grad[0, 0].abs().sum(0) > 0).nonzero().flatten()
    assert (reached.min().item(), reached.max().item()) == (150 - 63, 150 + 63)
    assert LongDiscriminator.RECEPTIVE_FIELD == 127
    with pytest.raises(ValueError, match="patch\\+long.*n_freq"):
        build_discriminator(tiny_config(discriminator="patch+long"))


def test_freq_position_reaches_the_first_convolution_of_every_network():
    for flag in (False, True):
        cfg = tiny_config(freq_position=flag)
        first = [
            next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
            for net in (build_generator(cfg), build_discriminator(cfg, n_freq=32))
        ]
        assert [c.in_channels for c in first] == [1 + flag, 1 + flag]


def test_residual_blocks_dilate_by_powers_of_two_in_a_cycle():
    from cyclegan_audio.networks import ResnetBlock

    def dilations(cycle: int) -> list[int]:
        g = build_generator(tiny_config(n_blocks=4, dilation_cycle=cycle))
        return [b.block[1].dilation[0] for b in g.modules() if isinstance(b, ResnetBlock)]

    assert dilations(0) == [1, 1, 1, 1]
    assert dilations(3) == [1, 2, 4, 1]


def test_gan_loss_of_several_discriminators_is_their_mean():
    a, b = torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 1, 4)
    assert float(losses.gan_loss([a, b], True)) == pytest.approx(0.5 * (0.0 + 1.0))


def test_lsd_after_best_gain_removes_a_pure_level_error():
    sr = 8000
    y = harmonic_tone(220.0, 1.0, sr) + 0.01 * np.random.default_rng(0).standard_normal(sr)
    spec = SpectrogramSpec(sample_rate=sr)
    quiet = (y * 10 ** (-12 / 20)).astype(np.float32)
    assert M.log_spectral_distance(quiet, y, spec) > 10.0
    lsd, gain_db = M.log_spectral_distance_best_gain(quiet, y, spec)
    assert lsd < 0.05 and gain_db == pytest.approx(12.0, abs=0.051)


def test_output_gain_policies():
    stats = {"source_lufs": -20.0, "output_lufs": -30.0, "peak": 0.01}
    assert output_gain(stats, TranslateOptions(loudness="input")) == pytest.approx(10**0.5)
    domain = TranslateOptions(loudness="domain", level_offset_db=-6.0)
    assert output_gain(stats, domain) == pytest.approx(10 ** (4 / 20))
    # unknown offset (old checkpoint): as "input"
    assert output_gain(stats, TranslateOptions(loudness="domain")) == pytest.approx(10**0.5)
    # "model": undo the input gain, nothing else
    assert output_gain(stats, TranslateOptions(loudness="model"), gain_in=4.0) == 0.25
    # never clips: the peak limit wins
    loud = {"source_lufs": 0.0, "output_lufs": -40.0, "peak": 0.5}
    assert output_gain(loud, TranslateOptions(loudness="input")) == pytest.approx(0.99 / 0.5)
    with pytest.raises(ValueError):
        TranslateOptions(loudness="loud")


def test_domain_lufs_is_the_median_of_measured_files(tmp_path: Path):
    m = Manifest(spec=SpectrogramSpec(), root=tmp_path)
    for i, (dom, lufs) in enumerate(
        [("A", -20.0), ("A", -10.0), ("A", -30.0), ("B", -5.0), ("B", -7.0), ("B", None)]
    ):
        m.files[f"{dom}/{i}"] = {"domain": dom, "status": "ok", "lufs": lufs, "split": "train"}
    m.files["B/bad"] = {"domain": "B", "status": "skipped", "lufs": 50.0, "split": "train"}
    assert domain_lufs(m) == {"A": -20.0, "B": -6.0}
    del m.files["B/3"], m.files["B/4"]
    assert domain_lufs(m) is None  # a domain with nothing measured


def test_prepare_records_each_files_loudness_before_its_gain(tmp_path: Path):
    from cyclegan_audio.audio import save
    from cyclegan_audio.cli.prepare import main as prepare_main
    from cyclegan_audio.loudness import integrated_loudness

    sr = 8000
    for dom, amp in (("A", 0.5), ("B", 0.05)):
        y = harmonic_tone(330.0, 2.5, sr, amp=amp)
        save(tmp_path / dom / "x.wav", y, sr)
    flags = ["--sample-rate", "8000", "--n-fft", "126", "--hop-length", "32", "--tile-frames", "64"]
    out = tmp_path / "prep"
    argv = [
        str(tmp_path / "A"),
        str(tmp_path / "B"),
        "--out",
        str(out),
        "--quiet",
        "--workers",
        "1",
    ]
    assert prepare_main(argv + flags + ["--val-fraction", "0"]) == 0
    levels = domain_lufs(Manifest.load(out / "manifest.json"))
    assert levels is not None
    expect = integrated_loudness(harmonic_tone(330.0, 2.5, sr, amp=0.05), sr)
    assert levels["B"] == pytest.approx(expect, abs=0.1)
    assert levels["B"] - levels["A"] == pytest.approx(-20.0, abs=0.1)  # amplitude 1/10


def test_checkpoint_carries_domain_levels_and_audio_options(tmp_path: Path):
    data = make_prepared(tmp_path / "data")
    m = Manifest.load(data / "manifest.json")
    m.files = {
        "a": {"domain": "A", "status": "ok", "lufs": -20.0, "split": "train"},
        "b": {"domain": "B", "status": "ok", "lufs": -31.0, "split": "train"},
    }
    m.save()
    extra = ["--max-steps", "2", "--freq-position", "--dilation-cycle", "2", "--residual"]
    extra += ["--gen-norm", "first"]
    assert run_main(data, tmp_path / "ck", *extra, "--discriminator", "patch+long") == 0
    info = read_checkpoint(tmp_path / "ck" / "r" / "last.ckpt")
    assert level_offset_db(info.meta, "AtoB") == pytest.approx(-11.0)
    assert level_offset_db(info.meta, "BtoA") == pytest.approx(11.0)
    assert info.network.freq_position and info.network.dilation_cycle == 2
    assert info.network.discriminator == "patch+long" and info.network.residual
    assert info.network.gen_norm == "first"
    _, g = load_generator(tmp_path / "ck" / "r" / "last.ckpt", "AtoB")
    assert g.residual  # translation rebuilds the residual generator it trained
    assert not isinstance(g.model[2], torch.nn.InstanceNorm2d)  # ... without its first norm
    assert level_offset_db({}, "AtoB") is None


def test_cpu_preset_is_the_measured_small_recipe():
    p = preset("cpu")
    assert SpectrogramSpec(**p["spec"]).tile_shape == (128, 128)
    assert (p["net"]["ngf"], p["net"]["ndf"], p["net"]["n_blocks"]) == (8, 8, 6)
    assert (p["train"]["n_epochs"], p["train"]["n_epochs_decay"]) == (10, 10)
    assert (p["train"]["lambda_cycle"], p["train"]["lambda_pitch"]) == (5.0, 1.0)
    assert "ema_decay" not in p["train"]  # off: its pick lost on violin
    p["net"]["ngf"] = 99  # a copy: the preset itself is untouched
    assert preset("cpu")["net"]["ngf"] == 8
    with pytest.raises(KeyError):
        preset("tpu")


def test_cpu_voice_preset_moves_the_register_on_log_tiles():
    from cyclegan_audio.cli import train as train_cli

    p = preset("cpu-voice")
    spec = SpectrogramSpec(**p["spec"])
    assert spec.freq_scale == "log" and spec.tile_shape == (256, 128)
    cfg = train_cli.parse(["--preset", "cpu-voice"])
    assert cfg.measure_register and cfg.net.register_envelope == 200.0
    assert (cfg.net.ngf, cfg.net.n_blocks, cfg.train.n_epochs) == (8, 3, 10)
    assert cfg.net.window_tiles == 2 and train_cli.parse(["--preset", "cpu"]).net.window_tiles == 1
    assert not train_cli.parse(["--preset", "cpu"]).measure_register
    assert not train_cli.parse(["--preset", "cpu-voice", "--no-measure-register"]).measure_register
    written = train_cli.parse(["--preset", "cpu-voice", "--register-shift", "5"])
    assert written.net.register_shift == 5.0 and "net.register_shift" in written.given


def test_presets_fill_what_the_command_line_leaves_open(tmp_path: Path):
    from cyclegan_audio.cli import train as train_cli
    from cyclegan_audio.cli.prepare import main as prepare_main

    cfg = train_cli.parse(["--preset", "cpu", "--ngf", "16"])
    assert (cfg.net.ngf, cfg.net.ndf, cfg.net.n_blocks) == (16, 8, 6)  # the written flag wins
    assert (cfg.train.n_epochs, cfg.train.n_epochs_decay) == (10, 10)
    assert (cfg.train.lambda_cycle, cfg.train.lambda_pitch) == (5.0, 1.0)
    written = train_cli.parse(["--preset", "cpu", "--lambda-pitch", "0"]).train
    assert (written.lambda_cycle, written.lambda_pitch) == (5.0, 0.0)
    assert cfg.train.ema_decay == 0.0  # off: its pick lost on violin
    assert train_cli.parse(["--preset", "cpu", "--ema-decay", "0.999"]).train.ema_decay == 0.999
    assert "net.ndf" in cfg.given and "net.ngf" in cfg.given
    plain = train_cli.parse([])
    assert plain.net.ngf == 64 and "net.ngf" not in plain.given

    sr = 22050
    for dom in ("A", "B"):
        save_path = tmp_path / dom / "x.wav"
        from cyclegan_audio.audio import save

        save(save_path, harmonic_tone(330.0, 2.5, sr), sr)
    out = tmp_path / "prep"
    argv = [str(tmp_path / "A"), str(tmp_path / "B"), "--out", str(out), "--quiet"]
    assert prepare_main(argv + ["--workers", "1", "--preset", "cpu", "--tile-frames", "64"]) == 0
    spec = Manifest.load(out / "manifest.json").spec
    assert (spec.sample_rate, spec.n_fft, spec.hop_length, spec.tile_frames) == (11025, 254, 86, 64)


def test_a_stored_config_without_the_audio_options_rebuilds_the_reference_networks():
    from cyclegan_audio.networks import NetworkConfig

    old = {"ngf": 8, "ndf": 8, "n_blocks": 3, "n_layers_d": 3, "upsample": "transpose"}
    cfg = NetworkConfig.from_dict(old)
    assert (cfg.freq_position, cfg.dilation_cycle, cfg.discriminator) == (False, 0, "patch")
    assert NetworkConfig.from_dict(NetworkConfig().to_dict()) == NetworkConfig()
