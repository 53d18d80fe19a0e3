"""Cross-identity reenactment contact sheets (VASA-1 Fig. 4 and 5).

Each portrait (a colour photo, a black-and-white photo, a painting) is driven by two real clips
from ../shared/data; each sheet shows the driving frames on top and the portrait below at
evenly spaced times, plus a Fig. 5 row: pose only and dynamics only.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from vasa.io import atomic_output, read_frames
from vasa.latent.basis import default_basis
from vasa.latent.retarget import retarget
from vasa.pipelines.reenact import letterbox
from vasa.portrait import load_portrait
from vasa.render import Renderer
from vasa.tracking.video import track_video

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PORTRAITS = {
    "colour photo": "portraits/V-Express__test_samples__short_case__tys__ref.jpg",
    "b/w photo": "portraits/MakeItTalk__examples__audrey.jpg",
    "painting": "portraits/LivePortrait__assets__examples__source__s3.jpg",
}
DRIVERS = ["clips/LivePortrait__assets__examples__driving__d6.mp4",
           "clips/EDTalk__test_data__uncrop_Obama.mp4"]


def sheet(portrait_path: Path, driver: Path, n: int, size: int, seconds: float) -> np.ndarray:
    """Rows: driving frames, full transfer, pose only, dynamics only (n columns)."""
    basis = default_basis()
    portrait = load_portrait(portrait_path, size, basis=basis)
    renderer = Renderer(portrait, basis)
    tracked = track_video(driver, 25.0, basis)
    t = min(len(tracked.motion), int(seconds * 25))
    idx = np.linspace(0, t - 1, n).astype(int)
    frames = [f for _, f in zip(range(t), read_frames(driver, fps=25.0, max_side=size))]
    rows = [[letterbox(frames[i], size) for i in idx]]
    for pose_on, dyn_on in ((True, True), (True, False), (False, True)):
        m = retarget(portrait.pose, portrait.dynamics, tracked.motion[:t], basis.num_pca,
                     transfer_pose=pose_on, transfer_dynamics=dyn_on)
        rows.append([renderer.render(m.pose[i], m.dynamics[i]) for i in idx])
    return np.concatenate([np.concatenate(r, 1) for r in rows], 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out-dir", default="/tmp/vasa_sheets", help="where the PNG sheets go")
    ap.add_argument("--columns", type=int, default=6, help="frames per row")
    ap.add_argument("--size", type=int, default=256, help="frame side in the sheet")
    ap.add_argument("--seconds", type=float, default=8.0, help="span of each clip used")
    args = ap.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for kind, rel in PORTRAITS.items():
        for drv in DRIVERS:
            img = sheet(DATA / rel, DATA / drv, args.columns, args.size, args.seconds)
            name = f"{kind.replace('/', '').replace(' ', '_')}__{Path(drv).stem[-12:]}.png"
            with atomic_output(out / name) as tmp:
                cv2.imwrite(os.fspath(tmp), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            print(f"{out / name}: {kind} {Path(rel).name} driven by {Path(drv).name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
