"""`vasa generate`: portrait + speech -> talking-face video (VASA-1 section 3).

Encode the portrait once; stream the audio through the motion engine in chunks (the same
engine a real-time server uses); render and encode each frame as soon as its window is ready.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vasa.audio import get_extractor
from vasa.data.emotion import EMOTIONS
from vasa.io import VideoWriter, load_audio
from vasa.latent.basis import default_basis
from vasa.motion.checkpoint import DEFAULT_MODEL, load_model
from vasa.motion.engine import FPS, Controls, MotionEngine
from vasa.portrait import load_portrait
from vasa.render import RenderConfig, Renderer

SAMPLE_RATE = 16000
CHUNK_S = 1.0  # audio pushed to the engine per step: bounded memory for long inputs
GAZE_NAMES = {"forward": None, "left": (-0.26, 0.0), "right": (0.26, 0.0), "up": (0.0, -0.2),
              "down": (0.0, 0.2)}  # offsets from forward, radians; theta > 0 = image right
EMOTION_LEVEL = 0.4  # a named emotion: this coefficient, the others zero


@dataclass
class GenerateConfig:
    """size: output side; model: motion model file; controls: sampling and conditions."""

    size: int = 512
    model: str = str(DEFAULT_MODEL)
    gaze: str | None = None  # parsed by parse_gaze once the model's forward gaze is known
    crf: int = 18
    face_index: int | None = None
    controls: Controls = field(default_factory=Controls)
    render: RenderConfig = field(default_factory=RenderConfig)


@dataclass
class GenerateResult:
    frames: int
    seconds: dict[str, float]


def parse_gaze(text: str | None, forward: tuple[float, float]) -> tuple[float, float] | None:
    """'forward', 'left', 'right', 'up', 'down' or 'THETA,PHI' in degrees (within +-40)."""
    if text is None:
        return None
    if text in GAZE_NAMES:
        off = GAZE_NAMES[text]
        return None if off is None else (forward[0] + off[0], forward[1] + off[1])
    try:
        theta, phi = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--gaze must be one of {', '.join(GAZE_NAMES)} or THETA,PHI in "
                         f"degrees, got {text!r}") from None
    if abs(theta) > 40 or abs(phi) > 40:
        raise ValueError(f"--gaze angles must be within -40..40 degrees, got {text}")
    return float(np.radians(theta)), float(np.radians(phi))


def parse_emotion(text: str | None) -> np.ndarray | None:
    """A named emotion (happiness, sadness, ...; 'neutral' for none) or 7 values in 0..1."""
    if text is None or text == "neutral":
        return None
    names = {e: i for i, e in enumerate(EMOTIONS)}
    names.update({"happy": 0, "sad": 1, "surprised": 2, "angry": 3, "disgusted": 4,
                  "afraid": 5})
    if text in names:
        v = np.zeros(len(EMOTIONS), np.float32)
        v[names[text]] = EMOTION_LEVEL
        return v
    try:
        v = np.array([float(x) for x in text.split(",")], np.float32)
    except ValueError:
        v = np.zeros(0)
    if v.shape != (len(EMOTIONS),) or v.min() < 0 or v.max() > 1:
        raise ValueError(f"--emotion must be one of neutral, {', '.join(EMOTIONS)} or "
                         f"{len(EMOTIONS)} comma-separated values in 0..1, got {text!r}")
    return v


def check_controls(c: Controls) -> None:
    """Clear errors for values outside what the model was trained on."""
    checks = [("--cfg-audio", c.cfg_audio, 0, 10), ("--cfg-gaze", c.cfg_gaze, 0, 10),
              ("--cfg-emotion", c.cfg_emotion, 0, 10), ("--steps", c.steps, 1, 200),
              ("--motion-scale", c.motion_scale, 0, 3)]
    if c.distance is not None:
        checks.append(("--distance", c.distance, 0.5, 3.0))
    for name, value, lo, hi in checks:
        if not lo <= value <= hi:
            raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")


def generate(portrait_path: str | Path, audio_path: str | Path, out_path: str | Path,
             cfg: GenerateConfig | None = None, progress: bool = True) -> GenerateResult:
    """Write a talking-face mp4 of the portrait speaking the audio (audio muxed in sync)."""
    cfg = cfg or GenerateConfig()
    check_controls(cfg.controls)
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise FileNotFoundError(f"{out_path.parent}: output directory does not exist")
    t0 = time.perf_counter()
    basis = default_basis()
    extractor = get_extractor()
    model = load_model(cfg.model, extractor.spec.id, basis.version)
    if cfg.gaze is not None:
        cfg.controls.gaze = parse_gaze(cfg.gaze, tuple(model.info.get("gaze_forward", (0, 0))))
    portrait = load_portrait(portrait_path, cfg.size, cfg.face_index, basis)
    renderer = Renderer(portrait, basis, cfg.render)
    audio = load_audio(audio_path, SAMPLE_RATE)
    engine = MotionEngine(model, extractor, portrait.pose, portrait.dynamics, cfg.controls)
    secs = {"setup": time.perf_counter() - t0, "motion": 0.0, "render": 0.0, "encode": 0.0}
    total = -(-len(audio) // 640)
    chunk = int(CHUNK_S * SAMPLE_RATE)
    with VideoWriter(out_path, FPS, audio, SAMPLE_RATE, cfg.crf) as writer, \
            tqdm(total=total, desc="generating", unit="frame", disable=not progress) as bar:
        for start in range(0, len(audio) + chunk, chunk):
            t1 = time.perf_counter()
            frames = (engine.push(audio[start:start + chunk]) if start < len(audio)
                      else engine.flush())
            secs["motion"] += time.perf_counter() - t1
            for f in frames:
                t2 = time.perf_counter()
                img = renderer.render(f.pose, f.dynamics)
                t3 = time.perf_counter()
                writer.write(img)
                secs["render"] += t3 - t2
                secs["encode"] += time.perf_counter() - t3
            bar.update(len(frames))
    return GenerateResult(total, secs)
