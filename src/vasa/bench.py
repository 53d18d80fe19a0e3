"""Speed benchmarks for the renderer and the reenactment pipeline.

Both benchmarks also time one bare `cv2.remap` of a frame-sized uint8 RGB image in the same run
and report the ratio to it: the remap is the one step the renderer cannot avoid, so the ratio
says how far the renderer is from its floor, independently of how fast the machine is.

Functions return dataclasses; `format_*` turn them into markdown. Speed targets are reported,
never asserted (the scripts in `benchmarks/` are what is compared against them).
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vasa.io import VideoWriter, has_audio, load_audio, probe_video, read_frames
from vasa.latent.basis import default_basis
from vasa.latent.face_model import decode_canonical
from vasa.latent.retarget import retarget
from vasa.pipelines.reenact import ReenactConfig, reenact
from vasa.portrait import load_portrait
from vasa.render import Renderer, render_frames
from vasa.render.mouth import lip_gap
from vasa.tracking.video import track_video

DEFAULT_PORTRAIT = Path(__file__).resolve().parent / "assets" / "astronaut.jpg"
DEFAULT_DRIVING = DEFAULT_PORTRAIT.with_name("obama_address_8s.mp4")
# Rounds of all frames rendered in turn, then two at once (`render_frames`), alternating.
PIPELINE_ROUNDS = 2
RENDER_TARGET_FPS = 200.0  # renderer alone at 512x512
REENACT_TARGET_FPS = 40.0  # decode + track + render + encode
STAGES = ("decode", "vertices", "flow", "remap", "reveal", "mouth", "eyes")
_clock = time.perf_counter


@dataclass
class RemapBench:
    """Median time of one bare cv2.remap (size x size x 3 uint8, float32 maps, bilinear)."""

    size: int
    ms: float
    reps: int


@dataclass
class RenderBench:
    """ms_per_frame/fps: median of `frames` `Renderer.render` calls (mean_ms_per_frame: their
    mean, the sustained rate). stages_ms/stages_mean_ms: median/mean per stage, from the
    renderer's own stage clock (`render(..., timings=)`). mouth_active:
    share of frames where the lips open wider than the portrait's, the only ones the mouth
    synthesis paints. remap_ratio: ms_per_frame / remap.ms. two_at_once_fps: frames/s of
    `render_frames` over the same frames (the next frame's warp on a thread beside this one's
    refiners), timed in rounds alternating with as many `render` calls in turn
    (in_turn_fps), so that the ratio of the two is from the same minutes."""

    size: int
    frames: int
    motion_source: str
    ms_per_frame: float
    mean_ms_per_frame: float
    fps: float
    stages_ms: dict[str, float]
    stages_mean_ms: dict[str, float]
    mouth_active: float
    remap: RemapBench
    remap_ratio: float
    two_at_once_fps: float
    in_turn_fps: float
    threads: int = field(default_factory=cv2.getNumThreads)
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    target_fps: float = RENDER_TARGET_FPS


@dataclass
class ReenactBench:
    """wall_fps: frames over the wall time of the whole `reenact` call (portrait, decode,
    track, render, encode, audio and muxing: nothing excluded). phases_s: the wall time of its
    two phases (`ReenactResult.phases`: tracking with the portrait loaded meanwhile; rendering
    with encoding behind it); other_s: wall time outside them (model set-up before the first).
    stages_s: each stage's busy time on its own thread (`ReenactResult.seconds`); stages
    overlap, so they add up to more than the wall time."""

    driving: str
    frames: int
    lost_frames: int
    video_fps: float
    size: int
    wall_s: float
    wall_fps: float
    phases_s: dict[str, float]
    other_s: float
    stages_s: dict[str, float]
    remap: RemapBench
    render_remap_ratio: float  # render ms per frame / bare remap ms
    pipeline_remap_ratio: float  # wall ms per frame / bare remap ms
    threads: int = field(default_factory=cv2.getNumThreads)
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    target_fps: float = REENACT_TARGET_FPS


def _bare_remap(size: int) -> Callable[[], np.ndarray]:
    """One bilinear cv2.remap, replicate border, as the renderer calls it; contiguous maps of a
    smooth, warp-like displacement so memory access looks like a real face warp."""
    image = np.random.default_rng(0).integers(0, 256, (size, size, 3), np.uint8)
    gy, gx = np.mgrid[0:size, 0:size].astype(np.float32)
    map_x = np.ascontiguousarray(gx + 4 * np.sin(gy / 40), np.float32)
    map_y = np.ascontiguousarray(gy + 4 * np.cos(gx / 50), np.float32)
    return lambda: cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)


def bench_remap(size: int = 512, reps: int = 300) -> RemapBench:
    """Median time of the bare remap over `reps` calls, after 10 untimed ones."""
    remap, times = _bare_remap(size), np.empty(reps)
    for i in range(-10, reps):
        t0 = _clock()
        remap()
        times[max(i, 0)] = _clock() - t0  # warm-up calls write slot 0, overwritten by call 0
    return RemapBench(size, float(np.median(times) * 1e3), reps)


def bench_render(portrait_path: str | Path = DEFAULT_PORTRAIT, size: int = 512,
                 frames: int = 300, driving: str | Path | None = None,
                 warmup: int = 20) -> RenderBench:
    """Benchmark `Renderer.render` on `frames` frames of motion tracked from `driving` (the
    bundled clip when None), retargeted to the portrait and cycled to length."""
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    driving = Path(driving or DEFAULT_DRIVING)
    basis = default_basis()
    portrait = load_portrait(portrait_path, size, basis=basis)
    renderer = Renderer(portrait, basis)
    tracked = track_video(driving, basis=basis)
    motion = retarget(portrait.pose, portrait.dynamics, tracked.motion, basis.num_pca)
    idx = np.arange(frames) % len(motion)  # cycle a short clip to the requested length
    poses, dyns = motion.pose[idx], motion.dynamics[idx]
    remap = _bare_remap(size)
    for i in range(min(warmup, len(motion))):  # caches, lazy imports, thread pool start-up
        renderer.render(motion.pose[i], motion.dynamics[i])
        remap()
    times, remap_times = np.empty(frames), np.empty(frames)
    stage_times = np.empty((frames, len(STAGES)))
    active = np.zeros(frames, bool)
    # Render and the bare remap alternate frame by frame, so that load from other processes
    # hits both alike and the ratio stays comparable. The renderer's own stage clock costs
    # a few microseconds per stage; whole-frame times come from untimed renders.
    for i in range(frames):
        t0 = _clock()
        renderer.render(poses[i], dyns[i])
        t1 = _clock()
        remap()
        remap_times[i], times[i] = _clock() - t1, t1 - t0
        stages: dict[str, float] = {}
        renderer.render(poses[i], dyns[i], timings=stages)
        stage_times[i] = [stages[s] for s in STAGES]
        canonical = decode_canonical(portrait.canonical, portrait.dynamics, dyns[i], basis)
        active[i] = lip_gap(canonical) > max(renderer.source_gap, 0.01)  # mouth painted
    ms = float(np.median(times) * 1e3)
    bare = RemapBench(size, float(np.median(remap_times) * 1e3), frames)
    in_turn = two_at_once = 0.0
    for _ in range(PIPELINE_ROUNDS):
        t0 = _clock()
        for i in range(frames):
            renderer.render(poses[i], dyns[i])
        t1 = _clock()
        for _ in render_frames(renderer, zip(poses, dyns)):
            pass
        in_turn, two_at_once = in_turn + t1 - t0, two_at_once + _clock() - t1
    return RenderBench(
        size=size, frames=frames, motion_source=f"{driving.name} ({len(motion)} frames tracked)",
        ms_per_frame=ms, mean_ms_per_frame=float(times.mean() * 1e3), fps=1e3 / ms,
        stages_ms={s: float(v) for s, v in zip(STAGES, np.median(stage_times, 0) * 1e3)},
        stages_mean_ms={s: float(v) for s, v in zip(STAGES, stage_times.mean(0) * 1e3)},
        mouth_active=float(active.mean()), remap=bare,
        remap_ratio=ms / bare.ms, two_at_once_fps=PIPELINE_ROUNDS * frames / two_at_once,
        in_turn_fps=PIPELINE_ROUNDS * frames / in_turn)


def trim_clip(path: str | Path, seconds: float, out_path: str | Path) -> Path:
    """Re-encode the first `seconds` of a video (with its audio) to `out_path`."""
    fps, rate = probe_video(path).fps, 44100
    audio = load_audio(path, rate)[:round(seconds * rate)] if has_audio(path) else None
    with VideoWriter(out_path, fps, audio, rate) as writer:
        for frame in itertools.islice(read_frames(path), max(1, round(seconds * fps))):
            writer.write(frame)
    return Path(out_path)


def bench_reenact(portrait_path: str | Path, driving_path: str | Path, out_path: str | Path,
                  seconds: float | None = None) -> ReenactBench:
    """Time one whole `vasa reenact` run with default settings. `seconds`: use only the first
    seconds of the driving clip (trimmed into a temporary file before the clock starts)."""
    cfg = ReenactConfig()
    name = Path(driving_path).name
    with tempfile.TemporaryDirectory() as tmp:
        if seconds is not None:
            if seconds <= 0:
                raise ValueError(f"seconds must be positive, got {seconds}")
            driving_path = trim_clip(driving_path, seconds, Path(tmp) / "driving.mp4")
        t0 = _clock()
        result = reenact(portrait_path, driving_path, out_path, cfg, progress=False)
        wall = _clock() - t0
    remap = bench_remap(cfg.size)
    n = max(result.frames, 1)
    return ReenactBench(
        driving=name if seconds is None else f"{name}, first {seconds:g} s",
        frames=result.frames, lost_frames=result.lost_frames, video_fps=result.fps,
        size=cfg.size, wall_s=wall, wall_fps=result.frames / wall,
        phases_s=dict(result.phases), other_s=wall - sum(result.phases.values()),
        stages_s=dict(result.seconds),
        remap=remap, render_remap_ratio=result.seconds["render"] / n * 1e3 / remap.ms,
        pipeline_remap_ratio=wall / n * 1e3 / remap.ms)


def _verdict(fps: float, target: float) -> str:
    return f"{'meets' if fps >= target else 'BELOW'} target {target:g} frames/s"


def format_render_bench(b: RenderBench) -> str:
    """Markdown: headline numbers, then the per-stage breakdown of one render."""
    lines = [
        f"### Renderer {b.size}x{b.size}: {b.frames} frames of {b.motion_source}",
        f"({b.cpus} CPUs, OpenCV threads {b.threads})",
        "",
        "| metric | ms/frame | frames/s |",
        "|---|---:|---:|",
        f"| `Renderer.render` (median) | {b.ms_per_frame:.3f} | {b.fps:.1f} |",
        (f"| `Renderer.render` (mean) | {b.mean_ms_per_frame:.3f} "
         f"| {1e3 / b.mean_ms_per_frame:.1f} |"),
        (f"| bare `cv2.remap` {b.remap.size}x{b.remap.size}x3 (median) "
         f"| {b.remap.ms:.3f} | {1e3 / b.remap.ms:.1f} |"),
        (f"| `Renderer.render` in turn, all frames, {PIPELINE_ROUNDS} rounds "
         f"| {1e3 / b.in_turn_fps:.3f} | {b.in_turn_fps:.1f} |"),
        (f"| `render_frames` (two at once), the same rounds "
         f"| {1e3 / b.two_at_once_fps:.3f} | {b.two_at_once_fps:.1f} |"),
        "",
        (f"two at once / in turn = **{b.two_at_once_fps / b.in_turn_fps:.2f}x** "
         "(what the pipelines run)."),
        "",
        f"render / remap = **{b.remap_ratio:.1f}x**; {_verdict(b.fps, b.target_fps)}.",
        "",
        "| stage | median ms | mean ms | share (mean) |",
        "|---|---:|---:|---:|",
    ]
    total = sum(b.stages_mean_ms.values()) or 1.0
    lines += [f"| {s} | {b.stages_ms[s]:.3f} | {b.stages_mean_ms[s]:.3f} "
              f"| {100 * b.stages_mean_ms[s] / total:.1f}% |" for s in STAGES]
    lines += [
        f"| **sum** | {sum(b.stages_ms.values()):.3f} | {total:.3f} | 100% |",
        "",
        (f"Mouth opened beyond the portrait's in {100 * b.mouth_active:.0f}% of frames."),
    ]
    return "\n".join(lines)


def format_reenact_bench(b: ReenactBench) -> str:
    """Markdown: whole-pipeline throughput, the split of its wall time into phases, and each
    stage's busy time (stages overlap on threads, so their shares add up past 100%)."""
    n = max(b.frames, 1)

    def row(name: str, s: float) -> str:
        return (f"| {name} | {s:.3f} | {s / n * 1e3:.2f} | {n / s if s > 0 else 0:.1f} "
                f"| {100 * s / b.wall_s:.1f}% |")

    lines = [
        (f"### Reenact {b.size}x{b.size}: {b.frames} frames ({b.driving}, {b.video_fps:g} fps, "
         f"{b.lost_frames} lost)"),
        f"({b.cpus} CPUs, OpenCV threads {b.threads})",
        "",
        "| phase (wall) | seconds | ms/frame | frames/s | share |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [row(name, s) for name, s in [*b.phases_s.items(), ("other", b.other_s)]]
    lines += [
        (f"| **total (wall)** | {b.wall_s:.3f} | {b.wall_s / n * 1e3:.2f} | {b.wall_fps:.1f} "
         f"| 100% |"),
        "",
        "| stage (busy, on its thread) | seconds | ms/frame | frames/s | share of wall |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [row(name, s) for name, s in b.stages_s.items()]
    lines += [
        "",
        (f"Bare `cv2.remap` {b.remap.size}x{b.remap.size}x3: {b.remap.ms:.3f} ms; "
         f"render / remap = **{b.render_remap_ratio:.1f}x**, "
         f"pipeline / remap = **{b.pipeline_remap_ratio:.1f}x**."),
        f"Whole pipeline {b.wall_fps:.1f} frames/s: {_verdict(b.wall_fps, b.target_fps)}.",
    ]
    return "\n".join(lines)


__all__ = ["ReenactBench", "RemapBench", "RenderBench", "bench_reenact", "bench_remap",
           "bench_render", "format_reenact_bench", "format_render_bench", "trim_clip"]
