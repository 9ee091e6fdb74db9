"""benchmarks/benchmark_train.py runs end to end on CPU with --tiny (GPU figures come from elsewhere)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "benchmark_train.py"


@pytest.mark.slow
def test_benchmark_tiny_cpu(tmp_path):
    spec = importlib.util.spec_from_file_location("benchmark_train", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["benchmark_train"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    out = tmp_path / "bench.json"
    args = ["--tiny", "--device", "cpu", "--steps", "2", "--warmup", "1", "--batch-sizes", "1,2"]
    assert mod.main(args + ["--no-compile", "--num-workers", "0", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    names = [r["name"] for r in res["results"]]
    assert names[0] == "reference" and names[-2].endswith("+data") and "32 bs2 fused" in names
    assert names[-1].startswith("train.py loop: ")  # the real Lightning loop, timed the same way
    assert res["flops_per_tile"] > 0 and all(r["tiles_per_s"] > 0 for r in res["results"])
    assert res["loader_alone"]["tiles_per_s"] > 0
    num = res["bf16_numerics"]
    # bf16 rounds to ~3 significant digits: close to fp32, but not bit-equal (a real comparison).
    assert num["finite"] and 0 < num["max_rel_loss_term_diff"] < 0.1 and num["grad_cosine"] > 0.99
