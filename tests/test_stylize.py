"""Style transfer / texture synthesis: Gram maths, optimisation, lengths, CLI errors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from cyclegan_audio.checkpoint import META_KEY, make_meta
from cyclegan_audio.cli.stylize import main
from cyclegan_audio.errors import AudioError, CycleGanAudioError
from cyclegan_audio.manifest import Manifest
from cyclegan_audio.networks import NetworkConfig
from cyclegan_audio.style_transfer import (
    StyleTransferConfig,
    constraint_loss,
    features,
    from_log,
    gram,
    optimise_log_spectrogram,
    run_style_transfer,
    stylize,
    to_log,
)
from tests.conftest import harmonic_tone, sine

TINY = dict(n_filters=16, kernel_width=5, n_iter=4, phase_iters=4)


def test_gram_of_known_feature_map():
    feats = torch.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]])
    # F Fᵀ = [[1+4+9, 2], [2, 1]], divided by 3 positions
    expected = torch.tensor([[14.0, 2.0], [2.0, 1.0]]) / 3.0
    assert torch.allclose(gram(feats), expected)


def test_gram_is_length_normalised():
    feats = torch.rand(4, 10)
    assert torch.allclose(gram(torch.cat([feats, feats], 1)), gram(feats), atol=1e-6)


def test_features_of_a_known_kernel():
    # one filter that reads bin 1 at the centre tap: output = ReLU(row 1)
    log_mag = torch.tensor([[5.0, 5.0, 5.0], [1.0, -2.0, 3.0]])
    w = torch.zeros(1, 2, 3)
    w[0, 1, 1] = 1.0
    assert torch.equal(features(log_mag, w), torch.tensor([[1.0, 0.0, 3.0]]))


def test_log_scale_round_trip():
    mag = torch.tensor([0.0, 1e-4, 0.01, 1.0, 2.0])
    assert torch.allclose(from_log(to_log(mag)), mag, rtol=1e-4, atol=1e-9)
    assert from_log(torch.tensor([-1.0])).item() == 0.0


@pytest.mark.parametrize("optimizer,conv", [("lbfgs", "1d"), ("adam", "1d"), ("lbfgs", "2d")])
def test_style_loss_falls_on_a_tiny_problem(optimizer, conv):
    g = torch.Generator().manual_seed(1)
    content_log = torch.rand(16, 40, generator=g) * 3
    style_log = torch.rand(16, 30, generator=g) ** 4 * 6  # different statistics
    cfg = StyleTransferConfig(
        n_filters=8, kernel_width=3, n_iter=30, optimizer=optimizer, learning_rate=0.1, conv=conv
    )
    out, style_trace, _ = optimise_log_spectrogram(content_log, style_log, cfg, progress=False)
    assert out.shape == content_log.shape
    assert len(style_trace) == 30 or (optimizer == "lbfgs" and len(style_trace) >= 5)
    assert min(style_trace) < 0.1 * style_trace[0]


def test_content_weight_keeps_features_near_the_content():
    g = torch.Generator().manual_seed(2)
    content_log = torch.rand(16, 40, generator=g) * 3
    style_log = torch.rand(16, 30, generator=g) ** 4 * 6
    base = dict(n_filters=8, kernel_width=3, n_iter=25, init="noise")
    _, _, free = optimise_log_spectrogram(
        content_log, style_log, StyleTransferConfig(content_weight=0.0, **base), progress=False
    )
    _, _, held = optimise_log_spectrogram(
        content_log, style_log, StyleTransferConfig(content_weight=10.0, **base), progress=False
    )
    assert held[-1] < free[-1]


def test_constraint_loss_is_zero_for_the_content_and_positive_otherwise():
    content_log = torch.rand(8, 12)
    assert constraint_loss(content_log, content_log).item() == pytest.approx(0.0, abs=1e-7)
    assert constraint_loss(content_log * 2, content_log).item() > 0.1


def test_no_iterations_with_content_phase_returns_the_content(spec):
    sr = spec.sample_rate
    content = harmonic_tone(220.0, 0.5, sr)
    style = sine(1000.0, 0.3, sr)
    y = stylize(content, style, sr, spec=spec, progress=False, **{**TINY, "n_iter": 0})
    assert y.shape == content.shape
    assert np.corrcoef(y, content)[0, 1] > 0.99


def test_output_length_follows_content_at_another_rate(spec):
    sr = 11025  # not the spec's 8 kHz: resampled in and out
    content = harmonic_tone(300.0, 0.37, sr)
    style = sine(900.0, 0.8, sr)
    y = stylize(content, style, sr, spec=spec, progress=False, **TINY)
    assert y.shape == content.shape and y.dtype == np.float32
    assert np.isfinite(y).all() and np.abs(y).max() > 0


def test_texture_mode_length_and_seed(spec):
    sr = spec.sample_rate
    style = harmonic_tone(440.0, 0.4, sr, decay=3.0)
    res = run_style_transfer(
        None, style, sr, spec=spec, texture_seconds=0.6, progress=False, **TINY
    )
    assert res.y.shape == (int(0.6 * sr),)
    assert min(res.style_loss) < res.style_loss[0]
    again = stylize(None, style, sr, spec=spec, texture_seconds=0.6, progress=False, **TINY)
    assert np.array_equal(res.y, again)


def test_library_refuses_silent_style_and_bad_settings(spec):
    sr = spec.sample_rate
    with pytest.raises(AudioError, match="silent"):
        stylize(sine(200.0, 0.3, sr), np.zeros(3000, np.float32), sr, spec=spec, **TINY)
    with pytest.raises(CycleGanAudioError, match="texture_seconds"):
        stylize(None, sine(200.0, 0.3, sr), sr, spec=spec, **TINY)
    with pytest.raises(CycleGanAudioError, match="optimizer"):
        StyleTransferConfig(optimizer="sgd")


# ---------------------------------------------------------------- CLI (default spec, tiny net)

CLI_TINY = ["--n-filters", "8", "--kernel-width", "3", "--iters", "2", "--phase-iters", "2",
            "--device", "cpu", "--quiet"]  # fmt: skip


def _write(path, y, sr=22050):
    sf.write(str(path), y, sr)
    return path


def test_cli_stylize_writes_content_length(tmp_path, capsys):
    content = _write(tmp_path / "c.wav", harmonic_tone(330.0, 0.4, 16000), 16000)
    style = _write(tmp_path / "s.flac", sine(700.0, 0.3, 44100), 44100)
    assert main(["--content", str(content), "--style", str(style), *CLI_TINY]) == 0
    out = tmp_path / "c.stylized.wav"  # default name, next to the content
    y, sr = sf.read(str(out))
    assert sr == 22050 and len(y) == round(0.4 * 22050)
    assert "wrote" in capsys.readouterr().out


def test_cli_texture_length(tmp_path):
    style = _write(tmp_path / "s.wav", harmonic_tone(250.0, 0.5, 22050, decay=2.0))
    out = tmp_path / "tex.wav"
    args = ["--style", str(style), "--texture", "--seconds", "0.7", "-o", str(out), *CLI_TINY]
    assert main(args) == 0
    info = sf.info(str(out))
    assert info.frames == round(0.7 * 22050)


def test_cli_missing_file_is_one_line_exit_2(tmp_path, capsys):
    style = _write(tmp_path / "s.wav", sine(500.0, 0.3, 22050))
    missing = tmp_path / "nope.wav"
    assert main(["--content", str(missing), "--style", str(style), *CLI_TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope.wav" in err and "not found" in err


def test_cli_silent_style_is_one_line_exit_2(tmp_path, capsys):
    content = _write(tmp_path / "c.wav", sine(500.0, 0.3, 22050))
    silent = _write(tmp_path / "quiet.wav", np.zeros(6000, np.float32))
    assert main(["--content", str(content), "--style", str(silent), *CLI_TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "quiet.wav" in err and "silent" in err


def test_cli_never_overwrites_an_input(tmp_path, capsys):
    content = _write(tmp_path / "c.wav", sine(500.0, 0.3, 22050))
    style = _write(tmp_path / "s.wav", sine(800.0, 0.3, 22050))
    before = content.read_bytes()
    args = ["--content", str(content), "--style", str(style), "-o", str(content), *CLI_TINY]
    assert main(args) == 2
    assert "overwrite" in capsys.readouterr().err
    assert content.read_bytes() == before


def test_cli_needs_content_or_texture(tmp_path, capsys):
    style = _write(tmp_path / "s.wav", sine(800.0, 0.3, 22050))
    assert main(["--style", str(style), *CLI_TINY]) == 2
    assert "--texture" in capsys.readouterr().err


# ---------------------------------------------------------------- CLI spec: --like and flags


def _content_and_style(tmp_path):
    content = _write(tmp_path / "c.wav", harmonic_tone(330.0, 0.4, 16000), 16000)
    style = _write(tmp_path / "s.wav", sine(700.0, 0.3, 22050))
    return ["--content", str(content), "--style", str(style)]


def test_cli_like_a_prepared_folder_works_at_its_rate(tmp_path, spec):
    Manifest(spec=spec, root=tmp_path / "prepared").save()  # all --like reads: the spec
    out = tmp_path / "out.wav"
    args = [*_content_and_style(tmp_path), "--like", str(tmp_path / "prepared"), "-o", str(out)]
    assert main([*args, *CLI_TINY]) == 0
    y, sr = sf.read(str(out))
    assert sr == spec.sample_rate == 8000 and len(y) == round(0.4 * 8000)


def test_cli_written_flag_overrides_a_checkpoints_spec(tmp_path, spec):
    ckpt = tmp_path / "best.ckpt"
    torch.save({META_KEY: make_meta(spec, NetworkConfig())}, str(ckpt))
    out = tmp_path / "out.wav"
    args = [*_content_and_style(tmp_path), "--like", str(ckpt), "-o", str(out)]
    assert main([*args, "--sample-rate", "11025", *CLI_TINY]) == 0
    assert sf.info(str(out)).samplerate == 11025  # the flag; n_fft etc. from the checkpoint


@pytest.mark.parametrize("bad", ["missing", "empty_dir", "s.wav"])
def test_cli_bad_like_is_one_line_naming_it(tmp_path, capsys, bad):
    (tmp_path / "empty_dir").mkdir()
    args = _content_and_style(tmp_path)
    assert main([*args, "--like", str(tmp_path / bad), *CLI_TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"--like {tmp_path / bad}:" in err
    assert not (tmp_path / "c.stylized.wav").exists()
