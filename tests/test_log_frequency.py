"""The log-frequency tile axis: the two crossings between STFT and tile, with known answers,
and the whole path prepare -> train -> translate on a log spec."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from cyclegan_audio import inference as I
from cyclegan_audio import phase, val_score
from cyclegan_audio import spectrogram as S
from cyclegan_audio import tiles as T
from cyclegan_audio.callbacks import WandbMonitor
from cyclegan_audio.cli import prepare
from cyclegan_audio.data import TileDataModule
from cyclegan_audio.errors import SpecError
from cyclegan_audio.manifest import Manifest
from cyclegan_audio.model import CycleGan, TrainConfig
from cyclegan_audio.networks import tiny_config
from cyclegan_audio.restore import restore_tiles
from cyclegan_audio.spec import SpectrogramSpec, tiny_spec
from cyclegan_audio.style_transfer import FAST, run_style_transfer
from tests.conftest import TINY_SPEC_FLAGS, harmonic_tone, sine, write_two_domains
from tests.test_train import fast_dev_fit

SR = 8000
LOG_FLAGS = ["--freq-scale", "log", "--n-bins", "48", "--fmin-hz", "50"]


@pytest.fixture
def log_spec():
    """48 log rows from 50 Hz to 4 kHz over the 64 STFT bins of the tiny spec."""
    return tiny_spec(freq_scale="log", n_bins=48, fmin_hz=50.0)


def _dominant_hz(y: np.ndarray, sr: int) -> float:
    mag = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(mag) * sr / len(y))


def _cents(f_hz: float, ref_hz: float) -> float:
    return abs(1200.0 * np.log2(f_hz / ref_hz))


def _db(mag: torch.Tensor) -> torch.Tensor:
    return 20.0 * torch.log10(mag.clamp_min(1e-5))


# ---- the spec ----


def test_log_spec_tile_height_is_n_bins(log_spec):
    assert log_spec.n_freq == 48 and log_spec.tile_shape == (48, 64)
    assert log_spec.n_stft_bins == 64
    assert tiny_spec().n_freq == tiny_spec().n_stft_bins == 64


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(freq_scale="mel"), "freq_scale must be 'linear' or 'log'"),
        (dict(freq_scale="log"), "needs n_bins >= 2"),
        (dict(freq_scale="log", n_bins=1), "needs n_bins >= 2"),
        (dict(freq_scale="log", n_bins=32, fmin_hz=0.0), "fmin_hz must be in"),
        (dict(freq_scale="log", n_bins=32, fmin_hz=4000.0), "fmin_hz must be in"),
        (dict(n_bins=32), "leave it unset for 'linear'"),
    ],
)
def test_invalid_frequency_axis_refused(overrides, message):
    with pytest.raises(SpecError, match=message):
        tiny_spec(**overrides)


def test_dict_without_the_new_fields_loads_as_linear():
    """Manifests and checkpoints written before the log axis existed."""
    old = {k: v for k, v in SpectrogramSpec().to_dict().items()}
    for name in ("freq_scale", "n_bins", "fmin_hz"):
        old.pop(name, None)
    spec = SpectrogramSpec.from_dict(old)
    assert spec == SpectrogramSpec() and spec.freq_scale == "linear"


def test_linear_dict_is_unchanged_and_log_dict_round_trips(log_spec):
    assert not {"freq_scale", "n_bins", "fmin_hz"} & set(tiny_spec().to_dict())
    data = json.loads(json.dumps(log_spec.to_dict()))
    assert data["freq_scale"] == "log" and data["n_bins"] == 48
    assert SpectrogramSpec.from_dict(data) == log_spec


# ---- the two crossings ----


def test_linear_scale_crossings_are_identities(spec):
    x = torch.rand(2, spec.n_stft_bins, 7)
    assert S.to_tile_freq(x, spec) is x
    assert S.to_linear_freq(x, spec) is x


def test_filterbank_weights(log_spec):
    bank = S.log_filterbank(log_spec)
    assert bank.forward.shape == (48, 64) and bank.interpolate.shape == (64, 48)
    assert (bank.forward >= 0).all() and (bank.interpolate >= 0).all()
    torch.testing.assert_close(bank.forward.sum(1), torch.ones(48, dtype=torch.float64))
    # every STFT bin is read from the rows once: the rows stand for the whole STFT axis
    assert S.row_bandwidths(log_spec).sum() == pytest.approx(log_spec.n_stft_bins)
    centres = S.tile_freqs_hz(log_spec)
    assert centres[0] == pytest.approx(50.0) and centres[-1] == pytest.approx(SR / 2)
    np.testing.assert_allclose(S.hz_to_row(torch.from_numpy(centres), log_spec), np.arange(48))


def test_constant_tile_is_a_fixed_point(log_spec):
    c = torch.full((3, 48, 5), 0.25)
    lin = S.to_linear_freq(c, log_spec)
    reached = S.log_filterbank(log_spec).forward.sum(0) > 0  # DC lies below every row
    torch.testing.assert_close(lin[:, reached], torch.full_like(lin[:, reached], 0.25))
    torch.testing.assert_close(S.to_tile_freq(lin, log_spec), c)


def test_tile_to_linear_to_tile_keeps_a_real_tile(log_spec):
    y = harmonic_tone(220.0, 1.0, SR, decay=2.0)
    tile = S.tile_magnitude(y, log_spec)
    back = S.to_tile_freq(S.to_linear_freq(tile, log_spec), log_spec)
    assert (back >= 0).all()
    assert float((_db(back) - _db(tile)).abs().mean()) < 0.5


@pytest.mark.parametrize("freq_hz", [2 * SR / 126, 440.0, 1000.0, 1500.0, 3000.0, 3900.0])
def test_sine_lands_in_the_nearest_row(log_spec, freq_hz):
    """Below ~600 Hz the rows are finer than the STFT's 63 Hz bins, so a low test tone sits
    on a bin centre (where the STFT puts its peak)."""
    unit = S.audio_to_unit(sine(freq_hz, 0.5, SR), log_spec)
    assert unit.shape[-2] == 48
    nearest = round(float(S.hz_to_row(torch.tensor(freq_hz), log_spec)))
    assert int(unit.mean(-1).argmax()) == nearest


@pytest.mark.parametrize("freq_hz", [220.0, 440.0, 1234.0])
def test_tone_through_log_tile_and_griffin_lim_keeps_its_pitch(log_spec, freq_hz):
    y = sine(freq_hz, 1.0, SR)
    unit = S.audio_to_unit(y, log_spec)
    mag = S.unit_to_stft_magnitude(unit, log_spec)
    assert mag.shape[-2] == log_spec.n_stft_bins
    z = phase.griffin_lim(mag, log_spec, n_iter=32, init="random", length=len(y)).numpy()
    assert _cents(_dominant_hz(z, SR), freq_hz) < 25


def test_tile_level_of_log_tiles_matches_linear(spec, log_spec):
    rng = np.random.default_rng(0)
    for y in (sine(440.0, 1.024, SR), 0.1 * rng.standard_normal(8192).astype(np.float32)):
        lin = T.tile_level_db(T.cut_tiles(y, spec).tiles, spec)
        log = T.tile_level_db(T.cut_tiles(y, log_spec).tiles, log_spec)
        np.testing.assert_allclose(log, lin, atol=0.5)


@pytest.mark.parametrize("freq_scale, n_bins", [("linear", None), ("log", 96)])
def test_val_score_pitch_reads_log_tiles(freq_scale, n_bins):
    """The tiny spec's 63 Hz bins cannot tell 220 Hz from its neighbours: 16 Hz bins here."""
    s = tiny_spec(n_fft=510, freq_scale=freq_scale, n_bins=n_bins, fmin_hz=50.0)
    for f0_hz in (220.0, 500.0):
        y = harmonic_tone(f0_hz, 0.6, SR)
        x = S.unit_to_model(S.audio_to_unit(y, s))[None, None, :, 4:-4]
        assert _cents(float(val_score.frame_pitch(x, s).median()), f0_hz) < 50


