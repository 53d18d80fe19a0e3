"""Cross-identity reenactment, measured on the video (VASA-1 Fig. 4): does the portrait's mouth
open as the driver's, and how far does its head slide across the still picture?

Each portrait is driven by one clip twice in one run: with `vasa reenact`'s defaults and with
the transfer of the release before them (`--shift-limit -1 --relative-mouth`: the driver's
whole head shift, the driver's change of mouth opening added to the portrait's own). Both
videos and the driver are re-tracked; per portrait:
  opening mean - the inner-lip gap in eye distances (`evaluation.mouth_metrics`), the driver's
                 in the header;
  |diff|, corr - mean absolute difference from the driver's opening, frame by frame, and the
                 correlation with it;
  shift p99    - the 99th percentile of the head's shift from the portrait's (the motion's
                 TX, TY over its face size, SCALE), in face sizes.
Writes benchmarks/results/reenact_eval.md; videos go to --keep (for contact sheets with
scripts/video_sheet.py).

    python scripts/reenact_eval.py [--driver CLIP] [--keep out/reenact_eval]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np

from vasa.evaluation import mouth_metrics as mo
from vasa.evaluation.evaluate import identity_shapes
from vasa.files import atomic_output
from vasa.latent.basis import default_basis
from vasa.latent.motion import SCALE, TX, TY
from vasa.latent.retarget import DriverReference, limit_shift, retarget
from vasa.pipelines.config import ReenactConfig
from vasa.pipelines.reenact import reenact
from vasa.portrait import load_portrait
from vasa.tracking.video import track_video

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DRIVER = DATA / "clips" / "LivePortrait__assets__examples__driving__d12.mp4"
# Open mouths (caught mid-word, a smile with teeth), a closed-mouth photo, a painting.
PORTRAITS = {
    "aoc_open": "V-Express__test_samples__short_case__AOC__ref.jpg",
    "smile_menglu2": "dreamtalk__data__src_img__cropped__menglu2.png",
    "macron_open": "Real3DPortrait__data__raw__examples__Macron.png",
    "obama_photo": "Audio2Head__demo__img__obama.jpg",
    "painting_s3": "LivePortrait__assets__examples__source__s3.jpg",
}
METHODS = {"before": replace(ReenactConfig(), shift_limit=None, mouth="relative"),
           "now": ReenactConfig()}


def opening(video: Path) -> np.ndarray:
    """Re-tracked inner-lip gap (T,) of a video, in eye distances."""
    basis = default_basis()
    tracked = track_video(video, fps=25, basis=basis)
    t = len(tracked.found)
    residual = mo.opening_residual(identity_shapes(video, t, 8, basis), basis)
    return mo.mouth_opening(tracked.motion.dynamics, basis, residual)


def head_shift(portrait_path: Path, driver_motion, cfg: ReenactConfig) -> float:
    """99th percentile of the head's shift from the portrait's, in face sizes, as `reenact`
    retargets it (the reference: the driver's first `cfg.reference_s` seconds)."""
    basis = default_basis()
    portrait = load_portrait(portrait_path, cfg.size, basis=basis, framed=not cfg.crop)
    reference = DriverReference.of(driver_motion[:round(cfg.reference_s * 25)], basis.num_pca)
    m = retarget(portrait.pose, portrait.dynamics, driver_motion, basis.num_pca,
                 reference=reference)
    if cfg.shift_limit is not None:
        m.pose = limit_shift(m.pose, portrait.pose, cfg.shift_limit)
    shift = np.linalg.norm(m.pose[:, TX:TY + 1] - portrait.pose[TX:TY + 1], axis=1)
    return float(np.percentile(shift / portrait.pose[SCALE], 99))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--driver", type=Path, default=DRIVER, help="driving clip (LivePortrait d12)")
    ap.add_argument("--keep", type=Path, help="keep the videos in this folder")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "reenact_eval.md")
    args = ap.parse_args()
    driver = opening(args.driver)
    motion = track_video(args.driver, fps=25, basis=default_basis()).motion
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for label, name in PORTRAITS.items():
            for method, cfg in METHODS.items():
                video = folder / f"{label}__{method}.mp4"
                reenact(DATA / "portraits" / name, args.driver, video, cfg, progress=False)
                o = opening(video)
                n = min(len(o), len(driver))
                rows.append((label, method, float(o.mean()), float(np.abs(o[:n] - driver[:n]).mean()),
                             float(np.corrcoef(o[:n], driver[:n])[0, 1]),
                             head_shift(DATA / "portraits" / name, motion, cfg)))
                print(*rows[-1], flush=True)
    lines = [f"# Reenactment by {args.driver.name}: the mouth against the driver's, the head's shift",
             "", (f"Reproduce: `python scripts/reenact_eval.py` (driver {args.driver.name}, "
             f"{len(driver)} frames; its re-tracked mouth opening: mean {driver.mean():.3f}, "
             f"10-90% {np.percentile(driver, 10):.3f}-{np.percentile(driver, 90):.3f} eye "
             "distances)."), "",
             ("before = `--shift-limit -1 --relative-mouth` (the previous release's transfer); "
             "now = the defaults."), "",
             ("| portrait | method | opening mean | mean abs diff from driver | corr with driver "
             "| head shift p99 (face sizes) |"), "|---|---|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c:.3f} | {d:.3f} | {e:.2f} | {f:.2f} |"
              for a, b, c, d, e, f in rows]
    with atomic_output(args.out) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
