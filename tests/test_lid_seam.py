"""The lid seam (evaluation.lid_seam) and the drawn lid it scores (render.eyes)."""

import cv2
import numpy as np
import pytest

from vasa.evaluation.lid_seam import lid_seam, lid_tone
from vasa.latent import topology as topo


def _eye(cx: float, cy: float, w: float, h: float) -> np.ndarray:
    """A 16-point eye outline in MediaPipe's order: corner, upper lid, corner, lower lid."""
    t = np.linspace(0, np.pi, 9)
    upper = np.stack([cx - w / 2 * np.cos(t), cy - h / 2 * np.sin(t)], 1)
    lower = np.stack([cx + w / 2 * np.cos(t[1:-1]), cy + h / 2 * np.sin(t[1:-1])], 1)
    return np.concatenate([upper, lower])


def test_a_patch_has_a_seam_and_plain_skin_none():
    """Skin with a lash line at the bottom of the eye (a real shut lid) reads as no seam; an
    oval of another shade laid over the eye reads as a clear one."""
    eye = _eye(60, 40, 40, 14)
    rng = np.random.default_rng(0)
    skin = np.clip(180 + rng.normal(0, 3, (80, 120, 1)), 0, 255).repeat(3, 2).astype(np.uint8)
    shut = skin.copy()
    cv2.polylines(shut, [np.round(eye[8:]).astype(np.int32)], False, (40, 40, 40), 1)
    oval = np.zeros(shut.shape[:2], np.uint8)  # the eye and its lash line, as a patch covers
    cv2.fillPoly(oval, [np.round(eye).astype(np.int32)], 1)
    oval = cv2.dilate(oval, np.ones((5, 5), np.uint8)).astype(bool)
    patch = shut.copy()
    patch[oval] = 140
    assert lid_seam(shut, eye) < 0.02
    assert lid_seam(patch, eye) > 0.1
    assert np.isnan(lid_seam(shut[:30], eye))  # the eye not in the frame: no reading


def test_the_lid_tone_reads_against_the_faces_skin_not_the_make_up_round_the_eye():
    """A lid at 0.8 of the cheeks' luma reads 0.8, with or without heavy liner round the eye;
    the ring round the eye would have read the liner's grey as skin."""
    eye = _eye(60, 40, 40, 14)
    face = np.full((120, 120, 3), 200, np.uint8)
    lid = np.zeros(face.shape[:2], np.uint8)
    cv2.fillPoly(lid, [np.round(eye).astype(np.int32)], 1)
    lid = cv2.dilate(lid, np.ones((7, 7), np.uint8)).astype(bool)
    face[lid] = 160
    cheeks = np.array([[30.0, 90.0], [90.0, 90.0]])
    assert lid_tone(face, eye, cheeks) == pytest.approx(0.8, abs=0.01)
    made_up = face.copy()
    ring = cv2.dilate(lid.astype(np.uint8), np.ones((11, 11), np.uint8)).astype(bool) & ~lid
    made_up[ring] = 60  # liner and lashes all round
    assert lid_tone(made_up, eye, cheeks) == pytest.approx(0.8, abs=0.01)
    assert np.isnan(lid_tone(face[:30], eye, cheeks))


def test_a_drawn_shut_lid_meets_the_skin(shared_data, basis):
    """A shut eye once got a lid of one colour, from the skin above the eye mixed with the
    face's: on this three-quarter painting, an oval a viewer saw (seam 0.49). The lid now
    takes the colour of the skin round it."""
    from vasa.latent.face_model import decode_canonical, placer
    from vasa.portrait import load_portrait
    from vasa.render import RenderConfig, Renderer

    p = load_portrait(shared_data / "portraits" / "LivePortrait__assets__examples__source__s8.jpg",
                      512, basis=basis)
    rest = placer(p.pose, p.size)(decode_canonical(p.canonical, p.dynamics, p.dynamics, basis))
    shut = p.dynamics.copy()
    shut[basis.layout.eyes] = 0.0
    frame = Renderer(p, basis, RenderConfig(refiner=False)).render(p.pose, shut)
    seams = [lid_seam(frame, rest[eye, :2]) for eye in (topo.RIGHT_EYE, topo.LEFT_EYE)]
    assert max(seams) < 0.15, seams


def test_the_eye_refiners_drawn_lids_are_lighter_and_only_under_it(shared_data, basis):
    """The lids the eye refiner redraws are drawn from the ring's lighter half (real shut lids
    are lighter than the skin round an open eye); drawn lids that are the picture keep the
    darker tone, and the renderer picks which by whether the eye refiner runs."""
    from vasa.latent.face_model import decode_canonical, placer
    from vasa.portrait import load_portrait
    from vasa.render import RenderConfig, Renderer

    p = load_portrait(shared_data / "portraits" / "AniTalker__test_demos__portraits__sad.jpg",
                      512, basis=basis)
    rest = placer(p.pose, p.size)(decode_canonical(p.canonical, p.dynamics, p.dynamics, basis))
    shut = p.dynamics.copy()
    shut[basis.layout.eyes] = 0.0
    skin = rest[list(topo.SKIN_POINTS), :2]

    def tone(light: bool) -> float:
        frame = Renderer(p, basis, RenderConfig(refiner=False, light_lids=light)).render(
            p.pose, shut)
        return float(np.mean([lid_tone(frame, rest[e, :2], skin)
                              for e in (topo.RIGHT_EYE, topo.LEFT_EYE)]))

    assert tone(True) > tone(False) + 0.02
    assert Renderer(p, basis)._light_lids
    assert not Renderer(p, basis, RenderConfig(refiner=False))._light_lids
    assert not Renderer(p, basis, RenderConfig(eye_refiner=False))._light_lids
