"""Gaze control error, re-tracked from the video (issue 12; VASA-1 Table 5's gaze error).

For each portrait and each named direction, `vasa generate --gaze NAME` on the speech; the
video is re-tracked and its median gaze (head + eyes, `gaze_angles`) compared with the request
(the model's forward gaze plus the named offset). Prints one line per video and the mean error
per portrait; --json writes them. The speech may be any audio or video file: its first
--seconds are used.

--distances D...: Table 5's other error, E_d. For each head distance, `vasa generate
--distance D`; the re-tracked median face scale against the portrait's gives the distance seen
(portrait scale / video scale: 1 = the portrait's framing, 2 = a face half as wide), and
E_d = |seen - D|. Also the head's rotation spread (degrees), which the condition does move.

    python scripts/gaze_error.py SPEECH PORTRAIT [PORTRAIT ...] [--json OUT]
    python scripts/gaze_error.py --table BEFORE.json AFTER.json [--md OUT]   # side by side

Before and after in one run: the first with PYTHONPATH pointing at the older checkout's src/.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from vasa.cli import main as vasa
from vasa.data.conditions import gaze_angles
from vasa.io import atomic_output, load_audio
from vasa.latent.basis import default_basis
from vasa.latent.motion import SCALE
from vasa.motion.checkpoint import load_model
from vasa.motion.controls import GAZE_NAMES
from vasa.portrait import load_portrait
from vasa.tracking.video import track_video


def measure(speech: str, portraits: list[str], size: int, seconds: float,
            distances: list[float] | None = None) -> dict:
    basis = default_basis()
    forward = np.array(load_model().info.get("gaze_forward", (0.0, 0.0)))
    out: dict = {"speech": speech, "seconds": seconds, "portraits": {}}
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        sf.write(wav, load_audio(speech, 16000)[: int(seconds * 16000)], 16000)
        for portrait in portraits:
            rows = {}
            for name, offset in GAZE_NAMES.items():
                video = Path(tmp) / f"{name}.mp4"
                vasa(["generate", portrait, str(wav), "-o", str(video), "-q", "--crop",
                      "--size", str(size), "--gaze", name])
                tracked = track_video(video, fps=25, basis=basis)
                seen = np.median(gaze_angles(tracked.motion.dynamics[tracked.found],
                                             tracked.motion.pose[tracked.found]), 0)
                want = forward + np.array(offset)
                error = float(np.degrees(np.linalg.norm(seen - want)))
                rows[name] = {"asked": np.degrees(want).round(2).tolist(),
                              "seen": np.degrees(seen).round(2).tolist(), "error": error}
                print(f"{Path(portrait).name} {name}: asked {np.degrees(want).round(1)} deg, "
                      f"seen {np.degrees(seen).round(1)}, error {error:.1f}", flush=True)
            mean = float(np.mean([r["error"] for r in rows.values()]))
            out["portraits"][Path(portrait).stem] = {"directions": rows, "mean": mean}
            print(f"{Path(portrait).name}: mean error {mean:.1f} degrees", flush=True)
            if distances:
                out["portraits"][Path(portrait).stem]["distance"] = _distances(
                    portrait, wav, Path(tmp), size, distances, basis)
    return out


def _distances(portrait: str, wav: Path, tmp: Path, size: int, distances: list[float],
               basis) -> dict:
    """Head distance asked against seen, re-tracked (E_d), per requested distance."""
    # The portrait's own scale, in the same aligned crop the videos show (--crop).
    base = float(load_portrait(portrait, size=size, basis=basis).pose[SCALE])
    rows = {}
    for d in distances:
        video = tmp / f"distance_{d:g}.mp4"
        vasa(["generate", portrait, str(wav), "-o", str(video), "-q", "--crop",
              "--size", str(size), "--distance", f"{d:g}"])
        tracked = track_video(video, fps=25, basis=basis)
        pose = tracked.motion.pose[tracked.found]
        scale = float(np.median(pose[:, SCALE]))
        seen = base / scale
        spread = float(np.degrees(np.linalg.norm(pose[:, :3].std(0))))
        rows[f"{d:g}"] = {"scale": scale, "rotation_spread_deg": spread, "seen": seen,
                          "error": abs(seen - d)}
        print(f"{Path(portrait).name} distance {d:g}: seen {seen:.2f}, E_d {abs(seen - d):.2f}, "
              f"rotation spread {spread:.1f} deg", flush=True)
    return rows


def table(runs: dict[str, dict]) -> list[str]:
    """Markdown: per portrait and direction, the error of each run (degrees)."""
    names = list(runs)
    first = runs[names[0]]
    lines = [(f"Speech: {first['speech']} (first {first['seconds']:g} s). Error: angle between "
             "the requested main gaze and the re-tracked video's median gaze (head + eyes), "
             "degrees."), "",
             "| portrait | direction | " + " | ".join(names) + " |",
             "|---|---|" + "---:|" * len(names)]
    for p in first["portraits"]:
        for d in GAZE_NAMES:
            lines.append(f"| {p} | {d} | " + " | ".join(
                f"{runs[n]['portraits'][p]['directions'][d]['error']:.1f}" for n in names) + " |")
        lines.append(f"| **{p}** | **mean** | " + " | ".join(
            f"**{runs[n]['portraits'][p]['mean']:.1f}**" for n in names) + " |")
    lines.append("| **all** | **mean** | " + " | ".join(
        f"**{np.mean([v['mean'] for v in runs[n]['portraits'].values()]):.1f}**"
        for n in names) + " |")
    for n in names:
        rows = {p: v["distance"] for p, v in runs[n]["portraits"].items() if "distance" in v}
        if not rows:
            continue
        asked = list(next(iter(rows.values())))
        lines += ["", (f"Head distance, {n}: distance seen (portrait face scale / video face scale"
                  "), E_d = |seen - asked|, and the head rotation's spread (degrees)."), "",
                  "| portrait | " + " | ".join(f"d = {d}: seen, E_d, spread" for d in asked)
                  + " |", "|---|" + "---|" * len(asked)]
        for p, r in rows.items():
            lines.append(f"| {p} | " + " | ".join(
                f"{r[d]['seen']:.2f}, {r[d]['error']:.2f}, {r[d]['rotation_spread_deg']:.1f}"
                for d in asked) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("speech", nargs="?", help="speech: an audio or video file")
    ap.add_argument("portraits", nargs="*", help="portrait images")
    ap.add_argument("--size", type=int, default=256, help="video side (256)")
    ap.add_argument("--seconds", type=float, default=8.0, help="speech used (8)")
    ap.add_argument("--distances", type=float, nargs="+", metavar="D",
                    help="also measure head distance error E_d at these --distance values")
    ap.add_argument("--json", type=Path, help="write the errors as JSON")
    ap.add_argument("--table", nargs="+", metavar="NAME=JSON",
                    help="print the runs' errors side by side instead of measuring")
    ap.add_argument("--md", type=Path, help="with --table: also write the table there")
    args = ap.parse_args()
    if args.table:
        runs = {}
        for spec in args.table:
            name, _, path = spec.rpartition("=")
            runs[name or Path(path).stem] = json.loads(Path(path).read_text())
        lines = table(runs)
        print("\n".join(lines))
        if args.md:
            with atomic_output(args.md) as tmp:
                Path(tmp).write_text("# Gaze control error, re-tracked\n\n" + "\n".join(lines)
                                     + "\n")
        return
    if not args.speech or not args.portraits:
        ap.error("give SPEECH and at least one PORTRAIT (or --table)")
    result = measure(args.speech, args.portraits, args.size, args.seconds, args.distances)
    if args.json:
        with atomic_output(args.json) as tmp:
            Path(tmp).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
