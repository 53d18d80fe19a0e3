"""The wire protocol of `vasa serve`: one WebSocket per session.

Client -> server
  text   {"type": "start", "portrait": "bundled" | ID, "sample_rate": 16000, "seed": 0,
          "controls": {...}}                         once, first
  text   {"type": "controls", "gaze": "left", ...}   live controls, any time after start
  binary audio: int16 little-endian mono PCM at 16 kHz, at most 1 s per message

Server -> client
  text   {"type": "ready", ...}   the session runs: frame rate, frame width and height (the
                                  portrait's own aspect ratio), look-ahead, playout delay
  text   {"type": "error", "code": ..., "message": ...}   a bad message; the session goes on
  text   {"type": "busy", "message": ...}   every session is taken; then close code 1013
  binary a frame (pack_frame): header, the frame's 40 ms of audio (int16), its JPEG image

Controls: gaze (forward, left, right, up, down or "THETA,PHI" degrees), distance (0.5..3 or
null = the model's typical), emotion (a name, 7 comma-separated values or null), cfg_audio,
cfg_gaze, cfg_emotion (0..10), emotion_intensity (0..3), motion_scale (0..3), mouth_scale
(0..2), still_head (bool). Sampler steps are the server's preset, not a client control: they set the CPU cost of
every session.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, fields, replace

import numpy as np

from vasa.motion.controls import ControlError, Controls, check_controls, parse_emotion, parse_gaze
from vasa.timebase import SAMPLE_RATE

PROTOCOL_VERSION = 1
MAX_AUDIO_BYTES = 2 * SAMPLE_RATE  # one second of int16 per message
MAX_TEXT_BYTES = 4096
# The page plays frame t at (first frame's arrival - its t) + t + this: a jitter buffer for
# compute time that varies from window to window. Measured on this 2-core machine with another
# job on one core (benchmarks/results/serve.md): 0.1 s left 16% of frames late, 0.3 s none.
PLAYOUT_DELAY_S = 0.3
BUSY_CLOSE_CODE = 1013  # RFC 6455 "try again later"

FRAME_MAGIC = b"VSF1"
# magic, index, presentation time, audio arrival (server s; -1 = idle silence), sent (server s),
# audio samples, JPEG bytes. Server times are seconds since the session started, one clock.
FRAME_HEADER = struct.Struct("<4sIdddII")


class ProtocolError(ValueError):
    """A client message the server refuses; `code` is machine-readable, the text says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class ControlUpdate:
    """Live controls as sent: None = leave as is. distance/emotion may be sent as null (JSON) to
    return to the model's default; that is `reset` here."""

    gaze: str | None = None
    distance: float | None = None
    emotion: str | None = None
    cfg_audio: float | None = None
    cfg_gaze: float | None = None
    cfg_emotion: float | None = None
    emotion_intensity: float | None = None
    motion_scale: float | None = None
    mouth_scale: float | None = None
    still_head: bool | None = None
    reset: tuple[str, ...] = ()


@dataclass
class Start:
    portrait: str = "bundled"
    sample_rate: int = SAMPLE_RATE
    seed: int = 0
    controls: ControlUpdate | None = None


_NUMBERS = {"distance", "cfg_audio", "cfg_gaze", "cfg_emotion", "emotion_intensity",
            "motion_scale", "mouth_scale"}
_NULLABLE = {"distance", "emotion"}


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError("bad_controls", f"{name} must be a number, got {value!r}")
    try:  # JSON integers are unbounded: 10**400 does not fit a float (OverflowError)
        number = float(value)
    except OverflowError:
        number = float("inf")
    if not np.isfinite(number):
        raise ProtocolError("bad_controls", f"{name} must be a finite number, got "
                            f"{str(value)[:40]}")
    return number


