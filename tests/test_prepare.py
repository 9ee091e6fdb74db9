import json
import os

import numpy as np
import pytest
import soundfile as sf

from cyclegan_audio.cli.prepare import main
from cyclegan_audio.manifest import Manifest, domain_band_loss
from cyclegan_audio.preparation import prepare, split_score
from cyclegan_audio.spec import SpectrogramSpec
from tests.conftest import harmonic_tone

TINY = [
    "--sample-rate",
    "8000",
    "--n-fft",
    "126",
    "--hop-length",
    "32",
    "--tile-frames",
    "64",
    "--clip-seconds",
    "1.024",
    "--workers",
    "1",
    "--quiet",
]


def _good(folder, n, seconds=1.5, sr=8000, f0=220.0):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sf.write(folder / f"good{i}.wav", harmonic_tone(f0 * (1 + 0.1 * i), seconds, sr), sr)


def test_default_spec_20s_clip_gives_four_16bit_tiles(tmp_path):
    sr = 22050
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    sf.write(tmp_path / "A" / "a.wav", harmonic_tone(440, 20.0, sr), sr)
    sf.write(tmp_path / "B" / "b.wav", harmonic_tone(330, 20.0, sr), sr)
    out = tmp_path / "out"
    assert (
        main([str(tmp_path / "A"), str(tmp_path / "B"), "--out", str(out), "--workers", "1"]) == 0
    )
    m = Manifest.load(out)
    assert m.spec == SpectrogramSpec()
    assert json.loads((out / "manifest.json").read_text())["spec"]["n_fft"] == 1022
    a_tiles = [t for t in m.tiles if t.domain == "A"]
    assert len(a_tiles) == 4
    from PIL import Image

    with Image.open(out / a_tiles[0].path) as img:
        assert img.size == (512, 512) and img.mode.startswith("I;16")


def test_bad_input_skipped_one_line_each(tmp_path, capsys):
    a, b, sr = tmp_path / "A", tmp_path / "B", 8000
    _good(a / "sub", 3)
    _good(b, 2, f0=330)
    (a / "zero.wav").write_bytes(b"")
    (a / "text.wav").write_text("this is not audio\n")
    good = (a / "sub" / "good0.wav").read_bytes()
    (a / "corrupt.wav").write_bytes(good[:40] + bytes(range(256)) * 3)
    # "a 2 s clip": too short for one tile at this spec (a tile is 0.256 s)
    sf.write(a / "short.wav", harmonic_tone(300, 0.1, sr), sr)
    sf.write(a / "silent.wav", np.zeros(2 * sr, np.float32), sr)
    multi = harmonic_tone(250, 1.5, 96000)
    sf.write(a / "surround.flac", np.stack([multi] * 6, axis=1), 96000)
    out = tmp_path / "out"
    assert main([str(a), str(b), "--out", str(out), *TINY]) == 0
    err = capsys.readouterr().err.splitlines()
    bad = ["zero.wav", "text.wav", "corrupt.wav", "short.wav", "silent.wav"]
    for name in bad:
        lines = [line for line in err if str(a / name) in line]
        assert len(lines) == 1, (name, err)
    assert len([line for line in err if line.startswith("skip ")]) == len(bad)
    assert "empty" in "".join(line for line in err if "zero.wav" in line)
    assert "too short" in "".join(line for line in err if "short.wav" in line)
    assert "silent" in "".join(line for line in err if "silent.wav" in line)
    m = Manifest.load(out)
    sources = {t.source for t in m.tiles if t.domain == "A"}
    assert sources == {"sub/good0.wav", "sub/good1.wav", "sub/good2.wav", "surround.flac"}
    for rec in m.files.values():
        assert (rec["status"] == "ok") == (rec["source"] in sources | {"good0.wav", "good1.wav"})


def test_domain_without_training_tiles_fails(tmp_path, capsys):
    _good(tmp_path / "A", 2)
    (tmp_path / "B").mkdir()
    (tmp_path / "B" / "x.wav").write_text("nope")
    rc = main([str(tmp_path / "A"), str(tmp_path / "B"), "--out", str(tmp_path / "o"), *TINY])
    assert rc == 1
    assert "domain B ended with no training tiles" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["missing", "inside", "version", "spec", "foreign"])
def test_user_errors_are_one_line(tmp_path, capsys, case):
    a, b = tmp_path / "A", tmp_path / "B"
    _good(a, 1)
    _good(b, 1)
    out = tmp_path / "out"
    if case == "missing":
        args = [str(tmp_path / "nope"), str(b), "--out", str(out)]
    elif case == "inside":
        args = [str(a), str(b), "--out", str(a / "prepared")]
    elif case == "foreign":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        args = [str(a), str(b), "--out", str(out)]
    else:
        assert main([str(a), str(b), "--out", str(out), *TINY]) == 0
        capsys.readouterr()
        if case == "version":
            data = json.loads((out / "manifest.json").read_text())
            data["format_version"] = 99
            (out / "manifest.json").write_text(json.dumps(data))
        args = [str(a), str(b), "--out", str(out), *TINY, "--n-fft", "62"]
        if case == "version":
            args = [str(a), str(b), "--out", str(out), *TINY]
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    expect = {
        "missing": "not found",
        "inside": "inside input folder",
        "version": "version 99",
        "spec": "different spec",
        "foreign": "not empty",
    }[case]
    assert expect in lines[0]
    if case == "foreign":
        assert (out / "notes.txt").read_text() == "mine"


