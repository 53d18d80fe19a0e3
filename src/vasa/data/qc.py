"""Quality control of a tracked clip: choosing the speaker's face, shot cuts, segments, audio."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vasa.tracking import FaceObservation

MIN_FACE_PX = 64  # the renderer's own limit: smaller faces carry too little detail
MIN_SEGMENT_FRAMES = 25  # 1 s at 25 fps; shorter runs are too short to learn motion from
CUT_HIST_DISTANCE = 0.45  # Bhattacharyya distance of frame colour histograms at a shot cut
CUT_FACE_JUMP = 0.6  # face centre moving more than this x face size in one frame: a cut
SIMILAR_FACE_RATIO = 0.8  # a second face this large is as likely to be the speaker
AMBIGUOUS_SHARE = 0.2  # ... and when that holds in this share of frames we drop the clip
SILENT_DBFS = -45.0  # whole-clip RMS level below which the audio counts as near-silent
AV_TOLERANCE_S = 0.1


def frame_signature(frame: np.ndarray) -> np.ndarray:
    """A small hue-saturation histogram of a frame, for shot-cut detection."""
    small = cv2.resize(frame, (64, 64), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
    return cv2.normalize(hist, None).astype(np.float32)


def is_cut(prev: np.ndarray, cur: np.ndarray) -> bool:
    return cv2.compareHist(prev, cur, cv2.HISTCMP_BHATTACHARYYA) > CUT_HIST_DISTANCE


@dataclass
class FacePick:
    """The speaker's face per frame (None where there is none) and what was seen besides it."""

    faces: list[FaceObservation | None]
    other_face_frames: int
    similar_face_frames: int


def pick_speaker(per_frame: list[list[FaceObservation]]) -> FacePick:
    """Follow one face through the clip: the largest at first, then the one nearest to where the
    followed face last was (MediaPipe's own order is by size and may swap between frames)."""
    out: list[FaceObservation | None] = []
    last: np.ndarray | None = None
    other = similar = 0
    for faces in per_frame:
        if not faces:
            out.append(None)
            continue
        if last is None:
            face = faces[0]
        else:
            face = min(faces, key=lambda f: float(np.linalg.norm(f.landmarks[:, :2].mean(0) - last)))
        if len(faces) > 1:
            other += 1
            rest = max(f.size for f in faces if f is not face)
            similar += rest >= SIMILAR_FACE_RATIO * face.size
        last = face.landmarks[:, :2].mean(0)
        out.append(face)
    return FacePick(out, other, similar)


def segments(valid: np.ndarray, cuts: np.ndarray) -> list[tuple[int, int]]:
    """Runs [start, stop) of valid frames, split at cuts (cuts[i]: a cut before frame i)."""
    runs, start = [], None
    for i, ok in enumerate(valid):
        if start is not None and (not ok or cuts[i]):
            runs.append((start, i))
            start = None
        if ok and start is None:
            start = i
    if start is not None:
        runs.append((start, len(valid)))
    return runs


def rms_dbfs(audio: np.ndarray) -> float:
    """Level of a float waveform in dB relative to full scale."""
    if audio.size == 0:
        return -np.inf
    return float(20 * np.log10(np.sqrt(np.mean(audio.astype(np.float64) ** 2)) + 1e-12))


def folder_gaps(path: Path) -> list[int]:
    """Missing frame numbers in a folder of numbered frames (empty when contiguous or not a
    folder). A gap would silently shift every later frame in time against the audio."""
    if not path.is_dir():
        return []
    nums = sorted(int(m.group()) for p in path.iterdir()
                  if (m := re.search(r"\d+(?=\D*$)", p.stem)) and p.is_file())
    missing = []
    for a, b in itertools.pairwise(nums):
        missing += range(a + 1, b)
    return missing
