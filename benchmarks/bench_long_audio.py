"""Memory of `vasa generate` on long audio: peak resident memory stays flat as the input grows.

    python benchmarks/bench_long_audio.py [--minutes 10] [--model PATH] [--size 256]
        [--steps 10] [--format wav|flac|m4a] [--rate 16000] [--json OUT]
    python benchmarks/bench_long_audio.py --decode-only [--minutes 60] [--compare-load]

Writes a long speech-like file (the bundled 8 s address, looped) to a temporary folder, then
either runs the streaming `generate()` pipeline on it (default) or, with --decode-only, just
iterates `iter_audio` over it. Reports resident memory (VmRSS sampled every 0.1 s from
/proc/self/status: before, peak, and at each quarter of the run; plus getrusage's ru_maxrss,
the process's lifetime peak) and throughput. --compare-load also measures `load_audio` (the
whole file in memory) in a child process, for contrast. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Self

import av
import numpy as np
import soundfile as sf

os.environ.setdefault("GLOG_minloglevel", "2")

from vasa.io import iter_audio, load_audio
from vasa.procstat import rss_mb as bench_rss_mb

ASSETS = Path(__file__).resolve().parents[1] / "src" / "vasa" / "assets"
SR = 16000


def rss_mb() -> float:
    """Current resident set size in MiB (nan where it cannot be read)."""
    mb = bench_rss_mb()
    return float("nan") if mb is None else mb


def maxrss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kB on Linux


class RssSampler:
    """Samples VmRSS every `period` seconds in a thread while in the `with` block."""

    def __init__(self, period: float = 0.1) -> None:
        self.period, self.samples = period, []  # (seconds since start, MiB)
        self._stop = threading.Event()

    def __enter__(self) -> Self:
        self._t0 = time.perf_counter()
        self.samples.append((0.0, rss_mb()))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.samples.append((time.perf_counter() - self._t0, rss_mb()))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter() - self._t0, rss_mb()))

    def summary(self) -> dict[str, float]:
        t = np.array([s[0] for s in self.samples])
        m = np.array([s[1] for s in self.samples])
        out = {"start": float(m[0]), "peak": float(m.max()), "end": float(m[-1])}
        for q in (25, 50, 75):  # the last sample at or before that share of the run
            out[f"at_{q}%"] = float(m[np.searchsorted(t, t[-1] * q / 100, "right") - 1])
        # Growth over the second half: ~0 when memory is bounded.
        out["growth_50%_to_end"] = out["end"] - out["at_50%"]
        return out


def write_long(path: Path, minutes: float, rate: int = SR) -> float:
    """Loop the bundled speech to `minutes` and write it piecewise at `rate` Hz; returns the
    seconds written."""
    speech = load_audio(ASSETS / "obama_address_8s.mp4", rate)
    total = round(minutes * 60 * rate)
    if path.suffix == ".m4a":
        with av.open(str(path), "w") as c:
            s = c.add_stream("aac", rate=rate)
            s.layout = "mono"
            for start in range(0, total, len(speech)):
                piece = speech[: min(len(speech), total - start)]
                f = av.AudioFrame.from_ndarray(piece[None].copy(), format="fltp", layout="mono")
                f.sample_rate, f.pts, f.time_base = rate, start, Fraction(1, rate)
                c.mux(s.encode(f))
            c.mux(s.encode(None))
    else:
        with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as f:
            for start in range(0, total, len(speech)):
                f.write(speech[: min(len(speech), total - start)])
    return total / rate


def fmt_mem(name: str, m: dict[str, float]) -> str:
    return (f"| {name} | {m['start']:.0f} | {m['at_25%']:.0f} | {m['at_50%']:.0f} | "
            f"{m['at_75%']:.0f} | {m['end']:.0f} | {m['peak']:.0f} | "
            f"{m['growth_50%_to_end']:+.1f} |")


MEM_HEADER = ("| phase | start | 25% | 50% | 75% | end | peak | 50%->end |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|")


def decode_only(path: Path, seconds: float, rate: int, compare_load: bool) -> dict:
    n = 0
    t0 = time.perf_counter()
    with RssSampler() as rss:
        for chunk in iter_audio(path, SR, 1.0):
            n += len(chunk)
    wall = time.perf_counter() - t0
    mem = rss.summary()
    print(f"### iter_audio over {seconds / 60:g} min of {path.suffix[1:]} at {rate} Hz "
          f"({path.stat().st_size / 2**20:.0f} MiB file)\n")
    print("VmRSS in MiB\n\n" + MEM_HEADER + "\n" + fmt_mem("iter_audio", mem))
    print(f"\ndecoded {n / SR:.0f} s of audio in {wall:.1f} s ({n / SR / wall:.0f}x real time); "
          f"process ru_maxrss {maxrss_mb():.0f} MiB")
    result = {"mode": "decode-only", "audio_s": n / SR, "wall_s": wall, "rss_mib": mem,
              "ru_maxrss_mib": maxrss_mb()}
    if compare_load:
        code = ("import sys, resource; from vasa.io import load_audio; "
                "x = load_audio(sys.argv[1]); "
                "print(len(x), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                             text=True, check=True).stdout.split()
        base = subprocess.run([sys.executable, "-c", code.replace(
            "x = load_audio(sys.argv[1]); ", "x = []; ")], capture_output=True, text=True,
            check=True).stdout.split()
        print(f"for contrast, load_audio (whole file in memory) in a child process: "
              f"ru_maxrss {float(out[1]):.0f} MiB (same imports, no decoding: "
              f"{float(base[1]):.0f} MiB)")
        result["load_audio_ru_maxrss_mib"] = float(out[1])
        result["imports_only_ru_maxrss_mib"] = float(base[1])
    return result


def run_generate(path: Path, seconds: float, args: argparse.Namespace, tmp: Path) -> dict:
    import torch

    from vasa.motion.controls import Controls
    from vasa.pipelines.generate import GenerateConfig, generate

    torch.set_num_threads(1)
    cfg = GenerateConfig(size=args.size, controls=Controls(steps=args.steps))
    if args.model:
        cfg.model = args.model
    before = rss_mb()
    t0 = time.perf_counter()
    with RssSampler() as rss:
        result = generate(ASSETS / "astronaut.jpg", path, tmp / "out.mp4", cfg, progress=False)
    wall = time.perf_counter() - t0
    mem = rss.summary()
    frames = result.frames
    size = (tmp / "out.mp4").stat().st_size
    print(f"### streaming generate: {seconds / 60:g} min of {path.suffix[1:]} speech, {frames} "
          f"frames at {args.size}x{args.size}, {args.steps} steps, model {cfg.model}\n")
    print("VmRSS in MiB (start: before generate(); setup loads models, so growth is measured "
          "from 50%)\n\n" + MEM_HEADER + "\n" + fmt_mem("generate", mem))
    print("\n| stage | seconds | ms/frame |\n|---|---:|---:|")
    for k, v in result.seconds.items():
        print(f"| {k} | {v:.2f} | {1000 * v / frames:.2f} |")
    fps = frames / wall
    print(f"| **total (wall)** | {wall:.2f} | {1000 * wall / frames:.2f} |")
    print(f"\n{fps:.1f} frames/s end to end, "
          f"{frames / (wall - result.seconds['setup']):.1f} frames/s excluding setup; "
          f"output {size / 2**20:.1f} MiB; process ru_maxrss {maxrss_mb():.0f} MiB "
          f"(VmRSS before generate {before:.0f} MiB)")
    return {"mode": "generate", "audio_s": seconds, "frames": frames, "wall_s": wall,
            "fps": fps, "seconds": result.seconds, "rss_mib": mem,
            "ru_maxrss_mib": maxrss_mb(), "size": args.size, "steps": args.steps,
            "model": cfg.model}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=None,
                    help="input length in minutes (10; 60 with --decode-only)")
    ap.add_argument("--decode-only", action="store_true",
                    help="only stream-decode the file with iter_audio")
    ap.add_argument("--compare-load", action="store_true",
                    help="with --decode-only: also measure load_audio in a child process")
    ap.add_argument("--format", choices=["wav", "flac", "m4a"], default="wav",
                    help="input file format (wav: libsndfile path; m4a: PyAV path)")
    ap.add_argument("--rate", type=int, default=SR,
                    help="input sample rate (16000; e.g. 48000 to exercise resampling)")
    ap.add_argument("--model", default=None, help="motion model file (default: bundled)")
    ap.add_argument("--size", type=int, default=256, help="frame side (256)")
    ap.add_argument("--steps", type=int, default=10, help="sampling steps (10)")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers as JSON")
    args = ap.parse_args()
    minutes = args.minutes if args.minutes is not None else (60 if args.decode_only else 10)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / f"speech.{args.format}"
        t0 = time.perf_counter()
        seconds = write_long(path, minutes, args.rate)
        print(f"(wrote {seconds / 60:g} min input in {time.perf_counter() - t0:.1f} s; "
              f"VmRSS {rss_mb():.0f} MiB, ru_maxrss {maxrss_mb():.0f} MiB so far)\n")
        if args.decode_only:
            result = decode_only(path, seconds, args.rate, args.compare_load)
        else:
            result = run_generate(path, seconds, args, tmp)
    result["format"], result["rate"] = args.format, args.rate
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
