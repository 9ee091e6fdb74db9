"""DDP decisions tested in one process with the collectives faked (fast), plus one real
2-process CPU (gloo) run marked slow."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import DistributedSampler

from cyclegan_audio import model as model_module
from cyclegan_audio.data import TileDataModule, undo_distributed_padding
from cyclegan_audio.errors import TrainingError
from cyclegan_audio.model import CycleGan, TrainConfig
from cyclegan_audio.networks import tiny_config
from cyclegan_audio.spec import tiny_spec
from tests.test_train import make_prepared, run_main


def _model() -> CycleGan:
    return CycleGan(tiny_spec(), tiny_config(), TrainConfig(pool_size=4))


def _on_rank(obj, rank: int, world_size: int = 2, **extra):
    """Attach a stand-in trainer of ``world_size`` processes, as rank ``rank``."""
    fake = SimpleNamespace(
        world_size=world_size, global_rank=rank, global_step=0, current_epoch=0, **extra
    )
    if isinstance(obj, CycleGan):
        obj._trainer = fake
    else:
        obj.trainer = fake
    return obj


def test_a_nan_on_another_rank_stops_this_rank_too():
    """Rank 0's losses are finite, rank 1 saw a NaN at generator step 3: the MIN-reduced first
    bad step makes rank 0 raise as well (alone, rank 1 would leave rank 0 hanging)."""
    seen = []

    def reduce(tensor, reduce_op):  # the all-reduce, with rank 1's "generator loss" bad at 3
        seen.append(reduce_op)
        other = torch.tensor([3, model_module.NEVER])
        return torch.minimum(tensor, other)

    m = _on_rank(_model(), 0, strategy=SimpleNamespace(reduce=reduce))
    m.finite_check_every = 100
    m.note_finite("generator loss", torch.tensor(1.0))
    m.note_finite("discriminator loss", torch.tensor(1.0))
    with pytest.raises(TrainingError, match="generator loss became nan or inf at generator step 3"):
        m.check_finite()
    assert seen == ["min"]


def test_finite_on_every_rank_does_not_raise():
    m = _on_rank(_model(), 1, strategy=SimpleNamespace(reduce=lambda t, reduce_op: t))
    m.note_finite("generator loss", torch.tensor(1.0))
    m.check_finite()


@pytest.mark.parametrize("n, world_size, batch_size", [(3, 2, 1), (5, 4, 2), (4, 2, 1)])
def test_validation_scores_each_tile_once_despite_sampler_padding(n, world_size, batch_size):
    """Lightning's DistributedSampler pads the val tiles with repeats; after the gather each
    tile's statistics appear exactly once, in tile order."""
    per_rank = []
    for rank in range(world_size):
        idx = list(DistributedSampler(range(n), world_size, rank, shuffle=False))
        batches = [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]
        per_rank.append([{"tile": torch.tensor(b, dtype=torch.float32)} for b in batches])
    m = _on_rank(_model(), 0, world_size, val_dataloaders=[SimpleNamespace(dataset=range(n))] * 2)
    m._val_stats = {0: per_rank[0], 1: per_rank[0]}
    stacked = {"tile": torch.stack([torch.cat([b["tile"] for b in r]) for r in per_rank])}
    m.all_gather = lambda data: stacked
    assert m._gathered(0)["tile"].tolist() == list(range(n))
    gathered = (
        torch.arange(world_size * 3).reshape(3, world_size).T
    )  # position i at [i % w, i // w]
    assert undo_distributed_padding(gathered, 5).tolist() == [0, 1, 2, 3, 4]


def _pool_state(m: CycleGan) -> dict:
    return {"a": m.pool_a.state_dict(), "b": m.pool_b.state_dict()}


