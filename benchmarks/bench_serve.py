"""Benchmark of `vasa serve` over its real transport: a WebSocket client on loopback.

    python benchmarks/bench_serve.py --model runs/motion/model.pt            # all, 5 min sustained
    python benchmarks/bench_serve.py --model M --minutes 0.5 --capacity-seconds 20   # quicker

Starts `vasa serve` as a subprocess (or uses --url), then measures:
- first-frame latency: speech starts after idle; server side = the first speech frame's
  "sent" stamp minus the arrival stamp of the speech's first chunk (both on the server's clock,
  carried in the frame message); client side = first chunk sent -> that frame received. Two
  sources: real time (a microphone: 20 ms chunks, each sent once recorded) and a burst (a
  text-to-speech engine handing over 0.5 s at once).
- sustained: one session for N minutes (speech 8 s, silence 2 s, repeated) with counts of
  dropped frames (missing indices) and late frames (received after their playout time, with the
  browser page's playout rule: the first frame plays `playout_delay_s` after it arrives, every
  other frame at the same offset), server resident memory at the start and the end.
- gaze changes: one session speaking while the client asks for a new gaze three times (each
  new request is calibrated for the portrait, `StreamSession`): late frames, and per request
  the longest wait between two frames in the second after it, against the median wait.
- capacity: 1, 2, ... simultaneous sessions for S seconds each; the largest count where every
  session has zero late and zero dropped frames. Then one session more than --max-sessions
  must get the busy answer.
Results: benchmarks/results/serve.md and serve.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np

from vasa.io import load_audio
from vasa.serve.protocol import audio_bytes, unpack_frame

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / "src" / "vasa" / "assets" / "obama_address_8s.mp4"
RESULTS = ROOT / "benchmarks" / "results"
RATE = 16000


@dataclass
class Utterance:
    at: float  # seconds after the session is ready
    audio: np.ndarray
    chunk_s: float = 0.02  # message size of a real-time source
    burst_s: float = 0.0  # > 0: a TTS engine sending pieces of this size, one piece ahead
    first_sent: float | None = None  # client clock


@dataclass
class SessionResult:
    busy: bool = False
    ready: dict = field(default_factory=dict)
    frames: list[tuple[int, float, float, float, float]] = field(default_factory=list)
    # (index, time, server arrival, server sent, client received)
    errors: list[str] = field(default_factory=list)
    utterances: list[Utterance] = field(default_factory=list)


async def _send(ws, utts: list[Utterance], t_ready: float) -> None:
    for u in utts:
        start = t_ready + u.at
        # A microphone: each chunk leaves once recorded. A TTS burst: each burst_s piece leaves
        # as soon as the previous one starts playing (one piece ahead of real time).
        size = int((u.burst_s or u.chunk_s) * RATE)
        ahead = size if u.burst_s else 0
        for pos in range(0, len(u.audio), size):
            chunk = u.audio[pos:pos + size]
            due = start + (pos + len(chunk) - ahead) / RATE
            await asyncio.sleep(max(due - time.monotonic(), 0))
            if u.first_sent is None:
                u.first_sent = time.monotonic()
            await ws.send_bytes(audio_bytes(chunk))


async def _send_controls(ws, controls: list[tuple[float, dict]], t_ready: float) -> None:
    for at, message in controls:
        await asyncio.sleep(max(t_ready + at - time.monotonic(), 0))
        await ws.send_json({"type": "controls", **message})


async def run_session(url: str, utts: list[Utterance], seconds: float,
                      http: aiohttp.ClientSession,
                      controls: list[tuple[float, dict]] = ()) -> SessionResult:
    """controls: (seconds after ready, control message) sent during the session."""
    res = SessionResult(utterances=utts)
    async with http.ws_connect(url.split("?")[0] + "ws", max_msg_size=0) as ws:
        await ws.send_json({"type": "start", "portrait": "bundled"})
        msg = await ws.receive_json(timeout=30)
        if msg["type"] == "busy":
            res.busy = True
            return res
        res.ready = msg
        t_ready = time.monotonic()
        sender = asyncio.create_task(_send(ws, utts, t_ready))
        steerer = asyncio.create_task(_send_controls(ws, list(controls), t_ready))
        try:
            while time.monotonic() - t_ready < seconds:
                m = await ws.receive(timeout=5)
                if m.type == aiohttp.WSMsgType.BINARY:
                    f = unpack_frame(m.data)
                    res.frames.append((f.index, f.time, f.arrival, f.sent, time.monotonic()))
                elif m.type == aiohttp.WSMsgType.TEXT:
                    res.errors.append(m.data)
                else:
                    res.errors.append(f"closed: {m.type}")
                    break
        finally:
            sender.cancel()
            steerer.cancel()
            await asyncio.gather(sender, steerer, return_exceptions=True)
    return res


def frame_stats(res: SessionResult) -> dict:
    """Dropped (missing indices), late (after playout time), server latency per speech frame."""
    fr = res.frames
    if not fr:
        return {"frames": 0}
    idx = np.array([f[0] for f in fr])
    delay = res.ready["playout_delay_s"]
    offset = fr[0][4] + delay - fr[0][1]  # client time of presentation time 0
    late = sum(1 for f in fr if f[4] > offset + f[1])
    speech = np.array([(f[3] - f[2]) * 1000 for f in fr if f[2] >= 0])
    span = fr[-1][4] - fr[0][4]
    return {"frames": len(fr), "dropped": int(idx[-1] - idx[0] + 1 - len(np.unique(idx))),
            "out_of_order": int(np.sum(np.diff(idx) <= 0)), "late": late,
            "fps": (len(fr) - 1) / span if span > 0 else 0.0,
            "server_latency_ms_p50": float(np.percentile(speech, 50)) if len(speech) else None,
            "server_latency_ms_p99": float(np.percentile(speech, 99)) if len(speech) else None,
            "server_latency_ms_max": float(speech.max()) if len(speech) else None}


def first_frame(res: SessionResult, u: Utterance) -> dict | None:
    """The utterance's first speech frame: server and client latencies in ms."""
    t_first = u.first_sent
    for index, _, arrival, sent, received in res.frames:
        if arrival >= 0 and received >= t_first:
            return {"server_ms": (sent - arrival) * 1000, "client_ms": (received - t_first) * 1000}
    return None


