"""Pieces of training with known answers: pool, losses, lr rule, validation score."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cyclegan_audio import losses, val_score
from cyclegan_audio.image_pool import ImagePool
from cyclegan_audio.model import lr_factor


def test_pool_fills_then_swaps_and_round_trips():
    pool = ImagePool(3, seed=1)
    batches = [torch.full((1, 1, 2, 2), float(i)) for i in range(20)]
    for b in batches[:3]:
        assert torch.equal(pool.query(b), b)  # while filling: returns the fresh fake
    assert len(pool) == 3
    clone = ImagePool(3)
    clone.load_state_dict(pool.state_dict())
    outs = [float(pool.query(b)[0, 0, 0, 0]) for b in batches[3:]]
    assert outs == [float(clone.query(b)[0, 0, 0, 0]) for b in batches[3:]]
    assert any(o < i + 3 for i, o in enumerate(outs))  # some historical fakes come back
    assert torch.equal(ImagePool(0).query(batches[5]), batches[5])


def test_lsgan_and_discriminator_losses():
    ones, zeros = torch.ones(2, 1, 3, 3), torch.zeros(2, 1, 3, 3)
    assert float(losses.gan_loss(ones, True)) == 0.0
    assert float(losses.gan_loss(ones, False)) == 1.0
    assert float(losses.discriminator_loss(ones, zeros)) == 0.0
    assert float(losses.discriminator_loss(zeros, ones)) == 1.0
    assert float(losses.l1(ones, zeros)) == 1.0


def test_lr_rule_matches_reference_linear_policy():
    assert [lr_factor(e, 100, 100) for e in (0, 99)] == [1.0, 1.0]
    assert lr_factor(100, 100, 100) == pytest.approx(1 - 1 / 101)
    assert lr_factor(199, 100, 100) == pytest.approx(1 - 100 / 101)


def _tiles(n: int, band: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = 0.2 * torch.rand(n, 1, 64, 64, generator=g)
    x[:, :, band : band + 4] += 0.6
    x[:, :, :, ::8] += 0.2  # onsets every 8 frames
    return x * 2 - 1


def test_features_are_fixed_across_instances():
    x = _tiles(2, 10, 0)
    assert torch.equal(val_score.RandomFeatures()(x), val_score.RandomFeatures()(x))


def test_score_prefers_translations_that_look_like_the_target_and_keep_timing():
    cnn = val_score.RandomFeatures()
    real_a, real_b = _tiles(8, 10, 0), _tiles(8, 40, 1)
    good_ab, good_ba = _tiles(8, 40, 2), _tiles(8, 10, 3)  # target domain, same onsets
    a_good = val_score.direction_stats(real_a, good_ab, real_a, cnn)
    b_good = val_score.direction_stats(real_b, good_ba, real_b, cnn)
    a_idle = val_score.direction_stats(real_a, real_a, real_a, cnn)  # identity "translation"
    b_idle = val_score.direction_stats(real_b, real_b, real_b, cnn)
    good, idle = val_score.score(a_good, b_good), val_score.score(a_idle, b_idle)
    assert idle["mmd_ab"] == pytest.approx(1.0) and idle["env_corr"] == pytest.approx(1.0)
    assert good["mmd_ab"] < 0.2 and good["score"] < idle["score"]
    # Same spectra but timing destroyed (frames shuffled) must score worse than keeping it.
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    a_shuf = val_score.direction_stats(real_a, good_ab[..., perm], real_a, cnn)
    b_shuf = val_score.direction_stats(real_b, good_ba[..., perm], real_b, cnn)
    assert val_score.score(a_shuf, b_shuf)["env_corr"] < good["env_corr"] - 0.5
    # A bad reconstruction raises the cycle term.
    a_bad = val_score.direction_stats(real_a, good_ab, -real_a, cnn)
    assert val_score.score(a_bad, b_good)["cycle_l1"] > good["cycle_l1"] + 0.3


def _tone_tile(f0_hz: float, spec) -> torch.Tensor:
    """One tile (1, 1, F, T) on the model scale of a harmonic tone at f0_hz."""
    from cyclegan_audio import spectrogram as S
    from tests.conftest import harmonic_tone

    seconds = spec.tile_frames * spec.hop_length / spec.sample_rate
    y = torch.from_numpy(harmonic_tone(f0_hz, seconds, spec.sample_rate, n_harm=8))
    unit = S.magnitude_to_unit(S.stft(y, spec).abs(), spec)[..., : spec.tile_frames]
    return S.unit_to_model(unit)[None, None]


def test_pitch_term_knows_a_kept_a_shifted_and_an_octave_shifted_melody():
    from cyclegan_audio.spec import SpectrogramSpec

    spec = SpectrogramSpec(sample_rate=16000, n_fft=510, hop_length=128, tile_frames=32)
    src = _tone_tile(220.0, spec)
    assert abs(1200 * np.log2(float(val_score.frame_pitch(src, spec).median()) / 220.0)) < 25
    same = val_score.pitch_match(src, _tone_tile(220.0, spec), spec)
    third = val_score.pitch_match(src, _tone_tile(220.0 * 2 ** (3 / 12), spec), spec)
    octave = val_score.pitch_match(src, _tone_tile(440.0, spec), spec)
    assert float(same) == 1.0 and float(third) == 0.0 and float(octave) == 1.0
    # ...and it enters the score: a pitch-shifted translation scores worse, all else equal.
    cnn = val_score.RandomFeatures()
    srcs = torch.cat([src, _tone_tile(330.0, spec)])
    kept = torch.cat([_tone_tile(220.0, spec), _tone_tile(330.0, spec)])
    moved = torch.cat([_tone_tile(262.0, spec), _tone_tile(392.0, spec)])

    def total(fake):
        stats = val_score.direction_stats(srcs, fake, srcs, cnn, spec)
        return val_score.score(stats, stats)

    good, bad = total(kept), total(moved)
    assert good["pitch_match"] == 1.0 and bad["pitch_match"] == 0.0
    for r in (good, bad):  # the score is the sum of its parts, the pitch term included
        parts = 0.5 * (r["mmd_ab"] + r["mmd_ba"]) + r["cycle_l1"] + (1 - r["env_corr"])
        assert r["score"] == pytest.approx(parts + 1 - r["pitch_match"], abs=1e-9)
