"""A streaming talking-face session: audio chunks in, rendered frames with timestamps out.

This is the Python streaming API (a text-to-speech voice, an assistant, a microphone) and what
`vasa serve` runs for each browser: one portrait, one `MotionEngine`, one `Renderer`.

    session = open_session("face.jpg", model="motion_dit.pt")
    for chunk in tts_voice():                     # float32 mono 16 kHz, any length
        for frame in session.push_audio(chunk):   # StreamFrame: index, time, image, audio
            show(frame.image, frame.audio)
    session.push_silence(0.5)                     # no speech: the face keeps moving
    session.flush()                               # the last frames of the audio

No clocks here: keeping a live stream moving in real time (silence when no speech arrives,
bounded look-ahead) is `vasa.serve.live`'s job. Frames come out in order, every frame exactly
once, and a frame's motion never depends on how the audio was chunked, so a stream gives the
frames of an offline `MotionEngine` run with the same preset and seed.

One thread: a gaze request is calibrated for this portrait (`calibrate.aim_gaze`, about 0.3 s
of probe renders) on a thread of its own with its own renderer, so that a request mid-stream
never holds up the frames; the gaze is steered with what is known so far until the result is
taken in, at the next push. `wait_for_gaze()` waits for it (an offline caller that wants the
frames of `vasa generate`).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from vasa.audio import AudioFeatureExtractor, get_extractor
from vasa.latent.basis import FaceBasis, default_basis
from vasa.motion.checkpoint import DEFAULT_MODEL, MotionModel, load_model
from vasa.motion.controls import Controls, check_controls
from vasa.motion.engine import MotionEngine
from vasa.motion.gaze import GazeResponse
from vasa.overlap import Background
from vasa.pipelines.calibrate import aim_gaze, calibrated_output, gaze_response, rest_frames
from vasa.pipelines.config import StreamConfig
from vasa.portrait import Portrait, even, load_portrait
from vasa.render import Renderer, render_frames
from vasa.timebase import SAMPLE_RATE, SAMPLES_PER_FRAME, frame_time


@dataclass
class StreamFrame:
    """One rendered frame and the audio it shows.

    index: frame number from the start of the stream; time: its presentation time in seconds
    (index / 25); image: (H, W, 3) uint8 RGB (the portrait's picture, or its square crop with
    `StreamConfig.crop`; sides even); audio: (640,) float32, the 40 ms of audio that plays
    with it; stamp: the stamp given with the audio chunk that holds the frame's first sample (for
    example its arrival time), None where that sample was silence from push_silence or flush."""

    index: int
    time: float
    image: np.ndarray
    audio: np.ndarray
    stamp: Any = None


@dataclass
class StreamMotion:
    """A frame's motion before it is rendered (`StreamSession.push_motion`): pose (6,),
    dynamics (D,); index, time, audio and stamp as `StreamFrame`'s."""

    index: int
    time: float
    pose: np.ndarray
    dynamics: np.ndarray
    audio: np.ndarray
    stamp: Any = None


