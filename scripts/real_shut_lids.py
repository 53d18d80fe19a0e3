"""How light is a real shut upper lid against the skin round the eye? (model-free, #13)

    python scripts/real_shut_lids.py [VIDEO ...] [--frames 200]

Per video (25 fps, the first `--frames`; default: the held-out talking clips of the manifest):
the frames whose right eye is shut (lid gap under 0.35 of the clip's median, over the eye's
width), each against the last open frame (over 0.9 of the median) at most 12 frames before it,
whose eye outline stands for where the eye is (little moves in half a second). On both: the
mean luma of the upper half of that outline (above its corners' line, grown 0.05 eye widths)
over the ring of skin round it (RING eye widths deep, pixels under 0.7 of the ring's median left
out: lashes, brows), the geometry of `evaluation.lid_seam.eye_outline`. A drawn or refined shut lid should read as the real ones do.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

from vasa.data.manifest import is_validation, read_manifest, speaker_of
from vasa.evaluation.lid_seam import eye_outline
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


def measure(video: Path, frames: int, tracker: FaceLandmarker) -> tuple[list[float], list[float]]:
    """(shut, open) lid-over-skin readings of one video."""
    pics, marks = [], []
    for _, f in zip(range(frames), read_frames(video, fps=25)):
        faces = tracker.detect(f)
        pics.append(f)
        marks.append(faces[0].landmarks[:, :2] if faces else None)
    gap = np.array([np.nan if m is None else np.linalg.norm(m[159] - m[145])
                    / max(np.linalg.norm(m[33] - m[133]), 1e-6) for m in marks])
    median = np.nanmedian(gap)
    shut, open_ = [], []
    for i, m in enumerate(marks):
        if m is None or not gap[i] < SHUT * median:
            continue
        before = [k for k in range(max(0, i - LOOK_BACK), i) if gap[k] > OPEN * median]
        if before:
            eye = marks[before[-1]][topo.RIGHT_EYE]
            pair = lid_over_skin(pics[i], eye), lid_over_skin(pics[before[-1]], eye)
            if np.isfinite(pair).all():
                shut.append(pair[0])
                open_.append(pair[1])
    return shut, open_


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("videos", nargs="*", type=Path)
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args()
    videos = args.videos or [i.video for i in read_manifest(DATA / "MANIFEST.tsv", kinds=("clips",))
                             if is_validation(speaker_of(i))]
    print("| video | shut frames | shut lid / skin | same place, eye open |\n|---|---|---|---|")
    with FaceLandmarker() as tracker:
        for video in videos:
            shut, open_ = measure(video, args.frames, tracker)
            if shut:
                print(f"| {video.name} | {len(shut)} | {np.mean(shut):.2f} | "
                      f"{np.mean(open_):.2f} |", flush=True)
            else:
                print(f"| {video.name} | 0 | n/a | n/a |", flush=True)


if __name__ == "__main__":
    main()