def test_monitor_audio_of_a_log_tile(log_spec):
    tile = S.unit_to_model(S.audio_to_unit(sine(440.0, 0.3, SR), log_spec))[None, :, :32]
    y = WandbMonitor(log_spec, gl_iters=2)._audio(tile)
    assert y.shape == (log_spec.frames_to_samples(32),)


def test_style_transfer_on_a_log_spec(log_spec):
    content, style = harmonic_tone(330.0, 0.5, SR), harmonic_tone(220.0, 0.5, SR, decay=4.0)
    result = run_style_transfer(
        content, style, SR, spec=log_spec, config=FAST, n_iter=2, phase_iters=2, progress=False
    )
    assert result.y.shape == content.shape and np.isfinite(result.y).all()


# ---- the whole path ----


class Identity(nn.Module):
    def forward(self, x):
        return x


def test_prepare_train_translate_restore_on_a_log_spec(tmp_path):
    dir_a, dir_b = write_two_domains(tmp_path)
    data = tmp_path / "prepared"
    argv = [str(dir_a), str(dir_b), "--out", str(data), "--workers", "1"]
    assert prepare.main([*argv, "--quiet", *TINY_SPEC_FLAGS, *LOG_FLAGS]) == 0
    spec = Manifest.load(data).spec
    assert spec == tiny_spec(freq_scale="log", n_bins=48, fmin_hz=50.0)

    dm = TileDataModule(data, batch_size=2, num_workers=0, n_val_tiles=2)
    model = CycleGan(dm.spec, tiny_config(), TrainConfig(pool_size=4))
    trainer = fast_dev_fit(model, dm, tmp_path)
    assert trainer.global_step == 2

    song = harmonic_tone(330.0, 1.37, 11025)
    out = I.translate_signal(song, 11025, Identity(), spec, n_iter=16)
    assert out.shape == song.shape
    assert _cents(_dominant_hz(out, 11025), _dominant_hz(song, 11025)) < 25

    paths = sorted((data / "A" / "train").glob("*.png"))[:2]
    restored = restore_tiles(paths, data, phase="source", n_iter=4)
    assert restored.y.shape == (spec.frames_to_samples(2 * spec.tile_frames),)
    assert restored.source is not None and np.isfinite(restored.lsd_db)


def test_prepare_refuses_n_bins_without_log(tmp_path, capsys):
    argv = [str(tmp_path / "A"), str(tmp_path / "B"), "--out", str(tmp_path / "p")]
    assert prepare.main([*argv, "--quiet", "--n-bins", "48"]) == 2
    assert "leave it unset for 'linear'" in capsys.readouterr().err
