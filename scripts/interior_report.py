"""How dark open mouths are inside, real videos beside rendered ones (model-free).

    python scripts/interior_report.py NAME=VIDEO ... [--seconds 12] [--out REPORT.md]

Per video (25 fps, first `--seconds`): frames whose inner lips are at least
`evaluation.interior.WIDE` apart, and the median core-over-lips luma there
(`evaluation.interior.read_interior`); the same at middling openings (0.08 IOD to WIDE). A real
speaker's wide mouth is dark inside; a smeared one is nearly as light as the lips.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vasa.evaluation.interior import WIDE, read_interior
from vasa.io import atomic_output, read_frames
from vasa.tracking import FaceLandmarker

MIDDLING = 0.08  # IOD: from here to WIDE an opening shows some inside


def readings(video: Path, seconds: float, tracker: FaceLandmarker) -> np.ndarray:
    """(T, 2): opening (IOD) and core ratio (nan where unread) per frame with a face."""
    out = []
    for i, frame in enumerate(read_frames(video, fps=25)):
        if i >= seconds * 25:
            break
        faces = tracker.detect(frame)
        if faces:
            r = read_interior(frame, faces[0].landmarks)
            out.append((r.opening, np.nan if r.core_ratio is None else r.core_ratio))
    return np.array(out, np.float64).reshape(-1, 2)


def row(name: str, r: np.ndarray) -> str:
    def med(sel: np.ndarray) -> str:
        v = r[sel, 1]
        v = v[np.isfinite(v)]
        return f"{np.median(v):.2f} ({len(v)})" if len(v) else "n/a (0)"
    wide, mid = r[:, 0] >= WIDE, (r[:, 0] >= MIDDLING) & (r[:, 0] < WIDE)
    return f"| {name} | {len(r)} | {wide.mean():.0%} | {med(wide)} | {med(mid)} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("videos", nargs="+", help="videos (NAME=PATH to label one)")
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--out", type=Path, help="also write the table here (markdown)")
    args = ap.parse_args()
    head = (f"| video | frames | wide (>= {WIDE:.2f} IOD) | core / lips luma, wide (frames) | "
            f"core / lips, {MIDDLING:.2f}-{WIDE:.2f} (frames) |")
    lines = [head, "|---|---|---|---|---|"]
    with FaceLandmarker() as tracker:
        for spec in args.videos:
            name, _, path = spec.rpartition("=")
            path = Path(path)
            if not path.is_file():
                raise SystemExit(f"interior_report: no such video: {path}")
            lines.append(row(name or path.stem, readings(path, args.seconds, tracker)))
            print(lines[-1], flush=True)
    if args.out:
        with atomic_output(args.out) as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
