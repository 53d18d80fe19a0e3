"""Motion metrics on signals with known answers; baselines and `evaluate_videos` on a 2 s clip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import ASSETS, open_direction

from vasa.evaluation import motion_metrics as mm

FPS = 25
CLIP = ASSETS / "obama_address_8s.mp4"


def still(t: int, d: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """A still, frontal head: pose (T, 6), dynamics (T, D) with open eyes looking ahead."""
    pose = np.zeros((t, 6))
    pose[:, 5] = 0.1  # face scale: a tenth of the frame
    dyn = np.zeros((t, d))
    dyn[:, -4:-2] = 0.3  # eyes open
    dyn[:, -1] = -0.07  # conditions.REST_GAZE_Y: looking into the camera
    return pose, dyn


def test_delta_p_ramp_of_one_degree_per_frame():
    pose, _ = still(50)
    pose[:, :3] = np.radians(np.arange(50))[:, None]
    assert mm.delta_p(pose) == pytest.approx(1.0)
    # A pair with a lost frame is skipped, and angles wrap (179 -> -179 degrees is 2 degrees).
    pose[10, :3] = 5.0
    found = np.ones(50, bool)
    found[10] = False
    assert mm.delta_p(pose, found) == pytest.approx(1.0)
    wrap = np.zeros((2, 6))
    wrap[:, 0] = np.radians([179.0, -179.0])
    assert mm.delta_p(wrap) == pytest.approx(2.0 / 3.0)


def test_not_computable_is_marked_with_a_reason():
    pose, dyn = still(40)
    with pytest.raises(mm.NotComputable, match="lost in all frames"):
        mm.delta_p(pose, np.zeros(40, bool))
    with pytest.raises(mm.NotComputable, match="1.6 s"):
        mm.blink_rate(dyn)  # 40 frames: too short for a rate
    loud = np.full(40, -1.0)
    with pytest.raises(mm.NotComputable, match="no silence"):
        mm.silence_mouth_motion(dyn, loud, _basis())
    windows = np.zeros((10, 25, 4))
    with pytest.raises(mm.NotComputable, match="windows"):
        mm.frechet_motion_distance(windows, windows)


def _basis():
    from vasa.latent.basis import default_basis

    return default_basis()


def test_blink_rate_counts_synthetic_blinks():
    _, dyn = still(20 * FPS)
    for start in (100, 250, 400):  # three blinks of 4 frames (0.16 s) in 20 s
        dyn[start:start + 4, -4:-2] = 0.02
    dyn[300, -4:-2] = 0.02  # a 1-frame dip is tracker noise, not a blink
    assert mm.blink_rate(dyn) == pytest.approx(3 / (20 / 60))


def test_gaze_shift_rate_counts_jumps_not_noise():
    rng = np.random.default_rng(0)
    pose, dyn = still(20 * FPS)
    dyn[:, -2] += rng.normal(0, 0.005, len(dyn))  # ~0.7 degrees of iris jitter
    assert mm.gaze_shift_rate(dyn, pose) == 0.0
    dyn[200:, -2] += 0.15  # look 21 degrees aside ...
    dyn[350:, -2] -= 0.15  # ... and back: two shifts in 20 s
    assert mm.gaze_shift_rate(dyn, pose) == pytest.approx(2 / (20 / 60))
    dyn[200:205, -4:-2] = 0.0  # eyes shut around the first jump: not counted
    assert mm.gaze_shift_rate(dyn, pose) == pytest.approx(1 / (20 / 60))


def test_jitter_is_larger_for_a_noisy_sequence():
    basis = _basis()
    rng = np.random.default_rng(1)
    pose, dyn = still(100)
    smooth = dyn.copy()
    smooth[:, :24] = np.sin(np.linspace(0, 3, 100))[:, None]  # a slow, smooth expression
    noisy = smooth.copy()
    noisy[:, :24] += rng.normal(0, 0.3, (100, 24))
    assert mm.jitter(pose, noisy, basis) > 10 * mm.jitter(pose, smooth, basis)
    shaky = pose.copy()
    shaky[:, 3:5] += rng.normal(0, 0.01, (100, 2))  # the head origin shakes too
    assert mm.jitter(shaky, smooth, basis) > mm.jitter(pose, smooth, basis)


def test_silence_mouth_motion_sees_lips_moving_in_pauses():
    basis = _basis()
    energy = np.full(100, -1.0)
    energy[40:70] = -4.0  # 1.2 s pause
    _, dyn = still(100)
    talk = open_direction(basis)
    moving = dyn.copy()
    moving[:, :24] = np.sin(np.arange(100) * 1.3)[:, None] * talk
    closed = moving.copy()
    closed[40:70, :24] = 0.0  # lips still during the pause
    assert mm.silence_mouth_motion(closed, energy, basis) == pytest.approx(0.0, abs=1e-9)
    assert mm.silence_mouth_motion(moving, energy, basis) > 1.0
    assert mm.silent_frames(energy).sum() == 30


def test_frechet_distance_zero_for_identical_sets_and_grows_with_a_shift():
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(2000, 6)).cumsum(0) * 0.1
    real = mm.motion_windows(feats, size=25, stride=5)
    assert real.shape == (396, 25, 6)
    assert mm.frechet_motion_distance(real, real) == pytest.approx(0.0, abs=1e-6)
    near = mm.frechet_motion_distance(real, real + 0.1)
    far = mm.frechet_motion_distance(real, real + 1.0)
    assert 0 < near < far
    found = np.ones(2000, bool)
    found[100] = False  # a lost frame removes the 5 windows that contain it
    assert len(mm.motion_windows(feats, found)) == len(real) - 5


def test_motion_features_shape_and_framing_invariance():
    pose, dyn = still(30)
    pose[:, 1] = np.radians(np.arange(30))
    f = mm.motion_features(pose, dyn)
    assert f.shape == (30, 3 + 28 + 6 + 28)
    moved = pose.copy()
    moved[:, 3] += 0.2  # the same motion, cropped differently
    np.testing.assert_allclose(mm.motion_features(moved, dyn), f, atol=1e-5)


def test_identity_similarity_of_a_face_with_itself_and_under_expression(astronaut, basis):
    from vasa.latent.face_model import decode_canonical

    ident = astronaut.identity(basis)
    vec = mm.identity_vector(ident, basis)
    np.testing.assert_allclose(basis.components @ vec, 0, atol=1e-6)  # no dynamics left in it
    smiling = astronaut.dynamics.copy()
    smiling[:24] += 2.0 * open_direction(basis)
    shapes = np.stack([astronaut.canonical,
                       decode_canonical(astronaut.canonical, astronaut.dynamics, smiling, basis)])
    assert mm.identity_similarity(ident, shapes, basis) == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(mm.NotComputable):
        mm.identity_similarity(ident, np.zeros((0, 478, 3)), basis)


def test_energy_baseline_opens_the_mouth_with_loudness(astronaut, basis):
    from vasa.evaluation.baselines import baseline_motion
    from vasa.evaluation.baselines import open_direction as lib_dir

    d = lib_dir(basis)
    np.testing.assert_allclose(d / np.abs(d).max(), open_direction(basis), atol=1e-6)
    t = np.arange(16000 * 2) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 200 * t) * (t > 1.0)).astype(np.float32)  # 1 s quiet
    static = baseline_motion("static", astronaut, audio, basis)
    mouth = baseline_motion("energy_mouth", astronaut, audio, basis)
    assert len(static) == len(mouth) == 50
    np.testing.assert_array_equal(static.dynamics, np.repeat(astronaut.dynamics[None], 50, 0))
    gap = (mouth.dynamics[:, :24] - astronaut.dynamics[:24]) @ d  # lip gap change (IOD)
    assert gap[40:].mean() - gap[:20].mean() == pytest.approx(0.12, abs=0.01)
    np.testing.assert_array_equal(mouth.pose, static.pose)


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory):
    """The bundled clip's first 2 s (frames and audio) as an mp4."""
    from vasa.io import VideoWriter, load_audio, read_frames

    path = tmp_path_factory.mktemp("clip") / "obama2s.mp4"
    audio = load_audio(CLIP, 16000)[:32000]
    with VideoWriter(path, FPS, audio, 16000) as w:
        for _, frame in zip(range(50), read_frames(CLIP, fps=FPS)):
            w.write(frame)
    return path


