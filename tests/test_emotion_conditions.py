"""Emotion coefficients from blendshapes, gaze angles, main gaze, blinks and clip conditions."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ASSETS

from vasa.data.conditions import (
    REST_GAZE_Y,
    blink_count,
    blink_rate,
    clip_conditions,
    gaze_angles,
    main_gaze,
    normalise_distance,
)
from vasa.data.emotion import EMOTIONS, emotion_coefficients
from vasa.latent.face_model import place
from vasa.latent.motion import PITCH, SCALE, YAW
from vasa.portrait import read_image

D = 8  # dynamics: 4 PCA + open_right, open_left, gaze_x, gaze_y


@pytest.fixture(scope="module")
def astronaut_face(tracker):
    return tracker.detect(read_image(ASSETS / "astronaut.jpg"))[0]


def test_smiling_astronaut_is_happiest(astronaut_face):
    e = emotion_coefficients(astronaut_face.blendshapes[None], astronaut_face.blendshape_names)
    assert e.shape == (1, len(EMOTIONS)) and e.dtype == np.float32
    assert ((e >= 0) & (e <= 1)).all()
    assert EMOTIONS[int(e[0].argmax())] == "happiness"
    assert e[0, 0] > 2 * np.sort(e[0])[-2]


def test_emotion_is_a_soft_and(astronaut_face):
    names = astronaut_face.blendshape_names
    neutral = np.zeros((1, len(names)), np.float32)
    assert np.allclose(emotion_coefficients(neutral, names), 0)
    one_au, all_aus = neutral.copy(), neutral.copy()
    for bs, keys in ((one_au, ["browInnerUp"]),
                     (all_aus, ["browInnerUp", "browOuterUpLeft", "browOuterUpRight",
                                "eyeWideLeft", "eyeWideRight", "jawOpen"])):
        bs[0, [names.index(k) for k in keys]] = 1.0
    surprise = EMOTIONS.index("surprise")
    assert emotion_coefficients(one_au, names)[0, surprise] < 0.2
    assert emotion_coefficients(all_aus, names)[0, surprise] > 0.95


def test_emotion_needs_blendshapes(astronaut_face):
    with pytest.raises(ValueError, match="no blendshapes"):
        emotion_coefficients(np.zeros((1, 0), np.float32), ())
    names = tuple(n for n in astronaut_face.blendshape_names if n != "mouthSmileLeft")
    with pytest.raises(ValueError, match="mouthSmileLeft"):
        emotion_coefficients(np.zeros((1, len(names)), np.float32), names)


def _frames(gaze_xy=(0.0, REST_GAZE_Y), pitch=0.0, yaw=0.0):
    dyn = np.zeros((1, D), np.float32)
    dyn[0, -2:] = gaze_xy
    pose = np.zeros((1, 6), np.float32)
    pose[0, PITCH], pose[0, YAW], pose[0, SCALE] = pitch, yaw, 0.2
    return dyn, pose


def test_gaze_sign_conventions(basis):
    assert np.allclose(gaze_angles(*_frames()), 0, atol=1e-6)  # resting iris, frontal head
    theta, phi = gaze_angles(*_frames(gaze_xy=(0.1, REST_GAZE_Y)))[0]
    assert theta > 0 and abs(phi) < 1e-6  # iris towards image right: looks right
    assert theta == pytest.approx(np.arcsin(0.1 / 0.42), abs=1e-5)
    assert gaze_angles(*_frames(gaze_xy=(0.0, REST_GAZE_Y + 0.1)))[0, 1] > 0  # iris down
    # Head turns: gaze follows the face, whose direction the renderer's placement defines.
    nose = basis.template[1:2]  # nose tip, in front of the face (z < 0, towards the camera)
    for pitch, yaw in ((0.0, 0.3), (0.0, -0.3), (0.3, 0.0), (-0.3, 0.0)):
        dyn, pose = _frames(pitch=pitch, yaw=yaw)
        moved = place(nose, pose[0], 100.0)[0] - place(nose, np.r_[0, 0, 0, pose[0, 3:]], 100.0)[0]
        theta, phi = gaze_angles(dyn, pose)[0]
        assert np.sign(round(theta, 6)) == np.sign(round(moved[0], 6))
        assert np.sign(round(phi, 6)) == np.sign(round(moved[1], 6))
        assert abs(theta + phi) == pytest.approx(0.3, abs=1e-5)
    # Eyes turned back against the head: looking at the camera again.
    theta, _ = gaze_angles(*_frames(gaze_xy=(0.42 * np.sin(0.3), REST_GAZE_Y), yaw=0.3))[0]
    assert abs(theta) < 1e-4


def test_main_gaze_ignores_outliers():
    rng = np.random.default_rng(0)
    core = np.array([0.1, 0.0]) + rng.normal(0, 0.01, (800, 2))
    spread = rng.uniform(-0.8, 0.8, (200, 2))
    gaze = rng.permutation(np.concatenate([core, spread]))
    g = main_gaze(gaze)
    assert g.shape == (2,)
    assert np.abs(g - [0.1, 0.0]).max() < 0.01
    assert abs(gaze.mean(0)[0] - 0.1) > 0.01  # where the plain mean would be pulled
    with pytest.raises(ValueError):
        main_gaze(np.full((3, 2), np.nan))


def test_blink_count_on_synthetic_signal():
    rng = np.random.default_rng(1)
    fps, t = 25, 25 * 60  # one minute
    level = 0.3 + 0.03 * np.sin(np.arange(t) / 200)  # slow drift of the open level
    o = level + rng.normal(0, 0.005, t)
    blinks = [(100, 4), (300, 3), (520, 6), (800, 8), (1100, 5), (1300, 2)]
    for start, n in blinks:
        o[start:start + n] = 0.03
    o[1400] = 0.02  # one-frame dip: tracking noise, not a blink
    o[600:700] = 0.02  # eyes shut for 4 s: not a blink
    o[:3] = 0.02  # already shut when the clip starts: not a blink seen closing
    eyes = np.stack([o, o + rng.normal(0, 0.005, t)], 1)
    assert blink_count(eyes, fps) == len(blinks)
    assert blink_rate(eyes, fps) == pytest.approx(len(blinks))  # per minute
    assert blink_count(eyes[:, :1], fps) == len(blinks)  # one eye is enough
    assert blink_count(np.full((t, 2), 0.3), fps) == 0


def test_clip_conditions_and_distance():
    rng = np.random.default_rng(2)
    gaze = np.array([0.05, -0.02]) + rng.normal(0, 0.005, (50, 2))
    emotion = rng.uniform(0, 1, (50, len(EMOTIONS)))
    c = clip_conditions(gaze, np.r_[np.full(49, 0.2), 5.0], emotion)
    assert np.allclose(c.gaze, [0.05, -0.02], atol=0.005)
    assert c.face_scale == pytest.approx(0.2)  # the median ignores one bad frame
    assert np.allclose(c.emotion, emotion.mean(0), atol=1e-6) and c.emotion.shape == (7,)
    d = normalise_distance(np.array([0.1, 0.2, 0.4]))
    assert np.allclose(d, [2.0, 1.0, 0.5])  # small face = far from the camera
    with pytest.raises(ValueError):
        normalise_distance(np.array([0.1, 0.0]))
