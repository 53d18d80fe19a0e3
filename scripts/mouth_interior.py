"""How bright the inside of an open mouth is, against the lips around it: real speaker vs the
painted mouth vs the learned refiner, on portraits speaking the real speaker's speech.

Median over frames whose inner-lip gap exceeds OPEN (eye distances) of: mean grey inside the
inner-lip contour / mean grey of the lips (outer contour minus inner). Real talking mouths sit
near 1 (bright teeth and a dark cavity together); painted teeth read brighter, a mouth drawn
without teeth darker.

    python scripts/mouth_interior.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generation_sheets import DATA, SPEECH, motion

from vasa.io import load_audio, read_frames
from vasa.latent import topology as topo
from vasa.latent.basis import default_basis
from vasa.latent.face_model import decode_canonical, encode_landmarks, lip_gap, placer
from vasa.motion.checkpoint import load_model
from vasa.motion.config import DEFAULT_MODEL
from vasa.motion.controls import Controls
from vasa.portrait import load_portrait
from vasa.render import RenderConfig, Renderer
from vasa.tracking import FaceLandmarker

OPEN = 0.06
SECONDS = 8
PORTRAITS = ["AniTalker__test_demos__portraits__Einstein.png",
             "LivePortrait__assets__examples__source__s3.jpg",
             "LivePortrait__assets__examples__source__s4.jpg",
             "MakeItTalk__examples__audrey.jpg"]


def interior_ratio(img: np.ndarray, lm: np.ndarray) -> float:
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float64)
    inner, outer = (np.zeros(grey.shape, np.uint8) for _ in range(2))
    cv2.fillPoly(inner, [np.round(lm[topo.LIPS_INNER, :2]).astype(np.int32)], 1)
    cv2.fillPoly(outer, [np.round(lm[topo.LIPS_OUTER, :2]).astype(np.int32)], 1)
    lips = (outer > 0) & (inner == 0)
    return float(grey[inner > 0].mean() / grey[lips].mean()) if inner.sum() > 10 else np.nan


def main() -> int:
    basis, model = default_basis(), load_model(DEFAULT_MODEL)
    video = DATA / SPEECH[0]
    real = []
    with FaceLandmarker(video=True) as tracker:
        for i, f in enumerate(read_frames(video, fps=25)):
            if i >= SECONDS * 25:
                break
            faces = tracker.track(f, i / 25)
            if faces:
                lm = faces[0].landmarks
                if lip_gap(encode_landmarks(lm, basis, max(f.shape[:2]))[2]) > OPEN:
                    real.append(interior_ratio(f, lm))
    print(f"| mouth | inside / lips (median) | open frames |\n|---|---|---|\n"
          f"| real speaker {video.stem} | {np.nanmedian(real):.2f} | {len(real)} |")
    speech = load_audio(video)[: SECONDS * 16000]
    for name in PORTRAITS:
        p = load_portrait(DATA / "portraits" / name, 512, basis=basis)
        frames = motion(model, p, speech, Controls())
        for kind, cfg in (("painted", RenderConfig(refiner=False)), ("refiner", RenderConfig())):
            r, vals = Renderer(p, basis, cfg), []
            for f in frames[::2]:
                canonical = decode_canonical(p.canonical, p.dynamics, f.dynamics, basis)
                if lip_gap(canonical) > OPEN:
                    vals.append(interior_ratio(r.render(f.pose, f.dynamics),
                                               placer(f.pose, p.size)(canonical)))
            print(f"| {Path(name).stem} {kind} | {np.nanmedian(vals):.2f} | {len(vals)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