async def health(url: str, http: aiohttp.ClientSession) -> dict:
    async with http.get(url.split("?")[0] + "api/health") as r:
        return await r.json()


async def bench_latency(url: str, speech: np.ndarray, trials: int, burst_s: float) -> dict:
    out = []
    async with aiohttp.ClientSession() as http:
        for k in range(trials):
            # Speech starts at a different phase of the window grid each time.
            u = Utterance(at=1.0 + 0.013 * k, audio=speech[:RATE * 2], burst_s=burst_s)
            res = await run_session(url, [u], 3.6, http)
            ff = first_frame(res, u)
            if ff:
                out.append(ff)
    srv = np.array([o["server_ms"] for o in out])
    cli = np.array([o["client_ms"] for o in out])
    return {"trials": len(out), "source": "burst" if burst_s else "real time",
            "server_ms": {"median": float(np.median(srv)), "p90": float(np.percentile(srv, 90)),
                          "max": float(srv.max())},
            "client_ms": {"median": float(np.median(cli)), "p90": float(np.percentile(cli, 90)),
                          "max": float(cli.max())}}


def speech_schedule(speech: np.ndarray, seconds: float, offset: float = 0.5) -> list[Utterance]:
    utts, t = [], offset
    while t + len(speech) / RATE < seconds - 1:
        utts.append(Utterance(at=t, audio=speech))
        t += len(speech) / RATE + 2.0
    return utts


async def bench_sustained(url: str, speech: np.ndarray, seconds: float) -> dict:
    async with aiohttp.ClientSession() as http:
        session = asyncio.create_task(run_session(url, speech_schedule(speech, seconds), seconds,
                                                  http))
        await asyncio.sleep(2.0)
        start = await health(url, http)
        res = await session
        end = await health(url, http)
    return {"seconds": seconds, **frame_stats(res), "rss_mb_start": start["rss_mb"],
            "rss_mb_end": end["rss_mb"], "errors": res.errors[:5]}


GAZE_CHANGES = [(2.5, {"gaze": "left"}), (4.5, {"gaze": "right"}), (6.5, {"gaze": "up"})]


async def bench_gaze_change(url: str, speech: np.ndarray) -> dict:
    """One session speaking the clip while GAZE_CHANGES are asked for."""
    seconds = 9.5
    async with aiohttp.ClientSession() as http:
        t0 = time.monotonic()
        res = await run_session(url, [Utterance(at=0.5, audio=speech)], seconds, http,
                                GAZE_CHANGES)
    received = np.array([f[4] for f in res.frames]) - t0
    gaps = np.diff(received) * 1000
    after = []
    for at, message in GAZE_CHANGES:  # "at" counts from ready, a few ms after t0
        window = (received[1:] > at) & (received[1:] < at + 1.0)
        after.append({"gaze": message["gaze"],
                      "longest_wait_ms": float(gaps[window].max()) if window.any() else None})
    return {**frame_stats(res), "median_wait_ms": float(np.median(gaps)), "changes": after,
            "errors": res.errors[:5]}


