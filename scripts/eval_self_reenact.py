"""Self-reenactment benchmark of the face latent space + renderer on real talking clips.

Each clip's first frame is the portrait, driven by the clip's own tracked motion; the real frames
are the ground truth (see `vasa.evaluation.reconstruction`). Clips come from the data manifest,
held-out validation speakers first (the face basis was built from the other speakers), then
training speakers, one clip per speaker, spreading over source repositories and resolutions.

Writes benchmarks/results/self_reenact.{md,json} and one GT/render PNG strip per clip.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from vasa.data.manifest import ManifestItem, is_validation, read_manifest, speaker_of
from vasa.evaluation import ClipResult, self_reenact_clip
from vasa.io import MediaError, atomic_output
from vasa.latent.basis import default_basis
from vasa.tracking import NoFaceError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MANIFEST = ROOT.parent / "shared" / "data" / "MANIFEST.tsv"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "self_reenact"
MIN_SECONDS = 3.0  # shorter clips give too few frames of motion to score
METRICS = ("psnr_face", "ssim_face", "pose_err_deg", "lmk_nme", "still_psnr_face",
           "still_ssim_face", "still_lmk_nme", "still_pose_err_deg")
log = logging.getLogger("eval_self_reenact")


@dataclass
class Candidate:
    item: ManifestItem
    speaker: str
    split: str  # "val" (held-out speaker) or "train"
    repo: str
    resolution: str
    duration: float


def candidates(manifest: Path) -> list[Candidate]:
    """Single-speaker talking clips of the manifest, with the extra columns we select on."""
    with manifest.open(newline="") as f:
        rows = {r["file"]: r for r in csv.DictReader(f, delimiter="\t")}
    out = []
    for item in read_manifest(manifest, kinds=("clips",)):
        row = rows.get(item.video.relative_to(manifest.parent).as_posix(), {})
        speaker = speaker_of(item)
        duration = float(row.get("duration_s") or 0.0)
        if ";" in speaker or duration < MIN_SECONDS:  # several people in frame / too short
            continue
        out.append(Candidate(item, speaker, "val" if is_validation(speaker) else "train",
                             row.get("repo", ""), row.get("resolution", ""), duration))
    return out


def order_clips(cands: list[Candidate]) -> list[Candidate]:
    """One clip per speaker, validation speakers first; within a split, greedily the clip whose
    repository, then resolution, is least used so far (longer clips first on ties)."""
    ordered: list[Candidate] = []
    repos: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for split in ("val", "train"):
        pool = [c for c in cands if c.split == split]
        while pool:
            best = min(pool, key=lambda c: (repos[c.repo], sizes[c.resolution],
                                            -min(c.duration, 10.0), c.item.video.name))
            ordered.append(best)
            repos[best.repo] += 1
            sizes[best.resolution] += 1
            pool = [c for c in pool if c.speaker != best.speaker]
    return ordered


def in_basis(speaker: str, basis_items: list[str]) -> bool:
    """Heuristic leak check: does a clip used to build the basis carry the speaker's name?
    (Unlabelled clips count as their own speaker, so a held-out person can slip in.)"""
    key = speaker.lower()
    return len(key) >= 4 and any(key in name.lower() for name in basis_items)


def fmt(v: float, digits: int = 2) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.{digits}f}"


def mean_row(label: str, rows: list[dict]) -> dict:
    out = {"name": label, "frames": sum(r["frames"] for r in rows),
           "lost_frames": sum(r["lost_frames"] for r in rows)}
    for k in METRICS:
        vals = [r[k] for r in rows if math.isfinite(r[k])]
        out[k] = sum(vals) / len(vals) if vals else float("nan")
    return out


def markdown(rows: list[dict], means: list[dict], skipped: list[dict], args: argparse.Namespace
             ) -> str:
    head = ("| clip | speaker | split | source | res | frames | lost | PSNR face dB | SSIM face "
            "| pose err deg | lmk NME | still PSNR | still SSIM | still NME | head rot deg |")
    lines = [
        "# Self-reenactment: latent space + renderer", "",
        (f"First frame as portrait, driven by the clip's own motion; first {args.seconds:g} s at "
        f"{args.fps:g} fps, {args.size} px crop. Scores inside the face mask (convex hull of the "
        "ground-truth face oval, dilated by 0.1 inter-ocular distance), first frame excluded. "
        "Pose error: mean |pitch, yaw, roll| difference between the pose re-tracked from the "
        "render and the ground truth's; lmk NME: mean landmark distance / ground-truth outer "
        "eye-corner distance. `still`: the portrait held still (no motion), the do-nothing "
        "baseline; `head rot`: its pose error, i.e. how far the head turns from the first frame. "
        "Split `val*`: held-out speaker whose name appears among the basis-building clips."), "",
        f"Generated by `scripts/eval_self_reenact.py` on {time.strftime('%Y-%m-%d')}.", "",
        head, "|" + "---|" * (head.count("|") - 1),
    ]
    for r in rows + means:
        lines.append("| " + " | ".join([
            r["name"], r.get("speaker", ""), r.get("split", ""), r.get("repo", ""),
            r.get("resolution", ""), str(r["frames"]), str(r["lost_frames"]),
            fmt(r["psnr_face"]), fmt(r["ssim_face"], 3), fmt(r["pose_err_deg"]),
            fmt(r["lmk_nme"], 3), fmt(r["still_psnr_face"]), fmt(r["still_ssim_face"], 3),
            fmt(r["still_lmk_nme"], 3), fmt(r["still_pose_err_deg"])]) + " |")
    if skipped:
        lines += ["", "Skipped:", ""] + [f"- {s['name']}: {s['reason']}" for s in skipped]
    return "\n".join(lines) + "\n"


def finite(obj: object) -> object:
    """Copy of a JSON-like structure with NaN/inf floats as None (strict JSON has neither)."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST,
                   help="data manifest (MANIFEST.tsv) listing the clips")
    p.add_argument("-n", "--num-clips", type=int, default=12,
                   help="clips to evaluate (validation speakers first, then training ones)")
    p.add_argument("--seconds", type=float, default=10.0, help="use each clip's first S seconds")
    p.add_argument("--fps", type=float, default=25.0, help="frame rate the clips are read at")
    p.add_argument("--size", type=int, default=512, help="portrait / render side in pixels")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="results path without suffix: writes OUT.md and OUT.json")
    p.add_argument("--png-dir", type=Path, default=Path("/tmp/vasa_eval"),
                   help="folder for the GT-vs-render comparison PNGs (one per clip)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.num_clips < 1:
        sys.exit("--num-clips must be at least 1")
    args.png_dir.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    basis_items = list(default_basis().info.get("items", []))
    rows: list[dict] = []
    skipped: list[dict] = []
    for c in order_clips(candidates(args.manifest)):
        if len(rows) >= args.num_clips:
            break
        png = args.png_dir / f"{c.item.video.stem}.png"
        log.info("[%d/%d] %s (%s, %s)", len(rows) + 1, args.num_clips, c.item.video.name,
                 c.speaker, c.split)
        try:
            res: ClipResult = self_reenact_clip(c.item.video, round(args.seconds * args.fps),
                                                args.size, args.fps, comparison_path=png)
        except (MediaError, NoFaceError, RuntimeError, ValueError) as err:
            # A clip that cannot be evaluated is reported, and the next candidate takes its place.
            log.warning("  skipped: %s", err)
            reason = str(err)
            for prefix in (f"{c.item.video}: ", f"{c.item.video.name}: "):  # name given once
                reason = reason.removeprefix(prefix)
            skipped.append({"name": c.item.video.name, "reason": reason})
            continue
        split = "val*" if c.split == "val" and in_basis(c.speaker, basis_items) else c.split
        rows.append(res.to_dict() | {"speaker": c.speaker, "split": split, "repo": c.repo,
                                     "resolution": c.resolution, "video": str(c.item.video)})
        log.info("  PSNR %.2f  SSIM %.3f  pose %.2f deg  NME %.3f  (still %.2f / %.3f)  %.0f s",
                 res.psnr_face, res.ssim_face, res.pose_err_deg, res.lmk_nme,
                 res.still_psnr_face, res.still_ssim_face, res.seconds)
    if not rows:
        sys.exit("no clip could be evaluated")
    means = [mean_row(f"**mean ({s})**", [r for r in rows if r["split"].startswith(s)])
             for s in ("val", "train") if any(r["split"].startswith(s) for r in rows)]
    means.append(mean_row("**mean (all)**", rows))
    config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    result = {"config": config, "basis": default_basis().version, "clips": rows, "means": means,
              "skipped": skipped}
    write_text(args.out.with_suffix(".md"), markdown(rows, means, skipped, args))
    write_text(args.out.with_suffix(".json"), json.dumps(finite(result), indent=1) + "\n")
    log.info("wrote %s.{md,json} and %d PNGs in %s", args.out, len(rows), args.png_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
