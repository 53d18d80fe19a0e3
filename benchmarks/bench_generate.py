"""End-to-end speed of `vasa generate`: frames per second for a 20 s input at 512 px.

    python benchmarks/bench_generate.py [--seconds 20] [--steps 10] [--crop] [--json OUT]
    python benchmarks/bench_generate.py --portrait PICTURE   # another portrait than the bundled

Stages: setup (model, portrait, renderer), motion (audio features + diffusion sampling with
guidance), render (the crop, and its paste back into the picture unless --crop), encode. The target (>= 45 frames/s, the paper's offline GPU figure) is
reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("GLOG_minloglevel", "2")

from vasa.io import load_audio
from vasa.motion.controls import Controls
from vasa.pipelines.generate import GenerateConfig, generate
from vasa.render import RenderConfig

ASSETS = Path(__file__).resolve().parents[1] / "src" / "vasa" / "assets"
TARGET = 45.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="input length (20)")
    ap.add_argument("--steps", type=int, default=10, help="sampling steps (10)")
    ap.add_argument("--size", type=int, default=512,
                    help="output's long side (512; with --crop the square's side)")
    ap.add_argument("--crop", action="store_true", help="write the aligned square crop")
    ap.add_argument("--portrait", type=Path, default=ASSETS / "astronaut.jpg",
                    help="portrait image (the bundled astronaut)")
    ap.add_argument("--model", default=None, help="motion model file (default: bundled)")
    ap.add_argument("--no-refiner", dest="refiner", action="store_false",
                    help="paint the mouth and keep the drawn lids instead of the learned "
                         "refiners")
    ap.add_argument("--no-eye-refiner", dest="eye_refiner", action="store_false",
                    help="the learned mouth refiner but the drawn lids (the eye refiner's cost "
                         "side by side)")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers as JSON")
    args = ap.parse_args()
    speech = load_audio(ASSETS / "obama_address_8s.mp4")
    n = int(args.seconds * 16000)
    audio = np.tile(speech, -(-n // len(speech)))[:n]  # the bundled speech, looped to length
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        sf.write(wav, audio, 16000)
        cfg = GenerateConfig(size=args.size, crop=args.crop, controls=Controls(steps=args.steps),
                             render=RenderConfig(refiner=args.refiner,
                                                 eye_refiner=args.eye_refiner))
        if args.model:
            cfg.model = args.model
        t0 = time.perf_counter()
        result = generate(args.portrait, wav, Path(tmp) / "out.mp4", cfg, progress=False)
        wall = time.perf_counter() - t0
    frames = result.frames
    framing = f"{args.size}x{args.size} crop" if args.crop else f"{args.size} px picture"
    framing += (", painted mouth" if not args.refiner else
                ", refiners" if args.eye_refiner else ", mouth refiner, drawn lids")
    print(f"### vasa generate: {args.portrait.name}, {args.seconds:g} s of speech, {frames} "
          f"frames, {framing}, {args.steps} steps ({os.cpu_count()} CPUs)\n")
    print("| stage | seconds | ms/frame | share |\n|---|---:|---:|---:|")
    for k, v in result.seconds.items():
        print(f"| {k} | {v:.2f} | {1000 * v / frames:.2f} | {100 * v / wall:.0f}% |")
    print(f"| **total (wall)** | {wall:.2f} | {1000 * wall / frames:.2f} | 100% |")
    fps = frames / wall
    verdict = "meets" if fps >= TARGET else "misses"
    print(f"\n{fps:.1f} frames/s end to end ({verdict} the {TARGET:g} frames/s target); "
          f"{frames / (wall - result.seconds['setup']):.1f} frames/s excluding setup")
    if args.json:
        args.json.write_text(json.dumps({"frames": frames, "wall": wall, "fps": fps,
                                         "seconds": result.seconds}, indent=2) + "\n")


if __name__ == "__main__":
    main()
