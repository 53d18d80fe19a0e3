"""Contact sheet of videos at common times: per video a row of whole frames, a row of zoomed
mouths and a row of zoomed eyes (the renderer's own mouth crop and eye band, placed on
landmarks re-tracked from each frame), so that a real speaker and generated videos of the same
speech can be compared by eye.

    python scripts/video_sheet.py VIDEO [VIDEO ...] [--times 0.8 1.8 ...] [--out out/sheet.png]

Give the real video of the speech first to compare against it. Labels are the file names (or
NAME=VIDEO). A frame where no face is found keeps its whole frame and leaves the zooms grey;
a zoom is grey where it passes the frame's edge.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from vasa.io import atomic_output, read_frames
from vasa.render import eye_crop, mouth_crop
from vasa.tracking import FaceLandmarker

TILE = 160  # px (default): a whole frame's long side, a mouth zoom's side; the eye band is
#              TILE x TILE/2


def _whole(frame: np.ndarray, tile: int) -> np.ndarray:
    h, w = frame.shape[:2]
    s = tile / max(h, w)
    small = cv2.resize(frame, (max(int(w * s), 1), max(int(h * s), 1)),
                       interpolation=cv2.INTER_AREA)
    out = np.full((tile, tile, 3), 255, np.uint8)
    out[:small.shape[0], :small.shape[1]] = small
    return out


def _outside_grey(zoom: np.ndarray, frame: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """`zoom` (the renderer's crop of `frame` through `affine`) grey where it passes the
    frame's edge: the crops replicate the edge there, which drew streaks under a chin near the
    bottom of a tight headshot that the video does not have."""
    h, w = zoom.shape[:2]
    inside = cv2.warpAffine(np.ones(frame.shape[:2], np.uint8), affine, (w, h),
                            flags=cv2.INTER_NEAREST, borderValue=0)
    return np.where(inside[..., None] > 0, zoom, np.uint8(128))


def _zooms(frame: np.ndarray | None, landmarks: np.ndarray | None, tile: int
           ) -> tuple[np.ndarray, np.ndarray]:
    if landmarks is None:
        return (np.full((tile, tile, 3), 128, np.uint8),
                np.full((tile // 2, tile, 3), 128, np.uint8))
    a = mouth_crop.mouth_affine(landmarks)
    mouth = _outside_grey(mouth_crop.crop(frame, a), frame, a)
    a = eye_crop.eye_affine(landmarks)
    eyes = _outside_grey(eye_crop.crop(frame, a), frame, a)
    return (cv2.resize(mouth, (tile, tile), interpolation=cv2.INTER_CUBIC),
            cv2.resize(eyes, (tile, tile // 2), interpolation=cv2.INTER_CUBIC))


def named_video(spec: str, script: str) -> tuple[str, Path]:
    """(label, path) of a NAME=VIDEO or VIDEO argument (the label then the file's stem); a
    missing file ends `script` with a message naming it."""
    name, _, path = spec.rpartition("=")
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"{script}: no such video: {path}")
    return name or path.stem, path


def table_args(doc: str) -> argparse.Namespace:
    """The command line of a per-video report (`video_table`): NAME=VIDEO ..., --seconds read
    from each (12), --out for the markdown table."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("videos", nargs="+", help="videos (NAME=PATH to label one)")
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--out", type=Path, help="also write the table here (markdown)")
    return ap.parse_args()


def slashed(values: np.ndarray) -> str:
    """Values as a table cell, "a / b / c" to two places, n/a for nan."""
    return " / ".join("n/a" if np.isnan(v) else f"{v:.2f}" for v in values)


def video_table(specs: list[str], script: str, head: list[str],
                row: Callable[[str, Path, FaceLandmarker], str], out: Path | None) -> None:
    """A markdown table with one row per NAME=VIDEO of `specs` (`row(name, path, tracker)`),
    under the lines of `head`: each row printed as it comes, the table written to `out` (if
    given) once complete."""
    lines = list(head)
    with FaceLandmarker() as tracker:
        for spec in specs:
            lines.append(row(*named_video(spec, script), tracker))
            print(lines[-1], flush=True)
    if out:
        with atomic_output(out) as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n")


def block(video: Path, name: str, times: list[float], tracker: FaceLandmarker,
          tile: int = TILE) -> np.ndarray:
    """Three rows (whole, mouth, eyes) of `video` at `times` (seconds, 25 fps frames)."""
    want = {round(t * 25): k for k, t in enumerate(times)}
    tiles: list = [None] * len(times)
    for i, frame in enumerate(read_frames(video, fps=25)):
        if i in want:
            faces = tracker.detect(frame)
            tiles[want[i]] = (_whole(frame, tile),
                           *_zooms(frame, faces[0].landmarks if faces else None, tile))
        if i >= max(want):
            break
    blank = (np.full((tile, tile, 3), 255, np.uint8), *_zooms(None, None, tile))
    tiles = [t or blank for t in tiles]  # the video ended before this time
    rows = [np.concatenate([t[r] for t in tiles], 1) for r in range(3)]
    img = np.concatenate(rows, 0)
    cv2.rectangle(img, (0, 0), (min(len(name) * 8 + 8, img.shape[1]), 18), (0, 0, 0), -1)
    cv2.putText(img, name, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1,
                cv2.LINE_AA)
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("videos", nargs="+", help="videos (NAME=PATH to label one)")
    ap.add_argument("--times", type=float, nargs="+",
                    default=[0.8, 1.8, 2.8, 3.8, 4.8, 5.8, 6.8, 7.6], help="seconds")
    ap.add_argument("--out", type=Path, default=Path("out/video_sheet.png"))
    ap.add_argument("--tile", type=int, default=TILE,
                    help=f"px: a whole frame's long side and a mouth zoom's side ({TILE})")
    args = ap.parse_args()
    blocks = []
    with FaceLandmarker() as tracker:
        for spec in args.videos:
            name, path = named_video(spec, "video_sheet")
            blocks.append(block(path, name, args.times, tracker, args.tile))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.out) as tmp:
        cv2.imwrite(os.fspath(tmp), cv2.cvtColor(np.concatenate(blocks, 0), cv2.COLOR_RGB2BGR))
    print(args.out)


if __name__ == "__main__":
    main()
