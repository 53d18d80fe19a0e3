"""The `vasa` command line: parse, build a config, call one library function."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from vasa.overlap import stop_all
from vasa.timebase import MOTION_FPS

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _build_basis(args: argparse.Namespace) -> None:
    from vasa.pipelines.build_basis import build_basis_from_manifest

    basis = build_basis_from_manifest(args.manifest, args.out, args.components, args.workers)
    print(f"wrote {args.out}: version {basis.version}, {basis.info['clips']} clips, "
          f"{basis.info['frames']} frames, explained variance "
          f"{basis.info['explained_variance']:.3f}")


def _build_expressions(args: argparse.Namespace) -> None:
    from vasa.pipelines.build_expressions import build_expressions_from_manifest

    d = build_expressions_from_manifest(args.manifest, args.out, args.workers)
    explained = d.info["explained_variance"]
    print(f"wrote {args.out}: {len(d.info['clips'])} clips, {d.info['frames']} frames; "
          f"within-clip variance of the PCA coefficients explained: "
          f"{sum(explained) / len(explained):.3f} (mean)")


def _export_motion(args: argparse.Namespace) -> None:
    from vasa.motion.checkpoint import export_model

    print(f"wrote {export_model(args.model, args.out)}")


def _refiner_pairs(args: argparse.Namespace) -> None:
    from vasa.refine.pairs import PairsConfig, build_pairs_from_manifest

    cfg = PairsConfig(size=args.size, max_frames=args.max_frames, sources=args.sources,
                      targets=args.targets, seed=args.seed, region=args.region)
    entries = build_pairs_from_manifest(args.manifest, args.out, cfg, progress=not args.quiet)
    for split in ("train", "val"):
        kept = [e for e in entries if e.split == split]
        print(f"{split}: {len(kept)} clips, {sum(e.samples for e in kept)} pairs")
    print(f"wrote {args.out}")


ASSETS = Path(__file__).resolve().parent / "assets"


def _reenact_config(args: argparse.Namespace):
    from vasa.pipelines.config import ReenactConfig

    transfer = "pose" if args.pose_only else "dynamics" if args.dynamics_only else "both"
    return ReenactConfig(size=args.size, crop=args.crop, transfer=transfer,
                         side_by_side=args.side_by_side, face_index=args.face_index,
                         fps=args.fps, crf=args.crf, reference_s=args.reference_s,
                         shift_limit=None if args.shift_limit < 0 else args.shift_limit,
                         mouth="relative" if args.relative_mouth else "driver",
                         lids_as_read=args.lids_as_read,
                         render=_render_config(args, flow_scale=args.flow_scale))


def _check_video_args(args: argparse.Namespace) -> None:
    """What a video command can check before any work: the output name and the size."""
    from vasa.io import check_video_output
    from vasa.portrait import check_size

    check_video_output(args.out)
    check_size(args.size)


def _reenact(args: argparse.Namespace) -> None:
    from vasa.pipelines.reenact import reenact

    _check_video_args(args)
    result = reenact(args.portrait, args.driving, args.out, _reenact_config(args),
                     progress=not args.quiet)
    lost = f", face lost in {result.lost_frames} frames (motion held)" if result.lost_frames else ""
    print(f"wrote {args.out}: {result.frames} frames at {result.fps:g} fps{lost}")


def _flag(field_name: str) -> str:
    """The command-line spelling of a config field: cfg_audio -> --cfg-audio."""
    return "--" + field_name.replace("_", "-")


def _controls(args: argparse.Namespace):
    """Controls from the generate/demo flags; errors name the flag, not the field."""
    from vasa.motion.controls import (
        ControlError,
        Controls,
        check_controls,
        parse_emotion,
        parse_gaze,
    )

    try:
        controls = Controls(gaze=parse_gaze(args.gaze), distance=args.distance,
                            emotion=parse_emotion(args.emotion), cfg_audio=args.cfg_audio,
                            cfg_gaze=args.cfg_gaze, cfg_emotion=args.cfg_emotion,
                            emotion_intensity=args.emotion_intensity,
                            steps=args.steps, motion_scale=args.motion_scale,
                            mouth_scale=args.mouth_scale,
                            still_head=args.still_head, seed=args.seed)
        check_controls(controls)
    except ControlError as err:
        raise ValueError(err.named(_flag(err.field))) from None
    return controls


def _generate_config(args: argparse.Namespace):
    from vasa.pipelines.config import GenerateConfig

    cfg = GenerateConfig(size=args.size, crop=args.crop, crf=args.crf,
                         face_index=args.face_index, controls=_controls(args), hop=args.hop,
                         lookahead=args.lookahead,
                         render=_render_config(args),
                         close_lips=args.close_lips)
    if args.model:
        cfg.model = args.model
    return cfg


def _generate(args: argparse.Namespace) -> None:
    from vasa.pipelines.generate import generate

    _check_video_args(args)
    result = generate(args.portrait, args.audio, args.out, _generate_config(args),
                      progress=not args.quiet)
    print(f"wrote {args.out}: {result.frames} frames at {MOTION_FPS} fps")


def _demo(args: argparse.Namespace) -> None:
    args.portrait = str(ASSETS / "astronaut.jpg")
    if args.reenact:  # the video-driven demo: the bundled clip's own motion
        from vasa.pipelines.config import ReenactConfig

        rc = ReenactConfig()  # what `vasa reenact` would use, side by side with the driver
        args.driving = str(ASSETS / "obama_address_8s.mp4")
        args.side_by_side, args.pose_only, args.dynamics_only = True, False, False
        args.fps, args.reference_s, args.flow_scale = rc.fps, rc.reference_s, rc.render.flow_scale
        args.shift_limit, args.relative_mouth = rc.shift_limit, rc.mouth == "relative"
        args.lids_as_read = rc.lids_as_read
        _reenact(args)
        return
    args.audio = str(ASSETS / "obama_address_8s.mp4")  # its speech: public domain
    _generate(args)


def _add_framing_options(p: argparse.ArgumentParser, size: int, crop: bool) -> None:
    """--size and --crop, with the defaults of the config they fill."""
    p.add_argument("--size", type=int, default=size,
                   help=f"output's long side in pixels ({size}); with --crop the square's side")
    p.add_argument("--crop", action="store_true", default=crop,
                   help="output the aligned square crop around the face (room to move, down to "
                        "the shoulders; past the picture's edges filled with a blurred mirror) "
                        "instead of the picture as given with its face animated")


def _add_generate_options(p: argparse.ArgumentParser) -> None:
    from vasa.motion.controls import Controls, control_help
    from vasa.pipelines.config import GenerateConfig

    c, g = Controls(), GenerateConfig()  # every default below is read from these
    p.add_argument("--gaze", default=None, help=control_help("gaze"))
    p.add_argument("--distance", type=float, default=c.distance, help=control_help("distance"))
    p.add_argument("--emotion", default=None, help=control_help("emotion"))
    for name, kind in (("cfg_audio", float), ("cfg_gaze", float), ("cfg_emotion", float),
                       ("emotion_intensity", float), ("steps", int), ("seed", int),
                       ("motion_scale", float), ("mouth_scale", float)):
        p.add_argument(_flag(name), type=kind, default=getattr(c, name), help=control_help(name))
    p.add_argument("--still-head", action="store_true", default=c.still_head,
                   help=control_help("still_head"))
    p.add_argument("--hop", type=int, default=g.hop,
                   help="frames per window step (default: the model's window, 50 = offline "
                        "quality; 2 = what `vasa serve` streams with)")
    p.add_argument("--lookahead", type=int, default=g.lookahead,
                   help="audio frames each window sees past the frames it emits (default: the "
                        "rest of the window)")
    p.add_argument("--model", default=None, help="motion model file (default: bundled)")
    p.add_argument("--no-lip-closure", dest="close_lips", action="store_false",
                   default=g.close_lips,
                   help="do not shut the lips where the speech says they shut (/p b m/; "
                        "`vasa train closure`): the generator's mouth alone")
    _add_framing_options(p, g.size, g.crop)
    p.add_argument("--face-index", type=int, default=g.face_index,
                   help="which portrait face to animate, 0 = largest")
    p.add_argument("--crf", type=int, default=g.crf,
                   help=f"x264 quality, lower is better ({g.crf})")
    _add_render_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _render_config(args: argparse.Namespace, **extra):
    """The RenderConfig of `_add_render_options`' flags (and `extra` fields). A refiner file
    given that does not exist is named before any work."""
    from vasa.render import RenderConfig

    for path in (args.refiner_model, args.eye_refiner_model):
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"{path}: refiner model not found (an .onnx file from "
                                    "`vasa train refiner`)")
    return RenderConfig(refiner=args.refiner, matte=args.matte, refiner_model=args.refiner_model,
                        eye_refiner_model=args.eye_refiner_model, **extra)


def _add_render_options(p: argparse.ArgumentParser) -> None:
    from vasa.render import RenderConfig

    p.add_argument("--no-refiner", dest="refiner", action="store_false",
                   default=RenderConfig().refiner,
                   help="paint the mouth's inside (teeth, tongue) and keep the drawn lids of "
                        "blinks instead of redrawing them with the learned mouth and eye "
                        "refiners")
    p.add_argument("--refiner-model", default=RenderConfig().refiner_model, metavar="ONNX",
                   help="mouth refiner to use (a `vasa train refiner` run's refiner.int8.onnx; "
                        "default: the bundled one)")
    p.add_argument("--eye-refiner-model", default=RenderConfig().eye_refiner_model,
                   metavar="ONNX", help="eye refiner to use (default: the bundled one)")
    p.add_argument("--no-matte", dest="matte", action="store_false",
                   default=RenderConfig().matte,
                   help="no person matte: the backdrop near the head moves with it, as the warp "
                        "drags it (default: the backdrop stays still and what the head uncovers "
                        "is filled from it; the picture output only, not --crop)")


def _bench(args: argparse.Namespace) -> None:
    import tempfile

    from vasa.bench import (
        DEFAULT_DRIVING,
        DEFAULT_PORTRAIT,
        bench_reenact,
        bench_render,
        format_reenact_bench,
        format_render_bench,
    )

    print(format_render_bench(bench_render(DEFAULT_PORTRAIT, args.size, args.frames)))
    with tempfile.TemporaryDirectory() as tmp:
        result = bench_reenact(DEFAULT_PORTRAIT, DEFAULT_DRIVING, Path(tmp) / "bench.mp4")
    print()
    print(format_reenact_bench(result))


def _prepare(args: argparse.Namespace) -> None:
    from vasa.data.prepare import PrepareConfig, merge, prepare
    from vasa.data.sources import discover

    out = Path(args.out)
    if args.merge_only:
        segs = merge(out)
        print(f"merged {out}: {len(segs)} segments")
        return
    try:
        i, n = (int(v) for v in args.shard.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 0/4), got {args.shard!r}") from None
    if not args.sources:
        raise ValueError("prepare: give at least one source (folder, .tsv manifest or video), "
                         "or --merge-only")
    items, audio_only = discover(args.sources)
    cfg = PrepareConfig(fps=args.fps, max_side=args.max_side, audio_features=args.audio_features)
    reports = prepare(items, out, cfg, args.workers, (i, n), do_merge=not args.no_merge,
                      progress=not args.quiet, audio_only=audio_only)
    kept = [r for r in reports if r.status == "kept"]
    print(f"{out}: {len(kept)} of {len(reports)} items kept, "
          f"{sum(r.frames_kept for r in kept) / MOTION_FPS / 60:.1f} min; see {out}/reports/")


def _data_stats(args: argparse.Namespace) -> None:
    from vasa.data.format import Dataset
    from vasa.data.stats import compute_stats, write_stats

    out = Path(args.out or Path(args.dataset) / "stats")
    out.mkdir(parents=True, exist_ok=True)
    paths = write_stats(compute_stats(Dataset(args.dataset)), out)
    print((out / "summary.md").read_text())
    print("wrote " + ", ".join(str(p) for p in paths))


def _train(args: argparse.Namespace) -> None:
    """Every trainer has one shape: train_X(data, out, config, progress); flags the user did
    not give keep the config dataclass's default."""
    from dataclasses import replace

    steps = {"steps": args.steps} if args.steps else {}
    if args.model == "refiner":
        from vasa.refine.config import RefinerConfig, TrainRefinerConfig
        from vasa.refine.train import train_refiner

        rc = TrainRefinerConfig()
        cfg = replace(rc, **steps, seed=args.seed, device=args.device, minutes=args.minutes,
                      batch=args.batch or rc.batch, lr=args.lr or rc.lr,
                      adversarial=args.adversarial, texture=args.texture, teeth=args.teeth,
                      init=args.init, eval_every=args.eval_every, save_every=args.eval_every)
        if args.refiner_widths:
            cfg.model = RefinerConfig(widths=tuple(int(w) for w in
                                                   args.refiner_widths.split(",")))
        metrics = train_refiner(args.data, args.out, cfg, progress=None if args.quiet else print)
        final = metrics["final"]
        print(f"wrote {args.out}: val {metrics['region']} PSNR {final['psnr_warp']:.2f} -> "
              f"{final['psnr_refined']:.2f} dB, SSIM {final['ssim_warp']:.3f} -> "
              f"{final['ssim_refined']:.3f}")
        return
    if args.model == "closure":
        from vasa.motion.train_closure import TrainClosureConfig, train_closure

        cfg = replace(TrainClosureConfig(), **steps, seed=args.seed, av_offsets=args.av_offsets)
        info = train_closure(args.data, args.out, cfg, progress=not args.quiet)
        print(f"wrote {args.out}: shut-lip AUC train {info['train_auc']:.3f}, held-out "
              f"{info['val_auc'] if info['val_auc'] is None else round(info['val_auc'], 3)}")
        return
    if args.model == "motion":
        from vasa.motion.config import MotionConfig, TrainMotionConfig
        from vasa.motion.train import train_motion

        model = MotionConfig(width=args.width, layers=args.layers, heads=args.heads,
                             window=args.window, prev=args.prev)
        cfg = TrainMotionConfig(**steps, batch=args.batch or TrainMotionConfig().batch,
                                seed=args.seed, threads=args.threads,
                                model=model, velocity_weight=args.velocity_weight,
                                stop_at=args.stop_at, av_offsets=args.av_offsets)
        print(f"wrote {train_motion(args.data, args.out, cfg, progress=not args.quiet)}")
        return
    if args.model == "sync":
        from vasa.evaluation.train_sync import TrainSyncConfig, train_sync

        folds = {} if args.folds is None else {"folds": args.folds}
        cfg = replace(TrainSyncConfig(), **steps, **folds, seed=args.seed)
        print(train_sync(args.data, args.out, cfg, progress=not args.quiet))
        return
    from vasa.evaluation.train_capp import TrainCappConfig, train_capp

    cfg = replace(TrainCappConfig(), **steps, seed=args.seed, av_offsets=args.av_offsets)
    print(train_capp(args.data, args.out, cfg, progress=not args.quiet))


