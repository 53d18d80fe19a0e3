"""The face latent space: geometry, encoding round trips, identity-free dynamics."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import open_direction

from vasa.latent.face_model import (
    decode_canonical,
    encode_canonical,
    encode_landmarks,
    fit_pose,
    lip_direction,
    place,
)
from vasa.latent.geometry import euler_to_matrix, matrix_to_euler, umeyama
from vasa.latent.motion import MotionLatents, compose_pose
from vasa.latent.retarget import retarget


def test_umeyama_recovers_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(30, 3))
    rot = euler_to_matrix(0.2, -0.3, 0.1)
    dst = 2.5 * src @ rot.T + np.array([1.0, -2.0, 0.5])
    s, r, t = umeyama(src, dst)
    assert np.isclose(s, 2.5) and np.allclose(r, rot) and np.allclose(t, [1.0, -2.0, 0.5])


def test_euler_round_trip():
    for angles in [(0.1, 0.2, -0.3), (-0.4, 0.6, 0.2), (0.0, 0.0, 0.0)]:
        assert np.allclose(matrix_to_euler(euler_to_matrix(*angles)), angles)


def test_encode_then_place_reproduces_landmarks(astronaut, basis):
    pose, dyn, canonical = encode_landmarks(astronaut.landmarks, basis, astronaut.size)
    assert dyn.shape == (basis.dynamics_dim,)
    back = place(canonical, pose, astronaut.size)
    assert np.abs(back[:, :2] - astronaut.landmarks[:, :2]).max() < 1e-3


def test_real_portrait_pose_is_sane(astronaut, basis):
    # The astronaut looks at the camera: small angles, face centred in the aligned crop.
    assert np.all(np.abs(np.degrees(astronaut.pose[:3])) < 15)
    assert np.all(np.abs(astronaut.pose[3:5]) < 0.2)
    assert fit_pose(astronaut.landmarks, basis, astronaut.size)[5] > 0.1


def test_dynamics_round_trip(astronaut, basis):
    k = basis.num_pca
    target = astronaut.dynamics.copy()
    target[:k] += 1.5 * open_direction(basis)
    target[k:k + 2] *= 0.5
    target[k + 2] += 0.05
    shape = decode_canonical(astronaut.canonical, astronaut.dynamics, target, basis)
    again = encode_canonical(shape, basis)
    assert np.allclose(again[:k], target[:k], atol=1e-3)
    assert np.allclose(again[k:], target[k:], atol=0.01)
    assert np.allclose(decode_canonical(astronaut.canonical, astronaut.dynamics,
                                        astronaut.dynamics, basis), astronaut.canonical)


def test_dynamics_carry_no_identity(astronaut, basis, tracker):
    """The same change of dynamics moves two different faces the same way (VASA-1 Fig. 4)."""
    import cv2

    from vasa.portrait import make_portrait

    other_img = cv2.resize(astronaut.image, None, fx=1.25, fy=0.9)  # another face shape
    other = make_portrait(other_img, "stretched")
    k = basis.num_pca
    delta = np.zeros(basis.dynamics_dim, np.float32)
    delta[:k] = 2.0 * open_direction(basis)
    moved = []
    for p in (astronaut, other):
        shape = decode_canonical(p.canonical, p.dynamics, p.dynamics + delta, basis)
        moved.append(encode_canonical(shape, basis)[:k] - encode_canonical(p.canonical, basis)[:k])
    assert np.allclose(moved[0], moved[1], atol=1e-3)
    assert not np.allclose(astronaut.canonical, other.canonical, atol=0.02)


def test_compose_pose_identity_and_relative():
    base = np.array([0.1, -0.2, 0.05, 0.01, -0.1, 0.2], np.float32)
    ref = np.array([0.0, 0.1, 0.0, 0.0, 0.0, 0.3], np.float32)
    assert np.allclose(compose_pose(base, ref, ref)[0], base, atol=1e-5)
    moved = ref.copy()
    moved[1] += 0.2  # the driver turns by 0.2 rad
    out = compose_pose(base, ref, moved)[0]
    assert abs(out[1] - (base[1] + 0.2)) < 0.05


def test_retarget_modes(astronaut, basis):
    rng = np.random.default_rng(1)
    t = 10
    drv = MotionLatents(np.repeat(astronaut.pose[None], t, 0) + rng.normal(0, 0.02, (t, 6)),
                        np.repeat(astronaut.dynamics[None], t, 0)
                        + rng.normal(0, 0.3, (t, basis.dynamics_dim)))
    k = basis.num_pca
    pose_only = retarget(astronaut.pose, astronaut.dynamics, drv, k, transfer_dynamics=False)
    assert np.allclose(pose_only.dynamics, astronaut.dynamics)
    assert not np.allclose(pose_only.pose, astronaut.pose)
    dyn_only = retarget(astronaut.pose, astronaut.dynamics, drv, k, transfer_pose=False)
    assert np.allclose(dyn_only.pose, astronaut.pose)
    assert np.allclose(dyn_only.dynamics[0, :k], astronaut.dynamics[:k])  # relative to frame 0
    assert not np.allclose(dyn_only.dynamics[1:, :k], astronaut.dynamics[:k])
    assert np.all(dyn_only.dynamics[:, k:k + 2] >= 0)


def _with_mouth(portrait, basis, gap: float):
    """The same face with its mouth at another inner-lip gap (a closed or open portrait)."""
    from dataclasses import replace

    from vasa.latent.face_model import decode_canonical, lip_gap, move_lip_gap

    dyn = move_lip_gap(portrait.dynamics, gap - lip_gap(portrait.canonical), basis)
    return replace(portrait, canonical=decode_canonical(portrait.canonical, portrait.dynamics,
                                                        dyn, basis), dynamics=dyn)


def test_a_reenacted_mouth_opens_as_the_drivers_whatever_the_portraits(astronaut, basis):
    """Relative transfer kept a portrait caught mid-word open through a whole clip (the AOC
    photo under d12 shouted throughout). With `driver_lip_change` the decoded gap is the
    driver's on every frame, for a closed, a half-open and a wide-open portrait alike."""
    from vasa.latent.face_model import decode_canonical, lip_gap
    from vasa.latent.retarget import DriverReference, driver_lip_change

    t, k = 12, basis.num_pca
    dyn = np.repeat(astronaut.dynamics[None], t, 0).astype(np.float32)
    dyn[:, :k] += np.outer(np.linspace(-1.0, 2.0, t), open_direction(basis))  # opens over time
    drv = MotionLatents(np.repeat(astronaut.pose[None], t, 0), dyn)
    want = [lip_gap(basis.template) + float(d[:k] @ lip_direction(basis)) for d in dyn]
    ref = DriverReference.of(drv, k)
    for gap in (0.0, 0.088, 0.25):
        p = _with_mouth(astronaut, basis, gap)
        change = driver_lip_change(p.canonical, ref, basis)
        out = retarget(p.pose, p.dynamics, drv, k, lip_change=change, basis=basis)
        seen = [lip_gap(decode_canonical(p.canonical, p.dynamics, d, basis)) for d in out.dynamics]
        assert np.allclose(np.maximum(seen, 0), np.maximum(want, 0), atol=0.01), gap
        relative = retarget(p.pose, p.dynamics, drv, k)
        first = lip_gap(decode_canonical(p.canonical, p.dynamics, relative.dynamics[0], basis))
        assert abs(first - gap) < 0.01  # relative: the portrait's own opening at frame 0
    with pytest.raises(ValueError, match="needs the face basis"):
        retarget(astronaut.pose, astronaut.dynamics, drv, k, lip_change=0.1)


