import numpy as np
import torch

from cyclegan_audio import audio
from cyclegan_audio import spectrogram as S
from cyclegan_audio import tiles as T
from tests.conftest import harmonic_tone, sine


def test_full_clips_give_four_tiles_with_offsets(spec):
    y = sine(440, 2 * spec.clip_seconds, spec.sample_rate)
    cut = T.cut_tiles(y, spec)
    assert cut.tiles.shape == (8, *spec.tile_shape)
    assert cut.indices == list(range(8))
    assert np.allclose(cut.offsets_s[:5], [0, 0.256, 0.512, 0.768, 1.024])
    assert cut.n_remainders == 0
    assert 0.0 <= cut.tiles.min() and cut.tiles.max() <= 1.0


def test_tiles_equal_the_clip_spectrogram(spec):
    y = harmonic_tone(300, spec.clip_seconds, spec.sample_rate)
    cut = T.cut_tiles(y, spec)
    whole = S.audio_to_unit(torch.from_numpy(y), spec).numpy()
    assert np.allclose(T.concat_tiles(cut.tiles), whole[:, : 4 * spec.tile_frames])


def test_short_remainder_dropped_and_counted(spec):
    n = spec.clip_samples + int(1.5 * spec.tile_samples)
    cut = T.cut_tiles(np.full(n, 0.1, np.float32), spec)
    assert len(cut.tiles) == 5  # four from the full clip, one from the 1.5-tile rest
    assert cut.n_remainders == 1
    assert abs(cut.remainder_s - 0.5 * spec.tile_seconds) < 1e-3


def test_signal_shorter_than_a_tile_gives_nothing(spec):
    cut = T.cut_tiles(np.ones(spec.tile_samples // 2, np.float32) * 0.1, spec)
    assert cut.tiles.shape == (0, *spec.tile_shape) and cut.n_remainders == 1


def test_tile_index_inverts_offsets(spec):
    cut = T.cut_tiles(sine(300, 3.3, spec.sample_rate), spec)
    assert [T.tile_index(o, spec) for o in cut.offsets_s] == cut.indices


def test_source_stft_matches_tiles(spec):
    y = harmonic_tone(250, 2.5, spec.sample_rate)
    cut = T.cut_tiles(y, spec)
    x = T.source_stft(y, [5, 6, 2], spec)
    unit = S.magnitude_to_unit(x.abs(), spec).numpy()
    assert np.allclose(unit, T.concat_tiles(cut.tiles[[5, 6, 2]]), atol=1e-6)


def test_tile_level_matches_rms_and_finds_silence(spec):
    y = sine(440, spec.clip_seconds, spec.sample_rate, amp=0.5)
    # first two tiles at -89 dB (plus half a window: their last frame reaches into tile 3)
    y[: 2 * spec.tile_samples + spec.n_fft // 2] *= 1e-4
    cut = T.cut_tiles(y, spec)
    level = T.tile_level_db(cut.tiles, spec)
    assert abs(level[3] - audio.rms_db(sine(440, 1.0, spec.sample_rate, amp=0.5))) < 0.1
    assert (level < -60).tolist() == [True, True, False, False]  # prepare's silence test
