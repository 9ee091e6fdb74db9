import numpy as np
import torch

from cyclegan_audio import spectrogram as S
from cyclegan_audio.image_io import read_png, write_png
from tests.conftest import sine


def test_stft_istft_round_trip(spec):
    y = torch.randn(2, 3000) * 0.1
    x = S.stft(y, spec)
    assert x.shape == (2, spec.n_freq, spec.n_frames(3000))
    back = S.istft(x, spec, length=3000)
    assert torch.allclose(back, y, atol=1e-5)


def test_full_scale_sine_peaks_at_0_db(spec):
    # bin-centred frequency so the peak falls on one bin
    f = 16 * spec.sample_rate / spec.n_fft
    mag = S.magnitude(sine(f, 1.0, spec.sample_rate, amp=1.0), spec)
    peak_db = 20 * np.log10(float(mag[:, 5:-5].max()))
    assert abs(peak_db) < 0.1


def test_db_and_unit_round_trip(spec):
    db = torch.linspace(spec.db_floor, spec.db_ceiling, 101)
    assert torch.allclose(S.magnitude_to_db(S.db_to_magnitude(db), spec), db, atol=1e-4)
    assert torch.allclose(S.unit_to_db(S.db_to_unit(db, spec), spec), db, atol=1e-4)
    u = torch.rand(10)
    assert torch.allclose(S.model_to_unit(S.unit_to_model(u)), u, atol=1e-6)


def test_png_16bit_round_trip_quantisation_is_pinned(tmp_path, spec):
    unit = np.random.default_rng(0).random(spec.tile_shape).astype(np.float32)
    p = write_png(tmp_path / "t.png", unit)
    back = read_png(p, spec.tile_shape)
    assert back.shape == spec.tile_shape
    # 16-bit: error at most half a step; in dB that is (range / 65535) / 2
    assert np.abs(back - unit).max() <= 0.5 / 65535 + 1e-7


def test_png_orientation_low_bins_at_bottom(tmp_path, spec):
    from PIL import Image

    unit = np.zeros(spec.tile_shape, np.float32)
    unit[0, :] = 1.0  # DC bin
    write_png(tmp_path / "t.png", unit)
    img = np.asarray(Image.open(tmp_path / "t.png"))
    assert img.dtype == np.uint16
    assert img[-1].min() == 65535 and img[0].max() == 0


def test_png_8bit_and_rgb_accepted(tmp_path, spec):
    from PIL import Image

    unit = np.random.default_rng(1).random(spec.tile_shape).astype(np.float32)
    write_png(tmp_path / "g8.png", unit, bits=8)
    assert np.abs(read_png(tmp_path / "g8.png", spec.tile_shape) - unit).max() <= 0.5 / 255 + 1e-6
    grey = np.round(unit[::-1] * 255).astype(np.uint8)
    Image.fromarray(np.stack([grey] * 3, -1)).save(tmp_path / "rgb.png")
    assert np.abs(read_png(tmp_path / "rgb.png", spec.tile_shape) - unit).max() <= 0.5 / 255 + 1e-6


def test_atomic_writes_leave_no_temp_and_normal_permissions(tmp_path, spec):
    import os

    mask = os.umask(0)
    os.umask(mask)
    p = write_png(tmp_path / "t.png", np.zeros(spec.tile_shape, np.float32))
    assert (p.stat().st_mode & 0o777) == (0o666 & ~mask)
    assert [q.name for q in tmp_path.iterdir()] == ["t.png"]
