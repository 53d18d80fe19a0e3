"""How well does the background plate continue the backdrop? A held-out test on every public
portrait (issue 13).

What a moving head uncovers is shown from the plate (`render.matte.make_plate`): the picture
with the person (grown) filled from the backdrop. There is no truth behind a person, so the
test hides a ring of real backdrop beside the person (RING of the long side wide around the
plate's hole), fills hole and ring together, and scores the fill against the hidden pixels of
the ring's inner half (the part farther from the backdrop left visible: 15-31 px at 512 px,
as deep as a close-up's turned head uncovers; `--ring-faces W`: W face widths wide, scaled to
each head, as what a turn uncovers is). Columns, per portrait and mean: mean
absolute error (colour levels) and the mean lightness error (L*, signed: + is lighter than the
backdrop), over the whole ring and over its part above the chin (where a head uncovers
backdrop; the body does not move); the fill's detail above the chin, the spread of its
lightness about a DETAIL_SIGMA blur of it over the hidden backdrop's (1: as textured as the
backdrop; a smooth fill, under 0.3: a smudge beside a turned head, which the error above
favours); and the plate's time to make. Writes a sheet (default
out/plate_sheet.png: picture, plate, held-out fill) of the portraits named by --sheet.

    PYTHONPATH=src python scripts/plate_report.py [--out FILE] [--sheet NAME ...] [--ring-faces W]

Run it with another tree's `src` on PYTHONPATH for a before/after in one session.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from matte_sheets import portrait_name, portrait_paths

from vasa.io import atomic_output
from vasa.latent import topology as topo
from vasa.portrait import load_portrait
from vasa.render.matte import make_plate, person_matte

try:
    from vasa.render.matte import face_width
    PLATE_TAKES_WIDTH = True
except ImportError:  # a tree from before the plate took the face's width: measured alike here
    PLATE_TAKES_WIDTH = False

    def face_width(landmarks: np.ndarray, to_crop: np.ndarray) -> float:
        inv = cv2.invertAffineTransform(to_crop)
        return float(np.ptp(landmarks[list(topo.FACE_OVAL), :2] @ inv[0, :2]))

ROOT = Path(__file__).resolve().parents[1]
RING = 0.06  # share of the picture's long side
DETAIL_SIGMA = 2.0  # px: the blur the detail is measured against (hair strands, grain, stars)
TILE = 240


def lightness(image: np.ndarray) -> np.ndarray:
    """L* (0-100) of an RGB uint8 image."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32) * (100 / 255)


def detail(image: np.ndarray, where: np.ndarray) -> float:
    """The spread of an RGB image's lightness about its DETAIL_SIGMA blur, over `where`."""
    light = lightness(image)
    return float((light - cv2.GaussianBlur(light, (0, 0), DETAIL_SIGMA))[where].std())


def plate_of(picture: np.ndarray, hole: np.ndarray, portrait) -> np.ndarray:
    """`make_plate` of `picture` with `hole`, beside the portrait's face."""
    if not PLATE_TAKES_WIDTH:
        return make_plate(picture, hole)
    return make_plate(picture, hole, face_width(portrait.landmarks, portrait.framing.to_crop))


def chin_row(portrait) -> float:
    """The picture row of the face's chin (its lowest oval point)."""
    inv = cv2.invertAffineTransform(portrait.framing.to_crop)
    oval = portrait.landmarks[list(topo.FACE_OVAL), :2] @ inv[:, :2].T + inv[:, 2]
    return float(oval[:, 1].max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="also write the table here")
    ap.add_argument("--sheet", nargs="*", default=["astronaut", "tys", "s4", "AOC"],
                    help="portraits shown in the sheet")
    ap.add_argument("--sheet-out", type=Path, default=ROOT / "out" / "plate_sheet.png")
    ap.add_argument("--ring-faces", type=float,
                    help="the hidden ring this many face widths wide instead (what a turn "
                         "uncovers scales with the head: up to 0.27 beside Aya's at 16 degrees)")
    args = ap.parse_args()
    lines = [("| portrait | error | L* error | above the chin: error | L* error | detail | "
              "plate ms |"), "|---|---|---|---|---|---|---|"]
    sums, count, tiles = np.zeros(6), 0, []
    for path in portrait_paths():
        p = load_portrait(path, 512, framed=True)
        picture = p.framing.picture
        matte, _ = person_matte(picture, p.landmarks, p.framing.to_crop)
        name = portrait_name(path)
        if matte is None:
            lines.append(f"| {name} | refused | | | | | |")
            continue
        side = max(picture.shape[:2])
        width = (RING * side if args.ring_faces is None
                 else args.ring_faces * face_width(p.landmarks, p.framing.to_crop))
        depth = cv2.distanceTransform((~matte.hole).astype(np.uint8), cv2.DIST_L2, 3)
        ring = ~matte.hole & (depth <= width)
        held = ring & (depth <= width / 2)  # the half next to the person
        head = held.copy()
        head[int(chin_row(p)):] = False
        t0 = time.perf_counter()
        plate_of(picture, matte.hole, p)
        ms = (time.perf_counter() - t0) * 1000
        plate = plate_of(picture, matte.hole | ring, p)
        err = np.abs(plate.astype(np.float32) - picture).mean(2)
        dl = lightness(plate) - lightness(picture)
        row = [err[held].mean(), dl[held].mean(), err[head].mean(), dl[head].mean(),
               detail(plate, head) / max(detail(picture, head), 1e-6), ms]
        sums += row
        count += 1
        lines.append(f"| {name} | {row[0]:.1f} | {row[1]:+.1f} | {row[2]:.1f} | {row[3]:+.1f} "
                     f"| {row[4]:.2f} | {ms:.0f} |")
        print(lines[-1], flush=True)
        if name in args.sheet:
            scale = TILE / picture.shape[0]
            tiles.append(np.concatenate([cv2.resize(x, None, fx=scale, fy=scale)
                                         for x in (picture, matte.plate, plate)], 1))
    m = sums / max(count, 1)
    lines.append(f"| **mean of {count}** | {m[0]:.1f} | {m[1]:+.1f} | {m[2]:.1f} | {m[3]:+.1f} "
                 f"| {m[4]:.2f} | {m[5]:.0f} |")
    print(lines[-1])
    if args.out:
        with atomic_output(args.out) as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n")
    if tiles:
        width = max(t.shape[1] for t in tiles)
        sheet = np.concatenate([np.pad(t, ((0, 0), (0, width - t.shape[1]), (0, 0)))
                                for t in tiles], 0)
        args.sheet_out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.sheet_out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        print(f"wrote {args.sheet_out}")


if __name__ == "__main__":
    main()
