"""Training end to end on CPU with tiny networks and a tiny prepared folder built here."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from cyclegan_audio import checkpoint, image_io
from cyclegan_audio.callbacks import AtomicCheckpointIO
from cyclegan_audio.cli import train
from cyclegan_audio.data import TileDataModule
from cyclegan_audio.manifest import Manifest, TileRecord
from cyclegan_audio.model import CycleGan, TrainConfig
from cyclegan_audio.networks import tiny_config
from cyclegan_audio.spec import tiny_spec

TINY_NET = ["--ngf", "4", "--ndf", "4", "--n-blocks", "1", "--n-layers-d", "2"]


def make_prepared(root: Path, spec=None, n_train=(4, 3), n_val=(2, 2)) -> Path:
    """A prepared folder: domain A has a band of energy low, B high, plus noise."""
    spec = spec or tiny_spec()
    rng = np.random.default_rng(0)
    n_freq, n_frames = spec.tile_shape
    tiles = []
    for domain, band, n_tr, n_va in (
        ("A", 8, n_train[0], n_val[0]),
        ("B", 40, n_train[1], n_val[1]),
    ):
        for split, count in (("train", n_tr), ("val", n_va)):
            for i in range(count):
                unit = 0.2 * rng.random((n_freq, n_frames))
                unit[band : band + 3] += 0.6
                rel = f"{domain}/{split}/{i:03d}.png"
                image_io.write_png(root / rel, unit)
                tiles.append(TileRecord(rel, domain, split, f"src{i}.wav", 0.0))
    Manifest(spec=spec, root=root, tiles=tiles).save()
    return root


def run_main(data: Path, ckpt_dir: Path, *extra: str) -> int:
    args = ["--data", str(data), "--checkpoint-dir", str(ckpt_dir), "--run-name", "r"]
    args += ["--num-workers", "0", "--no-progress-bar", "--pool-size", "10", *TINY_NET]
    if "--logger" not in extra:
        args += ["--logger", "none"]
    return train.main(args + list(extra))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-step run: (data folder, run folder)."""
    root = tmp_path_factory.mktemp("run")
    data = make_prepared(root / "data")
    assert run_main(data, root / "ck", "--max-steps", "2") == 0
    return data, root / "ck" / "r"


def fast_dev_fit(model: CycleGan, dm: TileDataModule, root: Path) -> pl.Trainer:
    """One batch of training (``fast_dev_run``) on the CPU, quiet, writing only under root."""
    trainer = pl.Trainer(
        fast_dev_run=1,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,  # never the working directory
    )
    trainer.fit(model, datamodule=dm)
    return trainer


def fit_spying(root: Path, monkeypatch, loss_name: str, train: TrainConfig, net=None):
    """One batch of training on tiny prepared data with every call of ``losses.<loss_name>``
    recorded: (each call's positional arguments but the first, the model, the data module)."""
    from cyclegan_audio import losses

    dm = TileDataModule(make_prepared(root / "data"), batch_size=2, num_workers=0)
    model = CycleGan(dm.spec, net or tiny_config(), train)
    seen = []
    real = getattr(losses, loss_name)
    monkeypatch.setattr(losses, loss_name, lambda *a: seen.append(a[1:]) or real(*a))
    fast_dev_fit(model, dm, root)
    return seen, model, dm


