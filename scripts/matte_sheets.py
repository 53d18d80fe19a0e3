"""Contact sheet of the person mattes (issue 13): every public portrait plus the bundled one.

Per portrait three tiles: the picture with the backdrop darkened and tinted and the matte's edge
drawn; the GrabCut seeds (red sure backdrop, orange likely backdrop, light green likely person,
green sure person); the background plate (the person filled from the backdrop). A portrait whose
mask is refused shows the reason on its tiles. Prints the setup time per portrait.

    PYTHONPATH=src python scripts/matte_sheets.py            # -> out/matte_sheet.png
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from vasa.portrait import load_portrait
from vasa.render.matte import person_matte, seed_labels

ROOT = Path(__file__).resolve().parents[1]
PORTRAITS = ROOT.parent / "shared" / "data" / "portraits"
TILE = 220  # tile height (px)
SEED_COLOURS = {cv2.GC_BGD: (200, 40, 40), cv2.GC_PR_BGD: (230, 150, 40),
                cv2.GC_PR_FGD: (150, 230, 150), cv2.GC_FGD: (30, 160, 30)}


def portrait_paths() -> list[Path]:
    return sorted(p for p in PORTRAITS.iterdir() if p.suffix.lower() in (".jpg", ".png")) + [
        ROOT / "src" / "vasa" / "assets" / "astronaut.jpg"]


def portrait_name(path: Path) -> str:
    """A public portrait's short name: its file's last part ("s4", "Macron"), the folder's for
    V-Express's "ref" files ("AOC", "tys")."""
    parts = path.stem.split("__")
    return parts[-2] if parts[-1] == "ref" else parts[-1]


def overlay(picture: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    tint = picture * 0.35 + np.array([90, 0, 120]) * 0.3
    out = (picture * a + tint * (1 - a)).astype(np.uint8)
    edge = cv2.Canny((alpha > 0.5).astype(np.uint8) * 255, 50, 150) > 0
    out[cv2.dilate(edge.astype(np.uint8), np.ones((2, 2), np.uint8)) > 0] = (0, 255, 0)
    return out


def seeds(picture: np.ndarray, labels: np.ndarray) -> np.ndarray:
    out = picture.astype(np.float32) * 0.5
    for value, colour in SEED_COLOURS.items():
        out[labels == value] += np.array(colour, np.float32) * 0.5
    return out.astype(np.uint8)


def tile(image: np.ndarray, text: str = "") -> np.ndarray:
    h, w = image.shape[:2]
    out = cv2.resize(image, (max(1, round(w * TILE / h)), TILE), interpolation=cv2.INTER_AREA)
    if text:
        cv2.putText(out, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1,
                    cv2.LINE_AA)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "out" / "matte_sheet.png"))
    ap.add_argument("--size", type=int, default=512, help="picture long side (as vasa generate)")
    ap.add_argument("--per-row", type=int, default=3, help="portraits per row")
    args = ap.parse_args()
    rows, row = [], []
    for path in portrait_paths():
        p = load_portrait(path, args.size, framed=True)
        picture, m = p.framing.picture, p.framing.to_crop
        t0 = time.perf_counter()
        matte, why = person_matte(picture, p.landmarks, m)
        ms = (time.perf_counter() - t0) * 1000
        name = path.stem.split("__")[-1][:18]
        print(f"{path.name}: {picture.shape[1]}x{picture.shape[0]} {ms:.0f} ms"
              + (f", refused: {why}" if why else f", person {matte.alpha.mean():.0%}"))
        labels = seed_labels(picture.shape[:2], p.landmarks, m)
        alpha = matte.alpha if matte else np.ones(picture.shape[:2], np.float32)
        plate = matte.plate if matte else picture
        label = f"{name} {ms:.0f}ms" + (" REFUSED" if why else "")
        row.append(np.concatenate([tile(overlay(picture, alpha), label),
                                   tile(seeds(picture, labels)), tile(plate)], 1))
        if len(row) == args.per_row:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    width = max(sum(t.shape[1] for t in r) + 8 * len(r) for r in rows)
    lines = []
    for r in rows:
        line = np.full((TILE + 8, width, 3), 255, np.uint8)
        x = 0
        for t in r:
            line[4:4 + TILE, x:x + t.shape[1]] = t
            x += t.shape[1] + 8
        lines.append(line)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(args.out, cv2.cvtColor(np.concatenate(lines), cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
