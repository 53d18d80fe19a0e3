"""The renderer on a real portrait: reconstruction, blinks, gaze, mouth, pose, background."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import open_direction

from vasa.latent.face_model import encode_landmarks


def _retrack(tracker, frame, basis):
    faces = tracker.detect(frame)
    assert faces, "rendered face not found by the tracker"
    return encode_landmarks(faces[0].landmarks, basis, frame.shape[0])


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255**2 / max(mse, 1e-9))


def test_own_latents_reproduce_portrait(astronaut, astronaut_renderer):
    frame = astronaut_renderer.render(astronaut.pose, astronaut.dynamics)
    assert frame.shape == astronaut.image.shape and frame.dtype == np.uint8
    assert _psnr(frame, astronaut.image) > 33


def test_wrong_dynamics_size_is_an_error(astronaut, astronaut_renderer):
    with pytest.raises(ValueError, match="dynamics has 3 values"):
        astronaut_renderer.render(astronaut.pose, np.zeros(3))


def test_blink_closes_the_eyes(astronaut, astronaut_renderer, basis, tracker):
    k = basis.num_pca
    dyn = astronaut.dynamics.copy()
    dyn[k:k + 2] = 0.0
    _, measured, _ = _retrack(tracker, astronaut_renderer.render(astronaut.pose, dyn), basis)
    assert np.all(measured[k:k + 2] < 0.5 * astronaut.dynamics[k:k + 2])


def test_gaze_moves_the_iris(astronaut, astronaut_renderer, basis, tracker):
    k = basis.num_pca
    out = []
    for dx in (-0.1, 0.1):
        dyn = astronaut.dynamics.copy()
        dyn[k + 2] += dx
        out.append(_retrack(tracker, astronaut_renderer.render(astronaut.pose, dyn), basis)[1])
    assert out[1][k + 2] - out[0][k + 2] > 0.05  # looks right when asked to, left otherwise


def test_mouth_opens_with_synthesised_interior(astronaut, astronaut_renderer, basis, tracker):
    k = basis.num_pca
    dyn = astronaut.dynamics.copy()
    dyn[:k] += 2.5 * open_direction(basis)
    frame = astronaut_renderer.render(astronaut.pose, dyn)
    _, _, canon = _retrack(tracker, frame, basis)
    assert canon[14, 1] - canon[13, 1] > astronaut.canonical[14, 1] - astronaut.canonical[13, 1] + 0.04
    # The mouth region now holds a dark cavity and bright teeth.
    lm = astronaut.landmarks
    x0, x1 = int(lm[78, 0]), int(lm[308, 0])
    y0, y1 = int(lm[13, 1]), int(lm[14, 1]) + 20
    mouth = frame[y0:y1, x0:x1].mean(2)
    assert mouth.min() < 80 and mouth.max() > 150


def test_pose_moves_head_not_background(astronaut, astronaut_renderer, basis, tracker):
    pose = astronaut.pose.copy()
    pose[1] += 0.25  # turn the head by about 14 degrees
    pose[2] += 0.1
    frame = astronaut_renderer.render(pose, astronaut.dynamics)
    measured, _, _ = _retrack(tracker, frame, basis)
    assert abs(measured[1] - pose[1]) < 0.08 and abs(measured[2] - pose[2]) < 0.05
    for sl in (np.s_[:40, :40], np.s_[:40, -40:]):  # the background does not move
        assert np.abs(frame[sl].astype(int) - astronaut.image[sl].astype(int)).mean() < 2


def test_pose_and_dynamics_are_independent(astronaut, astronaut_renderer, basis, tracker):
    """Fig. 5: animate one, freeze the other; the frozen one stays put when re-measured."""
    k = basis.num_pca
    _, d0, c0 = _retrack(tracker, astronaut_renderer.render(astronaut.pose, astronaut.dynamics),
                         basis)
    pose = astronaut.pose.copy()
    pose[1] += 0.15
    pose[2] += 0.1
    _, d1, c1 = _retrack(tracker, astronaut_renderer.render(pose, astronaut.dynamics), basis)
    gap = lambda c: c[14, 1] - c[13, 1]
    assert abs(gap(c1) - gap(c0)) < 0.015  # the mouth does not open because the head turns
    assert np.all(np.abs(d1[k:k + 2] - d0[k:k + 2]) < 0.05)  # nor do the eyes close
    assert np.sqrt(((c1 - c0)[basis.points] ** 2).sum(1).mean()) < 0.02
    dyn = astronaut.dynamics.copy()
    dyn[:k] += 2.0 * open_direction(basis)
    p2, _, _ = _retrack(tracker, astronaut_renderer.render(astronaut.pose, dyn), basis)
    p0, _, _ = _retrack(tracker, astronaut.image, basis)
    assert np.all(np.abs(np.degrees(p2[:3] - p0[:3])) < 2.0)  # talking does not turn the head


def test_same_dynamics_same_change_on_two_identities(basis, tracker, shared_data, astronaut):
    """Fig. 4: one dynamics change applied to two faces changes both the same way."""
    from vasa.portrait import load_portrait
    from vasa.render import Renderer

    other = load_portrait(shared_data / "portraits" / "AniTalker__test_demos__portraits__sad.jpg")
    k = basis.num_pca
    delta = np.zeros(basis.dynamics_dim, np.float32)
    delta[:k] = 2.0 * open_direction(basis)
    intended = delta[:k] * basis.std  # compare in landmark units, not whitened ones
    changes, gaps = [], []
    for p in (astronaut, other):
        r = Renderer(p, basis)
        _, before, c0 = _retrack(tracker, r.render(p.pose, p.dynamics), basis)
        _, after, c1 = _retrack(tracker, r.render(p.pose, p.dynamics + delta), basis)
        changes.append((after[:k] - before[:k]) * basis.std)
        gaps.append((c1[14, 1] - c1[13, 1]) - (c0[14, 1] - c0[13, 1]))
    for c in changes:
        assert c @ intended / (np.linalg.norm(c) * np.linalg.norm(intended)) > 0.6
    assert min(gaps) > 0.08 and max(gaps) / min(gaps) < 1.4  # both mouths open alike


def test_a_shut_eye_is_lid_skin_and_reads_as_shut(astronaut, astronaut_renderer, basis, tracker):
    """A blink once squeezed the open eye into a dark band that a tracker read as half open (0
    blinks per minute on some portraits). Shut, the eye is now covered by lid skin, drawn or
    redrawn by the eye refiner, and the tracker, re-reading the frame, finds it shut. The
    refiner's closed lid is darker than the drawn one (a lash line and the shadow of the lid
    fold, as in the video it learned from: 0.78x the lid colour here), still not a dark band."""
    from vasa.latent import topology as topo
    from vasa.latent.face_model import encode_landmarks
    from vasa.render import RenderConfig, Renderer

    eyes = basis.layout.eyes
    shut = astronaut.dynamics.copy()
    shut[eyes] = 0.0
    drawn = Renderer(astronaut, basis, RenderConfig(eye_refiner=False))
    for renderer, skin in ((drawn, 0.8), (astronaut_renderer, 0.65)):
        frame = renderer.render(astronaut.pose, shut)
        mask = np.zeros(frame.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(astronaut.landmarks[topo.RIGHT_EYE, :2]).astype(np.int32)],
                     1)
        inside = frame[mask > 0].astype(np.float32).mean()
        assert inside > skin * renderer.appearance.lids[0].mean()  # skin, not a dark band
        face = tracker.detect(frame)[0]
        _, seen, _ = encode_landmarks(face.landmarks, basis, astronaut.size)
        rest = tracker.detect(renderer.render(astronaut.pose, astronaut.dynamics))[0]
        _, seen_rest, _ = encode_landmarks(rest.landmarks, basis, astronaut.size)
        assert seen[eyes].mean() < 0.5 * seen_rest[eyes].mean()


def test_a_requested_emotion_is_seen_by_the_tracker(shared_data, basis, tracker):
    """Issue 12: 'happiness' pursed the lips, sadness looked neutral, disgust and contempt
    did not register. The emotion directions move the re-tracked blendshape emotion scores the
    way asked (a neutral-faced portrait); disgust's score tops out near 0.24 (MediaPipe never
    raises noseSneer) and on this face needs the intensity knob at 2."""
    from vasa.data.emotion import EMOTIONS, emotion_coefficients
    from vasa.latent.expressions import EmotionDirections
    from vasa.motion.controls import parse_emotion
    from vasa.portrait import load_portrait
    from vasa.render import Renderer

    portrait = load_portrait(shared_data / "portraits" / "Audio2Head__demo__img__obama.jpg", 256,
                             basis=basis)
    renderer, directions = Renderer(portrait, basis), EmotionDirections.load()
    rest = portrait.talking_rest(basis)

    def scores(name: str | None, intensity: float = 1.0) -> np.ndarray:
        dyn = rest.copy()
        if name:
            dyn[basis.layout.pca] += intensity * directions.offset(parse_emotion(name))
        face = tracker.detect(renderer.render(portrait.pose, dyn))[0]
        return emotion_coefficients(face.blendshapes[None], face.blendshape_names)[0]

    neutral = scores(None)
    for name, intensity in (("happiness", 1), ("sadness", 1), ("surprise", 1), ("contempt", 1),
                            ("disgust", 2)):  # on this face disgust registers from 2
        i = EMOTIONS.index(name)
        assert scores(name, intensity)[i] > neutral[i] + 0.08, name


def test_flat_target_triangles_sample_their_own_source():
    """A shut eye or closed mouth leaves target triangles of no area; they once sampled far
    away (blocks of the suit's colour on a face), now their source centroid."""
    from vasa.render.warp import affine_maps

    dst = np.array([[10.0, 10.0], [20.0, 10.0], [30.0, 10.0], [10, 20]])  # 0-1-2 collinear
    src = np.array([[12.0, 11.0], [22.0, 13.0], [31.0, 9.0], [10, 21]])
    maps = affine_maps(dst, src, np.array([[0, 1, 2], [0, 1, 3]]))
    assert np.allclose(maps[0] @ [15.0, 10.0, 1.0], src[:3].mean(0))
    assert np.allclose(maps[1] @ [10.0, 20.0, 1.0], src[3])  # a real triangle is exact


def test_a_portrait_with_shut_eyes_keeps_them_shut(tmp_path, astronaut, astronaut_renderer,
                                                   basis):
    """Issue 12's bad input: eyes closed in the portrait. They stay shut (there is no iris to
    show) while the rest of the face moves; no iris disc is painted from lid skin."""
    from vasa.portrait import load_portrait
    from vasa.render import Renderer

    shut = astronaut.dynamics.copy()
    shut[basis.layout.eyes] = 0.0
    path = tmp_path / "shut.png"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut_renderer.render(astronaut.pose, shut),
                                        cv2.COLOR_RGB2BGR))
    portrait = load_portrait(path, 256, basis=basis)
    renderer = Renderer(portrait, basis)
    assert renderer.appearance.irises == (None, None)
    moved = portrait.dynamics.copy()
    moved[basis.layout.gaze] += 0.05
    moved[basis.layout.eyes] = 0.2  # a generated "open" ratio cannot open what has no iris
    frame = renderer.render(portrait.pose, moved)
    assert np.isfinite(frame).all() and frame.std() > 10