def test_the_heads_shift_across_a_still_picture_is_soft_limited(astronaut):
    """A driver moving across its frame (d12: 0.8 face sizes) dragged the portrait's head off
    its still body. `limit_shift`: a small shift passes nearly whole, a large one stays under
    the limit, in its own direction; rotation and scale are untouched."""
    from vasa.latent.motion import SCALE, TX, TY
    from vasa.latent.retarget import limit_shift

    base = np.asarray(astronaut.pose, np.float64)
    size = base[SCALE]
    shifts = np.array([[0.01, 0.0], [0.0, -0.05], [0.6, 0.8]]) * size  # face sizes x size
    poses = np.repeat(base[None], 3, 0)
    poses[:, TX:TY + 1] += shifts
    poses[:, 1] += 0.3  # a turn: kept
    out = limit_shift(poses, base, 0.1)
    moved = (out[:, TX:TY + 1] - base[TX:TY + 1]) / size
    assert np.allclose(moved[0], [0.01, 0.0], atol=5e-5)  # nearly whole
    assert np.linalg.norm(moved[2]) < 0.1 and np.allclose(moved[2] / np.linalg.norm(moved[2]),
                                                          [0.6, 0.8])
    assert np.allclose(out[:, [0, 1, 2, SCALE]], poses[:, [0, 1, 2, SCALE]])
    assert np.allclose(limit_shift(poses, base, 0.0)[:, TX:TY + 1], base[TX:TY + 1])


