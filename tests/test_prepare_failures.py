"""prepare when the environment fails: nothing lost, nothing silent, nothing remembered wrongly."""

from __future__ import annotations

import errno
import json
import os

import pytest

from cyclegan_audio import image_io
from cyclegan_audio.cli.prepare import main
from cyclegan_audio.manifest import Manifest
from tests.test_prepare import TINY, _good


@pytest.fixture
def folders(tmp_path):
    a, b = tmp_path / "A", tmp_path / "B"
    _good(a, 3)
    _good(b, 2, f0=330)
    return a, b, tmp_path / "out"


def _run(a, b, out):
    return main([str(a), str(b), "--out", str(out), *TINY])


def _full_disk_for(monkeypatch, name):
    real = image_io.write_png

    def write_png(path, *args, **kw):
        if f"{os.sep}A{os.sep}" in str(path) and name in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, *args, **kw)

    monkeypatch.setattr(image_io, "write_png", write_png)


def _manifest_is_whole(out):
    m = Manifest.load(out)
    assert all((out / t.path).exists() for t in m.tiles)
    return m


def test_disk_full_is_retried_next_run(folders, monkeypatch, capsys):
    a, b, out = folders
    _full_disk_for(monkeypatch, "good1")
    assert _run(a, b, out) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "good1.wav" in line]
    assert len(lines) == 1 and lines[0].startswith(f"skip {a / 'good1.wav'}: No space left")
    assert "tried again next run" in lines[0] and "Traceback" not in err
    m = _manifest_is_whole(out)
    assert m.files["A/good1.wav"]["status"] == "failed"
    assert not [t for t in m.tiles if (t.domain, t.source) == ("A", "good1.wav")]
    # the tiles written before the failure are gone
    assert not list((out / "A").rglob("good1*.png"))

    monkeypatch.undo()
    assert _run(a, b, out) == 0
    captured = capsys.readouterr()
    assert "good1" not in captured.err and "A: 3 files (2 unchanged)" in captured.out
    m = _manifest_is_whole(out)
    assert m.files["A/good1.wav"]["status"] == "ok"
    assert [t for t in m.tiles if (t.domain, t.source) == ("A", "good1.wav")]


def test_old_manifest_error_record_is_retried(folders, capsys):
    """Manifests written before failures were told apart stored them as kind "error"."""
    a, b, out = folders
    assert _run(a, b, out) == 0
    data = json.loads((out / "manifest.json").read_text())
    data["files"]["A/good2.wav"].update(status="skipped", kind="error", reason="OSError: x")
    data["tiles"] = [t for t in data["tiles"] if t["source"] != "good2.wav"]
    (out / "manifest.json").write_text(json.dumps(data))
    capsys.readouterr()
    assert _run(a, b, out) == 0
    assert "OSError" not in capsys.readouterr().err
    assert Manifest.load(out).files["A/good2.wav"]["status"] == "ok"


def test_manifest_that_cannot_be_saved_is_one_line(folders, monkeypatch, capsys):
    a, b, out = folders
    assert _run(a, b, out) == 0
    before = (out / "manifest.json").read_text()
    os.utime(a / "good0.wav", ns=(1, 1))  # changed: its old tiles are to be replaced

    from cyclegan_audio import manifest

    def full(path, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(manifest, "atomic_path", full)
    capsys.readouterr()
    assert _run(a, b, out) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0] == (
        f"error: {out / 'manifest.json'}: cannot save the manifest (No space left on device); "
        "fix that and run prepare again"
    )
    assert (out / "manifest.json").read_text() == before
    _manifest_is_whole(out)  # the old tiles of good0 were not removed before the save


def test_orphan_and_missing_tiles_are_not_trusted(folders, capsys):
    a, b, out = folders
    assert _run(a, b, out) == 0
    m = Manifest.load(out)
    mine = [t for t in m.tiles if (t.domain, t.source) == ("A", "good0.wav")]
    orphan = (out / mine[0].path).with_name(
        mine[0].path.rsplit("-", 1)[0].split("/")[-1] + "-00099.png"
    )
    image_io.write_png(orphan, image_io.read_png(out / mine[0].path))  # from a killed run
    data = json.loads((out / "manifest.json").read_text())
    data["tiles"] = [t for t in data["tiles"] if t["path"] != mine[-1].path]  # a lost record
    (out / "manifest.json").write_text(json.dumps(data))
    capsys.readouterr()
    assert _run(a, b, out) == 0
    assert "A: 3 files (2 unchanged)" in capsys.readouterr().out  # good0 redone
    m = _manifest_is_whole(out)
    assert len([t for t in m.tiles if (t.domain, t.source) == ("A", "good0.wav")]) == len(mine)
    assert not orphan.exists()


def test_folder_named_like_audio_and_symlink_loops_are_named_once(folders, capsys):
    a, b, out = folders
    (a / "x.wav").mkdir()
    os.symlink("loop.wav", a / "loop.wav")
    (a / "sub").mkdir()
    os.symlink("..", a / "sub" / "up")
    assert _run(a, b, out) == 0
    err = capsys.readouterr().err.splitlines()
    for path, why in [
        (a / "x.wav", "is a folder"),
        (a / "loop.wav", "symlink loop"),
        (a / "sub" / "up", "symlink loop"),
    ]:
        lines = [line for line in err if line.startswith(f"skip {path}:")]
        assert len(lines) == 1 and why in lines[0], (path, err)
    assert {k for k in Manifest.load(out).files if k.startswith("A/")} == {
        f"A/good{i}.wav" for i in range(3)
    }


def test_unreadable_file_is_not_a_verdict(folders, monkeypatch, capsys):
    """No permission to read is the environment's fault: named, not remembered, retried."""
    a, b, out = folders
    from cyclegan_audio import audio

    def no_permission(path, *args, **kw):
        if str(path) == str(a / "good2.wav"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return open(path, *args, **kw)

    monkeypatch.setattr(audio, "open", no_permission, raising=False)
    assert _run(a, b, out) == 1
    lines = _skips_for(capsys.readouterr().err, a / "good2.wav")
    assert len(lines) == 1 and "Permission denied" in lines[0]
    monkeypatch.undo()
    assert _run(a, b, out) == 0
    assert Manifest.load(out).files["A/good2.wav"]["status"] == "ok"


def _skips_for(err, path):
    return [line for line in err.splitlines() if line.startswith(f"skip {path}:")]