def parse_controls(d: dict) -> ControlUpdate:
    known = {f.name for f in fields(ControlUpdate)} - {"reset"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ProtocolError("bad_controls", f"unknown controls {unknown}; known: {sorted(known)}")
    out, reset = ControlUpdate(), []
    for name, value in d.items():
        if value is None:
            if name not in _NULLABLE:
                raise ProtocolError("bad_controls", f"{name} cannot be null")
            reset.append(name)
        elif name in _NUMBERS:
            setattr(out, name, _number(name, value))
        elif name == "still_head":
            if not isinstance(value, bool):
                raise ProtocolError("bad_controls", f"still_head must be true or false, got "
                                    f"{value!r}")
            out.still_head = value
        else:  # gaze, emotion: text parsed against the model below
            if not isinstance(value, str) or len(value) > 200:
                raise ProtocolError("bad_controls", f"{name} must be a short string, got "
                                    f"{value!r}")
            setattr(out, name, value)
    out.reset = tuple(reset)
    return out


def apply_controls(base: Controls, update: ControlUpdate) -> Controls:
    """New Controls from `base` and an update, checked against the ranges the model was
    trained on (the same checks as `vasa generate`; messages name the protocol's fields, which
    are the Controls fields)."""
    c = replace(base)
    try:
        if update.gaze is not None:
            c.gaze = parse_gaze(update.gaze)
        if update.emotion is not None:
            c.emotion = parse_emotion(update.emotion)
        for name in (*sorted(_NUMBERS), "still_head"):  # set as given
            value = getattr(update, name)
            if value is not None:
                setattr(c, name, value)
        for name in update.reset:
            setattr(c, name, None)
        check_controls(c)
    except ControlError as err:
        raise ProtocolError("bad_controls", err.named(err.field)) from None
    return c


def parse_text(text: str) -> Start | ControlUpdate:
    """A client text message: Start or ControlUpdate; ProtocolError for anything else."""
    if len(text) > MAX_TEXT_BYTES:
        raise ProtocolError("bad_message", f"text message over {MAX_TEXT_BYTES} bytes")
    try:
        msg = json.loads(text)
    except json.JSONDecodeError as err:
        raise ProtocolError("bad_message", f"not JSON: {err.msg} at character {err.pos}") from None
    except (ValueError, RecursionError):  # an integer past Python's digit limit; deep nesting
        raise ProtocolError("bad_message", "not a message: numbers too long or nesting too "
                            "deep") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("bad_message", 'a message must be a JSON object with a "type"')
    kind = msg.pop("type")
    if kind == "controls":
        return parse_controls(msg)
    if kind != "start":
        raise ProtocolError("bad_message", f'unknown message type {kind!r} (start, controls)')
    unknown = sorted(set(msg) - {"portrait", "sample_rate", "seed", "controls"})
    if unknown:
        raise ProtocolError("bad_message", f"unknown start fields {unknown}")
    start = Start()
    portrait = msg.get("portrait", "bundled")
    if not isinstance(portrait, str) or not 0 < len(portrait) <= 64:
        raise ProtocolError("bad_message", "portrait must be 'bundled' or an uploaded id")
    start.portrait = portrait
    rate = msg.get("sample_rate", SAMPLE_RATE)
    if rate != SAMPLE_RATE:
        raise ProtocolError("bad_sample_rate", f"audio must be {SAMPLE_RATE} Hz mono int16, "
                            f"got sample_rate {rate!r}: resample before sending")
    seed = msg.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise ProtocolError("bad_message", f"seed must be an integer in 0..2^31-1, got {seed!r}")
    start.seed = seed
    controls = msg.get("controls")
    if controls is not None:
        if not isinstance(controls, dict):
            raise ProtocolError("bad_controls", "controls must be an object")
        start.controls = parse_controls(controls)
    return start


def parse_audio(data: bytes) -> np.ndarray:
    """int16 LE mono PCM bytes -> float32 (N,) in [-1, 1)."""
    if len(data) > MAX_AUDIO_BYTES:
        raise ProtocolError("bad_audio", f"audio message of {len(data)} bytes: at most "
                            f"{MAX_AUDIO_BYTES} (1 s) per message")
    if len(data) % 2:
        raise ProtocolError("bad_audio", "audio must be int16 PCM: an even number of bytes")
    return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0


def audio_bytes(audio: np.ndarray) -> bytes:
    """float32 [-1, 1] -> int16 LE PCM bytes (what the client sends and receives)."""
    return (np.clip(audio, -1.0, 32767 / 32768) * 32768).astype("<i2").tobytes()


@dataclass
class FrameMessage:
    """A frame as it travels: server times are seconds since the session started."""

    index: int
    time: float
    arrival: float  # when the audio holding the frame's first sample arrived; -1: idle silence
    sent: float  # when the server handed the frame to the transport
    audio: bytes  # int16 LE PCM, 640 samples
    jpeg: bytes


def pack_frame(index: int, time: float, arrival: float, sent: float, audio: bytes,
               jpeg: bytes) -> bytes:
    return b"".join([FRAME_HEADER.pack(FRAME_MAGIC, index, time, arrival, sent,
                                       len(audio) // 2, len(jpeg)), audio, jpeg])


def unpack_frame(data: bytes) -> FrameMessage:
    magic, index, time, arrival, sent, n_audio, n_jpeg = FRAME_HEADER.unpack_from(data)
    if magic != FRAME_MAGIC:
        raise ValueError(f"not a frame message (magic {magic!r})")
    a = FRAME_HEADER.size
    b = a + 2 * n_audio
    if len(data) != b + n_jpeg:
        raise ValueError("truncated frame message")
    return FrameMessage(index, time, arrival, sent, data[a:b], data[b:])
