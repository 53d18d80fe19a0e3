"""Smoke test of the benchmark library: sane numbers, every stage reported. No speed thresholds:
speed targets are checked by benchmarks/, never by tests."""

from __future__ import annotations

import math

from vasa.bench import STAGES, bench_render, format_render_bench


def test_bench_render_small() -> None:
    b = bench_render(size=256, frames=5, warmup=2)
    assert b.frames == 5 and b.size == 256 and b.remap.size == 256
    numbers = [b.ms_per_frame, b.mean_ms_per_frame, b.fps, b.remap.ms, b.remap_ratio,
               b.two_at_once_fps, b.in_turn_fps]
    assert all(math.isfinite(x) and x > 0 for x in numbers)
    assert set(b.stages_ms) == set(STAGES) == set(b.stages_mean_ms)
    assert all(math.isfinite(v) and v >= 0 for v in b.stages_ms.values())
    # The warp itself always does work; a zero would mean a stage timer is not wired up.
    assert b.stages_ms["flow"] > 0 and b.stages_ms["remap"] > 0
    table = format_render_bench(b)
    assert all(f"| {s} |" in table for s in STAGES)
    assert "two at once / in turn" in table
