"""Contact sheets of audio-driven generation (issue #4 evidence; VASA-1 Fig. 2 and 3).

One 10 s stretch of held-out speech drives:
  portraits.png  a colour photo, a black-and-white photo and a painting (seed 0)
  seeds.png      the colour photo with three seeds
  gaze.png       gaze forward / left / right / up / down (steered, with the portrait's response)
  emotion.png    neutral and every emotion (learned directions, intensity 1)
  blinks.png     the eyes, zoomed, through the first two blinks
and a 2-minute run (long.png: frames of the first and the last 10 s, long_traces.png: head pose,
lip opening and eye openness over the 2 minutes with window boundaries) checks drift and seams.
Every row is labelled; columns are evenly spaced times. Frames are rendered from the engine's
latents directly (no video encoding).

    python scripts/generation_sheets.py [--model M] [--out-dir /tmp/vasa_gen_sheets]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from vasa.audio import get_extractor
from vasa.data.emotion import EMOTIONS
from vasa.evaluation.syncnet import lip_opening
from vasa.io import atomic_output, load_audio
from vasa.latent.basis import default_basis
from vasa.motion.checkpoint import DEFAULT_MODEL, load_model
from vasa.motion.controls import Controls, parse_emotion, parse_gaze
from vasa.motion.engine import MotionEngine
from vasa.pipelines.calibrate import gaze_response
from vasa.portrait import load_portrait
from vasa.render import Renderer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PORTRAITS = {
    "colour photo": "portraits/V-Express__test_samples__short_case__tys__ref.jpg",
    "b/w photo": "portraits/MakeItTalk__examples__audrey.jpg",
    "painting": "portraits/LivePortrait__assets__examples__source__s3.jpg",
}
# Held-out speakers (is_validation): the speech of the sheets and of the 2-minute run.
SPEECH = ["clips/EDTalk__test_data__uncrop_Obama.mp4",
          "clips/Talking-Face_PC-AVS__misc__Audio_Source__00015.mp4",
          "clips/SadTalker__test__examples__source_image__RD_Radio2_000.mp4",
          "clips/Talking-Face_PC-AVS__misc__Pose_Source__00473.mp4",
          "clips/Wav2Lip__checkpoints__test.mov"]


SEAM_FADE: int | None = None  # --seam-fade (None: the engine's default)


def motion(model, portrait, audio: np.ndarray, controls: Controls, gaze_response=None):
    engine = MotionEngine(model, get_extractor(), portrait.pose,
                          portrait.talking_rest(default_basis()), controls,
                          seam_fade=SEAM_FADE, gaze_response=gaze_response)
    return engine.push(audio) + engine.flush()


def seam_ratio(signal: np.ndarray, window: int) -> float:
    """Mean |frame-to-frame change| across window boundaries over the mean elsewhere
    (1: the joins are invisible in this signal)."""
    step = np.abs(np.diff(signal, axis=0)).reshape(len(signal) - 1, -1).mean(1)
    at = np.zeros(len(step), bool)
    at[window - 1::window] = True  # step i is frame i -> i+1
    return float(step[at].mean() / step[~at].mean())


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                cv2.LINE_AA)
    return out


def row(renderer: Renderer, frames, idx, name: str) -> np.ndarray:
    tiles = [renderer.render(frames[i].pose, frames[i].dynamics) for i in idx]
    tiles = [label(t, f"{name}  t={frames[i].time:.1f}s" if k == 0 else f"t={frames[i].time:.1f}s")
             for k, (t, i) in enumerate(zip(tiles, idx))]
    return np.concatenate(tiles, 1)


def save(path: Path, img: np.ndarray) -> None:
    with atomic_output(path) as tmp:
        cv2.imwrite(os.fspath(tmp), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    print(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(DEFAULT_MODEL), help="motion model file")
    ap.add_argument("--out-dir", type=Path, default=Path("/tmp/vasa_gen_sheets"))
    ap.add_argument("--columns", type=int, default=8, help="frames per row (8)")
    ap.add_argument("--size", type=int, default=224, help="frame side in the sheets (224)")
    ap.add_argument("--long-seconds", type=float, default=120.0, help="long run length (120)")
    ap.add_argument("--seam-fade", type=int, default=None, help="engine seam fade (default)")
    args = ap.parse_args()
    global SEAM_FADE
    SEAM_FADE = args.seam_fade
    torch.set_num_threads(1)
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    basis = default_basis()
    model = load_model(args.model, get_extractor().spec.id, basis.version)
    speech = load_audio(DATA / SPEECH[0])[: 10 * 16000]
    portraits = {k: load_portrait(DATA / v, args.size, basis=basis) for k, v in PORTRAITS.items()}
    renderers = {k: Renderer(p, basis) for k, p in portraits.items()}
    photo = "colour photo"
    n = -(-len(speech) // 640)
    idx = np.linspace(5, n - 1, args.columns).astype(int)

    rows = [row(renderers[k], motion(model, p, speech, Controls()), idx, k)
            for k, p in portraits.items()]
    save(out / "portraits.png", np.concatenate(rows, 0))

    rows = [row(renderers[photo], motion(model, portraits[photo], speech, Controls(seed=s)),
                idx, f"seed {s}") for s in (0, 1, 2)]
    save(out / "seeds.png", np.concatenate(rows, 0))

    response = gaze_response(portraits[photo], renderers[photo], basis)
    rows = [row(renderers[photo], motion(model, portraits[photo], speech,
                                         Controls(gaze=parse_gaze(g)), response), idx,
                f"gaze {g}") for g in ("forward", "left", "right", "up", "down")]
    save(out / "gaze.png", np.concatenate(rows, 0))

    rows = [row(renderers[photo], motion(model, portraits[photo], speech,
                                         Controls(emotion=parse_emotion(e))), idx, e)
            for e in ("neutral", *EMOTIONS)]
    save(out / "emotion.png", np.concatenate(rows, 0))

    # Blinks: the eyes, zoomed, on the frames around the first two generated blinks.
    frames = motion(model, portraits[photo], speech, Controls())
    eyes = np.array([f.dynamics[basis.layout.eyes].mean() for f in frames])
    shut = [i for i in range(1, len(eyes) - 1) if eyes[i] < 0.3 * np.median(eyes)
            and eyes[i] <= eyes[i - 1] and eyes[i] <= eyes[i + 1]][:2]
    lm = portraits[photo].landmarks
    c, w = lm[[33, 263], :2].mean(0).astype(int), int(np.ptp(lm[[33, 263], 0]) * 0.9)
    strips = []
    for i in shut:
        tiles = [renderers[photo].render(frames[k].pose, frames[k].dynamics)
                 for k in range(max(i - 4, 0), min(i + 4, len(frames)))]
        tiles = [cv2.resize(t[max(c[1] - w // 3, 0):c[1] + w // 3, max(c[0] - w, 0):c[0] + w],
                            (2 * args.size, 2 * args.size // 3)) for t in tiles]
        strips.append(label(np.concatenate(tiles, 1), f"blink at {frames[i].time:.2f}s, "
                                                      "40 ms a tile"))
    if strips:
        save(out / "blinks.png", np.concatenate(strips, 0))

    # The 2-minute run: held-out speech of several speakers, end to end.
    parts, total = [], int(args.long_seconds * 16000)
    while sum(map(len, parts)) < total:
        parts += [load_audio(DATA / s) for s in SPEECH]
    long_audio = np.concatenate(parts)[:total]
    frames = motion(model, portraits[photo], long_audio, Controls())
    m = len(frames)
    first = np.linspace(5, 250, args.columns).astype(int)
    last = np.linspace(m - 250, m - 1, args.columns).astype(int)
    save(out / "long.png", np.concatenate([row(renderers[photo], frames, first, "first 10 s"),
                                           row(renderers[photo], frames, last, "last 10 s")], 0))
    pose = np.degrees(np.stack([f.pose[:3] for f in frames]))
    dyn = np.stack([f.dynamics for f in frames])
    t = np.arange(m) / 25.0
    w = model.net.cfg.window
    print(f"long run, {m} frames: seam ratio head {seam_ratio(pose, w):.2f}, "
          f"lips {seam_ratio(lip_opening(dyn, basis), w):.2f} (1 = seamless); "
          f"head speed first/last 10 s {np.abs(np.diff(pose[:250], axis=0)).mean():.3f}/"
          f"{np.abs(np.diff(pose[-250:], axis=0)).mean():.3f} deg/frame")
    fig, ax = plt.subplots(3, 1, figsize=(14, 7), sharex=True)
    for k, name in enumerate(("pitch", "yaw", "roll")):
        ax[0].plot(t, pose[:, k], lw=0.7, label=name)
    ax[0].set_ylabel("head (deg)")
    ax[0].legend(loc="upper right")
    ax[1].plot(t, lip_opening(dyn, basis), lw=0.7)
    ax[1].set_ylabel("lip opening (IOD)")
    ax[2].plot(t, dyn[:, basis.num_pca], lw=0.7, label="left")
    ax[2].plot(t, dyn[:, basis.num_pca + 1], lw=0.7, label="right")
    ax[2].set_ylabel("eye openness")
    ax[2].set_xlabel("seconds (grey: window boundaries, every 2 s)")
    for a in ax:
        for b in np.arange(0, t[-1], model.net.cfg.window / 25.0):
            a.axvline(b, color="0.85", lw=0.5, zorder=0)
    fig.tight_layout()
    with atomic_output(out / "long_traces.png") as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    print(out / "long_traces.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
