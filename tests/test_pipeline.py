"""The user's whole chain in-process: prepare -> train (2 steps) -> translate."""

from __future__ import annotations

from cyclegan_audio import audio
from cyclegan_audio.cli import prepare, train, translate
from tests.conftest import TINY_SPEC_FLAGS, harmonic_tone, write_two_domains


def test_prepare_train_translate_chain(tmp_path):
    dir_a, dir_b = write_two_domains(tmp_path)
    data = tmp_path / "prepared"
    assert prepare.main([str(dir_a), str(dir_b), "--out", str(data),
                         "--workers", "1", "--quiet", *TINY_SPEC_FLAGS]) == 0  # fmt: skip
    assert train.main([
        "--data", str(data), "--gpus", "0", "--max-steps", "2", "--ngf", "4", "--ndf", "4",
        "--n-blocks", "1", "--n-layers-d", "2", "--logger", "none", "--num-workers", "0",
        "--checkpoint-dir", str(tmp_path / "ck"), "--run-name", "r", "--no-progress-bar",
        "--n-val-tiles", "2",
    ]) == 0  # fmt: skip
    best = tmp_path / "ck" / "r" / "best.ckpt"
    assert best.exists() and (tmp_path / "ck" / "r" / "last.ckpt").exists()

    song = harmonic_tone(330.0, 1.37, 44100)
    audio.save(tmp_path / "song.wav", song, 44100)
    out = tmp_path / "song.AtoB.wav"
    assert translate.main(["--ckpt", str(best), str(tmp_path / "song.wav")]) == 0
    info = audio.info(out)
    assert info.sample_rate == 44100 and info.n_samples == song.size
