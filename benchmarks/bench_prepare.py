"""Throughput of `vasa prepare`: frames prepared per second per worker, 1 vs 2 workers.

    python benchmarks/bench_prepare.py [--clips 8] [--json OUT]

Both runs prepare the same clips from ../shared/data (audio features included) into fresh
temporary datasets in one invocation, so the scaling ratio is measured side by side. The target
(>= 25 frames/s per worker, real time) is reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

from vasa.data.prepare import PrepareConfig, prepare
from vasa.data.sources import read_manifest_items

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TARGET = 25.0


def run(items, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        reports = prepare(items, Path(tmp) / "ds", PrepareConfig(), workers=workers,
                          progress=False)
        wall = time.perf_counter() - t0
    frames = sum(r.frames_total for r in reports)
    return {"workers": workers, "clips": len(reports), "frames": frames, "seconds": wall,
            "fps": frames / wall, "fps_per_worker": frames / wall / workers}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", type=Path, default=DATA / "MANIFEST.tsv", help="source manifest")
    ap.add_argument("--clips", type=int, default=8, help="clips to prepare (varied sizes)")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers as JSON")
    args = ap.parse_args()
    items = [i for i in read_manifest_items(args.manifest, ("clips",))]
    items = items[:: max(1, len(items) // args.clips)][: args.clips]  # spread over sources
    rows = [run(items, 1), run(items, 2)]
    print(f"### vasa prepare: {len(items)} clips, audio features included "
          f"({os.cpu_count()} CPUs)\n")
    print("| workers | frames | seconds | frames/s | frames/s per worker |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['workers']} | {r['frames']} | {r['seconds']:.1f} | {r['fps']:.1f} "
              f"| {r['fps_per_worker']:.1f} |")
    scale = rows[1]["fps"] / rows[0]["fps"]
    ok = "meets" if rows[0]["fps_per_worker"] >= TARGET else "misses"
    print(f"\nscaling 1 -> 2 workers: {scale:.2f}x; one worker {ok} the {TARGET:g} frames/s target")
    if args.json:
        args.json.write_text(json.dumps({"runs": rows, "scaling": scale}, indent=2) + "\n")


if __name__ == "__main__":
    main()
