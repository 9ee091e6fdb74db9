"""benchmarks/epoch_lsd.py: the per-epoch score and LSD of a tiny run; the summary's known answers."""

from __future__ import annotations

import json

import pytest
import soundfile as sf
import torch

from benchmarks import epoch_lsd
from cyclegan_audio import spectrogram as S
from cyclegan_audio.checkpoint import read_checkpoint
from tests.test_train import make_prepared, run_main

from .conftest import harmonic_tone, tiny_spec

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


def test_level_summary_known_answers():
    # every epoch's best gain is its validation level with the sign flipped, 3 dB lower
    rows = [
        dict(val_level_db=v, gain_db=-v - 3.0, gain_db_clips=[-v - 3.5, -v - 2.5])
        for v in (-2.0, 0.5, 1.0, 3.0)
    ]
    s = epoch_lsd.level_summary(rows)
    assert s["level_rho"] == pytest.approx(-1.0) and s["level_slope"] == pytest.approx(-1.0)
    assert s["level_intercept_db"] == pytest.approx(-3.0) and s["level_residual_db"] < 1e-9
    assert s["gain_within_epoch_db"] == pytest.approx(0.5)
    # gains -1, -3.5, -4, -6: mean -3.625, squared deviations sum to 12.6875
    assert s["gain_between_epochs_db"] == pytest.approx((12.6875 / 4) ** 0.5)


def test_log_mean_db_is_the_mean_db_of_the_pixels():
    spec = tiny_spec()
    db = torch.linspace(-80.0, 0.0, 64).repeat(2, 1, 64, 1)  # (2, 1, 64, 64), inside the range
    tiles = S.unit_to_model(S.db_to_unit(db, spec))
    assert epoch_lsd.log_mean_db(tiles, spec) == pytest.approx(-40.0, abs=1e-3)
    louder = S.unit_to_model(S.db_to_unit(db + 6.0, spec))
    shift = epoch_lsd.log_mean_db(louder, spec) - epoch_lsd.log_mean_db(tiles, spec)
    assert shift == pytest.approx(6.0, abs=1e-3)


def test_best_gains_find_a_known_level_error(tmp_path):
    truth = harmonic_tone(220.0, 1.0, SR, decay=2.0)
    for d, y in (("test/B", truth), ("out", truth * 10 ** (-6 / 20))):  # 6 dB too quiet
        (tmp_path / d).mkdir(parents=True)
        sf.write(tmp_path / d / "pair_000.wav", y, SR)
    (gain,) = epoch_lsd.best_gains_db(tmp_path, tmp_path / "out")
    assert gain == pytest.approx(6.0, abs=0.11)


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
    assert epoch_lsd.main(argv + ["--level"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1] and {r["weights"] for r in rows} == {"ema"}
    for r in rows:  # validation scored the averaged weights on these tiles during training
        recorded = read_checkpoint(run_dir / f"{r['ckpt']}.ckpt").meta["val_score"]["score"]
        assert r["score_now"] == pytest.approx(recorded, abs=1e-4)
        assert 0.0 < r["lsd_gain"] <= r["lsd"] + 1e-6
        assert len(r["gain_db_clips"]) == 1 and r["gain_db"] == r["gain_db_clips"][0]
        assert abs(r["gain_db"]) <= 41.0 and abs(r["val_level_db"]) < 106.0  # the search: +-40, +-1
    figures = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert figures["picked_epoch"] in (0, 1) and "level_slope" in figures
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
