"""The pitch term (``--lambda-pitch``, `losses.pitch_kept_loss`): known answers and training."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from benchmarks import pitch_term
from cyclegan_audio import losses, register, val_score
from cyclegan_audio.errors import TrainingError
from cyclegan_audio.model import CycleGan, TrainConfig
from cyclegan_audio.networks import tiny_config
from tests.test_train import fit_spying, make_prepared, run_main
from tests.test_val_score import SPEC, THIRD, _melodies


@pytest.fixture(scope="module")
def melodies() -> torch.Tensor:
    return _melodies(220.0, 4, seed=3)


def _tilted(x: torch.Tensor, db_at_top: float) -> torch.Tensor:
    """Another timbre, the same notes: a gain rising linearly to ``db_at_top`` at the top row."""
    span = SPEC.db_ceiling - SPEC.db_floor
    tilt = torch.linspace(0.0, db_at_top, x.shape[-2])[:, None] * (2.0 / span)
    return (x + tilt).clamp(-1.0, 1.0)


def test_keeping_the_notes_costs_nothing_and_moving_them_costs(melodies):
    x = melodies
    assert float(losses.pitch_kept_loss(x, x, SPEC)) == 0.0
    semitone = register.FrequencyWarp(SPEC, 1.0)(x)
    third = _melodies(220.0, 4, seed=3, shift=THIRD)
    other = _melodies(220.0, 4, seed=9)
    brighter = _tilted(x, 12.0)
    moved = [float(losses.pitch_kept_loss(x, y, SPEC)) for y in (semitone, third, other)]
    kept = float(losses.pitch_kept_loss(x, brighter, SPEC))
    assert min(moved) > 0.3  # the source's pitch no longer leads: most of the margin is owed
    assert kept < 0.1 * min(moved)  # a new timbre over the same notes is nearly free


def test_a_register_move_asks_for_the_moved_pitch(melodies):
    x = melodies
    octave_up = _melodies(220.0, 4, seed=3, shift=2.0)  # the same melodies sung an octave up
    moved = float(losses.pitch_kept_loss(x, octave_up, SPEC, semitones=12.0))
    assert float(losses.pitch_kept_loss(x, octave_up, SPEC)) > 5 * moved
    assert float(losses.pitch_kept_loss(x, x, SPEC, semitones=12.0)) > 5 * moved
    # a move past the tracker's range asks for nothing rather than for an edge pitch
    assert float(losses.pitch_kept_loss(x, x, SPEC, semitones=60.0)) == 0.0


def test_unvoiced_source_frames_ask_for_nothing(melodies):
    silence = -torch.ones_like(melodies)
    assert float(losses.pitch_kept_loss(silence, melodies, SPEC)) == 0.0


def test_its_gradient_brings_a_moved_note_back(melodies):
    src = melodies[:1]
    fake = register.FrequencyWarp(SPEC, 1.0)(src).clone().requires_grad_(True)
    before = float(losses.pitch_kept_loss(src, fake.detach(), SPEC))
    opt = torch.optim.Adam([fake], lr=0.02)
    for _ in range(60):
        opt.zero_grad()
        losses.pitch_kept_loss(src, fake, SPEC).backward()
        opt.step()
        with torch.no_grad():
            fake.clamp_(-1.0, 1.0)
    after = float(losses.pitch_kept_loss(src, fake.detach(), SPEC))
    assert after < 0.2 * before
    # the tracker now reads the source's pitch in the voiced frames
    hz_src, conf = val_score.pitch_and_confidence(src, SPEC)
    voiced = val_score.voiced_frames(src, conf) > 0
    hz_fake = val_score.frame_pitch(fake.detach(), SPEC)
    cents = 1200 * torch.log2(hz_fake / hz_src)[voiced]  # the grid: quarter semitones
    assert voiced.sum() >= 4 and float((cents.abs() <= 50.1).float().mean()) > 0.8


def test_negative_weight_is_refused():
    with pytest.raises(TrainingError, match="--lambda-pitch -1"):
        TrainConfig(lambda_pitch=-1)


def test_training_adds_the_term_for_both_directions(tmp_path, monkeypatch):
    net = dataclasses.replace(tiny_config(), register_shift=3.0)
    train = TrainConfig(pool_size=4, lambda_pitch=2.0)
    seen, model, dm = fit_spying(tmp_path, monkeypatch, "pitch_kept_loss", train, net)
    assert seen and len(seen) % 2 == 0 and all(a[1] is dm.spec for a in seen)
    assert [a[2] for a in seen[:2]] == [3.0, -3.0]  # each direction its own move
    real_a, real_b = torch.rand(2, 2, 1, *dm.spec.tile_shape) * 2 - 1
    _, terms, _, _ = model.generator_loss(real_a, real_b)
    assert {"loss/pitch_ab", "loss/pitch_ba"} <= set(terms)
    off = CycleGan(dm.spec, tiny_config(), TrainConfig(pool_size=4))
    assert "loss/pitch_ab" not in off.generator_loss(real_a, real_b)[1]


def test_the_scale_script_on_a_tiny_run(tmp_path, capsys):
    data = make_prepared(tmp_path / "data")
    assert run_main(data, tmp_path / "ck", "--max-steps", "2") == 0
    ckpt = tmp_path / "ck" / "r" / "last.ckpt"
    rows = dict(pitch_term.measure(ckpt, data, 4, reverse=False))
    assert rows["the source, untouched"] == 0.0
    assert all(v >= 0.0 for v in rows.values()) and len(rows) == 4
    assert pitch_term.main([str(ckpt), str(data), "--tiles", "2", "--reverse"]) == 0
    assert "BtoA translation" in capsys.readouterr().out
    assert pitch_term.main([str(tmp_path / "none.ckpt"), str(data)]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