def _eval(args: argparse.Namespace) -> None:
    from vasa.evaluation.evaluate import collect_videos, evaluate_videos

    methods = {}
    for spec in args.method:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--method must look like NAME=PATH, got {spec!r}")
        methods[name] = collect_videos(path, held_out=False)
    if not methods and args.reference is None:
        raise ValueError("nothing to score: give --method NAME=PATH, --reference, or both")
    reference = (None if args.reference is None
                 else collect_videos(args.reference, held_out=not args.all_speakers))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    evaluate_videos(methods, reference, out, max_seconds=args.max_seconds)
    print((out / "table.md").read_text())


def _serve(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from vasa.motion.config import DEFAULT_MODEL
    from vasa.pipelines.config import StreamConfig
    from vasa.serve.server import ServeConfig, run_server

    stream = StreamConfig(hop=args.hop, lookahead=args.lookahead, size=args.size,
                          crop=args.crop)
    stream.controls = replace(stream.controls, steps=args.steps)
    cfg = ServeConfig(host=args.host, port=args.port,
                      token=args.token or os.environ.get("VASA_TOKEN") or None,
                      max_sessions=args.max_sessions, workers=args.workers,
                      jpeg_quality=args.jpeg_quality, playout_delay_s=args.playout_delay,
                      stream=stream)
    run_server(cfg, args.model or DEFAULT_MODEL)


def _add_reenact_options(p: argparse.ArgumentParser) -> None:
    from vasa.pipelines.config import ReenactConfig

    rc = ReenactConfig()
    _add_framing_options(p, rc.size, rc.crop)
    p.add_argument("--side-by-side", action="store_true",
                   help="write the driving video beside the result")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--pose-only", action="store_true",
                      help="transfer head pose only, keep the portrait's expression")
    only.add_argument("--dynamics-only", action="store_true",
                      help="transfer facial dynamics only, keep the portrait's head pose")
    p.add_argument("--face-index", type=int, default=rc.face_index,
                   help="which portrait face to animate, 0 = largest (default: largest)")
    p.add_argument("--fps", type=float, default=rc.fps,
                   help="output frame rate (default: the driving video's)")
    p.add_argument("--crf", type=int, default=rc.crf,
                   help=f"x264 quality, lower is better ({rc.crf})")
    p.add_argument("--reference-s", type=float, default=rc.reference_s,
                   help="eyelids and gaze move relative to the driver's median over its first "
                        f"SECONDS with a face ({rc.reference_s:g})")
    p.add_argument("--shift-limit", type=float, default=rc.shift_limit, metavar="FACES",
                   help="soft limit on the head's shift across the still picture, in face "
                        f"sizes; -1: the driver's whole shift ({rc.shift_limit:g})")
    p.add_argument("--relative-mouth", action="store_true",
                   help="open the mouth by the driver's change from the portrait's own opening, "
                        "not as the driver's")
    p.add_argument("--lids-as-read", action="store_true", default=rc.lids_as_read,
                   help="ask the driver's eyelid openness as this portrait's render reads it "
                        "(probe renders at setup, as `vasa generate` asks its own): eyes closer "
                        "to the driver's, about 10%% slower")
    p.add_argument("--flow-scale", type=float, default=rc.render.flow_scale,
                   help=f"warp-field resolution relative to the frame ({rc.render.flow_scale})")
    _add_render_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The parser; every default is read from the config dataclass it fills."""
    from vasa.data.config import PrepareConfig
    from vasa.latent.basis import DEFAULT_BASIS
    from vasa.latent.expressions import DEFAULT_EXPRESSIONS
    from vasa.motion.config import MotionConfig, TrainMotionConfig
    from vasa.motion.features import NUM_PCA
    from vasa.pipelines.config import StreamConfig

    mc, tm, pc, sc = MotionConfig(), TrainMotionConfig(), PrepareConfig(), StreamConfig()

    p = argparse.ArgumentParser(prog="vasa", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build-basis", help="learn the face basis (template + dynamics PCA) "
                       "from the training speakers of a data manifest")
    b.add_argument("--manifest", default=str(DEFAULT_DATA / "MANIFEST.tsv"),
                   help="TSV manifest of face videos (default: ../shared/data/MANIFEST.tsv)")
    b.add_argument("-o", "--out", default=str(DEFAULT_BASIS), help="output .npz")
    b.add_argument("--components", type=int, default=NUM_PCA,
                   help=f"PCA components of the dynamics ({NUM_PCA}; the motion generator's "
                        "features need exactly this many)")
    b.add_argument("--workers", type=int, default=2, help="tracking processes")
    b.set_defaults(func=_build_basis)

    ex = sub.add_parser("build-expressions", help="learn the emotion directions of the face "
                        "latent space from the training speakers of a data manifest")
    ex.add_argument("--manifest", default=str(DEFAULT_DATA / "MANIFEST.tsv"),
                    help="TSV manifest of face videos (default: ../shared/data/MANIFEST.tsv)")
    ex.add_argument("-o", "--out", default=str(DEFAULT_EXPRESSIONS), help="output .npz")
    ex.add_argument("--workers", type=int, default=2, help="tracking processes")
    ex.set_defaults(func=_build_expressions)

    em = sub.add_parser("export-motion", help="export a motion model file to ONNX beside it "
                        "(what generate, reenact and serve then run: the same network, faster "
                        "on a CPU)")
    em.add_argument("model", help="motion model file (.pt)")
    em.add_argument("-o", "--out", default=None, help="output .onnx (default: beside the model)")
    em.set_defaults(func=_export_motion)

    from vasa.refine.config import PairsConfig, RefinerConfig, TrainRefinerConfig

    pc0, rc = PairsConfig(), TrainRefinerConfig()
    rp = sub.add_parser("refiner-pairs", help="self-reenactment pairs (rendered mouth or eyes, "
                        "real ones) from the clips of a data manifest, for `vasa train refiner`")
    rp.add_argument("--manifest", default=str(DEFAULT_DATA / "MANIFEST.tsv"),
                    help="TSV manifest of face videos (default: ../shared/data/MANIFEST.tsv)")
    rp.add_argument("-o", "--out", required=True, help="output folder (resumes if it exists)")
    rp.add_argument("--size", type=int, default=pc0.size,
                    help=f"frame crop side the warp runs at ({pc0.size})")
    rp.add_argument("--max-frames", type=int, default=pc0.max_frames,
                    help=f"frames read per clip ({pc0.max_frames})")
    rp.add_argument("--sources", type=int, default=pc0.sources,
                    help=f"portraits per clip ({pc0.sources})")
    rp.add_argument("--targets", type=int, default=pc0.targets,
                    help=f"frames rendered per portrait ({pc0.targets})")
    rp.add_argument("--seed", type=int, default=pc0.seed, help=f"random seed ({pc0.seed})")
    rp.add_argument("--region", choices=["mouth", "eyes"], default=pc0.region,
                    help=f"what the pairs are of: the mouth refiner's or the eye refiner's "
                         f"crops ({pc0.region}); eyes oversample blinks and gaze changes")
    rp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    rp.set_defaults(func=_refiner_pairs)

    r = sub.add_parser("reenact", help="drive a portrait with the motion of a video")
    r.add_argument("portrait", help="portrait image (photo, painting, any size)")
    r.add_argument("driving", help="driving video; its audio is copied to the output")
    r.add_argument("-o", "--out", required=True, help="output .mp4")
    _add_reenact_options(r)
    r.set_defaults(func=_reenact)

    g = sub.add_parser("generate", help="a talking-face video from a portrait and speech")
    g.add_argument("portrait", help="portrait image (photo, painting, any size)")
    g.add_argument("audio", help="speech: wav/mp3/m4a/flac or a video's audio track")
    g.add_argument("-o", "--out", required=True, help="output .mp4")
    _add_generate_options(g)
    g.set_defaults(func=_generate)

    d = sub.add_parser("demo", help="the bundled portrait speaking the bundled speech")
    d.add_argument("-o", "--out", default="vasa_demo.mp4", help="output .mp4 (vasa_demo.mp4)")
    d.add_argument("--reenact", action="store_true",
                   help="video-driven instead: the bundled clip's motion on the portrait")
    _add_generate_options(d)
    d.set_defaults(func=_demo)

    bn = sub.add_parser("bench", help="measure renderer and reenact speed on this machine "
                        "(bundled portrait and clip; same as benchmarks/*.py)")
    bn.add_argument("--size", type=int, default=512, help="render size (512)")
    bn.add_argument("--frames", type=int, default=300, help="frames to render (300)")
    bn.set_defaults(func=_bench)

    pr = sub.add_parser("prepare", help="turn talking-face videos into a training dataset")
    pr.add_argument("sources", nargs="*", help="folders to scan, .tsv manifests or video files")
    pr.add_argument("-o", "--out", required=True, help="dataset folder (created or resumed)")
    pr.add_argument("--workers", type=int, default=1, help="processes on this machine (1)")
    pr.add_argument("--shard", default="0/1",
                    help="I/N: take only shard I of N (cluster jobs); merge afterwards")
    pr.add_argument("--no-merge", action="store_true",
                    help="do not build index.json now (sharded runs merge once at the end)")
    pr.add_argument("--merge-only", action="store_true",
                    help="only build index.json from the reports already in --out")
    pr.add_argument("--fps", type=float, default=pc.fps,
                    help=f"motion frame rate ({pc.fps:g}: the audio features' rate, the only one "
                         "accepted)")
    pr.add_argument("--max-side", type=int, default=pc.max_side,
                    help=f"decode size for tracking ({pc.max_side})")
    pr.add_argument("--audio-features", default=pc.audio_features,
                    help="audio feature extractor (logmel+prosody, logmel, mfcc, prosody, "
                         "hf:/local/wav2vec2-dir)")
    pr.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    pr.set_defaults(func=_prepare)

    tr = sub.add_parser("train", help="train a model of the project on a prepared dataset")
    tr.add_argument("model", choices=["motion", "closure", "sync", "capp", "refiner"],
                    help="motion: the diffusion transformer; closure: where lips shut in "
                         "speech; sync: the lip-sync evaluator; capp: the audio-pose "
                         "evaluator; refiner: the mouth or eye refiner (the pair set's region)")
    tr.add_argument("--data", default="data/vasa-default",
                    help="dataset from `vasa prepare` (refiner: pairs from `vasa refiner-pairs`)")
    tr.add_argument("--out", required=True,
                    help="output checkpoint (.pt); refiner: a run folder (resumes if it exists)")
    tr.add_argument("--device", default=rc.device,
                    help=f"refiner: 'auto' (CUDA when present), 'cpu' or 'cuda' ({rc.device}); "
                         "several GPUs: run under torchrun")
    tr.add_argument("--steps", type=int, default=None, help="training steps (model default)")
    tr.add_argument("--minutes", type=float, default=rc.minutes,
                    help="refiner: time budget in minutes; the schedule is shortened to fit "
                         f"({rc.minutes})")
    tr.add_argument("--adversarial", type=float, default=rc.adversarial,
                    help="refiner: weight of the PatchGAN term (sharper teeth and lip lines; "
                         f"{rc.adversarial})")
    tr.add_argument("--texture", type=float, default=rc.texture,
                    help="refiner: weight of the texture term (as much fine detail inside the "
                         f"opening as the real frame: tooth edges; {rc.texture})")
    tr.add_argument("--teeth", type=float, default=rc.teeth,
                    help="refiner (mouth): share of each batch drawn from the pairs whose real "
                         "frame bares the upper teeth (the training speakers show them less "
                         f"often than others; {rc.teeth})")
    tr.add_argument("--init", default=rc.init,
                    help="refiner: start from this refiner (.pt or exported .onnx, e.g. the "
                         "bundled one) to fine-tune it")
    tr.add_argument("--eval-every", type=int, default=rc.eval_every,
                    help="refiner: steps between held-out evaluations and saves (the export "
                         f"is chosen among evaluated steps; {rc.eval_every})")
    tr.add_argument("--lr", type=float, default=None,
                    help=f"refiner: peak learning rate ({rc.lr})")
    tr.add_argument("--refiner-widths", default=None,
                    help="refiner: channels per U-Net level, comma-separated (default "
                         f"{','.join(map(str, RefinerConfig().widths))})")
    tr.add_argument("--seed", type=int, default=tm.seed, help=f"random seed ({tm.seed})")
    tr.add_argument("--width", type=int, default=mc.width,
                    help=f"motion: transformer width ({mc.width})")
    tr.add_argument("--layers", type=int, default=mc.layers,
                    help=f"motion: transformer blocks ({mc.layers})")
    tr.add_argument("--heads", type=int, default=mc.heads,
                    help=f"motion: attention heads ({mc.heads})")
    tr.add_argument("--window", type=int, default=mc.window,
                    help=f"motion: frames per window W ({mc.window})")
    tr.add_argument("--prev", type=int, default=mc.prev,
                    help=f"motion: previous frames K ({mc.prev})")
    tr.add_argument("--batch", type=int, default=None,
                    help=f"batch size (motion {tm.batch}, refiner {rc.batch})")
    tr.add_argument("--stop-at", type=int, default=None,
                    help="motion: stop and export at this step, keeping the --steps schedule")
    tr.add_argument("--velocity-weight", type=float, default=tm.velocity_weight,
                    help="motion: weight of the velocity loss term (1.0; 0 = the paper's loss)")
    tr.add_argument("--threads", type=int, default=tm.threads,
                    help="motion: CPU threads (1: fastest for this model size on 2 cores)")
    tr.add_argument("--folds", type=int, default=None,
                    help="sync: speaker folds used to measure and undo each train clip's AV "
                         "offset before the final fit (default: TrainSyncConfig.folds, 5; "
                         "0 = train on the clips as they are)")
    tr.add_argument("--av-offsets", default=None,
                    help="motion, closure, capp: the <out>_offsets.json of `vasa train sync`: undo "
                         "each train clip's AV offset first")
    tr.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(func=_train)

    ev = sub.add_parser("eval", help="score generated videos, alone or against real clips (lip "
                        "sync, CAPP, Delta P, motion FD, blinks, gaze shifts, jitter, mouth "
                        "opening, envelope correlation, crossed lips, identity)")
    ev.add_argument("--method", action="append", default=[], metavar="NAME=PATH",
                    help="a method's videos: folder or file; audio = same-stem audio file or "
                         "the video's own track (repeatable)")
    ev.add_argument("--reference", default=None,
                    help="real clips: folder, video or MANIFEST.tsv (held-out speakers only); "
                         "without it the reference-dependent column (FD_motion) is n/a")
    ev.add_argument("--all-speakers", action="store_true",
                    help="with a manifest: use every speaker, not only held-out ones")
    ev.add_argument("--out", required=True, help="output folder: table.md, table.json, PNGs")
    ev.add_argument("--max-seconds", type=float, default=None,
                    help="score only the first seconds of each video")
    ev.set_defaults(func=_eval)

    sv = sub.add_parser("serve", help="real-time talking faces in the browser: a local server "
                        "with a web page (portrait + file or microphone speech)")
    sv.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port (8000; 0 = any free port)")
    sv.add_argument("--token", default=None,
                    help="access token clients must give (required unless --host is loopback; "
                         "default: $VASA_TOKEN)")
    sv.add_argument("--max-sessions", type=int, default=2,
                    help="simultaneous sessions; more get a busy answer (2: what an idle 2-core "
                         "machine holds in real time, see README)")
    sv.add_argument("--workers", type=int, default=2,
                    help="compute threads, one per core (2)")
    sv.add_argument("--model", default=None, help="motion model file (default: bundled)")
    sv.add_argument("--hop", type=int, default=sc.hop,
                    help=f"frames per motion window ({sc.hop}; 1 = 40 ms less latency, twice "
                         "the cost)")
    sv.add_argument("--lookahead", type=int, default=sc.lookahead,
                    help=f"frames of audio look-ahead past each window ({sc.lookahead} = "
                         f"{sc.lookahead * 40} ms)")
    sv.add_argument("--steps", type=int, default=sc.controls.steps,
                    help=f"sampling steps per window ({sc.controls.steps})")
    _add_framing_options(sv, sc.size, sc.crop)
    sv.add_argument("--jpeg-quality", type=int, default=80, help="frame JPEG quality (80)")
    sv.add_argument("--playout-delay", type=float, default=0.3,
                    help="seconds the page buffers frames against compute jitter (0.3; less on "
                         "an idle machine)")
    sv.set_defaults(func=_serve)

    da = sub.add_parser("data", help="dataset tools")
    dsub = da.add_subparsers(dest="data_command", required=True)
    st = dsub.add_parser("stats", help="summary and plots of a prepared dataset")
    st.add_argument("dataset", help="dataset folder made by `vasa prepare`")
    st.add_argument("-o", "--out", default=None, help="output folder (DATASET/stats)")
    st.set_defaults(func=_data_stats)
    return p


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like KeyboardInterrupt for SIGINT, so that every
    `with` block unwinds: temporary outputs are removed, half-written files never appear."""


def _terminate(signum: int, frame: object) -> None:
    if os.getpid() != _MAIN_PID:  # a forked worker: die as a worker would, its parent cleans up
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise Terminated


_MAIN_PID = os.getpid()


def main(argv: list[str] | None = None) -> int:
    global _MAIN_PID
    os.environ.setdefault("GLOG_minloglevel", "2")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s: %(message)s")
    _MAIN_PID = os.getpid()
    # Only the main thread may set handlers (main() called from a thread keeps the default).
    handle = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if handle else None
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as err:  # user errors: a message, not a traceback
        print(f"vasa: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # exit codes as a shell reports a signal: 128 + its number
        stop_all()
        print("vasa: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Terminated:
        stop_all()
        print("vasa: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if handle:
            signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)  # None: set from C
    return 0


if __name__ == "__main__":
    sys.exit(main())
