"""translate.py end to end, in-process, with a tiny checkpoint built here."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf  # tests may write multichannel fixtures; the package uses audio.py
import torch

from cyclegan_audio.audio import load, save
from cyclegan_audio.checkpoint import make_meta
from cyclegan_audio.cli.translate import main
from cyclegan_audio.loudness import integrated_loudness
from cyclegan_audio.networks import build_generator, tiny_config
from cyclegan_audio.spec import tiny_spec
from tests.conftest import harmonic_tone


def _checkpoint(path, **meta_overrides):
    torch.manual_seed(0)
    g_ab, g_ba = build_generator(tiny_config()), build_generator(tiny_config())
    state = {**{f"g_ab.{k}": v for k, v in g_ab.state_dict().items()},
             **{f"g_ba.{k}": v for k, v in g_ba.state_dict().items()}}  # fmt: skip
    meta = make_meta(tiny_spec(), tiny_config())
    meta.update(meta_overrides)
    torch.save({"state_dict": state, "cyclegan_audio": meta}, path)
    return path


@pytest.fixture
def ckpt(tmp_path):
    return _checkpoint(tmp_path / "best.ckpt")


def _tone(seconds, sr, level=0.3):
    rng = np.random.default_rng(1)
    y = harmonic_tone(196.0, seconds, sr, amp=level)
    return y + 0.01 * level * rng.standard_normal(y.shape[0]).astype(np.float32)


def test_stereo_44k_input_keeps_rate_length_and_channels(tmp_path, ckpt):
    inp = tmp_path / "violin.wav"
    y = _tone(1.3, 44100)
    sf.write(inp, np.stack([y, 0.5 * y], axis=1), 44100, subtype="FLOAT")
    assert main(["--ckpt", str(ckpt), str(inp), "--n-iter", "4"]) == 0
    out = tmp_path / "violin.AtoB.wav"
    info = sf.info(out)
    assert (info.samplerate, info.frames, info.channels) == (44100, y.shape[0], 2)
    assert np.all(np.isfinite(load(out, None)))


def test_each_channel_is_translated_as_a_mono_file_would_be(tmp_path, ckpt):
    """Channels go through the mono pipeline one by one, then share one output gain."""
    y = _tone(0.6, 8000)
    chans = [y, 0.5 * np.roll(y, 400)]
    sf.write(tmp_path / "st.wav", np.stack(chans, axis=1), 8000, subtype="FLOAT")
    args = ["--ckpt", str(ckpt), "--n-iter", "2"]
    assert main([*args, str(tmp_path / "st.wav")]) == 0
    stereo, _ = sf.read(tmp_path / "st.AtoB.wav", dtype="float32")
    for c, chan in enumerate(chans):
        sf.write(tmp_path / f"m{c}.wav", chan, 8000, subtype="FLOAT")
        assert main([*args, str(tmp_path / f"m{c}.wav")]) == 0
        mono = load(tmp_path / f"m{c}.AtoB.wav", None)
        corr = np.corrcoef(stereo[:, c], mono)[0, 1]
        assert corr > 0.999, (c, corr)


def test_input_shorter_than_a_tile(tmp_path, ckpt):
    inp = save(tmp_path / "blip.wav", _tone(0.05, 16000), 16000)  # a tile is 0.256 s
    out = tmp_path / "x" / "blip.wav"
    assert main(["--ckpt", str(ckpt), str(inp), "-o", str(out), "--direction", "BtoA"]) == 0
    assert sf.info(out).frames == 800 and sf.info(out).samplerate == 16000


def test_several_inputs_into_a_folder(tmp_path, ckpt):
    ins = [save(tmp_path / f"{n}.flac", _tone(0.4, 8000), 8000) for n in ("a", "b")]
    assert (
        main(["--ckpt", str(ckpt), *map(str, ins), "-o", str(tmp_path / "out"), "--n-iter", "2"])
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.AtoB.wav", "b.AtoB.wav"]


def test_refuses_to_overwrite_its_input(tmp_path, ckpt, capsys):
    inp = save(tmp_path / "keep.wav", _tone(0.3, 8000), 8000)
    before = inp.read_bytes()
    assert main(["--ckpt", str(ckpt), str(inp), "-o", str(inp)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "refusing to overwrite" in err and "keep.wav" in err
    assert inp.read_bytes() == before


def test_incompatible_checkpoint_is_one_line(tmp_path, capsys):
    bad = _checkpoint(tmp_path / "old.ckpt", format_version=99)
    inp = save(tmp_path / "in.wav", _tone(0.3, 8000), 8000)
    assert main(["--ckpt", str(bad), str(inp)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "format version" in err
    assert not (tmp_path / "in.AtoB.wav").exists()


def test_missing_input_is_one_line(tmp_path, ckpt, capsys):
    assert main(["--ckpt", str(ckpt), str(tmp_path / "nope.wav")]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if "nope.wav" in line]
    assert lines == [f"skip {tmp_path / 'nope.wav'}: file not found"]


def test_loudness_matched_to_input(tmp_path, ckpt):
    y = _tone(2.0, 22050, level=0.05)
    inp = save(tmp_path / "quiet.wav", y, 22050)
    assert main(["--ckpt", str(ckpt), str(inp), "--n-iter", "4", "--loudness", "input"]) == 0
    out = load(tmp_path / "quiet.AtoB.wav", None)
    assert integrated_loudness(out, 22050) == pytest.approx(integrated_loudness(y, 22050), abs=0.5)


def test_chunk_size_does_not_change_the_file(tmp_path, ckpt):
    inp = save(tmp_path / "in.wav", _tone(2.0, 8000), 8000)
    outs = [tmp_path / "small.wav", tmp_path / "big.wav"]
    for out, chunk in zip(outs, ("0.3", "100")):
        assert (
            main(
                [
                    "--ckpt",
                    str(ckpt),
                    str(inp),
                    "-o",
                    str(out),
                    "--chunk-seconds",
                    chunk,
                    "--n-iter",
                    "6",
                ]
            )
            == 0
        )
    a, b = (load(o, None) for o in outs)
    assert np.abs(a - b).max() <= 2.5 / 32768  # 16-bit output: equal up to rounding


def test_checkpoint_with_trained_peak_level(tmp_path):
    ckpt = _checkpoint(tmp_path / "peak.ckpt", input_peak_db=-1.0)
    y = _tone(0.5, 8000, level=0.01)
    inp = save(tmp_path / "soft.wav", y, 8000)
    assert main(["--ckpt", str(ckpt), str(inp), "--n-iter", "2", "--loudness", "input"]) == 0
    out = load(tmp_path / "soft.AtoB.wav", None)
    assert integrated_loudness(out, 8000) == pytest.approx(integrated_loudness(y, 8000), abs=0.5)


@pytest.mark.parametrize("overlap, hop", [(None, 16), ("0.75", 16), ("0.5", 32), ("0", 64)])
def test_tile_overlap_sets_the_tile_hop(tmp_path, ckpt, monkeypatch, overlap, hop):
    """--tile-overlap changes how many tiles go through the generator (tiny spec: 64-frame tiles)."""
    from cyclegan_audio.cli import translate as cli
    from cyclegan_audio.inference import TileGrid

    seen = []
    real_load = cli.load_translator

    def counting_load(*a, **k):
        t = real_load(*a, **k)
        t.generator.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape[0]))
        return t

    monkeypatch.setattr(cli, "load_translator", counting_load)
    inp = save(tmp_path / "in.wav", _tone(2.0, 8000), 8000)
    out = tmp_path / "out.wav"
    args = ["--ckpt", str(ckpt), str(inp), "-o", str(out), "--n-iter", "2"]
    assert main(args + (["--tile-overlap", overlap] if overlap else [])) == 0  # None: default
    n_frames = tiny_spec().n_frames(16000)
    assert sum(seen) == TileGrid(n_frames, 64, hop).n_tiles
    assert sf.info(out).frames == 16000


@pytest.mark.parametrize("stored, flag, width", [(1, None, 64), (2, None, 128), (2, "1", 64)])
def test_window_tiles_from_the_checkpoint_unless_given(tmp_path, monkeypatch, stored, flag, width):
    """The generator hears the checkpoint's window_tiles tiles at once; --window-tiles wins."""
    from cyclegan_audio.cli import translate as cli

    ckpt = _checkpoint(tmp_path / "w.ckpt", network=tiny_config(window_tiles=stored).to_dict())
    seen = []
    real_load = cli.load_translator

    def watching_load(*a, **k):
        t = real_load(*a, **k)
        t.generator.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape[-1]))
        return t

    monkeypatch.setattr(cli, "load_translator", watching_load)
    inp = save(tmp_path / "in.wav", _tone(2.0, 8000), 8000)
    args = ["--ckpt", str(ckpt), str(inp), "-o", str(tmp_path / "o.wav"), "--n-iter", "2"]
    assert main(args + (["--window-tiles", flag] if flag else [])) == 0
    assert set(seen) == {width}  # tiny spec: 64-frame tiles


