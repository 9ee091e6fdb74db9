"""The validation score on synthetic tiles with known answers (lower is better)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cyclegan_audio import spectrogram as S
from cyclegan_audio import val_score
from cyclegan_audio.spec import SpectrogramSpec
from tests.conftest import harmonic_tone

# 256 bins (31 Hz) x 64 frames of 8 ms: fine enough to read the pitch of a 220 Hz tone.
SPEC = SpectrogramSpec(sample_rate=16000, n_fft=510, hop_length=128, tile_frames=64)
THIRD = 2 ** (3 / 12)


def _melody_tile(f0s_hz, lengths, seed: int) -> torch.Tensor:
    """One tile (1, 1, F, T) on the model scale: struck harmonic notes of the given pitches,
    each ``lengths[i]`` frames long (onsets where a note starts)."""
    sr, hop = SPEC.sample_rate, SPEC.hop_length
    notes = [
        harmonic_tone(f, n * hop / sr, sr, n_harm=8, decay=3.0) for f, n in zip(f0s_hz, lengths)
    ]
    y = np.concatenate(notes)
    y = y + 1e-4 * np.random.default_rng(seed).standard_normal(y.size).astype(np.float32)
    unit = S.magnitude_to_unit(S.stft(torch.from_numpy(y), SPEC).abs(), SPEC)
    return S.unit_to_model(unit[..., : SPEC.tile_frames])[None, None]


def _melodies(base_hz: float, n: int, seed: int, shift: float = 1.0) -> torch.Tensor:
    """n tiles (n, 1, F, T) of 4-note melodies within an octave above base_hz, random note
    lengths (so unrelated tiles have unrelated onsets), all pitches times ``shift``."""
    rng = np.random.default_rng(seed)
    tiles = []
    for i in range(n):
        f0s = base_hz * 2 ** (rng.choice(12, 4, replace=False) / 12) * shift
        cuts = np.sort(rng.choice(np.arange(8, 60), 3, replace=False))
        lengths = np.diff([0, *cuts, SPEC.tile_frames + 8])
        tiles.append(_melody_tile(f0s, lengths, seed * 100 + i))
    return torch.cat(tiles)


@pytest.fixture(scope="module")
def sets():
    """Domain A: melodies around 220 Hz, quietly decaying; B: around 440 Hz (an octave up)."""
    return {
        "a": _melodies(220.0, 6, 0),
        "b": _melodies(440.0, 6, 1),
        "b_other": _melodies(440.0, 6, 2),  # more real B tiles, unrelated to the A tiles
        "a_other": _melodies(220.0, 6, 3),
    }


def _score(sets, fake_b, fake_a, rec_a=None, rec_b=None) -> dict[str, float]:
    cnn = val_score.RandomFeatures()
    a, b = sets["a"], sets["b"]
    stats_a = val_score.direction_stats(a, fake_b, a if rec_a is None else rec_a, cnn, SPEC)
    stats_b = val_score.direction_stats(b, fake_a, b if rec_b is None else rec_b, cnn, SPEC)
    return val_score.score(stats_a, stats_b)


def test_features_are_fixed_across_instances(sets):
    x = sets["a"][:2]
    assert torch.equal(val_score.RandomFeatures()(x), val_score.RandomFeatures()(x))


def test_identity_translation_scores_one_on_domain_and_zero_on_content(sets):
    r = _score(sets, sets["a"], sets["b"])
    assert r["domain_ab"] == pytest.approx(1.0) and r["domain_ba"] == pytest.approx(1.0)
    assert r["pitch"] == r["onset"] == r["cycle"] == pytest.approx(0.0, abs=1e-9)
    assert r["score"] == pytest.approx(1.0)
    assert r["domain_sep"] > 3  # the two synthetic domains are far apart along the discriminant


def test_real_target_tiles_score_zero_on_domain_and_chance_on_content(sets):
    same = _score(sets, sets["b"], sets["a"])  # the very tiles the discriminant was fitted on
    assert same["domain_ab"] == pytest.approx(0.0, abs=1e-9) and same["domain_ba"] < 1e-9
    other = _score(sets, sets["b_other"], sets["a_other"])  # unseen real tiles of each target
    assert other["domain_ab"] < 0.25 and other["domain_ba"] < 0.25
    # Unrelated audio keeps no content: pitch and onset terms near their chance level, 1.
    assert 0.6 < other["pitch"] < 1.4 and 0.6 < other["onset"] < 1.4
    assert other["score"] > 0.6


def test_transposed_melody_keeps_the_contour_term_where_absolute_pitch_fails(sets):
    """A constant transposition (a minor third) is what a register change does: the contour
    term stays perfect, while the share of frames at the same absolute pitch is ~0."""
    up_a = _melodies(220.0, 6, 0, shift=THIRD)  # the A melodies, a minor third up
    up_b = _melodies(440.0, 6, 1, shift=THIRD)
    r = _score(sets, up_a, up_b)
    assert r["pitch_kept"] > 0.95 and r["pitch"] < 0.1
    src_hz, confidence = val_score.pitch_and_confidence(sets["a"], SPEC)
    out_hz = val_score.frame_pitch(up_a, SPEC)
    loud = val_score.voiced_frames(sets["a"], confidence) > 0
    cents = (1200 * torch.log2(out_hz / src_hz)).abs() % 1200
    same_pitch = (torch.minimum(cents, 1200 - cents) < 50) & loud  # the old, absolute term
    assert float(same_pitch.sum() / loud.sum()) < 0.1
    assert float(val_score.contour_kept(src_hz, out_hz, loud.float()).mean()) > 0.95


def test_scrambled_time_order_is_penalised_by_onset_and_contour_terms(sets):
    keep = _score(sets, sets["a"], sets["b"])
    perm = torch.randperm(SPEC.tile_frames, generator=torch.Generator().manual_seed(0))
    mixed = _score(sets, sets["a"][..., perm], sets["b"][..., perm])
    assert mixed["onset"] > 0.7 and mixed["pitch"] > 0.5
    # Past halfway to chance the guarded terms count: the cycle is perfect here (rec = real),
    # so only they can tell the scrambled translation from the kept one.
    assert mixed["score"] > keep["score"] + 0.4
    for r in (keep, mixed):  # the score is the sum of its parts
        content = r["cycle"] + sum(val_score.guard(r[k]) for k in ("pitch", "onset"))
        assert r["score"] == pytest.approx(0.5 * (r["domain_ab"] + r["domain_ba"]) + content)


def test_guard_known_answers():
    assert val_score.guard(0.0) == val_score.guard(0.5) == 0.0
    assert val_score.guard(0.75) == pytest.approx(0.5) and val_score.guard(1.0) == 1.0
    assert val_score.guard(0.625) == pytest.approx(0.15625)  # u = 1/4: u^2 (3 - 2u)
    assert val_score.guard(1.3) == 1.0  # beyond chance is chance


def test_guard_is_flat_at_chance():
    """At chance the guard's slope is 0: a term that wobbles around 1 from epoch to epoch
    moves the score far less than the linear guard's 2 x the wobble."""
    wobble = val_score.guard(1.0) - val_score.guard(0.95)  # 1 - 0.9^2 (3 - 1.8) = 0.028
    assert wobble == pytest.approx(0.028) and wobble < 0.3 * (2 * 0.05)  # linear: 0.1


