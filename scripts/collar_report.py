"""Does the body stay still while the face speaks? Collar motion measured in the warp (issue 13).

A real speaker's collar, shirt and shoulders do not move with the jaw. The renderer's neck ring
(render.mesh) sits under the jaw and takes a share of its motion, and the triangles from it to
the fixed ring span the collar, so each syllable can bob the collar and the tie knot.

For each portrait (the picture at 512 px, as `vasa generate` writes it) a held-out speaker's
tracked motion is retargeted as `vasa reenact` does, twice: dynamics only (the portrait's own
head pose: every motion below the chin comes from speech) and pose with dynamics. Each frame's
warp (`Renderer.flow`, the source pixel of every crop pixel) is read over the body: the crop's
pixels from 0.15 to 0.6 face heights below the portrait's chin, between its jaw corners. The
columns are the mean over frames of the body's mean displacement (crop pixels, at 512 px
crop side) and its 95th percentile, and the mean frame-to-frame change (the bobbing one sees),
for dynamics only and with pose.

    PYTHONPATH=src python scripts/collar_report.py [--clip CLIP] [--seconds 7] [--out FILE]

Prints a markdown table (and writes it to FILE). Run it with another tree's `src` on PYTHONPATH
for a before/after in one session (benchmarks/results/collar.md holds both).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")  # quiet MediaPipe before it is imported

ROOT = Path(__file__).resolve().parents[1]
PORTRAITS = ROOT.parent / "shared" / "data" / "portraits"
ASTRONAUT = ROOT / "src" / "vasa" / "assets" / "astronaut.jpg"
# A held-out speaker (issue 12's cross-identity speeches), a TV interview with a busy jaw.
DEFAULT_CLIP = (ROOT.parent / "shared" / "data" / "clips"
                / "Talking-Face_PC-AVS__misc__Audio_Source__00015.mp4")
# Portraits whose picture shows a neck, collar or clothes under the chin.
NAMES = ("Real3DPortrait__data__raw__examples__Macron.png", "Audio2Head__demo__img__obama.jpg",
         "Audio2Head__demo__img__baiden.jpg", "Audio2Head__demo__img__masike.jpg",
         "V-Express__test_samples__short_case__AOC__ref.jpg",
         "LivePortrait__assets__examples__source__s4.jpg",
         "V-Express__test_samples__short_case__tys__ref.jpg", "MakeItTalk__examples__aya.jpg")
CROP = 512  # displacements are given at this crop side
BODY = (0.15, 0.6)  # face heights below the chin


def body_box(renderer) -> tuple[slice, slice]:
    """The crop's rows and columns of the body under the portrait's chin."""
    from vasa.latent.face_model import place

    p = renderer.portrait
    rest = place(p.canonical, p.pose, renderer.size)
    jaw = rest[renderer.layout.face[renderer.layout.jaw], :2]
    face_h = float(rest[:, 1].max() - rest[:, 1].min())
    chin = float(jaw[:, 1].max())
    y0, y1 = (round(chin + f * face_h) for f in BODY)
    x0, x1 = round(float(jaw[:, 0].min())), round(float(jaw[:, 0].max()))
    return np.s_[max(y0, 0):min(y1, renderer.size)], np.s_[max(x0, 0):min(x1, renderer.size)]


def measure(renderer, motion) -> tuple[float, float, float]:
    """(mean, p95, frame-to-frame) body displacement in crop pixels at CROP side."""
    rows, cols = body_box(renderer)
    ys, xs = np.mgrid[rows, cols].astype(np.float32)
    per, prev, steps = [], None, []
    for pose, dyn in zip(motion.pose, motion.dynamics):
        renderer.render(pose, dyn)
        flow = renderer.flow[rows, cols]
        d = np.stack([flow[..., 0] - xs, flow[..., 1] - ys], -1) * (CROP / renderer.size)
        per.append(float(np.linalg.norm(d, axis=-1).mean()))
        if prev is not None:
            steps.append(float(np.linalg.norm(d - prev, axis=-1).mean()))
        prev = d
    return float(np.mean(per)), float(np.percentile(per, 95)), float(np.mean(steps))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help="driving speech video")
    ap.add_argument("--seconds", type=float, default=7.0, help="first seconds of the clip")
    ap.add_argument("--out", type=Path, help="also write the table here")
    args = ap.parse_args()
    from matte_sheets import portrait_name

    from vasa.io import atomic_output
    from vasa.latent.basis import default_basis
    from vasa.latent.motion import MotionLatents
    from vasa.latent.retarget import retarget
    from vasa.portrait import load_portrait
    from vasa.render import RenderConfig, Renderer
    from vasa.tracking.video import track_video

    basis = default_basis()
    tracked = track_video(args.clip, fps=25, basis=basis)
    n = min(len(tracked.found), round(args.seconds * 25))
    driving = MotionLatents(tracked.motion.pose[:n], tracked.motion.dynamics[:n])
    lines = [f"driver: {args.clip.name}, {n} frames", "",
             ("| portrait | speech only: mean px | p95 | per frame | with pose: mean px | p95 "
              "| per frame |"), "|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    sums = np.zeros(6)
    paths = [PORTRAITS / name for name in NAMES] + [ASTRONAUT]
    for path in paths:
        p = load_portrait(path, CROP, framed=True, basis=basis)
        renderer = Renderer(p, basis, RenderConfig(refiner=False))
        row = []
        for pose in (False, True):
            m = retarget(p.pose, p.dynamics, driving, basis.num_pca, transfer_pose=pose,
                         shift_limit=0.1)
            row += measure(renderer, m)
        sums += row
        name = portrait_name(path)
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
        print(lines[-1], flush=True)
    lines.append("| **mean** | " + " | ".join(f"{v:.2f}" for v in sums / len(paths)) + " |")
    print(lines[-1])
    if args.out:
        with atomic_output(args.out) as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
