"""Benchmark the renderer alone: frames/s of `Renderer.render` and where a frame's time goes.

    python benchmarks/bench_render.py [--size 512] [--frames 300] [--json render.json]

Prints a markdown table. The target (>= 200 frames/s at 512x512) is reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")  # quiet MediaPipe before it is imported

from vasa.bench import DEFAULT_DRIVING, DEFAULT_PORTRAIT, bench_render, format_render_bench


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--portrait", type=Path, default=DEFAULT_PORTRAIT,
                    help="portrait image (default: the bundled astronaut.jpg)")
    ap.add_argument("--driving", type=Path, default=DEFAULT_DRIVING,
                    help="video whose tracked motion drives the portrait "
                         "(default: the bundled obama_address_8s.mp4)")
    ap.add_argument("--size", type=int, default=512, help="frame side in pixels (default 512)")
    ap.add_argument("--frames", type=int, default=300,
                    help="frames to time; the driving motion is cycled to this length")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers as JSON")
    args = ap.parse_args(argv)
    result = bench_render(args.portrait, args.size, args.frames, args.driving)
    print(format_render_bench(result))
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")


if __name__ == "__main__":
    main()
