"""`vasa data stats` on a tiny synthetic dataset whose numbers are known."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from vasa.cli import main
from vasa.data.emotion import EMOTIONS
from vasa.data.format import (
    ClipReport,
    Dataset,
    DatasetMeta,
    SegmentRecord,
    column_layout,
    write_array,
    write_json,
)
from vasa.data.stats import compute_stats, write_stats

FPS, DYN = 25.0, 8
PLOTS = ("pose_angles", "pose_velocity", "blink_rate", "gaze", "head_distance", "emotion",
         "dropped")


def _motion(frames: int, yaw_step_deg: float, blinks: int, gaze_deg: tuple[float, float]
            ) -> np.ndarray:
    """(T, C): yaw swinging +-15 degrees at a constant rate, `blinks` 4-frame blinks, constant
    gaze (theta, phi) degrees."""
    cols = column_layout(DYN)
    m = np.zeros((frames, cols["confidence"][1]), np.float32)
    phase = (yaw_step_deg * np.arange(frames)) % 60.0
    m[:, cols["pose"][0] + 1] = np.radians(15.0 - np.abs(phase - 30.0))  # triangle wave
    m[:, cols["pose"][0] + 5] = 0.2
    eyes = np.full(frames, 0.3)
    for start in np.linspace(20, frames - 20, blinks).astype(int):
        eyes[start:start + 4] = 0.02
    m[:, slice(*cols["eye_open"])] = eyes[:, None]
    wander = 2.0 * np.sin(np.arange(frames)[:, None] / [7.0, 11.0])  # (T, 2) degrees
    m[:, slice(*cols["gaze"])] = np.radians(np.asarray(gaze_deg) + wander)
    return m


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    DatasetMeta(FPS, "basis@test", DYN, "logmel@test", 4, column_layout(DYN)).save(root)
    emo = [0.5, 0, 0, 0.1, 0, 0, 0]
    segs = [  # 60 s + 30 s from speaker a (train), 30 s without audio from speaker b (val)
        SegmentRecord("clip_a", 0, "a.mp4", "a", 0, 1500, True, (0.1, 0.0), 0.2, emo, "train", 1.0),
        SegmentRecord("clip_a", 1, "a.mp4", "a", 1600, 750, True, (0.1, 0.0), 0.2, emo, "train",
                      1.0),
        SegmentRecord("clip_b", 0, "b.mp4", "b", 0, 750, False, (-0.2, 0.1), 0.1, [0.0] * 7,
                      "val", 2.0),
    ]
    # segment -> (yaw degrees per frame, blinks)
    motion = {("clip_a", 0): (0.3, 20), ("clip_a", 1): (0.6, 10), ("clip_b", 0): (0.0, 5)}
    for s in segs:
        (root / "clips" / s.clip_id).mkdir(parents=True, exist_ok=True)
        step, blinks = motion[s.clip_id, s.k]
        write_array(root / "clips" / s.clip_id / f"{s.k}.motion.npy",
                    _motion(s.frames, step, blinks, np.degrees(s.gaze)))
        if s.has_audio:
            write_array(root / "clips" / s.clip_id / f"{s.k}.audio.npy", np.zeros((s.frames, 4)))
    reports = [
        ClipReport("clip_a", "a.mp4", "a.mp4", "a", "kept", 2400, 2250,
                   {"no face": 100, "segment shorter than 1 s": 50}, ["trimmed audio"], segs[:2],
                   True),
        ClipReport("clip_b", "b.mp4", "", "b", "kept", 800, 750, {"face too small": 50}, [],
                   segs[2:], False),
        ClipReport("clip_c", "c.mp4", "c.mp4", "c", "dropped", 300, 0,
                   {"several faces of similar size (speaker ambiguous)": 300}),
        ClipReport("clip_d", "d.mp4", "", "d", "dropped", 0, 0,
                   {"error: no video frames": 0}),
    ]
    write_json(root / "index.json", {"segments": [asdict(s) for s in segs],
                                     "reports": [asdict(r) for r in reports]})
    return root


def test_counts(dataset):
    st = compute_stats(Dataset(dataset))
    assert st.minutes_kept == pytest.approx(2.0) and st.hours_kept == pytest.approx(2 / 60)
    assert (st.clips_total, st.clips_kept, st.clips_dropped) == (4, 2, 2)
    assert (st.speakers, st.segments, st.audioless_segments) == (2, 3, 1)
    assert st.frames_kept == 3000 and st.frames_dropped == 500
    assert st.dropped_frames == {"several faces of similar size (speaker ambiguous)": 300,
                                 "no face": 100, "segment shorter than 1 s": 50,
                                 "face too small": 50, "error": 0}
    assert st.dropped_clips == {"several faces of similar size (speaker ambiguous)": 1,
                                "error": 1}
    assert st.clips_with_warnings == 1
    assert st.splits["train"].segments == 2 and st.splits["train"].minutes == pytest.approx(1.5)
    assert (st.splits["val"].segments, st.splits["val"].speakers) == (1, 1)


def test_distributions(dataset):
    st = compute_stats(Dataset(dataset))
    # Delta P averages |change| over pitch, yaw and roll: a yaw step s gives s / 3 per frame.
    assert np.allclose(st.pose_velocity, [0.1, 0.2, 0.0], atol=1e-3)
    assert np.allclose(st.blink_rate, [20.0, 20.0, 10.0])  # blinks per minute
    assert st.pose_deg.shape == (3000, 3) and np.abs(st.pose_deg[:, 1]).max() <= 15.0001
    assert np.allclose(st.gaze_deg[:1500].mean(0), np.degrees([0.1, 0.0]), atol=0.1)
    assert np.abs(st.gaze_deg[2250:] - np.degrees([-0.2, 0.1])).max() <= 2.0 + 1e-4
    assert np.allclose(st.distance, [1, 1, 2])
    assert np.allclose(st.main_gaze_deg[2], np.degrees([-0.2, 0.1]))
    assert np.allclose(st.emotion.mean(0)[[0, 3]], [1 / 3, 0.2 / 3])
    small = compute_stats(Dataset(dataset), max_frames=1000)  # every 3rd frame
    assert len(small.pose_deg) == 1000 and np.allclose(small.pose_velocity, st.pose_velocity)


def test_write_stats(dataset, tmp_path):
    st = compute_stats(Dataset(dataset))
    paths = write_stats(st, tmp_path / "stats")
    names = {p.name for p in paths}
    assert names == {"summary.md", "summary.json", *(f"{n}.png" for n in PLOTS)}
    for p in paths:
        assert p.is_file() and p.stat().st_size > 0
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "stats").glob(".*"))  # no temporary files left behind
    summary = json.loads((tmp_path / "stats" / "summary.json").read_text())
    assert summary["frames_kept"] == 3000 and summary["splits"]["val"]["segments"] == 1
    blinks = summary["distributions"]["blink_rate_per_min"]
    assert blinks["n"] == 3 and blinks["mean"] == pytest.approx(50 / 3)
    assert summary["distributions"][f"emotion_{EMOTIONS[0]}"]["p50"] == pytest.approx(0.5)
    md = (tmp_path / "stats" / "summary.md").read_text()
    assert "0.03 h (2.0 min, 3000 frames at 25 fps)" in md and "| no face | 100 | 0 |" in md


def test_cli(dataset, tmp_path, capsys):
    assert main(["data", "stats", str(dataset), "-o", str(tmp_path / "s")]) == 0
    assert "summary.md" in capsys.readouterr().out
    assert (tmp_path / "s" / "gaze.png").is_file()
