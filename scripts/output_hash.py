"""Hash what `vasa generate` produces with the bundled model, so a refactor can show that the
shipped model's output is bit-identical before and after.

    python scripts/output_hash.py                      # bundled portrait and speech, seed 0
    python scripts/output_hash.py --gaze left --emotion happiness --seed 3
    python scripts/output_hash.py --crop                # the aligned square (the output before
                                                       # issue 13's framing: same hashes as then)

Prints one SHA-256 over the motion latents (pose and dynamics of every frame, float32) and one
over the decoded RGB frames of the written mp4, plus the frame count.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from pathlib import Path

import numpy as np

from vasa.cli import _generate_config, build_parser
from vasa.io import read_frames
from vasa.pipelines.generate import generate

ASSETS = Path(__file__).resolve().parents[1] / "src" / "vasa" / "assets"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--portrait", default=str(ASSETS / "astronaut.jpg"))
    p.add_argument("--audio", default=str(ASSETS / "obama_address_8s.mp4"))
    a, extra = p.parse_known_args()  # the rest: `vasa generate` options
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        args = build_parser().parse_args(["generate", a.portrait, a.audio, "-o", str(out), "-q"]
                                         + extra)
        cfg = _generate_config(args)
        latents = hashlib.sha256()
        import vasa.render.renderer as renderer_module

        render = renderer_module.Renderer.render

        def hooked(self, pose, dynamics, *rest, **kw):  # record the motion the renderer gets
            latents.update(np.asarray(pose, np.float32).tobytes())
            latents.update(np.asarray(dynamics, np.float32).tobytes())
            return render(self, pose, dynamics, *rest, **kw)

        renderer_module.Renderer.render = hooked
        try:
            generate(args.portrait, args.audio, out, cfg, progress=False)
        finally:
            renderer_module.Renderer.render = render
        frames = hashlib.sha256()
        n = 0
        for f in read_frames(out):
            frames.update(np.ascontiguousarray(f).tobytes())
            n += 1
    print(f"frames {n}\nlatents {latents.hexdigest()}\nvideo   {frames.hexdigest()}")


if __name__ == "__main__":
    main()
