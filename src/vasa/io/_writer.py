"""H.264 + AAC video writing (:class:`VideoWriter`), re-exported by :mod:`vasa.io.video`."""

from __future__ import annotations

import os
import weakref
from collections import deque
from fractions import Fraction
from pathlib import Path
from typing import Self

import av
import cv2
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from vasa.io._media import MediaError, reason, remove_quietly, reserve_temp

_AAC_FRAME = 1024  # samples per AAC frame; the encoder wants exactly this many (last may be short)
# The container is the one the file name says; each holds H.264 + AAC. Any other extension is
# refused before any work, rather than written as an mp4 under a name that says otherwise.
CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}


def check_video_output(path: str | os.PathLike) -> str:
    """The container format for writing ``path``. :class:`MediaError` at once (before any work)
    if ``path`` is a folder, its folder does not exist or its extension is not in CONTAINERS."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise MediaError(f"{path}: is a folder; give a file name, e.g. "
                         f"{os.path.join(path, 'out.mp4')}")
    ext = Path(path).suffix.lower()
    if ext not in CONTAINERS:
        raise MediaError(f"{path}: cannot write {ext or 'a file without an extension'}: "
                         f"give a {', '.join(CONTAINERS)} file name")
    out_dir = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(out_dir):
        raise MediaError(f"{out_dir}: output directory does not exist")
    return CONTAINERS[ext]


def _as_audio(audio: np.ndarray) -> np.ndarray:
    """Validate audio to float32 ``(N, C)``, C in {1, 2}, clipped to [-1, 1]."""
    a = np.asarray(audio)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] not in (1, 2):
        raise ValueError(f"audio must be (N,) or (N, C) with C in 1..2, got shape {a.shape}")
    if np.issubdtype(a.dtype, np.integer):
        a = a / float(np.iinfo(a.dtype).max)
    return np.clip(a, -1.0, 1.0).astype(np.float32)


class _AudioQueue:
    """FIFO of ``(n, C)`` float32 audio not yet sent to the encoder."""

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self._parts: deque[np.ndarray] = deque()
        self._head = 0  # samples of _parts[0] already taken
        self.size = 0  # samples queued

    def put(self, a: np.ndarray) -> None:
        if len(a):
            self._parts.append(a)
            self.size += len(a)

    def take(self, n: int) -> np.ndarray:
        """The next ``min(n, size)`` samples."""
        out: list[np.ndarray] = []
        while n > 0 and self._parts:
            part = self._parts[0]
            piece = part[self._head : self._head + n]
            out.append(piece)
            n -= len(piece)
            self.size -= len(piece)
            self._head += len(piece)
            if self._head == len(part):
                self._parts.popleft()
                self._head = 0
        if not out:
            return np.zeros((0, self.channels), np.float32)
        return out[0] if len(out) == 1 else np.concatenate(out)

    def clear(self) -> None:
        self._parts.clear()
        self._head = self.size = 0


class _WriterState:
    """What must be cleaned up if a writer is dropped without ``close()`` (no ref to it)."""

    def __init__(self) -> None:
        self.tmp: str | None = None  # named before it is created (`reserve_temp`'s claim)
        self.container: av.container.OutputContainer | None = None

    def claim(self, tmp: str | None) -> None:
        self.tmp = tmp

    def discard(self) -> None:
        if self.container is not None:
            container, self.container = self.container, None
            try:
                container.close()
            except (av.error.FFmpegError, OSError):
                pass  # the half-written file is deleted next anyway
        if self.tmp is not None:
            remove_quietly(self.tmp)


class VideoWriter:
    """H.264 mp4 writer (libx264, yuv420p, ``preset='veryfast'``) with optional AAC audio.

    ``audio`` is float32 mono ``(N,)`` or ``(N, C)`` in [-1, 1] at ``sample_rate``; it is
    encoded in step with the video and trimmed or zero-padded to ``num_frames / fps`` seconds,
    so audio sample ``round(k * sample_rate / fps)`` plays with frame ``k``. To stream audio
    instead (e.g. an hour-long file), pass ``audio_channels`` (1 or 2) and no ``audio``, and
    hand it over in pieces with :meth:`write_audio`, in any step with :meth:`write`: it is
    queued and encoded as the frames it plays with are written, so the writer holds only
    audio not yet encoded; at ``close()`` it is trimmed or zero-padded as above. The frame
    size is
    fixed by the first frame; yuv420p needs even sizes, so an odd height/width is cropped by
    one pixel (last row/column). Output goes to a hidden temporary file ``.NAME.tmp-XXXX.mp4``
    next to ``path`` that ``close()`` renames to ``path``; if the ``with`` block raises or the
    writer is dropped unclosed, the temporary file is removed and ``path`` is never created.
    The output directory must already exist (checked here, before any work).

    Use as ``with VideoWriter("out.mp4", 25, audio) as w: w.write(frame)``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        audio: np.ndarray | None = None,
        sample_rate: int = 16000,
        crf: int = 18,
        audio_channels: int | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self._format = check_video_output(self.path)
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = float(fps)
        self.sample_rate = int(sample_rate)
        self.crf = int(crf)
        self.num_frames = 0
        # Audio not yet encoded (None: no audio track); _audio_done: no more will come, so a
        # shortfall can be padded with silence at once rather than at close().
        self._audio: _AudioQueue | None = None
        self._audio_done = audio is not None
        if audio is not None:
            a = _as_audio(audio)
            if audio_channels is not None and audio_channels != a.shape[1]:
                raise ValueError(
                    f"audio_channels={audio_channels} but audio has {a.shape[1]} channel(s)"
                )
            self._audio = _AudioQueue(a.shape[1])
            self._audio.put(a)
        elif audio_channels is not None:
            if audio_channels not in (1, 2):
                raise ValueError(f"audio_channels must be 1 or 2, got {audio_channels}")
            self._audio = _AudioQueue(int(audio_channels))
        self._audio_pos = 0  # samples of audio already sent to the encoder
        self._shape: tuple[int, ...] | None = None
        self._video: av.video.VideoStream | None = None  # created by the first write()
        self._astream: av.audio.AudioStream | None = None
        # The clean-up is registered before the temporary file exists: a Ctrl-C that lands
        # while it is created still removes it.
        self._state = _WriterState()
        self._finalizer = weakref.finalize(self, _WriterState.discard, self._state)
        reserve_temp(self.path, self._state.claim)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _open(self, height: int, width: int) -> None:
        # Fraction keeps 30000/1001 exact; limit_denominator turns 29.97 into 2997/100.
        rate = Fraction(self.fps).limit_denominator(1001)
        try:
            # faststart: the index up front, so a browser plays the file while it downloads.
            opts = {"movflags": "+faststart"} if self._format in ("mp4", "mov") else {}
            c = av.open(self._state.tmp, mode="w", format=self._format, container_options=opts)
            self._state.container = c
            self._video = c.add_stream("libx264", rate=rate)
            self._video.width, self._video.height = width, height
            self._video.pix_fmt = "yuv420p"
            self._video.options = {"crf": str(self.crf), "preset": "veryfast"}
            # Frames are converted from RGB with BT.601 limited-range coefficients (`write`);
            # say so, or players assume BT.709 for HD sizes and shift the colours slightly.
            cc = self._video.codec_context
            cc.colorspace, cc.color_range = Colorspace.ITU601, ColorRange.MPEG
            if self._audio is not None:
                self._astream = c.add_stream("aac", rate=self.sample_rate)
                self._astream.layout = "mono" if self._audio.channels == 1 else "stereo"
        except (av.error.FFmpegError, OSError) as e:
            self.abort()
            raise MediaError(f"{self.path}: cannot open encoder ({reason(e)})") from e

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 ``(H, W, 3)`` frame (same shape as the first one)."""
        if not self._finalizer.alive:
            raise MediaError(f"{self.path}: writer is already closed")
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        if self._shape is None:
            h, w = frame.shape[0] // 2 * 2, frame.shape[1] // 2 * 2
            if h == 0 or w == 0:
                raise ValueError(f"frame too small to encode: {frame.shape}")
            self._shape = frame.shape
            self._open(h, w)
        elif frame.shape != self._shape:
            raise ValueError(f"frame shape {frame.shape} differs from the first {self._shape}")
        h, w = self._video.height, self._video.width
        # BT.601 limited range, as the stream is tagged. OpenCV's conversion matches swscale's
        # (PyAV's from RGB) to 1 level in Y and 3 in chroma (a 2x2 mean) at a fourteenth of
        # the CPU: 0.2 ms a 512 px frame against 2.6, a third of what encoding one cost.
        yuv = cv2.cvtColor(np.ascontiguousarray(frame[:h, :w]), cv2.COLOR_RGB2YUV_I420)
        vf = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        vf.pts = self.num_frames
        try:
            self._mux(self._video.encode(vf))
            self.num_frames += 1
            self._encode_audio(final=False)
        except (av.error.FFmpegError, OSError) as e:
            self.abort()
            raise MediaError(f"{self.path}: cannot encode video ({reason(e)})") from e

    def write_audio(self, samples: np.ndarray) -> None:
        """Append audio (``(N,)`` or ``(N, C)``, C as ``audio_channels``) to the track.

        Only for a writer made with ``audio_channels`` and no ``audio``. Samples past the
        last frame's time are dropped at ``close()``.
        """
        if not self._finalizer.alive:
            raise MediaError(f"{self.path}: writer is already closed")
        if self._audio is None or self._audio_done:
            raise ValueError(
                "write_audio needs a writer made with audio_channels and without audio"
            )
        a = _as_audio(samples)
        if a.shape[1] != self._audio.channels:
            raise ValueError(
                f"audio has {a.shape[1]} channel(s), the writer {self._audio.channels}"
            )
        self._audio.put(a)
        if self._state.container is not None:
            try:
                self._encode_audio(final=False)
            except (av.error.FFmpegError, OSError) as e:
                self.abort()
                raise MediaError(f"{self.path}: cannot encode audio ({reason(e)})") from e

    def _mux(self, packets: list[av.Packet]) -> None:
        for p in packets:
            self._state.container.mux(p)

    def _encode_audio(self, final: bool) -> None:
        if self._audio is None:
            return
        target = round(self.num_frames * self.sample_rate / self.fps)
        pad = final or self._audio_done  # a shortfall is silence, not audio still to come
        while self._audio_pos < target:
            n = min(_AAC_FRAME, target - self._audio_pos)
            if n < _AAC_FRAME and not final:
                break  # only the last AAC frame may be short
            if self._audio.size < n and not pad:
                break  # wait for write_audio
            chunk = self._audio.take(n)
            if len(chunk) < n:  # audio shorter than the video: pad with silence
                chunk = np.pad(chunk, ((0, n - len(chunk)), (0, 0)))
            af = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(chunk.T), format="fltp", layout=self._astream.layout
            )
            af.sample_rate, af.pts = self.sample_rate, self._audio_pos
            af.time_base = Fraction(1, self.sample_rate)
            self._mux(self._astream.encode(af))
            self._audio_pos += n
        if final:
            self._audio.clear()  # past the last frame: trimmed
            self._mux(self._astream.encode(None))

    def close(self) -> None:
        """Flush the encoders, finish the mp4 and move it to ``path``. Idempotent."""
        if not self._finalizer.alive:
            return
        if self.num_frames == 0:
            self.abort()
            raise MediaError(f"{self.path}: no frames were written")
        try:
            self._mux(self._video.encode(None))
            self._encode_audio(final=True)
            container, self._state.container = self._state.container, None
            container.close()
            os.replace(self._state.tmp, self.path)
        except (av.error.FFmpegError, OSError) as e:
            self.abort()
            raise MediaError(f"{self.path}: cannot finish writing ({reason(e)})") from e
        self._finalizer.detach()

    def abort(self) -> None:
        """Stop writing and delete the temporary file; ``path`` is not created or changed."""
        self._finalizer()
        if self._audio is not None:
            self._audio.clear()
