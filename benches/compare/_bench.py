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