def test_rerun_does_only_new_work(tmp_path, spec):
    a, b, out = tmp_path / "A", tmp_path / "B", tmp_path / "out"
    _good(a, 3)
    _good(b, 2)
    kw = dict(out=out, spec=spec, workers=1, progress=False, echo=lambda line: None)
    first = prepare(a, b, **kw)
    assert first.n_new_tiles > 0
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    again = prepare(a, b, **kw)
    assert again.n_new_tiles == 0 and again.n_reused == {"A": 3, "B": 2}
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == stamps
    sf.write(a / "new.wav", harmonic_tone(500, 1.5, 8000), 8000)
    third = prepare(a, b, **kw)
    assert third.n_reused == {"A": 3, "B": 2}
    assert (
        third.n_new_tiles == len([t for t in Manifest.load(out).tiles if t.source == "new.wav"]) > 0
    )
    for p, stamp in stamps.items():
        assert p.stat().st_mtime_ns == stamp  # old tiles untouched


def test_parallel_workers_give_the_same_tiles(tmp_path, spec):
    a, b = tmp_path / "A", tmp_path / "B"
    _good(a, 3)
    _good(b, 3)
    kw = dict(spec=spec, progress=False, echo=lambda line: None)
    prepare(a, b, out=tmp_path / "o1", workers=1, **kw)
    prepare(a, b, out=tmp_path / "o2", workers=2, **kw)
    m1, m2 = Manifest.load(tmp_path / "o1"), Manifest.load(tmp_path / "o2")
    assert [t.to_dict() for t in m1.tiles] == [t.to_dict() for t in m2.tiles]
    for t in m1.tiles:
        assert (tmp_path / "o1" / t.path).read_bytes() == (tmp_path / "o2" / t.path).read_bytes()


def test_split_is_by_file_deterministic_and_stable(tmp_path, spec):
    a, b = tmp_path / "A", tmp_path / "B"
    _good(a, 12, seconds=0.6)
    _good(b, 2, seconds=0.6)
    kw = dict(spec=spec, workers=1, progress=False, echo=lambda line: None, val_fraction=0.3)

    def splits(out):
        return {k: r["split"] for k, r in Manifest.load(out).files.items()}

    prepare(a, b, out=tmp_path / "o1", seed=3, **kw)
    prepare(a, b, out=tmp_path / "o2", seed=3, **kw)
    s1 = splits(tmp_path / "o1")
    assert s1 == splits(tmp_path / "o2")
    assert "val" in {s for k, s in s1.items() if k.startswith("B/")}  # >= 1 val file with 2 files
    for k, s in s1.items():
        if k.startswith("A/"):
            assert s == ("val" if split_score(3, k[2:]) < 0.3 else "train")
    m = Manifest.load(tmp_path / "o1")
    for t in m.tiles:  # no file has tiles in both splits, and paths follow the split
        assert t.split == m.files[f"{t.domain}/{t.source}"]["split"]
        assert t.path.startswith(f"{t.domain}/{t.split}/")
    for i in range(12, 16):  # adding files never moves old ones
        sf.write(a / f"good{i}.wav", harmonic_tone(200 + i, 0.6, 8000), 8000)
    prepare(a, b, out=tmp_path / "o1", seed=3, **kw)
    s3 = splits(tmp_path / "o1")
    assert {k: s3[k] for k in s1} == s1
    os.utime(a / "good0.wav")  # touched, same content: redone, keeps its split
    prepare(a, b, out=tmp_path / "o1", seed=3, **kw)
    assert splits(tmp_path / "o1")["A/good0.wav"] == s1["A/good0.wav"]


def test_prepare_reports_what_the_band_loses(tmp_path, capsys):
    """16 kHz files, 8 kHz tiles: a domain with a partial at 6 kHz (above the tiles' 4 kHz
    band) gets a band loss and a note; one whose harmonics end at 1.3 kHz loses nothing."""
    sr = 16000
    t = np.arange(int(1.5 * sr)) / sr
    for dom, extra in (("A", 0.0), ("B", 0.2)):
        (tmp_path / dom).mkdir()
        for i in range(2):
            y = harmonic_tone(220.0 * (1 + 0.1 * i), 1.5, sr) + extra * np.sin(2 * np.pi * 6000 * t)
            sf.write(tmp_path / dom / f"{i}.wav", y.astype(np.float32), sr)
    out = tmp_path / "out"
    assert main([str(tmp_path / "A"), str(tmp_path / "B"), "--out", str(out), *TINY]) == 0
    files = Manifest.load(out).files
    loss = {k: f["band_loss_db"] for k, f in files.items()}
    assert all(loss[f"A/{i}.wav"] < 0.5 for i in range(2))
    assert all(loss[f"B/{i}.wav"] > 3.0 for i in range(2))
    medians = domain_band_loss(Manifest.load(out))
    assert medians["A"] < 0.5 < 3.0 < medians["B"]
    printed = capsys.readouterr().out
    assert "lost above the spec's 4,000 Hz" in printed
    assert "note: domain B's sound reaches above 4,000 Hz" in printed
    assert "note: domain A" not in printed
    # files at the tiles' own rate: nothing lies above the band, nothing is reported
    _good(tmp_path / "A8", 2)
    _good(tmp_path / "B8", 2, f0=330.0)
    out8 = tmp_path / "out8"
    assert main([str(tmp_path / "A8"), str(tmp_path / "B8"), "--out", str(out8), *TINY]) == 0
    assert {f["band_loss_db"] for f in Manifest.load(out8).files.values()} == {0.0}
    assert "lost above" not in capsys.readouterr().out


