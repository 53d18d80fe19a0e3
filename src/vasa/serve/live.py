"""Real-time pacing of a StreamSession: what keeps a live stream moving, whatever the source.

Stream time is the audio timeline (frame k shows audio k*40 ms .. k*40 ms + 40 ms). A live
stream keeps it in step with the wall clock:

- silence fills any gap: whenever the received audio falls more than `jitter_s` behind the wall
  clock, silence is pushed up to that point, so the face keeps blinking and moving between
  utterances and before the first one (the model's motion for silent audio, mouth closed);
- speech goes in as it arrives, in pieces of at most one window, so every compute job is
  short (a window's motion, or its frames: 50-70 ms on 2 slow cores), sessions sharing a
  worker take turns, and a burst's first frames are ready after two jobs; a window's motion
  is made while the window before it renders (`run`);
- a source faster than real time (a text-to-speech engine, a file) is consumed at most
  `max_ahead_s` ahead of the wall clock, so a burst cannot take the CPU from other sessions;
  past that, up to `max_buffer_s` is held, and then `put_audio` waits: the transport stops
  reading (back-pressure);
- frames wait in a bounded queue for the transport; when it is full (a client that does not
  read), generation stops instead of piling frames up;
- `close()` ends everything at once: `run()` returns and a `put_audio`, `put_frame` or
  `get_frame` that waits is woken. Every wait is on an event, never a polling
  `asyncio.wait_for`: on Python 3.11 that can swallow a cancellation (when the awaited thing
  completes in the same loop iteration), which left tasks parked for good and their session's
  slot taken (issue 14).

Each frame is stamped with the arrival time of the audio holding its first sample, so the
server's latency is measured on every frame.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vasa.audio import SAMPLES_PER_FRAME
from vasa.pipelines.stream import StreamFrame, StreamSession
from vasa.timebase import SAMPLE_RATE

# A compute job runner: the server hands jobs to its worker threads; tests may run them inline.
# One that submits the job when called (`loop.run_in_executor`), not when awaited, lets
# `LiveStream.run` queue a window's frames ahead of the next window's motion.
Runner = Callable[[Callable[[], Any]], Awaitable[Any]]


@dataclass
class LiveConfig:
    jitter_s: float = 0.06  # audio may arrive this late (20 ms chunks + network) before silence
    max_ahead_s: float = 1.0  # audio consumed at most this far ahead of the wall clock
    max_buffer_s: float = 10.0  # audio held beyond that; more waits (back-pressure)
    tick_s: float = 0.02  # how often the idle filler looks at the clock
    max_queued_frames: int = 50  # frames waiting for the transport (2 s)


async def run_inline(job: Callable[[], Any]) -> Any:
    return job()


class LiveStream:
    """Drives `session` in real time. put_audio() from the transport; run() as a task;
    frames (after `encode`) come out of the `frames` queue in order."""

    def __init__(self, session: StreamSession, config: LiveConfig | None = None,
                 runner: Runner = run_inline, encode: Callable[[StreamFrame], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.session, self.config, self.runner = session, config or LiveConfig(), runner
        self.encode = encode or (lambda f: f)
        self.clock = clock
        self.t0 = clock()
        self.frames: asyncio.Queue = asyncio.Queue(self.config.max_queued_frames)
        self._input: deque[tuple[np.ndarray, float]] = deque()
        self._input_samples = 0
        self._arrived = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._frame_added = asyncio.Event()  # for get_frame
        self._frame_taken = asyncio.Event()  # for put_frame
        self.speech_samples = 0
        self.idle_samples = 0
        self.closed = False

    def close(self) -> None:
        """The transport is gone: wake every wait (put_audio, put_frame, get_frame, the idle
        filler) so that each returns, and run() ends."""
        self.closed = True
        for event in (self._drained, self._arrived, self._frame_added, self._frame_taken):
            event.set()

    def now(self) -> float:
        """Seconds since the stream started (the server's clock in frame stamps)."""
        return self.clock() - self.t0

    @property
    def buffered_s(self) -> float:
        return self._input_samples / SAMPLE_RATE

    async def put_audio(self, chunk: np.ndarray) -> None:
        """Queue speech (float32 16 kHz); waits while `max_buffer_s` is held (back-pressure).
        The arrival time is taken before waiting: a held-back chunk is not counted as late."""
        arrival = self.now()
        while self.buffered_s >= self.config.max_buffer_s and not self.closed:
            self._drained.clear()
            await self._drained.wait()
        if len(chunk) and not self.closed:
            self._input.append((chunk, arrival))
            self._input_samples += len(chunk)
            self._arrived.set()

    async def run(self) -> None:
        """Feed the session until close() (or cancel): speech as it comes, silence otherwise.

        Each window is two compute jobs: its motion (`StreamSession.push_motion`), then its
        frames (`render`, `encode`, queued for the transport by a task of their own). The
        next window's motion is made while the last window's frames render, so on two
        workers a window costs the longer of the two jobs, not their sum
        (`benchmarks/bench_stream.py`). Renders stay one at a time, in order."""
        rendering: asyncio.Task[bool] | None = None
        try:
            while not self.closed:
                chunk, stamp = await self._next()
                if self.closed:
                    return
                motion = await self.runner(
                    lambda c=chunk, s=stamp: self.session.push_motion(c, s))
                if not motion:  # a piece that completed no window: the last may still render
                    continue
                if rendering is not None and not await rendering:
                    return
                # Handed to the workers now, before the next window's motion: with one worker
                # a window's frames must not wait behind the next window's motion.
                job = self.runner(lambda m=motion: [self.encode(f)
                                                    for f in self.session.render(m)])
                rendering = asyncio.ensure_future(self._deliver(job))
            if rendering is not None:
                await rendering
        finally:
            if rendering is not None and not rendering.done():
                rendering.cancel()

    async def _deliver(self, job: Awaitable[list]) -> bool:
        """Queue the frames of a window's render job for the transport; False once the
        stream is closed."""
        for f in await job:
            if not await self.put_frame(f):
                return False
        return True

    async def put_frame(self, frame: Any) -> bool:
        """Queue a frame for the transport, waiting while the queue is full; False (frame
        dropped) once the stream is closed."""
        while self.frames.full() and not self.closed:
            self._frame_taken.clear()
            await self._frame_taken.wait()
        if self.closed:
            return False
        self.frames.put_nowait(frame)
        self._frame_added.set()
        return True

    async def get_frame(self) -> Any | None:
        """The next frame, waiting for one; None once the stream is closed."""
        while self.frames.empty() and not self.closed:
            self._frame_added.clear()
            await self._frame_added.wait()
        if self.closed:
            return None
        frame = self.frames.get_nowait()
        self._frame_taken.set()
        return frame

    def _window_samples(self) -> int:
        return self.session.config.hop * SAMPLES_PER_FRAME

    async def _next(self) -> tuple[np.ndarray, float | None]:
        """The next chunk to push: speech, or idle silence when speech is late. Once closed,
        whatever it has (the caller checks `closed`)."""
        cfg = self.config
        while not self.closed:
            now, have = self.now(), self.session.received_s
            if self._input:
                if have < now + cfg.max_ahead_s:
                    return self._take()
                await asyncio.sleep(max(have - now - cfg.max_ahead_s, cfg.tick_s / 4))
                continue
            gap = now - cfg.jitter_s - have
            if gap > 0:  # no speech in time: idle motion up to the allowed lag
                n = min(int(np.ceil(gap * SAMPLE_RATE)), self._window_samples())
                self.idle_samples += n
                return np.zeros(n, np.float32), None
            self._arrived.clear()
            try:
                async with asyncio.timeout(cfg.tick_s):  # unlike wait_for, never eats a cancel
                    await self._arrived.wait()
            except TimeoutError:
                pass
        return np.zeros(0, np.float32), None

    def _take(self) -> tuple[np.ndarray, float]:
        """The next piece of speech: what completes the next window where a chunk holds that
        much (a burst: one window per job, each as soon as possible), else the chunk."""
        chunk, arrival = self._input[0]
        n = max(self.session.samples_to_next_window, 1)
        if len(chunk) > n:
            self._input[0] = (chunk[n:], arrival)
            chunk = chunk[:n]
        else:
            self._input.popleft()
        self._input_samples -= len(chunk)
        self.speech_samples += len(chunk)
        if self.buffered_s < self.config.max_buffer_s:
            self._drained.set()
        return chunk, arrival
