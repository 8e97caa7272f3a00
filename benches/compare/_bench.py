"""Helpers shared by the comparison scripts in this folder."""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable


def med(fn: Callable[[], Any], n: int = 5) -> float:
    """Median wall time of ``n`` calls of ``fn`` in seconds, after one warm-up call."""
    fn()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def interleaved(fns: dict[str, Callable[[], Any]], n: int = 5) -> dict[str, float]:
    """Median wall time in seconds of each function over ``n`` rounds that call every function once
    in turn (after one warm-up round): like-for-like on a noisy machine."""
    for fn in fns.values():
        fn()
    ts: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(n):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in ts.items()}
