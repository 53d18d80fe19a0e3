"""Lip rounding at /u o w/ (issue 12 item 5), generated against real, on the cross-identity
videos.

For each English speech of the cross-identity protocol, its real video and every generated
video of it (as `scripts/cross_identity_eval.py` wrote them: WORK/speech/KEY.wav,
WORK/videos/METHOD/PORTRAIT__KEY.mp4) are re-tracked; the mouth's width (outer lip corners,
pose-free, `mouth_metrics.mouth_width`) at the recognised rounded phones (`phones.ROUNDED`,
pocketsphinx) over its median width is compared. Under 1: the lips narrow there; a real
speaker's ratio is the reference. The French and the unlabelled speeches are left out (the
phone recogniser is English).

    python scripts/rounding_eval.py --work out/cross_identity/12s --method lip_closure
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from vasa.evaluation.mouth_metrics import mouth_width
from vasa.evaluation.phones import ROUNDED, phone_ratio, phone_segments
from vasa.io import atomic_output, load_audio
from vasa.latent.basis import default_basis
from vasa.tracking.video import track_video

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cross_identity_eval import SPEECHES  # the protocol's speeches, listed once

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def ratio(video: Path, phones, seconds: float) -> float | None:
    tracked = track_video(video, fps=25, basis=default_basis())
    n = min(len(tracked.found), round(seconds * 25))
    width = mouth_width(tracked.motion.dynamics[:n], default_basis())
    return phone_ratio(width, phones, ROUNDED, tracked.found[:n])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("out/cross_identity/12s"),
                    help="cross_identity_eval.py's work folder (out/cross_identity/12s)")
    ap.add_argument("--method", action="append", default=[],
                    help="generated videos' method folder(s) under WORK/videos (all)")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/rounding.json"))
    ap.add_argument("--md", type=Path, default=Path("benchmarks/results/rounding.md"))
    args = ap.parse_args()
    methods = args.method or sorted(p.name for p in (args.work / "videos").iterdir()
                                    if p.is_dir())
    rows: dict[str, dict] = {}
    for spec in SPEECHES:
        if spec.language != "English":
            continue
        wav = args.work / "speech" / f"{spec.key}.wav"
        audio = load_audio(wav, 16000)
        seconds = len(audio) / 16000
        phones = phone_segments(audio)
        n_round = sum(p.label in ROUNDED for p in phones)
        row = {"rounded_phones": n_round, "real": ratio(DATA / spec.clip, phones, seconds)}
        for m in methods:
            got = [ratio(v, phones, seconds)
                   for v in sorted((args.work / "videos" / m).glob(f"*__{spec.key}.mp4"))]
            got = [g for g in got if g is not None]
            row[m] = {"median": float(np.median(got)) if got else None,
                      "min": float(np.min(got)) if got else None,
                      "max": float(np.max(got)) if got else None, "videos": len(got)}
        rows[spec.key] = row
        print(spec.key, json.dumps(row), flush=True)
    lines = ["# Lip rounding at /u o w/: mouth width there over its median width", "",
             f"Reproduce: `python scripts/rounding_eval.py --work {args.work}"
             + "".join(f" --method {m}" for m in methods) + "` (after "
             "`scripts/cross_identity_eval.py`). Under 1: the lips narrow at the rounded "
             "phones (UW, OW, W, UH, pocketsphinx); generated: median [min, max] over the "
             "portraits.", "",
             "| speech | rounded phones | real | " + " | ".join(methods) + " |",
             "|---|---:|---:|" + "---|" * len(methods)]
    for key, row in rows.items():
        cells = [f"{row[m]['median']:.3f} [{row[m]['min']:.3f}, {row[m]['max']:.3f}]"
                 if row[m]["median"] is not None else "n/a" for m in methods]
        real = f"{row['real']:.3f}" if row["real"] is not None else "n/a"
        lines.append(f"| {key} | {row['rounded_phones']} | {real} | " + " | ".join(cells) + " |")
    reals = [r["real"] for r in rows.values() if r["real"] is not None]
    gens = {m: [r[m]["median"] for r in rows.values() if r[m]["median"] is not None]
            for m in methods}
    lines.append(f"| **mean** | | **{np.mean(reals):.3f}** | " + " | ".join(
        f"**{np.mean(gens[m]):.3f}**" for m in methods) + " |")
    with atomic_output(args.md) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    with atomic_output(args.json) as tmp:
        Path(tmp).write_text(json.dumps(rows, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
