"""benchmarks/hidden_info.py on a tiny trained run: known answers at the extremes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from .test_train import make_prepared, run_main

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "hidden_info.py"


@pytest.fixture(scope="module")
def hidden_info():
    spec = importlib.util.spec_from_file_location("hidden_info", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["hidden_info"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_silencing_nothing_changes_nothing_and_everything_is_counted(tmp_path, hidden_info, capsys):
    data = make_prepared(tmp_path / "data")
    assert run_main(data, tmp_path / "ck", "--max-steps", "2") == 0
    ckpt = tmp_path / "ck" / "r" / "last.ckpt"
    base, rows = hidden_info.measure(ckpt, data, 4, [1000.0, 0.0], False, True)
    by_label = {label: (share, err) for label, share, err in rows}
    assert by_label["as translated"] == (0.0, base)
    assert by_label["below peak - 1000 dB silenced"] == (0.0, base)  # nothing that far down
    share, _ = by_label["below peak - 0 dB silenced"]
    assert share > 0.99  # everything but each tile's loudest pixel
    assert hidden_info.main([str(ckpt), str(data), "--tiles", "2"]) == 0
    assert "Gaussian noise" in capsys.readouterr().out
    assert hidden_info.main([str(tmp_path / "none.ckpt"), str(data)]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
