"""Metrics give known answers on synthetic signals."""

from __future__ import annotations

import numpy as np
import pytest

from cyclegan_audio import metrics as M
from cyclegan_audio.domain_classifier import DomainClassifier, segment_features
from cyclegan_audio.report import colorize, spectrogram_picture
from cyclegan_audio.spec import SpectrogramSpec

from .conftest import harmonic_tone, sine

SR = 16000


def test_sine_pitch_matches_its_note_and_not_its_neighbours():
    y = sine(440.0, 2.0, SR)
    track = M.pitch_track(y, SR, (57.0, 93.0))
    assert M.pitch_accuracy_vs_notes(track, [[0.1, 1.9, 69, 100]]) > 0.95
    assert M.pitch_accuracy_vs_notes(track, [[0.1, 1.9, 70, 100]]) < 0.05  # a semitone off
    assert M.pitch_accuracy_vs_notes(track, [[0.1, 1.9, 57, 100]]) < 0.05  # an octave off


def test_pitch_tolerance_is_fifty_cents():
    track = M.PitchTrack(
        times_s=np.array([0.5, 0.6, 0.7, 0.8]), midi=np.array([60.0, 60.4, 60.6, np.nan])
    )
    assert M.pitch_accuracy_vs_notes(track, [[0.0, 1.0, 60, 90]]) == pytest.approx(0.5)
    ref = M.PitchTrack(track.times_s, np.array([60.0, 60.0, np.nan, 60.0]))
    # reference voiced in 3 frames; hit in frames 0 and 1, output unvoiced in frame 3
    assert M.pitch_accuracy_vs_track(track, ref) == pytest.approx(2 / 3)


def test_pitch_vs_source_track():
    a, b = harmonic_tone(330.0, 1.5, SR), harmonic_tone(330.0 * 2 ** (2 / 12), 1.5, SR)
    ta, tb = M.pitch_track(a, SR), M.pitch_track(b, SR)
    assert M.pitch_accuracy_vs_track(ta, ta) == 1.0
    assert M.pitch_accuracy_vs_track(tb, ta) < 0.05  # a whole tone apart


def test_a_contour_kept_an_octave_up_counts_when_transposition_is_removed():
    def melody(scale: float) -> np.ndarray:  # two notes, then the first again
        return np.concatenate([harmonic_tone(f * scale, 0.5, SR) for f in (330.0, 440.0, 330.0)])

    ta, up = M.pitch_track(melody(1.0), SR), M.pitch_track(melody(2.0), SR)
    other = M.pitch_track(
        np.concatenate([harmonic_tone(f, 0.5, SR) for f in (330.0, 494.0, 262.0)]), SR
    )
    assert M.median_transposition(up, ta) == pytest.approx(12.0, abs=0.1)
    assert M.pitch_accuracy_vs_track(up, ta) < 0.05  # an octave apart, absolutely
    assert M.pitch_accuracy_vs_track(up, ta, transposed=True) > 0.9  # the same contour
    # another melody (moves 0, +2, -4 semitones against it) keeps its first note only
    assert M.pitch_accuracy_vs_track(other, ta, transposed=True) < 0.5
    assert np.isnan(M.median_transposition(M.PitchTrack(ta.times_s, ta.midi * np.nan), ta))


def test_no_scored_frames_gives_nan():
    track = M.PitchTrack(np.array([0.5]), np.array([60.0]))
    assert np.isnan(M.pitch_accuracy_vs_notes(track, []))
    assert M.midi_range_for_notes([[0, 1, 60, 90], [1, 2, 72, 90]]) == (48.0, 84.0)


def test_log_spectral_distance_known_answers():
    spec = SpectrogramSpec(sample_rate=SR)
    y = harmonic_tone(220.0, 1.0, SR)
    assert M.log_spectral_distance(y, y, spec) == 0.0
    noise = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    # every bin of white noise is above the floor, so halving it is 6.02 dB in each
    assert M.log_spectral_distance(0.5 * noise, noise, spec) == pytest.approx(6.02, abs=0.05)
    assert M.log_spectral_distance(sine(1000.0, 1.0, SR), y, spec) > 10.0  # different notes