async def bench_capacity(url: str, speech: np.ndarray, seconds: float, max_n: int) -> dict:
    rows = []
    async with aiohttp.ClientSession() as http:
        for n in range(1, max_n + 1):
            results = await asyncio.gather(*[
                run_session(url, speech_schedule(speech, seconds, 0.5 + 0.37 * k), seconds, http)
                for k in range(n)])
            stats = [frame_stats(r) for r in results]
            ok = all(not r.busy and s["frames"] > 0 and s["late"] == 0 and s["dropped"] == 0
                     for r, s in zip(results, stats))
            rows.append({"sessions": n, "real_time": ok, "late": [s.get("late") for s in stats],
                         "dropped": [s.get("dropped") for s in stats],
                         "fps": [round(s.get("fps", 0), 2) for s in stats],
                         "server_latency_ms_p99": [s.get("server_latency_ms_p99")
                                                   for s in stats]})
            print(f"  {n} sessions: {'real time' if ok else 'NOT real time'} {rows[-1]}",
                  flush=True)
            if not ok:
                break
            await asyncio.sleep(1.0)
        # One more than the server allows must be told "busy".
        h = await health(url, http)
        held = [asyncio.create_task(run_session(url, [], 4.0, http))
                for _ in range(h["max_sessions"])]
        await asyncio.sleep(1.5)
        extra = await run_session(url, [], 1.0, http)
        await asyncio.gather(*held)
    held_ok = sum(1 for _ in rows if _["real_time"])
    return {"seconds": seconds, "rows": rows, "capacity": held_ok,
            "busy_answer_when_full": extra.busy}


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "vasa.cli", "serve", "--port", "0", "--max-sessions",
           str(args.max_sessions), "--hop", str(args.hop), "--lookahead", str(args.lookahead),
           "--steps", str(args.steps), "--workers", str(args.workers),
           "--playout-delay", str(args.playout_delay)]
    if args.model:
        cmd += ["--model", args.model]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    line = proc.stdout.readline()
    if "open " not in line:
        proc.kill()
        raise SystemExit(f"server did not start: {line}{proc.stdout.read()}")
    return proc, line.split("open ")[1].split()[0]


