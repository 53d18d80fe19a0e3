"""The controls of a generation: VASA-1's optional conditions (gaze, head distance, emotion;
section 2), the sampler's steps and guidance scales (eq. 2), and what we add on top (head-motion
scale, still head, seed).

Owned here, once, for every entry point: the `Controls` dataclass carries each default, its
valid range and its help text; `vasa generate`, the Python API and `vasa serve` all read it, so
the same request gives the same video from each. Parsing and range checks raise `ControlError`,
which names the *field* (`cfg_audio`); the CLI and the wire protocol spell it their own way
(`--cfg-audio`, `cfg_audio`) with `ControlError.named`. Non-finite numbers are refused
everywhere: NaN passes every `lo <= x <= hi` test written as `not (x < lo or x > hi)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from vasa.data.emotion import EMOTIONS

GAZE_LIMIT_DEG = 40.0  # requested angles beyond this are far outside the training data
# Named gaze directions: offsets from the model's forward gaze, radians; theta > 0 = image right.
GAZE_NAMES: dict[str, tuple[float, float]] = {
    "forward": (0.0, 0.0), "left": (-0.26, 0.0), "right": (0.26, 0.0), "up": (0.0, -0.2),
    "down": (0.0, 0.2)}
EMOTION_LEVEL = 0.4  # a named emotion: this coefficient, the others zero
EMOTION_ALIASES = {"happy": "happiness", "sad": "sadness", "surprised": "surprise",
                   "angry": "anger", "disgusted": "disgust", "afraid": "fear"}


class ControlError(ValueError):
    """A control outside what the model accepts. `field` is the Controls field; the message
    names it, and `named(spelling)` gives the same message with another spelling of it."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name} {problem}")
        self.field = field_name
        self.problem = problem

    def named(self, spelling: str) -> str:
        return f"{spelling} {self.problem}"


@dataclass(frozen=True)
class Gaze:
    """A gaze request (VASA-1's main gaze condition g), in radians. relative: an offset from the
    model's forward gaze (the named directions), else an absolute direction (THETA,PHI). The
    engine resolves it against the model it runs, so a request never depends on a model file
    being loaded first and the caller's controls are never rewritten."""

    theta: float
    phi: float
    relative: bool = False

    def resolve(self, forward: tuple[float, float]) -> tuple[float, float]:
        if not self.relative:
            return self.theta, self.phi
        return forward[0] + self.theta, forward[1] + self.phi


def _about(help: str, lo: float | None = None, hi: float | None = None) -> dict:
    """A Controls field's help text and valid range (read by the checks and the CLI)."""
    return {"help": help, "range": None if lo is None else (lo, hi)}


@dataclass
class Controls:
    """What a caller may ask of one generation. Controls may be changed between pushes to the
    streaming engine (live controls): they apply from the next window on."""

    gaze: Gaze | None = field(default=None, metadata=_about(
        "forward (default), left, right, up, down, or THETA,PHI in degrees"))
    distance: float | None = field(default=None, metadata=_about(
        "head distance, 1 = typical: conditions the motion, the face keeps the "
        "portrait's size (0.5..3; default: training mean)", 0.5, 3.0))
    emotion: np.ndarray | None = field(default=None, metadata=_about(
        "neutral (default), happiness, sadness, surprise, anger, disgust, fear, contempt, or 7 "
        "comma-separated values in 0..1"))
    # Table 5 on held-out speakers: 1.0 puts lip sync at the real clips' level, CAPP too.
    cfg_audio: float = field(default=1.0, metadata=_about(
        "audio guidance scale (VASA-1 eq. 2)", 0, 10))
    cfg_gaze: float = field(default=1.0, metadata=_about("gaze guidance scale", 0, 10))
    cfg_emotion: float = field(default=1.0, metadata=_about(
        "emotion guidance scale when an emotion is given", 0, 10))
    emotion_intensity: float = field(default=1.0, metadata=_about(
        "how strongly a requested emotion shows on the face (0 = the learned condition only)",
        0, 3))
    steps: int = field(default=10, metadata=_about(
        "sampling steps (the paper's Table 5 compares 10 with 50)", 1, 200))
    motion_scale: float = field(default=1.0, metadata=_about(
        "head-motion intensity (1 = as generated)", 0, 3))
    # The generator's opening is one speaker's typical (re-tracked on held-out speech it opens
    # 0.7-0.8x as wide as lively speakers at their widest, 1.4x a quiet one): a user who knows
    # the voice sets it.
    mouth_scale: float = field(default=1.0, metadata=_about(
        "lip-motion intensity: how wide the mouth opens, shut lips staying shut "
        "(1 = as generated)", 0, 2))
    still_head: bool = field(default=False, metadata=_about("keep the portrait's head pose"))
    seed: int = field(default=0, metadata=_about("random seed of the motion noise", 0, 2**31 - 1))


