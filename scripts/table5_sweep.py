"""VASA-1 Table 5 on held-out speakers: classifier-free guidance scales and sampling steps.

Each configuration generates the held-out inputs that scripts/quality_table.py writes to
WORK/inputs (STEM.png + STEM.wav; run that script first), with the default model, then all
configurations and the real clips are scored in one run of the evaluation suite. The motion
stage's speed (audio features + sampling, ms per frame, 1 thread) is measured on the same
inputs, so the trade-off between quality and real time is read from one table.

    python scripts/table5_sweep.py [--model M] [--work out/quality] [--out out/table5]

Writes benchmarks/results/table5.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_table import DEFAULT_MANIFEST, RESULTS, ROOT, select_clips

from vasa.audio import get_extractor
from vasa.evaluation.evaluate import VideoItem, evaluate_videos
from vasa.io import atomic_output, load_audio
from vasa.latent.basis import default_basis
from vasa.motion.checkpoint import DEFAULT_MODEL, load_model
from vasa.motion.controls import Controls
from vasa.motion.engine import MotionEngine
from vasa.pipelines.generate import GenerateConfig, generate
from vasa.portrait import load_portrait


@dataclass
class Setting:
    name: str
    cfg_audio: float = 0.5
    cfg_gaze: float = 1.0
    steps: int = 10
    hop: int | None = None  # None: offline windows
    lookahead: int | None = None


SETTINGS = [
    Setting("a0.0_g1.0_s10", cfg_audio=0.0),
    Setting("a0.5_g1.0_s10"),
    Setting("a1.0_g1.0_s10", cfg_audio=1.0),
    Setting("a2.0_g1.0_s10", cfg_audio=2.0),
    Setting("a1.0_g0.0_s10", cfg_audio=1.0, cfg_gaze=0.0),
    Setting("a1.0_g1.0_s50", cfg_audio=1.0, steps=50),
    Setting("stream_a1.0_g1.0_s5_h2_l1", cfg_audio=1.0, steps=5, hop=2, lookahead=1),
]
KEYS = {"s_c": "S_C", "s_d": "S_D", "offset": "offset", "capp": "CAPP", "delta_p": "Delta P",
        "fd_motion": "FD_motion", "blinks": "blinks/min", "jitter": "jitter"}


def motion_speed(model_path: str, s: Setting, portrait_png: Path, wav: Path) -> float:
    """ms per frame of the motion stage (features + sampling) for one input, one thread."""
    basis = default_basis()
    ex = get_extractor()
    model = load_model(model_path, ex.spec.id, basis.version)
    p = load_portrait(portrait_png, 512, basis=basis)
    audio = load_audio(wav)
    engine = MotionEngine(model, ex, p.pose, p.talking_rest(default_basis()),
                          Controls(cfg_audio=s.cfg_audio, cfg_gaze=s.cfg_gaze, steps=s.steps),
                          hop=s.hop, lookahead=s.lookahead)
    t0 = time.perf_counter()
    frames = engine.push(audio) + engine.flush()
    return 1000 * (time.perf_counter() - t0) / len(frames)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(DEFAULT_MODEL), help="motion model file")
    ap.add_argument("--work", type=Path, default=ROOT / "out" / "quality",
                    help="quality_table.py's work folder (inputs/ inside)")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "table5", help="videos go here")
    ap.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds scored per clip (20)")
    ap.add_argument("--only", default=None, help="comma-separated setting names to run")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    os.environ.setdefault("GLOG_minloglevel", "2")
    clips = select_clips(args.manifest, 8)
    inputs = args.work / "inputs"
    clips = [c for c in clips if (inputs / f"{c.video.stem}.png").is_file()]
    if not clips:
        print(f"{inputs}: no inputs; run scripts/quality_table.py first", file=sys.stderr)
        return 1
    settings = [s for s in SETTINGS if args.only is None or s.name in args.only.split(",")]
    methods, speed = {}, {}
    for s in settings:
        folder = args.out / s.name
        folder.mkdir(parents=True, exist_ok=True)
        items = []
        for c in clips:
            png, wav = inputs / f"{c.video.stem}.png", inputs / f"{c.video.stem}.wav"
            out = folder / f"{c.video.stem}.mp4"
            if not out.is_file():
                # crop: scored on the aligned crop, like the quality table.
                cfg = GenerateConfig(model=args.model, crop=True, hop=s.hop, lookahead=s.lookahead,
                                     controls=Controls(cfg_audio=s.cfg_audio,
                                                       cfg_gaze=s.cfg_gaze, steps=s.steps))
                generate(png, wav, out, cfg, progress=False)
            items.append(VideoItem(out, wav, c.video))
        methods[s.name] = items
        c0 = clips[0]
        speed[s.name] = motion_speed(args.model, s, inputs / f"{c0.video.stem}.png",
                                     inputs / f"{c0.video.stem}.wav")
        print(f"{s.name}: generated, motion {speed[s.name]:.2f} ms/frame")
    reference = [VideoItem(c.video, c.audio, c.video) for c in clips]
    table = evaluate_videos(methods, reference, args.out / "eval", max_seconds=args.seconds)
    rows = {r.method: r for r in table.rows}
    lines = [(f"# Table 5: guidance and steps ({len(clips)} held-out clips, first "
             f"{args.seconds:g} s each, model {Path(args.model).name})"), "",
             "Reproduce: `python scripts/quality_table.py && python scripts/table5_sweep.py`.",
             ("Motion ms/frame: audio features + diffusion sampling with guidance, 1 CPU thread, "
             "measured on the first clip. Other columns as in quality_table.md."), "",
             "| setting | cfg audio | cfg gaze | steps | hop | motion ms/frame | "
             + " | ".join(KEYS.values()) + " |",
             "|---" * (6 + len(KEYS)) + "|"]
    out_json = []
    for s in settings + [Setting("real video", float("nan"), float("nan"), 0)]:
        r = rows[s.name]
        vals = {label: (r.scores[k].value if k in r.scores else None)
                for k, label in KEYS.items()}
        ms = speed.get(s.name)
        cells = [f"{v:.3f}" if v is not None else "n/a" for v in vals.values()]
        head = ([s.name, f"{s.cfg_audio:g}", f"{s.cfg_gaze:g}", str(s.steps),
                 str(s.hop or "W"), f"{ms:.2f}"] if ms is not None
                else [s.name, "", "", "", "", ""])
        lines.append("| " + " | ".join(head + cells) + " |")
        out_json.append({"setting": s.name, "cfg_audio": s.cfg_audio, "cfg_gaze": s.cfg_gaze,
                         "steps": s.steps, "hop": s.hop, "lookahead": s.lookahead,
                         "motion_ms_per_frame": ms, **vals})
    md = "\n".join(lines) + "\n"
    with atomic_output(RESULTS / "table5.md") as tmp:
        Path(tmp).write_text(md)
    with atomic_output(RESULTS / "table5.json") as tmp:
        Path(tmp).write_text(json.dumps(out_json, indent=1, default=lambda v: None))
    print(md)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
