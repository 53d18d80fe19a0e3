"""Training windows for the motion generator, from a dataset made by `vasa prepare`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vasa.data.format import Dataset
from vasa.data.offsets import align
from vasa.motion.checkpoint import Normalizer
from vasa.motion.config import MotionConfig
from vasa.motion.dit import Conditions
from vasa.motion.features import to_features

P_DROP = 0.1  # per condition, VASA-1 section 2
P_DROP_PRE = 0.5  # X_pre and A_pre together, so that a first window (no past) works
P_DROP_TAIL = 0.2  # drop the last few audio frames: robust to audio ending inside a window


@dataclass
class Segment:
    """One segment in generator units: motion (T, 34), audio (T, A) or None, conditions."""

    motion: np.ndarray
    audio: np.ndarray | None
    gaze: np.ndarray
    distance: float
    emotion: np.ndarray


def load_segments(ds: Dataset, split: str, min_frames: int,
                  av_offsets: dict[str, int] | None = None) -> list[Segment]:
    """A split's segments of at least min_frames; av_offsets: segment name -> AV offset to undo
    first (the lip-sync metric's out-of-fold offsets, `vasa train sync`): a generator trained on
    clips whose audio runs late learns late lips."""
    out = []
    for rec in ds.split(split):
        m = ds.motion(rec)
        feats = to_features(ds.column(m, "pose"), ds.column(m, "dynamics"))
        audio = ds.audio(rec)
        if audio is not None and (av_offsets or {}).get(rec.name, 0):
            feats, audio = align(feats, np.asarray(audio), av_offsets[rec.name])
        if len(feats) < min_frames:
            continue
        out.append(Segment(feats, None if audio is None else np.asarray(audio, np.float32),
                           np.asarray(rec.gaze, np.float32), float(rec.distance),
                           np.asarray(rec.emotion, np.float32)))
    return out


def condition_defaults(segments: list[Segment]) -> dict:
    """The paper's sampling defaults, from the training set: forward gaze (the median main gaze,
    which for people facing the camera is a few degrees up in our convention) and the mean
    head distance (log)."""
    gaze = np.median(np.stack([s.gaze for s in segments]), 0)
    return {"gaze_forward": [float(v) for v in gaze],
            "log_distance": float(np.mean([np.log(s.distance) for s in segments]))}


def fit_normalizer(segments: list[Segment]) -> Normalizer:
    motion = np.concatenate([s.motion for s in segments])
    audio = np.concatenate([s.audio for s in segments if s.audio is not None])
    return Normalizer(motion.mean(0), motion.std(0) + 1e-3, audio.mean(0), audio.std(0) + 1e-3)


class WindowSampler:
    """Random training windows with the paper's condition dropout."""

    def __init__(self, segments: list[Segment], norm: Normalizer, cfg: MotionConfig,
                 seed: int = 0) -> None:
        if not segments:
            raise ValueError("no segments long enough for one window")
        self.segments, self.norm, self.cfg = segments, norm, cfg
        self.rng = np.random.default_rng(seed)
        lengths = np.array([len(s.motion) for s in segments], np.float64)
        self.p = lengths / lengths.sum()  # windows uniform over frames, not over segments

    def batch(self, size: int, dropout: bool = True) -> tuple[torch.Tensor, Conditions]:
        cfg, rng = self.cfg, self.rng
        w, k, a_dim = cfg.window, cfg.prev, cfg.audio_dim
        x0 = np.zeros((size, w, cfg.motion_dim), np.float32)
        xp = np.zeros((size, k, cfg.motion_dim), np.float32)
        au = np.zeros((size, w, a_dim), np.float32)
        ap = np.zeros((size, k, a_dim), np.float32)
        gaze, dist, emo = (np.zeros((size, 2), np.float32), np.zeros((size, 1), np.float32),
                           np.zeros((size, cfg.emotion_dim), np.float32))
        drop_a = np.zeros((size, w), bool)
        drop_pre, drop_g, drop_d, drop_e = (np.zeros(size, bool) for _ in range(4))
        for b, i in enumerate(rng.choice(len(self.segments), size, p=self.p)):
            seg = self.segments[i]
            s = int(rng.integers(0, len(seg.motion) - w + 1))
            x0[b] = self.norm.motion(seg.motion[s:s + w])
            if s >= k:
                xp[b] = self.norm.motion(seg.motion[s - k:s])
            else:
                drop_pre[b] = True
            if seg.audio is None:
                drop_a[b] = True
            else:
                au[b] = self.norm.audio(seg.audio[s:s + w])
                if s >= k:
                    ap[b] = self.norm.audio(seg.audio[s - k:s])
            gaze[b], dist[b, 0], emo[b] = seg.gaze, np.log(seg.distance), seg.emotion
            if dropout:
                drop_a[b] |= rng.random() < P_DROP
                if rng.random() < P_DROP_TAIL:
                    drop_a[b, w - int(rng.integers(1, w)):] = True
                drop_pre[b] |= rng.random() < P_DROP_PRE
                drop_g[b], drop_d[b], drop_e[b] = rng.random(3) < P_DROP
        t = torch.from_numpy
        cond = Conditions(audio=t(au), x_pre=t(xp), a_pre=t(ap), gaze=t(gaze), distance=t(dist),
                          emotion=t(emo), drop_audio=t(drop_a), drop_pre=t(drop_pre),
                          drop_gaze=t(drop_g), drop_distance=t(drop_d), drop_emotion=t(drop_e))
        return t(x0), cond
