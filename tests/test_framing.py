"""The portrait's own framing (issue 13): the output is the picture as given, the animated crop
pasted back into it; `--crop` keeps the aligned square. Real inputs: the bundled portrait, cut
down to other shapes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import ASSETS

from vasa.evaluation.border import invented_fraction
from vasa.evaluation.folds import map_area
from vasa.evaluation.ghost import ghost_fraction
from vasa.latent.motion import PITCH, SCALE, TY, YAW
from vasa.portrait import make_portrait, read_image, slide_inside
from vasa.render import Renderer, picture_edge
from vasa.render.paste import PasteBack, PictureRenderer, output_renderer
from vasa.render.picture_edge import on_picture, picture_hold, within_crop

MOVES = [(PITCH, 0.2), (PITCH, -0.2), (YAW, 0.3), (YAW, -0.3), (TY, 0.05), (TY, -0.05)]


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    return read_image(ASSETS / "astronaut.jpg")


@pytest.fixture(scope="module")
def chin_at_edge(picture, basis):
    """A 200 x 160 photo cut just under the chin and close to the hair: the aligned crop hangs
    past three of its edges."""
    return make_portrait(np.ascontiguousarray(picture[20:180, 130:330]), "chin", 256,
                         basis=basis, framed=True)


@pytest.fixture(scope="module")
def hair_at_edge(picture, basis):
    """A photo cut through the hair above the forehead and just under the chin."""
    return make_portrait(np.ascontiguousarray(picture[55:180, 130:330]), "hair", 256,
                         basis=basis, framed=True)


def _moved(portrait, index: int, offset: float) -> np.ndarray:
    pose = portrait.pose.copy()
    pose[index] += offset
    return pose


def test_the_output_has_the_pictures_aspect_ratio_and_even_sides(picture, basis):
    odd = np.ascontiguousarray(picture[30:481, 100:401])  # 301 x 451: odd sides
    p = make_portrait(odd, "odd", 256, basis=basis, framed=True)
    h, w = p.output_shape
    assert (h, w) == (256, 170)  # the long side is --size; 301 * 256 / 451 = 170.9 -> even
    frame = PictureRenderer(Renderer(p, basis)).render(p.pose, p.dynamics)
    assert frame.shape == (256, 170, 3)
    # The crop is a window on the picture at its own scale: pasted back without resampling.
    assert np.array_equal(p.framing.to_crop[:, :2], np.eye(2))


def test_at_rest_the_output_is_the_picture_outside_the_face(astronaut_framed, picture, basis):
    p = astronaut_framed
    assert p.framed and np.array_equal(p.framing.picture, picture)  # 512 px: taken as it is
    frame = PictureRenderer(Renderer(p, basis)).render(p.pose, p.dynamics)
    # Landmarks in picture pixels: the face (eyes and mouth are repainted even at rest).
    inv = np.linalg.inv(np.vstack([p.framing.to_crop, [0, 0, 1]]))[:2]
    face = p.landmarks[:, :2] @ inv[:, :2].T + inv[:, 2]
    (x0, y0), (x1, y1) = face.min(0) - 4, face.max(0) + 4
    outside = np.ones(p.output_shape, bool)
    outside[int(y0):int(y1) + 1, int(x0):int(x1) + 1] = False
    assert np.array_equal(frame[outside], picture[outside])
    assert np.abs(frame.astype(int) - picture).mean() < 0.2
    assert invented_fraction(p) == 0.0


def test_a_moving_head_never_shows_what_is_outside_the_picture(chin_at_edge, basis):
    p = chin_at_edge
    renderer = Renderer(p, basis)
    assert PasteBack(p.framing, p.size).ramp.min() == 0.0  # the crop does reach past it
    for index, offset in MOVES:
        renderer.render(_moved(p, index, offset), p.dynamics)
        assert invented_fraction(p, renderer.flow) == 0.0, (index, offset)


def test_the_measure_sees_pixels_from_outside(chin_at_edge, basis, monkeypatch):
    """With the picture's edge not held (`MeshWarper.pin(None)`) and pasting by the weight at
    rest alone (no look at each frame's sources), the mirror past the chin comes into view
    when the head moves up; the measure finds it."""
    p = chin_at_edge
    renderer = Renderer(p, basis)
    renderer.warper.pin(None)
    renderer.render(_moved(p, TY, -0.05), p.dynamics)
    monkeypatch.setattr(PasteBack, "weights", lambda self, flow=None: self.rest)
    assert invented_fraction(p, renderer.flow) > 0.001


def test_the_edges_of_the_picture_and_the_crop_stay_where_they_are(chin_at_edge, basis):
    """A framed portrait's renderer holds the picture's edge and the crop's still: a pixel
    there is its own source whatever the head does, and the motion grows away from them."""
    p = chin_at_edge
    renderer = Renderer(p, basis)
    hold = picture_hold(p.framing.to_crop, p.framing.shape, p.size)
    g = np.arange(p.size, dtype=np.float32)
    grid = np.stack(np.meshgrid(g, g), -1)
    still, free = hold == 0, hold == 1
    assert still[0].all() and still[-1].all() and free.any()
    renderer.render(_moved(p, TY, 0.05), p.dynamics)
    moved = np.abs(renderer.flow - grid).max(-1)
    assert moved[still].max() < 1e-3
    assert moved[free].max() > 5  # the head itself moves


def test_the_mouth_and_eyes_are_drawn_where_the_held_warp_shows_them(chin_at_edge, basis):
    """Landmarks in the held band move their position's share of the way, as the warp's
    pixels there do: the refiners draw the mouth on the lips the frame shows."""
    p = chin_at_edge
    pose = _moved(p, TY, 0.05)
    held = Renderer(p, basis)
    free = Renderer(p, basis)
    free.warper.pin(None)
    rest = free.warp(p.pose, p.dynamics).landmarks[:, :2]
    moved = free.warp(pose, p.dynamics).landmarks[:, :2]
    w = held.warp(pose, p.dynamics)
    shown = w.landmarks[:, :2]
    share = held.warper.hold.at(moved, w.hold_widths)[:, 0]
    assert (share < 0.5).any() and (share == 1).any()  # the chin is near the bottom edge
    np.testing.assert_allclose(shown, rest + share[:, None] * (moved - rest), atol=1e-4)


def test_a_head_moved_away_from_the_pictures_edge_stretches_the_band_without_streaks(
        hair_at_edge, basis, monkeypatch):
    """The head dropped 0.05 (the hair away from the top edge of a photo cut through it): in
    a band of HOLD the held map squeezed the hair's top rows into streaks (hundreds of pixels
    showing under a quarter of a portrait pixel each; further, it folds: Audrey). The band
    widens with the motion away from the edge, so none is (each shows 0.3 or more), and where
    nothing moves away the band is HOLD wide, as before."""
    p = hair_at_edge
    f = p.framing
    on = within_crop(on_picture(f.to_crop, f.shape, p.size))[1:-1, 1:-1] > 0
    pose = _moved(p, TY, 0.05)

    def areas() -> np.ndarray:
        r = Renderer(p, basis)
        w = r.warp(pose, p.dynamics)
        face = np.zeros(on.shape, np.uint8)
        cv2.fillConvexPoly(face, cv2.convexHull(np.round(w.landmarks[:, :2]).astype(np.int32)),
                           1)
        return map_area(w.flow)[on & (face == 0)]

    widened = areas()
    monkeypatch.setattr(picture_edge, "MAX_HOLD", picture_edge.HOLD)  # the band never widens
    narrow = areas()
    assert (narrow < 0.25).sum() > 100
    assert widened.min() > 0.3
    still = Renderer(p, basis)
    still.warp(p.pose, p.dynamics)
    assert still.warper.hold_widths is None  # at rest: the HOLD band


def test_a_head_moved_toward_the_pictures_edge_is_not_seen_twice(hair_at_edge, basis):
    """The chin dropped toward the bottom edge of a tight photo: without the hold the paste
    faded the moved chin into the still one and the collar (both seen); held, nothing is."""
    p = hair_at_edge
    paste = PasteBack(p.framing, p.size)
    renderer = Renderer(p, basis)
    pose = _moved(p, TY, 0.05)
    held = ghost_fraction(paste, renderer.render(pose, p.dynamics), renderer.flow)
    renderer.warper.pin(None)
    loose = ghost_fraction(paste, renderer.render(pose, p.dynamics), renderer.flow)
    assert held < 0.001 < loose


def test_the_canvas_slides_into_the_picture_where_it_overhangs():
    """Inside where it fits, covering the whole extent where it does not, else where it was."""
    np.testing.assert_allclose(slide_inside(np.array([50.0, 100.0]), 200, (512, 300)),
                               [100, 100])
    np.testing.assert_allclose(slide_inside(np.array([256.0, 150.0]), 200, (512, 300)),
                               [256, 150])
    np.testing.assert_allclose(slide_inside(np.array([300.0, 326.0]), 531, (512, 512)),
                               [265.5, 265.5])  # over both sides: overhanging each alike


def test_the_canvas_holds_the_top_of_the_head(chin_at_edge, basis):
    """A photo cut under the chin: a crop centred on the face (shrunk toward that edge) cut off
    the top of the head, which then stayed still while the face turned, and the hair sheared
    into a hook (Aya). The canvas now covers the picture, the face where the tracker saw it."""
    p = chin_at_edge
    h, w = p.framing.shape
    on = on_picture(p.framing.to_crop, (h, w), p.size)[1:-1, 1:-1]
    assert on.sum() >= 0.99 * h * w  # every picture pixel (to rounding) is in the crop
    inv = cv2.invertAffineTransform(p.framing.to_crop)
    assert (inv[:, 2] <= 0.5).all()  # the crop's corner at or past the picture's
    frame = PictureRenderer(Renderer(p, basis)).render(p.pose, p.dynamics)
    assert np.abs(frame.astype(int) - p.framing.picture).mean() < 1.0


def test_crop_output_invents_the_border_framed_output_does_not(picture, basis):
    tight = np.ascontiguousarray(picture[40:230, 150:301])
    crop = make_portrait(tight, "tight", 256, basis=basis)
    assert not crop.framed and crop.output_shape == (256, 256)
    assert invented_fraction(crop) > 0.2
    framed = make_portrait(tight, "tight", 256, basis=basis, framed=True)
    assert invented_fraction(framed) == 0.0


def test_a_face_cut_by_the_image_edge_still_renders(picture, basis):
    """The left third of the face is outside the photo."""
    p = make_portrait(np.ascontiguousarray(picture[0:300, 200:451]), "cut", 256, basis=basis,
                      framed=True)
    out = PictureRenderer(Renderer(p, basis))
    for index, offset in MOVES:
        frame = out.render(_moved(p, index, offset), p.dynamics)
        assert frame.shape == (*p.output_shape, 3)
        assert invented_fraction(p, out.renderer.flow) == 0.0
    still = out.render(p.pose, p.dynamics)
    assert np.abs(still.astype(int) - p.framing.picture).mean() < 0.5


def test_a_tilted_face_is_cropped_upright_and_pasted_back_turned(picture, basis):
    import cv2

    from vasa.portrait import ROLL_SNAP_DEG

    turn = cv2.getRotationMatrix2D((226, 125), 25, 1.0)
    tilted = cv2.warpAffine(picture, turn, (512, 512), borderMode=cv2.BORDER_REFLECT)
    p = make_portrait(tilted, "tilted", 256, basis=basis, framed=True)
    assert abs(np.degrees(p.pose[2])) < ROLL_SNAP_DEG  # upright in the crop
    out = PictureRenderer(Renderer(p, basis))
    assert out.paste.shift is None  # resampled through the inverse crop affine
    still = out.render(p.pose, p.dynamics)
    assert np.abs(still.astype(int) - p.framing.picture).mean() < 1.0
    for index, offset in MOVES:
        out.render(_moved(p, index, offset), p.dynamics)
        assert invented_fraction(p, out.renderer.flow) == 0.0


def test_a_large_face_is_rendered_at_the_cap_and_a_small_one_at_the_floor(picture, basis):
    from vasa.portrait import MAX_CROP_PX, MIN_CROP_PX

    big = make_portrait(picture, "big", 2048, basis=basis, framed=True)
    assert big.size == MAX_CROP_PX and big.output_shape == (2048, 2048)
    small = make_portrait(picture, "small", 128, basis=basis, framed=True)
    assert small.size == MIN_CROP_PX and small.output_shape == (128, 128)
    for p in (big, small):  # scaled both ways on the paste, still nothing invented
        frame = PictureRenderer(Renderer(p, basis)).render(_moved(p, SCALE, 0.1 * p.pose[SCALE]),
                                                           p.dynamics)
        assert frame.shape == (*p.output_shape, 3)


def test_crop_mode_is_the_aligned_square_as_before(picture, basis, tracker):
    """--crop: the portrait is today's (`warp_crop` of `crop_transform`, re-tracked) and the
    output is the crop renderer's frame itself."""
    from vasa.latent.face_model import encode_landmarks
    from vasa.portrait import choose_face, crop_transform, detect_faces, warp_crop

    p = make_portrait(picture, "astronaut", 256, basis=basis)
    m = crop_transform(choose_face(detect_faces(tracker, picture), "", None), picture.shape,
                       basis, 256)
    crop = warp_crop(picture, m, 256)
    assert np.array_equal(p.image, crop) and np.array_equal(p.framing.to_crop, m)
    lm = tracker.detect(crop)[0].landmarks
    pose, dynamics, _ = encode_landmarks(lm, basis, 256)
    assert np.array_equal(p.landmarks, lm) and np.array_equal(p.pose, pose)
    assert np.array_equal(p.dynamics, dynamics)
    renderer = Renderer(p, basis)
    assert output_renderer(renderer) is renderer
    with pytest.raises(ValueError, match="framed=True"):
        PictureRenderer(renderer)


