"""Track a video into motion latents, one per frame, holding the last motion where the face is
lost."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vasa.latent.basis import FaceBasis, default_basis
from vasa.latent.face_model import encode_landmarks
from vasa.latent.motion import MotionLatents
from vasa.overlap import Background, Prefetch
from vasa.timebase import MOTION_FPS
from vasa.tracking import VIDEO_MAX_FACES, FaceLandmarker, FaceObservation, NoFaceError

log = logging.getLogger(__name__)
# Decoded frames held ahead of the tracker: enough to ride out a slow frame, few enough that
# 720p frames (2.7 MB each) stay small in memory.
DECODE_AHEAD = 8
# Split tracking (`track_video(split=True)`): a video shorter than twice this many frames is
# tracked by one tracker (a second one's start-up would cost more than it saves). The first
# tracker hands over to the second after HANDOVER_FRAMES frames in a row on which both
# returned the same, and gives up on it after GIVE_UP_FRAMES frames past the second's start.
MIN_SPLIT_FRAMES = 50
HANDOVER_FRAMES = 3
GIVE_UP_FRAMES = 50


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


@dataclass
class _Run:
    """What one tracker made of frames start, start + 1, ...: per frame the first face's
    (pose, dynamics), or None where no face was found, and a digest of all MediaPipe returned
    (every face), from which alone it takes where to look in the next frame."""

    start: int
    motion: list[tuple[np.ndarray, np.ndarray] | None] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)
    frame_size: int = 0
    decode_s: float = 0.0
    track_s: float = 0.0


def _digest(faces: list[FaceObservation]) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for f in faces:
        h.update(f.landmarks.tobytes())
        h.update(f.blendshapes.tobytes())
        h.update(f.matrix.tobytes())
    return h.digest()


def _tracked(run: _Run, path: str | Path, rate: float, basis: FaceBasis,
             model_path: str | None, max_side: int, stop: threading.Event | None = None
             ) -> Iterator[tuple[bytes, tuple[np.ndarray, np.ndarray] | None]]:
    """Track frames run.start, ... of `path` (decoded on a thread, DECODE_AHEAD ahead),
    yielding per frame a digest of all MediaPipe returned and the first face's (pose,
    dynamics), or None where no face was found. Times and frame size go into `run`."""
    from vasa.io import read_frames

    decoded = Prefetch(read_frames(path, fps=rate, max_side=max_side, start=run.start),
                       DECODE_AHEAD, "decode")
    try:
        # Motion reads landmarks only: no blendshapes (the same landmarks, 7% less CPU).
        with decoded as frames, FaceLandmarker(model_path, max_faces=VIDEO_MAX_FACES,
                                               video=True, blendshapes=False) as tracker:
            for i, frame in enumerate(frames, run.start):
                if stop is not None and stop.is_set():
                    raise CancelledError(f"{path}: tracking stopped")
                t0 = time.perf_counter()
                run.frame_size = max(frame.shape[:2])
                faces = tracker.track(frame, i / rate)
                motion = None
                if faces:
                    pose, dyn, _ = encode_landmarks(faces[0].landmarks, basis, run.frame_size)
                    motion = pose, dyn
                run.track_s += time.perf_counter() - t0
                yield _digest(faces), motion
    finally:
        run.decode_s = decoded.busy_s


def _track_run(run: _Run, path: str | Path, rate: float, basis: FaceBasis,
               model_path: str | None, max_side: int, stop: threading.Event | None,
               after: Callable[[int], bool] | None = None) -> _Run:
    """Track frames run.start, ... of `path` into `run` until the video ends or `after(frame
    index)` returns True."""
    frames = _tracked(run, path, rate, basis, model_path, max_side, stop)
    try:
        for i, (digest, motion) in enumerate(frames, run.start):
            run.digests.append(digest)
            run.motion.append(motion)
            if after is not None and after(i):
                break
    finally:
        frames.close()
    return run


@dataclass
class LostCount:
    """Frames seen and frames without a face, counted by `hold_lost` as it goes."""

    frames: int = 0
    lost: int = 0


def hold_lost(tracked: Iterable[tuple[np.ndarray, np.ndarray] | None],
              first: tuple[np.ndarray, np.ndarray], count: LostCount
              ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each frame's (pose, dynamics), the last one held where the face is lost (`first`, the
    first found, before any is seen); counted in `count`."""
    last = first
    for m in tracked:
        count.frames += 1
        if m is None:
            count.lost += 1
        else:
            last = m
        yield last


@dataclass
class TrackTimes:
    """Busy seconds of `stream_video`'s stages, once it is closed or exhausted."""

    decode: float = 0.0  # on the decoding thread
    track: float = 0.0


def stream_video(path: str | Path, rate: float, basis: FaceBasis | None = None,
                 model_path: str | None = None, max_side: int = 720,
                 times: TrackTimes | None = None
                 ) -> Iterator[tuple[np.ndarray, np.ndarray] | None]:
    """Track a video frame by frame at `rate`, as one tracker going through it: per frame
    (pose, dynamics) of the first face, or None where none was found. For callers that use
    the motion as it comes (`vasa reenact` renders while the rest is tracked); `track_video`
    holds lost frames and splits the work between two trackers instead. Closing the
    generator stops decoding and frees the tracker."""
    run = _Run(0)
    frames = _tracked(run, path, rate, basis or default_basis(), model_path, max_side)
    try:
        for _, motion in frames:
            yield motion
    finally:
        frames.close()
        if times is not None:
            times.decode, times.track = run.decode_s, run.track_s