class StreamSession:
    """push_audio(chunk) -> frames ready so far; push_silence(seconds); flush() -> the rest."""

    def __init__(self, model: MotionModel, extractor: AudioFeatureExtractor, portrait: Portrait,
                 basis: FaceBasis | None = None, config: StreamConfig | None = None) -> None:
        self.config = config or StreamConfig()
        check_controls(self.config.controls)
        check_portrait(portrait, self.config)
        self.portrait, self.basis = portrait, basis or default_basis()
        self.renderer = Renderer(portrait, self.basis)  # the crop: what calibration tracks
        # What is streamed (the picture, or the crop), and how it renders a mouth and lids.
        self.output, mouth, lids = calibrated_output(portrait, self.renderer, self.basis)
        self.engine = MotionEngine(model, extractor, portrait.pose,
                                   portrait.talking_rest(self.basis), replace(self.config.controls),
                                   hop=self.config.hop, lookahead=self.config.lookahead,
                                   mouth_response=mouth, lid_response=lids)
        self._gaze: GazeResponse | None = None  # measured gains and aims, once calibrated
        self._aimed: set[tuple[float, float]] = set()  # targets calibrated (aimed or not)
        self._calibration: Background[tuple[tuple[float, float], GazeResponse]] | None = None
        self._probe_renderer: Renderer | None = None  # the calibration thread's own
        # set_controls may come from another thread than push_audio (`vasa serve`'s socket
        # reader): the calibration's bookkeeping is changed under this lock.
        self._calibration_lock = threading.Lock()
        self._calibrate_gaze()
        self._reset_audio()

    def _calibrate_gaze(self) -> None:
        """For the engine's gaze request: the portrait's rendered eye gain, measured the first
        time a gaze is asked for, and the aim of each new request (`calibrate.aim_gaze`), on a
        thread; a request made while one runs is taken up when it is done."""
        with self._calibration_lock:
            self._start_calibration()

    def _start_calibration(self) -> None:
        target = self.engine.gaze_target
        if target is None or self._calibration is not None:
            return
        if target in self._aimed:  # aim_gaze leaves a request it cannot better unaimed
            self.engine.gaze_response = self._gaze
            return
        known, head_share = self._gaze, self.engine.head_share
        self._calibration = Background(
            lambda stop: (target, self._calibrated(known, target, head_share)), "calibrate")

    def _calibrated(self, known: GazeResponse | None, target: tuple[float, float],
                    head_share: float) -> GazeResponse:
        """(On the calibration thread.) `known` with the aim for `target`, gains measured
        first if unknown."""
        if self._probe_renderer is None:  # the stream's renderer is busy with frames
            self._probe_renderer = Renderer(self.portrait, self.basis)
        renderer = self._probe_renderer
        if known is None:
            known = gaze_response(self.portrait, renderer, self.basis)
        return aim_gaze(renderer, self.basis, self.portrait.size, known, target,
                        rest_frames(self.portrait, self.basis, target, head_share))

    def _take_calibration(self, wait: bool = False) -> None:
        """Steer with a finished calibration (an error of its thread is raised here), and
        start the next if the request changed meanwhile."""
        running = self._calibration
        if running is None or not (wait or running.done):
            return
        target, gaze = running.result()  # waits; an error of the thread is raised here
        with self._calibration_lock:
            self._gaze, self._calibration = gaze, None
            self._aimed.add(target)
            self.engine.gaze_response = gaze
            self._start_calibration()

    def wait_for_gaze(self) -> None:
        """Wait until the gaze request in force is calibrated and steered with."""
        while self._calibration is not None:
            self._take_calibration(wait=True)

    def _reset_audio(self) -> None:
        self._pending = np.zeros(0, np.float32)  # received audio not yet shown by a frame
        self._pending_start = 0  # absolute sample index of _pending[0]
        self._stamps: deque[tuple[int, Any]] = deque()  # (first sample, stamp) per push
        self._received = 0
        self._emitted = 0  # frames emitted

    @property
    def latency_s(self) -> float:
        """Seconds of audio a frame waits for past its own start (look-ahead + analysis)."""
        return self.engine.latency_s

    @property
    def received_s(self) -> float:
        """Seconds of audio (speech and silence) pushed since the start or the last flush."""
        return self._received / SAMPLE_RATE

    @property
    def samples_to_next_window(self) -> int:
        """Audio still needed before the next window can be generated: a live source may push
        exactly this much to get the next frames in one step."""
        return self.engine.samples_to_next_window

    @property
    def controls(self) -> Controls:
        return self.engine.controls

    def set_controls(self, controls: Controls) -> None:
        """Live controls: checked here, applied from the next window on."""
        check_controls(controls)
        self.engine.controls = controls
        self._calibrate_gaze()

    def push_audio(self, chunk: np.ndarray, stamp: Any = None) -> list[StreamFrame]:
        """Feed float32 mono 16 kHz audio (N,); returns the frames that became ready."""
        return self.render(self.push_motion(chunk, stamp))

    def push_silence(self, seconds: float) -> list[StreamFrame]:
        """Silence while no speech arrives: the model's idle motion (blinks, small head motion,
        closed mouth) keeps the face alive. Frames from it carry stamp None."""
        return self.push_audio(np.zeros(round(seconds * SAMPLE_RATE), np.float32), None)

    def flush(self) -> list[StreamFrame]:
        """The frames of the audio still held back for look-ahead (the last window may be
        partial), then a fresh start: the next push is frame 0 again."""
        self._take_calibration()
        frames = self._motion(self.engine.flush())
        self._reset_audio()
        return self.render(frames)

    def push_motion(self, chunk: np.ndarray, stamp: Any = None) -> list[StreamMotion]:
        """`push_audio`'s first half: the motion of the frames that became ready, not yet
        rendered (`render`). The two halves touch separate state (the motion engine, the
        renderer), so a window's `render` may run on one thread while the next window's
        `push_motion` runs on another (`vasa.serve.live`); each half's calls stay in order."""
        chunk = np.asarray(chunk, np.float32)
        if chunk.ndim != 1:
            raise ValueError(f"audio chunk must be mono (N,), got shape {chunk.shape}")
        if not np.all(np.isfinite(chunk)):
            raise ValueError("audio chunk has NaN or infinite samples")
        if len(chunk) == 0:
            return []
        self._take_calibration()
        self._stamps.append((self._received, stamp))
        self._received += len(chunk)
        self._pending = np.concatenate([self._pending, chunk])
        return self._motion(self.engine.push(chunk))

    def render(self, motion: list[StreamMotion]) -> list[StreamFrame]:
        """`push_audio`'s second half: the frames of `motion` (`render_frames`: two at once)."""
        images = render_frames(self.output, ((m.pose, m.dynamics) for m in motion))
        return [StreamFrame(m.index, m.time, image, m.audio, m.stamp)
                for m, image in zip(motion, list(images))]

    def _stamp_for(self, start: int) -> Any:
        """The first stamp among the pushes overlapping samples [start, start + 640): the
        frame where speech begins carries the stamp of the speech's first chunk."""
        while len(self._stamps) > 1 and self._stamps[1][0] <= start:
            self._stamps.popleft()  # pushes that ended before this frame
        for first, stamp in self._stamps:
            if first >= start + SAMPLES_PER_FRAME:
                break
            if stamp is not None:
                return stamp
        return None

    def _motion(self, motion: list) -> list[StreamMotion]:
        out = []
        for m in motion:
            start = m.index * SAMPLES_PER_FRAME
            lo = start - self._pending_start
            audio = self._pending[lo:lo + SAMPLES_PER_FRAME]
            if len(audio) < SAMPLES_PER_FRAME:  # the last frame of a flush: pad its audio
                audio = np.pad(audio, (0, SAMPLES_PER_FRAME - len(audio)))
            out.append(StreamMotion(m.index, frame_time(m.index), m.pose, m.dynamics,
                                    audio.copy(), self._stamp_for(start)))
        if motion:  # audio of emitted frames is no longer needed
            self._emitted = motion[-1].index + 1
            done = self._emitted * SAMPLES_PER_FRAME
            self._pending = self._pending[done - self._pending_start:]
            self._pending_start = done
        return out