def test_content_noise_below_halfway_to_chance_does_not_move_the_score(sets):
    """A translation that keeps most of the melody and rhythm (the input with noise): its
    pitch and onset terms are above 0 but below halfway to chance and add nothing."""
    a, b = sets["a"], sets["b"]
    g = torch.Generator().manual_seed(1)
    noisy_a = (a + 0.3 * torch.randn(a.shape, generator=g)).clamp(-1, 1)
    noisy_b = (b + 0.3 * torch.randn(b.shape, generator=g)).clamp(-1, 1)
    r = _score(sets, noisy_a, noisy_b)
    assert 0 < r["pitch"] < 0.5 and 0 < r["onset"] < 0.5
    assert r["score"] == pytest.approx(0.5 * (r["domain_ab"] + r["domain_ba"]) + r["cycle"])


def test_cycle_term_is_zero_for_a_perfect_cycle_and_one_for_an_unrelated_tile(sets):
    a, b = sets["a"], sets["b"]
    perfect = _score(sets, b, a)
    unrelated = _score(sets, b, a, rec_a=a.roll(1, 0), rec_b=b.roll(1, 0))
    assert perfect["cycle"] == 0.0
    # Each reconstruction is another real tile of its domain: the chance level, about 1.
    assert 0.7 < unrelated["cycle"] < 1.3 and unrelated["cycle_l1"] > 0


def test_contour_kept_known_answers():
    src = torch.tensor([[220.0, 220.0, 330.0, 330.0]])
    loud = torch.ones(1, 4)
    assert float(val_score.contour_kept(src, src * 2**0.5, loud)) == 1.0  # any constant shift
    assert float(val_score.contour_kept(src, src * 2.0 ** torch.tensor([0, 0, 0, 1]), loud)) == 1.0
    # Half the notes move a fifth against the others: half the frames leave the contour.
    moved = src * torch.tensor([1.0, 1.0, 1.5, 1.5])
    assert float(val_score.contour_kept(src, moved, loud)) == 0.5
    assert float(val_score.contour_kept(src, moved, torch.zeros(1, 4))) == 1.0  # nothing loud


def test_wasserstein_1d_known_answers():
    x = torch.tensor([0.0, 1.0, 2.0])
    assert float(val_score.wasserstein_1d(x, x + 0.5)) == pytest.approx(0.5)
    assert float(val_score.wasserstein_1d(x, torch.tensor([1.0]))) == pytest.approx(2 / 3)
    assert float(val_score.wasserstein_1d(x, x.flip(0))) == 0.0


def test_score_without_spec_leaves_pitch_out(sets):
    cnn = val_score.RandomFeatures()
    a, b = sets["a"], sets["b"]
    stats_b = val_score.direction_stats(b, b, b, cnn)
    r = val_score.score(val_score.direction_stats(a, a, a, cnn), stats_b)
    assert "pitch" not in r and r["score"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 2 tiles"):
        val_score.score(val_score.direction_stats(a[:1], a[:1], a[:1], cnn), stats_b)


def test_pitch_confidence_tells_a_tone_from_noise():
    tone = _melody_tile([220.0], [SPEC.tile_frames + 8], 0)
    y = 0.1 * np.random.default_rng(0).standard_normal(SPEC.tile_frames * SPEC.hop_length)
    unit = S.magnitude_to_unit(S.stft(torch.from_numpy(y.astype(np.float32)), SPEC).abs(), SPEC)
    noise = S.unit_to_model(unit[..., : SPEC.tile_frames])[None, None]
    _, c_tone = val_score.pitch_and_confidence(tone, SPEC)
    _, c_noise = val_score.pitch_and_confidence(noise, SPEC)
    assert float(c_tone.median()) > 2 * val_score.PITCH_MIN_CONFIDENCE / 1.5
    assert float(c_noise.median()) < val_score.PITCH_MIN_CONFIDENCE
    assert float(val_score.voiced_frames(noise, c_noise).mean()) < 0.1
