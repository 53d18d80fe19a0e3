"""`vasa reenact`: drive a portrait with the motion of a video (VASA-1 Fig. 4 and 5)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from vasa.io import VideoWriter, has_audio, load_audio, read_frames
from vasa.latent.basis import default_basis
from vasa.latent.motion import MotionLatents
from vasa.latent.retarget import retarget
from vasa.overlap import Background, Drain, Prefetch
from vasa.pipelines.config import ReenactConfig
from vasa.portrait import load_portrait
from vasa.render import Renderer
from vasa.render.paste import PictureRenderer, output_renderer
from vasa.tracking.video import track_video

log = logging.getLogger(__name__)
AUDIO_RATE = 44100
# Rendered frames queued for the encoder: enough to smooth out a slow frame on either side.
ENCODE_BEHIND = 4


@dataclass
class ReenactResult:
    """frames, lost_frames (motion held), fps: the output's. seconds: each stage's busy time on
    the thread that runs it (portrait, decode, track, render, encode); stages overlap, so they
    add up to more than the wall time. phases: wall time of the run's two phases as the caller
    waits for them: "tracking" (the portrait is loaded meanwhile) and "rendering" (render and
    encode overlapping, until the file is complete)."""

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

    Two phases, because the motion of frame 0 needs the whole clip (`retarget` takes eyelids
    and gaze relative to the driver's median): tracking, on a thread, while this thread loads
    the portrait; then rendering, with encoding on a thread (`vasa.overlap`). The frames are
    those of doing each step in turn."""
    cfg = config or ReenactConfig()
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise FileNotFoundError(f"{out_path.parent}: output directory does not exist")
    basis = default_basis()
    t0 = time.perf_counter()
    with Background(lambda stop: track_video(driving_path, cfg.fps, basis, progress=progress,
                                             stop=stop), "track") as tracking:
        portrait = load_portrait(portrait_path, cfg.size, cfg.face_index, basis,
                                 framed=not cfg.crop)
        output = output_renderer(Renderer(portrait, basis, cfg.render))
        seconds = {"portrait": time.perf_counter() - t0}
        tracked = tracking.result()
    seconds.update(tracked.seconds)
    motion = retarget(portrait.pose, portrait.dynamics, tracked.motion, basis.num_pca,
                      transfer_pose=cfg.transfer in ("both", "pose"),
                      transfer_dynamics=cfg.transfer in ("both", "dynamics"))
    audio = load_audio(driving_path, AUDIO_RATE) if has_audio(driving_path) else None
    t1 = time.perf_counter()
    phases = {"tracking": t1 - t0}
    seconds.update(_render(output, motion, driving_path, tracked.fps, audio, out_path, cfg,
                           progress))
    phases["rendering"] = time.perf_counter() - t1
    if tracked.lost:
        log.warning("%s: face lost in %d of %d frames; the last motion was held",
                    driving_path, tracked.lost, len(motion))
    return ReenactResult(len(motion), tracked.lost, tracked.fps, seconds, phases)


def _render(output: Renderer | PictureRenderer, motion: MotionLatents, driving_path: str | Path,
            fps: float, audio: np.ndarray | None, out_path: Path, cfg: ReenactConfig,
            progress: bool) -> dict[str, float]:
    """Render `motion` into `out_path`, encoding on a thread ENCODE_BEHIND frames behind.
    Returns the busy seconds of "render" and "encode"."""
    driving = (Prefetch(read_frames(driving_path, fps=fps, max_side=cfg.size), name="decode")
               if cfg.side_by_side else None)
    t_render = 0.0
    try:
        with (VideoWriter(out_path, fps, audio, AUDIO_RATE, cfg.crf) as writer,
              Drain(writer.write, ENCODE_BEHIND, "encode") as encoder):
            for i in tqdm(range(len(motion)), desc="rendering", unit="frame",
                          disable=not progress):
                t1 = time.perf_counter()
                frame = output.render(motion.pose[i], motion.dynamics[i])
                if driving is not None:
                    src = next(driving, None)
                    left = (letterbox(src, *frame.shape[:2]) if src is not None
                            else np.zeros_like(frame))
                    frame = np.concatenate([left, frame], 1)
                t_render += time.perf_counter() - t1
                encoder.put(frame)  # a new array every frame: never changed once queued
    finally:
        if driving is not None:
            driving.close()
    return {"render": t_render, "encode": encoder.busy_s}
