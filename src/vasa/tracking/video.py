"""Track a video into motion latents, one per frame, holding the last motion where the face is
lost."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vasa.latent.basis import FaceBasis, default_basis
from vasa.latent.face_model import encode_landmarks
from vasa.latent.motion import MotionLatents
from vasa.overlap import Prefetch
from vasa.timebase import MOTION_FPS
from vasa.tracking import VIDEO_MAX_FACES, FaceLandmarker, FaceObservation, NoFaceError

log = logging.getLogger(__name__)
# Decoded frames held ahead of the tracker: enough to ride out a slow frame, few enough that
# 720p frames (2.7 MB each) stay small in memory.
DECODE_AHEAD = 8


@dataclass
class TrackedVideo:
    """motion: (T frames); found: (T,) bool, False where the face was lost and the last motion
    is held; fps: frame rate of `motion`; frame_size: pixels the pose is normalised by."""

    motion: MotionLatents
    found: np.ndarray
    fps: float
    frame_size: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return int((~self.found).sum())


def track_video(path: str | Path, fps: float | None = None, basis: FaceBasis | None = None,
                model_path: str | None = None, max_side: int = 720, progress: bool = False,
                stop: threading.Event | None = None) -> TrackedVideo:
    """Decode and track every frame of a video (resampled to `fps` if given).

    Frames are decoded on a thread, DECODE_AHEAD ahead of the tracker (both release the GIL).
    stop: set from another thread to abandon the work (raises `CancelledError`)."""
    from tqdm import tqdm

    from vasa.io import probe_video, read_frames

    basis = basis or default_basis()
    info = probe_video(path)
    rate = fps or info.fps
    poses, dyns, found = [], [], []
    t_track = 0.0
    frame_size = 0
    decoded = Prefetch(read_frames(path, fps=rate, max_side=max_side), DECODE_AHEAD, "decode")
    with decoded as frames, FaceLandmarker(model_path, max_faces=VIDEO_MAX_FACES,
                                           video=True) as tracker:
        bar = tqdm(total=int(info.duration_s * rate) or None, desc="tracking", unit="frame",
                   disable=not progress, leave=False)
        for i, frame in enumerate(frames):
            if stop is not None and stop.is_set():
                raise CancelledError(f"{path}: tracking stopped")
            t1 = time.perf_counter()
            frame_size = max(frame.shape[:2])
            faces = tracker.track(frame, i / rate)
            if faces:
                pose, dyn, _ = encode_landmarks(faces[0].landmarks, basis, frame_size)
                poses.append(pose)
                dyns.append(dyn)
                found.append(True)
            else:
                poses.append(None)
                dyns.append(None)
                found.append(False)
            t_track += time.perf_counter() - t1
            bar.update(1)
        bar.close()
    if not any(found):
        raise NoFaceError(f"{path}: no face found in any of its {len(found)} frames", len(found))
    # Hold the last motion where the face is lost (the first found one before any is seen).
    first = found.index(True)
    for j in range(len(found)):
        if not found[j]:
            src = j - 1 if j > first else first
            poses[j], dyns[j] = poses[src], dyns[src]
    lost = len(found) - sum(found)
    if lost:
        log.warning("%s: face lost in %d of %d frames (last motion held)", path, lost, len(found))
    return TrackedVideo(MotionLatents(np.stack(poses), np.stack(dyns)), np.array(found), rate,
                        frame_size, {"decode": decoded.busy_s, "track": t_track})


def sampled_faces(video: str | Path, every: int, max_frames: int, max_side: int,
                  min_face_px: float = 64, model_path: str | None = None
                  ) -> Iterator[tuple[np.ndarray, FaceObservation]]:
    """(frame, largest face) of every `every`-th frame at the motion rate, at most
    `max_frames` of them; frames without a face of `min_face_px` skipped. Every frame is still
    tracked (video mode follows the face from frame to frame)."""
    from vasa.io import read_frames

    kept = 0
    with FaceLandmarker(model_path, video=True) as tracker:
        for i, frame in enumerate(read_frames(video, fps=MOTION_FPS, max_side=max_side)):
            if kept >= max_frames:
                break
            faces = tracker.track(frame, i / MOTION_FPS)
            if i % every or not faces or faces[0].size < min_face_px:
                continue
            kept += 1
            yield frame, faces[0]
