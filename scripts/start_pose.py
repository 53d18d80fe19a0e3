"""Where does a generated video's head start? The first half second against the rest (#13).

The motion engine (no render) on the bundled portrait, for each held-out speech of the
cross-identity evaluation (`cross_identity_eval.SPEECHES`, its first SECONDS) and SEEDS seeds: the head's turn away from the
portrait's own pose (the larger of |yaw| and |pitch|, degrees) and its shift (eye distances)
at frame 0, their largest over the first half second, and the 99th percentile of the turn
after the first second. A video that opens on a turned head shows the warp's weakest frames
(the near cheek stretched, hair streaked) before anything else.

    PYTHONPATH=src python scripts/start_pose.py [--out benchmarks/results/start_pose.md]

Run it with another tree's `src` on PYTHONPATH for a before/after in one session (the table
says which tree made it).
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import numpy as np
from cross_identity_eval import SPEECHES  # the held-out speeches

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SECONDS = 8.0
SEEDS = (0, 1, 2)
HALF_S, ONE_S = 12, 25  # frames at 25 fps


def run(seconds: float, seeds: tuple[int, ...]) -> list[tuple[str, int, dict[str, float]]]:
    from vasa.audio import get_extractor
    from vasa.io import load_audio
    from vasa.latent.basis import default_basis
    from vasa.latent.motion import SCALE, TX, TY
    from vasa.motion.checkpoint import DEFAULT_MODEL, load_model
    from vasa.motion.controls import Controls
    from vasa.motion.engine import MotionEngine
    from vasa.portrait import load_portrait

    basis = default_basis()
    extractor = get_extractor()
    model = load_model(DEFAULT_MODEL, extractor.spec.id, basis.version)
    portrait = load_portrait(ROOT / "src" / "vasa" / "assets" / "astronaut.jpg", 512, 0, basis)
    rest = portrait.talking_rest(basis)
    rows = []
    for speech in SPEECHES:
        name = speech.key
        audio = load_audio(DATA / speech.clip)[:round(seconds * 16000)]
        for seed in seeds:
            engine = MotionEngine(model, extractor, portrait.pose, rest, Controls(seed=seed))
            pose = np.stack([f.pose for f in engine.push(audio) + engine.flush()])
            d = pose - portrait.pose[None]
            turn = np.degrees(np.abs(d[:, :2]).max(1))  # the larger of pitch and yaw
            shift = np.linalg.norm(d[:, TX:TY + 1], axis=1) / portrait.pose[SCALE]
            rows.append((name, seed, {
                "turn0": float(turn[0]), "turn_half": float(turn[:HALF_S].max()),
                "turn_p99": float(np.percentile(turn[ONE_S:], 99)),
                "shift0": float(shift[0]), "shift_half": float(shift[:HALF_S].max())}))
    return rows


def table(rows: list[tuple[str, int, dict[str, float]]]) -> list[str]:
    head = ("| speech | seed | turn at frame 0 (deg) | largest turn, first 0.5 s | turn after 1 s, "
            "99th pct | shift at frame 0 (eye distances) | largest shift, first 0.5 s |")
    out = [head, "|---|---|---|---|---|---|---|"]
    for name, seed, m in rows:
        out.append(f"| {name} | {seed} | {m['turn0']:.1f} | {m['turn_half']:.1f} | "
                   f"{m['turn_p99']:.1f} | {m['shift0']:.2f} | {m['shift_half']:.2f} |")
    v = {k: np.array([m[k] for _, _, m in rows]) for k in rows[0][2]}
    out.append(f"| **median / largest** | | {np.median(v['turn0']):.1f} / {v['turn0'].max():.1f} "
               f"| {np.median(v['turn_half']):.1f} / {v['turn_half'].max():.1f} "
               f"| {np.median(v['turn_p99']):.1f} / {v['turn_p99'].max():.1f} "
               f"| {np.median(v['shift0']):.2f} / {v['shift0'].max():.2f} "
               f"| {np.median(v['shift_half']):.2f} / {v['shift_half'].max():.2f} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=SECONDS)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    ap.add_argument("--out", type=Path, help="also write the table here (markdown)")
    args = ap.parse_args()
    import vasa  # the tree that makes the rows (PYTHONPATH may name another checkout's)

    print(f"tree: {Path(vasa.__file__).parents[1]}")
    rows = run(args.seconds, tuple(args.seeds))
    rev = subprocess.run(["git", "-C", str(Path(vasa.__file__).parent), "rev-parse", "--short",
                          "HEAD"], check=False, capture_output=True, text=True).stdout.strip()
    lines = table(rows)
    print("\n".join(lines))
    if args.out:
        from vasa.io import atomic_output

        with atomic_output(args.out) as tmp:
            Path(tmp).write_text("\n".join([f"Measured with the tree at {rev}.", "", *lines, ""]))


if __name__ == "__main__":
    main()
