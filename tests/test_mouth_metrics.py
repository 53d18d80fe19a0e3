"""Model-free mouth and blink measures: known answers on synthetic signals, and the bundled real
clip's mouth measured against its own audio."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import ASSETS

from vasa.evaluation import mouth_metrics as mo
from vasa.evaluation.motion_metrics import NotComputable
from vasa.latent.face_model import encode_canonical, lip_gap, move_lip_gap

FPS = 25
CLIP = ASSETS / "obama_address_8s.mp4"


def syllables(t: int, seed: int = 0) -> np.ndarray:
    """A speech-like loudness envelope (T,) in log10 RMS: random syllables at ~4 per second."""
    rng = np.random.default_rng(seed)
    x = np.convolve(rng.standard_normal(t + 8), np.hanning(7), mode="valid")[:t]
    return -2.0 + 0.3 * x


def test_opening_is_the_template_gap_moved_along_the_lips(basis):
    change = np.linspace(-0.05, 0.1, 7)
    dyn = move_lip_gap(np.zeros((7, basis.layout.dim)), change, basis)
    assert mo.mouth_opening(dyn, basis) == pytest.approx(lip_gap(basis.template) + change,
                                                         abs=1e-5)
    assert mo.mouth_opening(dyn, basis, residual=0.01)[0] == pytest.approx(
        lip_gap(basis.template) - 0.04, abs=1e-5)


def test_the_residual_restores_a_lip_shape_the_coefficients_cannot_express(basis):
    """Frames of one face whose own lips sit 0.03 lower than the template's: the residual
    measured on a few frames gives every frame's true gap back."""
    base = basis.template.astype(np.float64).copy()
    base[14, 1] += 0.03
    dyn0 = encode_canonical(base, basis)
    shapes = []
    for change in (0.0, 0.02, 0.05, 0.08):
        d = move_lip_gap(dyn0, change, basis)
        delta = ((d - dyn0)[basis.layout.pca] * basis.std) @ basis.components
        shape = base.copy()
        shape[basis.points] += delta.reshape(-1, 3)
        shapes.append(shape)
    r = mo.opening_residual(np.stack(shapes[:2]), basis)
    dyn = np.stack([encode_canonical(s, basis) for s in shapes])
    assert mo.mouth_opening(dyn, basis, r) == pytest.approx([lip_gap(s) for s in shapes],
                                                            abs=1e-4)
    assert abs(r) > 0.005  # without it the gaps would be off
    with pytest.raises(NotComputable, match="no frame"):
        mo.opening_residual(np.zeros((0, 478, 3)), basis)


def test_mouth_width_is_the_lip_corners_distance(basis):
    """The rounding measure's width: the decoded face's outer lip corners, pose-free; the
    lip-rounding direction of the coefficients narrows it."""
    from vasa.evaluation.mouth_metrics import LIP_CORNERS, mouth_width
    from vasa.latent.face_model import decode_canonical

    rng = np.random.default_rng(0)
    dyn = np.zeros((4, basis.layout.dim), np.float32)
    dyn[:, basis.layout.pca] = rng.normal(0, 1, (4, basis.num_pca))
    rest = np.zeros(basis.layout.dim, np.float32)
    want = [np.linalg.norm(np.subtract(*decode_canonical(basis.template, rest, d, basis)
                                       [list(LIP_CORNERS), :2])) for d in dyn]
    assert np.allclose(mouth_width(dyn, basis), want, atol=1e-6)
    assert 0.5 < mouth_width(rest[None], basis)[0] < 0.8  # a mouth is about 0.6 IOD wide


def test_opening_stats_skip_lost_frames():
    opening = np.array([0.1, 0.0, 0.1, 0.0, 5.0])
    found = np.array([True, True, True, True, False])
    assert mo.opening_stats(opening, found) == pytest.approx((0.05, 0.05))
    with pytest.raises(NotComputable, match="lost in all"):
        mo.opening_stats(opening, np.zeros(5, bool))