def check_portrait(portrait: Portrait, config: StreamConfig) -> None:
    """ValueError unless `portrait` was loaded for `config`'s framing and size."""
    def kind(crop: bool, side: int) -> str:
        return f"a {side} px square crop" if crop else f"a picture {side} px on its long side"

    have = kind(not portrait.framed, max(portrait.output_shape))
    want = kind(config.crop, config.size if config.crop else even(config.size))
    if have != want:
        raise ValueError(f"the portrait was loaded as {have}, the stream renders {want}: load "
                         f"it with size={config.size}, framed={not config.crop}")


def open_session(portrait: str | Path, model: str | Path = DEFAULT_MODEL,
                 config: StreamConfig | None = None,
                 face_index: int | None = None) -> StreamSession:
    """Load the default extractor and basis, a motion model file and a portrait image, and
    start a session (the one-call entry point for scripts)."""
    config = config or StreamConfig()
    basis = default_basis()
    extractor = get_extractor()
    motion = load_model(model, extractor.spec.id, basis.version)
    face = load_portrait(portrait, config.size, face_index, basis, framed=not config.crop)
    return StreamSession(motion, extractor, face, basis, config)


__all__ = ["StreamConfig", "StreamFrame", "StreamMotion", "StreamSession", "check_portrait", "open_session"]