def test_fast_dev_run_steps_both_optimisers(tmp_path):
    data = make_prepared(tmp_path / "data")
    dm = TileDataModule(data, batch_size=2, num_workers=0)
    model = CycleGan(dm.spec, tiny_config(), TrainConfig(pool_size=4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = fast_dev_fit(model, dm, tmp_path)
    for net in ("g_ab", "g_ba", "d_a", "d_b"):
        changed = [
            k
            for k, v in model.state_dict().items()
            if k.startswith(net + ".") and not torch.equal(v, before[k])
        ]
        assert changed, f"{net} did not change"
    assert trainer.global_step == 2  # two optimisers -> 2 per batch (Lightning #17958)
    assert len(model.pool_a) == 2 and len(model.pool_b) == 2


def test_main_writes_best_and_last_with_spec(trained):
    _, run_dir = trained
    for name in ("best.ckpt", "last.ckpt"):
        path = run_dir / name
        raw = torch.load(path, map_location="cpu", weights_only=False)
        spec, net, meta = checkpoint.read_meta(raw, path)
        assert spec == tiny_spec()
        assert net.ngf == 4 and meta["generator_steps"] == 2
        assert raw["global_step"] == 4
        assert np.isfinite(meta["val_score"]["score"])
        spec2, g = checkpoint.load_generator(path, "BtoA")
        x = torch.zeros(1, 1, *spec2.tile_shape)
        assert g(x).shape == x.shape
    assert not list(run_dir.glob(".*tmp"))


def test_resume_continues_steps_and_restores_pool(trained, tmp_path):
    data, run_dir = trained
    ck = tmp_path / "ck"
    shutil.copytree(run_dir, ck / "r")
    first = torch.load(ck / "r" / "last.ckpt", weights_only=False)["image_pools"]["ranks"]
    assert len(first) == 1 and len(first[0]["a"]["images"]) == 2
    assert run_main(data, ck, "--resume", str(ck / "r" / "last.ckpt"), "--max-steps", "4") == 0
    raw = torch.load(ck / "r" / "last.ckpt", weights_only=False)
    assert raw["global_step"] == 8 and raw["cyclegan_audio"]["generator_steps"] == 4
    # 2 fakes from the first run + 2 new ones: the pool came back from the checkpoint.
    pool_a = raw["image_pools"]["ranks"][0]["a"]["images"]
    assert len(pool_a) == 4 and torch.equal(pool_a[0], first[0]["a"]["images"][0])


def test_resume_refuses_other_spec(trained, tmp_path, capsys):
    _, run_dir = trained
    other = make_prepared(tmp_path / "other", spec=tiny_spec(db_floor=-80.0))
    code = run_main(
        other, tmp_path / "ck", "--resume", str(run_dir / "last.ckpt"), "--max-steps", "3"
    )
    err = capsys.readouterr().err
    assert code == 2 and "db_floor: -100.0 != -80.0" in err and "Traceback" not in err


def test_resume_refuses_unknown_format_version(trained, tmp_path, capsys):
    data, run_dir = trained
    raw = torch.load(run_dir / "last.ckpt", weights_only=False)
    raw["cyclegan_audio"]["format_version"] = 99
    bad = tmp_path / "future.ckpt"
    torch.save(raw, bad)
    assert run_main(data, tmp_path / "ck", "--resume", str(bad)) == 2
    assert "format version 99" in capsys.readouterr().err


def test_nan_loss_stops_and_keeps_last_good_checkpoint(trained, tmp_path, capsys, monkeypatch):
    data, run_dir = trained
    ck = tmp_path / "ck"
    shutil.copytree(run_dir, ck / "r")
    good = (ck / "r" / "last.ckpt").read_bytes()
    from cyclegan_audio import losses

    monkeypatch.setattr(losses, "l1", lambda x, t: torch.tensor(float("nan")))
    code = run_main(data, ck, "--resume", str(ck / "r" / "last.ckpt"), "--max-steps", "4")
    err = capsys.readouterr().err
    assert code == 2 and "generator loss became nan" in err
    assert (ck / "r" / "last.ckpt").read_bytes() == good


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1}, target)

    def dying_save(obj, f, *a, **k):
        f.write(b"half a checkpo")
        raise KeyboardInterrupt  # a kill in the middle of the write

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 2}, target)
    monkeypatch.undo()
    assert torch.load(target, weights_only=False) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_val_fallback_to_train_tiles_warns(tmp_path):
    data = make_prepared(tmp_path / "d", n_train=(5, 2), n_val=(0, 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm = TileDataModule(data, batch_size=1, num_workers=0, n_val_tiles=3)
    assert any("domain A has no val tiles" in str(w.message) for w in caught)
    assert [p.parent.name for p in dm.val_paths["A"]] == ["train"] * 3
    ds = dm.train_dataloader().dataset
    assert len(ds) == 5  # epoch = the larger domain
    item = ds[4]
    assert (
        item["a"].shape == (1, 64, 64)
        and -1 <= float(item["b"].min()) <= float(item["b"].max()) <= 1
    )


def test_wandb_offline_writes_run_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    data = make_prepared(tmp_path / "data")
    code = run_main(
        data,
        tmp_path / "ck",
        "--max-steps",
        "2",
        "--logger",
        "wandb",
        "--log-dir",
        str(tmp_path / "logs"),
        "--log-media-every",
        "1",
    )
    assert code == 0
    runs = list((tmp_path / "logs" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))
    out = capsys.readouterr().out
    assert "W&B offline" in out and "wandb sync" in out


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path):
    data = make_prepared(tmp_path / "data")
    code = run_main(data, tmp_path / "ck", "--max-steps", "2", "--cpu-processes", "2")
    assert code == 0
    raw = torch.load(tmp_path / "ck" / "r" / "last.ckpt", weights_only=False)
    assert raw["cyclegan_audio"]["generator_steps"] == 2
    assert (tmp_path / "ck" / "r" / "best.ckpt").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_gpus_without_a_gpu_is_one_line_error(tmp_path, capsys):
    data = make_prepared(tmp_path / "d")
    rc = train.main(["--data", str(data), "--gpus", "1", "--max-steps", "1", "--logger", "none"])
    err = capsys.readouterr().err
    assert rc == 2 and "--gpus 1 asked for" in err and "Traceback" not in err


def _count_host_reads(monkeypatch) -> list[int]:
    """Count every way a tensor's value reaches Python (each is a GPU->host sync on a GPU)."""
    calls = [0]
    for name in ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__"):
        original = getattr(torch.Tensor, name)

        def counted(self, *a, _original=original, **k):
            calls[0] += 1
            return _original(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return calls


class _ReadsPerBatch(pl.Callback):
    def __init__(self, calls):
        self.calls, self.at_start = calls, []

    def on_train_batch_start(self, *args):
        self.at_start.append(self.calls[0])


@pytest.mark.parametrize("sync_every, expect_reads", [(1, True), (50, False)])
def test_training_steps_do_not_read_device_values_between_syncs(
    tmp_path, monkeypatch, sync_every, expect_reads
):
    """With sync_every 50, batches 2..9 of a 10-batch epoch read no tensor value on the host
    (NaN check and progress bar deferred); with 1 (the CPU default) every batch does."""
    from cyclegan_audio.training import RunConfig, run_training

    data = make_prepared(tmp_path / "data", n_train=(10, 10))
    probe = _ReadsPerBatch(_count_host_reads(monkeypatch))
    cfg = RunConfig(  # fused Adam (the GPU default): plain Adam reads its step count each step
        data=data, net=tiny_config(), train=TrainConfig(pool_size=4, fused_adam=True),
        max_epochs=1, num_workers=0, checkpoint_dir=tmp_path / "ck", run_name="r",
        logger="none", log_every=50, progress_bar=True, sync_every=sync_every,
    )  # fmt: skip
    run_training(cfg, extra_callbacks=(probe,))
    reads = np.diff(probe.at_start)  # host reads made by batch i (start i -> start i+1)
    assert len(reads) == 9
    if expect_reads:
        assert (reads[1:] > 0).all()
    else:
        assert (reads[1:] == 0).all(), reads


def test_deferred_nan_check_still_stops_before_any_checkpoint(tmp_path, monkeypatch):
    """A NaN at step 0 with the check deferred (sync_every 50 > the 4-batch epoch) is caught at
    the epoch's end, before validation or a checkpoint, naming the step it first appeared."""
    from cyclegan_audio import losses
    from cyclegan_audio.errors import TrainingError
    from cyclegan_audio.training import RunConfig, run_training

    data = make_prepared(tmp_path / "data")
    monkeypatch.setattr(losses, "l1", lambda x, t: torch.tensor(float("nan")))
    cfg = RunConfig(
        data=data, net=tiny_config(), train=TrainConfig(pool_size=4), max_epochs=1,
        num_workers=0, checkpoint_dir=tmp_path / "ck", run_name="r", logger="none",
        progress_bar=False, sync_every=50,
    )  # fmt: skip
    with pytest.raises(TrainingError, match="generator loss became nan or inf at generator step 0"):
        run_training(cfg)
    assert not list((tmp_path / "ck").rglob("*.ckpt"))


def test_bf16_mixed_precision_trains_and_saves_fp32_weights(tmp_path):
    """The GPU default precision (bf16-mixed), run on the CPU: a step, validation and a
    checkpoint whose weights stay fp32 and finite, and a generator that loads from it."""
    data = make_prepared(tmp_path / "data")
    assert run_main(data, tmp_path / "ck", "--max-steps", "2", "--precision", "bf16-mixed") == 0
    raw = torch.load(tmp_path / "ck" / "r" / "best.ckpt", weights_only=False)
    weights = [v for k, v in raw["state_dict"].items() if k.startswith("g_ab.")]
    assert weights and all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in weights)
    spec, g = checkpoint.load_generator(tmp_path / "ck" / "r" / "best.ckpt", "AtoB", "cpu")
    assert spec == tiny_spec()


def test_val_tiles_are_spread_over_every_val_recording(tmp_path):
    """4 val recordings x 10 tiles, 8 val tiles: two from each recording, first and last tile
    of the split included (the first 8 would all be recording 0)."""
    from cyclegan_audio.data import spread

    spec = tiny_spec()
    rng = np.random.default_rng(0)
    tiles = []
    for domain in ("A", "B"):
        tiles.append(TileRecord(f"{domain}/train/t.png", domain, "train", "t.wav", 0.0))
        image_io.write_png(tmp_path / f"{domain}/train/t.png", rng.random(spec.tile_shape))
        for f in range(4):
            for i in range(10):
                rel = f"{domain}/val/f{f}-{i:02d}.png"
                image_io.write_png(tmp_path / rel, rng.random(spec.tile_shape))
                tiles.append(TileRecord(rel, domain, "val", f"f{f}.wav", 0.0))
    Manifest(spec=spec, root=tmp_path, tiles=tiles).save()
    dm = TileDataModule(tmp_path, batch_size=1, num_workers=0, n_val_tiles=8)
    names = [p.name for p in dm.val_paths["A"]]
    assert [n.split("-")[0] for n in names] == ["f0", "f0", "f1", "f1", "f2", "f2", "f3", "f3"]
    assert names[0] == "f0-00.png" and names[-1] == "f3-09.png" and len(set(names)) == 8
    assert spread(list(range(5)), 8) == [0, 1, 2, 3, 4] and spread(list(range(9)), 3) == [0, 4, 8]


def test_keep_epochs_keeps_a_checkpoint_of_every_epoch(tmp_path):
    data = make_prepared(tmp_path / "data")  # 4 batches an epoch
    assert run_main(data, tmp_path / "ck", "--max-epochs", "3", "--keep-epochs") == 0
    names = sorted(p.name for p in (tmp_path / "ck" / "r").glob("*.ckpt"))
    assert names == ["best.ckpt", "epoch-000.ckpt", "epoch-001.ckpt", "epoch-002.ckpt", "last.ckpt"]
    steps = [
        torch.load(tmp_path / "ck" / "r" / n, weights_only=False)["cyclegan_audio"][
            "generator_steps"
        ]
        for n in names[1:4]
    ]
    assert steps == [4, 8, 12]


@pytest.mark.parametrize("flag, value", [("--n-val-tiles", "1"), ("--sync-every", "0")])
def test_counts_out_of_range_are_one_line_usage_errors(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as e:
        train.main(["--data", str(tmp_path), flag, value])
    err = capsys.readouterr().err
    assert e.value.code == 2 and f"argument {flag}: must be at least" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("n_val", [(1, 2), (2, 1)])
def test_one_val_tile_in_a_domain_is_refused_before_training(tmp_path, capsys, n_val):
    data = make_prepared(tmp_path / "data", n_val=n_val)
    assert run_main(data, tmp_path / "ck", "--max-steps", "1") == 2
    err = capsys.readouterr().err
    domain = "A" if n_val[0] == 1 else "B"
    assert f"domain {domain} has 1 validation tile" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "ck").exists()


def test_tiles_missing_on_disk_are_refused_before_training(tmp_path, capsys):
    data = make_prepared(tmp_path / "data")
    (data / "B" / "train" / "001.png").unlink()
    assert run_main(data, tmp_path / "ck", "--max-steps", "1") == 2
    err = capsys.readouterr().err
    assert (
        "1 of 11 tiles listed in the manifest are missing on disk (first: B/train/001.png)" in err
    )
    assert len(err.strip().splitlines()) == 1


def _scripted_val_scores(monkeypatch, *given: float) -> None:
    """val/score at successive validations is ``given``, its last value repeated."""
    import itertools

    from cyclegan_audio import val_score

    real, scores = val_score.score, itertools.chain(given, itertools.repeat(given[-1]))

    def score(*args, **kwargs):
        return {**real(*args, **kwargs), "score": next(scores)}

    monkeypatch.setattr(val_score, "score", score)


def _train_here(data: Path, *extra: str) -> int:
    """train.main without --checkpoint-dir / --run-name (run_main gives both)."""
    args = ["--data", str(data), "--num-workers", "0", "--no-progress-bar", *TINY_NET]
    return train.main(args + ["--pool-size", "10", *extra])


def _best_state(raw: dict) -> dict:
    return next(v for k, v in raw["callbacks"].items() if "val/score" in k)


def test_resume_continues_in_its_folder_with_its_best_score_and_wandb_run(
    tmp_path, monkeypatch, capsys
):
    """Resumed without --checkpoint-dir: the run's own folder (not ./checkpoints), the best
    score so far (a worse later epoch leaves best.ckpt alone) and the same W&B run."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    data = make_prepared(tmp_path / "data")
    _scripted_val_scores(monkeypatch, 1.0, 2.0)
    wb = ["--logger", "wandb", "--log-dir", str(tmp_path / "logs"), "--log-media-every", "0"]
    run = tmp_path / "runs" / "r"
    assert run_main(data, tmp_path / "runs", "--max-steps", "2", *wb[:4]) == 0
    monkeypatch.chdir(tmp_path)
    assert _train_here(data, "--resume", str(run / "last.ckpt"), "--max-steps", "6", *wb) == 0
    assert not (tmp_path / "checkpoints").exists()
    last = torch.load(run / "last.ckpt", weights_only=False)
    best = torch.load(run / "best.ckpt", weights_only=False)
    assert last["cyclegan_audio"]["generator_steps"] == 6
    assert best["cyclegan_audio"]["generator_steps"] == 2  # score 1.0 beats the resumed 2.0
    assert float(_best_state(last)["best_model_score"]) == 1.0
    assert last["wandb_run"]["best"]["best/val_score"] == 1.0
    assert last["wandb_run"]["best"]["best/generator_step"] == 2
    runs = sorted((tmp_path / "logs" / "wandb").glob("offline-run-*"))
    # offline-run-<time>-<id>; W&B adds "-1" when both sessions start within the same second
    run_id = last["wandb_run"]["run_id"]
    assert len(runs) == 2 and all(f"-{run_id}" in p.name for p in runs)
    assert (
        "best: " + str(run.resolve() / "best.ckpt") + " (val/score 1.0000)"
        in capsys.readouterr().out
    )


def test_resume_into_another_folder_takes_the_best_checkpoint_along(tmp_path, monkeypatch, capsys):
    data = make_prepared(tmp_path / "data")
    _scripted_val_scores(monkeypatch, 1.0, 2.0)
    assert run_main(data, tmp_path / "a", "--max-steps", "2") == 0
    capsys.readouterr()
    resume = ["--resume", str(tmp_path / "a" / "r" / "last.ckpt"), "--max-steps", "6"]
    assert run_main(data, tmp_path / "b", *resume) == 0
    assert "best.ckpt (val/score 1.0000) copied to" in capsys.readouterr().out
    best = torch.load(tmp_path / "b" / "r" / "best.ckpt", weights_only=False)
    assert best["cyclegan_audio"]["generator_steps"] == 2
    last = torch.load(tmp_path / "b" / "r" / "last.ckpt", weights_only=False)
    assert float(_best_state(last)["best_model_score"]) == 1.0
    old = torch.load(tmp_path / "a" / "r" / "last.ckpt", weights_only=False)
    assert old["cyclegan_audio"]["generator_steps"] == 2  # the original folder is untouched


def test_resume_applies_given_hyperparameters_and_refuses_other_network_sizes(tmp_path, capsys):
    """On resume a flag written on the command line wins (printed); a default does not; a
    different network size is refused in one line."""
    data = make_prepared(tmp_path / "data")
    assert run_main(data, tmp_path / "ck", "--max-steps", "2", "--lr", "0.001") == 0
    run = tmp_path / "ck" / "r"
    shutil.copy(run / "last.ckpt", tmp_path / "start.ckpt")
    capsys.readouterr()

    assert (
        run_main(data, tmp_path / "ck", "--resume", str(run / "last.ckpt"), "--max-steps", "4") == 0
    )
    raw = torch.load(run / "last.ckpt", weights_only=False)
    assert raw["optimizer_states"][0]["param_groups"][0]["lr"] == 0.001  # not the default 2e-4
    assert "resume:" not in capsys.readouterr().out

    resume = ["--resume", str(tmp_path / "start.ckpt"), "--max-steps", "4"]
    assert run_main(data, tmp_path / "ck2", *resume, "--lr", "1e-6", "--lambda-cycle", "5") == 0
    out = capsys.readouterr().out
    assert "resume: lr 0.001 -> 1e-06\n" in out and "resume: lambda-cycle 10.0 -> 5.0\n" in out
    raw = torch.load(tmp_path / "ck2" / "r" / "last.ckpt", weights_only=False)
    assert [g["lr"] for s in raw["optimizer_states"] for g in s["param_groups"]] == [1e-6, 1e-6]
    assert [s["base_lrs"] for s in raw["lr_schedulers"]] == [[1e-6], [1e-6]]
    assert raw["cyclegan_audio"]["hparams"]["lr"] == 1e-6
    assert raw["cyclegan_audio"]["hparams"]["lambda_cycle"] == 5.0

    assert run_main(data, tmp_path / "ck3", *resume, "--ngf", "8") == 2
    err = capsys.readouterr().err
    assert "network sizes cannot change on resume: --ngf 8 (checkpoint: 4)" in err
    assert len(err.strip().splitlines()) == 1


def test_lightning_noise_is_filtered(trained, tmp_path, capsys, caplog, recwarn):
    """No litlogger advert, no pytree deprecation, and on resume in the run's own folder no
    "directory is not empty" warning; Lightning's other messages still show."""
    data, run_dir = trained
    ck = tmp_path / "ck"
    shutil.copytree(run_dir, ck / "r")
    assert run_main(data, ck, "--resume", str(ck / "r" / "last.ckpt"), "--max-steps", "3") == 0
    out = capsys.readouterr()
    text = out.out + out.err + caplog.text
    assert "litlogger" not in text and "GPU available" in text
    messages = [str(w.message) for w in recwarn]
    assert not [m for m in messages if "LeafSpec" in m or "exists and is not empty" in m]


def test_every_train_flag_has_help_and_no_none_default():
    parser = train.build_parser()
    missing = [a.option_strings for a in parser._actions if not a.help]
    assert not missing
    text = parser.format_help()
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "--lr LR               Adam learning rate, all networks (default: 0.0002)" in text


def test_resume_from_an_earlier_epoch_in_place_keeps_the_runs_best(tmp_path, monkeypatch, capsys):
    """Epochs score 3, 1, 2; resuming epoch-000.ckpt (whose record says best 3) in the run's
    folder and scoring 1.5 must not replace best.ckpt (epoch 1, score 1)."""
    data = make_prepared(tmp_path / "data")  # 4 batches an epoch
    _scripted_val_scores(monkeypatch, 3.0, 1.0, 2.0, 1.5)
    assert run_main(data, tmp_path / "ck", "--max-epochs", "3", "--keep-epochs") == 0
    run = tmp_path / "ck" / "r"
    capsys.readouterr()
    resume = ["--resume", str(run / "epoch-000.ckpt"), "--max-epochs", "2"]
    assert run_main(data, tmp_path / "ck", *resume) == 0
    assert "resume: from epoch-000.ckpt in the run's folder" in capsys.readouterr().out
    best = torch.load(run / "best.ckpt", weights_only=False)
    assert best["cyclegan_audio"]["generator_steps"] == 8  # epoch 1's, not the resumed 1.5
    last = torch.load(run / "last.ckpt", weights_only=False)
    assert float(_best_state(last)["best_model_score"]) == 1.0
