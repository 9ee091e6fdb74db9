"""benchmarks/quality.py end to end on the demo set: rows per system, and a stopped run resumed."""

from __future__ import annotations

import json

from benchmarks import quality
from cyclegan_audio.synth import make_demo_dataset


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_stopped_run_resumes_where_it_stopped(tmp_path, capsys):
    data = tmp_path / "demo"
    make_demo_dataset(data, seed=0, n_train=2, n_test=1, seconds=2.0)
    out, work = tmp_path / "rows.jsonl", tmp_path / "work"
    common = ["--sets", str(data), "--config", "baseline", "--epochs", "2", "--work", str(work),
              "--results", str(out), "--eval-policy", "model"]  # fmt: skip
    # the first call stops after 2 generator steps, as a session's end stops a long run
    assert quality.main([*common, "--max-steps", "2"]) == 0
    first = _rows(out)
    assert {r["system"] for r in first} == {"identity", "ceiling", "model"}
    assert {r["steps"] for r in first} == {2} and "resumed_at_steps" not in first[0]
    out.unlink()
    assert quality.main([*common, "--resume"]) == 0
    rows = _rows(out)
    model = [r for r in rows if r["system"] == "model"]
    assert model and all(r["resumed_at_steps"] == 2 for r in rows)
    assert rows[0]["steps"] > 2  # trained on to the end of its 2 epochs
    for r in model:
        assert r["lsd"] > 0.0 and 0.0 <= r["share"] <= 1.0