def test_the_generated_opening_is_the_one_seen(astronaut, astronaut_renderer, basis, tracker):
    """A portrait's rendered mouth reads back wider or narrower than its latent opening (a
    painted interior reads ~1.5x); the measured response, inverted, makes the re-tracked
    opening the asked one, wide ones included. Asked openings are in the range speech uses
    (the probes' range): under about 0.05 eye distances the tracker reads lips that nearly touch as closed, with
    the refiner's lips more so than with the painted ones (latent 0.04 reads 0.003 vs 0.014)."""
    from vasa.latent.face_model import encode_landmarks, lip_gap, move_lip_gap
    from vasa.motion.mouth import seen_as_generated
    from vasa.pipelines.calibrate import mouth_and_lid_response

    response, _ = mouth_and_lid_response(astronaut, astronaut_renderer, basis)
    changes, offsets = response.curve
    assert len(changes) == 5 and np.all(np.diff(changes + offsets) > 0)
    rest, rest_gap = astronaut.talking_rest(basis), lip_gap(basis.template)
    for asked in (0.06, 0.14, 0.22):
        latent = float(seen_as_generated(np.array([asked]), rest_gap, response)[0])
        frame = astronaut_renderer.render(astronaut.pose,
                                          move_lip_gap(rest, latent - rest_gap, basis))
        _, _, canonical = encode_landmarks(tracker.detect(frame)[0].landmarks, basis,
                                           astronaut.size)
        assert abs(lip_gap(canonical) - asked) < 0.02, asked


