"""Renderer ablation on held-out self-reenactment: warp only / painted / learned refiners.

Every held-out talking clip of the manifest (speakers the refiner and the motion model never
saw): its first frame is the portrait, its own motion drives it, its real frames are the truth
(`vasa.evaluation.ablation`). All variants render the same motion in one run: warp only (no synthesis: no
mouth inside, no irises, no lids), painted (the painted mouth and the drawn irises and lids,
`--no-refiner`), refiner (the mouth and eye refiners, the default), the refiner with the
tracked eyelid ratios asked as the portrait's render reads them (as `vasa generate` asks), and
the refiner over the warp's stretched mouth inside (no `render.interior`), the refiner
with the light inside in the colour it draws (`RenderConfig(whiten=False)`), and the eye
refiner in one pass (`RenderConfig(eye_mirror=False)`; the default averages it with a pass
over the mirrored eye band).

    python scripts/refiner_ablation.py [--refiner RUN/refiner.int8.onnx]
        [--eye-refiner RUN/eye_refiner.int8.onnx] [--also NAME=OTHER.int8.onnx] [--seconds 5]
        [--only refiner] [--clips N] [--grey] [--out PATH]
    python scripts/refiner_ablation.py --summarise RUN.json [RUN.json ...]

--grey scores the clips as black-and-white ones (portrait and truth in grey; the renderer then
takes the portrait as a black-and-white photo). Means are over clips and over speakers (each
speaker's clips averaged first: Obama has 5 of the 11 talking clips). `--summarise` prints
both for runs already written (their JSON), rendering nothing. Writes benchmarks/results/refiner_ablation.{md,json} and out/refiner_ablation.png (per clip: truth,
then each variant, whole frame, a zoomed mouth row and a zoomed eye row).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

from vasa.data.manifest import is_validation, read_manifest, speaker_of
from vasa.evaluation.ablation import ablate_clip, speaker_means
from vasa.files import atomic_output
from vasa.pipelines.calibrate import mouth_and_lid_response
from vasa.render import RenderConfig
from vasa.render import eye_crop as ec
from vasa.render import mouth_crop as mc
from vasa.render.refiner import DEFAULT_EYE_REFINER, DEFAULT_REFINER
from vasa.tracking import FaceLandmarker

ROOT = Path(__file__).resolve().parents[1]
SHEETS = ROOT / "out"  # contact sheets hold frames of ../shared/data: kept out of the repository
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "results" / "refiner_ablation"
KEYS = ("psnr_face", "ssim_face", "psnr_mouth", "ssim_mouth", "sharp_ratio", "flicker",
        "inside", "inside_truth", "inside_error", "colour", "colour_truth", "colour_error",
        "psnr_eyes", "ssim_eyes", "psnr_blink", "ssim_blink", "blink_sharp_ratio", "blinks",
        "teeth", "teeth_truth")
# The refiner with the eyelid ratios asked as its renders read them (`vasa.motion.lids`), as
# `vasa generate` asks its generated ones; the other rows render the tracked ratios as they are.
LIDS_ROW = "refiner, lids as read"
STRETCHED_ROW = "refiner, no interior"
PINK_ROW = "refiner, not whitened"
ONE_PASS_ROW = "refiner, eyes in one pass"
log = logging.getLogger("refiner_ablation")


def lid_response(portrait, renderer, basis):
    """The portrait's eyelid response, measured as `vasa generate` measures it."""
    return mouth_and_lid_response(portrait, renderer, basis)[1]


