"""How many frames a second one `vasa serve` session can make: a `LiveStream` in process (no
transport, no client), its compute jobs on `--workers` threads as the server runs them, fed
one burst of the bundled speech.

    python benchmarks/bench_stream.py [--workers 2] [--seconds 6] [--rounds 2]

Frames are counted after the first 10 (the first window's start-up); real time is 25 frames/s.
The server's own benchmark (`bench_serve.py`) adds the WebSocket transport and a client on the
same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("GLOG_minloglevel", "2")

import torch

from vasa.io import load_audio
from vasa.pipelines.stream import open_session
from vasa.serve.live import LiveConfig, LiveStream
from vasa.timebase import MOTION_FPS, SAMPLE_RATE

ASSETS = os.path.join(os.path.dirname(__file__), "..", "src", "vasa", "assets")
SKIP = 10


async def _burst(session, audio, workers: int) -> float:
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(workers) as pool:
        live = LiveStream(session, LiveConfig(max_ahead_s=1e3, max_buffer_s=1e3,
                                              max_queued_frames=10_000),
                          runner=lambda job: loop.run_in_executor(pool, job))
        await live.put_audio(audio)
        task = asyncio.create_task(live.run())
        total = int(len(audio) / SAMPLE_RATE * MOTION_FPS) - 5  # the look-ahead holds a few
        for i in range(total):
            await live.get_frame()
            if i == SKIP - 1:
                t0 = time.perf_counter()
        wall = time.perf_counter() - t0
        live.close()
        await task
    return (total - SKIP) / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2, help="compute threads (vasa serve: 2)")
    ap.add_argument("--seconds", type=float, default=6.0, help="speech in the burst (6)")
    ap.add_argument("--rounds", type=int, default=2, help="fresh sessions timed (2)")
    args = ap.parse_args()
    torch.set_num_threads(1)  # as `vasa serve`: one torch thread per worker
    audio = load_audio(os.path.join(ASSETS, "obama_address_8s.mp4"))[
        :round(args.seconds * SAMPLE_RATE)]
    for r in range(args.rounds):
        session = open_session(os.path.join(ASSETS, "astronaut.jpg"))
        fps = asyncio.run(_burst(session, audio, args.workers))
        print(f"round {r + 1}: {fps:.1f} frames/s, {args.workers} workers "
              f"({'real time' if fps >= MOTION_FPS else 'under real time'}: {MOTION_FPS})")


if __name__ == "__main__":
    main()
