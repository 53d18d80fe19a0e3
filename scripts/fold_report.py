"""Folded mesh triangles per frame, before and after, in one run (issue 13 item 2).

Cases: every portrait (the shared data's portraits and the bundled astronaut) under a synthetic
yaw sweep (-25..25 degrees added to its own pose, 5 degree steps) and pitch sweep (-15..15), and
a reenactment of a few portraits driven by a real clip (its tracked motion retargeted, as
`vasa reenact` does). Each frame's mesh (vertex positions and depths, against the portrait's
own) comes from two renderers: this tree's ("after") and a git ref's ("before", default main),
whose `src/` is exported to a temporary folder; each runs in a subprocess that writes the meshes
to a file, and this process counts both with one counter (`vasa.evaluation.folds`).

    python scripts/fold_report.py [--before main] [--clip CLIP] [--json OUT]

Prints markdown tables: per portrait, frames with a fold and the most folds in one frame, for
each sweep; per reenacted portrait, frames with a fold, median and most folds per frame.
`flipped` counts every turned-over or collapsed triangle, hidden ones included.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")  # quiet MediaPipe before it is imported

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
ASTRONAUT = ROOT / "src" / "vasa" / "assets" / "astronaut.jpg"
DEFAULT_CLIP = SHARED / "clips" / "LivePortrait__assets__examples__driving__d12.mp4"
# Three-quarter portraits (the cheek outline folds, the face tears turning back) and a frontal.
REENACTED = ("astronaut", "source__s4", "source__s8", "AOC", "alex-lacamoire")
YAWS = np.arange(-25, 26, 5)
PITCHES = np.arange(-15, 16, 5)


def portraits() -> list[Path]:
    return sorted((SHARED / "portraits").iterdir()) + [ASTRONAUT]


def _mesh_frame(renderer, pose: np.ndarray, dynamics: np.ndarray) -> tuple[np.ndarray, ...]:
    """(V, 2) positions and (V,) depths of one frame's mesh, from either renderer."""
    if hasattr(renderer, "mesh_frame"):
        return renderer.mesh_frame(pose, dynamics)
    # The renderer before issue 13 has no mesh_frame: the recipe of its `render`, repeated.
    from vasa.latent.face_model import decode_canonical, placer

    p = renderer.portrait
    pose = np.asarray(pose, np.float64)
    lm = placer(pose, renderer.size)(decode_canonical(p.canonical, p.dynamics,
                                                      np.asarray(dynamics, np.float64),
                                                      renderer.basis))
    return renderer._vertices(lm, pose, p.pose)


def _drawn(renderer, dst: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(M,) pixels each triangle holds in the renderer's own triangle map (0.4x the frame)."""
    warper = renderer.warper
    warper.flow(dst, renderer.src, depth)
    ids = warper.ids if hasattr(type(warper), "ids") else warper._ids  # before: private
    return np.bincount(ids.ravel(), minlength=len(renderer.tris))


def dump(out: Path, paths: list[str], motion: Path, reenacted: list[str], size: int) -> None:
    """Worker: write every case's meshes to `out` (.npz), with whatever `vasa` is importable."""
    from vasa.latent.motion import MotionLatents
    from vasa.latent.retarget import retarget
    from vasa.portrait import load_portrait
    from vasa.render import Renderer

    driving = np.load(motion)
    driving = MotionLatents(driving["pose"], driving["dynamics"])
    arrays: dict[str, np.ndarray] = {}
    for path in paths:
        name = Path(path).stem
        portrait = load_portrait(path, size)
        renderer = Renderer(portrait)
        landmark_of = np.full(renderer.layout.num_vertices, -1)
        landmark_of[renderer.layout.slices[0]] = renderer.layout.face
        arrays[f"{name}/src"] = renderer.src[:, :2]
        arrays[f"{name}/tris"] = renderer.tris
        arrays[f"{name}/landmark_of"] = landmark_of
        cases = {}
        for key, axis, angles in (("yaw", 1, YAWS), ("pitch", 0, PITCHES)):
            poses = np.repeat(portrait.pose[None].astype(np.float64), len(angles), 0)
            poses[:, axis] += np.radians(angles)
            cases[key] = (poses, np.repeat(portrait.dynamics[None], len(angles), 0))
        if any(r in name for r in reenacted):
            m = retarget(portrait.pose, portrait.dynamics, driving, renderer.basis.num_pca)
            cases["reenact"] = (m.pose, m.dynamics)
        for key, (poses, dyns) in cases.items():
            frames = [_mesh_frame(renderer, q, d) for q, d in zip(poses, dyns)]
            arrays[f"{name}/{key}/dst"] = np.stack([f[0][:, :2] for f in frames])
            arrays[f"{name}/{key}/depth"] = np.stack([f[1] for f in frames])
            arrays[f"{name}/{key}/drawn"] = np.stack([_drawn(renderer, *f) for f in frames])
    np.savez_compressed(out, **arrays, size=np.array(size))


def export_src(ref: str, dest: Path) -> Path:
    """`src/` of git ref `ref` under `dest`; the folder to put on PYTHONPATH."""
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], check=True,
                         capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(tar)) as t:
        t.extractall(dest, filter="data")
    return dest / "src"


