"""Demo data: deterministic by seed, paired test set, notes that the audio follows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cyclegan_audio import metrics as M
from cyclegan_audio.audio import find_audio_files, load
from cyclegan_audio.cli.make_demo_data import main
from cyclegan_audio.synth import random_melody


def _make(out, seed):
    args = [
        "--out",
        str(out),
        "--seed",
        str(seed),
        "--n-train",
        "2",
        "--n-test",
        "2",
        "--seconds",
        "3",
    ]
    assert main(args) == 0
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_audio(tmp_path):
    first, again, other = (_make(tmp_path / n, s) for n, s in (("a", 3), ("b", 3), ("c", 4)))
    assert first == again
    assert sorted(first) == sorted(other)
    assert all(first[k] != other[k] for k in first if k.endswith(".wav"))


def test_layout_pairing_and_notes(tmp_path):
    _make(tmp_path, 0)
    names = lambda d: [p.name for p in find_audio_files(tmp_path / d)]  # noqa: E731
    assert names("train/A") == ["A_000.wav", "A_001.wav"] and names("train/B") == [
        "B_000.wav",
        "B_001.wav",
    ]
    assert names("test/A") == names("test/B") == ["pair_000.wav", "pair_001.wav"]
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["sr"] == 16000 and sorted(meta["test"]) == names("test/A")
    for notes in meta["test"].values():
        assert notes, "every test file has notes"
        starts = [n[0] for n in notes]
        assert starts == sorted(starts) and all(0 <= n[0] < n[1] <= 3.0 for n in notes)
    # unpaired training: the two domains' training files play different melodies
    a, b = (load(tmp_path / f"train/{d}/{d}_000.wav", 16000) for d in "AB")
    ta, tb = M.pitch_track(a, 16000), M.pitch_track(b, 16000)
    assert M.pitch_accuracy_vs_track(tb, ta) < 0.5


def test_both_domains_play_the_notes(tmp_path):
    _make(tmp_path, 1)
    notes = json.loads((tmp_path / "meta.json").read_text())["test"]["pair_000.wav"]
    for domain in "AB":
        y = load(tmp_path / f"test/{domain}/pair_000.wav", 16000)
        assert np.abs(y).max() < 1.0
        track = M.pitch_track(y, 16000, M.midi_range_for_notes(notes))
        assert M.pitch_accuracy_vs_notes(track, notes) > 0.9, domain


def test_melody_stays_in_range():
    notes = random_melody(np.random.default_rng(5), 20.0)
    assert len(notes) > 10
    assert all(55 <= n[2] <= 84 and 70 <= n[3] < 115 for n in notes)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--n-train", "0"])