def test_envelope_correlation_finds_the_lag_and_its_sign():
    env = syllables(300)
    # The mouth opens 2 frames before the sound: opening[t] follows envelope[t + 2].
    opening = 0.05 + 0.02 * (np.roll(env, -2) - env.mean())
    corr, lag = mo.envelope_correlation(opening, env)
    assert lag == 2 and corr > 0.95
    corr, lag = mo.envelope_correlation(np.roll(opening, 4), env)  # mouth 2 frames late
    assert lag == -2 and corr > 0.95
    assert mo.envelope_correlation(np.full(300, 0.03), env) == (0.0, None)  # a still mouth
    unrelated = 0.05 + 0.02 * syllables(300, seed=1)
    assert mo.envelope_correlation(unrelated, env)[0] < 0.3
    with pytest.raises(NotComputable, match="too short"):
        mo.envelope_correlation(opening[:10], env[:10])


def test_crossed_lips_share():
    opening = np.array([0.05, -0.01, 0.0, -0.02, 0.04, -0.003])  # -0.003: tracker noise
    assert mo.crossed_lip_share(opening) == pytest.approx(2 / 6)
    assert mo.crossed_lip_share(opening, np.array([1, 0, 1, 1, 1, 1], bool)) == pytest.approx(0.2)


def test_opening_in_silence_and_in_speech():
    env = np.full(100, -1.5)
    env[40:60] = -5.0  # 0.8 s of digital silence
    env[80:82] = -5.0  # a 2-frame gap between syllables is speech, not a pause
    opening = np.where(env < -4, 0.0, 0.08)
    assert mo.opening_in_silence(opening, env) == pytest.approx((0.0, 0.08 * 78 / 80))
    silence, speech = mo.opening_in_silence(np.full(100, 0.05), np.full(100, -1.5))
    assert silence is None and speech == pytest.approx(0.05)


def test_blink_rate_duration_and_closure():
    eyes = np.full((60 * FPS, 2), 0.3)
    for start in range(40, len(eyes) - 10, 3 * FPS):  # every 3 s, 5 frames (200 ms) shut
        eyes[start:start + 5] = 0.03
    assert len(mo.blink_spans(eyes)) == 20
    assert mo.blink_durations_ms(eyes) == pytest.approx(np.full(20, 200.0))
    assert mo.blink_closure(eyes) == pytest.approx(np.full(20, 0.9))
    assert len(mo.blink_durations_ms(np.full((100, 2), 0.3))) == 0


def test_lid_reopening_tells_a_snap_from_a_blink():
    """A lid shut for one frame between open ones reopens by the whole open level at once; a
    blink that reopens over 4 frames, by a quarter of it. One-frame dips count, where the
    blink count leaves them out."""
    eyes = np.full((200, 2), 0.3)
    eyes[50] = 0.03  # a twitch: one shut frame
    eyes[120:125] = np.array([0.15, 0.03, 0.03, 0.03, 0.03])[:, None]  # a blink ...
    eyes[125:129] = 0.3 * np.array([0.25, 0.5, 0.75, 1.0])[:, None]  # ... reopening in 4 frames
    steps = mo.lid_reopen_steps(eyes)
    assert steps == pytest.approx([0.9, 0.25])
    assert len(mo.blink_spans(eyes)) == 1
    assert len(mo.lid_reopen_steps(np.full((100, 2), 0.3))) == 0


def test_half_shut_lids_count_a_flicker_not_open_or_shut_eyes():
    """Open eyes and a crisp blink (shut, then open) hold no half-shut frame but the blink's
    own reopening; lids dipping to half open for a frame every second do, and frames the
    tracker lost are left out."""
    eyes = np.full((250, 2), 0.3)
    eyes[100:103] = np.array([0.03, 0.03, 0.15])[:, None]  # a blink, reopening through 0.15
    assert mo.half_shut_share(eyes) == pytest.approx(1 / 250)
    flicker = eyes.copy()
    flicker[10:250:25] = 0.15  # half open for one frame a second
    assert mo.half_shut_share(flicker) == pytest.approx(11 / 250)
    found = np.ones(250, bool)
    found[10:250:25] = False
    assert mo.half_shut_share(flicker, found) == pytest.approx(1 / 240)


