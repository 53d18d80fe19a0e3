"""Requested emotions, re-tracked, under several mouth refiners side by side (seconds).

    python scripts/emotion_refiner_probe.py NAME=ONNX ... [--portrait IMAGE] [--size 256]
        [--out SHEET.png]

The case `tests/test_render.py::test_a_requested_emotion_is_seen_by_the_tracker` pins (Obama's
portrait at its talking rest, each emotion added at the intensity the test asks for: disgust
at 2), rendered with each refiner: per emotion, the rise of its own FACS score
(`vasa.data.emotion`) over the neutral frame's, and a sheet of the mouths (neutral, then each
emotion; a row per refiner). Disgust registers only where the raised upper lip bares teeth:
a refiner that fills that opening with a dark cavity loses it, and this takes seconds, where
the pipeline's ablation takes many minutes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from vasa.data.emotion import EMOTIONS, emotion_coefficients
from vasa.io import atomic_output
from vasa.latent.basis import default_basis
from vasa.latent.expressions import EmotionDirections
from vasa.motion.controls import parse_emotion
from vasa.portrait import load_portrait
from vasa.render import RenderConfig, Renderer
from vasa.render import mouth_crop as mc
from vasa.tracking import FaceLandmarker

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = ROOT.parent / "shared" / "data" / "portraits" / "Audio2Head__demo__img__obama.jpg"
# The intensities the test asks for (on this face disgust registers from 2).
ASKED = (("happiness", 1), ("sadness", 1), ("surprise", 1), ("contempt", 1), ("disgust", 2))
TILE = 192


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", metavar="NAME=ONNX")
    ap.add_argument("--portrait", type=Path, default=PORTRAIT)
    ap.add_argument("--size", type=int, default=256, help="portrait size (the test's: 256)")
    ap.add_argument("--out", type=Path, default=None, help="sheet of the mouths (PNG)")
    args = ap.parse_args()
    basis, directions, tracker = default_basis(), EmotionDirections.load(), FaceLandmarker()
    portrait = load_portrait(args.portrait, args.size, basis=basis)
    rest = portrait.talking_rest(basis)
    print("| refiner | " + " | ".join(f"{n} x{k}" for n, k in ASKED) + " |")
    print("|---" * (len(ASKED) + 1) + "|")
    rows = []
    for spec in args.models:
        name, _, model = spec.partition("=")
        if not Path(model).is_file():
            raise SystemExit(f"{model}: no such refiner")
        renderer = Renderer(portrait, basis, RenderConfig(refiner_model=model))
        scores, tiles = [], []
        for emotion, intensity in ((None, 0), *ASKED):
            dyn = rest.copy()
            if emotion:
                dyn[basis.layout.pca] += intensity * directions.offset(parse_emotion(emotion))
            frame = renderer.render(portrait.pose, dyn)
            face = tracker.detect(frame)[0]
            scores.append(emotion_coefficients(face.blendshapes[None],
                                               face.blendshape_names)[0])
            mouth = mc.crop(frame, mc.mouth_affine(face.landmarks))
            tiles.append(cv2.resize(mouth, (TILE, TILE), interpolation=cv2.INTER_CUBIC))
        rise = [scores[i + 1][EMOTIONS.index(n)] - scores[0][EMOTIONS.index(n)]
                for i, (n, _) in enumerate(ASKED)]
        print(f"| {name} | " + " | ".join(f"{r:+.2f}" for r in rise) + " |", flush=True)
        row = np.concatenate(tiles, 1)
        cv2.putText(row, name, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1)
        rows.append(row)
    if args.out:
        with atomic_output(args.out) as tmp:
            cv2.imwrite(str(tmp), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