def test_crop_generate_writes_the_renderers_frames(tmp_path, tiny_model_file, basis,
                                                    monkeypatch):
    """`vasa generate --crop` writes exactly the crop renderer's frames of the motion it made
    (output_hash style: every frame's bytes); the default writes the picture."""
    from vasa.io import VideoWriter
    from vasa.motion.controls import Controls
    from vasa.pipelines.config import GenerateConfig
    from vasa.pipelines.generate import generate
    from vasa.portrait import load_portrait

    rendered, written = [], []
    finish, write = Renderer.finish, VideoWriter.write

    def hooked_finish(self, w, *rest, **kw):  # every frame's last step (`render`, two at once)
        frame = finish(self, w, *rest, **kw)
        rendered.append((np.array(w.pose), np.array(w.dynamics), frame.copy()))
        return frame

    monkeypatch.setattr(Renderer, "finish", hooked_finish)
    monkeypatch.setattr(VideoWriter, "write",
                        lambda self, frame: (written.append(frame.copy()), write(self, frame))[1])
    wav = ASSETS / "obama_address_8s.mp4"
    cfg = GenerateConfig(size=128, crop=True, model=str(tiny_model_file),
                         controls=Controls(steps=2))
    generate(ASSETS / "astronaut.jpg", wav, tmp_path / "crop.mp4", cfg, progress=False)
    frames = rendered[-len(written):]  # the calibration probes come first
    assert len(written) == 200 and all(f.shape == (128, 128, 3) for f in written)
    monkeypatch.setattr(Renderer, "finish", finish)
    reference = Renderer(load_portrait(ASSETS / "astronaut.jpg", 128, basis=basis), basis)
    for (pose, dynamics, frame), out in zip(frames[::40], written[::40]):
        assert np.array_equal(out, frame)
        assert np.array_equal(out, reference.render(pose, dynamics))
    written.clear()
    cfg.crop = False
    generate(ASSETS / "astronaut.jpg", wav, tmp_path / "framed.mp4", cfg, progress=False)
    assert written[0].shape == (128, 128, 3)  # a square picture: 128 on its long side


def test_a_stream_gives_frames_of_the_pictures_shape(picture, tiny_model, basis):
    from vasa.audio import get_extractor
    from vasa.pipelines.config import StreamConfig
    from vasa.pipelines.stream import StreamSession

    wide = make_portrait(np.ascontiguousarray(picture[0:300, 60:460]), "wide", 128,
                         basis=basis, framed=True)
    session = StreamSession(tiny_model, get_extractor(), wide, basis, StreamConfig(size=128))
    frames = session.push_silence(0.2) + session.flush()
    assert frames and all(f.image.shape == (96, 128, 3) for f in frames)
    with pytest.raises(ValueError, match="square crop.*framed=False"):
        StreamSession(tiny_model, get_extractor(), wide, basis,
                      StreamConfig(size=128, crop=True))
    with pytest.raises(ValueError, match="size=256"):
        StreamSession(tiny_model, get_extractor(), wide, basis, StreamConfig(size=256))
