"""Fast Griffin-Lim, its initial phases (random, PGHI, given) and the benchmark script."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import torch

from cyclegan_audio import phase
from cyclegan_audio import spectrogram as S

from .conftest import harmonic_tone, sine


def _chirp(spec, seconds=0.5):
    t = np.arange(int(seconds * spec.sample_rate)) / spec.sample_rate
    return (0.5 * scipy.signal.chirp(t, 200, seconds, 3000)).astype(np.float32)


def _sc0(mag, spec, init, length):
    y = phase.griffin_lim(mag, spec, n_iter=0, init=init, length=length)
    return phase.spectral_convergence_db(mag, y, spec)


def test_n_iter_zero_with_true_phase_returns_the_signal(spec):
    y = torch.from_numpy(harmonic_tone(220, 0.5, spec.sample_rate))
    x = S.stft(y, spec)
    out = phase.griffin_lim(x.abs(), spec, n_iter=0, init=x, length=len(y))
    torch.testing.assert_close(out, y, atol=1e-5, rtol=0)
    # a real-valued phase tensor is the same as the complex STFT it came from
    out_angle = phase.griffin_lim(x.abs(), spec, n_iter=0, init=torch.angle(x), length=len(y))
    torch.testing.assert_close(out_angle, out)


def test_true_phase_stays_a_near_perfect_reconstruction(spec):
    y = torch.from_numpy(harmonic_tone(330, 0.5, spec.sample_rate, decay=2.0))
    x = S.stft(y, spec)
    out = phase.griffin_lim(x.abs(), spec, n_iter=20, init=x, length=len(y))
    assert phase.spectral_convergence_db(x.abs(), out, spec) < -60.0
    assert float((out - y).abs().max()) < 1e-3


def test_random_init_improves_with_iterations(spec):
    y = torch.from_numpy(harmonic_tone(220, 0.5, spec.sample_rate))
    mag = S.magnitude(y, spec)
    sc = [phase.spectral_convergence_db(
            mag, phase.griffin_lim(mag, spec, n_iter=n, length=len(y)), spec)
          for n in (0, 5, 40)]  # fmt: skip
    assert sc[0] > sc[1] + 5.0 > sc[2] + 10.0, sc


def test_momentum_converges_faster_than_plain_griffin_lim(spec):
    mag = S.magnitude(torch.from_numpy(_chirp(spec)), spec)
    fast = phase.griffin_lim(mag, spec, n_iter=30, momentum=0.99)
    plain = phase.griffin_lim(mag, spec, n_iter=30, momentum=0.0)
    assert phase.spectral_convergence_db(mag, fast, spec) < phase.spectral_convergence_db(
        mag, plain, spec) - 3.0  # fmt: skip


def test_equals_librosa_fast_griffin_lim_from_the_same_start(spec):
    """librosa's init=None is a zero phase: the same start must give the same signal."""
    librosa = pytest.importorskip("librosa")
    y = _chirp(spec)
    mag = S.magnitude(torch.from_numpy(y), spec)
    # librosa's STFT is unscaled; ours divides by half the window sum.
    mag_lib = mag.double().numpy() / (2.0 / float(S.window(spec, dtype=torch.float64).sum()))
    ref = librosa.griffinlim(
        mag_lib, n_iter=7, hop_length=spec.hop_length, n_fft=spec.n_fft, window=spec.window,
        center=True, pad_mode="constant", momentum=0.99, init=None, length=len(y),
    )  # fmt: skip
    ours = phase.griffin_lim(mag.double(), spec, n_iter=7, init="zeros", length=len(y))
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-6)


@pytest.mark.parametrize("init", ["random", "pghi"])
def test_batched_result_equals_per_item_result(spec, init):
    sr = spec.sample_rate
    ys = torch.from_numpy(
        np.stack([sine(440, 0.3, sr), harmonic_tone(180, 0.3, sr), _chirp(spec, 0.3)])
    )
    mags = S.magnitude(ys, spec).reshape(3, 1, spec.n_freq, -1)  # two leading dims
    batched = phase.griffin_lim(mags, spec, n_iter=6, init=init, seed=3, length=ys.shape[-1])
    assert batched.shape == (3, 1, ys.shape[-1])
    for i in range(3):
        single = phase.griffin_lim(
            mags[i, 0], spec, n_iter=6, init=init, seed=3, length=ys.shape[-1]
        )
        torch.testing.assert_close(batched[i, 0], single, atol=1e-5, rtol=0)


