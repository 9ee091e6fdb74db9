"""Checkpoints handed to translate/evaluate are loaded safely, and bad ones fail in one whole line."""

from __future__ import annotations

import os

import pytest
import torch

from cyclegan_audio.checkpoint import load_raw, make_meta, read_checkpoint
from cyclegan_audio.errors import CheckpointError
from cyclegan_audio.networks import build_generator, tiny_config
from cyclegan_audio.spec import tiny_spec

MARKER = "cyclegan-audio-test-pwned"


class _RunsCode:
    """Pickles as a call to os.system: what a malicious downloaded checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _lightning_like(path):
    """What our best/last.ckpt hold: tensors, plain dicts and lists, numbers, strings."""
    g = build_generator(tiny_config())
    torch.save(
        {
            "epoch": 0,
            "global_step": 4,
            "pytorch-lightning_version": "2.6.6",
            "state_dict": {f"g_ab.{k}": v for k, v in g.state_dict().items()},
            "optimizer_states": [{"state": {}, "param_groups": [{"lr": 2e-4, "params": [0]}]}],
            "callbacks": {"ModelCheckpoint{...}": {"best_model_score": torch.tensor(1.5)}},
            "hyper_parameters": {"lambda_cycle": 10.0},
            "cyclegan_audio": make_meta(tiny_spec(), tiny_config()),
        },
        path,
    )
    return path


def test_plain_checkpoint_loads_with_weights_only(tmp_path):
    info = read_checkpoint(_lightning_like(tmp_path / "best.ckpt"))
    assert info.spec == tiny_spec() and info.generator_state("AtoB")


def test_checkpoint_that_runs_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / MARKER
    path = tmp_path / "evil.ckpt"
    torch.save({"cyclegan_audio": {}, "x": _RunsCode(marker)}, path)
    with pytest.raises(CheckpointError) as e:
        load_raw(path)
    assert not marker.exists()
    msg = str(e.value)
    assert "refusing to load" in msg and "system" in msg and "\n" not in msg


@pytest.mark.parametrize("keep", [lambda n: 100, lambda n: n // 2, lambda n: n - 10])
def test_truncated_checkpoint_message_is_whole(tmp_path, keep):
    data = _lightning_like(tmp_path / "best.ckpt").read_bytes()
    n = keep(len(data))
    bad = tmp_path / "cut.ckpt"
    bad.write_bytes(data[:n])
    with pytest.raises(CheckpointError) as e:
        load_raw(bad)
    msg = str(e.value)
    assert msg.startswith(f"{bad}: not a readable checkpoint") and "\n" not in msg
    assert msg.endswith("copy it again or use another")


def test_text_file_and_folder_are_one_line(tmp_path):
    (tmp_path / "notes.ckpt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_raw(tmp_path / "notes.ckpt")
    with pytest.raises(CheckpointError, match="is a folder"):
        load_raw(tmp_path)


def test_window_tiles_is_stored_and_old_checkpoints_hear_one_tile(tmp_path):
    from cyclegan_audio.checkpoint import load_translator
    from cyclegan_audio.errors import TrainingError

    path = _lightning_like(tmp_path / "old.ckpt")  # written before window_tiles existed
    raw = torch.load(path, weights_only=True)
    del raw["cyclegan_audio"]["network"]["window_tiles"]
    raw["state_dict"].update({k.replace("g_ab.", "g_ba."): v for k, v in raw["state_dict"].items()})
    torch.save(raw, path)
    assert load_translator(path).window_tiles == 1
    raw["cyclegan_audio"]["network"]["window_tiles"] = 2
    torch.save(raw, path)
    assert load_translator(path, "BtoA").window_tiles == 2
    with pytest.raises(TrainingError, match="--window-tiles 0"):
        tiny_config(window_tiles=0)
