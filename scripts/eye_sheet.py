"""Eye contact sheet: blinks drawn (`--no-refiner`) against the learned eye refiner, zoomed.

Top block, held-out self-reenactment: each held-out talking clip's first frame is the portrait,
its own motion drives it (`evaluation.reconstruction.self_reenactment`); for the clip's most
closed frame (and the frame two before it, a closing lid) the sheet shows the eye band of the
real frame, the warp alone (no synthesis), the drawn lids and the refiner, all cut on the real
frame's landmarks. Bottom block, portraits: each portrait's own motion with both eyes half and
fully closed (dynamics' eye openness scaled), drawn then refined.

    python scripts/eye_sheet.py [--out out/eye_sheet.png] [--clips 6]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

from vasa.data.manifest import is_validation, read_manifest, speaker_of
from vasa.evaluation.reconstruction import self_reenactment
from vasa.files import atomic_output
from vasa.latent.basis import default_basis
from vasa.latent.face_model import decode_canonical, placer
from vasa.portrait import load_portrait
from vasa.render import RenderConfig, Renderer
from vasa.render import eye_crop as ec

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "out" / "eye_sheet.png"  # frames of ../shared/data: kept out of the repository
PORTRAITS = [  # B/W, colour, a painting, a three-quarter view, the bundled astronaut
    DATA / "portraits" / "AniTalker__test_demos__portraits__Einstein.png",
    DATA / "portraits" / "MakeItTalk__examples__audrey.jpg",
    DATA / "portraits" / "LivePortrait__assets__examples__source__s4.jpg",
    DATA / "portraits" / "V-Express__test_samples__short_case__AOC__ref.jpg",
    ROOT / "src" / "vasa" / "assets" / "astronaut.jpg",
]
ZOOM = 2.5  # band pixels shown per pixel
VARIANTS = {"warp only": RenderConfig(mouth=False, eyes=False),
            "drawn": RenderConfig(refiner=False),
            "refiner": RenderConfig()}


def band(img: np.ndarray, affine: np.ndarray, text: str) -> np.ndarray:
    out = cv2.resize(ec.crop(img, affine), None, fx=ZOOM, fy=ZOOM,
                     interpolation=cv2.INTER_CUBIC)
    cv2.putText(out, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 0), 1,
                cv2.LINE_AA)
    return out


def clip_rows(video: Path, seconds: float) -> list[np.ndarray]:
    """Truth | warp only | drawn | refiner eye bands at the clip's most closed frame and two
    frames before it."""
    basis = default_basis()
    portrait, gt, gt_lm, motion = self_reenactment(video, round(25 * seconds), 512, 25.0, basis)
    eyes = basis.layout.eyes
    closure = (1 - motion.dynamics[:, eyes] / np.maximum(portrait.dynamics[eyes], 1e-3)).max(1)
    ok = np.array([lm is not None for lm in gt_lm])
    closure[~ok] = -1
    closure[0] = -1
    t = int(np.argmax(closure))
    renderers = {k: Renderer(portrait, basis, cfg) for k, cfg in VARIANTS.items()}
    rows = []
    for i in (max(1, t - 2), t):
        if gt_lm[i] is None:
            continue
        a = ec.eye_affine(gt_lm[i])
        cells = [band(gt[i], a, f"truth {video.stem[:22]} #{i} closure {closure[i]:.2f}")]
        for k, r in renderers.items():
            cells.append(band(r.render(motion.pose[i], motion.dynamics[i]), a, k))
        rows.append(np.concatenate(cells, 1))
    return rows


def portrait_rows(path: Path) -> list[np.ndarray]:
    """Drawn | refiner eye bands of a portrait with its eyes half and fully closed."""
    basis = default_basis()
    p = load_portrait(path, 512, basis=basis)
    renderers = {k: Renderer(p, basis, VARIANTS[k]) for k in ("drawn", "refiner")}
    cells = []
    for openness in (0.5, 0.0):
        dyn = p.dynamics.copy()
        dyn[basis.layout.eyes] *= openness
        lm = placer(p.pose, p.size)(decode_canonical(p.canonical, p.dynamics, dyn, basis))
        a = ec.eye_affine(lm)
        for k, r in renderers.items():
            cells.append(band(r.render(p.pose, dyn), a, f"{path.stem[-14:]} {openness:g} {k}"))
    return [np.concatenate(cells, 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", default=str(DATA / "MANIFEST.tsv"))
    ap.add_argument("--clips", type=int, default=6, help="held-out clips (0: none)")
    ap.add_argument("--seconds", type=float, default=8.0, help="seconds searched for a blink")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    items = [i for i in read_manifest(args.manifest, kinds=("clips",))
             if is_validation(speaker_of(i))][:args.clips]
    rows = []
    for item in items:
        rows += clip_rows(item.video, args.seconds)
    prows = []
    for path in PORTRAITS:
        prows += portrait_rows(path)
    width = max(r.shape[1] for r in rows + prows)
    pad = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows + prows]
    sheet = np.concatenate(pad, 0)
    with atomic_output(Path(args.out)) as tmp:
        cv2.imwrite(tmp, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}: {len(rows)} clip rows, {len(prows)} portrait rows")


if __name__ == "__main__":
    main()
