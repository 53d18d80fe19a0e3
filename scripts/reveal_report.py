"""Streaks where a turn reveals a far cheek, before and after `render.reveal`, in one run.

Every portrait (the shared data's and the bundled astronaut) turns -25..25 degrees of yaw
added to its own pose (5 degree steps), and the three-quarter portraits are reenacted by a real
clip (as `vasa reenact` retargets it). Each frame is rendered twice with this tree: "before"
is the renderer as it was (RenderConfig(reveal=False, outline_inset=0): the same pixels as
the commit before the change), "inset" the outline drawn inside MediaPipe's oval alone
(reveal=False), "after" the defaults (the inset and render.reveal's mirror detail). The streak ratio
(`vasa.evaluation.streaks`) is pooled over the pixels any of them stretches.

    python scripts/reveal_report.py [--sheet out/reveal_sheet.png] [--json OUT]

Writes benchmarks/results/reveal.md; --sheet also writes, per portrait, its frame with the
most streak energy before: before | inset | after, cropped around the stretched pixels.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")  # quiet MediaPipe before it is imported

from fold_report import DEFAULT_CLIP, ROOT, SHARED, portraits  # the same cases as the folds

from vasa.evaluation.streaks import STRETCH, Stretch, streak_energies, stretch_of
from vasa.latent.motion import MotionLatents
from vasa.latent.retarget import retarget
from vasa.portrait import load_portrait
from vasa.render import RenderConfig, Renderer

REENACTED = ("astronaut", "source__s4", "source__s8", "AOC", "alex-lacamoire", "audrey")
YAWS = [y for y in range(-25, 26, 5) if y != 0]
VARIANTS = {"before": RenderConfig(reveal=False, outline_inset=0.0),
            "inset": RenderConfig(reveal=False), "after": RenderConfig()}
TILE = 160  # px: a sheet tile's side


def _cases(portrait, basis, driving: MotionLatents | None) -> dict[str, tuple]:
    poses = np.repeat(portrait.pose[None].astype(np.float64), len(YAWS), 0)
    poses[:, 1] += np.radians(YAWS)
    cases = {"yaw": (poses, np.repeat(portrait.dynamics[None], len(YAWS), 0))}
    if driving is not None:
        m = retarget(portrait.pose, portrait.dynamics, driving, basis.num_pca)
        cases["reenact"] = (m.pose, m.dynamics)
    return cases


def _crop(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    cy, cx = int(ys.mean()), int(xs.mean())
    h = TILE // 2
    y0, x0 = np.clip([cy - h, cx - h], 0, [image.shape[0] - TILE, image.shape[1] - TILE])
    return cv2.resize(image[y0:y0 + TILE, x0:x0 + TILE], (2 * TILE, 2 * TILE))


def run(path: Path, driving: MotionLatents | None, size: int) -> dict:
    portrait = load_portrait(path, size)
    renderers = {k: Renderer(portrait, config=c) for k, c in VARIANTS.items()}
    out = {"cases": {}}
    worst = (-1.0, None)
    for case, (poses, dyns) in _cases(portrait, renderers["after"].basis, driving).items():
        rows = []
        for pose, dyn in zip(poses, dyns):
            times: dict[str, float] = {}
            frames, stretch = {}, None
            for k, r in renderers.items():
                frames[k] = r.render(pose, dyn, times if k == "after" else None)
                s = stretch_of(r, r.mesh_frame(pose, dyn)[0])
                # The pixels any frame stretches, each read along the first direction found:
                # the same pixels and directions for all.
                stretch = s if stretch is None else Stretch(
                    stretch.mask | s.mask, np.where(stretch.mask[..., None], stretch.along,
                                                    s.along))
            row = {"px": int(stretch.mask.sum()), "reveal_ms": 1e3 * times.get("reveal", 0.0)}
            if stretch.mask.any():
                row.update({k: streak_energies(f, stretch) for k, f in frames.items()})
                ratio = row["before"][0] / max(row["before"][1], 1e-6)
                if ratio * row["px"] > worst[0]:  # the most streak energy
                    worst = (ratio * row["px"], np.concatenate(
                        [_crop(f, stretch.mask) for f in frames.values()], 1))
            rows.append(row)
        out["cases"][case] = rows
    out["sheet"] = worst[1]
    return out


def _pooled(rows: list[dict], variant: str) -> float:
    """The streak ratio pooled over frames: their energies across over their energies along."""
    return sum(r[variant][0] for r in rows) / max(sum(r[variant][1] for r in rows), 1e-6)


def _summary(rows: list[dict]) -> list[str]:
    hit = [r for r in rows if "before" in r]
    if not hit:
        return [f"0/{len(rows)}", "-"] + ["-"] * len(VARIANTS)
    px = np.mean([r["px"] for r in hit])
    return [f"{len(hit)}/{len(rows)}", f"{px:.0f}"] + [f"{_pooled(hit, k):.2f}" for k in VARIANTS]


def markdown(results: dict[str, dict], clip: str) -> str:
    lines = ["# Streaks where a turn reveals a far cheek (issue 13)", "",
             ("Reproduce: `python scripts/reveal_report.py --sheet out/reveal_sheet.png` "
              "(2 CPU cores). Before: `RenderConfig(reveal=False, outline_inset=0)`, the "
              "renderer of the commit before this change (pixel-identical); after: the "
              "defaults; inset: the defaults with `reveal=False`. Same run, same frames."), "",
             ("Streak ratio (`vasa.evaluation.streaks`): gradient energy across each face "
              "triangle's stretch over the energy along it, over the pixels any variant "
              f"draws with face triangles stretched past {STRETCH:g}x in one direction (eyes and "
              "mouth excluded); about 1 for texture with no direction tied to the stretch, far "
              "above for streaks. Frames: frames with stretched pixels / frames; px: their mean "
              "count; before, inset, after: pooled over those frames (energy across over "
              "energy along, each summed over every frame's stretched pixels)."), "",
             (f"Cases: yaw {YAWS[0]}..{YAWS[-1]} degrees added to the portrait's pose "
              f"({len(YAWS)} frames); reenact: driven by {clip}."), "",
             ("| portrait | yaw frames | px | before | inset | after | reenact frames | px | "
              "before | inset | after |"), "|---" * 11 + "|"]
    pooled: dict[str, list[dict]] = {"yaw": [], "reenact": []}
    for name, res in results.items():
        cells = []
        for case in ("yaw", "reenact"):
            rows = res["cases"].get(case)
            cells += _summary(rows) if rows else ["-"] * (2 + len(VARIANTS))
            pooled[case] += [r for r in rows or [] if "before" in r]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = []
    for case in ("yaw", "reenact"):
        p = pooled[case]
        cells += [str(len(p)), ""] + [f"{_pooled(p, k):.2f}" for k in VARIANTS]
    lines.append("| **all frames, pooled** | " + " | ".join(cells) + " |")
    ms = [r["reveal_ms"] for rows in pooled.values() for r in rows]
    lines += ["", (f"`reveal` stage (after), frames with stretched pixels: median "
                   f"{np.median(ms):.2f} ms, max {np.max(ms):.2f} ms (frames without any skip "
                   "it).")]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help="driving clip (d12)")
    ap.add_argument("--size", type=int, default=512, help="frame side in pixels")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "reveal.md")
    ap.add_argument("--json", type=Path, help="also write per-frame scores here")
    ap.add_argument("--sheet", type=Path, help="write the worst frames' before | after here")
    args = ap.parse_args()
    if not (SHARED / "portraits").is_dir() or not args.clip.is_file():
        raise FileNotFoundError(f"{SHARED}/portraits and {args.clip} are needed")
    from vasa.tracking.video import track_video

    tracked = track_video(args.clip).motion
    driving = MotionLatents(tracked.pose, tracked.dynamics)
    results = {}
    for path in portraits():
        name = "__".join(path.stem.split("__")[-2:])
        reenact = any(r in path.stem for r in REENACTED)
        results[name] = run(path, driving if reenact else None, args.size)
        print(name, {c: _summary(r) for c, r in results[name]["cases"].items()}, flush=True)
    args.out.write_text(markdown(results, args.clip.name))
    print(args.out.read_text())
    if args.json:
        args.json.write_text(json.dumps({n: {k: v for k, v in r.items() if k != "sheet"}
                                         for n, r in results.items()}, indent=1) + "\n")
    if args.sheet:
        tiles = []
        for name, res in results.items():
            if res["sheet"] is not None:
                tile = res["sheet"].copy()
                cv2.putText(tile, name, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 0), 2)
                tiles.append(tile)
        rows = [np.concatenate(tiles[i:i + 2] + [np.zeros_like(tiles[0])] * (2 - len(
            tiles[i:i + 2])), 1) for i in range(0, len(tiles), 2)]
        cv2.imwrite(str(args.sheet), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
