"""Re-tracked mouth opening of videos, side by side: mean and percentiles (inter-ocular units).

    python scripts/opening_distribution.py REAL.mp4 GENERATED.mp4 ... [--frames 200]

Each video is tracked at 25 fps; the opening is the inner-lip gap read from the tracked
dynamics plus the face's own residual (`evaluation.mouth_metrics`), as the cross-identity
evaluation measures it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vasa.evaluation import mouth_metrics as mo
from vasa.evaluation.evaluate import identity_shapes
from vasa.latent.basis import default_basis
from vasa.tracking.video import track_video


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("videos", nargs="+", type=Path)
    ap.add_argument("--frames", type=int, default=200, help="first frames measured (200)")
    args = ap.parse_args()
    basis = default_basis()
    for video in args.videos:
        tracked = track_video(video, fps=25, basis=basis)
        t = min(args.frames, len(tracked.found))
        residual = mo.opening_residual(identity_shapes(video, t, 12, basis), basis)
        o = mo.mouth_opening(tracked.motion.dynamics[:t], basis, residual)
        pct = np.percentile(o, [10, 50, 90])
        print(f"{video.name[:40]:40s} mean {o.mean():.3f}  p10/50/90 {pct.round(3)}  "
              f"share over 0.06 {(o > 0.06).mean():.2f}")


if __name__ == "__main__":
    main()
