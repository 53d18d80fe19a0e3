"""`vasa reenact`: drive a portrait with the motion of a video (VASA-1 Fig. 4 and 5)."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from vasa.io import VideoWriter, has_audio, load_audio, probe_video, read_frames
from vasa.latent.basis import default_basis
from vasa.latent.motion import MotionLatents
from vasa.latent.retarget import DriverReference, driver_lip_change, retarget
from vasa.motion.lids import asked_openness
from vasa.overlap import Drain, Prefetch
from vasa.pipelines.calibrate import calibrated_output
from vasa.pipelines.config import ReenactConfig
from vasa.portrait import load_portrait
from vasa.render import Renderer, render_frames
from vasa.render.paste import PictureRenderer, output_renderer
from vasa.tracking import NoFaceError
from vasa.tracking.video import LostCount, TrackTimes, hold_lost, stream_video

log = logging.getLogger(__name__)
AUDIO_RATE = 44100
# Rendered frames queued for the encoder: enough to smooth out a slow frame on either side.
ENCODE_BEHIND = 4
# Tracked frames the tracker may run ahead of the renderer (it does while the portrait loads):
# a minute of motion at 25 fps, a few hundred bytes a frame.
TRACK_AHEAD = 1500

Tracked = tuple[np.ndarray, np.ndarray] | None  # one frame's (pose, dynamics), None: no face


@dataclass
class ReenactResult:
    """frames, lost_frames (motion held), fps: the output's. seconds: each stage's busy time on
    the thread that runs it (portrait, decode, track, render, encode); stages overlap, so they
    add up to more than the wall time. phases: wall time of the run's two phases as the caller
    waits for them: "setup" (the portrait loads while the driver's first seconds are tracked,
    until its reference is known) and "rendering" (tracking, rendering and encoding
    overlapping, until the file is complete)."""

    frames: int
    lost_frames: int
    fps: float
    seconds: dict[str, float]
    phases: dict[str, float] = field(default_factory=dict)


def letterbox(frame: np.ndarray, height: int, width: int | None = None) -> np.ndarray:
    """Fit an RGB frame into a black `height` x `width` box (default: square), keeping its
    aspect ratio."""
    width = height if width is None else width
    h, w = frame.shape[:2]
    k = min(height / h, width / w)
    nw, nh = max(1, round(w * k)), max(1, round(h * k))
    small = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((height, width, 3), np.uint8)
    y, x = (height - nh) // 2, (width - nw) // 2
    out[y:y + nh, x:x + nw] = small
    return out


def reenact(portrait_path: str | Path, driving_path: str | Path, out_path: str | Path,
            config: ReenactConfig | None = None, progress: bool = True) -> ReenactResult:
    """Render `portrait_path` driven by `driving_path` into an mp4 with the driver's audio.

    The driver is tracked on a thread from the start; meanwhile this thread loads the
    portrait, then waits for the driver's reference (its first `cfg.reference_s` seconds with
    a face, `DriverReference`) and renders each frame as its motion comes, encoding on a
    thread behind (`vasa.overlap`). The frames are those of doing each step in turn with
    that reference."""
    cfg = config or ReenactConfig()
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise FileNotFoundError(f"{out_path.parent}: output directory does not exist")
    basis = default_basis()
    info = probe_video(driving_path)
    rate = cfg.fps or info.fps
    times = TrackTimes()
    t0 = time.perf_counter()
    with Prefetch(stream_video(driving_path, rate, basis, times=times), TRACK_AHEAD,
                  "track") as tracked:
        portrait = load_portrait(portrait_path, cfg.size, cfg.face_index, basis,
                                 framed=not cfg.crop)
        renderer = Renderer(portrait, basis, cfg.render)
        lid_response = None  # the driver's lids rendered as tracked
        if cfg.lids_as_read:  # the lids' probes while the matte is made
            output, _, lid_response = calibrated_output(portrait, renderer, basis, mouth=False)
        else:
            output = output_renderer(renderer)
        seconds = {"portrait": time.perf_counter() - t0}
        head = _first_seconds(tracked, max(1, round(cfg.reference_s * rate)), driving_path)
        reference = DriverReference.of(
            MotionLatents(*map(np.stack, zip(*(m for m in head if m is not None)))),
            basis.num_pca)
        audio = load_audio(driving_path, AUDIO_RATE) if has_audio(driving_path) else None
        t1 = time.perf_counter()
        phases = {"setup": t1 - t0}

        lips = (driver_lip_change(portrait.canonical, reference, basis)
                if cfg.mouth == "driver" else 0.0)

        eyes = basis.layout.eyes

        def motion(pose: np.ndarray, dyn: np.ndarray) -> MotionLatents:
            m = retarget(portrait.pose, portrait.dynamics, MotionLatents(pose[None], dyn[None]),
                         basis.num_pca, transfer_pose=cfg.transfer in ("both", "pose"),
                         transfer_dynamics=cfg.transfer in ("both", "dynamics"),
                         reference=reference, shift_limit=cfg.shift_limit, lip_change=lips,
                         basis=basis)
            if lid_response is not None:
                m.dynamics[:, eyes] = asked_openness(m.dynamics[:, eyes],
                                                     portrait.dynamics[eyes], lid_response)
            return m

        count = LostCount()
        first = next(m for m in head if m is not None)
        held = hold_lost(itertools.chain(head, tracked), first, count)
        bar = tqdm(total=int(info.duration_s * rate) or None, desc="reenacting",
                   unit="frame", disable=not progress)
        with bar:
            stats = _render(output, (motion(*m) for m in held), driving_path, rate, audio,
                            out_path, cfg, bar.update)
    phases["rendering"] = time.perf_counter() - t1
    seconds.update(decode=times.decode, track=times.track, **stats)
    if count.lost:
        log.warning("%s: face lost in %d of %d frames; the last motion was held",
                    driving_path, count.lost, count.frames)
    return ReenactResult(count.frames, count.lost, rate, seconds, phases)


def _first_seconds(tracked: Iterable[Tracked], found: int, path: str | Path) -> list[Tracked]:
    """The tracked frames up to the `found`-th with a face (or all of them, if fewer have
    one). Raises NoFaceError if none has."""
    head: list[Tracked] = []
    seen = 0
    for m in tracked:
        head.append(m)
        seen += m is not None
        if seen >= found:
            break
    if not seen:
        raise NoFaceError(f"{path}: no face found in any of its {len(head)} frames", len(head))
    return head


def _render(output: Renderer | PictureRenderer, motion: Iterable[MotionLatents],
            driving_path: str | Path, fps: float, audio: np.ndarray | None, out_path: Path,
            cfg: ReenactConfig, update: Callable[[int], object]) -> dict[str, float]:
    """Render each frame of `motion` (one frame each) into `out_path` (`render_frames`: two
    frames at once), encoding on a thread ENCODE_BEHIND frames behind. Returns the seconds
    of "render" (spent waiting for or finishing frames) and "encode" (busy)."""
    driving = (Prefetch(read_frames(driving_path, fps=fps, max_side=cfg.size), name="decode")
               if cfg.side_by_side else None)
    t_render = 0.0
    try:
        with (VideoWriter(out_path, fps, audio, AUDIO_RATE, cfg.crf) as writer,
              Drain(writer.write, ENCODE_BEHIND, "encode") as encoder,
              closing(render_frames(output, ((m.pose[0], m.dynamics[0]) for m in motion)))
              as frames):
            while True:
                t1 = time.perf_counter()
                frame = next(frames, None)  # its warp ran on a thread, beside the last finish
                if frame is None:
                    break
                if driving is not None:
                    src = next(driving, None)
                    left = (letterbox(src, *frame.shape[:2]) if src is not None
                            else np.zeros_like(frame))
                    frame = np.concatenate([left, frame], 1)
                t_render += time.perf_counter() - t1
                encoder.put(frame)  # a new array every frame: never changed once queued
                update(1)
    finally:
        if driving is not None:
            driving.close()
    return {"render": t_render, "encode": encoder.busy_s}
