"""Occlusion edges (a turned cheek's outline over hair or backdrop): sharp to the pixel against
sampled over each pixel's footprint (`RenderConfig.antialias`), in one run.

Every portrait (the shared data's portraits and the bundled astronaut), framed as `vasa
generate` frames it, is driven by the motion the generator makes for a held-out speaker's
speech (default: Chris Christie, PC-AVS 00015, whose lively speech turns the head). Each frame
is warped three ways, with the reveal off (it redraws a far cheek, the same in all three):
- sharp: the renderer with `antialias=False`, every pixel from the one surface nearest at its
  centre (the renderer before this measure);
- antialiased: the default renderer;
- reference: the same mesh warped at twice the size with an exact full-resolution map, box-
  filtered over the footprint the default renderer samples (one output pixel, or one pixel of
  the portrait's image where the picture was enlarged: `Portrait.enlarged`, rounded), at the
  output's pixel centres: what a camera whose pixels are the image's would record.

On the edge pixels (those the default renderer samples), it reports the mean absolute error of
either against the reference (grey levels), and specks: edge pixels off by over SPECK grey
levels (a lone light or dark pixel on the outline). The warp's time per frame is measured for
both renderers in alternating frames.

    python scripts/edge_report.py [--speech CLIP] [--frames 150] [--out benchmarks/results/edges.md]
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
from portrait_report import ROOT, SHARED, run

os.environ.setdefault("GLOG_minloglevel", "2")  # quiet MediaPipe before it is imported

from vasa.audio import get_extractor
from vasa.latent.basis import default_basis
from vasa.motion.checkpoint import DEFAULT_MODEL, load_model
from vasa.motion.engine import MotionEngine
from vasa.portrait import load_portrait
from vasa.render.renderer import RenderConfig, Renderer
from vasa.render.warp import MAX_FOOTPRINT, MeshWarper, remap
from vasa.timebase import SAMPLES_PER_FRAME

DEFAULT_SPEECH = SHARED / "clips" / "Talking-Face_PC-AVS__misc__Audio_Source__00015.mp4"
SPECK = 40  # grey levels: an edge pixel this far off the reference is a visible speck


def reference(r: Renderer, big: MeshWarper, w, footprint: float | None = None) -> np.ndarray:
    """The frame's warp at twice the size (exact map), box-filtered over the footprint (output
    pixels; default: the one the renderer samples its edges over)."""
    dst, depth = r.mesh_frame(w.pose, w.dynamics)  # (not w.landmarks: held at the edges)
    flow = big.flow((dst + 0.5) * 2 - 0.5, r.src, depth)
    if footprint is None:
        footprint = float(np.clip(r.portrait.enlarged, 1.0, MAX_FOOTPRINT))
    k = 2 * max(1, round(footprint))
    # An even box at 2x, anchored so that its centre is each output pixel's (2 i + 0.5).
    return cv2.blur(remap(r.appearance.image, flow), (k, k))[1::2, 1::2].astype(np.float32)


def measure(path: Path, audio: np.ndarray, frames: int) -> dict:
    basis = default_basis()
    extractor = get_extractor()
    model = load_model(DEFAULT_MODEL, extractor.spec.id, basis.version)
    portrait = load_portrait(path, 512, 0, basis, framed=True)
    engine = MotionEngine(model, extractor, portrait.pose, portrait.talking_rest(basis))
    motion = (engine.push(audio[:frames * SAMPLES_PER_FRAME]) + engine.flush())[:frames]
    sharp = Renderer(portrait, basis, RenderConfig(reveal=False, antialias=False))
    smooth = Renderer(portrait, basis, RenderConfig(reveal=False))
    big = MeshWarper(smooth.tris, 2 * smooth.size, 1.0, footprint=None)
    err = {"sharp": [], "antialiased": []}
    specks = {"sharp": 0, "antialiased": 0}
    secs = {"sharp": [], "antialiased": []}
    pixels = 0
    for n, f in enumerate(motion):
        order = ("sharp", "antialiased") if n % 2 else ("antialiased", "sharp")
        warped = {}
        for name in order:
            r = sharp if name == "sharp" else smooth
            t0 = time.perf_counter()
            warped[name] = r.warp(f.pose, f.dynamics)
            secs[name].append(time.perf_counter() - t0)
        edges = smooth.warper.edges
        if edges is None:
            continue
        ref = reference(smooth, big, warped["antialiased"])[edges.y, edges.x]
        pixels += len(edges.y)
        for name, w in warped.items():
            d = np.abs(w.frame[edges.y, edges.x].astype(np.float32) - ref).max(1)
            err[name].append(d)
            specks[name] += int((d > SPECK).sum())
    out = {"portrait": path.stem, "crop": smooth.size, "enlarged": portrait.enlarged,
           "frames": len(motion), "edge_frames": len(err["sharp"]), "pixels": pixels}
    for name, errors in err.items():
        d = np.concatenate(errors) if errors else np.zeros(0)
        out[f"{name}_err"] = float(d.mean()) if len(d) else None
        out[f"{name}_specks"] = specks[name]
        out[f"{name}_ms"] = 1000 * float(np.median(secs[name]))
    return out


def table(rows: list[dict], speech: Path, frames: int) -> list[str]:
    def f(v, fmt=".2f"):
        return "-" if v is None else format(v, fmt)

    lines = [(f"Generated by `python scripts/edge_report.py` on {time.strftime('%Y-%m-%d')}: "
             f"{len(rows)} portraits framed as `vasa generate` frames them, driven by the "
             f"generator's motion for the first {frames} frames of {speech.name} (a held-out "
             "speaker). Errors are on the edge pixels only (the largest channel's absolute "
             f"difference from the footprint reference, grey levels); specks: edge pixels off "
             f"by over {SPECK}."), "",
             ("| portrait | crop px | enlarged | frames with an edge | edge px / frame | "
             "error sharp | error antialiased | specks sharp | specks antialiased | "
             "warp ms sharp | warp ms antialiased |"), "|---|" + "---|" * 10]
    for r in rows:
        lines.append(f"| {r['portrait']} | {r['crop']} | {r['enlarged']:.2f} | "
                     f"{r['edge_frames']}/{r['frames']} | {r['pixels'] / r['frames']:.0f} | "
                     f"{f(r['sharp_err'])} | {f(r['antialiased_err'])} | {r['sharp_specks']} | "
                     f"{r['antialiased_specks']} | {r['sharp_ms']:.1f} | "
                     f"{r['antialiased_ms']:.1f} |")
    with_edges = [r for r in rows if r["pixels"]]
    total = sum(r["pixels"] for r in with_edges)

    def pooled(key):
        return sum(r[key] * r["pixels"] for r in with_edges) / max(total, 1)

    lines.append(f"| **all** | | | {sum(r['edge_frames'] for r in rows)}/"
                 f"{sum(r['frames'] for r in rows)} | "
                 f"{total / max(sum(r['frames'] for r in rows), 1):.0f} | "
                 f"{pooled('sharp_err'):.2f} | {pooled('antialiased_err'):.2f} | "
                 f"{sum(r['sharp_specks'] for r in rows)} | "
                 f"{sum(r['antialiased_specks'] for r in rows)} | "
                 f"{np.median([r['sharp_ms'] for r in rows]):.1f} | "
                 f"{np.median([r['antialiased_ms'] for r in rows]):.1f} |")
    return lines


def main() -> None:
    run(__doc__, DEFAULT_SPEECH, ROOT / "benchmarks" / "results" / "edges.md", measure, table)


if __name__ == "__main__":
    main()
