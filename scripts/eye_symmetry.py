"""Do both lids of a blink close together? Each eye's closure read from the pixels (issue 13).

Generated and reenacted blinks ask both eyes for the same closure (the motion's two eyelid
ratios move together), so a viewer expects both lids at the same height. For each portrait
(the aligned crop at 512 px) both eyelid ratios are set to each of PROBES times the portrait's
openness and rendered by three renderers: the drawn lids (`RenderConfig(eye_refiner=False)`),
the eye refiner in one pass (`eye_mirror=False`), and the eye refiner over the band and its
mirror image, averaged (the default). Each eye's closure is read from that renderer's own
frames, model-free: in the eye band (`render.eye_crop`), the eye's half of the band at the probe
less its half with the eyes open, projected on its half shut (ratio SHUT) less open: 0 reads as
open, 1 as shut. The columns are the right eye's closure less the left's (the subject's right:
the band's left half) at each probe, and per renderer the mean and largest |difference|.

    PYTHONPATH=src python scripts/eye_symmetry.py [PORTRAIT ...] [--out FILE] [--sheet PNG]

Prints a markdown table (and writes it to FILE); --sheet writes the eye bands at the middle
probe (one row per portrait: drawn, one pass, mirrored) for looking at.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")  # quiet MediaPipe before it is imported

ROOT = Path(__file__).resolve().parents[1]
PORTRAITS = ROOT.parent / "shared" / "data" / "portraits"
ASTRONAUT = ROOT / "src" / "vasa" / "assets" / "astronaut.jpg"
PROBES = (0.8, 0.65, 0.5, 0.35)  # eyelid ratios to the portrait's openness: a blink's middle
SHUT = 0.02
SIZE = 512
RENDERERS = ("drawn lids", "refiner, one pass", "refiner, mirrored")


def eyes_at(portrait, basis, ratio: float) -> np.ndarray:
    """The portrait's talking rest with both eyelids at `ratio` of its openness."""
    d = np.array(portrait.talking_rest(basis), np.float32)
    d[basis.layout.eyes] *= ratio
    return d


def closures(renderer, ratios: tuple[float, ...]) -> np.ndarray:
    """(len(ratios), 2) closure of the (right, left) eye read from `renderer`'s frames."""
    from vasa.render import eye_crop as ec

    p = renderer.portrait
    affine = ec.eye_affine(p.landmarks)  # the portrait's own band: the head does not move

    def band(ratio: float) -> np.ndarray:
        frame = renderer.render(p.pose, eyes_at(p, renderer.basis, ratio))
        return ec.crop(frame, affine).astype(np.float32)

    opened, shut = band(1.0), band(SHUT)
    half = ec.WIDTH // 2
    out = np.zeros((len(ratios), 2))
    for i, ratio in enumerate(ratios):
        now = band(ratio)
        for k, cols in enumerate((np.s_[:, :half], np.s_[:, half:])):
            u, v = (shut - opened)[cols].ravel(), (now - opened)[cols].ravel()
            out[i, k] = float(u @ v / max(float(u @ u), 1e-6))
    return out


def renderer_config(name: str):
    from vasa.render import RenderConfig

    return {"drawn lids": RenderConfig(eye_refiner=False),
            "refiner, one pass": RenderConfig(eye_mirror=False),
            "refiner, mirrored": RenderConfig()}[name]


def middle_bands(portrait, basis, ratio: float) -> np.ndarray:
    """The eye bands of the three renderers at `ratio`, side by side (uint8 RGB)."""
    from vasa.render import Renderer
    from vasa.render import eye_crop as ec

    d = eyes_at(portrait, basis, ratio)
    affine = ec.eye_affine(portrait.landmarks)
    return np.concatenate([ec.crop(Renderer(portrait, basis, renderer_config(n))
                                   .render(portrait.pose, d), affine) for n in RENDERERS], 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("portraits", nargs="*", type=Path,
                    help="portraits (default: every public portrait and the bundled astronaut)")
    ap.add_argument("--out", type=Path, help="also write the table here")
    ap.add_argument("--sheet", type=Path, help="write the middle probe's eye bands here (PNG)")
    args = ap.parse_args()
    from vasa.latent.basis import default_basis
    from vasa.portrait import load_portrait
    from vasa.render import Renderer

    paths = args.portraits or [*sorted(PORTRAITS.iterdir()), ASTRONAUT]
    basis = default_basis()
    probes = " / ".join(f"{r:g}" for r in PROBES)
    lines = [f"| portrait | {' | '.join(f'{n}: right - left at {probes}' for n in RENDERERS)} |",
             "|---|" + "---|" * len(RENDERERS)]
    diffs: dict[str, list[float]] = {n: [] for n in RENDERERS}
    rows = []
    for path in paths:
        portrait = load_portrait(path, SIZE, 0, basis, framed=False)
        cells = []
        for name in RENDERERS:
            c = closures(Renderer(portrait, basis, renderer_config(name)), PROBES)
            d = c[:, 0] - c[:, 1]
            diffs[name] += np.abs(d).tolist()
            cells.append(" / ".join(f"{x:+.2f}" for x in d))
        label = path.name.split("__")[-2 if path.name.endswith("__ref.jpg") else -1]
        lines.append(f"| {label} | {' | '.join(cells)} |")
        print(lines[-1], flush=True)
        if args.sheet:
            rows.append(middle_bands(portrait, basis, PROBES[1]))
    lines.append("| **mean / largest \\|difference\\|** | " + " | ".join(
        f"{np.mean(diffs[n]):.3f} / {np.max(diffs[n]):.2f}" for n in RENDERERS) + " |")
    lines.append("| **probes over 0.1** | " + " | ".join(
        f"{int((np.array(diffs[n]) > 0.1).sum())} of {len(diffs[n])}" for n in RENDERERS) + " |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.sheet:
        sheet = cv2.resize(np.concatenate(rows, 0), None, fx=2, fy=2,
                           interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(args.sheet), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
