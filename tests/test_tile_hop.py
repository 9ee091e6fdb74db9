"""benchmarks/tile_hop.py: a tiny run's checkpoint translated at two tile hops; bad input is one line."""

from __future__ import annotations

import json

import soundfile as sf

from benchmarks import tile_hop
from cyclegan_audio.synth import make_demo_dataset
from tests.test_train import make_prepared, run_main

from .conftest import harmonic_tone
from .test_evaluate import _tiny_checkpoint

SR = 22050


def _set(root):
    for d, decay in (("test/A", 0.0), ("test/B", 4.0)):
        (root / d).mkdir(parents=True)
        sf.write(root / d / "pair_000.wav", harmonic_tone(220.0, 1.0, SR, decay=decay), SR)
    return root


def test_each_hop_gets_a_row(tmp_path, capsys):
    data = make_prepared(tmp_path / "data")
    assert run_main(data, tmp_path / "ck", "--max-epochs", "1") == 0
    capsys.readouterr()  # training's own lines
    ckpt = tmp_path / "ck" / "r" / "last.ckpt"
    out = tmp_path / "rows.jsonl"
    argv = [str(_set(tmp_path / "set")), str(ckpt), "--divisors", "2", "4", "--out", str(out)]
    assert tile_hop.main(argv) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    tile = rows[0]["hop_frames"] * 2
    assert [(r["divisor"], r["hop_frames"]) for r in rows] == [(2, tile // 2), (4, tile // 4)]
    for r in rows:
        assert 0.0 < r["lsd_gain"] <= r["lsd"] + 1e-6 and r["set"] == "set"
    assert len(capsys.readouterr().out.strip().splitlines()) == 2  # the rows, printed too


def test_each_window_gets_a_row(tmp_path, capsys):
    ckpt = _tiny_checkpoint(tmp_path)
    argv = [str(_set(tmp_path / "set")), str(ckpt), "--divisors", "4", "--windows", "1", "2"]
    assert tile_hop.main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["window_tiles"] for r in rows] == [1, 2]
    assert rows[1]["hop_frames"] == 2 * rows[0]["hop_frames"]  # a quarter of a window twice as wide
    assert rows[0]["lsd"] != rows[1]["lsd"]  # the generator heard other windows


def test_evaluate_adds_pitch_and_share(tmp_path, capsys):
    # the demo set (train/ and test/ in the shared layout, notes in meta.json) and an untrained
    # tiny generator: each hop's row gets evaluate's pitch accuracy and target share
    data = tmp_path / "demo"
    make_demo_dataset(data, seed=0, n_train=3, n_test=1, seconds=2.0)
    ckpt = _tiny_checkpoint(tmp_path)
    argv = [str(data), str(ckpt), "--divisors", "2", "4", "--evaluate"]
    assert tile_hop.main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()[-2:]]
    assert [r["divisor"] for r in rows] == [2, 4]
    for r in rows:
        assert 0.0 <= r["pitch"] <= 1.0 and 0.0 <= r["share"] <= 1.0 and r["lsd"] > 0.0
    # without the training folders the classifier cannot be trained: one line, before any work
    test_only = _set(tmp_path / "test_only")
    assert tile_hop.main([str(test_only), str(ckpt), "--evaluate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--evaluate needs train/A and train/B" in err[0]


def test_user_mistakes_are_one_line(tmp_path, capsys):
    def one_line() -> str:
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ")
        return err[0]

    assert tile_hop.main([str(tmp_path), str(tmp_path / "x.ckpt")]) == 2
    assert "no test/A and test/B" in one_line()
    s = _set(tmp_path / "set")
    assert tile_hop.main([str(s), str(tmp_path / "x.ckpt"), "--divisors", "0"]) == 2
    assert "each must be 1 or more" in one_line()
    assert tile_hop.main([str(s), str(tmp_path / "x.ckpt"), "--windows", "0"]) == 2
    assert "--windows 0: each must be 1 or more" in one_line()
    assert tile_hop.main([str(s), str(tmp_path / "missing.ckpt")]) == 2
    assert "missing.ckpt" in one_line()