def test_baseline_video_frames_and_audio(short_clip, astronaut, tmp_path):
    from vasa.evaluation.baselines import render_baseline
    from vasa.io import load_audio, probe_video

    out = render_baseline("energy_mouth", astronaut, short_clip, tmp_path / "b.mp4", seconds=1.5)
    info = probe_video(out)
    assert (info.num_frames, info.width, info.has_audio) == (38, 512, True)  # ceil(1.5 * 25)
    assert abs(len(load_audio(out, 16000)) - 1.52 * 16000) < 1000
    with pytest.raises(ValueError, match="unknown baseline"):
        render_baseline("wobble", astronaut, short_clip, tmp_path / "c.mp4")


def test_evaluate_videos_writes_the_table(short_clip, tmp_path):
    from vasa.evaluation.baselines import render_baseline
    from vasa.evaluation.evaluate import VideoItem, collect_videos, evaluate_videos

    gen = tmp_path / "gen"
    gen.mkdir()
    video = render_baseline("static", short_clip, short_clip, gen / "obama2s.mp4")
    items = collect_videos(gen)
    assert [(i.video, i.audio, i.portrait) for i in items] == [(video, video, None)]
    table = evaluate_videos({"static": items}, [VideoItem(short_clip, short_clip, short_clip)],
                            tmp_path / "eval")
    static, real = table.rows
    assert (static.method, real.method, real.frames, real.lost_frames) == (
        "static", "real video", 50, 0)
    assert static.scores["delta_p"].value < 0.05 < real.scores["delta_p"].value
    assert "windows" in static.scores["fd_motion"].reason  # 2 s: too few windows, n/a
    assert static.scores["identity"].value is None and real.scores["identity"].value > 0.5
    md = (tmp_path / "eval" / "table.md").read_text()
    assert "| static | 1 |" in md and "n/a" in md
    data = json.loads((tmp_path / "eval" / "table.json").read_text())
    assert data["rows"][1]["scores"]["delta_p"]["value"] == pytest.approx(
        real.scores["delta_p"].value)
    assert (tmp_path / "eval" / "metrics.png").stat().st_size > 0
    assert table.seconds_per_minute > 0


