"""How light is a real shut upper lid against the skin round the eye? (model-free, #13)

    python scripts/real_shut_lids.py [VIDEO ...] [--frames 200]

Per video (25 fps, the first `--frames`; default: the held-out talking clips of the manifest):
the frames whose right eye is shut (lid gap under 0.35 of the clip's median, over the eye's
width), each against the last open frame (over 0.9 of the median) at most 12 frames before it,
whose eye outline stands for where the eye is (little moves in half a second). On both: the
mean luma of the upper half of that outline (grown 0.05 eye widths) over the ring of skin round
it (0.1 eye widths deep, pixels under 0.7 of the ring's median left out: lashes, brows), the
geometry of `evaluation.lid_seam`. A drawn or refined shut lid should read as the real ones do.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

from vasa.data.manifest import is_validation, read_manifest, speaker_of
from vasa.io import read_frames
from vasa.latent import topology as topo
from vasa.tracking import FaceLandmarker

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SHUT, OPEN = 0.35, 0.9  # lid gap over its clip's median: shut under, open over
LOOK_BACK = 12  # frames searched back for the open eye


def lid_over_skin(frame: np.ndarray, eye: np.ndarray) -> float:
    """Mean luma of the upper half of the eye outline `eye` (16, 2) over the skin round it."""
    width = float(np.ptp(eye[:, 0]))
    grow, ring = max(1, round(0.05 * width)), max(3, round(0.1 * width))
    area = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(area, [np.round(eye).astype(np.int32)], 1)
    area = cv2.dilate(area, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    around = cv2.dilate(area, np.ones((2 * ring + 1, 2 * ring + 1), np.uint8)) > area
    luma = frame.astype(np.float32).mean(2)
    skin = luma[around]
    skin = skin[skin >= 0.7 * np.median(skin)].mean()
    upper = np.arange(frame.shape[0])[:, None] < (eye[0, 1] + eye[8, 1]) / 2
    return float(luma[(area > 0) & upper].mean() / skin)


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
            shut.append(lid_over_skin(pics[i], eye))
            open_.append(lid_over_skin(pics[before[-1]], eye))
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
