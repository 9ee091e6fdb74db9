"""benchmarks/reference_cyclegan.py without the reference code: the 8-bit tile export, the
step and lr arithmetic, the generator wrapper's orientation and scale, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks import quality
from benchmarks import reference_cyclegan as ref
from cyclegan_audio import image_io
from cyclegan_audio import spectrogram as S
from cyclegan_audio.errors import CycleGanAudioError
from cyclegan_audio.inference import generator_fn, translate_signal

from .conftest import harmonic_tone


def _tile(seed: int, shape=(8, 6)) -> np.ndarray:
    """A [0, 1] tile (F, T) with no symmetry: a flip or a lost bit shows."""
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def test_export_keeps_the_tile_to_8_bits_in_its_orientation(tmp_path):
    unit = _tile(0)
    ours = image_io.write_png(tmp_path / "prepared/A_000-00000.png", unit)  # 16-bit, as prepare
    stale = image_io.write_png(tmp_path / "trainA/A_999-00000.png", unit, bits=8)
    assert ref.export_tiles([ours], tmp_path / "trainA") == 1
    assert not stale.exists()  # the reference would train on it
    back = image_io.read_png(tmp_path / "trainA/A_000-00000.png")
    assert np.abs(back - unit).max() <= 0.5 / 255 + 1e-6
    assert np.allclose(back * 255, np.round(back * 255), atol=1e-3)  # 8-bit steps


def test_the_wrapped_network_sees_the_tiles_as_the_reference_trained_on_them():
    # The reference reads the exported PNG's rows top first, as pixel / 255 * 2 - 1.
    unit = _tile(1)
    png_rows = image_io.unit_to_pixels(unit, bits=8).astype(np.float32) / 255 * 2 - 1
    seen = []

    class Recorder(torch.nn.Module):
        def forward(self, x):
            seen.append(x.clone())
            return x

    x = S.unit_to_model(torch.from_numpy(unit))[None, None]
    y = ref.ReferenceGenerator(Recorder())(x)
    assert torch.allclose(seen[0][0, 0], torch.from_numpy(png_rows), atol=1 / 255 + 1e-6)
    assert torch.equal(y, x)  # and its output comes back in our orientation


def test_an_identity_reference_generator_translates_to_its_input(spec):
    fn = generator_fn(ref.ReferenceGenerator(torch.nn.Identity()))
    unit = torch.from_numpy(_tile(2, spec.tile_shape))[None]
    assert torch.allclose(fn(unit), unit, atol=1e-6)
    y = harmonic_tone(440.0, 0.5, spec.sample_rate)
    through = translate_signal(
        y, spec.sample_rate, ref.ReferenceGenerator(torch.nn.Identity()), spec
    )
    plain = translate_signal(y, spec.sample_rate, torch.nn.Identity(), spec)
    np.testing.assert_allclose(through, plain, atol=1e-6)


def test_step_counts_match_quality_runs():
    # violin_guitar at the cpu preset: 359 A and 417 B training tiles; quality.py --epochs 4
    # made 1668 generator steps.
    assert quality.schedule(4) == (2, 2) and quality.schedule(5) == (3, 2)
    assert ref.step_counts(359, 417, 4) == (1668, 1668, 417)
    assert ref.step_counts(359, 417, 4, max_steps=20) == (20, 20, 5)
    assert ref.step_counts(3, 2, 4, max_steps=20) == (12, 12, 3)
    argv = ref.reference_argv(ref.Path("d"), ref.Path("r"), "n", 4, (128, 128))
    flags = dict(zip(argv[::2], argv[1::2]))  # pairs up to the first bare flag
    assert flags["--n_epochs"] == "2" and flags["--n_epochs_decay"] == "2"
    assert "--max_dataset_size" not in argv and "--no_flip" in argv
    assert argv[-2:] == ["--save_epoch_freq", "4"]
    capped = ref.reference_argv(ref.Path("d"), ref.Path("r"), "n", 4, (128, 128), 5)
    assert capped[-2:] == ["--max_dataset_size", "5"]


def test_the_reference_lr_runs_one_epoch_ahead():
    ours, theirs = ref.lr_factors(4)
    assert ours == pytest.approx([1.0, 1.0, 2 / 3, 1 / 3])
    assert theirs == pytest.approx([1.0, 2 / 3, 1 / 3, 0.0])


def _fake_set(root):
    for d in ("train/A", "train/B", "test/A", "test/B"):
        (root / d).mkdir(parents=True)
    return root


def test_user_mistakes_are_one_line_and_exit_2(tmp_path, capsys):
    out = ["--work", str(tmp_path / "w"), "--results", str(tmp_path / "r.jsonl")]
    data = _fake_set(tmp_path / "set")
    assert ref.main([str(data), "--ref", str(tmp_path / "nowhere"), *out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--ref" in err and "Traceback" not in err
    fake_ref = tmp_path / "ref"
    (fake_ref / "models").mkdir(parents=True)
    (fake_ref / "train.py").write_text("")
    (fake_ref / "models/networks.py").write_text("")
    assert ref.main([str(tmp_path / "no-set"), "--ref", str(fake_ref), *out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a development set" in err
    assert not (tmp_path / "r.jsonl").exists()


def test_a_failing_reference_train_is_one_line(tmp_path):
    (tmp_path / "train.py").write_text("import sys\nsys.exit('boom: no such option')\n")
    with pytest.raises(CycleGanAudioError, match="exit 1: boom: no such option"):
        ref.train_reference(tmp_path, tmp_path / "no-deps", [], 0, tmp_path / "log/train.log")
