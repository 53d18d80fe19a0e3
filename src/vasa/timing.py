"""A stage clock: instrumentation kept out of the loops it measures (as k-diffusion's samplers
take a callback). A loop calls `clock("stage")` after each stage; the seconds since the previous
call are added to that stage. Without a dict it does nothing, at the cost of one branch."""

from __future__ import annotations

import time


class StageClock:
    """Adds the seconds since the previous call to timings[stage]; does nothing without a dict."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.last = time.perf_counter() if timings is not None else 0.0

    def __call__(self, stage: str) -> None:
        if self.timings is not None:
            now = time.perf_counter()
            self.timings[stage] = self.timings.get(stage, 0.0) + now - self.last
            self.last = now
