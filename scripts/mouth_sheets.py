"""Contact sheets of the mouth on unseen faces: painted interior against the learned refiner.

Held-out speech (a speaker no model saw) drives each portrait through the motion engine; the
same motion is rendered with the painted mouth (`--no-refiner`) and with the refiner. The first
block is the real speaker at the same times (frame, mouth, eyes). Per portrait: whole frames
(refiner), the mouth zoomed painted then refined (the refiner's crop geometry, 128 px shown at
1.75x), and the eyes zoomed.

    python scripts/mouth_sheets.py [--out out/mouth_sheets.png] [--portraits N]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generation_sheets import DATA, SPEECH, label, motion

from vasa.files import atomic_output
from vasa.io import load_audio
from vasa.latent.basis import default_basis
from vasa.latent.face_model import decode_canonical, placer
from vasa.motion.checkpoint import load_model
from vasa.motion.config import DEFAULT_MODEL
from vasa.motion.controls import Controls
from vasa.portrait import load_portrait
from vasa.render import RenderConfig, Renderer
from vasa.render import mouth_crop as mc

PORTRAITS = [  # closed and open mouths, B/W, a painting, three-quarter views, small crops
    "AniTalker__test_demos__portraits__Einstein.png",
    "MakeItTalk__examples__audrey.jpg",
    "LivePortrait__assets__examples__source__s3.jpg",
    "V-Express__test_samples__short_case__AOC__ref.jpg",
    "LivePortrait__assets__examples__source__s4.jpg",
    "Audio2Head__demo__img__baiden.jpg",
    "face_recognition__examples__alex-lacamoire.png",
    "dreamtalk__data__src_img__cropped__menglu2.png",
]
TILE = 224
COLUMNS = 5


def zoom(img: np.ndarray, affine: np.ndarray) -> np.ndarray:
    return cv2.resize(mc.crop(img, affine), (TILE, TILE), interpolation=cv2.INTER_CUBIC)


def eye_affine(lm: np.ndarray) -> np.ndarray:
    """The mouth crop's geometry moved up onto the eyes: both eyes, upright, same scale."""
    a = mc.mouth_affine(lm)
    eyes = lm[list(mc.EYE_CORNERS), :2].mean(0)
    a[:, 2] += mc.CROP / 2 - (a[:, :2] @ eyes + a[:, 2])
    return a


def real_block(video: Path, idx: list[int]) -> np.ndarray:
    """The real speaker at the same times: whole frame, mouth and eyes (tracked)."""
    from vasa.io import read_frames
    from vasa.tracking import FaceLandmarker

    frames = [f for i, f in enumerate(read_frames(video, fps=25)) if i in set(idx)]
    whole, mouth, eyes = [], [], []
    with FaceLandmarker() as tracker:
        for j, f in enumerate(frames):
            lm = tracker.detect(f)[0].landmarks
            whole.append(label(cv2.resize(f, (TILE, TILE), interpolation=cv2.INTER_AREA),
                               f"real speaker {video.stem[-16:]}" if j == 0 else
                               f"t={idx[j] / 25:.1f}s"))
            mouth.append(zoom(f, mc.mouth_affine(lm)))
            eyes.append(zoom(f, eye_affine(lm)))
    return np.concatenate([np.concatenate(x, 1) for x in (whole, mouth, eyes)], 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="out/mouth_sheets.png")
    ap.add_argument("--portraits", type=int, default=len(PORTRAITS))
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    basis = default_basis()
    model = load_model(DEFAULT_MODEL)
    speech = load_audio(DATA / SPEECH[0])[: round(args.seconds * 16000)]
    n = -(-len(speech) // 640)
    idx = [int(i) for i in np.linspace(12, n - 1, COLUMNS)]  # the same times in every block
    blocks = [real_block(DATA / SPEECH[0], idx)]
    for name in PORTRAITS[:args.portraits]:
        p = load_portrait(DATA / "portraits" / name, 512, basis=basis)
        frames = motion(model, p, speech, Controls())
        rows = {}
        for kind, cfg in (("painted", RenderConfig(refiner=False)), ("refiner", RenderConfig())):
            r = Renderer(p, basis, cfg)
            whole, mouth, eyes = [], [], []
            for j, i in enumerate(idx):
                f = frames[i]
                img = r.render(f.pose, f.dynamics)
                lm = placer(f.pose, p.size)(decode_canonical(p.canonical, p.dynamics,
                                                             f.dynamics, basis))
                text = f"{kind} {Path(name).stem[-18:]}" if j == 0 else f"t={f.time:.1f}s"
                whole.append(label(cv2.resize(img, (TILE, TILE), interpolation=cv2.INTER_AREA),
                                   text))
                mouth.append(zoom(img, mc.mouth_affine(lm)))
                eyes.append(zoom(img, eye_affine(lm)))
            rows[kind] = [np.concatenate(x, 1) for x in (whole, mouth, eyes)]
        blocks.append(np.concatenate([rows["refiner"][0], rows["painted"][1],
                                      rows["refiner"][1], rows["refiner"][2]], 0))
        print(name, flush=True)
    img = np.concatenate(blocks, 0)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as tmp:
        cv2.imwrite(os.fspath(tmp), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