class _Handover:
    """When the first tracker may stop and the frames after it be taken from the second.

    In VIDEO mode MediaPipe carries from one frame to the next only what it found: the face
    rectangles it derives from the landmarks it returned (with VIDEO_MAX_FACES = 2 and fewer
    faces found, it also re-detects every frame, so a fresh tracker agrees with one that has
    run from the start, checked frame by frame on real clips). So once the second tracker,
    started fresh halfway, returns exactly what the first returned on a frame (all faces:
    landmarks, matrix), it holds the same state and returns the same on every
    later frame. HANDOVER_FRAMES such frames in a row are asked for, as a margin. Where that
    does not happen within GIVE_UP_FRAMES (two faces followed through the middle of the
    video, say), the second is stopped and the first goes on alone: the result is always
    the first tracker's, frame for frame."""

    def __init__(self, first: _Run, second: _Run, other: Background) -> None:
        self.first, self.second, self.other = first, second, other
        self.agreed = 0  # frames in a row on which both returned the same
        self.frame: int | None = None  # the first tracker's last frame, once handed over
        self.gave_up = False

    def __call__(self, i: int) -> bool:
        """After the first tracker's frame i: True to stop it there."""
        k = i - self.second.start
        if k < 0 or self.gave_up:
            return False
        if k >= GIVE_UP_FRAMES:
            self.gave_up = True
            self.other.cancel()
            return False
        theirs = self.second.digests  # appended by the second tracker's thread
        same = k < len(theirs) and theirs[k] == self.first.digests[i]
        self.agreed = self.agreed + 1 if same else 0
        if self.agreed >= HANDOVER_FRAMES:
            self.frame = i
            return True
        return False


def _counted(update: Callable[[int], object]) -> bool:
    update(1)
    return False


def _track_split(path: str | Path, rate: float, basis: FaceBasis, model_path: str | None,
                 max_side: int, stop: threading.Event | None, middle: int,
                 update: Callable[[int], object]) -> tuple[list[_Run], list[_Run]]:
    """Track from frame 0 here and from `middle` on a thread, until `_Handover` says the
    second may take over. Returns (both runs, the runs whose frames make the video)."""
    first, second = _Run(0), _Run(middle)
    with Background(lambda stop2: _track_run(second, path, rate, basis, model_path, max_side,
                                             stop2), "track") as other:
        handover = _Handover(first, second, other)
        _track_run(first, path, rate, basis, model_path, max_side, stop,
                   lambda i: _counted(update) or handover(i))
        if handover.frame is None:
            # The second's error, if it failed, is not raised: the first tracker went through
            # every frame itself, and met whatever is wrong with the video.
            other.cancel()
            return [first, second], [first]
        other.result()
    cut = handover.frame + 1 - middle  # the second's frames from the first's last one on
    update(len(second.motion) - cut)
    del first.motion[handover.frame + 1:]
    del second.motion[:cut]
    return [first, second], [first, second]


def track_video(path: str | Path, fps: float | None = None, basis: FaceBasis | None = None,
                model_path: str | None = None, max_side: int = 720, progress: bool = False,
                stop: threading.Event | None = None, split: bool = True) -> TrackedVideo:
    """Decode and track every frame of a video (resampled to `fps` if given).

    Frames are decoded on a thread ahead of the tracker. split: a second tracker starts
    halfway, on a thread, so that the two halves are tracked at once (MediaPipe releases the
    GIL); the result is that of one tracker going through the whole video (see `_Handover`).
    stop: set from another thread to abandon the work (raises `CancelledError`)."""
    from tqdm import tqdm

    from vasa.io import probe_video

    basis = basis or default_basis()
    info = probe_video(path)
    rate = fps or info.fps
    expected = int(info.duration_s * rate)
    bar = tqdm(total=expected or None, desc="tracking", unit="frame", disable=not progress,
               leave=False)
    try:
        if split and expected >= 2 * MIN_SPLIT_FRAMES:
            runs, used = _track_split(path, rate, basis, model_path, max_side, stop,
                                      expected // 2, bar.update)
        else:
            runs = used = [_track_run(_Run(0), path, rate, basis, model_path, max_side, stop,
                                      lambda i: _counted(bar.update))]
    finally:
        bar.close()
    tracked = [m for run in used for m in run.motion]
    found = [m is not None for m in tracked]
    frame_size = max(run.frame_size for run in used)
    seconds = {"decode": sum(r.decode_s for r in runs), "track": sum(r.track_s for r in runs)}
    if not any(found):
        raise NoFaceError(f"{path}: no face found in any of its {len(found)} frames", len(found))
    first = next(m for m in tracked if m is not None)
    poses, dyns = zip(*hold_lost(tracked, first, LostCount()))
    lost = len(found) - sum(found)
    if lost:
        log.warning("%s: face lost in %d of %d frames (last motion held)", path, lost, len(found))
    return TrackedVideo(MotionLatents(np.stack(poses), np.stack(dyns)), np.array(found), rate,
                        frame_size, seconds)


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
