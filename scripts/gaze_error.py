"""Gaze control error, re-tracked from the video (issue 12; VASA-1 Table 5's gaze error).

For each portrait and each named direction, `vasa generate --gaze NAME` on the speech; the
video is re-tracked and its median gaze (head + eyes, `gaze_angles`) compared with the request
(the model's forward gaze plus the named offset). Prints one line per video and the mean error.

    python scripts/gaze_error.py SPEECH.wav PORTRAIT [PORTRAIT ...]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from vasa.cli import main as vasa
from vasa.data.conditions import gaze_angles
from vasa.latent.basis import default_basis
from vasa.motion.checkpoint import load_model
from vasa.motion.controls import GAZE_NAMES
from vasa.tracking.video import track_video


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("speech", help="speech audio (a few seconds are enough)")
    ap.add_argument("portraits", nargs="+", help="portrait images")
    ap.add_argument("--size", type=int, default=256, help="video side (256)")
    args = ap.parse_args()
    basis = default_basis()
    forward = np.array(load_model().info.get("gaze_forward", (0.0, 0.0)))
    with tempfile.TemporaryDirectory() as tmp:
        for portrait in args.portraits:
            errors = []
            for name, offset in GAZE_NAMES.items():
                out = Path(tmp) / f"{name}.mp4"
                vasa(["generate", portrait, args.speech, "-o", str(out), "-q", "--crop",
                      "--size", str(args.size), "--gaze", name])
                tracked = track_video(out, fps=25, basis=basis)
                seen = np.median(gaze_angles(tracked.motion.dynamics[tracked.found],
                                             tracked.motion.pose[tracked.found]), 0)
                want = forward + np.array(offset)
                errors.append(float(np.degrees(np.linalg.norm(seen - want))))
                print(f"{Path(portrait).name} {name}: asked {np.degrees(want).round(1)} deg, "
                      f"seen {np.degrees(seen).round(1)}, error {errors[-1]:.1f}")
            print(f"{Path(portrait).name}: mean error {np.mean(errors):.1f} degrees")


if __name__ == "__main__":
    main()
