"""`vasa reenact`: drive a portrait with the motion of a video (VASA-1 Fig. 4 and 5)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from vasa.io import VideoWriter, has_audio, load_audio, read_frames
from vasa.latent.basis import default_basis
from vasa.latent.retarget import retarget
from vasa.pipelines.config import ReenactConfig
from vasa.portrait import load_portrait
from vasa.render import Renderer
from vasa.render.paste import output_renderer
from vasa.tracking.video import track_video

log = logging.getLogger(__name__)
AUDIO_RATE = 44100


@dataclass
class ReenactResult:
    frames: int
    lost_frames: int
    fps: float
    seconds: dict[str, float]


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
    """Render `portrait_path` driven by `driving_path` into an mp4 with the driver's audio."""
    cfg = config or ReenactConfig()
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise FileNotFoundError(f"{out_path.parent}: output directory does not exist")
    basis = default_basis()
    t0 = time.perf_counter()
    portrait = load_portrait(portrait_path, cfg.size, cfg.face_index, basis,
                             framed=not cfg.crop)
    output = output_renderer(Renderer(portrait, basis, cfg.render))
    seconds = {"portrait": time.perf_counter() - t0}
    tracked = track_video(driving_path, cfg.fps, basis, progress=progress)
    seconds.update(tracked.seconds)
    motion = retarget(portrait.pose, portrait.dynamics, tracked.motion, basis.num_pca,
                      transfer_pose=cfg.transfer in ("both", "pose"),
                      transfer_dynamics=cfg.transfer in ("both", "dynamics"))
    audio = load_audio(driving_path, AUDIO_RATE) if has_audio(driving_path) else None
    driving = read_frames(driving_path, fps=tracked.fps, max_side=cfg.size) if cfg.side_by_side else None
    t_render = t_encode = 0.0
    with VideoWriter(out_path, tracked.fps, audio, AUDIO_RATE, cfg.crf) as writer:
        for i in tqdm(range(len(motion)), desc="rendering", unit="frame", disable=not progress):
            t1 = time.perf_counter()
            frame = output.render(motion.pose[i], motion.dynamics[i])
            if driving is not None:
                src = next(driving, None)
                left = (letterbox(src, *frame.shape[:2]) if src is not None
                        else np.zeros_like(frame))
                frame = np.concatenate([left, frame], 1)
            t2 = time.perf_counter()
            writer.write(frame)
            t_render += t2 - t1
            t_encode += time.perf_counter() - t2
    seconds.update(render=t_render, encode=t_encode)
    if tracked.lost:
        log.warning("%s: face lost in %d of %d frames; the last motion was held",
                    driving_path, tracked.lost, len(motion))
    return ReenactResult(len(motion), tracked.lost, tracked.fps, seconds)
