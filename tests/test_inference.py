"""Seam-free stitching, chunked == one-piece translation, loudness matching (tiny spec, tiny nets)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cyclegan_audio import inference as I
from cyclegan_audio.audio import resample
from cyclegan_audio.loudness import LoudnessMeter, integrated_loudness
from cyclegan_audio.metrics import log_spectral_distance
from cyclegan_audio.networks import build_generator, tiny_config
from tests.conftest import harmonic_tone, sine


class Identity(nn.Module):
    def forward(self, x):
        return x


class DbShift(nn.Module):
    """Moves every bin by ``shift_db`` (a generator that only changes the level)."""

    def __init__(self, spec, shift_db: float):
        super().__init__()
        self.delta = 2.0 * shift_db / (spec.db_ceiling - spec.db_floor)

    def forward(self, x):
        return x + self.delta


def _noisy_tone(seconds: float, sr: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return harmonic_tone(220.0, seconds, sr) + 0.02 * rng.standard_normal(
        int(round(seconds * sr))
    ).astype(np.float32)


@pytest.mark.parametrize("n_frames", [1, 2, 7, 31, 32, 33, 64, 65, 97, 200])
@pytest.mark.parametrize("hop_frames", [None, 13, 64])
def test_apply_tiled_identity_returns_input(spec, n_frames, hop_frames):
    x = torch.rand(2, spec.n_freq, n_frames)
    y = I.apply_tiled(x, lambda t: t, spec, hop_frames=hop_frames, batch_size=3)
    assert y.shape == x.shape
    torch.testing.assert_close(y, x, rtol=0, atol=1e-6)


def test_apply_tiled_batches_full_tiles(spec):
    shapes = []

    def fn(t):
        shapes.append(tuple(t.shape))
        return t

    I.apply_tiled(torch.rand(spec.n_freq, 300), fn, spec, batch_size=4)
    n_tiles = I.TileGrid(300, spec.tile_frames, spec.tile_frames // 4).n_tiles  # the default hop
    assert sum(s[0] for s in shapes) == n_tiles == 20
    assert all(s[0] <= 4 and s[1:] == (spec.n_freq, spec.tile_frames) for s in shapes)


@pytest.mark.parametrize("n_frames", [1, 65, 200])
def test_wider_window_identity_returns_input_in_fewer_wider_calls(spec, n_frames):
    """window_tiles 2: the function sees windows of two tiles, a quarter window apart."""
    widths = []

    def fn(t):
        widths.append(t.shape[-1])
        return t

    x = torch.rand(spec.n_freq, n_frames)
    y = I.apply_tiled(x, fn, spec, batch_size=1, window_tiles=2)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-6)
    assert set(widths) == {2 * spec.tile_frames}
    assert len(widths) == I.TileGrid(n_frames, 2 * spec.tile_frames, spec.tile_frames // 2).n_tiles
    with pytest.raises(ValueError, match="window_tiles"):
        I.window_frames(spec, 0)


def test_blend_has_no_seams(spec):
    """Tiles that disagree (alternate offsets 0 / 1) blend into a smooth ramp, not steps."""
    grid = I.TileGrid(400, spec.tile_frames, spec.tile_frames // 2)
    unit = torch.zeros(1, spec.n_freq, 400)
    tiles = I.run_tiles(unit, 0, grid, range(grid.n_tiles), lambda t: t, 2)
    tiles = {k: t + (k % 2) for k, t in tiles.items()}
    out = I.blend(tiles, grid, 0, 400)[0, 0]
    steps = out.diff().abs()
    # a hard cut would jump by 1; the raised cosine moves at most pi/tile_frames per frame
    assert steps.max() <= np.pi / spec.tile_frames + 1e-4
    assert out.max() > 0.99 and out.min() < 0.01  # tile centres keep their own values


def test_pghi_is_done_in_one_piece(spec):
    """PGHI is not chunk-local, so a chunk size is ignored for it rather than giving seams."""
    torch.manual_seed(0)
    g = build_generator(tiny_config()).eval()
    y = _noisy_tone(1.0, spec.sample_rate)
    whole = I.translate_signal(y, spec.sample_rate, g, spec, phase_init="pghi", n_iter=2)
    chunked = I.translate_signal(
        y, spec.sample_rate, g, spec, phase_init="pghi", n_iter=2, chunk_seconds=0.25
    )
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize("phase_init", ["source", "random"])
def test_chunked_translation_equals_one_piece(spec, phase_init):
    torch.manual_seed(0)
    g = build_generator(tiny_config()).eval()
    y = _noisy_tone(2.0, spec.sample_rate)
    kw = dict(phase_init=phase_init, n_iter=16)
    whole = I.translate_signal(y, spec.sample_rate, g, spec, **kw)
    chunked = I.translate_signal(y, spec.sample_rate, g, spec, chunk_seconds=0.25, **kw)
    assert chunked.shape == whole.shape == y.shape
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=2e-5)


def test_wider_window_chunked_equals_one_piece_and_differs_from_one_tile(spec):
    """window_tiles 2 streams like 1 does, and the generator's wider context changes the result
    (instance norm and padding see two tiles), while an identity generator gives the same audio."""
    torch.manual_seed(0)
    g = build_generator(tiny_config()).eval()
    y = _noisy_tone(2.0, spec.sample_rate)
    kw = dict(n_iter=8, window_tiles=2)
    whole = I.translate_signal(y, spec.sample_rate, g, spec, **kw)
    chunked = I.translate_signal(y, spec.sample_rate, g, spec, chunk_seconds=0.25, **kw)
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=2e-5)
    one_tile = I.translate_signal(y, spec.sample_rate, g, spec, n_iter=8)
    assert np.abs(one_tile - whole).max() > 1e-3
    same = [I.translate_signal(y, spec.sample_rate, Identity(), spec, n_iter=8, window_tiles=w)
            for w in (1, 2)]  # fmt: skip
    np.testing.assert_allclose(same[1], same[0], rtol=0, atol=1e-5)


def test_chunked_equals_one_piece_through_resampling(spec):
    y = _noisy_tone(1.5, 11025)
    whole = I.translate_signal(y, 11025, Identity(), spec, n_iter=8)
    chunked = I.translate_signal(y, 11025, Identity(), spec, n_iter=8, chunk_seconds=0.3)
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-5)


def test_identity_translation_gives_back_the_input(spec):
    sr = 16000
    y = harmonic_tone(330.0, 1.5, sr, decay=0.5)
    out = I.translate_signal(y, sr, Identity(), spec, n_iter=4)
    assert out.shape == y.shape
    lsd = log_spectral_distance(resample(out, sr, 8000), resample(y, sr, 8000), spec)
    assert lsd < 0.5
    assert np.max(np.abs(out - y)) < 0.05


def test_loudness_meter_reference_and_streaming():
    y = sine(997.0, 3.0, 48000, amp=1.0)
    assert integrated_loudness(y, 48000) == pytest.approx(-3.01, abs=0.05)  # BS.1770 reference
    meter = LoudnessMeter(48000)
    for piece in np.array_split(y * 0.1, 7):
        meter.add(piece)
    assert meter.lufs() == pytest.approx(integrated_loudness(y * 0.1, 48000), abs=1e-9)
    assert integrated_loudness(np.zeros(48000, np.float32), 48000) == float("-inf")


@pytest.mark.parametrize("shift_db", [-12.0, 9.0])
def test_output_loudness_matches_input(spec, shift_db):
    y = 0.1 * _noisy_tone(2.0, 8000)
    raw = I.translate_signal(y, 8000, DbShift(spec, shift_db), spec, n_iter=4, loudness="input")
    assert integrated_loudness(raw, 8000) == pytest.approx(integrated_loudness(y, 8000), abs=0.3)


@pytest.mark.parametrize("shift_db", [-12.0, 9.0])
def test_model_loudness_keeps_the_level_the_generator_made(spec, shift_db):
    """The default policy: a generator that lowers every bin by 12 dB gives a file 12 dB quieter
    than its input, with or without the trained input level (the input gain is undone)."""
    assert I.DEFAULT_LOUDNESS == "model"
    y = 0.1 * _noisy_tone(2.0, 8000)
    for peak_db in (None, -1.0):
        out = I.translate_signal(
            y, 8000, DbShift(spec, shift_db), spec, n_iter=4, input_peak_db=peak_db
        )
        want = integrated_loudness(y, 8000) + shift_db
        assert integrated_loudness(out, 8000) == pytest.approx(want, abs=0.5)


def test_loud_output_is_limited_not_clipped(spec):
    y = np.clip(3.0 * _noisy_tone(1.0, 8000), -1, 1)
    out = I.translate_signal(y, 8000, DbShift(spec, 6.0), spec, n_iter=4)
    assert np.abs(out).max() <= 0.99 + 1e-6


class MaxRecorder(nn.Module):
    """Identity that records the largest model-scale value it was fed."""

    def __init__(self):
        super().__init__()
        self.seen = -1.0

    def forward(self, x):
        self.seen = max(self.seen, float(x.max()))
        return x


def test_input_is_fed_at_the_trained_peak_level(spec):
    y = 0.01 * _noisy_tone(1.0, 8000) / np.abs(_noisy_tone(1.0, 8000)).max()  # peak -40 dBFS
    plain, lifted = MaxRecorder(), MaxRecorder()
    out_plain = I.translate_signal(y, 8000, plain, spec, n_iter=2)
    out_lifted = I.translate_signal(y, 8000, lifted, spec, n_iter=2, input_peak_db=-1.0)
    expected = 2.0 * 39.0 / (spec.db_ceiling - spec.db_floor)  # +39 dB on the model scale
    assert lifted.seen - plain.seen == pytest.approx(expected, abs=1e-3)
    # loudness matching undoes the lift: the output sits at the input's level either way
    np.testing.assert_allclose(out_lifted, out_plain, atol=1e-4)
