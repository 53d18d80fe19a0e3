"""`vasa eval`: VASA-1's quality table (section 4.2, Tables 1-2) for sets of talking-face videos.

Every video is re-tracked from its frames once (`track_video` at 25 fps) and its audio turned
into features once; every metric reads those. Per method: the mean of each per-video metric over
its videos, and the motion Frechet distance of its 25-frame windows against the reference (real)
set, when one is given (a single video with its audio is scored alone: that column is n/a). The
model-free mouth and blink measures of `vasa.evaluation.mouth_metrics` sit next to the learned
ones, so a still mouth cannot pass as in sync. A metric that cannot be computed is "n/a" with its
reason, never a made-up number.
Learned metrics (S_C/S_D: `vasa.evaluation.syncnet`, CAPP: `vasa.evaluation.capp`) are the
project's own models in their own units: compare methods scored here, not with the paper.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vasa.audio import N_MELS, PROSODY_FIELDS, get_extractor
from vasa.evaluation import motion_metrics as mm
from vasa.evaluation import mouth_metrics as mo
from vasa.io import MediaError, atomic_output, has_audio, load_audio
from vasa.latent.basis import FaceBasis, default_basis
from vasa.latent.motion import MotionLatents

log = logging.getLogger(__name__)
FPS = mm.FPS
LOG_ENERGY = N_MELS + PROSODY_FIELDS.index("log_energy")  # column 80 of logmel+prosody
IDENTITY_FRAMES = 8  # frames re-detected per video for the face-shape identity
REFERENCE = "real video"
VIDEO_EXT = (".mp4", ".mov", ".mkv", ".webm", ".avi")
AUDIO_EXT = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg")
IMAGE_EXT = (".png", ".jpg", ".jpeg")
# (key, column header, how to read it), in table order.
METRICS = (("s_c", "S_C", "higher"), ("s_d", "S_D", "lower"), ("offset", "offset", "0 frames"),
           ("capp", "CAPP", "higher"), ("delta_p", "Delta P", "closer to real"),
           ("fd_motion", "FD_motion", "lower"), ("blinks", "blinks/min", "closer to real"),
           ("gaze_shifts", "gaze shifts/min", "closer to real"),
           ("jitter", "jitter", "closer to real"), ("silent_mouth", "silent mouth", "closer to real"),
           ("mouth_open", "mouth open", "closer to real"), ("mouth_std", "mouth std", "closer to real"),
           ("envelope_corr", "envelope corr", "closer to real"),
           ("crossed_lips", "crossed lips", "0"), ("blink_ms", "blink ms", "closer to real"),
           ("identity", "identity (shape)", "higher"))
NOTE = ("Metrics re-tracked from the video frames at 25 fps. Units: Delta P deg/frame; jitter "
        "(1e-3 IOD)^2/frame^2; silent mouth 1e-3 IOD/frame (IOD: inter-ocular distance); "
        "mouth open/std: inner-lip gap mean and std in IOD; envelope corr: mouth opening vs "
        "speech loudness at the best lag within +-5 frames; crossed lips: share of frames; "
        "blink ms: time under half open (vasa.evaluation.mouth_metrics, model-free); "
        "S_C/S_D/CAPP: the project's own models, not the paper's; FD_motion: Frechet distance "
        "of tracked-motion windows, NOT comparable with published FVD; identity: face-SHAPE "
        "similarity to the portrait, not appearance.")


@dataclass
class VideoItem:
    """A video to score, its audio (a file, or the video itself for its own track) and
    optionally the portrait it animates (image or video: first frame) for the identity metric."""

    video: Path
    audio: Path
    portrait: Path | None = None


@dataclass
class Score:
    """A metric value, or None with the reason. count: videos averaged (method rows)."""

    value: float | None
    reason: str = ""
    count: int = 1

    def __post_init__(self) -> None:
        if self.value is not None and not np.isfinite(self.value):
            self.value, self.reason = None, f"not finite ({self.value})"

    def cell(self, total: int = 1) -> str:
        if self.value is None:
            return "n/a"
        return f"{self.value:.3f}" + (f" ({self.count}/{total})" if self.count < total else "")


@dataclass
class Result:
    """Scores of one video (video set) or of one method (video = ""). frames: scored at 25 fps;
    lost_frames: of those, face not tracked (skipped by the motion metrics); tracked_frames:
    decoded and tracked; seconds: evaluation time per stage."""

    method: str
    video: str = ""
    videos: int = 1
    frames: int = 0
    lost_frames: int = 0
    tracked_frames: int = 0
    scores: dict[str, Score] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    windows: np.ndarray | None = field(default=None, repr=False)  # (N, 25, F) for FD_motion
    pose_steps: np.ndarray | None = field(default=None, repr=False)  # (M,) deg: Delta P terms

    def to_dict(self) -> dict:
        d = {k: v for k, v in vars(self).items() if k not in ("windows", "pose_steps")}
        return d | {"scores": {k: asdict(v) for k, v in self.scores.items()}}


@dataclass
class EvalTable:
    """Method rows (the reference last), per-video results, evaluation speed."""

    rows: list[Result]
    videos: list[Result]
    seconds_per_minute: float  # wall time to evaluate one minute of video (all metrics)

    def to_markdown(self) -> str:
        head = ["method", "videos", *(h for _, h, _ in METRICS), "lost frames"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            cells = [r.method, str(r.videos), *(r.scores[k].cell(r.videos) for k, _, _ in METRICS)]
            lines.append("| " + " | ".join([*cells, f"{r.lost_frames}/{r.frames}"]) + " |")
        lines += ["", "Reading: " + "; ".join(f"{h}: {how}" for _, h, how in METRICS) + ".", "",
                  "n/a, or averaged over (k/n) videos:"]
        where: dict[str, list[str]] = {}  # reason -> the cells it explains
        for r in self.rows:
            for k, h, _ in METRICS:
                if r.scores[k].reason:
                    where.setdefault(r.scores[k].reason, []).append(f"{r.method} / {h}")
        lines += [f"- {', '.join(cells)}: {why}" for why, cells in where.items()]
        speed = f"Evaluation speed: {self.seconds_per_minute:.1f} s per minute of video."
        return "\n".join([*lines, "", NOTE, "", speed, ""])

    def to_dict(self) -> dict:
        return {"rows": [r.to_dict() for r in self.rows],
                "videos": [v.to_dict() for v in self.videos],
                "seconds_per_minute": self.seconds_per_minute, "note": NOTE,
                "metrics": [{"key": k, "header": h, "better": b} for k, h, b in METRICS]}


def _beside(video: Path, exts: tuple[str, ...]) -> Path | None:
    return next((p for e in exts if (p := video.with_suffix(e)).is_file()), None)


def collect_videos(path: str | Path, held_out: bool = True) -> list[VideoItem]:
    """Videos of a folder (or one video file), each paired with its audio: a same-stem audio
    file beside it, else the video's own track; a same-stem image beside it is its portrait.
    A MANIFEST.tsv gives its talking clips with audio (of held-out speakers if `held_out`), each
    with its first frame as portrait."""
    from vasa.data.manifest import is_validation, read_manifest, speaker_of

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such video, folder or manifest")
    if path.suffix == ".tsv":
        return [VideoItem(i.video, i.audio, i.video) for i in read_manifest(path, ("clips",))
                if i.audio is not None and (is_validation(speaker_of(i)) or not held_out)]
    files = [path] if path.is_file() else sorted(
        p for p in path.iterdir() if p.suffix.lower() in VIDEO_EXT)
    if not files:
        raise ValueError(f"{path}: no videos ({', '.join(VIDEO_EXT)})")
    items = []
    for v in files:
        audio = _beside(v, AUDIO_EXT) or (v if has_audio(v) else None)
        if audio is None:
            raise ValueError(f"{v}: no audio track and no {v.stem}.wav (or other audio) beside it")
        items.append(VideoItem(v, audio, _beside(v, IMAGE_EXT)))
    return items


def _score(fn, *args) -> Score:
    try:
        return Score(float(fn(*args)))
    except mm.NotComputable as e:
        return Score(None, str(e))


def load_learned() -> tuple[object | None, str, object | None, str]:
    """(sync model, why it is missing, CAPP model, why it is missing): absent models give n/a."""
    from vasa.evaluation.capp import load_capp
    from vasa.evaluation.syncnet import load_sync_model

    out: list = []
    for name, loader in (("sync model", load_sync_model), ("CAPP model", load_capp)):
        try:
            out += [loader(), ""]
        except (FileNotFoundError, ValueError) as e:  # missing, or made for other features
            out += [None, f"{name} unavailable: {e}"]
    return tuple(out)  # type: ignore[return-value]


def _learned_scores(learned: tuple, pose: np.ndarray, dyn: np.ndarray, feats: np.ndarray,
                    found: np.ndarray) -> dict[str, Score]:
    sync, sync_why, capp, capp_why = learned
    s = {k: Score(None, sync_why) for k in ("s_c", "s_d", "offset")}
    s["capp"] = Score(None, capp_why)
    if sync is not None:
        from vasa.evaluation.syncnet import sync_scores

        r = sync_scores(sync, dyn, feats, found=found)
        s |= {k: Score(float(getattr(r, k))) if r.computable else Score(None, r.reason)
              for k in ("s_c", "s_d", "offset")}
    if capp is not None:
        from vasa.evaluation.capp import capp_score

        c = capp_score(capp, pose, feats)
        s["capp"] = Score(c.score) if c.computable else Score(None, c.reason)
    return s


def identity_shapes(video: Path, frames: int, count: int, basis: FaceBasis) -> np.ndarray:
    """Canonical shapes (N <= count, 478, 3) of `count` frames spread over the first `frames`."""
    from vasa.io import read_frames
    from vasa.latent.face_model import encode_landmarks
    from vasa.tracking import FaceLandmarker

    want = set(np.linspace(0, frames - 1, count).round().astype(int).tolist())
    shapes = []
    with FaceLandmarker() as tracker:
        for i, frame in zip(range(frames), read_frames(video, fps=FPS)):
            if i in want and (faces := tracker.detect(frame)):
                shapes.append(encode_landmarks(faces[0].landmarks, basis, max(frame.shape[:2]))[2])
    return np.asarray(shapes).reshape(-1, 478, 3)


def evaluate_video(method: str, item: VideoItem, learned: tuple, basis: FaceBasis,
                   max_seconds: float | None = None) -> Result:
    """All per-video metrics of one video (METRICS but FD_motion, which is per method)."""
    from vasa.tracking.video import track_video

    res = Result(method, str(item.video))
    clock = [time.perf_counter()]

    def lap(stage: str) -> None:
        clock.append(time.perf_counter())
        res.seconds[stage] = clock[-1] - clock[-2]

    try:
        tracked = track_video(item.video, fps=FPS, basis=basis)
    except MediaError:
        raise
    except ValueError as e:  # no face in any frame: every metric is n/a, every frame lost
        res.scores = {k: Score(None, str(e)) for k, _, _ in METRICS}
        res.frames = res.lost_frames = getattr(e, "frames", 0)
        return res
    lap("track")
    feats = get_extractor("logmel+prosody")(load_audio(item.audio, 16000))  # (T', 85)
    lap("audio")
    t = min(len(tracked.found), len(feats))
    t = t if max_seconds is None else min(t, round(max_seconds * FPS))
    if abs(len(tracked.found) - len(feats)) > 2 and max_seconds is None:
        log.warning("%s: %d video frames but %d audio frames; scoring the first %d",
                    item.video, len(tracked.found), len(feats), t)
    pose, dyn = tracked.motion.pose[:t], tracked.motion.dynamics[:t]
    found, feats = tracked.found[:t], feats[:t]
    res.frames, res.lost_frames, res.tracked_frames = t, int((~found).sum()), len(tracked.found)
    s = res.scores = _learned_scores(learned, pose, dyn, feats, found)
    lap("learned")
    s["delta_p"] = _score(mm.delta_p, pose, found)
    s["blinks"] = _score(mm.blink_rate, dyn, found)
    s["gaze_shifts"] = _score(mm.gaze_shift_rate, dyn, pose, found)
    s["jitter"] = _score(mm.jitter, pose, dyn, basis, found)
    s["silent_mouth"] = _score(mm.silence_mouth_motion, dyn, feats[:, LOG_ENERGY], basis, found)
    res.windows = mm.motion_windows(mm.motion_features(pose, dyn), found)
    res.pose_steps = mm.pose_steps(pose, found) if s["delta_p"].value is not None else None
    lap("motion")
    shapes = identity_shapes(item.video, t, IDENTITY_FRAMES, basis)  # (N, 478, 3)
    s |= _mouth_scores(tracked.motion, found, feats[:, LOG_ENERGY], shapes, basis, t)
    lap("mouth")
    s["identity"] = Score(None, "no portrait given for this video")
    if item.portrait is not None:
        from vasa.evaluation.baselines import portrait_from

        ref = portrait_from(item.portrait, basis).identity(basis)
        s["identity"] = _score(mm.identity_similarity, ref, shapes, basis)
        lap("identity")
    return res


def _mouth_scores(motion: MotionLatents, found: np.ndarray, log_energy: np.ndarray, shapes: np.ndarray,
                  basis: FaceBasis, t: int) -> dict[str, Score]:
    """The model-free mouth and blink columns (`mouth_metrics.measure` over the first t
    frames); the lip residual from the sampled frames' shapes (0 if none had a face)."""
    residual = _score(mo.opening_residual, shapes, basis).value or 0.0
    v = mo.measure(MotionLatents(motion.pose[:t], motion.dynamics[:t]), found, log_energy,
                   basis, residual)
    why = {"envelope_corr": "too short for an envelope correlation", "blink_ms": "no blink"}
    return {k: Score(val, why.get(k, "") if val is None else "") for k, val in (
        ("mouth_open", v.opening_mean), ("mouth_std", v.opening_std),
        ("envelope_corr", v.envelope_corr), ("crossed_lips", v.crossed_share),
        ("blink_ms", v.blink_ms))}


