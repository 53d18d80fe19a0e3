"""Reproduce the quality table (VASA-1 section 4.2, Tables 1-2) on held-out real clips.

Clips: talking clips with audio from the data manifest whose speaker is held out of training
(`is_validation`), one per speaker (the largest frame, then the longest), their first SECONDS s.
Rows: the real videos, the two baselines of `vasa.evaluation.baselines` rendered from each
clip's first frame and audio, and any generated method given as `--method NAME=DIR`.

To add a motion generator: run it on the inputs this script writes to WORK/inputs (STEM.png: the
portrait, STEM.wav: the audio), save DIR/STEM.mp4 (25 fps, audio muxed), and pass
`--method NAME=DIR`. Videos of DIR whose stem is not a selected clip are ignored.

Writes benchmarks/results/quality_table.{md,json} and plots in benchmarks/results/quality/.
Rendered baselines and inputs go to WORK (default out/quality, git-ignored): never into the repo.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from vasa.data.manifest import ManifestItem, is_validation, read_manifest, speaker_of
from vasa.evaluation.baselines import BASELINES, portrait_from, render_baseline
from vasa.evaluation.evaluate import VideoItem, collect_videos, evaluate_videos
from vasa.io import atomic_output, load_audio
from vasa.portrait import Portrait
from vasa.tracking import NoFaceError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MANIFEST = ROOT.parent / "shared" / "data" / "MANIFEST.tsv"
RESULTS = ROOT / "benchmarks" / "results"
SECONDS = 20.0  # first seconds of each clip scored
MIN_SECONDS = 4.0  # shorter clips have no 3 s CAPP window to spare
log = logging.getLogger("quality_table")


def select_clips(manifest: Path, count: int) -> list[ManifestItem]:
    """Held-out-speaker clips with audio, one per speaker: most pixels, then longest."""
    with manifest.open(newline="") as f:
        rows = {r["file"]: r for r in csv.DictReader(f, delimiter="\t")}
    best: dict[str, tuple[tuple[int, float], ManifestItem]] = {}
    for item in read_manifest(manifest, kinds=("clips",)):
        speaker = speaker_of(item)
        row = rows.get(item.name, {})
        duration = float(row.get("duration_s") or 0.0)
        if item.audio is None or ";" in speaker or not is_validation(speaker):
            continue
        if duration < MIN_SECONDS:
            continue
        w, _, h = (row.get("resolution") or "0x0").partition("x")
        key = (int(w) * int(h or 0), min(duration, SECONDS))
        if speaker not in best or key > best[speaker][0]:
            best[speaker] = (key, item)
    return [item for _, item in sorted(best.values(), key=lambda kv: kv[1].name)][:count]


def write_inputs(item: ManifestItem, portrait: Portrait, work: Path, seconds: float) -> None:
    """WORK/inputs/STEM.png (the clip's first frame as cropped for the renderer) and STEM.wav
    (the clip's first `seconds` of audio, 16 kHz): what a generator should be run on."""
    import cv2

    inputs = work / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    stem = item.video.stem
    with atomic_output(inputs / f"{stem}.png") as tmp:
        cv2.imwrite(tmp, cv2.cvtColor(portrait.image, cv2.COLOR_RGB2BGR))
    audio = load_audio(item.audio, 16000)[: round(seconds * 16000)]
    with atomic_output(inputs / f"{stem}.wav") as tmp:
        sf.write(tmp, audio.astype(np.float32), 16000, format="WAV")


def parse_method(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise argparse.ArgumentTypeError(f"--method wants NAME=DIR, got {text!r}")
    return name, Path(folder)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, help="data MANIFEST.tsv")
    ap.add_argument("--clips", type=int, default=8, help="at most this many clips (8)")
    ap.add_argument("--seconds", type=float, default=SECONDS, help="seconds per clip (20)")
    ap.add_argument("--work", type=Path, default=ROOT / "out" / "quality",
                    help="where baselines and generator inputs are written (out/quality)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="benchmarks/results")
    ap.add_argument("--method", type=parse_method, action="append", default=[],
                    help="NAME=DIR: a generated method, DIR/STEM.mp4 per clip (repeatable)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("GLOG_minloglevel", "2")

    clips = select_clips(args.manifest, args.clips)
    if not clips:
        print(f"{args.manifest}: no held-out clips with audio", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    methods: dict[str, list[VideoItem]] = {k: [] for k in BASELINES}
    kept = []
    for c in clips:
        log.info("baselines for %s", c.video.name)
        try:
            portrait = portrait_from(c.video)
        except NoFaceError as e:  # no usable first frame: the clip cannot have baselines
            log.warning("skipping %s: %s", c.video.name, e)
            continue
        kept.append(c)
        write_inputs(c, portrait, args.work, args.seconds)
        for kind in BASELINES:
            (args.work / kind).mkdir(parents=True, exist_ok=True)
            out = render_baseline(kind, portrait, c.audio, args.work / kind / f"{c.video.stem}.mp4",
                                  seconds=args.seconds)
            methods[kind].append(VideoItem(out, out, c.video))
    render_s = time.perf_counter() - t0
    clips = kept
    reference = [VideoItem(c.video, c.audio, c.video) for c in clips]
    stems = {c.video.stem: c.video for c in clips}
    for name, folder in args.method:
        items = [VideoItem(i.video, i.audio, stems[i.video.stem])
                 for i in collect_videos(folder) if i.video.stem in stems]
        if not items:
            print(f"--method {name}: no video in {folder} named after a clip "
                  f"({', '.join(sorted(stems))})", file=sys.stderr)
            return 1
        methods[name] = items
    plots = args.results / "quality"
    table = evaluate_videos(methods, reference, plots, max_seconds=args.seconds)
    speed = (f"Baselines rendered in {render_s:.0f} s; evaluation {table.seconds_per_minute:.1f} s "
             "per minute of video (2 shared CPU cores).")
    header = [f"# Quality table: {len(clips)} held-out clips, first {args.seconds:g} s each", "",
              "Reproduce: `python scripts/quality_table.py` (plots in quality/).", "",
              "Clips: " + ", ".join(f"{c.video.name} ({speaker_of(c)})" for c in clips), "",
              speed, ""]
    for name in ("md", "json"):
        src, dst = plots / f"table.{name}", args.results / f"quality_table.{name}"
        text = src.read_text()
        with atomic_output(dst) as tmp:
            Path(tmp).write_text("\n".join(header) + "\n" + text if name == "md" else text)
        src.unlink()
    print(f"wrote {args.results / 'quality_table.md'} and plots in {plots}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
