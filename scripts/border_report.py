"""The invented border of every public portrait, framed output (default) against `--crop`.

    python scripts/border_report.py                      # ../shared/data/portraits + astronaut
    python scripts/border_report.py --size 512 --out benchmarks/results/border.md

Per portrait: the share of output pixels that come from outside the picture
(`vasa.evaluation.border`), at rest (the portrait's own pose and expression) and the largest
over a set of head poses (MOVES: turns, nods, tilts, shifts, leaning in, as far as generated
motion goes), for both framings. The target for the default (framed) output: at most 2%.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

from vasa.evaluation.border import invented_fraction
from vasa.latent.basis import default_basis
from vasa.latent.motion import PITCH, ROLL, SCALE, TX, TY, YAW
from vasa.portrait import load_portrait
from vasa.render import Renderer

ROOT = Path(__file__).resolve().parents[1]
PORTRAITS = ROOT.parent / "shared" / "data" / "portraits"
ASTRONAUT = ROOT / "src" / "vasa" / "assets" / "astronaut.jpg"
TARGET = 0.02
# (index, offset) added to the portrait's pose: about the largest head motion the generator
# makes (pitch/yaw/roll in radians, shifts in frame widths, scale as a log factor).
MOVES = [(PITCH, 0.2), (PITCH, -0.2), (YAW, 0.3), (YAW, -0.3), (ROLL, 0.15), (ROLL, -0.15),
         (TX, 0.04), (TX, -0.04), (TY, 0.04), (TY, -0.04), (SCALE, 0.08)]


def measure(path: Path, size: int, framed: bool, basis) -> tuple[float, float, tuple[int, int]]:
    """(at rest, largest over MOVES, output (H, W)) for one portrait and framing."""
    portrait = load_portrait(path, size, basis=basis, framed=framed)
    renderer = Renderer(portrait, basis)
    moving = []
    for index, offset in MOVES:
        pose = portrait.pose.copy()
        pose[index] += offset * (portrait.pose[SCALE] if index == SCALE else 1.0)
        renderer.render(pose, portrait.dynamics)
        moving.append(invented_fraction(portrait, renderer.flow))
    return invented_fraction(portrait), max(moving), portrait.output_shape


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("portraits", nargs="*", type=Path,
                    help="images (default: every file in ../shared/data/portraits + astronaut)")
    ap.add_argument("--size", type=int, default=512, help="output size (512)")
    ap.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = ap.parse_args()
    paths = args.portraits or sorted(p for p in PORTRAITS.iterdir() if p.is_file()) + [ASTRONAUT]
    basis = default_basis()
    header = ("| portrait | framed output | framed: at rest | framed: moving | crop: at rest | "
              "crop: moving |")
    lines = [header, "|---|---|---:|---:|---:|---:|"]
    rows = []
    for path in paths:
        rest, moving, (h, w) = measure(path, args.size, True, basis)
        crop_rest, crop_moving, _ = measure(path, args.size, False, basis)
        rows.append((rest, moving, crop_rest, crop_moving))
        lines.append(f"| {path.stem} | {w}x{h} | {rest:.1%} | {moving:.1%} | {crop_rest:.1%} | "
                     f"{crop_moving:.1%} |")
        print(lines[-1], flush=True)
    r = np.array(rows)
    lines.append(f"| **mean** ({len(rows)}) | | {r[:, 0].mean():.1%} | {r[:, 1].mean():.1%} | "
                 f"{r[:, 2].mean():.1%} | {r[:, 3].mean():.1%} |")
    hanging = int((r[:, 2] > TARGET).sum())
    verdict = "meets" if r[:, :2].max() <= TARGET else "misses"
    summary = (f"\nFramed output (default): at most {r[:, :2].max():.1%} invented, at rest or "
               f"moving ({verdict} the {TARGET:.0%} target). Crop output (--crop): over "
               f"{TARGET:.0%} invented at rest on {hanging} of {len(rows)} portraits, up to "
               f"{r[:, 2].max():.1%}.")
    print("\n".join(lines[:2] + lines[-1:]) + "\n" + summary)
    if args.out:
        head = (f"# Invented border: share of output pixels from outside the picture\n\n"
                f"`python scripts/border_report.py --size {args.size}`; moving = the largest "
                f"over {len(MOVES)} head poses.\n\n")
        args.out.write_text(head + "\n".join(lines) + "\n" + summary + "\n")


if __name__ == "__main__":
    main()
