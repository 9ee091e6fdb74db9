"""benchmarks/hidden_info.py on a tiny trained run: known answers at the extremes."""

from __future__ import annotations

from benchmarks import hidden_info

from .test_train import make_prepared, run_main


def test_silencing_nothing_changes_nothing_and_everything_is_counted(tmp_path, capsys):
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