def _bright_pair(root, bright: bool, sr: int = 22050, seconds: float = 1.5):
    """Two folders of harmonic tones; B's carry a partial at 8 kHz when ``bright``."""
    t = np.arange(int(seconds * sr)) / sr
    for dom in ("A", "B"):
        (root / dom).mkdir(parents=True)
        for i in range(2):
            y = harmonic_tone(220.0 * (1 + 0.1 * i), seconds, sr)
            if dom == "B" and bright:
                y = y + 0.2 * np.sin(2 * np.pi * 8000 * t)
            sf.write(root / dom / f"{i}.wav", y.astype(np.float32), sr)
    return root / "A", root / "B"


@pytest.mark.parametrize("bright", [False, True])
def test_cpu_preset_takes_the_full_band_for_a_bright_target(tmp_path, capsys, bright):
    from cyclegan_audio.presets import BRIGHT_TARGET_SPEC, preset

    a, b = _bright_pair(tmp_path, bright)
    out = tmp_path / "out"
    assert main([str(a), str(b), "--out", str(out), "--preset", "cpu", "--workers", "1"]) == 0
    want = BRIGHT_TARGET_SPEC["cpu"] if bright else preset("cpu")["spec"]
    spec = Manifest.load(out).spec
    assert {k: getattr(spec, k) for k in want} == want
    printed = capsys.readouterr().out
    assert (
        "takes the full band (22,050 Hz, n_fft 510, hop 172: 256x128 tiles" in printed
    ) == bright
    # train --preset cpu on these tiles: the full band's own learning rate, unless written
    from cyclegan_audio.cli import train as train_cli

    cfg = train_cli.parse(["--preset", "cpu", "--data", str(out)])
    assert cfg.train.lr == (4e-4 if bright else 2e-4)
    assert ("full-band tiles (a bright target): --lr 0.0004" in capsys.readouterr().out) == bright
    written = train_cli.parse(["--preset", "cpu", "--data", str(out), "--lr", "1e-4"])
    assert written.train.lr == 1e-4 and "train.lr" in written.given
    assert "full-band" not in capsys.readouterr().out
    assert train_cli.parse(["--data", str(out)]).train.lr == 2e-4  # no preset: the reference's
    if bright:  # a spec flag written wins: the narrow band, with the note
        out2 = tmp_path / "out2"
        argv = [str(a), str(b), "--out", str(out2), "--preset", "cpu", "--sample-rate", "11025"]
        assert main([*argv, "--workers", "1"]) == 0
        assert Manifest.load(out2).spec.sample_rate == 11025
        assert "note: domain B's sound reaches above 5,512 Hz" in capsys.readouterr().out


def test_probe_band_loss_reads_a_few_files_and_tolerates_bad_ones(tmp_path):
    from cyclegan_audio.preparation import probe_band_loss

    a, b = _bright_pair(tmp_path, True)
    (b / "bad.wav").write_bytes(b"not audio")
    spec = SpectrogramSpec(sample_rate=11025, n_fft=254, hop_length=86, tile_frames=128)
    assert probe_band_loss(b, spec) > 3.0
    assert probe_band_loss(a, spec) < 0.5
    assert probe_band_loss(tmp_path / "missing", spec) is None
    (tmp_path / "empty").mkdir()
    assert probe_band_loss(tmp_path / "empty", spec) is None
    # the rule as a library call: the full band for the bright B only, the loss beside it
    from cyclegan_audio.preparation import bright_target_spec

    wide, loss = bright_target_spec("cpu", spec, b)
    assert (wide.sample_rate, wide.n_fft, loss > 3.0) == (22050, 510, True)
    assert bright_target_spec("cpu", spec, a)[0] == spec
    assert bright_target_spec("cpu-voice", spec, b) == (spec, None)  # no full-band variant
    from cyclegan_audio.presets import bright_target_train

    assert bright_target_train("cpu", wide.to_dict()) == {"lr": 4e-4}
    assert bright_target_train("cpu", spec.to_dict()) == {}
    assert bright_target_train("cpu", {**wide.to_dict(), "freq_scale": "log"}) == {}
    assert bright_target_train("cpu-voice", wide.to_dict()) == {}