def control_help(name: str) -> str:
    """The help text of a Controls field, with its default (for the CLI)."""
    f = next(f for f in fields(Controls) if f.name == name)
    default = f.default
    shown = "" if default is None or isinstance(default, bool) else f" ({default:g})"
    return f.metadata["help"] + shown


def check_controls(c: Controls) -> None:
    """ControlError for values outside what the model was trained on, or not finite."""
    for f in fields(Controls):
        value, bounds = getattr(c, f.name), f.metadata["range"]
        if bounds is None or value is None:
            continue
        lo, hi = bounds
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ControlError(f.name, f"must be a number, got {value!r}")
        if not math.isfinite(value) or not lo <= value <= hi:
            raise ControlError(f.name, f"must be in {lo}..{hi}, got {value}")
    if c.gaze is not None:
        _check_gaze_angles(math.degrees(c.gaze.theta), math.degrees(c.gaze.phi), c.gaze)
    if c.emotion is not None:
        e = np.asarray(c.emotion, np.float64)
        if e.shape != (len(EMOTIONS),) or not np.all(np.isfinite(e)) or e.min() < 0 or e.max() > 1:
            raise ControlError("emotion", f"must be {len(EMOTIONS)} values in 0..1, got "
                               f"{np.asarray(c.emotion).tolist()}")


def _check_gaze_angles(theta: float, phi: float, text: object) -> None:
    if not (math.isfinite(theta) and math.isfinite(phi)):
        raise ControlError("gaze", f"angles must be finite numbers, got {text}")
    if abs(theta) > GAZE_LIMIT_DEG or abs(phi) > GAZE_LIMIT_DEG:
        raise ControlError("gaze", f"angles must be within -{GAZE_LIMIT_DEG:g}.."
                           f"{GAZE_LIMIT_DEG:g} degrees, got {text}")


def parse_gaze(text: str | None) -> Gaze | None:
    """'forward', 'left', 'right', 'up', 'down' (offsets from the model's forward gaze) or
    'THETA,PHI' in degrees (an absolute direction, within +-GAZE_LIMIT_DEG). None: no request
    (the model's own gaze); 'forward' is a request, steered like the others."""
    if text is None:
        return None
    if text in GAZE_NAMES:
        return Gaze(*GAZE_NAMES[text], relative=True)
    try:
        theta, phi = (float(v) for v in text.split(","))
    except ValueError:
        raise ControlError("gaze", f"must be one of {', '.join(GAZE_NAMES)} or THETA,PHI in "
                           f"degrees, got {text!r}") from None
    _check_gaze_angles(theta, phi, text)
    return Gaze(math.radians(theta), math.radians(phi))


def parse_emotion(text: str | None) -> np.ndarray | None:
    """A named emotion (happiness, sadness, ...; 'neutral' for none) or 7 values in 0..1."""
    if text is None or text == "neutral":
        return None
    name = EMOTION_ALIASES.get(text, text)
    if name in EMOTIONS:
        v = np.zeros(len(EMOTIONS), np.float32)
        v[EMOTIONS.index(name)] = EMOTION_LEVEL
        return v
    try:
        v = np.array([float(x) for x in text.split(",")], np.float32)
    except ValueError:
        v = np.zeros(0)
    if (v.shape != (len(EMOTIONS),) or not np.all(np.isfinite(v)) or v.min() < 0
            or v.max() > 1):
        raise ControlError("emotion", f"must be one of neutral, {', '.join(EMOTIONS)} or "
                           f"{len(EMOTIONS)} comma-separated values in 0..1, got {text!r}")
    return v


def streaming_controls() -> Controls:
    """The streaming preset's sampling (`vasa serve`): 5 DDIM steps, half the offline 10, keep
    one window at about 30 ms on one core of this CPU; guidance as offline."""
    return Controls(steps=5)


__all__ = ["EMOTION_LEVEL", "GAZE_LIMIT_DEG", "GAZE_NAMES", "ControlError", "Controls", "Gaze",
           "check_controls", "control_help", "parse_emotion", "parse_gaze", "streaming_controls"]
