"""EMA of the generator weights: known answers, validation, checkpoints, resume, translate."""

from __future__ import annotations

import shutil

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from cyclegan_audio import checkpoint, ema
from cyclegan_audio.data import TileDataModule
from cyclegan_audio.errors import TrainingError
from cyclegan_audio.model import CycleGan, TrainConfig
from cyclegan_audio.networks import tiny_config
from cyclegan_audio.training import RunConfig, run_training
from tests.test_train import make_prepared, run_main


def _weights(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _prefixed(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def test_update_known_answers():
    net, avg = nn.Linear(3, 2), None
    avg = ema.ema_copy(net)
    assert not any(p.requires_grad for p in avg.parameters())
    start = avg.weight.clone()
    values = [torch.full_like(net.weight, float(v)) for v in (1.0, 4.0, -2.0)]
    for v in values:  # decay 0: the average is the latest weights
        net.weight.data.copy_(v)
        ema.update(avg, net, 0.0)
        assert torch.equal(avg.weight, net.weight)
    avg.weight.data.copy_(start)
    for v in values:  # constant decay d: d^k * start + sum_t (1 - d) d^(k-1-t) v_t
        net.weight.data.copy_(v)
        ema.update(avg, net, 0.5)
    closed = 0.125 * start + 0.5 * 0.25 * values[0] + 0.5 * 0.5 * values[1] + 0.5 * values[2]
    torch.testing.assert_close(avg.weight, closed)
    assert [ema.decay_at(s, 0.999) for s in (0, 8, 80)] == [0.1, 0.5, 0.9]
    assert ema.decay_at(10**6, 0.999) == 0.999 and ema.decay_at(0, 0.0) == 0.0


def test_decay_out_of_range_is_refused():
    with pytest.raises(TrainingError, match="ema_decay must be in"):
        TrainConfig(ema_decay=1.0)


def _fit_one_batch(root, ema_decay: float) -> tuple[CycleGan, dict[str, torch.Tensor]]:
    dm = TileDataModule(make_prepared(root / "data"), batch_size=2, num_workers=0)
    model = CycleGan(dm.spec, tiny_config(), TrainConfig(pool_size=4, ema_decay=ema_decay))
    init = _weights(model.g_ab)
    trainer = pl.Trainer(
        fast_dev_run=1, accelerator="cpu", logger=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=root,
    )  # fmt: skip
    trainer.fit(model, datamodule=dm)
    return model, init


def test_one_step_gives_the_warm_up_average_and_validation_uses_it(tmp_path):
    """After the first generator step the EMA is 0.1 * init + 0.9 * raw (warm-up decay 0.1),
    and validation translated with it, not with the raw weights."""
    model, init = _fit_one_batch(tmp_path, 0.999)
    raw, avg = _weights(model.g_ab), _weights(model.g_ab_ema)
    for k in raw:
        torch.testing.assert_close(avg[k], 0.1 * init[k] + 0.9 * raw[k])
    real, fake, _ = model.val_media["AtoB"]
    with torch.no_grad():
        torch.testing.assert_close(fake, model.g_ab_ema.eval()(real))
        assert not torch.allclose(fake, model.g_ab.eval()(real))


def test_decay_zero_keeps_no_average(tmp_path):
    model, _ = _fit_one_batch(tmp_path, 0.0)
    assert model.g_ab_ema is None and not model.use_ema
    assert not any("_ema." in k for k in model.state_dict())
    real, fake, _ = model.val_media["AtoB"]
    with torch.no_grad():
        torch.testing.assert_close(fake, model.g_ab.eval()(real))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 2-step run with EMA on (the default): (data folder, run folder)."""
    root = tmp_path_factory.mktemp("ema_run")
    data = make_prepared(root / "data")
    assert run_main(data, root / "ck", "--max-steps", "2", "--ema-decay", "0.999") == 0
    return data, root / "ck" / "r"


def _edited_copy(src, dst, edit) -> None:
    raw = torch.load(src, weights_only=False)
    edit(raw["state_dict"])
    torch.save(raw, dst)


def test_translate_loads_the_average_and_old_checkpoints_load_raw(run, tmp_path):
    _, run_dir = run
    path = tmp_path / "last.ckpt"

    def shifted_average(state):  # make the EMA differ visibly from the raw weights
        for k in [k for k in state if k.startswith(("g_ab_ema.", "g_ba_ema."))]:
            state[k] = state[k] + 1.0

    _edited_copy(run_dir / "last.ckpt", path, shifted_average)
    state = torch.load(path, weights_only=False)["state_dict"]
    for direction, prefix in (("AtoB", "g_ab"), ("BtoA", "g_ba")):
        _, g, _ = checkpoint.load_translation(path, direction)
        for k, v in g.state_dict().items():
            assert torch.equal(v, state[f"{prefix}_ema.{k}"]), k
        _, g_raw = checkpoint.load_generator(path, direction, ema=False)
        for k, v in g_raw.state_dict().items():
            assert torch.equal(v, state[f"{prefix}.{k}"]), k
    old = tmp_path / "old.ckpt"  # as written before EMA existed
    _edited_copy(path, old, lambda s: ema.complete_state_dict(s, enabled=False))
    _, g = checkpoint.load_generator(old, "AtoB")
    for k, v in g.state_dict().items():
        assert torch.equal(v, state[f"g_ab.{k}"])


class _AtStart(pl.Callback):
    def on_train_start(self, trainer, pl_module) -> None:
        self.avg = _weights(pl_module.g_ab_ema)
        self.raw = _weights(pl_module.g_ab)


@pytest.mark.parametrize("old", [False, True])
def test_resume_restores_the_average(run, tmp_path, old):
    """Resume puts the saved EMA back (made distinct from the raw weights to tell them apart);
    a checkpoint written without EMA resumes with the raw weights as the start of the EMA."""
    data, run_dir = run
    shutil.copytree(run_dir, tmp_path / "ck" / "r")
    last = tmp_path / "ck" / "r" / "last.ckpt"

    def edit(state):
        if old:
            ema.complete_state_dict(state, enabled=False)
        else:
            for k in [k for k in state if k.startswith("g_ab_ema.")]:
                state[k] = state[k] + 1.0

    _edited_copy(last, last, edit)
    saved = _prefixed(torch.load(last, weights_only=False)["state_dict"], "g_ab_ema.")
    probe = _AtStart()
    cfg = RunConfig(
        data=data, net=tiny_config(), resume=last, max_steps=3, num_workers=0,
        checkpoint_dir=tmp_path / "ck", run_name="r", logger="none", progress_bar=False,
    )  # fmt: skip
    run_training(cfg, extra_callbacks=(probe,))
    expected = probe.raw if old else saved
    assert expected and all(torch.equal(probe.avg[k], expected[k]) for k in probe.avg)
    after = torch.load(last, weights_only=False)
    assert after["cyclegan_audio"]["generator_steps"] == 3
    assert any(k.startswith("g_ba_ema.") for k in after["state_dict"])


def test_epoch_average_known_answers():
    """The last n of max_epochs epochs are averaged; repeated snapshot updates give the mean."""
    assert [ema.averaged_epoch(e, 5, 2) for e in range(5)] == [None, None, None, 0, 1]
    assert ema.averaged_epoch(0, 5, 0) is None and ema.averaged_epoch(3, -1, 2) is None
    assert [ema.averaged_epoch(e, 2, 4) for e in range(2)] == [0, 1]  # n > max_epochs: all
    net = nn.Linear(3, 2)
    avg = ema.ema_copy(net)
    values = [torch.full_like(net.weight, float(v)) for v in (3.0, -1.0, 7.0, 2.0)]
    for k, v in enumerate(values):
        net.weight.data.copy_(v)
        ema.update(avg, net, ema.snapshot_decay(k))
        torch.testing.assert_close(avg.weight, torch.stack(values[: k + 1]).mean(0))


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"average_epochs": -1}, "0 or more"), ({"average_epochs": 2, "ema_decay": 0.99}, "one of")],
)
def test_epoch_average_bad_settings_are_refused(kw, match):
    with pytest.raises(TrainingError, match=match):
        TrainConfig(**kw)


class _EpochEnds(pl.Callback):
    """The raw and averaged A->B generator weights at the end of every training epoch."""

    def __init__(self) -> None:
        self.raw: list[dict[str, torch.Tensor]] = []
        self.avg: list[dict[str, torch.Tensor]] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.raw.append(_weights(pl_module.g_ab))
        self.avg.append(_weights(pl_module.g_ab_ema))


def test_the_last_epochs_are_averaged_and_validated(tmp_path):
    """3 epochs, the last 2 averaged: after epoch 0 the slot is the raw weights; after epoch 2
    the mean of the raw weights at the ends of epochs 1 and 2, which validation translated."""
    dm = TileDataModule(make_prepared(tmp_path / "data"), batch_size=2, num_workers=0)
    model = CycleGan(dm.spec, tiny_config(), TrainConfig(pool_size=4, average_epochs=2))
    probe = _EpochEnds()
    trainer = pl.Trainer(
        max_epochs=3, limit_train_batches=2, limit_val_batches=1, accelerator="cpu",
        logger=False, enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=False, default_root_dir=tmp_path, callbacks=[probe],
    )  # fmt: skip
    trainer.fit(model, datamodule=dm)
    raw, avg = probe.raw, probe.avg
    assert len(raw) == 3 and not torch.equal(raw[1]["model.1.weight"], raw[2]["model.1.weight"])
    for k in raw[0]:
        assert torch.equal(avg[0][k], raw[0][k]) and torch.equal(avg[1][k], raw[1][k]), k
        torch.testing.assert_close(avg[2][k], (raw[1][k] + raw[2][k]) / 2)
    real, fake, _ = model.val_media["AtoB"]
    with torch.no_grad():
        torch.testing.assert_close(fake, model.g_ab_ema.eval()(real))
        assert not torch.allclose(fake, model.g_ab.eval()(real))