def count(meshes: Path) -> dict[str, dict[str, list[dict[str, int]]]]:
    """Per portrait, per case, per frame: flipped, folds, exposed_px."""
    from vasa.evaluation.folds import count_folds, flipped_triangles
    from vasa.render.mesh import opening_triangles

    data = np.load(meshes)
    size = int(data["size"])
    out: dict[str, dict[str, list[dict[str, int]]]] = {}
    for key in data.files:
        if not key.endswith("/dst"):
            continue
        name, case, _ = key.split("/")
        src, tris = data[f"{name}/src"], data[f"{name}/tris"]
        skip = opening_triangles(tris, data[f"{name}/landmark_of"])
        frames = []
        for dst, depth, drawn in zip(data[key], data[f"{name}/{case}/depth"],
                                     data[f"{name}/{case}/drawn"]):
            c = count_folds(src, dst, depth, tris, size, skip)
            shown = flipped_triangles(src, dst, tris, skip) & (drawn > 0)
            frames.append({"flipped": c.flipped, "folds": c.folds, "exposed_px": c.exposed_px,
                           "drawn": int(shown.sum())})
        out.setdefault(name, {})[case] = frames
    return out


def _frames_most(frames: list[dict[str, int]], key: str) -> str:
    values = [f[key] for f in frames]
    return f"{sum(v > 0 for v in values)}/{len(values)}, {max(values)}"


def _pair(before: dict, after: dict, name: str, case: str, cell) -> str:
    b = before.get(name, {}).get(case)
    return f"{cell(b) if b else 'n/a'} -> {cell(after[name][case])}"


def table(before: dict, after: dict) -> str:
    """Markdown: sweeps per portrait, then reenactments. Cells are 'before -> after'."""
    lines = [("Sweeps: frames with a fold / frames, most folds in one frame. folds: visible in "
             "the geometry's z-buffer; drawn: turned-over or collapsed triangles holding pixels "
             "of the renderer's own triangle map."), "",
             "| portrait | yaw folds | yaw drawn | pitch folds | pitch drawn | flipped (max) |",
             "|---|---|---|---|---|---|"]
    totals = dict.fromkeys(("folds_b", "folds_a", "drawn_b", "drawn_a", "frames"), 0)
    for name in sorted(after):
        cells = [_pair(before, after, name, case, lambda f, k=key: _frames_most(f, k))
                 for case in ("yaw", "pitch") for key in ("folds", "drawn")]
        flips = _pair(before, after, name, "yaw",
                      lambda f: str(max(x["flipped"] for x in f)))
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {flips} |")
        for case in ("yaw", "pitch"):
            totals["frames"] += len(after[name][case])
            for key in ("folds", "drawn"):
                for label, counts in (("b", before), ("a", after)):
                    frames = counts.get(name, {}).get(case, [])
                    totals[f"{key}_{label}"] += sum(f[key] > 0 for f in frames)
    n = totals["frames"]
    lines.append(f"| all, frames with any | {totals['folds_b']}/{n} -> {totals['folds_a']}/{n} "
                 f"| {totals['drawn_b']}/{n} -> {totals['drawn_a']}/{n} | | | |")
    lines += ["", "Reenactment: frames with a fold / frames; median and most per frame.", "",
              ("| portrait | fold frames | median | most | drawn frames | drawn most | "
              "flipped (median) |"), "|---|---|---|---|---|---|---|"]
    for name in sorted(after):
        if "reenact" not in after[name]:
            continue
        stats = (lambda f: f"{sum(x['folds'] > 0 for x in f)}/{len(f)}",
                 lambda f: f"{np.median([x['folds'] for x in f]):g}",
                 lambda f: f"{max(x['folds'] for x in f)}",
                 lambda f: f"{sum(x['drawn'] > 0 for x in f)}/{len(f)}",
                 lambda f: f"{max(x['drawn'] for x in f)}",
                 lambda f: f"{np.median([x['flipped'] for x in f]):g}")
        lines.append(f"| {name} | " + " | ".join(_pair(before, after, name, "reenact", st)
                                                 for st in stats) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", default="main", help="git ref of the 'before' renderer (main)")
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP,
                    help="driving clip of the reenactment (LivePortrait d12)")
    ap.add_argument("--size", type=int, default=512, help="frame side in pixels (512)")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write per-frame counts")
    ap.add_argument("--dump", type=Path, help=argparse.SUPPRESS)  # worker: meshes to this file
    ap.add_argument("--motion", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--portraits", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.dump:
        dump(args.dump, args.portraits, args.motion, list(REENACTED), args.size)
        return
    if not (SHARED / "portraits").is_dir() or not args.clip.is_file():
        raise FileNotFoundError(f"{SHARED}/portraits and {args.clip} are needed")
    from vasa.tracking.video import track_video

    paths = [str(p) for p in portraits()]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tracked = track_video(args.clip).motion
        np.savez(tmp / "motion.npz", pose=tracked.pose, dynamics=tracked.dynamics)
        trees = {"before": export_src(args.before, tmp / "before"), "after": ROOT / "src"}
        jobs = {}
        for label, src in trees.items():
            env = dict(os.environ, PYTHONPATH=str(src))
            cmd = [sys.executable, __file__, "--dump", str(tmp / f"{label}.npz"), "--motion",
                   str(tmp / "motion.npz"), "--size", str(args.size), "--portraits", *paths]
            jobs[label] = subprocess.Popen(cmd, env=env)
        for label, job in jobs.items():
            if job.wait() != 0:
                raise RuntimeError(f"the {label} renderer's worker failed ({job.returncode})")
        counts = {label: count(tmp / f"{label}.npz") for label in trees}
    print(f"Folds per frame (vasa.evaluation.folds), before = {args.before}, after = this tree; "
          f"reenactment driven by {args.clip.name} ({len(tracked)} frames)\n")
    print(table(counts["before"], counts["after"]))
    if args.json:
        args.json.write_text(json.dumps(counts, indent=1) + "\n")


if __name__ == "__main__":
    main()