def test_the_generated_lid_opening_is_the_one_seen(astronaut, astronaut_renderer, basis,
                                                  tracker):
    """The astronaut's rendered lids read shut at a latent ratio of 0 of her rest's and nearly
    so at 0.2 (the lid skin over the squeezed lash line); the measured response, inverted,
    makes a generated ratio read as itself (within 0.1 of the rest's openness). (While the
    drawn lid hazed the whole eye at part strength, 0.3 read 0.1 or less as asked.)"""
    from vasa.latent.face_model import encode_landmarks, eye_measures
    from vasa.motion.lids import seen_as_generated
    from vasa.pipelines.calibrate import mouth_and_lid_response

    _, response = mouth_and_lid_response(astronaut, astronaut_renderer, basis)
    assert response.usable and response.seen[response.ratios.index(0.0)] < 0.1
    rest = astronaut.talking_rest(basis)

    def read(ratio: float) -> float:
        dynamics = rest.copy()
        dynamics[basis.layout.eyes] *= ratio
        frame = astronaut_renderer.render(astronaut.pose, dynamics)
        canonical = encode_landmarks(tracker.detect(frame)[0].landmarks, basis,
                                     astronaut.size)[2]
        return float(eye_measures(canonical, basis)[:2].mean())

    open_ = read(1.0)
    assert read(0.0) / open_ < 0.1
    for asked in (0.3, 0.6):
        assert abs(read(float(seen_as_generated(np.array(asked), response))) / open_
                   - asked) < 0.1, asked


