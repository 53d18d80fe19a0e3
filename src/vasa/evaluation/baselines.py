"""The two reference baselines of the evaluation, rendered through the project's renderer.

static:        the portrait held still for the length of the audio (audio muxed). Any method
               must beat it on every motion metric; its Delta P is the tracker's noise floor.
energy_mouth:  only the jaw moves: the lip gap follows the smoothed loudness of the audio, along
               the PCA direction that opens the lips; head, eyes and gaze stay still. A method
               whose lips only track loudness scores like this on lip sync.

Both are driven by motion latents and go through `vasa.render.Renderer`, so they share the
generated videos' crop, resolution and rendering artefacts: the comparison isolates motion.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vasa.audio import SAMPLE_RATE, get_extractor, num_frames
from vasa.audio.prosody import PROSODY_FIELDS
from vasa.latent.basis import FaceBasis, default_basis
from vasa.latent.motion import MotionLatents
from vasa.portrait import Portrait, make_portrait, read_image
from vasa.timebase import MOTION_FPS

BASELINES = ("static", "energy_mouth")
LIP_UPPER, LIP_LOWER = 13, 14  # inner-lip midpoints (MediaPipe face mesh)
# Lip gap (inner lips, inter-ocular distances) of the energy baseline: GAP_CLOSED when silent,
# + GAP_RANGE at full loudness. The shared real clips span 0.01-0.16 (5th-95th percentile).
GAP_CLOSED = 0.01
GAP_RANGE = 0.12
ENERGY_RANGE = 1.5  # log10 RMS: full loudness = the clip's 95th percentile, silence 30 dB below
SMOOTH_FRAMES = 3  # moving average of the loudness (120 ms): syllable rate, no frame flicker
_LOG_ENERGY = PROSODY_FIELDS.index("log_energy")

PortraitSource = str | os.PathLike | np.ndarray | Portrait


def open_direction(basis: FaceBasis) -> np.ndarray:
    """(K,) lip gap change, in inter-ocular distances, per unit of each whitened PCA coefficient:
    how far each component moves landmark 14 (lower inner lip) away from 13 (upper), in y."""
    pts = list(basis.points)
    comp = basis.components.astype(np.float64).reshape(basis.num_pca, -1, 3)  # (K, P, 3)
    return (comp[:, pts.index(LIP_LOWER), 1] - comp[:, pts.index(LIP_UPPER), 1]) * basis.std


def loudness_envelope(log_energy: np.ndarray) -> np.ndarray:
    """(T,) in [0, 1]: log10 RMS per frame mapped linearly (in dB) from ENERGY_RANGE below the
    clip's 95th percentile (0) to it (1), then smoothed over SMOOTH_FRAMES."""
    e = np.asarray(log_energy, np.float64).reshape(-1)
    if len(e) == 0:
        return e
    hi = np.percentile(e, 95)
    env = np.clip((e - (hi - ENERGY_RANGE)) / ENERGY_RANGE, 0.0, 1.0)
    pad = SMOOTH_FRAMES // 2
    padded = np.pad(env, pad, mode="edge")
    return np.convolve(padded, np.ones(SMOOTH_FRAMES) / SMOOTH_FRAMES, mode="valid")


def baseline_motion(kind: str, portrait: Portrait, audio: np.ndarray,
                    basis: FaceBasis | None = None) -> MotionLatents:
    """Motion latents (T = ceil(N / 640) frames at 25 fps) of a baseline for mono 16 kHz audio
    (N,): the portrait's own pose and dynamics, with the lip gap driven by loudness for
    "energy_mouth"."""
    if kind not in BASELINES:
        raise ValueError(f"unknown baseline {kind!r}; choose from {', '.join(BASELINES)}")
    basis = basis or default_basis()
    t = num_frames(len(audio))
    if t == 0:
        raise ValueError("baseline: the audio is empty")
    pose = np.repeat(portrait.pose[None], t, 0)  # (T, 6)
    dyn = np.repeat(portrait.dynamics[None].astype(np.float64), t, 0)  # (T, D)
    if kind == "energy_mouth":
        d = open_direction(basis)  # (K,)
        gap0 = float(portrait.canonical[LIP_LOWER, 1] - portrait.canonical[LIP_UPPER, 1])
        env = loudness_envelope(get_extractor("prosody")(audio)[:, _LOG_ENERGY])[:t]  # (T,)
        target = GAP_CLOSED + GAP_RANGE * env  # (T,) lip gap wanted
        # Smallest coefficient change giving the gap change: along d, (target - gap0) / |d|^2.
        dyn[:, basis.layout.pca] += np.outer((target - gap0) / (d @ d), d)
    return MotionLatents(pose, dyn)


def portrait_from(source: PortraitSource, basis: FaceBasis | None = None, size: int = 512
                  ) -> Portrait:
    """A Portrait from a Portrait, an RGB frame, an image file or a video (its first frame)."""
    basis = basis or default_basis()
    if isinstance(source, Portrait):
        return source
    if isinstance(source, np.ndarray):
        return make_portrait(source, "frame", size, basis=basis)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{path}: portrait not found")
    if path.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}:
        return make_portrait(read_image(path), str(path), size, basis=basis)
    from vasa.io import read_frames

    first = next(read_frames(path), None)
    if first is None:
        raise ValueError(f"{path}: no frames to take the portrait from")
    return make_portrait(first, str(path), size, basis=basis)


def render_baseline(kind: str, portrait: PortraitSource, audio_path: str | os.PathLike,
                    out_path: str | os.PathLike, seconds: float | None = None, size: int = 512,
                    basis: FaceBasis | None = None) -> Path:
    """Render baseline `kind` ("static" or "energy_mouth") for the audio of `audio_path` (its
    first `seconds` when given) into an mp4 at 25 fps with the audio muxed; written atomically.

    portrait: a Portrait, an RGB frame (H, W, 3), an image file, or a video whose first frame is
    used (as for self-reenactment). Returns `out_path`.
    """
    from vasa.io import VideoWriter, load_audio
    from vasa.render import Renderer

    basis = basis or default_basis()
    audio = load_audio(audio_path, SAMPLE_RATE)
    if seconds is not None:
        audio = audio[: round(seconds * SAMPLE_RATE)]
    p = portrait_from(portrait, basis, size)
    motion = baseline_motion(kind, p, audio, basis)
    renderer = Renderer(p, basis)
    out_path = Path(out_path)
    with VideoWriter(out_path, MOTION_FPS, audio, SAMPLE_RATE) as writer:
        if kind == "static":
            frame = renderer.render(motion.pose[0], motion.dynamics[0])  # identical every frame
            for _ in range(len(motion)):
                writer.write(frame)
        else:
            for frame in renderer.render_sequence(motion):
                writer.write(frame)
    return out_path
