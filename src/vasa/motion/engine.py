"""The streaming motion engine: audio chunks in, timed motion latents out (VASA-1 section 3).

A state machine over windows of W frames. Window j (frames jW .. jW+W-1) is generated as soon as
its audio and one more frame of look-ahead have arrived: the look-ahead makes each window's
features exactly those of the whole clip, so chunked and offline runs give the same frames.
Each window is conditioned on the last K frames of motion and audio of the one before
(X_pre, A_pre); its noise comes from a generator seeded by (seed, j), not by call order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vasa.audio.features import SAMPLES_PER_FRAME, AudioFeatureExtractor
from vasa.motion.checkpoint import MotionModel
from vasa.motion.diffusion import sample_ddim
from vasa.motion.dit import Conditions
from vasa.motion.features import to_latents
from vasa.motion.guidance import guided_denoiser

FPS = 25.0


@dataclass
class Controls:
    """gaze: (theta, phi) radians or None (the model's forward gaze); distance: head distance
    (1 = the training set's typical) or None; emotion: (7,) offset or None (empty, as the
    paper's default); cfg_*: guidance scales (eq. 2); steps: sampler steps; motion_scale:
    head-motion intensity; still_head: keep the portrait's pose; seed: noise seed."""

    gaze: tuple[float, float] | None = None
    distance: float | None = None
    emotion: np.ndarray | None = None
    cfg_audio: float = 0.5
    cfg_gaze: float = 1.0
    cfg_emotion: float = 0.0
    steps: int = 10
    motion_scale: float = 1.0
    still_head: bool = False
    seed: int = 0


@dataclass
class TimedFrame:
    """One frame of motion for the portrait: index, time in seconds, pose (6,), dynamics (28,)."""

    index: int
    time: float
    pose: np.ndarray
    dynamics: np.ndarray


class MotionEngine:
    """push(audio 16 kHz float32 chunk) -> frames ready so far; flush() -> the rest."""

    def __init__(self, model: MotionModel, extractor: AudioFeatureExtractor, pose: np.ndarray,
                 dynamics: np.ndarray, controls: Controls | None = None) -> None:
        if extractor.spec.id != model.extractor:
            raise ValueError(f"model trained with audio features {model.extractor}, "
                             f"engine given {extractor.spec.id}")
        self.model, self.extractor = model, extractor
        self.pose, self.dynamics = np.asarray(pose), np.asarray(dynamics)
        self.controls = controls or Controls()
        self.reset()

    def reset(self) -> None:
        self._audio = np.zeros(0, np.float32)
        self._window = 0  # next window to generate
        self._prev: tuple[np.ndarray, np.ndarray] | None = None  # normalised (motion, audio)

    @property
    def _w(self) -> int:
        return self.model.net.cfg.window

    def push(self, chunk: np.ndarray) -> list[TimedFrame]:
        chunk = np.asarray(chunk, np.float32).reshape(-1)
        self._audio = np.concatenate([self._audio, chunk])
        out: list[TimedFrame] = []
        per_window = self._w * SAMPLES_PER_FRAME
        while len(self._audio) >= (self._window + 1) * per_window + SAMPLES_PER_FRAME:
            out += self._generate(self._window, final=False)
            self._window += 1
        return out

    def flush(self) -> list[TimedFrame]:
        """Generate what remains of the audio (the last window may be partial)."""
        total = -(-len(self._audio) // SAMPLES_PER_FRAME)  # frames = ceil(samples / 640)
        out: list[TimedFrame] = []
        while self._window * self._w < total:
            out += self._generate(self._window, final=True)[: total - self._window * self._w]
            self._window += 1
        self._audio = self._audio[:0]
        return out

    def _features(self, j: int) -> tuple[np.ndarray, int]:
        """Audio features (W, A) of window j and how many of its frames have audio."""
        w, spf = self._w, SAMPLES_PER_FRAME
        start = max(j * w - 1, 0) * spf  # one frame of context before, one after
        seg = self._audio[start:(j * w + w + 1) * spf]
        feats = self.extractor(seg)[1 if j > 0 else 0:]
        have = min(w, max(0, -(-(len(self._audio) - j * w * spf) // spf)))
        out = np.zeros((w, feats.shape[1]), np.float32)
        out[:have] = feats[:have]
        return out, have

    def _generate(self, j: int, final: bool) -> list[TimedFrame]:
        m, c = self.model, self.controls
        cfg = m.net.cfg
        feats, have = self._features(j)
        audio = m.norm.audio(feats).astype(np.float32)
        drop_a = np.arange(cfg.window) >= have  # frames past the end of the audio
        info = m.info
        gaze = c.gaze if c.gaze is not None else info.get("gaze_forward", (0.0, 0.0))
        dist = np.log(c.distance) if c.distance is not None else info.get("log_distance", 0.0)
        emo = c.emotion if c.emotion is not None else np.zeros(cfg.emotion_dim)
        if self._prev is None:
            xp = np.zeros((cfg.prev, cfg.motion_dim), np.float32)
            ap = np.zeros((cfg.prev, cfg.audio_dim), np.float32)
        else:
            xp, ap = self._prev
        t = torch.from_numpy
        cond = Conditions(
            t(audio[None]), t(xp[None]), t(ap[None]), torch.tensor([gaze], dtype=torch.float32),
            torch.tensor([[dist]], dtype=torch.float32),
            torch.as_tensor(np.asarray(emo, np.float32)[None]), t(drop_a[None]),
            torch.tensor([self._prev is None]), torch.tensor([False]),
            torch.tensor([c.distance is None and "log_distance" not in info]),
            torch.tensor([c.emotion is None]))
        gen = torch.Generator().manual_seed(c.seed * 1_000_003 + j)
        noise = torch.randn((1, cfg.window, cfg.motion_dim), generator=gen)
        den = guided_denoiser(m.net, cond, c.cfg_audio, c.cfg_gaze,
                              c.cfg_emotion if c.emotion is not None else 0.0)
        x = sample_ddim(den, noise, c.steps)[0].numpy()  # (W, M) normalised
        self._prev = (x[-cfg.prev:], audio[-cfg.prev:])
        lat = to_latents(m.norm.motion_inverse(x), self.pose, self.dynamics, c.motion_scale,
                         c.still_head)
        base = j * cfg.window
        return [TimedFrame(base + i, (base + i) / FPS, lat.pose[i], lat.dynamics[i])
                for i in range(cfg.window)]
