"""`vasa generate`: portrait + speech -> talking-face video (VASA-1 section 3).

Encode the portrait once; stream the audio through the motion engine in chunks (the same
engine a real-time server uses); render and encode each frame as soon as its window is ready.
The audio is decoded chunk by chunk as well and muxed as it goes, so memory does not grow with
the input's length (an hour of speech is fine).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vasa.audio import get_extractor
from vasa.audio.features import SAMPLES_PER_FRAME
from vasa.data.emotion import EMOTIONS
from vasa.io import VideoWriter, audio_duration, iter_audio
from vasa.latent.basis import default_basis
from vasa.motion.checkpoint import DEFAULT_MODEL, load_model
from vasa.motion.engine import FPS, Controls, MotionEngine
from vasa.portrait import load_portrait
from vasa.render import RenderConfig, Renderer

SAMPLE_RATE = 16000
CHUNK_S = 1.0  # audio decoded and pushed to the engine per step: bounded memory
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
    hop: int | None = None  # engine windows start every `hop` frames (None: the window, W)
    lookahead: int | None = None  # audio frames each window sees past its emitted ones
    render: RenderConfig = field(default_factory=RenderConfig)


@dataclass
class GenerateResult:
    """frames written; seconds per stage: setup, audio (decoding), motion, render, encode."""

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
    """Write a talking-face mp4 of the portrait speaking the audio (audio muxed in sync).

    The audio is streamed: decoded in CHUNK_S chunks, each pushed to the motion engine and
    queued for muxing, so memory is bounded whatever the input's length. Unreadable or empty
    audio raises MediaError naming the file before any output is created.
    """
    cfg = cfg or GenerateConfig()
    check_controls(cfg.controls)
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise FileNotFoundError(f"{out_path.parent}: output directory does not exist")
    t0 = time.perf_counter()
    with contextlib.closing(iter_audio(audio_path, SAMPLE_RATE, CHUNK_S)) as chunks:
        # The first chunk now: a missing, empty or undecodable file fails before any work.
        first = next(chunks)
        t_audio = time.perf_counter() - t0
        basis = default_basis()
        extractor = get_extractor()
        model = load_model(cfg.model, extractor.spec.id, basis.version)
        if cfg.gaze is not None:
            cfg.controls.gaze = parse_gaze(cfg.gaze,
                                           tuple(model.info.get("gaze_forward", (0, 0))))
        portrait = load_portrait(portrait_path, cfg.size, cfg.face_index, basis)
        renderer = Renderer(portrait, basis, cfg.render)
        engine = MotionEngine(model, extractor, portrait.pose, portrait.dynamics, cfg.controls,
                              hop=cfg.hop, lookahead=cfg.lookahead)
        duration = audio_duration(audio_path)  # from the header; None if it does not say
        total = (-(-round(duration * SAMPLE_RATE) // SAMPLES_PER_FRAME)
                 if duration else None)
        secs = {"setup": time.perf_counter() - t0 - t_audio, "audio": t_audio, "motion": 0.0,
                "render": 0.0, "encode": 0.0}
        with VideoWriter(out_path, FPS, sample_rate=SAMPLE_RATE, crf=cfg.crf,
                         audio_channels=1) as writer, \
                tqdm(total=total, desc="generating", unit="frame", disable=not progress) as bar:

            def emit(frames: list) -> None:
                for f in frames:
                    t2 = time.perf_counter()
                    img = renderer.render(f.pose, f.dynamics)
                    t3 = time.perf_counter()
                    writer.write(img)
                    secs["render"] += t3 - t2
                    secs["encode"] += time.perf_counter() - t3
                bar.update(len(frames))

            chunk = first
            while chunk is not None:
                t1 = time.perf_counter()
                writer.write_audio(chunk)  # queued; muxed as the frames it plays with arrive
                t2 = time.perf_counter()
                frames = engine.push(chunk)
                secs["encode"] += t2 - t1
                secs["motion"] += time.perf_counter() - t2
                emit(frames)
                t1 = time.perf_counter()
                chunk = next(chunks, None)
                secs["audio"] += time.perf_counter() - t1
            t1 = time.perf_counter()
            frames = engine.flush()
            secs["motion"] += time.perf_counter() - t1
            emit(frames)
            if bar.total != bar.n:  # the header's duration was approximate or missing
                bar.total = bar.n
                bar.refresh()
            written = writer.num_frames
    return GenerateResult(written, secs)
