"""How much of a turned face the warp magnifies, per portrait and yaw (or pitch) offset.

    python scripts/turn_stretch.py [--axis yaw|pitch] [--degrees -30 -20 -10 0 10 20 30]

Every portrait (the shared data's portraits), as its aligned crop, is warped to its own pose
plus each offset with its talking rest (the warp alone: no refiners). Per frame, the share of
the face's hull whose pixels show under half a portrait pixel's area (stretched past 2x:
`evaluation.folds.map_area`), and under a third. A turn magnifies the near cheek from pixels the
photo saw foreshortened; the median over portraits is the basis of the generator's turn limit
(`vasa.motion.features.TURN_LIMIT`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")  # quiet MediaPipe before it is imported

from vasa.evaluation.folds import map_area
from vasa.latent.basis import default_basis
from vasa.latent.motion import PITCH, YAW
from vasa.portrait import load_portrait
from vasa.render import RenderConfig, Renderer

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def stretched(renderer: Renderer, pose: np.ndarray, dynamics: np.ndarray) -> tuple[float, float]:
    """Shares of the face hull stretched past 2x and 3x in area in the frame of `pose`."""
    w = renderer.warp(pose, dynamics)
    area = map_area(w.flow)
    hull = cv2.convexHull(w.landmarks[:, :2].astype(np.float32))[:, 0]
    face = np.zeros(area.shape, np.uint8)
    cv2.fillPoly(face, [np.round(hull).astype(np.int32)], 1)
    a = area[face > 0]
    return float(np.mean(a < 0.5)), float(np.mean(a < 1 / 3))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--axis", choices=("yaw", "pitch"), default="yaw")
    ap.add_argument("--degrees", type=float, nargs="+", default=[-30, -20, -10, 0, 10, 20, 30])
    args = ap.parse_args()
    axis = YAW if args.axis == "yaw" else PITCH
    basis = default_basis()
    rows = []
    print(f"| portrait | own {args.axis} | " + " | ".join(f"{d:+g}" for d in args.degrees)
          + " |\n|---|---:|" + "---:|" * len(args.degrees))
    for path in sorted((SHARED / "portraits").iterdir()):
        p = load_portrait(path, 512, None, basis, framed=False)
        r = Renderer(p, basis, RenderConfig(refiner=False))
        rest = p.talking_rest(basis)
        row = []
        for deg in args.degrees:
            pose = p.pose.copy()
            pose[axis] += np.radians(deg)
            row.append(stretched(r, pose, rest))
        rows.append(row)
        print(f"| {path.stem} | {np.degrees(p.pose[axis]):.1f} | "
              + " | ".join(f"{a:.2f} / {b:.2f}" for a, b in row) + " |", flush=True)
    med = np.median(np.array(rows), 0)
    print("| **median** | | " + " | ".join(f"{a:.3f} / {b:.3f}" for a, b in med) + " |")
    print("\nEach cell: share of the face past 2x / past 3x in area.")


if __name__ == "__main__":
    main()
