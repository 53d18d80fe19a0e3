"""How far the generator turns and nods the head, clip by clip, on every talking clip's speech.

    python scripts/generator_turns.py [--seconds 20] [--real] [--out REPORT.md]

For every talking clip of the manifest (training and held-out speakers), the first `--seconds`
of its audio drive the bundled generator (seed 0, the "sad" portrait's pose and talking rest,
`vasa generate`'s engine, so eased into `motion.features.TURN_LIMIT`); per clip the 99th
percentile and the largest |yaw| and |pitch| away from the portrait's pose (degrees), and the
share of frames past the knees (`TURN_KNEE`). With --real, the same of the real video
re-tracked, around its median pose. Pooled per group at the end.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from generator_opening import speech_clips
from portrait_report import bundled_generator

os.environ.setdefault("GLOG_minloglevel", "2")  # quiet MediaPipe before it is imported

from vasa.io import atomic_output
from vasa.latent.basis import default_basis
from vasa.motion.engine import MotionEngine
from vasa.motion.features import TURN_KNEE
from vasa.portrait import load_portrait
from vasa.tracking.video import track_video

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PORTRAIT = DATA / "portraits" / "AniTalker__test_demos__portraits__sad.jpg"
KNEE = np.degrees(TURN_KNEE)  # pitch, yaw


def stats(turns: np.ndarray) -> list[float]:
    """|pitch| and |yaw| (T, 2) degrees -> yaw p99, yaw max, pitch p99, pitch max, share of
    frames past the yaw knee, past the pitch knee."""
    a = np.abs(turns)
    return [np.percentile(a[:, 1], 99), a[:, 1].max(), np.percentile(a[:, 0], 99), a[:, 0].max(),
            (a[:, 1] > KNEE[1]).mean(), (a[:, 0] > KNEE[0]).mean()]


def cells(s: list[float]) -> str:
    return " | ".join([f"{v:.1f}" for v in s[:4]] + [f"{v:.1%}" for v in s[4:]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--real", action="store_true", help="also re-track the real videos")
    ap.add_argument("--manifest", type=Path, default=DATA / "MANIFEST.tsv")
    ap.add_argument("--out", type=Path, help="also write the report here (markdown)")
    args = ap.parse_args()
    basis = default_basis()
    model, extractor = bundled_generator(basis)
    portrait = load_portrait(PORTRAIT, 512, None, basis, framed=False)
    frames = round(args.seconds * 25)
    head = ("| group | clip | source | yaw p99 | yaw max | pitch p99 | pitch max | "
            f"frames past {KNEE[1]:.0f} yaw | past {KNEE[0]:.0f} pitch |")
    lines = [head, "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    pooled: dict[tuple[str, str], list[np.ndarray]] = {}
    for item, held_out, audio in speech_clips(args.manifest, args.seconds):
        group = "held-out" if held_out else "training"
        engine = MotionEngine(model, extractor, portrait.pose, portrait.talking_rest(basis),
                              basis=basis)
        out = engine.push(audio) + engine.flush()
        gen = np.degrees(np.stack([f.pose[:2] for f in out]) - portrait.pose[:2])
        rows = [("generated", gen)]
        if args.real:
            tracked = track_video(item.video, fps=25, basis=basis)
            real = np.degrees(tracked.motion.pose[:frames, :2][tracked.found[:frames]])
            rows.append(("real", real - np.median(real, 0)))
        for source, turns in rows:
            pooled.setdefault((group, source), []).append(turns)
            lines.append(f"| {group} | {item.video.name} | {source} | {cells(stats(turns))} |")
            print(lines[-1], flush=True)
    for (group, source), turns in pooled.items():
        lines.append(f"| **{group}, pooled** | {len(turns)} clips | {source} | "
                     f"{cells(stats(np.concatenate(turns)))} |")
    print("\n".join(lines[-len(pooled):]))
    if args.out:
        intro = [(f"# The generator's head turns and nods (first {args.seconds:g} s of each "
                  "clip's speech)"), "",
                 (f"`python scripts/generator_turns.py --seconds {args.seconds:g}"
                  f"{' --real' if args.real else ''}`: the bundled generator on every talking "
                  f"clip's audio (seed 0, {PORTRAIT.name}'s pose), degrees away from the "
                  "portrait's pose; real: the video re-tracked, around its median pose."), ""]
        with atomic_output(args.out) as tmp:
            Path(tmp).write_text("\n".join(intro + lines) + "\n")


if __name__ == "__main__":
    main()