def test_pools_are_seeded_per_rank_saved_for_every_rank_and_restored_per_rank(monkeypatch):
    ranks = [_on_rank(_model(), r) for r in (0, 1)]
    for r, m in enumerate(ranks):
        m.setup("fit")
        m.pool_a.query(torch.full((3, 1, 64, 64), float(r)))
    draws = [[m.pool_a._rng.random() for _ in range(4)] for m in ranks]
    assert draws[0] != draws[1]  # same --seed, yet each rank its own stream

    # Rank 0 writes the checkpoint with every rank's pools (the gather faked).
    monkeypatch.setattr(
        model_module, "gather_to_rank_zero", lambda mine: [mine, _pool_state(ranks[1])]
    )
    ckpt: dict = {}
    ranks[0].on_save_checkpoint(ckpt)
    assert len(ckpt["image_pools"]["ranks"]) == 2

    for r in (0, 1):  # each rank takes its own back
        m = _on_rank(_model(), r)
        m.setup("fit")
        m.on_load_checkpoint(ckpt)
        assert float(m.pool_a.images[0].mean()) == r
        assert m.pool_a._rng.getstate() == ranks[r].pool_a._rng.getstate()

    # Three ranks now: rank 2 starts from rank 0's history on its own random stream.
    m = _on_rank(_model(), 2, world_size=3)
    m.setup("fit")
    m.on_load_checkpoint(ckpt)
    assert float(m.pool_a.images[0].mean()) == 0
    assert m.pool_a._rng.getstate() != ranks[0].pool_a._rng.getstate()

    # A checkpoint written before per-rank pools (rank 0's only) still loads.
    old = dict(ckpt, image_pools=ckpt["image_pools"]["ranks"][0])
    m = _on_rank(_model(), 0)
    m.on_load_checkpoint(old)
    assert len(m.pool_a) == 3

    # A smaller --pool-size on resume applies: the pool keeps its own size.
    m = _on_rank(CycleGan(tiny_spec(), tiny_config(), TrainConfig(pool_size=2)), 0)
    m.on_load_checkpoint(ckpt)
    assert m.pool_a.pool_size == 2 and len(m.pool_a) == 2


def test_each_rank_draws_its_own_b_tiles_without_workers(tmp_path):
    data = make_prepared(tmp_path / "data", n_train=(4, 4))
    draws = []
    for rank in (0, 1):
        random.seed(0)  # Lightning seeds every rank alike
        dm = _on_rank(TileDataModule(data, num_workers=0, seed=0), rank)
        dm.setup("fit")
        ds = dm.train_dataloader().dataset
        draws.append(torch.stack([ds[i]["b"] for i in range(8)]))
    assert not torch.equal(draws[0], draws[1])


@pytest.mark.slow
def test_ddp_two_processes_pools_per_rank_and_val_tiles_once(tmp_path):
    """A real 2-process CPU (gloo) run with 3 val tiles per domain (the sampler pads to 4):
    the recorded val/score is the one-process score of the same weights on the same 3 tiles,
    and the checkpoint holds both ranks' pools, which differ."""
    from cyclegan_audio import rescore

    data = make_prepared(tmp_path / "data", n_val=(3, 3))
    assert run_main(data, tmp_path / "ck", "--max-steps", "2", "--cpu-processes", "2") == 0
    best = tmp_path / "ck" / "r" / "best.ckpt"
    raw = torch.load(best, weights_only=False)
    pools = raw["image_pools"]["ranks"]
    assert len(pools) == 2 and pools[0]["a"]["rng_state"] != pools[1]["a"]["rng_state"]
    assert not torch.equal(pools[0]["a"]["images"][0], pools[1]["a"]["images"][0])
    m, *_ = rescore.load_model(best)
    dm = TileDataModule(data, num_workers=0)
    tiles = rescore.val_tiles(dm, 32)
    assert tiles[0].shape[0] == 3
    recorded = raw["cyclegan_audio"]["val_score"]["score"]
    assert m.score_tiles(*tiles)["score"] == pytest.approx(recorded, rel=1e-4)


def test_a_spawned_process_user_error_reaches_the_cli_as_one_line():
    """--cpu-processes spawns: torch gives the parent only the child's traceback text."""
    from torch.multiprocessing import ProcessRaisedException

    from cyclegan_audio.training import user_error_of_spawned

    tb = "\n\n-- Process 1 terminated with the following error:\nTraceback (most recent call last):\n"
    err = user_error_of_spawned(
        ProcessRaisedException(tb + "cyclegan_audio.errors.TrainingError: loss became nan", 1, 9)
    )
    assert isinstance(err, TrainingError) and str(err) == "loss became nan"
    assert user_error_of_spawned(ProcessRaisedException(tb + "ValueError: bug", 1, 9)) is None
