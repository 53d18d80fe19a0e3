"""Video probing, decoding (files or frame folders) and H.264 writing with muxed audio.

All frames are RGB ``uint8`` arrays of shape ``(H, W, 3)``. Every failure a user can act on
(missing file, no video stream, undecodable data, missing output folder) is raised as
:class:`MediaError` whose message starts with the offending path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import av
import cv2
import numpy as np

from vasa.io._media import MediaError, atomic_output, check_exists, open_media, reason
from vasa.io._writer import VideoWriter, check_video_output

__all__ = [
    "MediaError",
    "VideoInfo",
    "VideoWriter",
    "atomic_output",
    "check_video_output",
    "probe_video",
    "read_frames",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_STANDARD_FPS = (24000 / 1001, 24.0, 25.0, 30000 / 1001, 30.0, 50.0, 60000 / 1001, 60.0)


@dataclass(frozen=True)
class VideoInfo:
    """Summary of a video file or frame folder.

    ``width``/``height`` are the displayed size (rotation metadata applied). ``num_frames`` is
    the container's frame count when it has one, else ``duration_s * fps`` rounded.
    """

    path: str
    fps: float
    width: int
    height: int
    num_frames: int
    duration_s: float
    has_audio: bool


# --------------------------------------------------------------------------- opening / probing


def _video_stream(container: av.container.InputContainer, path: str) -> av.video.VideoStream:
    # Cover art in .mp3/.m4a shows up as a one-frame "video" stream: it is not a video.
    streams = [
        s
        for s in container.streams.video
        if not (s.disposition & av.stream.Disposition.attached_pic)
    ]
    if not streams:
        raise MediaError(f"{path}: no video stream")
    return streams[0]


def _natural_key(name: str) -> list[int | str]:
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def _folder_frames(path: str) -> list[str]:
    names = [n for n in os.listdir(path) if n.lower().endswith(IMAGE_SUFFIXES)]
    if not names:
        raise MediaError(f"{path}: folder contains no JPEG/PNG frames")
    return [os.path.join(path, n) for n in sorted(names, key=_natural_key)]


def _read_image(path: str) -> np.ndarray:
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise MediaError(f"{path}: cannot decode image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _stream_fps(stream: av.video.VideoStream) -> float | None:
    avg = float(stream.average_rate) if stream.average_rate else None
    nominal = float(stream.guessed_rate) if stream.guessed_rate else None
    if avg and nominal and 1e-3 < abs(avg / nominal - 1.0) < 0.02:
        # Slightly off: average_rate (frames / duration) is skewed by a shortened last frame
        # (a 25 fps clip reads as 24.655); the timestamp rate is the true one. Further off
        # means real variable frame rate, where the average is the better summary.
        fps = nominal
    else:
        fps = avg or nominal
    # Microsecond time bases give 1000000/33333 = 30.0003 for a 30 fps clip: snap such
    # rounding noise (< 0.01%, under 6 ms of drift per minute) to the standard rate.
    for std in _STANDARD_FPS:
        if fps and abs(fps / std - 1.0) < 1e-4:
            return std
    return fps


def probe_video(path: str | os.PathLike, folder_fps: float = 25.0) -> VideoInfo:
    """Describe a video file or a folder of JPEG/PNG frames (taken to run at ``folder_fps``).

    Decodes the first frame, so a file that opens but cannot be decoded fails here.
    """
    path = os.fspath(path)
    check_exists(path)
    if os.path.isdir(path):
        files = _folder_frames(path)
        h, w = _read_image(files[0]).shape[:2]
        n = len(files)
        return VideoInfo(path, float(folder_fps), w, h, n, n / folder_fps, False)
    container = open_media(path)
    try:
        stream = _video_stream(container, path)
        try:
            first = next(container.decode(stream), None)
        except (av.error.FFmpegError, OSError) as e:
            raise MediaError(f"{path}: cannot decode video ({reason(e)})") from e
        if first is None:
            raise MediaError(f"{path}: video stream has no frames")
        fps = _stream_fps(stream) or 25.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        n = stream.frames if stream.frames > 0 else max(1, round(duration * fps))
        if duration <= 0:
            duration = n / fps
        w, h = first.width, first.height
        if round(first.rotation / 90) % 2:
            w, h = h, w
        return VideoInfo(path, fps, w, h, int(n), duration, len(container.streams.audio) > 0)
    finally:
        container.close()


# --------------------------------------------------------------------------- decoding


def _fit(img: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = img.shape[:2]
    if max_side is not None and max(h, w) > max_side:
        s = max_side / max(h, w)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img)


def _frame_to_rgb(frame: av.VideoFrame, max_side: int | None, path: str) -> np.ndarray:
    try:
        img = frame.to_ndarray(format="rgb24")
    except (av.error.FFmpegError, ValueError) as e:  # runs lazily, outside the decode loop
        raise MediaError(f"{path}: cannot convert frame to RGB ({reason(e)})") from e
    k = round(frame.rotation / 90) % 4
    if k:  # display-matrix rotation is counter-clockwise, as is np.rot90
        img = np.rot90(img, k)
    return _fit(img, max_side)


# A source yields (lazy RGB getter, presentation time s, frame duration s).
_Getter = Callable[[], np.ndarray]
_Source = Iterator[tuple[_Getter, float, float]]


def _folder_source(files: list[str], fps: float, max_side: int | None) -> _Source:
    for i, f in enumerate(files):
        yield (lambda f=f: _fit(_read_image(f), max_side)), i / fps, 1.0 / fps


def _video_source(
    container: av.container.InputContainer, path: str, max_side: int | None
) -> _Source:
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        tb = stream.time_base
        nominal_dt = 1.0 / (_stream_fps(stream) or 25.0)
        start = stream.start_time
        # The edit list may end the stream before the last frame's packet duration does.
        declared_end = float(stream.duration * tb) if stream.duration and tb else None
        for i, frame in enumerate(container.decode(stream)):
            if frame.pts is None or tb is None:
                t = i * nominal_dt
            else:
                if start is None:
                    start = frame.pts
                t = float((frame.pts - start) * tb)
            dur = float(frame.duration * tb) if frame.duration and tb else nominal_dt
            if declared_end is not None and declared_end > t:
                dur = min(dur, declared_end - t)
            yield (lambda fr=frame: _frame_to_rgb(fr, max_side, path)), t, dur
    except (av.error.FFmpegError, OSError) as e:
        raise MediaError(f"{path}: cannot decode video ({reason(e)})") from e
    finally:
        container.close()


def _resample(source: _Source, fps: float, tick: float, start: int = 0
              ) -> Iterator[np.ndarray]:
    """Constant-rate output: frame k is the latest source frame with pts <= k / fps, from
    frame `start` on (earlier ones are decoded, never converted)."""
    period = 1.0 / fps
    # Timestamps are rounded to the stream's time base, so a frame due exactly at an output
    # instant may sit one tick late; without slack 30 -> 30 fps would drop/duplicate frames.
    tol = min(tick, 0.25 * period) + 1e-9
    k, end = 0, 0.0
    getter: _Getter | None = None
    img: np.ndarray | None = None

    def hold_until(t: float) -> Iterator[np.ndarray]:
        nonlocal k, img
        while getter is not None and k * period < t - tol:
            if k >= start and img is None:
                img = getter()  # decode/convert only frames that are actually emitted
                yield img
            elif k >= start:
                yield img.copy()  # callers may edit frames in place; repeats must not alias
            k += 1

    for nxt, t, dur in source:
        yield from hold_until(t)
        getter, img = nxt, None
        end = max(end, t + dur)
    yield from hold_until(end)


def read_frames(
    path: str | os.PathLike,
    fps: float | None = None,
    folder_fps: float = 25.0,
    max_side: int | None = None,
    start: int = 0,
) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames ``(H, W, 3)``, C-contiguous, from a video file or frame folder.

    ``fps=None`` yields every decoded frame. With ``fps`` the output is resampled by
    presentation time (relative to the first frame) to a constant rate: output frame ``k`` is
    the latest source frame whose pts ``<= k / fps``, until the source ends (last pts plus
    its duration), so variable frame rate and 29.97/30/25 fps sources all come out at
    ``fps``. ``max_side`` downscales with ``cv2.INTER_AREA`` so ``max(H, W) <= max_side``.
    A folder of JPEG/PNG frames (natural numeric order) is taken to run at ``folder_fps``.
    Rotation metadata (phone videos) is applied. The file is opened here, so a missing or
    non-video file raises :class:`MediaError` at call time, not on first iteration.
    ``start`` (with ``fps`` only): begin at output frame ``start``; the frames before it are
    decoded (the resampling needs their times) but not converted to RGB.
    """
    path = os.fspath(path)
    if fps is not None and fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    check_exists(path)
    if os.path.isdir(path):
        source = _folder_source(_folder_frames(path), folder_fps, max_side)
        tick = 1e-6
    else:
        container = open_media(path)
        try:
            stream = _video_stream(container, path)
        except MediaError:
            container.close()
            raise
        tick = float(stream.time_base) if stream.time_base else 1e-6
        source = _video_source(container, path, max_side)
    if fps is None:
        if start:
            raise ValueError("start needs fps: frames are counted at a constant rate")
        return (getter() for getter, _, _ in source)
    return _resample(source, fps, tick, start)
