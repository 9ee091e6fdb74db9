"""`cyclegan-audio score`: re-scoring and ranking saved checkpoints, in-process on a tiny run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from cyclegan_audio import ema, rescore
from cyclegan_audio.cli.__main__ import main as cli
from cyclegan_audio.val_score import guard
from tests.test_train import make_prepared, run_main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two epochs of 4 batches, every epoch kept: (data folder, run folder)."""
    root = tmp_path_factory.mktemp("score_run")
    data = make_prepared(root / "data")
    assert (
        run_main(data, root / "ck", "--max-epochs", "2", "--keep-epochs", "--ema-decay", "0.999")
        == 0
    )
    return data, root / "ck" / "r"


def _rows(out: str, paths) -> dict[str, list[str]]:
    lines = out.splitlines()
    return {str(p): next(ln.split() for ln in lines if ln.startswith(str(p))) for p in paths}


def test_score_rescores_as_validation_did_and_prints_the_parts(run, capsys):
    """best.ckpt re-scored on the run's val tiles gives the val/score it recorded during
    training (a known answer), with epoch, steps and every part on its line."""
    data, run_dir = run
    ckpts = [run_dir / "epoch-000.ckpt", run_dir / "epoch-001.ckpt", run_dir / "best.ckpt"]
    assert cli(["score", "--data", str(data), *map(str, ckpts), "--subsets", "2"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[:11] == ["checkpoint", "epoch", "step", "wts", "score", "domain_ab",
                           "domain_ba", "pitch", "onset", "cycle", "recorded"]  # fmt: skip
    rows = _rows(out, ckpts)
    assert rows[str(ckpts[0])][1:4] == ["0", "4", "ema"] and rows[str(ckpts[1])][1:3] == ["1", "8"]
    for row in rows.values():
        score, parts, recorded = float(row[4]), [float(x) for x in row[5:10]], float(row[10])
        assert score == pytest.approx(recorded, abs=1.1e-3)  # both printed to 3 places
        domain, (pitch, onset, cycle) = 0.5 * sum(parts[:2]), parts[2:]
        guards = guard(pitch) + guard(onset)
        assert score == pytest.approx(domain + cycle + guards, abs=5e-3)
        assert "random subsets:" in " ".join(row)
    scores = {p: float(r[4]) for p, r in rows.items()}
    top = min(scores, key=scores.get)
    assert out.splitlines()[-1].startswith(f"best: {top} (epoch")


def test_pick_prints_only_the_best_path(run, capsys):
    data, run_dir = run
    ckpts = sorted(run_dir.glob("epoch-*.ckpt"))
    assert cli(["score", "--data", str(data), *map(str, ckpts), "--pick"]) == 0
    captured = capsys.readouterr()
    results = list(rescore.score_checkpoints(ckpts, data))
    assert captured.out == f"{rescore.best(results).path}\n"
    assert all(str(p) in captured.err for p in ckpts)  # the table went to stderr


def test_raw_weights_and_old_checkpoints_without_ema(run, tmp_path, capsys):
    data, run_dir = run
    raw = torch.load(run_dir / "last.ckpt", weights_only=False)
    ema.complete_state_dict(raw["state_dict"], enabled=False)
    old = tmp_path / "old.ckpt"
    torch.save(raw, old)
    last = run_dir / "last.ckpt"
    assert cli(["score", "--data", str(data), str(last), str(old), "--weights", "raw"]) == 0
    rows = _rows(capsys.readouterr().out, [last, old])
    assert rows[str(last)][3] == rows[str(old)][3] == "raw"
    assert rows[str(last)][4] == rows[str(old)][4]  # both scored the raw generators
    assert cli(["score", "--data", str(data), str(last), str(old)]) == 0
    rows_ema = _rows(capsys.readouterr().out, [last, old])
    assert rows_ema[str(last)][3] == "ema" and rows_ema[str(old)][3] == "raw"
    assert rows_ema[str(last)][4] != rows[str(last)][4]  # the average is not the raw weights


def test_missing_checkpoint_is_one_line_and_the_script_shim_keeps_old_flags(run, capsys):
    data, run_dir = run
    assert cli(["score", "--data", str(data), str(run_dir / "missing.ckpt")]) == 2
    err = capsys.readouterr().err
    assert "checkpoint not found" in err and "Traceback" not in err
    script = Path(__file__).resolve().parents[1] / "scripts" / "score_checkpoints.py"
    spec = importlib.util.spec_from_file_location("score_checkpoints", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    best = run_dir / "best.ckpt"
    assert mod.main(["--data", str(data), str(best), "--pick", "first", "--n-val-tiles", "2"]) == 0
    assert "first; lower is better" in capsys.readouterr().out
