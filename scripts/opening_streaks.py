"""Stretched-teeth streaks in wide openings of open-mouthed portraits, and a contact sheet.

    python scripts/opening_streaks.py [--gaps 0.1 0.2 0.3] [--out REPORT] [--compare OLD.json]

A portrait whose own opening shows teeth is warped wider open; the warp stretches those
teeth into vertical streaks, which `render.interior` redraws in the middle of the mouth and
the refiner elsewhere. Each portrait of ../shared/data/portraits whose mouth is open
(`MouthInterior.active`) is rendered at its talking rest opened by each gap (eye distances),
with the default renderer; in the upright mouth crop, inside the inner lips (2 px in from
them), the streak index is the mean absolute step of luma from one column to the next (levels
of 255) over the mean step from one row to the next: stretched columns differ across x and not
along y. Writes REPORT.md, REPORT.json and REPORT.jpg (the crops: a row per portrait, the warp
alone then the renderer at each gap). Run it from another tree (`PYTHONPATH=<tree>/src`) for a
before, and pass its JSON to --compare. --real: the same index on real open mouths, the held-out
speakers' talking clips' frames open MIDDLING eye distances or more (first 4 s of each), as the
measure's reference.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")  # quiet MediaPipe before it is imported

from vasa.data.manifest import is_validation, read_manifest, speaker_of
from vasa.evaluation.interior import MIDDLING, read_interior
from vasa.files import atomic_output
from vasa.io import read_frames
from vasa.latent.basis import default_basis
from vasa.latent.face_model import move_lip_gap
from vasa.portrait import load_portrait
from vasa.render import RenderConfig, Renderer
from vasa.render import mouth_crop as mc
from vasa.render.interior import MouthInterior
from vasa.tracking import FaceLandmarker

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def streak_index(frame: np.ndarray, landmarks: np.ndarray) -> float:
    """Column-to-column over row-to-row luma steps inside a frame's inner lips (mouth crop)."""
    a = mc.mouth_affine(landmarks)
    luma = mc.crop(frame, a).astype(np.float32) @ LUMA
    inner = mc.lip_masks(mc.lip_points(landmarks, a))[1] > 0.5
    inside = cv2.erode(inner.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    across = np.abs(np.diff(luma, axis=1))[inside[:, 1:] & inside[:, :-1]]
    along = np.abs(np.diff(luma, axis=0))[inside[1:] & inside[:-1]]
    if len(across) < 20 or len(along) < 20:
        return float("nan")
    return float(across.mean() / max(along.mean(), 1e-3))


def real_streaks(manifest: Path, frames: int = 100) -> dict[str, float]:
    """Median streak index per held-out talking clip over its frames open MIDDLING or more."""
    out = {}
    with FaceLandmarker() as tracker:
        for item in read_manifest(manifest, kinds=("clips",)):
            if not is_validation(speaker_of(item)):
                continue
            values = []
            for i, frame in enumerate(read_frames(item.video, fps=25)):
                if i >= frames:
                    break
                faces = tracker.detect(frame)
                if faces and read_interior(frame, faces[0].landmarks).opening >= MIDDLING:
                    values.append(streak_index(frame, faces[0].landmarks))
            if values:
                out[item.video.name] = float(np.nanmedian(values))
                print(item.video.name, f"{out[item.video.name]:.2f} ({len(values)} frames)",
                      flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--portraits", type=Path, default=DATA / "portraits")
    ap.add_argument("--gaps", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/opening_streaks"))
    ap.add_argument("--compare", type=Path, help="a JSON of this script from another tree")
    ap.add_argument("--real", action="store_true",
                    help="also the index of real held-out open mouths (the reference)")
    args = ap.parse_args()
    basis = default_basis()
    before = json.loads(args.compare.read_text()) if args.compare else {}
    scores: dict[str, dict[str, float]] = {}
    rows = []
    for path in sorted(args.portraits.iterdir()):
        p = load_portrait(path, 512, None, basis, framed=False)
        if not MouthInterior(p.image, p.landmarks).active:
            continue
        name = path.stem
        warp = Renderer(p, basis, RenderConfig(mouth=False, eyes=False))
        full = Renderer(p, basis, RenderConfig())
        rest = p.talking_rest(basis)
        scores[name], tiles, warped = {}, [], []
        for gap in args.gaps:
            dyn = move_lip_gap(rest, gap, basis)
            w = warp.warp(p.pose, dyn)
            frame = full.render(p.pose, dyn)
            scores[name][f"warp {gap:g}"] = streak_index(w.frame, w.landmarks)
            scores[name][f"{gap:g}"] = streak_index(frame, w.landmarks)
            a = mc.mouth_affine(w.landmarks)
            warped.append(mc.crop(w.frame, a))
            tiles.append(mc.crop(frame, a))
        rows.append(np.hstack([warped[-1], *tiles]))
        print(name, "  ".join(f"{k} {v:.2f}" for k, v in scores[name].items()), flush=True)
    cols = [f"{g:g}" for g in args.gaps]
    lines = [f"Generated by `python scripts/opening_streaks.py`: {len(scores)} open-mouthed "
             "portraits, streak index (column-to-column over row-to-row luma steps inside the "
             "inner lips, mouth crop) at the talking rest opened by each gap (eye distances)"
             + (f"; before: `{args.compare}`" if before else "") + ".", "",
             "| portrait | " + " | ".join(f"warp {c} | {c}" for c in cols) + " |",
             "|---|" + "---|---|" * len(cols)]
    for name, s in scores.items():
        cells = []
        for c in cols:
            old = before.get(name, {}).get(c)
            now = f"{s[c]:.2f}" if old is None else f"{old:.2f} -> {s[c]:.2f}"
            cells += [f"{s['warp ' + c]:.2f}", now]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    med = {c: float(np.nanmedian([s[c] for s in scores.values()])) for c in cols}
    old_med = {c: float(np.nanmedian([s[c] for s in before.values()])) for c in cols
               } if before else {}
    lines.append("| **median** | " + " | ".join(
        f"{np.nanmedian([s['warp ' + c] for s in scores.values()]):.2f} | "
        + (f"{old_med[c]:.2f} -> " if old_med else "") + f"{med[c]:.2f}" for c in cols) + " |")
    if args.real:
        real = real_streaks(args.portraits.parent / "MANIFEST.tsv")
        lines += ["", f"Real open mouths (held-out talking clips, first 4 s, frames open "
                  f"{MIDDLING:g} eye distances or more; median per clip): "
                  + ", ".join(f"{k.split('.')[0]} {v:.2f}" for k, v in real.items())
                  + f"; median of clips {np.median(list(real.values())):.2f}."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.out.with_suffix(".md")) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    with atomic_output(args.out.with_suffix(".json")) as tmp:
        Path(tmp).write_text(json.dumps(scores, indent=1) + "\n")
    if rows:
        with atomic_output(args.out.with_suffix(".jpg")) as tmp:
            cv2.imwrite(str(tmp), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 90])
    print("\n".join(lines))


if __name__ == "__main__":
    main()
