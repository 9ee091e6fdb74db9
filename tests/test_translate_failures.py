"""translate when inputs or the environment are bad: every good file done, each bad one named once."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cyclegan_audio import audio
from cyclegan_audio.audio import save
from cyclegan_audio.cli.translate import main
from tests.test_translate import _checkpoint, _tone

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def ckpt(tmp_path):
    return _checkpoint(tmp_path / "best.ckpt")


def _skips(err: str, path) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(f"skip {path}:")]


def test_bad_inputs_first_and_in_the_middle_do_not_stop_the_good_ones(tmp_path, ckpt, capsys):
    good = [save(tmp_path / f"good{i}.wav", _tone(0.3, 8000), 8000) for i in range(2)]
    text = tmp_path / "notes.wav"
    text.write_text("not audio\n")
    folder = tmp_path / "album.wav"
    folder.mkdir()
    missing = tmp_path / "gone.wav"
    inputs = [missing, good[0], text, folder, good[1]]
    out = tmp_path / "out"
    assert main(["--ckpt", str(ckpt), *map(str, inputs), "-o", str(out), "--n-iter", "1"]) == 1
    err = capsys.readouterr().err
    for path, why in [(missing, "file not found"), (text, "not a readable audio file"),
                      (folder, "is a folder")]:  # fmt: skip
        lines = _skips(err, path)
        assert len(lines) == 1 and why in lines[0], (path, err)
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: 3 of 5")
    assert sorted(p.name for p in out.iterdir()) == ["good0.AtoB.wav", "good1.AtoB.wav"]


def test_trailing_slash_means_a_new_folder(tmp_path, ckpt):
    inp = save(tmp_path / "in.wav", _tone(0.3, 8000), 8000)
    out = tmp_path / "newdir"
    assert main(["--ckpt", str(ckpt), str(inp), "-o", f"{out}/", "--n-iter", "1"]) == 0
    assert out.is_dir() and sf.info(out / "in.AtoB.wav").frames == 2400


@pytest.mark.parametrize(
    "where, code, reason",
    [("folder", errno.EROFS, "Read-only file system"), ("write", errno.ENOSPC, "No space left")],
)
def test_unwritable_output_is_one_line_each(
    tmp_path, ckpt, monkeypatch, capsys, where, code, reason
):
    ins = [save(tmp_path / f"{n}.wav", _tone(0.3, 8000), 8000) for n in ("a", "b")]
    out = tmp_path / "out"
    if where == "folder":  # creating the temporary output file fails (root ignores chmod)

        def refuse(path):
            raise OSError(code, os.strerror(code), str(Path(path).parent))

        monkeypatch.setattr(audio, "temp_beside", refuse)
    else:  # the disk fills up while samples are written

        def full(self, data):
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(sf.SoundFile, "write", full)
    args = ["--ckpt", str(ckpt), *map(str, ins), "-o", str(out), "--n-iter", "1"]
    assert main([*args, "--scratch-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for inp in ins:
        lines = _skips(err, inp)
        assert len(lines) == 1 and reason in lines[0] and str(tmp_path) in lines[0], err
    assert not out.exists() or not list(out.iterdir())
    assert not list(tmp_path.glob("cyclegan-audio-*"))  # scratch removed


def test_scratch_goes_to_a_temporary_folder_not_the_output_folder(tmp_path, ckpt, monkeypatch):
    inp = save(tmp_path / "music" / "in.wav", _tone(1.0, 8000), 8000)
    scratch_dir = tmp_path / "scratch"
    scratch_dir.mkdir()
    made = []
    real = audio.AudioWriter.__init__

    def spy(self, path, *a, **k):
        made.append(Path(path))
        real(self, path, *a, **k)

    monkeypatch.setattr(audio.AudioWriter, "__init__", spy)
    args = ["--ckpt", str(ckpt), str(inp), "--n-iter", "1", "--chunk-seconds", "0.3"]
    assert main([*args, "--scratch-dir", str(scratch_dir)]) == 0
    out = tmp_path / "music" / "in.AtoB.wav"
    assert made[-1] == out and len(made) == 2
    assert made[0].parent.parent == scratch_dir  # <scratch>/cyclegan-audio-XXXX/channel0.wav
    assert sorted(p.name for p in out.parent.iterdir()) == ["in.AtoB.wav", "in.wav"]
    assert not list(scratch_dir.iterdir())


@pytest.mark.slow  # a subprocess: imports torch
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_translate_leaves_nothing_in_the_output_folder(tmp_path, ckpt, sig):
    music, scratch_dir = tmp_path / "music", tmp_path / "scratch"
    inp = save(music / "long.wav", _tone(4.0, 8000), 8000)
    scratch_dir.mkdir()
    cmd = [sys.executable, "-m", "cyclegan_audio.cli", "translate", "--ckpt", str(ckpt), str(inp),
           "--n-iter", "300", "--chunk-seconds", "0.5", "--scratch-dir", str(scratch_dir)]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not list(scratch_dir.glob("*/*channel0*")):  # translating: scratch written
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert sorted(p.name for p in music.iterdir()) == ["long.wav"]
    if sig == signal.SIGTERM:  # unwinds: the temporary folder goes too
        assert proc.returncode == 130 and not list(scratch_dir.iterdir())


def test_fallback_format_is_decoded_once(tmp_path, ckpt, monkeypatch):
    """m4a/wma go through librosa, which decodes the whole file per call: once, not per chunk."""
    inp = tmp_path / "in.m4a"
    sf.write(inp, np.stack([_tone(2.0, 8000)] * 2, axis=1), 8000, format="WAV", subtype="FLOAT")
    real_info, real_file = sf.info, sf.SoundFile

    def no_m4a(real):
        def open_(file, *a, **k):
            if str(file).endswith(".m4a"):
                raise RuntimeError("Format not recognised")
            return real(file, *a, **k)

        return open_

    decodes = []

    def fallback(path, exc, sr):
        decodes.append(path)
        with real_file(str(path)) as f:
            return f.read(dtype="float32", always_2d=True).T, f.samplerate

    monkeypatch.setattr(sf, "info", no_m4a(real_info))
    monkeypatch.setattr(sf, "SoundFile", no_m4a(real_file))
    monkeypatch.setattr(audio, "_load_fallback", fallback)
    args = ["--ckpt", str(ckpt), str(inp), "--n-iter", "1", "--chunk-seconds", "0.3"]
    assert main(args) == 0
    assert len(decodes) == 1
    info = real_info(str(tmp_path / "in.AtoB.wav"))
    assert (info.frames, info.channels) == (16000, 2)
