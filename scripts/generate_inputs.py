"""Run `vasa generate` on every STEM.png + STEM.wav of a folder (e.g. the held-out inputs that
scripts/quality_table.py writes to out/quality/inputs), writing OUT/STEM.mp4.

    python scripts/generate_inputs.py --inputs out/quality/inputs --out out/quality/vasa
    python scripts/quality_table.py --method vasa=out/quality/vasa
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from vasa.motion.controls import Controls
from vasa.pipelines.generate import GenerateConfig, generate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inputs", type=Path, default=Path("out/quality/inputs"),
                    help="folder of STEM.png portraits with STEM.wav speech")
    ap.add_argument("--out", type=Path, default=Path("out/quality/vasa"), help="output folder")
    ap.add_argument("--steps", type=int, default=10, help="sampling steps (10)")
    ap.add_argument("--cfg-audio", type=float, default=1.0, help="audio guidance (1.0)")
    ap.add_argument("--cfg-gaze", type=float, default=1.0, help="gaze guidance (1.0)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (0)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pngs = sorted(args.inputs.glob("*.png"))
    if not pngs:
        raise SystemExit(f"{args.inputs}: no STEM.png inputs (run scripts/quality_table.py first)")
    for png in pngs:
        wav = png.with_suffix(".wav")
        t0 = time.perf_counter()
        # crop: the quality table scores the aligned crop (as before issue 13's framing).
        cfg = GenerateConfig(crop=True,
                             controls=Controls(steps=args.steps, cfg_audio=args.cfg_audio,
                                               cfg_gaze=args.cfg_gaze, seed=args.seed))
        res = generate(png, wav, args.out / f"{png.stem}.mp4", cfg, progress=False)
        print(f"{png.stem}: {res.frames} frames in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