def _method_row(method: str, results: list[Result], fd: Score) -> Result:
    """Mean of each per-video metric over the videos where it was computed, and `fd`."""
    row = Result(method, videos=len(results), frames=sum(r.frames for r in results),
                 lost_frames=sum(r.lost_frames for r in results), scores={"fd_motion": fd})
    for key in (k for k, _, _ in METRICS if k != "fd_motion"):
        vals = [r.scores[key].value for r in results if r.scores[key].value is not None]
        why = "; ".join(sorted({r.scores[key].reason for r in results
                                if r.scores[key].value is None}))
        part = why and f"{len(results) - len(vals)} of {len(results)} videos n/a: {why}"
        row.scores[key] = (Score(float(np.mean(vals)), part, len(vals)) if vals
                           else Score(None, why or "no videos", 0))
    return row


def _windows(results: list[Result]) -> np.ndarray:
    w = [r.windows for r in results if r.windows is not None and len(r.windows)]
    return np.concatenate(w) if w else np.zeros((0, 25, 1), np.float32)


def save_plots(table: EvalTable, out_dir: Path) -> Path:
    """metrics.png: a bar chart per metric with a bar per method (n/a marked), and the
    distribution of the per-frame head-angle change (Delta P's terms) per method."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    names = [r.method for r in table.rows]
    x = np.arange(len(names))
    rows = -(-(len(METRICS) + 1) // 4)  # a panel per metric, and the Delta P distribution
    fig, axes = plt.subplots(rows, 4, figsize=(16, 3.3 * rows), layout="constrained")
    for ax, (key, header, how) in zip(axes.flat, METRICS, strict=False):
        vals = [r.scores[key].value for r in table.rows]
        ax.bar(x, [0.0 if v is None else v for v in vals], color="C0")
        for i, v in enumerate(vals):
            ax.text(i, 0, "n/a" if v is None else f"{v:.3g}", ha="center", va="bottom")
        ax.set_xticks(x, names, rotation=20, fontsize=8)
        ax.set_title(f"{header} ({how})")
    ax = axes.flat[-1]
    for name in names:
        steps = [v.pose_steps for v in table.videos if v.method == name and v.pose_steps is not None]
        if steps:
            ax.hist(np.concatenate(steps), bins=np.linspace(0, 2, 41), histtype="step",
                    density=True, label=name)
    ax.set(xlabel="|head-angle change| (deg/frame)", yscale="log", title="Delta P distribution")
    ax.legend(fontsize=8)
    with atomic_output(out_dir / "metrics.png") as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return out_dir / "metrics.png"


def evaluate_videos(videos: dict[str, list[VideoItem | tuple]],
                    reference: list[VideoItem | tuple] | None, out_dir: str | Path,
                    max_seconds: float | None = None, reference_name: str = REFERENCE,
                    basis: FaceBasis | None = None) -> EvalTable:
    """Score each method's videos and the reference (real) videos; write table.md, table.json
    and metrics.png into `out_dir` (atomically). Items: VideoItem or (video, audio[,
    portrait]) tuples. max_seconds: score only the start of every video. Without reference
    videos every per-video metric is still scored, and FD_motion (which needs them) is n/a."""
    if reference_name in videos or not (videos or reference):
        raise ValueError(f"need videos to score, and a method name other than the reference's "
                         f"({reference_name!r}); got {', '.join(videos) or 'none'}")
    basis = basis or default_basis()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    learned = load_learned()
    groups = {m: [x if isinstance(x, VideoItem) else VideoItem(*map(Path, x)) for x in v]
              for m, v in {**videos, reference_name: reference or []}.items() if v}
    results: dict[str, list[Result]] = {}
    for method, items in groups.items():
        for item in items:
            log.info("%s: %s", method, item.video)
            results.setdefault(method, []).append(
                evaluate_video(method, item, learned, basis, max_seconds))
    ref = _windows(results[reference_name]) if reference else None
    rows = []
    for m, res in results.items():
        if m == reference_name:
            fd = Score(None, "the reference set itself", 0)
        elif ref is None:
            fd = Score(None, "no reference (real) videos given", 0)
        else:
            fd = _score(mm.frechet_motion_distance, ref, _windows(res))
        fd.count = len(res)  # one distance over the windows of all the method's videos
        rows.append(_method_row(m, res, fd))
    flat = [r for res in results.values() for r in res]
    minutes = sum(r.tracked_frames for r in flat) / FPS / 60
    secs = sum(sum(r.seconds.values()) for r in flat)
    table = EvalTable(rows, flat, secs / minutes if minutes else 0.0)
    with atomic_output(out_dir / "table.md") as tmp:
        Path(tmp).write_text(table.to_markdown())
    with atomic_output(out_dir / "table.json") as tmp:
        Path(tmp).write_text(json.dumps(table.to_dict(), indent=1, allow_nan=False))
    save_plots(table, out_dir)
    print(f"evaluated {minutes:.2f} min of video in {secs:.0f} s: "
          f"{table.seconds_per_minute:.1f} s per minute of video")
    return table
