"""The generator's mouth opening beside the real speakers', clip by clip, on their own speech.

    python scripts/generator_opening.py [--seconds 12] [--out REPORT.md]

For every talking clip of the manifest (training and held-out speakers), the first `--seconds`:
- real: the inner-lip gap re-tracked from the video (`evaluation.mouth_metrics.mouth_opening`,
  with the face's own residual), over the frames where a face is found;
- generated: the gap the motion generator asks for on the clip's audio (the bundled model,
  seed 0, a fixed portrait's talking rest), before the mouth's constraints: no silence gate,
  no lip closure, no step limit (`MotionEngine(close_in_silence=False, close_lips=False,
  lip_step=inf)`).
Both in eye distances. Pooled percentiles per group, and the share of one-frame steps over
0.10: are the generator's wide openings and snaps more or wider than real speakers'?
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from portrait_report import bundled_generator

os.environ.setdefault("GLOG_minloglevel", "2")  # quiet MediaPipe before it is imported

from vasa.data.manifest import ManifestItem, is_validation, read_manifest, speaker_of
from vasa.evaluation import mouth_metrics as mo
from vasa.evaluation.evaluate import IDENTITY_FRAMES, identity_shapes
from vasa.io import atomic_output, load_audio
from vasa.latent.basis import default_basis
from vasa.latent.face_model import lip_direction
from vasa.motion.controls import Controls
from vasa.motion.engine import MotionEngine
from vasa.portrait import load_portrait
from vasa.timebase import SAMPLE_RATE
from vasa.tracking.video import track_video

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PORTRAIT = DATA / "portraits" / "MakeItTalk__examples__aya.jpg"  # its talking rest: the level
QUANTILES = (50, 90, 99, 99.9)
STEP = 0.10  # IOD in one frame (25 fps): a snap


def real_opening(video: Path, frames: int, basis) -> np.ndarray:
    tracked = track_video(video, fps=25, basis=basis)
    t = min(frames, len(tracked.found))
    residual = mo.opening_residual(identity_shapes(video, t, IDENTITY_FRAMES, basis), basis)
    opening = mo.mouth_opening(tracked.motion.dynamics[:t], basis, residual)
    return opening[tracked.found[:t]]


def generated_opening(audio: np.ndarray, model, extractor, portrait, basis) -> np.ndarray:
    rest = portrait.talking_rest(basis)
    engine = MotionEngine(model, extractor, portrait.pose, rest, Controls(), basis=basis,
                          close_in_silence=False, close_lips=False, lip_step=np.inf)
    frames = engine.push(audio) + engine.flush()
    pca = basis.layout.pca
    dyn = np.stack([f.dynamics for f in frames])
    return engine.rest_gap + (dyn[:, pca] - rest[pca]) @ lip_direction(basis)


def speech_clips(manifest: Path, seconds: float
                 ) -> Iterator[tuple[ManifestItem, bool, np.ndarray]]:
    """Every talking clip of `manifest` with an audio track: (the item, whether its speaker is
    held out, the first `seconds` of its audio)."""
    for item in read_manifest(manifest, kinds=("clips",)):
        if item.audio is not None:
            yield (item, is_validation(speaker_of(item)),
                   load_audio(item.audio)[:round(seconds * SAMPLE_RATE)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--manifest", type=Path, default=DATA / "MANIFEST.tsv")
    ap.add_argument("--out", type=Path, help="also write the report here (markdown)")
    args = ap.parse_args()
    basis = default_basis()
    model, extractor = bundled_generator(basis)
    portrait = load_portrait(PORTRAIT, 512, None, basis, framed=False)
    frames = round(args.seconds * 25)
    pooled: dict[str, dict[str, list]] = {}
    for item, held_out, audio in speech_clips(args.manifest, args.seconds):
        group = "held-out speakers" if held_out else "training speakers"
        real = real_opening(item.video, frames, basis)
        gen = generated_opening(audio, model, extractor, portrait, basis)
        g = pooled.setdefault(group, {"real": [], "gen": [], "clips": []})
        g["real"].append(real)
        g["gen"].append(gen)
        g["clips"].append(item.video.name)
        print(f"{group[:8]} {item.video.name[:48]:48s} real p99 {np.percentile(real, 99):.3f}  "
              f"generated p99 {np.percentile(gen, 99):.3f}", flush=True)
    lines = ["| group | clips | source | " + " | ".join(f"p{q:g}" for q in QUANTILES)
             + f" | one-frame steps over {STEP:.2f} |", "|---|---|---|" + "---|" * len(QUANTILES)
             + "---|"]
    for group, g in pooled.items():
        for source in ("real", "gen"):
            values = np.concatenate(g[source])
            steps = np.concatenate([np.abs(np.diff(v)) for v in g[source]])
            name = "re-tracked video" if source == "real" else "generator, asked"
            lines.append(f"| {group} | {len(g['clips'])} | {name} | "
                         + " | ".join(f"{v:.3f}" for v in np.percentile(values, QUANTILES))
                         + f" | {(steps > STEP).mean():.1%} |")
    print("\n".join(lines))
    if args.out:
        head = [(f"# The generator's mouth opening beside the real speakers' (their own speech, "
                f"first {args.seconds:g} s)"), "",
                (f"`python scripts/generator_opening.py --seconds {args.seconds:g}`: every "
                "talking clip of the manifest. Real: the inner-lip gap re-tracked from the "
                "video; generated: the gap the bundled generator asks for on the clip's audio "
                f"(seed 0, {PORTRAIT.name}'s talking rest), before the silence gate, the lip "
                "closure and the step limit. Eye distances, pooled over a group's clips."), ""]
        with atomic_output(args.out) as tmp:
            Path(tmp).write_text("\n".join(head + lines) + "\n")


if __name__ == "__main__":
    main()
