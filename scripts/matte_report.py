"""Does the backdrop stay still? The person matte measured on every public portrait (issue 13).

For each portrait (the picture at 512 px, as `vasa generate` writes it) the head is turned to
large poses (yaw +-20 degrees, pitch +-10, and two combinations) and each frame is pasted
twice from the same rendered crop: without the matte (the previous output) and with it. Counted
over backdrop pixels (matte < 0.02, more than BAND of the long side from the person's edge):
  changed - share whose colour differs from the still picture by more than TOL levels;
  moved   - the same, leaving out the pixels the turned person now covers (those must change).
And, with the matte, the person left behind: pixels of the still person (matte over 0.5) that
the turned person has left (its warped matte under 0.5) where the output still shows the
still picture (within TOL) although the plate there differs from it (by over 4 TOL), where the
paste is at full weight: the still face's edge seen through the moved one's soft edge, an
outline beside a turned cheek (pixels a frame, mean over the poses). And the seam step: where the
plate shows (the output equals the plate, not the still picture), its lightness against the
still picture's just outside that patch, each pixel of a 3 px ring outside it against the
patch's nearest pixel 1-3 px inside (mean |L*|, over the poses that uncover any): the patch's
outline one sees beside a turned head (s4's light crescent by its dark painted halo); beside
it, the backdrop's own step over those distances (`texture_step`): a plate that continues a
textured backdrop steps as much as the backdrop does, a smooth fill less. And the
plate shown: the share of the frame where the output shows the plate's fill (within TOL of it,
over 4 TOL from the still picture), the backdrop the frame invents; a matte that takes backdrop
for person moves it with the head and shows the fill where it was (AOC's drape, 43% person).
Also: the matte's setup time per portrait, and the time per frame with and without it, side
by side (`timing`). Writes the table to benchmarks/results/matte.md and, per portrait,
out/matte_motion/*.png (still picture, without, with, the plate; yaw +20, then pitch -10).

    PYTHONPATH=src python scripts/matte_report.py
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from matte_sheets import portrait_name, portrait_paths

from vasa.latent.motion import PITCH, YAW
from vasa.portrait import load_portrait
from vasa.render import RenderConfig, Renderer
from vasa.render.matte import person_matte
from vasa.render.paste import PasteBack

ROOT = Path(__file__).resolve().parents[1]
BAND = 0.02  # share of the long side: the matte's edge zone left out of the count
TOL = 3  # colour levels
POSES = {"yaw+20": {YAW: 20}, "yaw-20": {YAW: -20}, "pitch+10": {PITCH: 10},
         "pitch-10": {PITCH: -10}, "yaw+20 pitch+10": {YAW: 20, PITCH: 10},
         "yaw-20 pitch-10": {YAW: -20, PITCH: -10}}
SHOWN = ("yaw+20", "pitch-10")


def backdrop(alpha: np.ndarray) -> np.ndarray:
    """(H, W) bool: backdrop pixels away from the person's edge."""
    band = max(1, round(BAND * max(alpha.shape)))
    near = cv2.dilate((alpha > 0.02).astype(np.uint8), np.ones((2 * band + 1,) * 2, np.uint8))
    return near == 0