def test_a_small_crop_keeps_the_lips_free_of_map_specks(astronaut_framed, basis):
    """The default framing renders the bundled face in a 259 px crop, where a 0.4 warp map is
    coarser than the lip triangles: it read the closed lip line below an opening lower lip. The
    map keeps a 512 px crop's detail (`warp.MIN_FLOW_PX`), so an open mouth matches a
    full-resolution map to within a few pixels."""
    from vasa.latent.face_model import move_lip_gap
    from vasa.render import Renderer
    from vasa.render.renderer import RenderConfig
    from vasa.render.warp import MIN_FLOW_PX

    p = astronaut_framed
    pose = p.pose + np.r_[0.0, 0.12, 0.05, 0, 0, 0]  # pitched down, turned a little
    dyn = move_lip_gap(p.dynamics[None].copy(), np.array([0.1]), basis)[0]
    plain = {"mouth": False, "eyes": False}  # the warp alone
    coarse = Renderer(p, basis, RenderConfig(**plain))
    assert coarse.warper.low >= min(p.size, MIN_FLOW_PX) > round(0.4 * p.size)
    full = Renderer(p, basis, RenderConfig(flow_scale=1.0, **plain))
    off = np.abs(coarse.render(pose, dyn).astype(int) - full.render(pose, dyn).astype(int))
    assert (off.max(2) > 30).sum() < 20


def test_the_lips_are_warped_at_full_resolution(astronaut, basis):
    """Around the lips the warp is rasterised at full resolution whatever the map's
    scale (their triangles are a few px^2): there a coarse map renders what a full one does,
    but for the odd pixel on an occlusion edge, which the two assign by different rules."""
    from vasa.latent.face_model import decode_canonical, move_lip_gap, placer
    from vasa.render import Renderer
    from vasa.render.renderer import RenderConfig, detail_boxes

    p = astronaut
    pose = p.pose + np.r_[0.0, 0.12, 0.05, 0, 0, 0]
    dyn = move_lip_gap(p.dynamics[None].copy(), np.array([0.1]), basis)[0]
    plain = {"mouth": False, "eyes": False}
    coarse = Renderer(p, basis, RenderConfig(**plain))
    assert coarse.warper.low < p.size
    full = Renderer(p, basis, RenderConfig(flow_scale=1.0, **plain))
    a, b = coarse.render(pose, dyn).astype(int), full.render(pose, dyn).astype(int)
    lm = placer(pose, p.size)(decode_canonical(p.canonical, p.dynamics, dyn, basis))
    for x0, y0, x1, y1 in detail_boxes(lm):
        box = np.s_[max(y0, 0):y1, max(x0, 0):x1]
        assert (np.abs(a[box] - b[box]).max(2) > 8).sum() <= 10  # 29 off in the lips' box without
    assert np.abs(a - b).max() > 8  # elsewhere the coarse map is an approximation


def test_frames_rendered_two_at_once_are_the_frames_rendered_in_turn(astronaut, astronaut_framed,
                                                                     astronaut_renderer, basis):
    """`render_frames` (the next frame's warp on a thread beside this one's refiners and paste)
    gives the frames `render` gives one by one, in order: crop and picture, with the mouth
    open, a blink and a turn, so every stage that keeps scratch state runs."""
    from vasa.render import Renderer, render_frames
    from vasa.render.paste import PictureRenderer

    k, eyes = basis.num_pca, basis.layout.eyes
    motion = []
    for i in range(8):
        pose, dyn = astronaut.pose.copy(), astronaut.dynamics.copy()
        pose[1] += np.radians(3 * i)  # yaw
        dyn[:k] += 0.3 * i * open_direction(basis)
        dyn[eyes] *= 1 - 0.12 * i  # towards a blink
        motion.append((pose, dyn))
    picture = PictureRenderer(Renderer(astronaut_framed, basis), matte=None)
    for output in (astronaut_renderer, picture):
        one_by_one = [output.render(p, d) for p, d in motion]
        together = list(render_frames(output, iter(motion)))
        assert len(together) == len(motion)
        for a, b in zip(one_by_one, together):
            assert np.array_equal(a, b)
        assert len({f.tobytes() for f in together}) == len(motion)  # the frames do change