def test_tile_overlap_out_of_range_is_a_usage_error(tmp_path, ckpt, capsys):
    inp = save(tmp_path / "in.wav", _tone(0.5, 8000), 8000)
    with pytest.raises(SystemExit) as e:
        main(["--ckpt", str(ckpt), str(inp), "--tile-overlap", "1"])
    assert e.value.code == 2 and "--tile-overlap must be in [0, 1)" in capsys.readouterr().err


def test_compile_gives_the_eager_result(tmp_path, ckpt, capsys):
    """--compile: the same file as without it (up to float error and 16-bit rounding)."""
    inp = save(tmp_path / "in.wav", _tone(1.0, 8000), 8000)
    outs = [tmp_path / "eager.wav", tmp_path / "compiled.wav"]
    for out, extra in zip(outs, ([], ["--compile"])):
        assert main(["--ckpt", str(ckpt), str(inp), "-o", str(out), "--n-iter", "4", *extra]) == 0
    if "warning: --compile failed" in capsys.readouterr().err:
        pytest.skip("torch.compile does not work on this machine (no C++ compiler?)")
    a, b = (load(o, None) for o in outs)
    assert np.abs(a - b).max() <= 4 / 32768


def test_compile_failure_falls_back_to_eager_with_one_warning(monkeypatch, capsys):
    from cyclegan_audio.inference import CompiledGenerator

    def broken_compile(net, *a, **k):
        def run(x):
            raise RuntimeError("no C++ compiler found\nlong compiler log ...")

        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    net = build_generator(tiny_config()).eval()
    g = CompiledGenerator(net)
    x = torch.rand(2, 1, *tiny_spec().tile_shape) * 2 - 1
    with torch.inference_mode():
        y1, y2, ref = g(x), g(x), net(x)
    assert torch.equal(y1, ref) and torch.equal(y2, ref) and not g.ok
    err = capsys.readouterr().err
    assert err.count("warning: --compile failed (RuntimeError: no C++ compiler found)") == 1