def test_generated_opening_does_not_depend_on_the_portraits_mouth(astronaut, basis):
    """Issue 12: offsets added to the portrait's own mouth opened a closed mouth 0.06-0.3x and an
    open one 3.5x as wide as the speaker. From `talking_rest` the same features give the same
    opening, closed, half-open or wide-open portrait alike, and no crossed lips."""
    from vasa.latent.face_model import decode_canonical, lip_gap
    from vasa.motion.features import FEATURES, to_latents

    feats = np.zeros((20, FEATURES.dim), np.float32)
    feats[:, FEATURES.dynamics.eyes] = 1.0
    wave = np.sin(np.linspace(0, 6 * np.pi, 20))  # talking: open and close around the rest
    feats[:, FEATURES.dynamics.pca] = np.outer(wave, open_direction(basis)) * 2.0
    openings = []
    for gap in (0.0, 0.088, 0.25):
        p = _with_mouth(astronaut, basis, gap)
        assert abs(lip_gap(p.canonical) - gap) < 0.01
        lat = to_latents(feats, p.pose, p.talking_rest(basis))
        openings.append([lip_gap(decode_canonical(p.canonical, p.dynamics, d, basis))
                         for d in lat.dynamics])
    openings = np.array(openings)
    assert np.abs(openings - openings[1]).max() < 0.01  # the speech's opening, not the portrait's
    assert openings.min() >= 0 and openings.max() > 0.12


def test_lips_touch_but_never_cross(astronaut, basis):
    from vasa.latent import topology as topo
    from vasa.latent.face_model import decode_canonical, lip_gap, move_lip_gap

    closing = move_lip_gap(astronaut.dynamics, -0.3, basis)  # far past closed
    c = decode_canonical(astronaut.canonical, astronaut.dynamics, closing, basis)
    upper = c[topo.LIPS_INNER_UPPER[1:-1], 1]
    lower = c[topo.LIPS_INNER_LOWER[-2:0:-1], 1]
    assert lip_gap(c) == 0.0 and np.all(lower >= upper)


def test_emotion_directions_are_recovered_without_identity():
    """Per-clip centring removes each clip's identity offset: a planted direction comes back."""
    from vasa.latent.expressions import fit_directions

    rng = np.random.default_rng(0)
    true = rng.normal(size=(7, 24))
    coef, scores = [], []
    for _ in range(20):
        s = rng.uniform(0, 1, (50, 7))
        identity = rng.normal(0, 5, 24)  # a different face per clip
        coef.append(identity + s @ true + rng.normal(0, 0.1, (50, 24)))
        scores.append(s)
    directions, explained = fit_directions(coef, scores, ridge=0.1)
    assert np.abs(directions - true).max() < 0.1 and explained.min() > 0.9


