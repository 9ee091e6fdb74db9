"""benchmarks/error_anatomy.py: known answers on a synthetic pair set."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from benchmarks import error_anatomy as anatomy_mod

from .conftest import harmonic_tone

SR = 22050


def test_time_since_onset():
    t = np.array([0.0, 0.1, 0.5, 1.2, 2.0, 2.05])
    since = anatomy_mod.since_onset(t, [[0.05, 1.0, 60, 90], [2.0, 2.5, 62, 90]])
    assert np.isinf(since[0]) and np.isinf(since[3])
    assert since[1:3] == pytest.approx([0.05, 0.45]) and since[4:] == pytest.approx([0.0, 0.05])


def test_a_tail_too_loud_shows_as_a_bias_late_in_the_note(tmp_path, capsys):
    # truth: a plucked tone that decays; "translation": the same tone held at its attack level
    n = SR
    for d in ("test/A", "test/B", "held"):
        (tmp_path / d).mkdir(parents=True)
    held = harmonic_tone(220.0, 1.0, SR, n_harm=6)
    plucked = harmonic_tone(220.0, 1.0, SR, n_harm=6, decay=6.0)
    sf.write(tmp_path / "test/A/pair_000.flac", held, SR)
    sf.write(tmp_path / "test/B/pair_000.flac", plucked, SR)
    sf.write(tmp_path / "held/pair_000.flac", held[:n], SR)
    (tmp_path / "meta.json").write_text(
        json.dumps({"test": {"pair_000.flac": [[0.0, 1.0, 57, 90]]}})
    )
    out = tmp_path / "a.json"
    assert (
        anatomy_mod.main([str(tmp_path), "input", str(tmp_path / "held"), "--json", str(out)]) == 0
    )
    res = json.loads(out.read_text())
    cells = res[str(tmp_path / "held")]
    assert res["input"] == cells  # the sources are the held tone
    # exp(-6 t) is 26 dB down by 0.5 s; the band's mean also counts the floored bins
    # between the harmonics, which the held tone does not fill either
    labels = ["0-50ms", "50-100ms", "100-200ms", "200-300ms", "300-500ms", "500-750ms"]
    bias = [cells["<2k " + k]["bias"] for k in labels]
    assert abs(bias[0]) < 3.0 and bias[-1] > 15.0
    assert all(b2 > b1 for b1, b2 in zip(bias, bias[1:]))  # too loud, more so the later
    assert cells["all"]["lsd"] > 0 and "0-0.5k" in cells
    # held against decaying at exp(-6 t) over 1 s: 10*log10(12 / (1 - e^-12)) = 10.8 dB louder
    assert cells["all"]["rms"] == pytest.approx(10.8, abs=0.1)
    assert "bias (dB)" in capsys.readouterr().out
    assert anatomy_mod.main([str(tmp_path / "nowhere"), "input"]) == 2
    assert "no audio files" in capsys.readouterr().err
