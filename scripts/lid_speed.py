"""How fast the generated lids move, offline and streaming: per portrait and speech, the
emitted frames' eyelid openness (ratio to the portrait's talking rest, both eyes' mean) and
its largest one-frame rise and drop; a rise over `blinks.OPEN_PER_FRAME` is a lid snapping
open, a drop over `blinks.CLOSE_PER_FRAME` lids shut in one frame. The motion engine alone (no rendering), so it runs in seconds.

    python scripts/lid_speed.py PORTRAIT AUDIO [PORTRAIT AUDIO ...] [--seed 0]
    PYTHONPATH=OLD_CHECKOUT/src python scripts/lid_speed.py ...   # an older tree, same inputs

Streaming is `vasa serve`'s preset (hop 2, look-ahead 1): each window emits 2 frames and
guesses the rest, so a blink one window starts, the next may not finish.
"""

from __future__ import annotations

import argparse

import numpy as np

from vasa.audio import get_extractor
from vasa.files import MediaError
from vasa.io import load_audio
from vasa.latent.basis import default_basis
from vasa.motion.checkpoint import load_model
from vasa.motion.controls import Controls
from vasa.motion.engine import MotionEngine
from vasa.portrait import load_portrait
from vasa.timebase import SAMPLE_RATE

PRESETS = {"offline": (None, None), "streaming": (2, 1)}  # (hop, look-ahead)
OPEN_PER_FRAME = 0.3  # the lid speed of vasa.motion.blinks (here too for older trees, whose was 0.2)
CLOSE_PER_FRAME = 0.5  # ... and its closing speed
CHUNK = SAMPLE_RATE // 5  # 200 ms of audio a push, as a client streams it


def openness(portrait_path: str, audio_path: str, hop: int | None, lookahead: int | None,
             seed: int) -> np.ndarray:
    """(T,) mean eyelid ratio of the emitted frames."""
    basis = default_basis()
    extractor = get_extractor()
    model = load_model(extractor=extractor.spec.id, basis_version=basis.version)
    portrait = load_portrait(portrait_path, basis=basis)
    rest = portrait.talking_rest(basis)
    engine = MotionEngine(model, extractor, portrait.pose, rest, Controls(seed=seed),
                          hop=hop, lookahead=lookahead)
    audio = load_audio(audio_path, SAMPLE_RATE)
    frames = []
    for i in range(0, len(audio), CHUNK):
        frames += engine.push(audio[i:i + CHUNK])
    frames += engine.flush()
    eyes = basis.layout.eyes
    return np.array([np.mean(f.dynamics[eyes] / rest[eyes]) for f in frames])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="+", help="PORTRAIT AUDIO pairs")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if len(args.inputs) % 2:
        ap.error("give PORTRAIT AUDIO pairs")
    print(f"| portrait | audio | preset | frames | rises over {OPEN_PER_FRAME} | largest rise | "
          f"drops over {CLOSE_PER_FRAME} | largest drop | frames under half open |")
    print("|---|---|---|---|---|---|---|---|---|")
    for portrait, audio in zip(args.inputs[::2], args.inputs[1::2]):
        for name, (hop, look) in PRESETS.items():
            try:
                o = openness(portrait, audio, hop, look, args.seed)
            except (MediaError, ValueError) as e:  # no audio, no face: say so, go on
                print(f"| {portrait.rsplit('/', 1)[-1]} | {audio.rsplit('/', 1)[-1]} | {name} | "
                      f"skipped: {e} |")
                continue
            d = np.diff(o)
            print(f"| {portrait.rsplit('/', 1)[-1]} | {audio.rsplit('/', 1)[-1]} | {name} | "
                  f"{len(o)} | {int((d > OPEN_PER_FRAME + 1e-6).sum())} | {d.max():.2f} | "
                  f"{int((d < -CLOSE_PER_FRAME - 1e-6).sum())} | {d.min():.2f} | "
                  f"{int((o < 0.5).sum())} |")


if __name__ == "__main__":
    main()
