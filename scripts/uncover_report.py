"""How deep into the plate does a turning head uncover? Per portrait, over a held-out voice.

Each portrait (framed as `vasa generate` frames it, 512 px, with its person matte) is rendered
under the bundled generator's motion for a held-out speech (default: LP s18's clip, whose
voice drives the largest turns of the held-out speeches, 16 degrees at 1.3 s). Where the plate
shows behind a frame (`PasteBack.uncovered` over half), each pixel's depth in the plate's hole
(its distance to the backdrop left visible), in face widths (`render.matte.face_width`): the
deepest per frame (median, 90th percentile and largest over the frames that uncover any), and
over all uncovered pixels the share deeper than half MIRROR_REACH (where the reflected backdrop
starts fading into the soft fill) and deeper than MIRROR_REACH (the soft fill alone). This is
what `matte.MIRROR_REACH` is chosen from.

    PYTHONPATH=src python scripts/uncover_report.py [--speech CLIP] [--frames 150]
        [--portraits P ...] [--out FILE]
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from matte_sheets import portrait_name
from portrait_report import ROOT, SHARED, generated, run

from vasa.render import Renderer
from vasa.render.matte import MIRROR_REACH, face_width
from vasa.render.paste import PictureRenderer

SPEECH = SHARED / "clips" / "LivePortrait__assets__examples__source__s18.mp4"
OUT = ROOT / "benchmarks" / "results" / "uncover.md"


def measure(path: Path, audio: np.ndarray, frames: int) -> dict:
    portrait, basis, motion = generated(path, audio, frames)
    output = PictureRenderer(Renderer(portrait, basis))
    paste = output.paste
    row = {"name": portrait_name(path)}
    if paste.matte is None:
        return row | {"refused": True}
    width = face_width(portrait.landmarks, portrait.framing.to_crop)
    hole = paste.matte.hole[paste.roi].astype(np.uint8)
    depth = cv2.distanceTransform(hole, cv2.DIST_L2, 3) / width
    deepest, depths = [], []
    for f in motion:
        output.render(f.pose, f.dynamics)
        shown = paste.uncovered(paste.to_picture(output.renderer.carried)) > 127
        if shown.any():
            deepest.append(float(depth[shown].max()))
            depths.append(depth[shown])
    if not deepest:
        return row | {"frames": 0}
    every = np.concatenate(depths)
    return row | {"frames": len(deepest), "p50": float(np.median(deepest)),
                  "p90": float(np.percentile(deepest, 90)), "max": float(max(deepest)),
                  "past_half": float((every > MIRROR_REACH / 2).mean()),
                  "past_reach": float((every > MIRROR_REACH).mean())}


def table(rows: list[dict], speech: Path, frames: int) -> list[str]:
    lines = [(f"# Depth of what a turning head uncovers, in face widths ({speech.name}, "
              f"first {frames} frames)"), "",
             ("Reproduce: `PYTHONPATH=src python scripts/uncover_report.py`. Deepest "
              "uncovered pixel per frame (over the frames that uncover any); share of all "
              f"uncovered pixels past {MIRROR_REACH / 2:g} face widths (the reflection fading) "
              f"and past {MIRROR_REACH:g} (the soft fill alone)."), "",
             ("| portrait | frames uncovering | deepest: median | p90 | max | past half the "
              "reach | past the reach |"), "|---|---|---|---|---|---|---|"]
    done = [r for r in rows if r.get("frames")]
    for r in rows:
        if r.get("refused"):
            lines.append(f"| {r['name']} | no matte | | | | | |")
        elif not r.get("frames"):
            lines.append(f"| {r['name']} | 0 | | | | | |")
        else:
            lines.append(f"| {r['name']} | {r['frames']} | {r['p50']:.3f} | {r['p90']:.3f} | "
                         f"{r['max']:.3f} | {r['past_half']:.1%} | {r['past_reach']:.1%} |")
    if done:
        keys = ("p50", "p90", "max", "past_half", "past_reach")
        m = {k: float(np.median([r[k] for r in done])) for k in keys}
        lines.append(f"| **median of {len(done)}** | | {m['p50']:.3f} | {m['p90']:.3f} | "
                     f"{m['max']:.3f} | {m['past_half']:.1%} | {m['past_reach']:.1%} |")
    return lines


if __name__ == "__main__":
    run(__doc__, SPEECH, OUT, measure, table)