@pytest.mark.parametrize("signal", ["sine", "chirp"])
def test_pghi_gives_a_much_better_start_than_random(spec, signal):
    y = sine(500, 0.5, spec.sample_rate) if signal == "sine" else _chirp(spec)
    mag = S.magnitude(torch.from_numpy(y), spec)
    sc_random, sc_pghi = (_sc0(mag, spec, init, len(y)) for init in ("random", "pghi"))
    assert sc_random > -6.0  # a random phase is a poor start
    assert sc_pghi < sc_random - 20.0, (sc_pghi, sc_random)


def test_pghi_with_a_hamming_window_and_short_window():
    from cyclegan_audio.spec import tiny_spec

    for spec in (tiny_spec(window="hamming"), tiny_spec(win_length=96)):
        mag = S.magnitude(torch.from_numpy(_chirp(spec)), spec)
        assert _sc0(mag, spec, "pghi", None) < _sc0(mag, spec, "random", None) - 15.0


def test_random_phase_is_chunk_independent_and_seeded():
    whole = phase.random_phase(64, 100, seed=7)
    chunk = phase.random_phase(64, 30, seed=7, frame_offset=40)
    np.testing.assert_array_equal(chunk, whole[:, 40:70])
    assert not np.allclose(phase.random_phase(64, 30, seed=8, frame_offset=40), chunk)
    assert whole.min() >= -np.pi and whole.max() < np.pi
    assert abs(whole.mean()) < 0.1 and abs(whole.std() - np.pi / np.sqrt(3)) < 0.05
    # neighbouring bins and frames are not correlated
    assert abs(np.corrcoef(whole[:-1].ravel(), whole[1:].ravel())[0, 1]) < 0.05
    assert abs(np.corrcoef(whole[:, :-1].ravel(), whole[:, 1:].ravel())[0, 1]) < 0.05


def test_griffin_lim_chunk_uses_the_same_initial_phase_as_the_whole(spec):
    mag = S.magnitude(torch.from_numpy(harmonic_tone(220, 0.5, spec.sample_rate)), spec)
    whole = phase.initial_phase(mag, spec, "random", seed=1)
    chunk = phase.initial_phase(mag[:, 20:50], spec, "random", seed=1, frame_offset=20)
    torch.testing.assert_close(chunk, whole[:, 20:50])
    again = phase.griffin_lim(mag, spec, n_iter=3, seed=1)
    torch.testing.assert_close(again, phase.griffin_lim(mag, spec, n_iter=3, seed=1))
    assert not torch.allclose(again, phase.griffin_lim(mag, spec, n_iter=3, seed=2))


def test_silence_gives_silence_not_nan(spec):
    mag = torch.zeros(spec.n_freq, 20)
    for init in ("random", "pghi"):
        out = phase.griffin_lim(mag, spec, n_iter=3, init=init)
        assert out.shape == (spec.frames_to_samples(20),)
        assert torch.all(out == 0)


def test_bad_arguments_are_refused(spec):
    mag = torch.ones(spec.n_freq, 10)
    with pytest.raises(ValueError, match="unknown phase init"):
        phase.griffin_lim(mag, spec, init="nope")
    with pytest.raises(ValueError, match="shape"):
        phase.griffin_lim(mag, spec, init=torch.zeros(spec.n_freq, 11))
    with pytest.raises(ValueError, match="n_iter"):
        phase.griffin_lim(mag, spec, n_iter=-1)


def _benchmark():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "benchmark_phase.py"
    module_spec = importlib.util.spec_from_file_location("benchmark_phase", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_benchmark_script_runs_on_a_short_clip(tmp_path, capsys):
    from cyclegan_audio import audio

    clip = tmp_path / "clip.wav"
    audio.save(clip, harmonic_tone(220, 0.6, 22050, decay=1.0), 22050)
    bench = _benchmark()
    assert bench.main(["--input", str(clip), "--iters", "2", "--restore-iters", "2"]) == 0
    out = capsys.readouterr().out
    for needle in ("librosa.griffinlim random", "ours random", "ours pghi", "peak -1 dBFS"):
        assert needle in out
    assert bench.main(["--input", str(tmp_path / "missing.wav")]) == 2
    assert "missing.wav" in capsys.readouterr().err


def test_progress_bar_does_not_change_the_result(spec, capsys):
    mag = S.magnitude(torch.from_numpy(sine(300, 0.3, spec.sample_rate)), spec)
    quiet = phase.griffin_lim(mag, spec, n_iter=3)
    torch.testing.assert_close(phase.griffin_lim(mag, spec, n_iter=3, progress=True), quiet)
    assert "griffin-lim" in capsys.readouterr().err
