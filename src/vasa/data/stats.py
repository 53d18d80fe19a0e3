"""`vasa data stats DATASET_DIR`: what a prepared dataset holds, in numbers and plots.

Counts come from index.json (kept segments) and the clip reports (dropped frames and why);
distributions are read from the motion arrays: head pose, pose velocity (VASA-1's Delta P), blink
rate, gaze, and the per-segment conditions (head distance d, emotion offset e).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vasa.data.conditions import blink_rate
from vasa.data.emotion import EMOTIONS
from vasa.data.format import Dataset, write_json
from vasa.io import atomic_output

MAX_FRAMES = 200_000  # per-frame distributions use every k-th frame past this many in all


@dataclass
class SplitSize:
    """One split (train / val): segments, minutes and distinct speakers."""

    segments: int = 0
    minutes: float = 0.0
    speakers: int = 0


@dataclass
class DatasetStats:
    """Summary of a prepared dataset. Per-segment arrays are (N,) or (N, k) over the N kept
    segments; per-frame arrays (F, k) hold every frame, or every k-th past MAX_FRAMES."""

    root: str
    fps: float
    minutes_kept: float
    clips_total: int
    clips_kept: int
    clips_dropped: int
    speakers: int
    segments: int
    frames_kept: int
    frames_dropped: int
    dropped_frames: dict[str, int]  # reason (text before any ':') -> frames, from the reports
    dropped_clips: dict[str, int]  # reason -> dropped clips, by each clip's largest reason
    clips_with_warnings: int
    audioless_segments: int
    splits: dict[str, SplitSize]
    pose_deg: np.ndarray = field(repr=False)  # (F, 3) pitch, yaw, roll in degrees
    gaze_deg: np.ndarray = field(repr=False)  # (F, 2) theta, phi in degrees (+ = right, down)
    pose_velocity: np.ndarray = field(repr=False)  # (N,) Delta P, degrees per frame
    blink_rate: np.ndarray = field(repr=False)  # (N,) blinks per minute
    distance: np.ndarray = field(repr=False)  # (N,) head distance d (1 = dataset median)
    main_gaze_deg: np.ndarray = field(repr=False)  # (N, 2) the segments' main gaze, degrees
    emotion: np.ndarray = field(repr=False)  # (N, 7) emotion offsets, EMOTIONS order

    @property
    def hours_kept(self) -> float:
        return self.minutes_kept / 60.0

    def summary(self) -> dict:
        """JSON-ready: the counts and (mean, std, p5, p50, p95) of each distribution."""
        out = {k: v for k, v in asdict(self).items() if not isinstance(v, np.ndarray)}
        out["hours_kept"] = self.hours_kept
        dist = {f"pose_{n}_deg": self.pose_deg[:, i] for i, n in enumerate(("pitch", "yaw", "roll"))}
        dist |= {"gaze_theta_deg": self.gaze_deg[:, 0], "gaze_phi_deg": self.gaze_deg[:, 1],
                 "pose_velocity_deg_per_frame": self.pose_velocity,
                 "blink_rate_per_min": self.blink_rate, "head_distance": self.distance}
        dist |= {f"emotion_{e}": self.emotion[:, i] for i, e in enumerate(EMOTIONS)}
        out["distributions"] = {k: _describe(v) for k, v in dist.items()}
        return out


def _describe(x: np.ndarray) -> dict[str, float]:
    x = np.asarray(x, np.float64)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return {"n": 0}
    p5, p50, p95 = np.percentile(x, [5, 50, 95])
    return {"n": len(x), "mean": float(x.mean()), "std": float(x.std()),
            "p5": float(p5), "p50": float(p50), "p95": float(p95)}


def _kind(reason: str) -> str:
    """Group reasons that carry details ("error: <message>") under their kind."""
    return reason.split(":", 1)[0].strip()


def compute_stats(ds: Dataset, max_frames: int = MAX_FRAMES) -> DatasetStats:
    """Statistics of a dataset: counts from its index and reports, distributions from its arrays."""
    fps, segs = ds.meta.motion_fps, ds.segments
    dropped_frames: dict[str, int] = {}
    dropped_clips: dict[str, int] = {}
    for r in ds.reports:
        for reason, n in r.dropped.items():
            dropped_frames[_kind(reason)] = dropped_frames.get(_kind(reason), 0) + n
        if r.status != "kept":
            main = _kind(max(r.dropped, key=r.dropped.get)) if r.dropped else "unknown"
            dropped_clips[main] = dropped_clips.get(main, 0) + 1
    splits = {}
    for name in sorted({s.split for s in segs}):
        part = [s for s in segs if s.split == name]
        splits[name or "unassigned"] = SplitSize(len(part), sum(s.frames for s in part) / fps / 60,
                                                 len({s.speaker for s in part}))
    frames_kept = sum(s.frames for s in segs)
    stride = max(1, -(-frames_kept // max_frames))  # ceil: bounds memory on big datasets
    pose, gaze, velocity, blinks = [], [], [], []
    for s in segs:
        m = ds.motion(s)
        angles = np.degrees(np.asarray(ds.column(m, "pose")[:, :3], np.float64))  # (T, 3)
        pose.append(angles[::stride])
        gaze.append(np.degrees(np.asarray(ds.column(m, "gaze")[::stride], np.float64)))
        # VASA-1's Delta P: mean |angle change| between adjacent frames, over the 3 angles.
        velocity.append(np.abs(np.diff(angles, axis=0)).mean() if len(angles) > 1 else np.nan)
        blinks.append(blink_rate(np.asarray(ds.column(m, "eye_open")), fps))
    return DatasetStats(
        root=str(ds.root), fps=fps, minutes_kept=frames_kept / fps / 60,
        clips_total=len(ds.reports), clips_kept=sum(r.status == "kept" for r in ds.reports),
        clips_dropped=sum(r.status != "kept" for r in ds.reports),
        speakers=len({s.speaker for s in segs}), segments=len(segs), frames_kept=frames_kept,
        frames_dropped=sum(dropped_frames.values()),
        dropped_frames=dict(sorted(dropped_frames.items(), key=lambda kv: -kv[1])),
        dropped_clips=dict(sorted(dropped_clips.items(), key=lambda kv: -kv[1])),
        clips_with_warnings=sum(bool(r.warnings) for r in ds.reports),
        audioless_segments=sum(not s.has_audio for s in segs), splits=splits,
        pose_deg=np.concatenate(pose) if pose else np.zeros((0, 3)),
        gaze_deg=np.concatenate(gaze) if gaze else np.zeros((0, 2)),
        pose_velocity=np.array(velocity, np.float64), blink_rate=np.array(blinks, np.float64),
        distance=np.array([s.distance for s in segs], np.float64),
        main_gaze_deg=np.degrees(np.array([s.gaze for s in segs], np.float64).reshape(-1, 2)),
        emotion=np.array([s.emotion for s in segs], np.float64).reshape(-1, len(EMOTIONS)))


def _markdown(st: DatasetStats) -> str:
    s = st.summary()
    kept = (f"{st.hours_kept:.2f} h ({st.minutes_kept:.1f} min, {st.frames_kept} frames at "
            f"{st.fps:g} fps)")
    clips = (f"{st.clips_total} ({st.clips_kept} kept, {st.clips_dropped} dropped, "
             f"{st.clips_with_warnings} with warnings)")
    rows = [("kept", kept), ("clips", clips),
            ("speakers", str(st.speakers)),
            ("segments", f"{st.segments} ({st.audioless_segments} without audio)"),
            ("frames dropped", str(st.frames_dropped))]
    lines = [f"# Dataset statistics: {st.root}", "", "| quantity | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += ["", "| split | segments | minutes | speakers |", "|---|---|---|---|"]
    lines += [f"| {k} | {v.segments} | {v.minutes:.1f} | {v.speakers} |"
              for k, v in st.splits.items()]
    lines += ["", "| dropped because | frames | clips dropped |", "|---|---|---|"]
    reasons = list(st.dropped_frames) + [k for k in st.dropped_clips if k not in st.dropped_frames]
    lines += [f"| {k} | {st.dropped_frames.get(k, 0)} | {st.dropped_clips.get(k, 0)} |"
              for k in reasons]
    lines += ["", "| distribution | n | mean | std | p5 | median | p95 |",
              "|---|---|---|---|---|---|---|"]
    for k, d in s["distributions"].items():
        if d["n"]:
            lines.append(f"| {k} | {d['n']} | {d['mean']:.3f} | {d['std']:.3f} | {d['p5']:.3f} "
                         f"| {d['p50']:.3f} | {d['p95']:.3f} |")
        else:
            lines.append(f"| {k} | 0 | | | | | |")
    return "\n".join(lines) + "\n"


def _atomic_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text)


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)
    return path


def _hist(ax, x: np.ndarray, title: str, xlabel: str, ylabel: str) -> None:
    x = np.asarray(x, np.float64)
    x = x[np.isfinite(x)]
    if len(x):
        ax.hist(x, bins=min(50, max(5, len(x) // 5)), color="tab:blue")
        ax.yaxis.get_major_locator().set_params(integer=True)  # counts
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)


def _plots(st: DatasetStats, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for i, (ax, name) in enumerate(zip(axes, ("pitch (+ = down)", "yaw (+ = to image left)",
                                              "roll"))):
        _hist(ax, st.pose_deg[:, i], f"Head {name}", "angle (degrees)", "frames")
    paths.append(_save(fig, out / "pose_angles.png"))
    for name, x, title, xlabel in (
            ("pose_velocity", st.pose_velocity, "Head pose velocity Delta P per segment",
             "mean |angle change| (degrees / frame)"),
            ("blink_rate", st.blink_rate, "Blink rate per segment", "blinks per minute"),
            ("head_distance", st.distance, "Head distance d per segment",
             "dataset median face scale / segment face scale (1 = typical)")):
        fig, ax = plt.subplots(figsize=(6, 4))
        _hist(ax, x, title, xlabel, "segments")
        paths.append(_save(fig, out / f"{name}.png"))
    fig, ax = plt.subplots(figsize=(6, 5))
    if len(st.gaze_deg):
        both = np.concatenate([st.gaze_deg, st.main_gaze_deg])
        lo, hi = np.floor(both.min(0)) - 1, np.ceil(both.max(0)) + 1
        bins = [np.linspace(a, b, int(min(80, b - a)) + 1) for a, b in zip(lo, hi)]  # ~1 degree
        h = ax.hist2d(st.gaze_deg[:, 0], st.gaze_deg[:, 1], bins=bins, cmap="viridis", cmin=1)
        fig.colorbar(h[3], ax=ax, label="frames")
        ax.scatter(*st.main_gaze_deg.T, s=12, c="tab:red", label="segment main gaze")
        ax.legend(loc="upper right")
    ax.invert_yaxis()  # phi > 0 looks down: draw down as down, as in the image
    ax.set(title="Gaze direction (camera frame)", xlabel="theta (degrees, + = image right)",
           ylabel="phi (degrees, + = down)")
    paths.append(_save(fig, out / "gaze.png"))
    fig, ax = plt.subplots(figsize=(8, 4))
    if len(st.emotion):
        ax.boxplot([st.emotion[:, i] for i in range(len(EMOTIONS))])
        ax.set_xticks(range(1, len(EMOTIONS) + 1), EMOTIONS)
    ax.set(title="Emotion offset e per segment", xlabel="emotion", ylabel="coefficient (0-1)",
           ylim=(-0.02, 1.02))
    paths.append(_save(fig, out / "emotion.png"))
    fig, ax = plt.subplots(figsize=(8, 0.8 + 0.45 * max(1, len(st.dropped_frames))))
    names = list(st.dropped_frames)[::-1]
    bars = ax.barh(names, [st.dropped_frames[k] for k in names], color="tab:orange")
    ax.bar_label(bars, padding=2)
    ax.set(title=f"Frames dropped by reason ({st.frames_dropped} in all)", xlabel="frames",
           ylabel="reason")
    paths.append(_save(fig, out / "dropped.png"))
    return paths


def write_stats(stats: DatasetStats, out_dir: str | os.PathLike) -> list[Path]:
    """Write summary.md, summary.json and the PNG plots into out_dir; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _atomic_text(out / "summary.md", _markdown(stats))
    write_json(out / "summary.json", stats.summary())
    return [out / "summary.md", out / "summary.json", *_plots(stats, out)]
