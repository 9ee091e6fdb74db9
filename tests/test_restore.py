import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from cyclegan_audio import metrics
from cyclegan_audio.cli.restore import main
from cyclegan_audio.manifest import Manifest
from cyclegan_audio.preparation import prepare
from tests.conftest import harmonic_tone


@pytest.fixture
def prepared(tmp_path, spec):
    """A 2.5 s tone in A peaking ~-10 dBFS (so a gain is applied), another in B; (manifest, A signal)."""
    sr = spec.sample_rate
    y_a = harmonic_tone(220, 2.5, sr, amp=0.3, decay=0.3)
    for d, y in (("A", y_a), ("B", harmonic_tone(330, 2.5, sr))):
        (tmp_path / d).mkdir()
        sf.write(tmp_path / d / "x.wav", y, sr, subtype="FLOAT")
    out = tmp_path / "out"
    prepare(tmp_path / "A", tmp_path / "B", out=out, spec=spec, workers=1, progress=False)
    return Manifest.load(out), y_a


def _tiles(m, domain="A"):
    return sorted((t for t in m.tiles if t.domain == domain), key=lambda t: t.offset_s)


def test_source_phase_round_trip_is_close(prepared, tmp_path, spec, capsys):
    m, y_a = prepared
    tiles = _tiles(m)[:4]  # one clip
    out = tmp_path / "r.wav"
    args = [str(m.root / t.path) for t in tiles] + ["--manifest", str(m.root), "-o", str(out)]
    assert main([*args, "--phase", "source", "--n-iter", "16"]) == 0
    y, sr = sf.read(out, dtype="float32")
    assert sr == spec.sample_rate and len(y) == (4 * spec.tile_frames - 1) * spec.hop_length
    lsd = metrics.log_spectral_distance(y, y_a[: len(y)], spec)
    assert lsd < 0.2  # quantisation and the dB floor only
    assert abs(np.abs(y).max() - np.abs(y_a[: len(y)]).max()) < 0.01  # the gain was undone
    assert "log-spectral distance to the source" in capsys.readouterr().out
    assert main([*args, "-o", str(tmp_path / "rand.wav"), "--n-iter", "16"]) == 0
    y_rand, _ = sf.read(tmp_path / "rand.wav", dtype="float32")
    assert lsd < metrics.log_spectral_distance(y_rand, y_a[: len(y)], spec) < 6.0


def test_eight_bit_and_rgb_tiles_restore(prepared, tmp_path, spec):
    m, _ = prepared
    paths = []
    for i, t in enumerate(_tiles(m, "B")[:2]):
        pixels = np.asarray(Image.open(m.root / t.path)).astype(np.float64)
        grey = np.round(pixels / 257.0).astype(np.uint8)
        img = Image.fromarray(grey) if i == 0 else Image.fromarray(np.stack([grey] * 3, -1))
        paths.append(tmp_path / f"other_tool_{i}.png")
        img.save(paths[-1])
    out = tmp_path / "r8.wav"
    assert main([*map(str, paths), "--manifest", str(m.root), "-o", str(out), "--n-iter", "4"]) == 0
    y, _ = sf.read(out)
    assert len(y) == (2 * spec.tile_frames - 1) * spec.hop_length and np.abs(y).max() > 0.01


def test_source_phase_needs_consecutive_tiles(prepared, tmp_path, capsys):
    m, _ = prepared
    t = _tiles(m)
    args = [str(m.root / t[0].path), str(m.root / t[2].path), "--manifest", str(m.root)]
    assert main([*args, "-o", str(tmp_path / "x.wav"), "--phase", "source"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not consecutive" in err
    assert not (tmp_path / "x.wav").exists()


def test_never_overwrites_an_input(prepared, capsys):
    m, _ = prepared
    tile = m.root / _tiles(m)[0].path
    before = tile.read_bytes()
    assert main([str(tile), "--manifest", str(m.root), "-o", str(tile), "--n-iter", "1"]) == 2
    assert tile.read_bytes() == before
    assert "refusing to overwrite" in capsys.readouterr().err


def test_wrong_size_tile_is_a_clear_error(prepared, tmp_path, capsys):
    m, _ = prepared
    Image.fromarray(np.zeros((10, 20), np.uint8)).save(tmp_path / "small.png")
    assert (
        main(
            [str(tmp_path / "small.png"), "--manifest", str(m.root), "-o", str(tmp_path / "o.wav")]
        )
        == 2
    )
    assert "small.png" in capsys.readouterr().err
