"""benchmarks/instrument_set.py with a stand-in fluidsynth that reads the MIDI file it is given:
the notes in meta.json are the notes heard, pairs share them, alike programs are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cyclegan_audio.audio import load_with_rate

from .conftest import fake_tool_and_script

# A stand-in for fluidsynth: "-ni -q -g G -r SR -F OUT SF2 MID" parses the standard MIDI file
# (its own reader, not the script's writer) and renders each note as a sine at the note's
# pitch, with a second harmonic whose weight is the program / 127 (so programs sound
# different), stereo, at 22,050 Hz. ALIKE=1 in the environment ignores the program.
FAKE = """
import os, struct, sys
import numpy as np, soundfile as sf
a = sys.argv[1:]
out, mid = a[a.index("-F") + 1], a[-1]
data = open(mid, "rb").read()
assert data[:4] == b"MThd"
division = struct.unpack(">H", data[12:14])[0]
pos, end = 22, 22 + struct.unpack(">I", data[18:22])[0]
tick, program, on, notes = 0, 0, {}, []
while pos < end:
    delta = 0
    while True:
        b = data[pos]; pos += 1
        delta = (delta << 7) | (b & 0x7F)
        if b < 0x80: break
    tick += delta
    status = data[pos]
    if status == 0xFF:
        pos += 3 + data[pos + 2]
    elif status & 0xF0 == 0xC0:
        program = data[pos + 1]; pos += 2
    elif status & 0xF0 == 0x90:
        on[data[pos + 1]] = tick; pos += 3
    elif status & 0xF0 == 0x80:
        notes.append((on.pop(data[pos + 1]), tick, data[pos + 1])); pos += 3
    else:
        raise SystemExit(f"unexpected status {status:#x}")
seconds = lambda t: t / division * 0.5  # 120 bpm
y = np.zeros(int(22050 * 21))
h2 = 0.0 if os.environ.get("ALIKE") else program / 127
for t0, t1, pitch in notes:
    i0, i1 = int(seconds(t0) * 22050), int(seconds(t1) * 22050)
    t = np.arange(i1 - i0) / 22050
    f = 440.0 * 2 ** ((pitch - 69) / 12)
    y[i0:i1] += 0.2 * (np.sin(2 * np.pi * f * t) + h2 * np.sin(4 * np.pi * f * t))
sf.write(out, np.stack([y, y], axis=1), int(a[a.index("-r") + 1]))
"""


@pytest.fixture
def instrument_set(tmp_path, monkeypatch):
    mod = fake_tool_and_script(tmp_path, monkeypatch, "fluidsynth", FAKE, "instrument_set")
    sf2 = tmp_path / "fake.sf2"
    sf2.write_bytes(b"RIFF")
    return mod, sf2


def _f0(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y)), 8 * len(y)))
    return float(np.fft.rfftfreq(8 * len(y), 1 / sr)[spectrum.argmax()])


def test_melody_follows_the_readme(instrument_set):
    mod, _ = instrument_set
    for seed in range(5):
        notes = mod.melody(np.random.default_rng(seed))
        assert len(notes) > 10
        for (s0, e0, p0, v0), nxt in zip(notes, notes[1:] + [None]):
            assert 0 <= s0 < e0 <= mod.CLIP_S - 1.0 and 0.2 <= e0 - s0 <= 1.0
            assert 62 <= p0 <= 84 and 70 <= v0 <= 110
            if nxt is not None:
                assert nxt[0] >= e0  # monophonic
        pcs = {p % 12 for _, _, p, _ in notes}
        assert any(all((p - r) % 12 in mod.MAJOR for p in pcs) for r in range(12))  # one key


def test_layout_and_the_notes_heard(instrument_set, tmp_path):
    mod, sf2 = instrument_set
    out = tmp_path / "set"
    args = [str(out), "--prog-a", "40", "--prog-b", "24", "--sf2", str(sf2)]
    assert mod.main(args + ["--train", "1", "--test", "1"]) == 0
    for d in ("A", "B"):
        assert [p.name for p in (out / "train" / d).iterdir()] == [f"{d}_000.flac"]
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["prog_a"], meta["prog_b"], meta["sr"]) == (40, 24, 22050)
    notes = meta["test"]["pair_000.flac"]
    a, sr = load_with_rate(out / "test" / "A" / "pair_000.flac")
    b, _ = load_with_rate(out / "test" / "B" / "pair_000.flac")
    assert sr == 22050 and len(a) == len(b) == 20 * 22050 and not np.allclose(a, b)
    for start, end, pitch, _ in notes:
        mid = slice(int((start + 0.05) * sr), int((end - 0.05) * sr))
        truth = 440.0 * 2 ** ((pitch - 69) / 12)
        assert _f0(a[mid], sr) == pytest.approx(truth, rel=0.01)
        assert _f0(b[mid], sr) == pytest.approx(truth, rel=0.01)
    # silence outside the notes: the rests and the gaps between notes are where meta says
    first = int(notes[0][0] * sr)
    assert np.abs(a[: max(0, first - 10)]).max(initial=0.0) < 1e-6
    ta, _ = load_with_rate(out / "train" / "A" / "A_000.flac")
    tb, _ = load_with_rate(out / "train" / "B" / "B_000.flac")
    assert not np.allclose(np.abs(ta) > 1e-3, np.abs(tb) > 1e-3)  # different melodies


def test_alike_programs_and_existing_folders_write_nothing(
    instrument_set, tmp_path, monkeypatch, capsys
):
    mod, sf2 = instrument_set
    out = tmp_path / "set"
    args = [str(out), "--prog-a", "40", "--prog-b", "24", "--sf2", str(sf2)]
    monkeypatch.setenv("ALIKE", "1")
    assert mod.main(args) == 1
    assert "render alike" in capsys.readouterr().err and not out.exists()
    monkeypatch.delenv("ALIKE")
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert mod.main(args) == 1
    assert "exists" in capsys.readouterr().err and (out / "keep.txt").read_text() == "mine"
    assert mod.main([str(tmp_path / "new"), "--prog-a", "1", "--prog-b", "2",
                     "--sf2", str(tmp_path / "none.sf2")]) == 1  # fmt: skip
    assert "no such SoundFont" in capsys.readouterr().err
