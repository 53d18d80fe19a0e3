"""Benchmark the whole reenactment pipeline (decode + track + render + encode) end to end.

    python benchmarks/bench_reenact.py [--seconds 4] [--out result.mp4] [--json reenact.json]

Prints a markdown table. The target (>= 40 frames/s overall) is reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")  # quiet MediaPipe before it is imported

from vasa.bench import DEFAULT_DRIVING, DEFAULT_PORTRAIT, bench_reenact, format_reenact_bench


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--portrait", type=Path, default=DEFAULT_PORTRAIT,
                    help="portrait image (default: the bundled astronaut.jpg)")
    ap.add_argument("--driving", type=Path, default=DEFAULT_DRIVING,
                    help="driving video (default: the bundled obama_address_8s.mp4)")
    ap.add_argument("--seconds", type=float,
                    help="use only the first SECONDS of the driving video (default: all of it)")
    ap.add_argument("--out", type=Path,
                    help="keep the rendered mp4 here (default: a temporary file, deleted)")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers as JSON")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "reenact.mp4"
        result = bench_reenact(args.portrait, args.driving, out, args.seconds)
    print(format_reenact_bench(result))
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")


if __name__ == "__main__":
    main()
