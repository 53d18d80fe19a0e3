"""Cross-identity evaluation (issue 12): portraits the model never saw speak held-out speakers'
speech, and each video is measured against the real video of that speech.

Every method is a source tree (`--method NAME=SRC_DIR`): its videos are made by
`python -m vasa.cli generate PORTRAIT AUDIO -o OUT -q --size 256` with PYTHONPATH=SRC_DIR, so an
older checkout and the current tree are compared in one run, on the same inputs, measured by the
same (current) code. Generated videos are cached in WORK/videos/METHOD/ and skipped when present.

Measures (`vasa.evaluation.mouth_metrics`, model-free, plus the learned S_C): every generated
video and every real speech video is re-tracked at 25 fps over the first SECONDS of the speech.
Per (portrait, speech): mouth opening mean and std relative to the real speaker's, envelope
correlation (and relative to the real video's) and its lag, crossed-lip share, opening in
silence and in speech, blinks per minute, blink duration, Delta P and S_C relative to real.
Per portrait: the median over its speeches; per method: the median over portraits (opening
ratios also min and max).

Writes benchmarks/results/cross_identity.{md,json} and, in WORK (default out/cross_identity,
git-ignored), the speech cut to SECONDS, the videos and contact sheets (sheets/*.png).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from vasa.evaluation import cross_identity as ci
from vasa.io import atomic_output

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
SECONDS = 12.0
SIZE = 256  # generated video side: what the renderer makes fast, enough for the tracker
SHEET_COLUMNS = 8
SHEET_TILE = 160  # px per tile in the contact sheets
GENERATE_TIMEOUT_S = 900
log = logging.getLogger("cross_identity")


@dataclass(frozen=True)
class PortraitSpec:
    key: str
    file: str  # under DATA/portraits
    mouth: str  # "closed" or "open": the portrait's own mouth
    why: str


@dataclass(frozen=True)
class SpeechSpec:
    key: str
    clip: str  # the MANIFEST's `file`; its speaker must be held out of training
    language: str
    why: str


# Ordered so that any prefix (--portraits N) mixes mouths and kinds of picture. Inner-lip gaps
# measured on the portraits (IOD); the template, a typical talking mouth, is 0.088.
PORTRAITS = (
    PortraitSpec("obama_photo", "Audio2Head__demo__img__obama.jpg", "closed",
                 "colour photo, frontal, lips closed (gap 0.01)"),
    PortraitSpec("aoc_open", "V-Express__test_samples__short_case__AOC__ref.jpg", "open",
                 "photo caught mid-word, mouth wide open (gap 0.28)"),
    PortraitSpec("painting_s3", "LivePortrait__assets__examples__source__s3.jpg", "closed",
                 "oil painting, frontal, lips closed"),
    PortraitSpec("bw_s2", "LivePortrait__assets__examples__source__s2.jpg", "closed",
                 "black-and-white photo, lips closed"),
    PortraitSpec("painting_3q_s8", "LivePortrait__assets__examples__source__s8.jpg", "closed",
                 "painting, three-quarter view (yaw 22 deg), lips closed"),
    PortraitSpec("smile_menglu2", "dreamtalk__data__src_img__cropped__menglu2.png", "open",
                 "open smile showing teeth (gap 0.14)"),
    PortraitSpec("musk", "Audio2Head__demo__img__masike.jpg", "closed",
                 "colour photo, frontal, lips pressed shut (gap 0.00)"),
    PortraitSpec("trump", "Audio2Head__demo__img__trump.jpg", "closed",
                 "lips closed, face turned 8 deg, narrow eyes (openness 0.10-0.14: blinks)"),
    PortraitSpec("einstein", "AniTalker__test_demos__portraits__Einstein.png", "closed",
                 "colourised old photo, moustache over the lips (PCA misreads the gap by 0.03)"),
    PortraitSpec("bw_audrey", "MakeItTalk__examples__audrey.jpg", "closed",
                 "black-and-white studio photo, lips closed, head tilted"),
    PortraitSpec("smile_3q_alex", "face_recognition__examples__alex-lacamoire.png", "open",
                 "open smile, three-quarter view (yaw -14 deg)"),
    PortraitSpec("macron", "Real3DPortrait__data__raw__examples__Macron.png", "open",
                 "mouth half open (gap 0.08, the template's)"),
    PortraitSpec("sad", "AniTalker__test_demos__portraits__sad.jpg", "closed",
                 "sad expression, head tilted down (pitch -11 deg), lips closed"),
    PortraitSpec("angelina", "dreamtalk__data__src_img__uncropped__uncut_src_img.jpg", "closed",
                 "lips closed but full: PCA reads them 0.06 open (tests the residual)"),
)
SPEECHES = (
    SpeechSpec("w2l_french", "clips/Wav2Lip__checkpoints__test.mov", "French",
               "issue 12's held-out French speaker (its 0.066 IOD mean opening is this clip's; "
               "the MANIFEST names no language); 720p vlog, face lost in 18% of frames"),
    SpeechSpec("obama", "clips/EDTalk__test_data__uncrop_Obama.mp4", "English",
               "weekly address, 450 px; the file's video leads its audio by 5-6 frames"),
    SpeechSpec("rd_radio2", "clips/SadTalker__test__examples__source_image__RD_Radio2_000.mp4",
               "English", "HDTF radio address, 8 s"),
    SpeechSpec("christie", "clips/Talking-Face_PC-AVS__misc__Audio_Source__00015.mp4",
               "English", "TV interview (VoxCeleb2, 224 px), 7 s"),
    SpeechSpec("stewart", "clips/Talking-Face_PC-AVS__misc__Pose_Source__00473.mp4", "English",
               "interview (VoxCeleb2, 224 px), 6.3 s"),
    SpeechSpec("lp_s18", "clips/LivePortrait__assets__examples__source__s18.mp4", "unknown",
               "woman at a table, vlog, 9.4 s, 1280x720"),
)


@dataclass
class Speech:
    """A selected speech: its spec, manifest clip, speaker and the cut audio."""

    spec: SpeechSpec
    video: Path
    speaker: str
    wav: Path
    seconds: float


def parse_method(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise argparse.ArgumentTypeError(f"--method wants NAME=SRC_DIR, got {text!r}")
    if not (Path(folder) / "vasa" / "cli.py").is_file():
        raise argparse.ArgumentTypeError(f"--method {name}: {folder} has no vasa/cli.py "
                                         "(give the src/ folder of a checkout)")
    return name, Path(folder).resolve()


def cut_speeches(specs: tuple[SpeechSpec, ...], manifest: Path, seconds: float, work: Path
                 ) -> list[Speech]:
    """Each speech's first `seconds` (or all of a shorter clip) as WORK/speech/KEY.wav, 16 kHz;
    refuses a clip whose speaker is not held out of training."""
    import soundfile as sf

    from vasa.data.manifest import is_validation, read_manifest, speaker_of
    from vasa.io import load_audio

    items = {i.name: i for i in read_manifest(manifest, ("clips",))}
    out = []
    for spec in specs:
        item = items.get(spec.clip)
        if item is None or item.audio is None:
            raise ValueError(f"{spec.clip}: not a talking clip with audio in {manifest}")
        if not is_validation(speaker_of(item)):
            raise ValueError(f"{spec.clip}: speaker {speaker_of(item)} is a training speaker")
        audio = load_audio(item.audio, 16000)[: round(seconds * 16000)]
        wav = work / "speech" / f"{spec.key}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(wav) as tmp:
            sf.write(tmp, audio.astype(np.float32), 16000, format="WAV")
        out.append(Speech(spec, item.video, speaker_of(item), wav, len(audio) / 16000))
    return out


def generate(src: Path, portrait: Path, wav: Path, out: Path, threads: int) -> str:
    """Run one checkout's `vasa generate`; '' on success, else the error's last lines."""
    if out.is_file():
        return ""
    out.parent.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"PYTHONPATH": str(src), "GLOG_minloglevel": "2",
                        "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "vasa.cli", "generate", str(portrait), str(wav), "-o", str(out),
           "-q", "--size", str(SIZE)]
    # The table scores the aligned crop; checkouts since issue 13 write the picture unless told.
    if '"--crop"' in (src / "vasa" / "cli.py").read_text():
        cmd.append("--crop")
    try:
        run = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True,
                             timeout=GENERATE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"timed out after {GENERATE_TIMEOUT_S} s"
    if run.returncode or not out.is_file():
        return " | ".join((run.stderr or run.stdout).strip().splitlines()[-2:]) or "no output"
    return ""


MEASURES_VERSION = 3  # bump when ci.measure_video changes: cached measures are then redone


def _measure_or_error(video: Path, wav: Path) -> dict:
    """ci.measure_video in a worker process; an unusable video is recorded, not fatal. A video
    made by this script (inside the repository's folder) keeps its measures beside it,
    `NAME.mp4.measures.json`, reused while newer than the video and the speech."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    video, wav = Path(video), Path(wav)
    cache = video.with_name(video.name + ".measures.json")
    mine = ROOT in video.resolve().parents
    key = {"version": MEASURES_VERSION, "video": _digest(video), "wav": _digest(wav)}
    if mine and cache.is_file():
        saved = json.loads(cache.read_text())
        if all(saved.get(k) == v for k, v in key.items()):
            return saved["measures"]
    try:
        measures = ci.measure_video(video, wav)
    except ValueError as e:  # no face in any frame, unreadable video
        measures = {"error": str(e)}
    if mine:
        with atomic_output(cache) as tmp:
            Path(tmp).write_text(json.dumps(key | {"measures": measures}))
    return measures


def _digest(path: Path) -> str:
    """sha1 of a file's bytes: cached measures stay valid while video and speech are the same."""
    import hashlib

    return hashlib.sha1(path.read_bytes()).hexdigest()


def _mouth_box(frame: np.ndarray, tracker, last: tuple[int, int, int, int] | None
               ) -> tuple[int, int, int, int]:
    """A square (x0, y0, x1, y1) around the lips of the largest face, twice the mouth's width
    (the last box, or the frame's lower middle, where no face is found)."""
    from vasa.latent import topology as topo

    h, w = frame.shape[:2]
    faces = tracker.detect(frame)
    if not faces:
        return last or (w // 4, h // 2, 3 * w // 4, h)
    lips = faces[0].landmarks[topo.LIPS_OUTER, :2]
    cx, cy = lips.mean(0)
    half = max(8.0, float(np.ptp(lips[:, 0])))
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    return x0, y0, int(min(w, cx + half)), int(min(h, cy + half))


def sheet_rows(video: Path, seconds: float, label: str, tracker) -> np.ndarray:
    """A labelled block: whole frames at SHEET_COLUMNS evenly spaced times over the first
    `seconds`, and below them each frame's mouth, zoomed."""
    import cv2

    from vasa.io import read_frames

    n = round(seconds * 25)
    want = np.linspace(0, n - 1, SHEET_COLUMNS + 2)[1:-1].round().astype(int)
    frames = {i: f for i, f in zip(range(n), read_frames(video, fps=25.0, max_side=720))
              if i in set(want.tolist())}
    whole, mouths, box = [], [], None
    for i in want:
        f = frames.get(int(i), np.zeros((SHEET_TILE, SHEET_TILE, 3), np.uint8))
        box = _mouth_box(f, tracker, box)
        x0, y0, x1, y1 = box
        scale = SHEET_TILE / max(f.shape[:2])
        tile = np.zeros((SHEET_TILE, SHEET_TILE, 3), np.uint8)
        small = cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        y, x = (SHEET_TILE - small.shape[0]) // 2, (SHEET_TILE - small.shape[1]) // 2
        tile[y:y + small.shape[0], x:x + small.shape[1]] = small
        whole.append(tile)
        mouths.append(cv2.resize(f[y0:y1, x0:x1], (SHEET_TILE, SHEET_TILE),
                                 interpolation=cv2.INTER_CUBIC))
    strip = np.full((22, SHEET_TILE * len(want), 3), 255, np.uint8)
    cv2.putText(strip, f"{label}   (t = " + ", ".join(f"{i / 25:.1f}" for i in want) + " s)",
                (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, np.concatenate(whole, 1), np.concatenate(mouths, 1)], 0)


def contact_sheet(videos: dict[str, Path], real: Path, speech: Speech, out: Path) -> Path:
    """One PNG: the real speaker on top, then each method's video of one portrait."""
    import cv2

    from vasa.tracking import FaceLandmarker

    with FaceLandmarker() as tracker:
        blocks = [sheet_rows(real, speech.seconds, f"real: {speech.spec.key}", tracker)]
        blocks += [sheet_rows(v, speech.seconds, name, tracker) for name, v in videos.items()
                   if v.is_file()]
    img = np.concatenate(blocks, 0)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as tmp:
        cv2.imwrite(os.fspath(tmp), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return out


def _source_version(src: Path) -> str:
    """The checkout's commit, '+dirty' with uncommitted changes ('' outside git)."""
    def git(*a: str) -> str:
        r = subprocess.run(["git", "-C", str(src), *a], check=False, capture_output=True,
                           text=True)
        return r.stdout.strip() if r.returncode == 0 else ""
    head = git("rev-parse", "--short", "HEAD")
    return head + ("+dirty" if head and git("status", "--porcelain", "--", ".") else "")


def made_with(folder: Path, src: Path, made: bool, reused: bool) -> str:
    """Which checkout a method's videos come from, recorded in folder/made_with.txt when this
    run made any; videos reused from another state of the source are flagged."""
    now = _source_version(src) or "no git"
    record = folder / "made_with.txt"
    before = record.read_text().strip() if record.is_file() else "an unrecorded checkout"
    label = now if not reused or before == now else (
        f"{now} and {before} (cached)" if made else f"{before} (cached; source now {now})")
    if label != now:
        log.warning("%s: videos from %s: --regenerate to remake them", folder, label)
    if made:
        record.write_text(label + "\n")
    return label


def generate_all(methods: list[tuple[str, Path]], portraits: tuple[PortraitSpec, ...],
                 speeches: list[Speech], videos: Path, jobs: int) -> dict[tuple, str]:
    """Every (method, portrait, speech) video, `jobs` at a time; {key: error ('' if made)}."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    todo = {(m, p.key, s.spec.key): (src, DATA / "portraits" / p.file, s.wav,
                                     videos / m / f"{p.key}__{s.spec.key}.mp4")
            for m, src in methods for p in portraits for s in speeches}
    errors: dict[tuple, str] = {}
    with ThreadPoolExecutor(jobs) as pool:
        futures = {pool.submit(generate, *args, threads): key for key, args in todo.items()}
        for k, fut in enumerate(as_completed(futures), 1):
            key = futures[fut]
            errors[key] = fut.result()
            log.info("[%d/%d] %s %s", k, len(todo), "/".join(key),
                     f"FAILED: {errors[key]}" if errors[key] else "ok")
    return errors


def measure_all(tasks: dict[tuple, tuple[Path, Path]], jobs: int) -> dict[tuple, dict]:
    """measure_video of each (video, wav), in `jobs` fresh processes (MediaPipe and torch do
    not survive a fork)."""
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        futures = {key: pool.submit(_measure_or_error, *vw) for key, vw in tasks.items()}
        return {key: f.result() for key, f in futures.items()}


def write_report(path: Path, args: argparse.Namespace, speeches: list[Speech],
                 portraits: tuple[PortraitSpec, ...], report: dict) -> None:
    """benchmarks/results/cross_identity.md and .json."""
    defaults = {"portraits": len(PORTRAITS), "speakers": len(SPEECHES), "seconds": SECONDS}
    cmd = "python scripts/cross_identity_eval.py " + " ".join(
        [f"--method {m}={src}" for m, src in args.method]
        + [f"--{k} {getattr(args, k):g}" for k, v in defaults.items() if getattr(args, k) != v])
    lines = [(f"# Cross-identity evaluation: {len(portraits)} portraits x {len(speeches)} "
              f"held-out speeches, first {args.seconds:g} s"), "",
             f"Reproduce: `{cmd}` (videos cached in {args.work}).", "",
             "Methods: " + ", ".join(f"{m} = {s} ({report['versions'][m]})"
                                     for m, s in args.method), "", ci.TARGETS, "",
             "## Methods (median over portraits)", "", *ci.method_table(report["summary"]), "",
             "## Real videos of the speeches", "",
             *ci.real_table([(s.spec.key, s.speaker, s.spec.language, s.seconds)
                             for s in speeches], report["real"]), "",
             "## Per portrait (median over speeches)", "",
             *ci.portrait_table(report["per_portrait"], {p.key: p.mouth for p in portraits}),
             "", "## Inputs", "",
             *(f"- portrait `{p.key}` ({p.mouth} mouth): {p.file}: {p.why}" for p in portraits),
             *(f"- speech `{s.spec.key}` ({s.speaker}, {s.spec.language}, {s.seconds:.1f} s): "
               f"{s.spec.clip}: {s.spec.why}" for s in speeches), "", ci.READING, "", ci.CAVEATS, "",
             (f"Generation {report['seconds']['generate']:.0f} s, measurement "
              f"{report['seconds']['measure']:.0f} s (--jobs {args.jobs})."), ""]
    with atomic_output(path.with_suffix(".md")) as tmp:
        Path(tmp).write_text("\n".join(lines))
    with atomic_output(path.with_suffix(".json")) as tmp:
        Path(tmp).write_text(json.dumps(report, indent=1, allow_nan=False))


def _made_or_reused(method: str, errors: dict[tuple, str], cached: dict[str, set[str]]
                    ) -> tuple[bool, bool]:
    """(made by this run, reused from the cache): of the method's videos that exist."""
    ok = {f"{p}__{s}.mp4" for (m, p, s), err in errors.items() if m == method and not err}
    return bool(ok - cached[method]), bool(ok & cached[method])


def score(errors: dict[tuple, str], measured: dict[tuple, dict], speeches: list[Speech]
          ) -> tuple[dict[str, dict], dict]:
    """(real measures per speech, pairs[method][portrait][speech]: `ci.relative` and the
    generated video's measures, or {"error": why} where either video has no measures)."""
    real = {s.spec.key: measured[("real", s.spec.key)] for s in speeches}
    pairs: dict = {}
    for (m, p, s), err in errors.items():
        gen = {"error": err} if err else measured[(m, p, s)]
        bad = gen.get("error") or real[s].get("error")
        pairs.setdefault(m, {}).setdefault(p, {})[s] = (
            {"error": bad} if bad else ci.relative(gen, real[s]) | {"measures": gen})
    return real, pairs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--method", type=parse_method, action="append", required=True,
                    metavar="NAME=SRC_DIR", help="a checkout's src/ folder to generate with "
                    "(repeatable), e.g. before=/tmp/base/src after=src")
    ap.add_argument("--portraits", type=int, default=len(PORTRAITS),
                    help=f"use the first N portraits of the list ({len(PORTRAITS)})")
    ap.add_argument("--speakers", type=int, default=len(SPEECHES),
                    help=f"use the first N held-out speeches of the list ({len(SPEECHES)})")
    ap.add_argument("--seconds", type=float, default=SECONDS,
                    help=f"first seconds of each speech ({SECONDS:g})")
    ap.add_argument("--jobs", type=int, default=2, help="videos made or measured at once (2)")
    ap.add_argument("--regenerate", action="append", default=[], metavar="NAME",
                    help="remake this method's cached videos (repeatable)")
    ap.add_argument("--work", type=Path, default=ROOT / "out" / "cross_identity",
                    help="speech cuts, videos and contact sheets (out/cross_identity)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="where the tables go")
    ap.add_argument("--manifest", type=Path, default=DATA / "MANIFEST.tsv", help="data manifest")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("GLOG_minloglevel", "2")
    names = [m for m, _ in args.method]
    if len(set(names)) != len(names) or set(args.regenerate) - set(names):
        ap.error("--method names must be unique, and --regenerate must name one of them")
    portraits = PORTRAITS[:args.portraits]
    tag = f"{args.seconds:g}s"
    speeches = cut_speeches(SPEECHES[:args.speakers], args.manifest, args.seconds,
                            args.work / tag)
    videos = args.work / tag / "videos"
    for name in args.regenerate:
        for p in portraits:
            for s in speeches:
                (videos / name / f"{p.key}__{s.spec.key}.mp4").unlink(missing_ok=True)
    cached = {m: {p.name for p in (videos / m).glob("*.mp4")} for m in names}
    t0 = time.perf_counter()
    errors = generate_all(args.method, portraits, speeches, videos, args.jobs)
    t1 = time.perf_counter()
    tasks = {("real", s.spec.key): (s.video, s.wav) for s in speeches}
    tasks |= {key: (videos / key[0] / f"{key[1]}__{key[2]}.mp4",
                    next(s.wav for s in speeches if s.spec.key == key[2]))
              for key, err in errors.items() if not err}
    measured = measure_all(tasks, args.jobs)
    t2 = time.perf_counter()
    real, pairs = score(errors, measured, speeches)
    per = {m: {p.key: ci.per_portrait(pairs[m][p.key]) for p in portraits} for m in names}
    report = {"seconds_per_speech": args.seconds, "methods": {m: str(s) for m, s in args.method},
              "versions": {m: made_with(videos / m, src, *_made_or_reused(m, errors, cached))
                           for m, src in args.method},
              "portraits": [asdict(p) for p in portraits],
              "speeches": [asdict(s.spec) | {"speaker": s.speaker, "seconds": s.seconds}
                           for s in speeches],
              "summary": {m: ci.summarise(per[m]) for m in names}, "real": real,
              "per_portrait": per, "pairs": pairs,
              "seconds": {"generate": t1 - t0, "measure": t2 - t1}}
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / "cross_identity"
    write_report(out, args, speeches, portraits, report)
    print(f"wrote {out}.md and {out}.json")
    for kind in ("closed", "open"):  # the first portrait of each kind, on the first speech
        p = next((p for p in portraits if p.mouth == kind), None)
        if p is not None:
            s = speeches[0]
            made = contact_sheet({m: videos / m / f"{p.key}__{s.spec.key}.mp4" for m in names},
                                 s.video, s, args.work / tag / "sheets" /
                                 f"{kind}_{p.key}__{s.spec.key}.png")
            print(f"contact sheet ({kind} mouth): {made}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
