"""How many frames a second one `vasa serve` session can make: a `LiveStream` in process (no
transport, no client), its compute jobs on `--workers` threads as the server runs them.

    python benchmarks/bench_stream.py [--source burst|real-time] [--workers 2] [--seconds 6]

burst: the bundled speech handed over at once (a text-to-speech engine); frames are counted
after the first 10 (the first window's start-up). real-time: the speech in 20 ms pieces at
the pace it is spoken (a microphone), frames counted over `--seconds` of wall time; a stream
that keeps up makes 25 frames/s (the idle filler adds none while speech keeps coming). Also
the process's CPU use in cores. The server's own benchmark (`bench_serve.py`) adds the
WebSocket transport and a client on the same cores.
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
PIECE_S = 0.02  # a microphone's chunk


async def _burst(live: LiveStream, frames: int) -> int:
    for _ in range(frames):
        await live.get_frame()
    return frames


async def _real_time(live: LiveStream, audio, seconds: float) -> int:
    async def speak() -> None:
        n, t0 = round(PIECE_S * SAMPLE_RATE), time.perf_counter()
        for k, i in enumerate(range(0, len(audio), n)):
            await live.put_audio(audio[i:i + n])
            await asyncio.sleep(max(0.0, t0 + (k + 1) * PIECE_S - time.perf_counter()))

    speaker = asyncio.create_task(speak())
    frames, end = 0, time.perf_counter() + seconds
    while (left := end - time.perf_counter()) > 0:
        try:
            async with asyncio.timeout(left):
                await live.get_frame()
            frames += 1
        except TimeoutError:
            break
    speaker.cancel()
    return frames


async def _run(session, audio, args) -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    burst = args.source == "burst"
    cfg = (LiveConfig(max_ahead_s=1e3, max_buffer_s=1e3, max_queued_frames=10_000) if burst
           else LiveConfig())
    with ThreadPoolExecutor(args.workers) as pool:
        live = LiveStream(session, cfg, runner=lambda job: loop.run_in_executor(pool, job))
        task = asyncio.create_task(live.run())
        if burst:  # from the 10th frame: the first window's start-up is not the rate
            await live.put_audio(audio)
            await _burst(live, SKIP)
        t0, c0 = time.perf_counter(), time.process_time()
        if burst:  # the look-ahead holds the last few frames back
            frames = await _burst(live, int(len(audio) / SAMPLE_RATE * MOTION_FPS) - 5 - SKIP)
        else:
            frames = await _real_time(live, audio, args.seconds)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        live.close()
        await task
    return frames / wall, cpu / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", choices=["burst", "real-time"], default="burst",
                    help="speech at once, or in 20 ms pieces as spoken (burst)")
    ap.add_argument("--workers", type=int, default=2, help="compute threads (vasa serve: 2)")
    ap.add_argument("--seconds", type=float, default=6.0, help="speech used (6)")
    ap.add_argument("--rounds", type=int, default=2, help="fresh sessions timed (2)")
    args = ap.parse_args()
    torch.set_num_threads(1)  # as `vasa serve`: one torch thread per worker
    speech = load_audio(os.path.join(ASSETS, "obama_address_8s.mp4"))
    audio = speech[:round(min(args.seconds + 1, len(speech) / SAMPLE_RATE) * SAMPLE_RATE)]
    for r in range(args.rounds):
        session = open_session(os.path.join(ASSETS, "astronaut.jpg"))
        fps, cores = asyncio.run(_run(session, audio, args))
        print(f"round {r + 1}: {fps:.1f} frames/s, CPU {cores:.2f} cores; {args.source}, "
              f"{args.workers} workers ({'real time' if fps >= MOTION_FPS - 0.5 else 'under real time'}: "
              f"{MOTION_FPS})")


if __name__ == "__main__":
    main()