def variants(refiner: str, eye_refiner: str, also: dict[str, str] | None = None
             ) -> dict[str, RenderConfig]:
    """The renderers compared; `also`: more mouth refiners (name -> ONNX file), each a column
    with the same eye refiner."""
    out = {"warp only": RenderConfig(mouth=False, eyes=False),
           "painted": RenderConfig(refiner=False),
           "refiner": RenderConfig(refiner=True, refiner_model=refiner,
                                   eye_refiner_model=eye_refiner)}
    # The mouth's inside as the warp stretches it and the refiner draws it
    # (`RenderConfig.interior` off): what the redrawn teeth of an open-mouthed portrait and the
    # dark core of a wide opening (`render.interior`) change.
    out[STRETCHED_ROW] = replace(out["refiner"], interior=False)
    # The light inside as the refiner colours it (`MouthInterior.whiten` off): the lips' pink
    # where the portrait had no teeth to keep.
    out[PINK_ROW] = replace(out["refiner"], whiten=False)
    # The eye refiner in one pass, not averaged with its pass over the mirrored band.
    out[ONE_PASS_ROW] = replace(out["refiner"], eye_mirror=False)
    for name, path in (also or {}).items():
        out[f"refiner {name}"] = RenderConfig(refiner=True, refiner_model=path,
                                              eye_refiner_model=eye_refiner)
    out[LIDS_ROW] = out["refiner"]
    return out