def shows_plate(frame: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels of `frame` within TOL of the plate."""
    return np.abs(frame.astype(np.int16) - plate).max(2) <= TOL


def seam_step(frame: np.ndarray, picture: np.ndarray, plate: np.ndarray,
              covered: np.ndarray) -> float | None:
    """Mean |L*| step across the edge of the patch where `frame` shows `plate` (None: no
    patch): each frame pixel 1-3 px outside it that shows the still picture, against the
    patch's nearest pixel 1-3 px inside."""
    shows = shows_plate(frame, plate) & changed(frame, picture)
    shows = cv2.morphologyEx(shows.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    if shows.sum() < 20:
        return None
    inside = cv2.distanceTransform(shows, cv2.DIST_L2, 3)
    outside, labels = cv2.distanceTransformWithLabels(
        (inside < 1) | (inside > 3), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    band = (inside >= 1) & (inside <= 3)  # the patch's own pixels next to its edge
    ring = (shows == 0) & (outside <= 3) & ~covered & ~changed(frame, picture)
    if not ring.any():
        return None
    lightness = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32) * (100 / 255)
    nearest = np.zeros(int(labels.max()) + 1, np.float32)
    nearest[labels[band]] = lightness[band]
    return float(np.abs(lightness[ring] - nearest[labels[ring]]).mean())


def texture_step(picture: np.ndarray, hole: np.ndarray) -> float:
    """Mean |L*| between backdrop pixels 4 px apart, 3-20 px from the plate's hole: how much
    the backdrop beside the person steps by itself over the seam step's distances (a plate that
    continues a textured backdrop steps as much at its edge; a smooth one, less)."""
    light = cv2.cvtColor(picture, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32) * (100 / 255)
    depth = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 3)
    near = (depth > 3) & (depth < 20)
    steps = []
    for dy, dx in ((0, 4), (4, 0), (3, 3), (3, -3)):
        both = near & np.roll(near, (dy, dx), (0, 1))
        steps.append(np.abs(light - np.roll(light, (dy, dx), (0, 1)))[both].mean())
    return float(np.mean(steps))


def changed(frame: np.ndarray, picture: np.ndarray) -> np.ndarray:
    return np.abs(frame.astype(np.int16) - picture).max(2) > TOL


def timing(frames: int) -> str:
    """Median ms per frame (render with the default config, refiner included, and paste) of
    the bundled portrait under a head sweep (yaw +-20, pitch +-10 degrees), without and with
    the matte in turns frame by frame, so that the machine's load falls on both alike."""
    p = load_portrait(ROOT / "src" / "vasa" / "assets" / "astronaut.jpg", 512, framed=True)
    renderer = Renderer(p)
    matte, _ = person_matte(p.framing.picture, p.landmarks, p.framing.to_crop)
    pastes = {"off": PasteBack(p.framing, p.size), "on": PasteBack(p.framing, p.size, matte)}
    spent: dict[str, list[float]] = {"off": [], "on": []}
    for i in range(frames):
        pose = p.pose.copy()
        pose[YAW] += np.radians(20) * np.sin(i / 12)
        pose[PITCH] += np.radians(10) * np.sin(i / 7)
        for key in ("off", "on") if i % 2 else ("on", "off"):
            renderer.carry(pastes[key].alpha_crop)
            t0 = time.perf_counter()
            crop = renderer.render(pose, p.dynamics)
            pastes[key](crop, renderer.flow, renderer.carried)
            spent[key].append(time.perf_counter() - t0)
    off, on = (1000 * np.median(spent[k]) for k in ("off", "on"))
    return (f"astronaut, {frames} frames in turns: median {off:.2f} ms/frame without the matte, "
            f"{on:.2f} ms with it ({on - off:+.2f} ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "out"), help="folder for the frame sheets")
    ap.add_argument("--table", default=str(ROOT / "benchmarks" / "results" / "matte.md"))
    ap.add_argument("--timing-frames", type=int, default=300,
                    help="frames of the side-by-side timing on the bundled portrait")
    ap.add_argument("--timing-only", action="store_true", help="only the side-by-side timing")
    args = ap.parse_args()
    if args.timing_only:
        print(timing(args.timing_frames))
        return
    out = Path(args.out)
    (out / "matte_motion").mkdir(parents=True, exist_ok=True)
    lines = [("| portrait | setup ms | person | changed off | changed on | moved off | moved on | "
              "person left behind (px) | seam step (L*) | backdrop's own step | plate shown |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    totals = np.zeros(6)
    setups, seams, textures = [], [], []
    for path in portrait_paths():
        p = load_portrait(path, 512, framed=True)
        picture = p.framing.picture
        t0 = time.perf_counter()
        matte, why = person_matte(picture, p.landmarks, p.framing.to_crop)
        setup = (time.perf_counter() - t0) * 1000
        name = portrait_name(path)
        if matte is None:
            lines.append(f"| {name} | {setup:.0f} | refused: {why} | | | | | | | | |")
            continue
        renderer = Renderer(p, config=RenderConfig(refiner=False))
        pastes = {"off": PasteBack(p.framing, p.size), "on": PasteBack(p.framing, p.size, matte)}
        still = backdrop(matte.alpha)
        counts = np.zeros(6)
        differs = np.abs(picture.astype(np.int16) - matte.plate).max(2) > 4 * TOL
        shown, steps = [], []
        for label, move in POSES.items():
            pose = p.pose.copy()
            for index, degrees in move.items():
                pose[index] += np.radians(degrees)
            frames, alphas = {}, {}
            for key in ("off", "on"):
                renderer.carry(pastes[key].alpha_crop)
                crop = renderer.render(pose, p.dynamics)
                frames[key] = pastes[key](crop, renderer.flow, renderer.carried)
                alphas[key] = renderer.carried
            covered = np.zeros(picture.shape[:2], bool)
            covered[pastes["on"].roi] = pastes["on"].to_picture(alphas["on"]) > 5
            for i, key in enumerate(("off", "on")):
                c = changed(frames[key], picture) & still
                counts[i] += c.sum() / max(still.sum(), 1)
                counts[2 + i] += (c & ~covered).sum() / max((still & ~covered).sum(), 1)
            moved = np.ones(picture.shape[:2], np.float32)  # outside the crop: not moved
            on = pastes["on"]
            full = on.to_picture(on.weights(renderer.flow)) > 0.99  # the paste not fading out
            moved[on.roi] = np.where(full, on.to_picture(alphas["on"]) / 255, 1.0)
            left = (matte.alpha > 0.5) & (moved < 0.5) & differs
            counts[4] += (left & ~changed(frames["on"], picture)).sum()
            counts[5] += (shows_plate(frames["on"], matte.plate) & differs).mean()
            if (step := seam_step(frames["on"], picture, matte.plate, covered)) is not None:
                steps.append(step)
            if label in SHOWN:
                shown.append(np.concatenate([picture, frames["off"], frames["on"], matte.plate],
                                            1))
        counts /= len(POSES)
        totals += counts
        setups.append(setup)
        step = float(np.mean(steps)) if steps else float("nan")
        seams.append(step)
        textures.append(texture_step(picture, matte.hole))
        lines.append(f"| {name} | {setup:.0f} | {matte.alpha.mean():.0%} | {counts[0]:.2%} | "
                     f"{counts[1]:.2%} | {counts[2]:.2%} | {counts[3]:.2%} | {counts[4]:.0f} | "
                     f"{step:.1f} | {textures[-1]:.1f} | {counts[5]:.2%} |")
        print(lines[-1], flush=True)
        sheet = np.concatenate(shown, 0)
        cv2.imwrite(str(out / "matte_motion" / f"{name}.png"),
                    cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    n = len(setups)
    totals /= max(n, 1)
    lines.append(f"| mean of {n} | {np.mean(setups):.0f} | | {totals[0]:.2%} | {totals[1]:.2%} | "
                 f"{totals[2]:.2%} | {totals[3]:.2%} | {totals[4]:.0f} | "
                 f"{np.nanmean(seams):.1f} | {np.mean(textures):.1f} | {totals[5]:.2%} |")
    text = "\n".join(lines) + "\n\n" + timing(args.timing_frames)
    print(text)
    Path(args.table).parent.mkdir(parents=True, exist_ok=True)
    Path(args.table).write_text(text + "\n")


if __name__ == "__main__":
    main()
