"""The register shift: known answers for the warp on log and linear rows, a tone an octave up
through tiles and Griffin-Lim, the measurement from tiles, and the checkpoint path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cyclegan_audio import inference as I
from cyclegan_audio import register as R
from cyclegan_audio import spectrogram as S
from cyclegan_audio.checkpoint import load_translator
from cyclegan_audio.cli import prepare
from cyclegan_audio.cli import train as train_cli
from cyclegan_audio.data import TileDataModule
from cyclegan_audio.errors import TrainingError
from cyclegan_audio.model import CycleGan, TrainConfig
from cyclegan_audio.networks import NetworkConfig, tiny_config
from cyclegan_audio.spec import SpectrogramSpec, tiny_spec
from cyclegan_audio.training import training_register
from tests.conftest import TINY_SPEC_FLAGS, harmonic_tone
from tests.test_train import fast_dev_fit

LOG = tiny_spec(freq_scale="log", n_bins=48, fmin_hz=50.0)  # 7.59 rows per octave
# Fine enough for the pitch tracker (64 log rows over 128 STFT bins); the tiny one is not.
FINE = SpectrogramSpec(
    sample_rate=8000, n_fft=254, hop_length=64, tile_frames=64, clip_seconds=1.024,
    freq_scale="log", n_bins=64, fmin_hz=50.0,
)  # fmt: skip
FINE_FLAGS = [
    "--sample-rate", "8000", "--n-fft", "254", "--hop-length", "64", "--tile-frames", "64",
    "--clip-seconds", "1.024", "--freq-scale", "log", "--n-bins", "64", "--fmin-hz", "50",
]  # fmt: skip


def _rows_per_octave(spec) -> float:
    f = S.tile_freqs_hz(spec)
    return float(1 / np.log2(f[1] / f[0]))


def test_an_octave_on_log_rows_is_a_shift_by_the_rows_per_octave():
    x = -torch.ones(1, 1, 48, 4)
    x[0, 0, 10] = 1.0  # one bright row
    up = R.FrequencyWarp(LOG, 12.0)(x)[0, 0, :, 0]
    centre = float((up + 1) @ torch.arange(48.0) / (up + 1).sum())  # brightness centroid
    assert centre == pytest.approx(10 + _rows_per_octave(LOG), abs=1e-4)
    assert float(up.min()) == pytest.approx(-1.0)  # nothing else lights up


def test_an_octave_on_linear_rows_doubles_the_row():
    spec = tiny_spec()  # 64 linear rows, row k = k * 62.5 Hz
    w = R.warp_matrix(spec, 12.0)
    assert torch.equal(w[20], torch.nn.functional.one_hot(torch.tensor(10), 64).float())
    assert float(w[21, 10]) == pytest.approx(0.5) and float(w[21, 11]) == pytest.approx(0.5)


def test_rows_without_a_source_are_silence_and_the_way_back_restores_the_middle():
    x = torch.rand(2, 1, 48, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    up = R.FrequencyWarp(LOG, 12.0)(x)
    octave = int(np.ceil(_rows_per_octave(LOG)))
    assert torch.equal(up[:, :, :octave], -torch.ones_like(up[:, :, :octave]))  # below fmin
    back = R.FrequencyWarp(LOG, -12.0)(up)
    mid = slice(octave + 1, 48 - octave - 1)
    # two interpolations of a shift by a fractional row: a two-row blur, not the same tile
    blur = (x[:, :, mid] - back[:, :, mid]).abs().mean()
    assert float(blur) < 0.5 * float((x[:, :, mid] - x[:, :, mid].roll(1, 2)).abs().mean())
    assert isinstance(R.direction_warp(LOG, tiny_config(), "AtoB"), nn.Identity)
    net = tiny_config(register_shift=12.0, register_envelope=200.0)
    ab, ba = (R.direction_warp(LOG, net, d) for d in ("AtoB", "BtoA"))
    assert (ab.semitones, ba.semitones, ba.envelope_hz) == (12.0, -12.0, 200.0)


def test_register_options_refuse_what_cannot_work():
    with pytest.raises(TrainingError, match="at most 36 semitones"):
        tiny_config(register_shift=48.0)
    with pytest.raises(TrainingError, match="0 or more"):
        tiny_config(register_envelope=-1.0)


def test_a_tone_comes_out_an_octave_higher_through_tiles_and_griffin_lim():
    """Linear rows: an octave (a stretch; 250 Hz sits on row 4, 500 Hz on row 8). Log rows:
    8 whole rows (12.6 semitones on these coarse 1.6-semitone rows). Off-row pitches would
    be split between two 62.5 Hz / 1.6-semitone rows; the peak is read to half an STFT bin."""
    sr = 11025
    song = harmonic_tone(250.0, 1.37, sr)
    for spec, semitones in ((tiny_spec(), 12.0), (LOG, 12 * 8 / _rows_per_octave(LOG))):
        out = I.translate_signal(song, sr, R.FrequencyWarp(spec, semitones), spec, n_iter=32)
        mag = np.abs(np.fft.rfft(out * np.hanning(len(out))))
        peak_hz = np.argmax(mag) * sr / len(out)
        want = 250.0 * 2 ** (semitones / 12)  # 500 Hz; log: 527 Hz, between two STFT bins
        bin_hz = spec.sample_rate / spec.n_fft
        assert abs(peak_hz - want) < 0.5 * bin_hz, spec.freq_scale
        assert abs(peak_hz - 250.0) > 3 * bin_hz


def test_keeping_the_envelope_moves_the_harmonics_and_leaves_the_formant():
    """A 100 Hz voice under one formant at 1 kHz, an octave up: without the envelope option
    the formant goes to 2 kHz with the harmonics; keeping the envelope (200 Hz smoothing)
    leaves it within a quarter octave of 1 kHz."""
    sr, f = FINE.sample_rate, S.tile_freqs_hz(FINE)
    t = np.arange(int(1.2 * sr)) / sr
    y = sum(
        np.sin(2 * np.pi * 100 * k * t)
        * (0.2 + np.exp(-0.5 * (np.log2(100 * k / 1000) / 0.3) ** 2))
        for k in range(1, 40)
        if 100 * k < sr / 2
    )
    x = S.unit_to_model(S.audio_to_unit(0.05 * y.astype(np.float32), FINE)[:, :64])[None, None]
    smooth = torch.from_numpy(R.envelope_smoother(FINE, 200.0)).float()

    def formant_hz(tile):
        return f[int(torch.argmax(smooth @ ((tile[0, 0].mean(-1) + 1) / 2)))]

    moved, kept = R.FrequencyWarp(FINE, 12.0)(x), R.FrequencyWarp(FINE, 12.0, 200.0)(x)
    assert formant_hz(x) == pytest.approx(1000, rel=0.1)
    assert formant_hz(moved) == pytest.approx(2000, rel=0.1)
    assert abs(np.log2(formant_hz(kept) / 1000)) < 0.25
    assert float(kept.min()) >= -1 and float(kept.max()) <= 1


def _tiles(f0_hz: float, spec, n: int = 4) -> torch.Tensor:
    y = harmonic_tone(f0_hz, n * spec.tile_samples / spec.sample_rate + 0.1, spec.sample_rate, 8)
    unit = S.audio_to_unit(y, spec)[:, : n * spec.tile_frames]
    tiles = unit.reshape(spec.n_freq, n, spec.tile_frames).permute(1, 0, 2)[:, None]
    return S.unit_to_model(tiles)


def test_measure_register_finds_the_octave_between_two_tones():
    semitones, med = R.measure_register(_tiles(150.0, FINE), _tiles(300.0, FINE), FINE)
    assert semitones == pytest.approx(12.0, abs=0.3)
    assert med["A"] == pytest.approx(150.0, rel=0.02) and med["B"] == pytest.approx(300.0, rel=0.02)


def test_measure_register_refuses_what_it_cannot_measure():
    with pytest.raises(ValueError, match="domain A has no voiced frames"):
        R.measure_register(-torch.ones(2, 1, 64, 64), _tiles(300.0, FINE), FINE)
    # 1.6-semitone rows: the tracker locks onto its lowest candidate, 60 Hz
    with pytest.raises(ValueError, match="domain A's median pitch \\(60 Hz\\) sits at"):
        R.measure_register(_tiles(150.0, LOG), _tiles(200.0, LOG), LOG)


def _prepared_octave_apart(tmp_path, n: int):
    """Prepared FINE tiles of n tones near 150 Hz (A) and n near 300 Hz (B)."""
    from cyclegan_audio import audio

    root = tmp_path / "wav"
    for domain, f0 in (("A", 150.0), ("B", 300.0)):
        for i in range(n):
            y = harmonic_tone(f0 * (1 + i / 20), 2.1, 16000, n_harm=8)
            audio.save(root / domain / f"{domain}{i}.wav", y, 16000)
    data = tmp_path / "prepared"
    argv = [str(root / "A"), str(root / "B"), "--out", str(data), "--workers", "1", "--quiet"]
    assert prepare.main([*argv, *FINE_FLAGS]) == 0
    return data


def test_register_shift_trains_checkpoints_and_translates_behind_the_warp(tmp_path):
    data = _prepared_octave_apart(tmp_path, n=3)
    dm = TileDataModule(data, batch_size=2, num_workers=0, n_val_tiles=2)
    shift = training_register(dm, say=lambda *_: None)
    assert shift == pytest.approx(12.0, abs=0.5)

    net = tiny_config(register_shift=shift, register_envelope=200.0)
    model = CycleGan(dm.spec, net, TrainConfig(pool_size=4))
    plain = CycleGan(dm.spec, tiny_config(), TrainConfig(pool_size=4))
    assert model.state_dict().keys() == plain.state_dict().keys()  # the warp holds no state
    fast_dev_fit(model, dm, tmp_path)
    assert np.isfinite(model.last_val_score["score"])

    argv = [
        "--data", str(data), "--max-epochs", "1", "--max-steps", "2", "--logger", "none",
        "--checkpoint-dir", str(tmp_path / "runs"), "--run-name", "r", "--num-workers", "0",
        "--no-progress-bar", "--n-val-tiles", "2", "--ngf", "4", "--ndf", "4",
        "--n-blocks", "1", "--n-layers-d", "2", "--measure-register",
    ]  # fmt: skip
    assert train_cli.main(argv) == 0
    ckpt = tmp_path / "runs" / "r" / "last.ckpt"
    for direction, sign in (("AtoB", 1), ("BtoA", -1)):
        g = load_translator(ckpt, direction).generator
        assert g[0].semitones == pytest.approx(sign * shift)


def test_old_checkpoints_and_unmeasurable_tiles(tmp_path):
    old = NetworkConfig.from_dict({"ngf": 4})  # a checkpoint written before the options
    assert old.register_shift == 0.0 and old.register_envelope == 0.0
    root = tmp_path / "wav"
    from cyclegan_audio import audio

    for domain in "AB":  # noise: no pitch to measure
        rng = np.random.default_rng(0 if domain == "A" else 1)
        for i in range(2):
            audio.save(root / domain / f"{i}.wav", 0.1 * rng.standard_normal(2 * 16000), 16000)
    data = tmp_path / "prepared"
    argv = [str(root / "A"), str(root / "B"), "--out", str(data), "--workers", "1", "--quiet"]
    assert prepare.main([*argv, *TINY_SPEC_FLAGS]) == 0
    dm = TileDataModule(data, batch_size=1, num_workers=0, n_val_tiles=2)
    with pytest.raises(TrainingError, match="cannot measure the register"):
        training_register(dm)


def test_measure_register_from_the_library_and_a_given_shift_wins(tmp_path):
    """RunConfig without `given` (library callers, the benchmark) measures; a register_shift
    set away from its default is the caller's and is kept."""
    from cyclegan_audio.training import RunConfig, run_training

    data = _prepared_octave_apart(tmp_path, n=2)
    for shift, want in ((0.0, 12.0), (5.0, 5.0)):
        cfg = RunConfig(
            data=data, net=tiny_config(register_shift=shift), train=TrainConfig(pool_size=4),
            max_epochs=1, max_steps=1, logger="none", checkpoint_dir=tmp_path / "runs",
            run_name=f"s{shift:g}", num_workers=0, progress_bar=False, n_val_tiles=2,
            measure_register=True,
        )  # fmt: skip
        result = run_training(cfg)
        net = load_translator(result.run_dir / "last.ckpt").generator[0]
        assert net.semitones == pytest.approx(want, abs=0.5)
