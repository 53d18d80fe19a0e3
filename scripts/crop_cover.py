"""How much of each portrait's head can move? The framed crop against the head (issue 13).

A framed portrait is animated in an aligned square crop of its picture (`portrait.Framing`);
what lies outside the crop stays still, and the motion fades out toward the crop's edges and
the picture's (`render.picture_edge.picture_hold`, the held band). A head whose top lies
outside the crop, or in that band, is cut or held there while the face turns, and its hair
shears into a hook. Per portrait (the picture at 512 px, as `vasa generate` writes it), over
the head above the eyes (the person matte over 0.5, `render.matte`): the share outside the
crop, and the share of the head's motion it keeps on average (`picture_hold`: 1 moves with
the head, 0 held; 0 outside the crop). Portraits whose matte is refused are listed as such
(they render without a matte, the backdrop moving with the head).

    PYTHONPATH=src python scripts/crop_cover.py [--out FILE]

Run it with another tree's `src` on PYTHONPATH for a before/after in one session.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from matte_sheets import portrait_name, portrait_paths

from vasa.io import atomic_output
from vasa.latent import topology as topo
from vasa.portrait import load_portrait
from vasa.render.matte import person_matte
from vasa.render.picture_edge import picture_hold


def head_cover(portrait) -> tuple[float, float] | None:
    """(share outside the crop, mean motion kept) over the head above the eyes of a framed
    `portrait`, or None when its matte is refused."""
    f = portrait.framing
    matte, _ = person_matte(f.picture, portrait.landmarks, f.to_crop)
    if matte is None:
        return None
    inv = cv2.invertAffineTransform(f.to_crop)
    eyes = portrait.landmarks[topo.RIGHT_EYE + topo.LEFT_EYE, :2] @ inv[:, :2].T + inv[:, 2]
    head = matte.alpha > 0.5
    head[int(np.clip(eyes[:, 1].mean(), 0, head.shape[0])):] = False
    h, w = f.shape
    # The held band's share, carried from the crop onto the picture (0 where no crop pixel is).
    keep = cv2.warpAffine(picture_hold(f.to_crop, f.shape, portrait.size), inv, (w, h),
                          flags=cv2.INTER_LINEAR, borderValue=0)
    inside = cv2.warpAffine(np.ones((portrait.size,) * 2, np.uint8), inv, (w, h),
                            flags=cv2.INTER_NEAREST, borderValue=0) > 0
    return float((head & ~inside).sum() / max(head.sum(), 1)), float(keep[head].mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="also write the table here")
    args = ap.parse_args()
    lines = ["| portrait | crop side | head outside the crop | head's motion kept |",
             "|---|---|---|---|"]
    rows = []
    for path in portrait_paths():
        p = load_portrait(path, 512, framed=True)
        name = portrait_name(path)
        cover = head_cover(p)
        if cover is None:
            lines.append(f"| {name} | {p.size} | refused | |")
        else:
            rows.append(cover)
            lines.append(f"| {name} | {p.size} | {cover[0]:.1%} | {cover[1]:.2f} |")
        print(lines[-1], flush=True)
    out, kept = np.mean(rows, 0)
    lines.append(f"| **mean of {len(rows)}** | | {out:.1%} | {kept:.2f} |")
    print(lines[-1])
    if args.out:
        with atomic_output(args.out) as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