def write_report(result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serve.json").write_text(json.dumps(result, indent=2))
    lines = ["# `vasa serve` benchmark", "", f"Command: `{result['command']}`", "",
             f"Machine: {result['machine']}", "",
             (f"Preset: hop {result['preset']['hop']}, look-ahead {result['preset']['lookahead']}"
             f", {result['preset']['steps']} steps, {result['preset']['workers']} worker thread(s)"
             f"; audio look-ahead {result['preset']['latency_s'] * 1000:.1f} ms; playout delay "
             f"{result['preset'].get('playout_delay_s', 0.3) * 1000:.0f} ms"), ""]
    lines += ["## First-frame latency (first speech chunk -> its first frame)", "",
              ("| source | trials | server median | server p90 | server max | client round trip "
              "median | client max |"), "|---|---|---|---|---|---|---|"]
    for r in result["latency"]:
        s, c = r["server_ms"], r["client_ms"]
        lines.append(f"| {r['source']} | {r['trials']} | {s['median']:.0f} ms | {s['p90']:.0f} ms"
                     f" | {s['max']:.0f} ms | {c['median']:.0f} ms | {c['max']:.0f} ms |")
    if "sustained" in result:
        s = result["sustained"]
        lines += ["", f"## Sustained: one session, {s['seconds'] / 60:g} min", "",
                  (f"- frames {s['frames']}, {s['fps']:.2f} frames/s, dropped {s['dropped']}, "
                  f"late {s['late']}, out of order {s['out_of_order']}"),
                  (f"- server latency per speech frame (audio in -> frame out): p50 "
                  f"{s['server_latency_ms_p50']:.0f} ms, p99 {s['server_latency_ms_p99']:.0f} ms"
                  f", max {s['server_latency_ms_max']:.0f} ms"),
                  (f"- server resident memory: {s['rss_mb_start']:.0f} MiB at the start, "
                  f"{s['rss_mb_end']:.0f} MiB at the end")]
    if "gaze_change" in result:
        g = result["gaze_change"]
        waits = ", ".join(f"{c['gaze']} {c['longest_wait_ms']:.0f} ms" for c in g["changes"])
        lines += ["", "## Gaze requests mid-speech (three, 2 s apart)", "",
                  (f"- frames {g['frames']}, late {g['late']}, dropped {g['dropped']}; longest "
                  f"wait between two frames in the second after each request: {waits} "
                  f"(median wait {g['median_wait_ms']:.0f} ms)")]
    if "capacity" in result:
        c = result["capacity"]
        lines += ["", f"## Capacity: simultaneous sessions, {c['seconds']:g} s each", "",
                  "| sessions | real time | late | dropped | frames/s | server p99 ms |",
                  "|---|---|---|---|---|---|"]
        for r in c["rows"]:
            p99 = ", ".join(f"{v:.0f}" if v is not None else "-"
                            for v in r["server_latency_ms_p99"])
            lines.append(f"| {r['sessions']} | {'yes' if r['real_time'] else 'no'} | "
                         f"{r['late']} | {r['dropped']} | {r['fps']} | {p99} |")
        lines += ["", (f"Capacity: **{c['capacity']}** real-time sessions. One session over "
                  f"--max-sessions got the busy answer: {c['busy_answer_when_full']}.")]
    (RESULTS / "serve.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None, help="motion model for the server it starts")
    p.add_argument("--url", default=None, help="use a running server instead of starting one")
    p.add_argument("--minutes", type=float, default=5.0, help="sustained run length (5)")
    p.add_argument("--capacity-seconds", type=float, default=30.0,
                   help="length of each capacity step (30)")
    p.add_argument("--trials", type=int, default=8, help="first-frame latency trials (8)")
    p.add_argument("--max-sessions", type=int, default=4,
                   help="server's session limit and the most sessions tried (4)")
    p.add_argument("--hop", type=int, default=2)
    p.add_argument("--lookahead", type=int, default=1)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--workers", type=int, default=2, help="the server's compute threads (2, "
                   "its default: a window's motion beside the last window's frames)")
    p.add_argument("--playout-delay", type=float, default=0.3,
                   help="the server's playout delay: late = after it (0.3)")
    p.add_argument("--skip", default="",
                   help="comma list of parts to skip: sustained,gaze,capacity")
    p.add_argument("--update", action="store_true",
                   help="keep the other parts of an earlier results/serve.json")
    args = p.parse_args()
    speech = load_audio(SPEECH, RATE)
    proc, url = (None, args.url) if args.url else start_server(args)
    try:
        command = "python " + " ".join(sys.argv)
        machine = (f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
                   f"{os.getloadavg()[0]:.2f} at start, Python {platform.python_version()}")
        result = {"command": command, "machine": machine}
        if args.update and (RESULTS / "serve.json").is_file():  # replace only what runs now
            result = json.loads((RESULTS / "serve.json").read_text())
            result["command"] += f"`, then `{command}"
            result["machine"] += f"; then {machine}"
        lat = [asyncio.run(bench_latency(url, speech, args.trials, 0.0)),
               asyncio.run(bench_latency(url, speech, args.trials, 0.5))]
        for r in lat:
            print(f"first frame ({r['source']}): {r}", flush=True)
        result["latency"] = lat
        ready = asyncio.run(_ready(url))
        result["preset"] = {"hop": ready["hop"], "lookahead": ready["lookahead"],
                            "steps": ready["steps"], "latency_s": ready["latency_s"],
                            "workers": args.workers,
                            "playout_delay_s": ready["playout_delay_s"]}
        skip = set(args.skip.split(","))
        if "sustained" not in skip:
            result["sustained"] = asyncio.run(bench_sustained(url, speech, args.minutes * 60))
            print(f"sustained: {result['sustained']}", flush=True)
        if "gaze" not in skip:
            result["gaze_change"] = asyncio.run(bench_gaze_change(url, speech))
            print(f"gaze change: {result['gaze_change']}", flush=True)
        if "capacity" not in skip:
            result["capacity"] = asyncio.run(bench_capacity(url, speech, args.capacity_seconds,
                                                            args.max_sessions))
            print(f"capacity: {result['capacity']['capacity']}", flush=True)
        result["machine"] += f", load average {os.getloadavg()[0]:.2f} at the end"
        write_report(result)
        print(f"wrote {RESULTS / 'serve.md'}")
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)


async def _ready(url: str) -> dict:
    async with aiohttp.ClientSession() as http:
        return (await run_session(url, [], 0.2, http)).ready


if __name__ == "__main__":
    main()
