"""How light is a real shut upper lid against the skin round the eye? (model-free, #13)

    python scripts/real_shut_lids.py [VIDEO ...] [--frames 200] [--portraits]

Per video (25 fps, the first `--frames`; default: the held-out talking clips of the manifest):
the frames whose right eye is shut (lid gap under 0.35 of the clip's median, over the eye's
width), each against the last open frame (over 0.9 of the median) at most 12 frames before it,
whose eye outline stands for where the eye is (little moves in half a second). On both: the
mean luma of the upper half of that outline (above its corners' line, grown 0.05 eye widths)
over the ring of skin round it (RING eye widths deep, pixels under 0.7 of the ring's median left
out: lashes, brows), the geometry of `evaluation.lid_seam.eye_outline`; and, on the shut frame,
that lid over the face's plain skin (cheeks and forehead, `evaluation.lid_seam.lid_tone`),
which make-up, lashes and the open eye's socket shadow do not darken as they do the ring.
`--portraits`: the same two readings of the drawn (`--no-refiner`) and refined shut lids of
every portrait, its own pose with both eyes shut. A drawn or refined shut lid should read as
the real ones do.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

from vasa.data.manifest import is_validation, read_manifest, speaker_of
from vasa.evaluation.lid_seam import eye_outline, lid_tone
from vasa.io import read_frames
from vasa.latent import topology as topo
from vasa.tracking import FaceLandmarker

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SHUT, OPEN = 0.35, 0.9  # lid gap over its clip's median: shut under, open over
LOOK_BACK = 12  # frames searched back for the open eye
RING = 0.1  # depth of the skin ring round the eye, eye widths


def lid_over_skin(frame: np.ndarray, eye: np.ndarray) -> float:
    """Mean luma of the upper half of the eye outline `eye` (16, 2) over the skin round it
    (nan where `evaluation.lid_seam.eye_outline` has no reading)."""
    o = eye_outline(frame.shape, eye, RING)
    if o is None:
        return float("nan")
    x0, y0, x1, y1 = o.box
    luma = frame[y0:y1, x0:x1].astype(np.float32).mean(2)
    skin = luma[o.outside]
    skin = skin[skin >= 0.7 * np.median(skin)].mean()
    return float(luma[o.area & o.above].mean() / skin)


def measure(video: Path, frames: int, tracker: FaceLandmarker
            ) -> tuple[list[float], list[float], list[float]]:
    """(shut, open, tone) readings of one video: lid over the skin ring shut and at the same
    place open, and the shut lid over the face's skin (`lid_tone`)."""
    pics, marks = [], []
    for _, f in zip(range(frames), read_frames(video, fps=25)):
        faces = tracker.detect(f)
        pics.append(f)
        marks.append(faces[0].landmarks[:, :2] if faces else None)
    gap = np.array([np.nan if m is None else np.linalg.norm(m[159] - m[145])
                    / max(np.linalg.norm(m[33] - m[133]), 1e-6) for m in marks])
    median = np.nanmedian(gap)
    shut, open_, tone = [], [], []
    for i, m in enumerate(marks):
        if m is None or not gap[i] < SHUT * median:
            continue
        before = [k for k in range(max(0, i - LOOK_BACK), i) if gap[k] > OPEN * median]
        if before:
            eye = marks[before[-1]][topo.RIGHT_EYE]
            reading = (lid_over_skin(pics[i], eye), lid_over_skin(pics[before[-1]], eye),
                       lid_tone(pics[i], eye, m[list(topo.SKIN_POINTS)]))
            if np.isfinite(reading).all():
                shut.append(reading[0])
                open_.append(reading[1])
                tone.append(reading[2])
    return shut, open_, tone


def rendered(path: Path, basis) -> dict[str, tuple[float, float]]:
    """{renderer: (lid over the skin ring, lid over the face's skin)} of a portrait's own pose
    and expression with both eyes shut, each the mean of its two eyes."""
    from vasa.latent.face_model import decode_canonical, placer
    from vasa.portrait import load_portrait
    from vasa.render import RenderConfig, Renderer

    p = load_portrait(path, 512, basis=basis)
    rest = placer(p.pose, p.size)(decode_canonical(p.canonical, p.dynamics, p.dynamics, basis))
    dyn = p.dynamics.copy()
    dyn[basis.layout.eyes] = 0.0
    out = {}
    for name, cfg in (("drawn", RenderConfig(refiner=False)), ("eye refiner", RenderConfig())):
        frame = Renderer(p, basis, cfg).render(p.pose, dyn)
        eyes = [rest[e, :2] for e in (topo.RIGHT_EYE, topo.LEFT_EYE)]
        out[name] = (float(np.nanmean([lid_over_skin(frame, e) for e in eyes])),
                     float(np.nanmean([lid_tone(frame, e, rest[list(topo.SKIN_POINTS), :2])
                                       for e in eyes])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("videos", nargs="*", type=Path)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--portraits", action="store_true",
                    help="also the drawn and refined shut lids of every portrait")
    args = ap.parse_args()
    videos = args.videos or [i.video for i in read_manifest(DATA / "MANIFEST.tsv", kinds=("clips",))
                             if is_validation(speaker_of(i))]
    print("| video | shut frames | shut lid / skin ring | same place, eye open | "
          "shut lid / face skin |\n|---|---|---|---|---|")
    with FaceLandmarker() as tracker:
        for video in videos:
            shut, open_, tone = measure(video, args.frames, tracker)
            if shut:
                print(f"| {video.name} | {len(shut)} | {np.mean(shut):.2f} | "
                      f"{np.mean(open_):.2f} | {np.mean(tone):.2f} |", flush=True)
            else:
                print(f"| {video.name} | 0 | n/a | n/a | n/a |", flush=True)
    if not args.portraits:
        return
    from vasa.latent.basis import default_basis

    basis = default_basis()
    print("\n| portrait | drawn: lid / skin ring | drawn: lid / face skin | refined: lid / skin "
          "ring | refined: lid / face skin |\n|---|---|---|---|---|")
    paths = sorted((DATA / "portraits").iterdir()) + [ROOT / "src/vasa/assets/astronaut.jpg"]
    for path in paths:
        r = rendered(path, basis)
        print(f"| {path.stem} | {r['drawn'][0]:.2f} | {r['drawn'][1]:.2f} | "
              f"{r['eye refiner'][0]:.2f} | {r['eye refiner'][1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
