"""The frame of a per-portrait report over one held-out speech (`edge_report.py`,
`mouth_response_report.py`, ...): its command line, the loop over every portrait, the markdown
written atomically to the results folder, and the generator's motion for a framed portrait."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vasa.audio import AudioFeatureExtractor, get_extractor
from vasa.io import atomic_output, load_audio
from vasa.latent.basis import FaceBasis, default_basis
from vasa.motion.checkpoint import DEFAULT_MODEL, MotionModel, load_model
from vasa.motion.engine import MotionEngine, TimedFrame
from vasa.portrait import Portrait, load_portrait
from vasa.timebase import SAMPLE_RATE, SAMPLES_PER_FRAME

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
ASTRONAUT = ROOT / "src" / "vasa" / "assets" / "astronaut.jpg"


def every_portrait() -> list[Path]:
    """The shared data's portraits and the bundled astronaut."""
    return sorted((SHARED / "portraits").iterdir()) + [ASTRONAUT]


def bundled_generator(basis: FaceBasis) -> tuple[MotionModel, AudioFeatureExtractor]:
    """The bundled motion generator for `basis` and the audio features it reads."""
    extractor = get_extractor()
    return load_model(DEFAULT_MODEL, extractor.spec.id, basis.version), extractor


def generated(path: Path, audio: np.ndarray, frames: int
              ) -> tuple[Portrait, FaceBasis, list[TimedFrame]]:
    """The portrait at `path` framed as `vasa generate` frames it (512 px), the face basis, and
    the bundled generator's first `frames` frames of motion for `audio` (seed 0)."""
    basis = default_basis()
    model, extractor = bundled_generator(basis)
    portrait = load_portrait(path, 512, 0, basis, framed=True)
    engine = MotionEngine(model, extractor, portrait.pose, portrait.talking_rest(basis))
    motion = engine.push(audio[:frames * SAMPLES_PER_FRAME]) + engine.flush()
    return portrait, basis, motion[:frames]


def run(doc: str, speech: Path, out: Path,
        measure: Callable[[Path, np.ndarray, int], dict],
        table: Callable[[list[dict], Path, int], list[str]]) -> None:
    """Parse --speech, --frames, --portraits and --out (defaults: `speech`, 150, every
    portrait, `out`); `measure(portrait, audio, frames)` each portrait (printed as it goes);
    write `table(rows, speech, frames)` to --out and print it."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--speech", type=Path, default=speech)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--portraits", type=Path, nargs="*", default=None,
                    help="default: every portrait in ../shared/data/portraits and the astronaut")
    ap.add_argument("--out", type=Path, default=out)
    args = ap.parse_args()
    audio = load_audio(args.speech, SAMPLE_RATE)
    rows = []
    for p in args.portraits or every_portrait():
        rows.append(measure(p, audio, args.frames))
        print(rows[-1], flush=True, file=sys.stderr)
    text = "\n".join(table(rows, args.speech, args.frames)) + "\n"
    with atomic_output(args.out) as tmp:
        Path(tmp).write_text(text)
    print(text)