def test_measure_collects_every_measure(basis):
    t = 100
    env = syllables(t)
    dyn = move_lip_gap(np.zeros((t, basis.layout.dim)), 0.03 * (env - env.mean()), basis)
    dyn[:, basis.layout.eyes] = 0.3
    from vasa.latent.motion import MotionLatents

    m = mo.measure(MotionLatents(np.zeros((t, 6)), dyn), np.ones(t, bool), env, basis)
    assert m.frames == t and m.lost == 0 and m.crossed_share == 0.0
    assert m.envelope_lag == 0 and m.envelope_corr > 0.95
    assert m.blinks_per_min == 0.0 and m.blink_ms is None and m.delta_p == 0.0
    assert m.lid_reopen is None and m.half_shut == 0.0
    assert set(m.to_dict()) >= {"opening_mean", "opening_std", "opening_silence"}


@pytest.fixture(scope="module")
def real(basis):
    """The bundled 8 s address: tracked motion, its loudness envelope, its lip residual."""
    from vasa.evaluation.evaluate import identity_shapes
    from vasa.io import load_audio
    from vasa.tracking.video import track_video

    tracked = track_video(CLIP, fps=FPS, basis=basis)
    env = mo.loudness_envelope(load_audio(CLIP, 16000))
    residual = mo.opening_residual(identity_shapes(CLIP, len(tracked.found), 4, basis), basis)
    return tracked, env, residual


def test_a_real_mouth_follows_its_own_voice(real, basis):
    tracked, env, residual = real
    m = mo.measure(tracked.motion, tracked.found, env, basis, residual)
    assert m.frames == 200 and abs(residual) < 0.01
    assert 0.05 < m.opening_mean < 0.15 and m.opening_std > 0.02  # a speaking mouth
    assert m.crossed_share < 0.01  # real lips never cross
    # This file's video runs ~5-6 frames ahead of its audio (the sync metric and the
    # model-free lag agree on it: benchmarks/results/sync_validation.md): its voice-after-mouth
    # lag, +6, lies just past the +-5 searched, which reports the edge.
    assert m.envelope_corr > 0.25 and m.envelope_lag == 5
    # The same audio 3 frames earlier is found 3 frames nearer: +3.
    corr, lag = mo.envelope_correlation(mo.mouth_opening(tracked.motion.dynamics, basis),
                                        np.roll(env, -3))
    assert lag == 3 and corr > 0.3
    assert m.blinks_per_min and 80 <= m.blink_ms <= 400 and m.blink_closure > 0.5
    # Against speech it did not say, the same mouth correlates far less.
    other = np.roll(env, 97)
    assert mo.envelope_correlation(mo.mouth_opening(tracked.motion.dynamics, basis),
                                   other)[0] < m.envelope_corr - 0.1


def test_loudness_envelope_is_one_value_per_video_frame():
    audio = np.zeros(16000 * 2, np.float32)
    audio[8000:16000] = 0.1 * np.sin(np.arange(8000) * 2 * np.pi * 200 / 16000)
    env = mo.loudness_envelope(audio)
    assert len(env) == 2 * FPS
    assert env[18] == pytest.approx(np.log10(0.1 / np.sqrt(2)), abs=0.05) and env[5] < -4 and env[40] < -4
    with pytest.raises(ValueError, match="16000 Hz"):
        mo.loudness_envelope(audio, 44100)


def test_vasa_eval_scores_one_video_without_a_reference(tmp_path, capsys):
    """`vasa eval --method NAME=VIDEO`: every per-video column, the mouth measures included;
    FD_motion, which needs real videos to compare with, is n/a and says why."""
    from vasa.cli import main

    assert main(["eval", "--method", f"clip={CLIP}", "--out", str(tmp_path), "--max-seconds",
                 "4"]) == 0
    data = json.loads((tmp_path / "table.json").read_text())
    (row,) = data["rows"]
    scores = {k: v["value"] for k, v in row["scores"].items()}
    assert row["method"] == "clip" and row["frames"] == 100
    assert 0.05 < scores["mouth_open"] < 0.15 and scores["mouth_std"] > 0.02
    assert scores["crossed_lips"] < 0.01 and scores["envelope_corr"] > 0.2
    assert scores["delta_p"] > 0 and scores["s_c"] is not None
    assert scores["fd_motion"] is None
    assert "no reference" in row["scores"]["fd_motion"]["reason"]
    assert "| clip | 1 |" in capsys.readouterr().out
    assert main(["eval", "--out", str(tmp_path / "none")]) == 2  # nothing to score
    assert "nothing to score" in capsys.readouterr().err
