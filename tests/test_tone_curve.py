"""benchmarks/tone_curve.py: the quantile map's known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks import tone_curve as tc


def test_the_map_sends_one_distribution_onto_another():
    rng = np.random.default_rng(0)
    values = rng.uniform(-1.0, 1.0, 50_000)  # quantile q at 2q - 1
    target = rng.uniform(-0.5, 0.0, 50_000)  # quantile q at q / 2 - 0.5
    xs, ys = tc.quantile_map(values, target)
    assert np.all(np.diff(xs) > 0)
    v = torch.tensor([-0.9, -0.2, 0.0, 0.6])
    # uniform onto uniform is the affine map x -> (x + 1) / 4 - 0.5
    mapped = tc.apply_map(v, torch.as_tensor(xs), torch.as_tensor(ys)).numpy()
    assert mapped == pytest.approx(((v + 1) / 4 - 0.5).numpy(), abs=0.01)
    # beyond the fitted range the end values hold
    ends = tc.apply_map(torch.tensor([-5.0, 5.0]), torch.as_tensor(xs), torch.as_tensor(ys))
    assert ends.tolist() == pytest.approx([ys[0], ys[-1]])


def test_a_floor_of_ties_becomes_one_knot():
    values = np.concatenate([np.full(600, -1.0), np.linspace(-0.5, 0.5, 400)])
    target = np.linspace(-1.0, 1.0, 1000)
    xs, ys = tc.quantile_map(values, target)
    assert np.all(np.diff(xs) > 0)
    # the 60 % of values at the floor share one output: the mean of the target's lowest 60 %
    floor = tc.apply_map(torch.tensor([-1.0]), torch.as_tensor(xs), torch.as_tensor(ys))
    assert floor.item() == pytest.approx(-0.4, abs=0.01)


def test_each_band_of_rows_gets_its_own_map():
    # translations: every row uniform on [-1, 1]; the real tiles: low rows louder than high rows
    rng = np.random.default_rng(1)
    trans = rng.uniform(-1.0, 1.0, (40, 1, 8, 16)).astype(np.float32)
    real = np.concatenate(
        [rng.uniform(0.0, 1.0, (40, 1, 4, 16)), rng.uniform(-1.0, 0.0, (40, 1, 4, 16))], axis=2
    ).astype(np.float32)
    curve = tc.ToneCurve(torch.nn.Identity(), trans, real, bands=2)
    assert tc.band_of_rows(8, 2).tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    out = curve(torch.zeros(1, 1, 8, 16))  # the median of the translations
    assert out[0, 0, :4].mean().item() == pytest.approx(0.5, abs=0.05)
    assert out[0, 0, 4:].mean().item() == pytest.approx(-0.5, abs=0.05)


def test_user_mistakes_are_one_line(tmp_path, capsys):
    missing = tmp_path / "none.ckpt"
    assert tc.main([str(missing), str(tmp_path), str(tmp_path), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(missing) in err[0]
    assert not (tmp_path / "out").exists()  # nothing written