def test_collect_videos_needs_audio(short_clip, tmp_path):
    from vasa.evaluation.evaluate import collect_videos
    from vasa.io import VideoWriter, read_frames

    with VideoWriter(tmp_path / "mute.mp4", FPS) as w:
        for _, frame in zip(range(3), read_frames(short_clip)):
            w.write(frame)
    with pytest.raises(ValueError, match="no audio"):
        collect_videos(tmp_path)
    (tmp_path / "mute.wav").touch()  # pairing goes by name; the file is read later
    assert collect_videos(tmp_path)[0].audio == tmp_path / "mute.wav"


def test_collect_videos_from_a_manifest(shared_data):
    from vasa.evaluation.evaluate import collect_videos

    items = collect_videos(shared_data / "MANIFEST.tsv")
    assert items and all(i.audio is not None and i.portrait == i.video for i in items)
    assert len(collect_videos(shared_data / "MANIFEST.tsv", held_out=False)) > len(items)


def test_evaluate_videos_marks_a_faceless_video_not_computable(short_clip, tmp_path):
    """No face in any frame: every metric n/a with the reason, every frame counted as lost,
    and the table (FD over zero windows included) is still written."""
    import soundfile as sf

    from vasa.evaluation.evaluate import VideoItem, collect_videos, evaluate_videos
    from vasa.io import VideoWriter

    gen = tmp_path / "gen"
    gen.mkdir()
    with VideoWriter(gen / "blank.mp4", FPS) as w:
        for _ in range(30):
            w.write(np.full((128, 128, 3), 90, np.uint8))
    sf.write(gen / "blank.wav", 0.1 * np.random.default_rng(0).standard_normal(16000), 16000)
    table = evaluate_videos({"blank": collect_videos(gen)},
                            [VideoItem(short_clip, short_clip, short_clip)], tmp_path / "eval")
    blank = table.rows[0]
    assert (blank.method, blank.frames, blank.lost_frames) == ("blank", 30, 30)
    assert all(s.value is None for s in blank.scores.values())
    assert "no face found" in blank.scores["delta_p"].reason
    assert "0 generated windows" in blank.scores["fd_motion"].reason
    assert "| blank | 1 | n/a |" in (tmp_path / "eval" / "table.md").read_text()
