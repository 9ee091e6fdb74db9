"""benchmarks/step_cost.py: FLOPs and seconds per training step of benchmark configs."""

from __future__ import annotations

import json

from benchmarks import step_cost


def test_deeper_generator_costs_more_per_step(tmp_path, capsys):
    out = tmp_path / "rows.jsonl"
    argv = ["cycle5-pitch", "cycle5-pitch-blocks6", "--steps", "1", "--out", str(out)]
    assert step_cost.main(argv) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["config"] for r in rows] == ["cycle5-pitch", "cycle5-pitch-blocks6"]
    base, deep = rows
    assert base["flops_vs_first"] == 1.0 and base["time_vs_first"] == 1.0
    # three more residual blocks: more generator weights, the discriminator unchanged
    assert deep["generator_params"] > base["generator_params"]
    assert deep["discriminator_params"] == base["discriminator_params"]
    assert deep["gflop_per_step"] > base["gflop_per_step"] > 0 and deep["s_per_step"] > 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2  # printed too


def test_unknown_config_is_one_line(capsys):
    assert step_cost.main(["cycle5-pitch", "no-such-config"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-config" in err[0]