def test_spectral_error_map_is_where_the_lsd_comes_from():
    spec = SpectrogramSpec(sample_rate=SR)
    noise = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    diff, freqs, times = M.spectral_error_db(0.5 * noise, noise, spec)
    assert diff.shape == (len(freqs), len(times)) and freqs[-1] == SR / 2
    assert np.allclose(diff, -6.02, atol=0.01)  # halved everywhere: -6.02 dB in every cell
    assert times[1] - times[0] == pytest.approx(spec.hop_length / SR)
    y, ref = sine(440.0, 1.0, SR), harmonic_tone(220.0, 1.0, SR)
    diff, _, _ = M.spectral_error_db(y, ref, spec)
    lsd = float(np.sqrt((diff**2).mean(0)).mean())
    assert lsd == pytest.approx(M.log_spectral_distance(y, ref, spec), rel=1e-5)


def _domain(kind: str, i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    f0 = 200.0 + 40.0 * i
    if kind == "A":  # sustained, bright, steady
        return harmonic_tone(f0, 3.0, SR, n_harm=12) + 0.003 * rng.standard_normal(3 * SR).astype(
            np.float32
        )
    # repeated decaying mellow plucks
    beat = harmonic_tone(f0, 0.5, SR, n_harm=3, decay=12.0)
    return np.tile(beat, 6)


def test_classifier_separates_two_timbres():
    feats = {d: [segment_features(_domain(d, i), SR) for i in range(4)] for d in "AB"}
    clf = DomainClassifier().fit(feats["A"], feats["B"], seed=0)
    assert clf.holdout_accuracy == 1.0
    for i in (7, 8):  # unseen pitches
        assert clf.target_share(_domain("B", i), SR, "B") == 1.0
        assert clf.target_share(_domain("A", i), SR, "B") == 0.0
        assert clf.target_share(0.1 * _domain("A", i), SR, "A") == 1.0  # level does not matter
    assert clf.target_share(np.zeros(3 * SR, np.float32), SR, "B") == 0.0  # silence is no domain


def test_picture_shape_and_colours():
    rgb = spectrogram_picture(sine(1000.0, 2.0, SR), SR, width=100)
    assert rgb.shape == (256, 100, 3) and rgb.dtype == np.uint8
    assert colorize(np.array([[0.0, 1.0]])).tolist() == [[[0, 0, 4], [252, 253, 191]]]
    bright_rows = np.nonzero(rgb.sum(axis=(1, 2)) > rgb.sum(axis=(1, 2)).mean() * 3)[0]
    assert (
        bright_rows.size and bright_rows.mean() > 128
    )  # 1 kHz sits in the lower half (bottom = 0 Hz)


def test_band_limit_loss_known_answers():
    sr = 22050
    t = np.arange(2 * sr) / sr
    low = harmonic_tone(220.0, 2.0, sr)  # harmonics to 1,320 Hz: all inside 5,512 Hz
    assert M.band_limit_loss_db(low, sr, 11025) < 0.5
    bright = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 8000 * t)).astype(
        np.float32
    )
    assert M.band_limit_loss_db(bright, sr, 11025) > 3.0  # the 8 kHz partial is gone
    assert M.band_limit_loss_db(bright, sr, 22050) == 0.0  # the spec holds the whole band
    assert M.band_limit_loss_db(bright, sr, 44100) == 0.0
    # white noise: the upper half of the bins falls from the noise level to the floor
    # (80 dB below the peak bin, the noise ~10-15 dB below it): sqrt(1/2) x 65-70 dB
    noise = (0.1 * np.random.default_rng(0).standard_normal(2 * sr)).astype(np.float32)
    assert 40.0 < M.band_limit_loss_db(noise, sr, 11025) < 55.0
