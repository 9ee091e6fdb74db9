"""Optional seconds per stage of a translation, for the benchmarks; off (and free) by default.

The library marks its stages with `stage`; a benchmark wraps its call in `recording`
and gets the seconds back, so no timing argument runs through every function.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

_seconds: dict[str, float] | None = None  # the dict `recording` yields; None: not recording
_nested: list[float] = []  # per open stage: seconds spent in the stages nested in it


@contextmanager
def recording() -> Iterator[dict[str, float]]:
    """Within the block, every `stage` adds its seconds to the yielded {stage name: seconds}.

    A stage's seconds exclude the stages nested in it (stitching excludes the generator
    calls it makes), so the figures add up to the time spent in stages. GPU work is
    waited for at both ends of each stage (it is queued asynchronously, so the split
    would be wrong otherwise), which is why recording is off unless asked for.
    One recording at a time, from one thread.
    """
    global _seconds
    if _seconds is not None:
        raise RuntimeError("timing.recording() is already active")
    _seconds = {}
    try:
        yield _seconds
    finally:
        _seconds = None
        _nested.clear()


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Count the block's seconds under ``name`` while `recording`; do nothing otherwise."""
    if _seconds is None:
        yield
        return
    _sync()
    t0 = time.perf_counter()
    _nested.append(0.0)
    try:
        yield
    finally:
        _sync()
        elapsed = time.perf_counter() - t0
        own = elapsed - _nested.pop()
        if _seconds is not None:
            _seconds[name] = _seconds.get(name, 0.0) + own
        if _nested:
            _nested[-1] += elapsed


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
