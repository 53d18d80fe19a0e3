"""What a blink costs the renderer: the eyes stage of `Renderer.render` with the eyes half and
fully shut, drawn lids (`RenderConfig(refiner=False)`) and with the eye refiner (the default).

    python benchmarks/bench_lids.py [--portrait P] [--frames 60]

Per case the median over `--frames` renders (the first 10 left out) of the "eyes" stage, in ms.
For a before/after run it with another tree's `vasa` on PYTHONPATH, in turns with this one.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

from vasa.bench import DEFAULT_PORTRAIT
from vasa.latent.basis import default_basis
from vasa.portrait import load_portrait
from vasa.render import RenderConfig, Renderer

WARMUP = 10


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portrait", type=Path, default=DEFAULT_PORTRAIT)
    ap.add_argument("--frames", type=int, default=60)
    args = ap.parse_args()
    basis = default_basis()
    p = load_portrait(args.portrait, 512, basis=basis)
    for name, cfg in (("drawn lids", RenderConfig(refiner=False)),
                      ("eye refiner", RenderConfig())):
        r = Renderer(p, basis, cfg)
        for openness in (0.5, 0.0):
            dyn = p.dynamics.copy()
            dyn[basis.layout.eyes] *= openness
            times = []
            for _ in range(args.frames + WARMUP):
                t: dict[str, float] = {}
                r.render(p.pose, dyn, t)
                times.append(t["eyes"])
            print(f"{name}, eyes at {openness:g} of their openness: eyes stage "
                  f"{1000 * np.median(times[WARMUP:]):.2f} ms (median of {args.frames})")


if __name__ == "__main__":
    main()
