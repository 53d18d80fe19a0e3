"""Do the generated eyelids droop between blinks? The lids' level on held-out speech (#13).

For each of the cross-identity evaluation's held-out speeches (first SECONDS), the motion
engine's eyelid ratios on the bundled portrait (the engine alone, no render, no lid
calibration: ratio 1 is the portrait's rest), and the real speaker's re-tracked from the clip's
video (ratio to that speaker's median). Columns: the share of open frames (ratio over 0.6)
under 0.85, and the lowest and highest per-second median ratio. Real speakers' stay within
0.84-1.10; `engine.level_lids` soft-limits the generated level to 1 +- 0.12.

    PYTHONPATH=src python scripts/lid_level.py [--work out/lid_level]

Run it with another tree's `src` on PYTHONPATH for a before/after in one session.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")  # quiet MediaPipe before it is imported

ROOT = Path(__file__).resolve().parents[1]
KNEE = 0.85  # refine's BLINK_KNEE: under it a generated dip counts as closing
OPEN = 0.6  # frames over this ratio count as open (blinks left out)


def level_stats(ratio: np.ndarray, fps: int = 25) -> tuple[float, float, float]:
    """(share of open frames under KNEE, lowest, highest per-second median) of ratios (T,)."""
    open_ = ratio[ratio > OPEN]
    per_second = [np.median(ratio[i:i + fps]) for i in range(0, len(ratio) - fps // 2, fps)]
    return float((open_ < KNEE).mean()), float(min(per_second)), float(max(per_second))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=ROOT / "out" / "lid_level")
    args = ap.parse_args()
    from cross_identity_eval import DATA, SECONDS, SPEECHES, cut_speeches

    from vasa.audio import get_extractor
    from vasa.io import load_audio
    from vasa.latent.basis import default_basis
    from vasa.motion.checkpoint import DEFAULT_MODEL, load_model
    from vasa.motion.engine import MotionEngine
    from vasa.pipelines.config import GenerateConfig
    from vasa.portrait import load_portrait
    from vasa.tracking.video import track_video

    basis = default_basis()
    extractor = get_extractor()
    model = load_model(DEFAULT_MODEL, extractor.spec.id, basis.version)
    portrait = load_portrait(ROOT / "src" / "vasa" / "assets" / "astronaut.jpg", basis=basis)
    rest = portrait.talking_rest(basis)
    eyes = basis.layout.eyes
    print("| speech | generated: open frames under 0.85 | lowest / highest per second | "
          "real: open frames under 0.85 | lowest / highest per second |")
    print("|---|---|---|---|---|")
    for speech in cut_speeches(SPEECHES, DATA / "MANIFEST.tsv", SECONDS, args.work):
        engine = MotionEngine(model, extractor, portrait.pose, rest, GenerateConfig().controls)
        audio = load_audio(speech.wav, 16000)
        frames = engine.push(audio) + engine.flush()
        generated = np.stack([f.dynamics[eyes] for f in frames]) / rest[eyes]
        g = level_stats(generated.mean(1))
        tracked = track_video(speech.video, fps=25, basis=basis)
        n = min(len(frames), len(tracked.found))
        real = tracked.motion.dynamics[:n][tracked.found[:n]][:, eyes].mean(1)
        r = level_stats(real / np.median(real))
        print(f"| {speech.spec.key} | {g[0]:.2f} | {g[1]:.2f} / {g[2]:.2f} | {r[0]:.2f} | "
              f"{r[1]:.2f} / {r[2]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
