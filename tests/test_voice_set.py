"""benchmarks/voice_set.py with a stand-in espeak-ng: layout, pairs aligned, alike voices refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cyclegan_audio.audio import load_with_rate

from .conftest import fake_tool_and_script

# A stand-in for espeak-ng: "-v VOICE -s WPM -w OUT TEXT" writes a sine whose pitch follows
# the voice (f2 200 Hz, anything else 100 Hz) and whose length follows the text, the f2 voice
# 10 % slower, at 22,050 Hz. ALIKE=1 in the environment renders every voice at 100 Hz.
FAKE = """
import os, sys
import numpy as np, soundfile as sf
a = sys.argv[1:]
if a == ["--version"]:
    print("fake espeak-ng 0"); sys.exit(0)
voice, out, text = a[a.index("-v") + 1], a[a.index("-w") + 1], a[-1]
f0 = 200.0 if voice.endswith("+f2") and not os.environ.get("ALIKE") else 100.0
n = int(22050 * 0.1 * len(text) * (1.1 if f0 == 200.0 else 1.0))
t = np.arange(n) / 22050
sf.write(out, 0.5 * np.sin(2 * np.pi * f0 * t), 22050)
"""


@pytest.fixture
def voice_set(tmp_path, monkeypatch):
    mod = fake_tool_and_script(tmp_path, monkeypatch, "espeak-ng", FAKE, "voice_set")
    return mod


def _f0(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[spectrum.argmax()])


def test_layout_pitch_and_aligned_pairs(voice_set, tmp_path):
    out = tmp_path / "set"
    assert voice_set.main([str(out), "--train", "1", "--test", "1"]) == 0
    for d in ("A", "B"):
        assert [p.name for p in (out / "train" / d).iterdir()] == [f"{d}_000.flac"]
    a, sr = load_with_rate(out / "test" / "A" / "pair_000.flac")
    b, _ = load_with_rate(out / "test" / "B" / "pair_000.flac")
    assert sr == 22050 and len(a) == len(b) == 20 * 22050
    assert _f0(a, sr) == pytest.approx(100, abs=2) and _f0(b, sr) == pytest.approx(200, abs=2)
    # every sentence starts at the same sample in both voices (padded to the longer one)
    starts = lambda y: np.flatnonzero(np.diff((np.abs(y) > 1e-3).astype(int)) == 1)  # noqa: E731
    onsets_a, onsets_b = starts(a), starts(b)
    assert len(onsets_a) >= 2
    sentence_starts = lambda s: s[np.diff(s, prepend=-(10**9)) > 2000]  # noqa: E731
    assert np.array_equal(sentence_starts(onsets_a), sentence_starts(onsets_b))
    meta = json.loads((out / "meta.json").read_text())
    assert meta["test"] == {"pair_000.flac": None} and meta["voice_b"] == "en+f2"
    # training clips hold different sentences in the two domains
    ta, _ = load_with_rate(out / "train" / "A" / "A_000.flac")
    tb, _ = load_with_rate(out / "train" / "B" / "B_000.flac")
    assert not np.array_equal(starts(ta), starts(tb))


def test_alike_voices_write_nothing(voice_set, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ALIKE", "1")
    out = tmp_path / "set"
    assert voice_set.main([str(out)]) == 1
    assert "render alike" in capsys.readouterr().err and not out.exists()


def test_existing_folder_is_not_touched(voice_set, tmp_path, capsys):
    out = tmp_path / "set"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert voice_set.main([str(out)]) == 1
    assert "exists" in capsys.readouterr().err and (out / "keep.txt").read_text() == "mine"


def test_chosen_voices(voice_set, tmp_path, capsys):
    out = tmp_path / "set"
    args = [str(out), "--train", "1", "--test", "1", "--voice-a", "en+m3", "--voice-b", "en+f2"]
    assert voice_set.main(args) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["voice_a"], meta["voice_b"]) == ("en+m3", "en+f2")
    b, sr = load_with_rate(out / "test" / "B" / "pair_000.flac")
    assert _f0(b, sr) == pytest.approx(200, abs=2)
    # two voices the stand-in renders alike (both 100 Hz, same length): refused by name
    other = tmp_path / "other"
    assert voice_set.main([str(other), "--voice-a", "en+m1", "--voice-b", "en+m3"]) == 1
    assert "en+m1 and en+m3 render alike" in capsys.readouterr().err and not other.exists()
