"""benchmarks/epoch_lsd.py: the per-epoch score and LSD of a tiny run; the summary's known answers."""

from __future__ import annotations

import json

import pytest
import soundfile as sf
import torch

from benchmarks import epoch_lsd
from cyclegan_audio.checkpoint import read_checkpoint
from tests.test_train import make_prepared, run_main

from .conftest import harmonic_tone

SR = 22050


def test_summary_known_answers():
    rows = [
        dict(epoch=e, score_now=s, lsd=v)
        for e, s, v in [(0, 0.9, 7.0), (1, 0.5, 6.0), (2, 0.4, 5.5), (3, 0.6, 5.0), (4, 0.7, 6.2)]
    ]
    s = epoch_lsd.summary(rows[::-1])  # any order in
    assert s["picked_epoch"] == 2 and s["picked"] == 5.5 and s["best"] == 5.0
    assert s["picked_minus_best"] == pytest.approx(0.5) and s["last"] == 6.2
    assert s["swing"] == pytest.approx((0.5 + 1.2) / 2)  # epochs 2, 3, 4
    # ranks (4,1,0,2,3) against (4,2,1,0,3): 1 - 6 * (0 + 1 + 1 + 4 + 0) / (5 * 24)
    assert s["rho"] == pytest.approx(0.7)


def test_average_states_means_the_generators_only():
    states = [
        {
            "g_ab.w": torch.tensor([1.0, 2.0]),
            "g_ba.w": torch.tensor([0.0]),
            "d_a.w": torch.tensor([5.0]),
        },
        {
            "g_ab.w": torch.tensor([3.0, 6.0]),
            "g_ba.w": torch.tensor([1.0]),
            "d_a.w": torch.tensor([9.0]),
        },
    ]
    avg = epoch_lsd.average_states(states)
    assert avg["g_ab.w"].tolist() == [2.0, 4.0] and avg["g_ba.w"].tolist() == [0.5]
    assert avg["d_a.w"].tolist() == [5.0]  # not a generator: the first state's


def test_every_kept_epoch_gets_its_recorded_score_and_an_lsd(tmp_path, capsys):
    data = make_prepared(tmp_path / "data")
    assert (
        run_main(data, tmp_path / "ck", "--max-epochs", "2", "--keep-epochs", "--ema-decay", "0.99")
        == 0
    )
    run_dir = tmp_path / "ck" / "r"
    for d, f0, decay in (("test/A", 220.0, 0.0), ("test/B", 220.0, 4.0)):
        (tmp_path / "set" / d).mkdir(parents=True)
        sf.write(tmp_path / "set" / d / "pair_000.wav", harmonic_tone(f0, 1.0, SR, decay=decay), SR)
    out = tmp_path / "rows.jsonl"
    argv = [str(run_dir), str(tmp_path / "set"), str(data), "--weights", "ema", "--out", str(out)]
    assert epoch_lsd.main(argv) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1] and {r["weights"] for r in rows} == {"ema"}
    for r in rows:  # validation scored the averaged weights on these tiles during training
        recorded = read_checkpoint(run_dir / f"{r['ckpt']}.ckpt").meta["val_score"]["score"]
        assert r["score_now"] == pytest.approx(recorded, abs=1e-4)
        assert 0.0 < r["lsd_gain"] <= r["lsd"] + 1e-6
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["picked_epoch"] in (0, 1)
    # epochs 0 and 1 averaged: one row, epoch 1, between nothing and everything
    argv = [
        str(run_dir),
        str(tmp_path / "set"),
        str(data),
        "--average-last",
        "2",
        "--out",
        str(out),
    ]
    assert epoch_lsd.main(argv) == 0
    last = json.loads(out.read_text().splitlines()[-1])
    assert last["epoch"] == 1 and last["average_last"] == 2 and last["weights"] == "raw"
    assert last["run"] == "r" and 0.0 < last["lsd_gain"] <= last["lsd"] + 1e-6


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_user_mistakes_are_one_line(tmp_path, capsys):
    assert epoch_lsd.main([str(tmp_path), str(tmp_path), str(tmp_path)]) == 2
    line = _one_line(capsys)
    assert "no epoch-NNN.ckpt" in line and str(tmp_path) in line
    for e in range(3):
        (tmp_path / f"epoch-{e:03d}.ckpt").write_bytes(b"")
    argv = [str(tmp_path), str(tmp_path / "set"), str(tmp_path)]
    assert epoch_lsd.main(argv + ["--average-last", "4"]) == 2
    assert "give 1 to 3" in _one_line(capsys)
    assert epoch_lsd.main(argv) == 2
    assert "no test/A and test/B" in _one_line(capsys)
    (tmp_path / "set" / "test" / "A").mkdir(parents=True)
    (tmp_path / "set" / "test" / "B").mkdir()
    assert epoch_lsd.main(argv) == 2  # no manifest in the prepared folder: the library's line
    assert "manifest" in _one_line(capsys)
