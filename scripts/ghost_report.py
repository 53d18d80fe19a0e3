"""Double images at the paste's edge on every portrait, reenacted or generated (model-free, #13).

    python scripts/ghost_report.py [--clip CLIP | --speech AUDIO] [--step 2]
                                   [--out benchmarks/results/ghost] [--compare BEFORE.json]

Each portrait of ../shared/data/portraits and the bundled astronaut, framed at 512 px, driven by
the clip's tracked motion (retargeted as `vasa reenact` does, its shift limit included) or, with
`--speech`, by the motion `vasa generate` makes for that speech's first 8 s (the bundled
generator, default controls, seed 0); every `--step`-th frame's crop pasted into the picture
and scored by
`evaluation.ghost`: the share of the output's pixels where the moved render and the still
picture both show, and differ. Per portrait: the mean over frames, the 95th percentile, the
worst frame, and how many frames have more than 0.5% of the picture doubled. The renderer is the
`vasa` on PYTHONPATH (another tree's for a before/after); the measure is always this tree's, so
both sides are scored alike. `--compare` puts a run's JSON beside this one, before -> after.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from functools import cache
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

from portrait_table import provenance, read_rows, table_lines, write_report

from vasa.audio import get_extractor
from vasa.io import load_audio
from vasa.latent.basis import default_basis
from vasa.latent.motion import MotionLatents
from vasa.latent.retarget import retarget
from vasa.motion.checkpoint import load_model
from vasa.motion.config import DEFAULT_MODEL
from vasa.motion.controls import Controls
from vasa.motion.engine import MotionEngine
from vasa.pipelines.config import ReenactConfig
from vasa.portrait import load_portrait
from vasa.render import Renderer
from vasa.render.paste import PasteBack
from vasa.timebase import SAMPLE_RATE
from vasa.tracking import NoFaceError
from vasa.tracking.video import track_video

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ASTRONAUT = ROOT / "src" / "vasa" / "assets" / "astronaut.jpg"
DEFAULT_CLIP = DATA / "clips" / "LivePortrait__assets__examples__driving__d12.mp4"
_spec = importlib.util.spec_from_file_location(
    "ghost_measure", ROOT / "src" / "vasa" / "evaluation" / "ghost.py")
measure = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = measure
_spec.loader.exec_module(measure)
DOUBLED = 0.005  # a frame counts when more than this share of the picture is doubled
COLUMNS = ("mean", "p95", "worst", "frames over 0.5%")


SPEECH_S = 8.0  # seconds of `--speech` generated


@cache
def _generator(basis_version: str):
    """(the bundled motion generator, its audio feature extractor), loaded once."""
    extractor = get_extractor()
    return load_model(DEFAULT_MODEL, extractor.spec.id, basis_version), extractor


def generated(portrait, speech: np.ndarray, basis) -> MotionLatents:
    """The motion `vasa generate` makes for `speech` (16 kHz) on `portrait`: the bundled
    generator, default controls, its talking rest, the mouth's constraints included; without
    the portrait's mouth and lid calibration, which moves the lips and lids, not the head."""
    model, extractor = _generator(basis.version)
    engine = MotionEngine(model, extractor, portrait.pose, portrait.talking_rest(basis),
                          Controls(), basis=basis)
    frames = engine.push(speech) + engine.flush()
    return MotionLatents(np.stack([f.pose for f in frames]),
                         np.stack([f.dynamics for f in frames]))


def score(path: Path, driving, speech: np.ndarray | None, step: int, basis
          ) -> dict[str, float]:
    """{column: value} for one portrait under the driving motion (`driving`: MotionLatents,
    retargeted) or, given `speech`, the motion generated for it."""
    portrait = load_portrait(path, 512, basis=basis, framed=True)
    renderer = Renderer(portrait, basis)
    paste = PasteBack(portrait.framing, renderer.size)
    if speech is not None:
        motion = generated(portrait, speech, basis)
    else:
        motion = retarget(portrait.pose, portrait.dynamics, driving, basis.num_pca,
                          shift_limit=ReenactConfig().shift_limit)
    ghosts = []
    for pose, dyn in zip(motion.pose[::step], motion.dynamics[::step]):
        crop = renderer.render(pose, dyn)
        ghosts.append(measure.ghost_fraction(paste, crop, renderer.flow))
    g = np.array(ghosts)
    return {"mean": float(g.mean()), "p95": float(np.percentile(g, 95)),
            "worst": float(g.max()), "frames over 0.5%": float((g > DOUBLED).sum()),
            "frames": float(len(g))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help="driving clip (LP d12)")
    ap.add_argument("--speech", type=Path,
                    help="score generated motion for this speech (audio or video) instead")
    ap.add_argument("--step", type=int, default=2, help="score every STEP-th frame (2)")
    ap.add_argument("--out", type=Path, help="write OUT.md and OUT.json")
    ap.add_argument("--compare", type=Path, help="a JSON of an earlier run: before -> after")
    args = ap.parse_args()
    basis = default_basis()
    speech = driving = None
    if args.speech:
        speech = load_audio(args.speech)[:round(SPEECH_S * SAMPLE_RATE)]
    else:
        driving = track_video(args.clip, fps=25, basis=basis).motion
    paths = sorted((DATA / "portraits").iterdir()) + [ASTRONAUT]
    rows = {}
    for path in paths:
        try:
            rows[path.stem] = score(path, driving, speech, args.step, basis)
        except NoFaceError as e:  # no usable face: say so, score the rest
            print(f"{path.name}: skipped ({e})")
            continue
        print(path.stem, {k: round(v, 4) for k, v in rows[path.stem].items()}, flush=True)
    def fmt(col: str, v: float) -> str:
        return f"{v:.0f}" if col.startswith("frames") else f"{100 * v:.2f}%"

    frames = int(next(iter(rows.values()))["frames"])
    source = (f"motion generated for the first {SPEECH_S:g} s of {args.speech.name}"
              if args.speech else f"{args.clip.name} reenacted")
    lines = [(f"Double images at the paste's edge ({provenance('ghost_report.py', args.compare)}"
             f"): {source}, {frames} frames each; the share of the picture where the "
             f"moved render and the still picture both show (paste weight "
             f"{measure.GHOST_WEIGHT:g}-{1 - measure.GHOST_WEIGHT:g}) and differ by over "
             f"{measure.GHOST_LEVELS} levels."), ""]
    lines += table_lines(rows, list(COLUMNS), read_rows(args.compare), fmt, np.mean, "mean")
    text = "\n".join(lines) + "\n"
    print(text)
    write_report(args.out, text, rows)


if __name__ == "__main__":
    main()
