"""How long a `vasa serve` session takes to start (before its "ready"), and its parts.

A session loads the portrait, builds its renderer, makes the person matte (GrabCut) and
renders and tracks the mouth and lid probes (`pipelines.calibrate`); `vasa generate` does the
same before its first frame. Timed here, median over ROUNDS: a whole `StreamSession` (the
portrait already loaded, as the server holds the bundled one, and the model and extractor
loaded once) and, alone, the matte and the probes.

    PYTHONPATH=src python benchmarks/bench_session_start.py [--rounds 5] [--portrait P]

Run it with another tree's `src` on PYTHONPATH, in turns, for a side-by-side.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")  # quiet MediaPipe before it is imported

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "src" / "vasa" / "assets" / "astronaut.jpg"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--portrait", type=Path, default=BUNDLED)
    args = ap.parse_args()
    from vasa.audio import get_extractor
    from vasa.latent.basis import default_basis
    from vasa.motion.checkpoint import load_model
    from vasa.pipelines.calibrate import mouth_and_lid_response
    from vasa.pipelines.stream import DEFAULT_MODEL, StreamConfig, StreamSession
    from vasa.portrait import load_portrait
    from vasa.render import Renderer
    from vasa.render.matte import person_matte

    basis = default_basis()
    extractor = get_extractor()
    model = load_model(DEFAULT_MODEL, extractor.spec.id, basis.version)
    config = StreamConfig()
    portrait = load_portrait(args.portrait, config.size, None, basis, framed=not config.crop)
    spent: dict[str, list[float]] = {"session": [], "matte": [], "probes": []}
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        StreamSession(model, extractor, portrait, basis, config)
        spent["session"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        person_matte(portrait.framing.picture, portrait.landmarks, portrait.framing.to_crop)
        spent["matte"].append(time.perf_counter() - t0)
        renderer = Renderer(portrait, basis)
        t0 = time.perf_counter()
        mouth_and_lid_response(portrait, renderer, basis)
        spent["probes"].append(time.perf_counter() - t0)
    print(f"{args.portrait.name}, {args.rounds} rounds, {os.cpu_count()} CPUs: median "
          + ", ".join(f"{k} {np.median(v):.2f} s" for k, v in spent.items()))


if __name__ == "__main__":
    main()