def zooms(frame: np.ndarray, tile: int) -> tuple[np.ndarray, np.ndarray]:
    """The mouth crop (tile x tile) and the eye band (tile x tile / 2) of a frame, placed on
    its own tracked landmarks."""
    with FaceLandmarker() as tracker:
        faces = tracker.detect(frame)
    if not faces:
        return np.zeros((tile, tile, 3), np.uint8), np.zeros((tile // 2, tile, 3), np.uint8)
    lm = faces[0].landmarks
    return (cv2.resize(mc.crop(frame, mc.mouth_affine(lm)), (tile, tile)),
            cv2.resize(ec.crop(frame, ec.eye_affine(lm)), (tile, tile // 2)))


def sheet(rows: list[tuple[str, dict[str, np.ndarray]]], names: list[str], tile: int = 192
          ) -> np.ndarray:
    """One block per (clip, frame): whole frames on top, mouth and eyes zoomed below."""
    blocks = []
    for label, frames in rows:
        whole, zoom, eyes = [], [], []
        for n in ["truth", *names]:
            im = cv2.resize(frames[n], (tile, tile), interpolation=cv2.INTER_AREA)
            cv2.putText(im, f"{n} {label}" if n == "truth" else n, (4, 14),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1, cv2.LINE_AA)
            whole.append(im)
            mouth, eye = zooms(frames[n], tile)
            zoom.append(mouth)
            eyes.append(eye)
        blocks.append(np.concatenate([np.concatenate(r, 1) for r in (whole, zoom, eyes)], 0))
    return np.concatenate(blocks, 0)


def against_truth(per_clip: dict, vs: dict, row: str, key: str, count: str, title: str,
                  digits: int = 2) -> list[str]:
    """A per-clip table of `key`, render / real, for every row of `vs`, with the frames it
    was read on (`key`_frames of `row`: the truth's, the same in every row)."""
    lines = ["", title, "", f"| clip | {count} | " + " | ".join(vs) + " |",
             "|---|---|" + "---|" * len(vs)]
    for name, c in per_clip.items():
        lines.append(f"| {name} | {c[row][key + '_frames']} | " + " | ".join(
            f"{c[k][key]:.{digits}f} / {c[k][key + '_truth']:.{digits}f}" for k in vs) + " |")
    return lines


COLUMNS = ("| renderer | face PSNR | face SSIM | mouth PSNR | mouth SSIM | mouth sharpness "
           "(render/real) | teeth flicker (frames/clip) | inside open (render / real) | "
           "inside error | inside colour (render / real) | colour error | eyes PSNR | eyes SSIM | "
           "blink eyes PSNR | blink eyes SSIM | blink eyes sharpness (render/real) | "
           "teeth texture (render / real) |")
RULE = "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"


def table_row(k: str, s: dict[str, float]) -> str:
    """One renderer's row of COLUMNS from its mean scores."""
    return (f"| {k} | {s['psnr_face']:.2f} | {s['ssim_face']:.4f} | "
            f"{s['psnr_mouth']:.2f} | {s['ssim_mouth']:.4f} | {s['sharp_ratio']:.2f} | "
            f"{s['flicker']:.1f} | {s['inside']:.2f} / {s['inside_truth']:.2f} | "
            f"{s['inside_error']:.2f} | {s['colour']:.2f} / {s['colour_truth']:.2f} | "
            f"{s['colour_error']:.2f} | {s['psnr_eyes']:.2f} | {s['ssim_eyes']:.4f} | "
            f"{s['psnr_blink']:.2f} | {s['ssim_blink']:.4f} | {s['blink_sharp_ratio']:.2f} | "
            f"{s.get('teeth', np.nan):.3f} / {s.get('teeth_truth', np.nan):.3f} |")


def summarise(paths: list[Path], manifest: str) -> None:
    """Print the means over clips and over speakers of ablation runs already written (their
    JSON); a run written before speakers were recorded takes them from the manifest."""
    known = {i.video.name: speaker_of(i) for i in read_manifest(manifest, kinds=("clips",))}
    print(COLUMNS.replace("| renderer |", "| run | renderer | mean over |"))
    print(RULE + "---|---|")
    for path in paths:
        run = json.loads(Path(path).read_text())
        speakers = run.get("speakers") or {c: known[c] for c in run["clips"]}
        for over, means in (("clips", run["mean"]),
                            ("speakers", speaker_means(run["clips"], speakers))):
            for k, s in means.items():
                print(table_row(k, s).replace(f"| {k} |", f"| {Path(path).stem} | {k} | {over} |",
                                              1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", default=str(DATA / "MANIFEST.tsv"))
    ap.add_argument("--refiner", default=str(DEFAULT_REFINER), help="mouth refiner ONNX file")
    ap.add_argument("--eye-refiner", default=str(DEFAULT_EYE_REFINER),
                    help="eye refiner ONNX file")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=FILE",
                    help="another mouth refiner to score in the same run (repeatable)")
    ap.add_argument("--seconds", type=float, default=5.0, help="seconds per clip (at 25 fps)")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--clips", type=int, default=0, help="at most this many clips (0: all)")
    ap.add_argument("--only", nargs="+", metavar="RENDERER",
                    help="render only these rows (e.g. refiner: a before/after of one renderer "
                         "against another tree, PYTHONPATH=OTHER/src)")
    ap.add_argument("--grey", action="store_true",
                    help="score the clips as black-and-white ones (portrait and truth in grey)")
    ap.add_argument("--out", default=str(OUT), help="output path without suffix")
    ap.add_argument("--summarise", nargs="+", type=Path, metavar="JSON",
                    help="print the means over clips and speakers of runs already written")
    args = ap.parse_args()
    if args.summarise:
        summarise(args.summarise, args.manifest)
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    items = [i for i in read_manifest(args.manifest, kinds=("clips",))
             if is_validation(speaker_of(i))]
    if args.clips:
        items = items[:args.clips]
    vs = variants(args.refiner, args.eye_refiner, dict(a.split("=", 1) for a in args.also))
    if args.only:
        unknown = set(args.only) - set(vs)
        if unknown:
            ap.error(f"--only {', '.join(sorted(unknown))}: rows are {', '.join(vs)}")
        vs = {k: v for k, v in vs.items() if k in args.only}
    row = next(iter(vs))  # blink frames are the truth's: the same in every row
    frames = round(args.seconds * 25)
    per_clip, speakers, shown = {}, {}, []
    t0 = time.perf_counter()
    for item in items:
        try:
            scores, kept = ablate_clip(item.video, vs, frames, args.size,
                                       keep=(frames // 3, 2 * frames // 3),
                                       lids={k: lid_response for k in vs if k == LIDS_ROW},
                                       grey=args.grey)
        except (ValueError, OSError) as e:
            log.warning("%s: skipped: %s", item.video.name, e)
            continue
        per_clip[item.video.name] = scores
        speakers[item.video.name] = speaker_of(item)
        shown += [(f"#{i}", f) for i, f in sorted(kept.items()) if len(f) == len(vs) + 1][:1]
        log.info("%s: %s", item.video.name, "  ".join(
            f"{k} mouth {s['psnr_mouth']:.2f} dB/{s['ssim_mouth']:.3f} eyes "
            f"{s['psnr_eyes']:.2f}/{s['ssim_eyes']:.3f} blink {s['psnr_blink']:.2f}/"
            f"{s['ssim_blink']:.3f} ({s['blinks']})" for k, s in scores.items()))
    # Blink scores: the mean over clips that have blink frames (nanmean; others have none).
    mean = {k: {m: float(np.nanmean([c[k][m] for c in per_clip.values()])) for m in KEYS}
            for k in vs}
    by_speaker = speaker_means(per_clip, speakers)
    out = Path(args.out)
    head = (f"Generated by `python scripts/refiner_ablation.py` on {time.strftime('%Y-%m-%d')}: "
            f"{len(per_clip)} held-out clips, {args.seconds:g} s each at {args.size} px, "
            f"refiners `{Path(args.refiner).name}`, `{Path(args.eye_refiner).name}`, "
            f"{'in grey (--grey), ' if args.grey else ''}"
            f"{time.perf_counter() - t0:.0f} s; "
            f"{sum(c[row]['blinks'] for c in per_clip.values())} blink frames in "
            f"{sum(c[row]['blinks'] > 0 for c in per_clip.values())} clips.")
    lines = [head, *([f"Also: {', '.join(args.also)}."] if args.also else []), "",
             "Mean over clips:", "", COLUMNS, RULE]
    lines += [table_row(k, s) for k, s in mean.items()]
    lines += ["", (f"Mean over the {len(set(speakers.values()))} speakers (each speaker's "
                   "clips averaged first):"), "", COLUMNS, RULE]
    lines += [table_row(k, s) for k, s in by_speaker.items()]
    summary = len(lines)  # the header and the tables of means: what is printed
    lines += ["", "Per clip (mouth PSNR / SSIM):", "",
              "| clip | " + " | ".join(vs) + " |", "|---|" + "---|" * len(vs)]
    for name, c in per_clip.items():
        lines.append(f"| {name} | " + " | ".join(
            f"{c[k]['psnr_mouth']:.2f} / {c[k]['ssim_mouth']:.3f}" for k in vs) + " |")
    lines += against_truth(per_clip, vs, row, "inside", "open frames", (
        "Per clip (inside open, render / real, over the frames the real mouth is open 0.08 "
        "eye distances or more):"))
    lines += against_truth(per_clip, vs, row, "colour", "frames", (
        "Per clip (inside colour, the core's chroma over the lips', render / real, the same "
        "frames; black-and-white clips have none):"))
    lines += against_truth(per_clip, vs, row, "teeth", "frames", (
        "Per clip (teeth texture, `evaluation.teeth_band`, render / real, over the frames the "
        "real mouth shows an upper teeth's band):"), digits=3)
    lines += ["", "Per clip (eyes PSNR / SSIM on blink frames; all frames when it has none):",
              "", "| clip | blink frames | " + " | ".join(vs) + " |",
              "|---|---|" + "---|" * len(vs)]
    for name, c in per_clip.items():
        key = "blink" if c[row]["blinks"] else "eyes"
        lines.append(f"| {name} | {c[row]['blinks']} | " + " | ".join(
            f"{c[k]['psnr_' + key]:.2f} / {c[k]['ssim_' + key]:.3f}" for k in vs) + " |")
    with atomic_output(out.with_suffix(".md")) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    with atomic_output(out.with_suffix(".json")) as tmp:
        Path(tmp).write_text(json.dumps({"mean": mean, "speaker_mean": by_speaker,
                                         "speakers": speakers, "clips": per_clip}, indent=1))
    if shown:
        img = sheet(shown, list(vs))
        SHEETS.mkdir(exist_ok=True)
        with atomic_output(SHEETS / (out.name + ".png")) as tmp:
            cv2.imwrite(tmp, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    print("\n".join(lines[:summary]))


if __name__ == "__main__":
    main()