def test_drawn_emotions_move_the_face_as_their_facs_prototypes(basis):
    """Disgust and contempt, which the footage barely shows, are drawn (issue 12 item 4): in the
    face basis, disgust raises the upper lip more than the lower one (not the nose tip), lifts
    the nose wings and lowers the brows; contempt pulls one lip corner up, not the other."""
    from vasa.latent.action_units import drawn_direction

    def moved(emotion: str) -> dict[int, np.ndarray]:
        d = drawn_direction(emotion, basis) * basis.std @ basis.components
        points = list(basis.points)
        return {i: d.reshape(-1, 3)[points.index(i)]
                for i in (0, 1, 17, 48, 278, 55, 285, 61, 291)}

    disgust = moved("disgust")  # y is down: a rise is negative
    assert disgust[0][1] < -0.06 and disgust[0][1] < disgust[17][1] - 0.03
    assert disgust[48][1] < -0.01 and disgust[278][1] < -0.01
    assert abs(disgust[1][1]) < 0.25 * abs(disgust[0][1])  # the nose tip hardly: no snout
    assert disgust[55][1] > 0.01 and disgust[285][1] > 0.01
    contempt = moved("contempt")
    assert contempt[291][1] < -0.06 and abs(contempt[61][1]) < 0.25 * abs(contempt[291][1])
    with pytest.raises(ValueError, match="no drawn prototype for 'happiness'"):
        drawn_direction("happiness", basis)


def test_every_emotion_moves_the_face_as_far_at_intensity_one(basis):
    """Intensity 1 means at least the same amount of face for every emotion (fitted per unit
    of score, sadness moved the landmarks 5x less than surprise); a direction the data barely
    determines is scaled up by at most MAX_SCALE, a large one keeps its size."""
    from vasa.latent.expressions import (
        INTENSITY_RMS,
        MAX_SCALE,
        EmotionDirections,
        displacement_rms,
        equal_intensity,
    )

    rng = np.random.default_rng(2)
    raw = rng.normal(size=(3, basis.num_pca))
    raw *= INTENSITY_RMS / np.array([[displacement_rms(d, basis)] for d in raw])  # all at rms
    raw *= np.array([[2.0], [0.5], [1e-3]])  # large, small, barely there
    scaled, scale = equal_intensity(raw, basis)
    sizes = [displacement_rms(d, basis) for d in scaled]
    assert scale[0] == 1.0 and sizes[0] == pytest.approx(2 * INTENSITY_RMS)
    assert scale[1] == pytest.approx(2.0) and sizes[1] == pytest.approx(INTENSITY_RMS)
    assert scale[2] == MAX_SCALE
    assert np.allclose(scaled / scale[:, None], raw)  # the same directions, rescaled
    bundled = EmotionDirections.load(basis_version=basis.version)
    for name, d in zip(bundled.names, bundled.directions):
        if name in bundled.info["drawn"]:  # sized by their FACS prototype, not by a fit
            from vasa.latent.action_units import drawn_direction
            from vasa.motion.controls import EMOTION_LEVEL

            assert np.allclose(d * EMOTION_LEVEL, drawn_direction(name, basis), atol=1e-4)
            continue
        size = displacement_rms(d, basis)
        scale = bundled.info["scale_per_unit_score"][name]
        if 1.0 < scale < MAX_SCALE:
            assert size == pytest.approx(INTENSITY_RMS, rel=1e-3), name
        elif scale == 1.0:
            assert size >= INTENSITY_RMS, name
        else:
            assert size < INTENSITY_RMS, name


def test_bundled_emotion_directions_match_the_basis(basis):
    from vasa.data.emotion import EMOTIONS
    from vasa.latent.expressions import EmotionDirections

    d = EmotionDirections.load(basis_version=basis.version)
    assert d.names == EMOTIONS and d.directions.shape == (7, basis.num_pca)
    assert d.info["frames"] > 1000
    with pytest.raises(ValueError, match="rebuild them with `vasa build-expressions`"):
        EmotionDirections.load(basis_version="1-other")
