"""The person matte (issue 13): made once per portrait from its face landmarks; with it the
picture output's backdrop never moves and what the head uncovers shows the filled plate.
Real input: the bundled portrait, as the pipelines load it (the picture, 512 px)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vasa.latent.motion import PITCH, YAW
from vasa.render import RenderConfig, Renderer
from vasa.render.matte import MIRROR_REACH, check_mask, fill_background, make_plate, person_matte
from vasa.render.paste import PasteBack, PictureRenderer

MOVES = [{YAW: 0.35}, {YAW: -0.35}, {PITCH: 0.18, YAW: 0.2}]  # about 20 and 10 degrees


def _face_points(portrait) -> np.ndarray:
    """(478, 2) the landmarks in the picture's pixels (they are kept in the crop's)."""
    inv = cv2.invertAffineTransform(portrait.framing.to_crop)
    return portrait.landmarks[:, :2] @ inv[:, :2].T + inv[:, 2]


def _face_hull(portrait) -> np.ndarray:
    """(H, W) bool: the landmarks' convex hull in the picture."""
    face = _face_points(portrait)
    mask = np.zeros(portrait.output_shape, np.uint8)
    cv2.fillPoly(mask, [np.round(cv2.convexHull(face.astype(np.float32))[:, 0]).astype(np.int32)],
                 1)
    return mask > 0


def _posed(portrait, move: dict[int, float]) -> np.ndarray:
    pose = portrait.pose.copy()
    for index, offset in move.items():
        pose[index] += offset
    return pose


@pytest.fixture(scope="module")
def matte(astronaut_framed):
    p = astronaut_framed
    m, why = person_matte(p.framing.picture, p.landmarks, p.framing.to_crop)
    assert why is None, why
    return m


def test_the_matte_holds_the_face_and_not_the_corners(astronaut_framed, matte):
    p = astronaut_framed
    assert matte.alpha.shape == p.output_shape and matte.alpha.dtype == np.float32
    assert (matte.alpha[_face_hull(p)] > 0.5).mean() > 0.99
    for corner in (np.s_[:24, :24], np.s_[:24, -24:]):  # sky and flag above the shoulders
        assert matte.alpha[corner].max() < 0.02
    # The plate is the picture wherever the person was not.
    assert np.array_equal(matte.plate[~matte.hole], p.framing.picture[~matte.hole])


def test_an_implausible_mask_is_refused(astronaut_framed):
    p = astronaut_framed
    everything = np.ones(p.output_shape, bool)
    assert "covers" in check_mask(everything, p.landmarks, p.framing.to_crop)
    faceless = everything.copy()
    faceless[: p.output_shape[0] // 2] = False  # the top half: the face is cut off
    faceless[:, : p.output_shape[1] // 2] = False
    assert "face" in check_mask(faceless, p.landmarks, p.framing.to_crop)
    no_hair = _face_hull(p)  # the face and the body, not the hair round the face
    no_hair[p.output_shape[0] * 3 // 4:] = True
    assert "surround" in check_mask(no_hair, p.landmarks, p.framing.to_crop)


def test_a_matte_that_cuts_the_face_out_of_its_hair_is_refused(shared_data):
    """Audrey: black hair on a dark backdrop. GrabCut keeps her face and gives the hair to the
    backdrop; with that matte the head slides over still hair and leaves a grey ghost of
    itself in the plate. Refused, the renderer moves the hair with the head as without one."""
    from vasa.portrait import load_portrait

    p = load_portrait(shared_data / "portraits" / "MakeItTalk__examples__audrey.jpg", 512,
                      framed=True)
    m, why = person_matte(p.framing.picture, p.landmarks, p.framing.to_crop)
    assert m is None and "surround" in why


def test_a_backdrop_the_shade_of_the_hair_above_the_head_stays_backdrop(shared_data):
    """AOC: dark hair under a dark blue drape, the flag either side. Seeded as likely person
    from the top edge down (the grown prior covers a close-up's top), the drape went with the
    hair, moved with the head and left the plate's grey smear beside it in every frame."""
    from vasa.portrait import load_portrait

    p = load_portrait(shared_data / "portraits" / "V-Express__test_samples__short_case__AOC__ref.jpg",
                      512, framed=True)
    m, why = person_matte(p.framing.picture, p.landmarks, p.framing.to_crop)
    assert why is None, why
    face = _face_points(p)
    top = int(face[:, 1].min())  # the face's top (forehead) in the picture
    x0, x1 = int(face[:, 0].min()), int(face[:, 0].max())
    assert m.alpha[:top // 3, x0:x1].mean() < 0.1  # the drape at the picture's top
    assert m.alpha[top - 10:top, (x0 + x1) // 2 - 20:(x0 + x1) // 2 + 20].mean() > 0.9  # hair


def test_the_fill_continues_the_surrounding_colour():
    picture = np.zeros((64, 96, 3), np.uint8)
    picture[:, :48] = (200, 40, 40)
    picture[:, 48:] = (40, 40, 200)
    hole = np.zeros((64, 96), bool)
    hole[20:44, 30:66] = True
    filled = fill_background(picture, hole)
    assert np.array_equal(filled[~hole], picture[~hole])
    assert filled[32, 31, 0] > 150 and filled[32, 64, 2] > 150  # each side keeps its colour


def test_the_plate_continues_the_backdrops_texture_beside_the_hole():
    """Stripes beside a hole with a straight edge (a backdrop of curls, a flag): the smooth
    fill draws a flat smudge there, the plate the stripes again (reflected across the edge,
    meeting the backdrop without a seam); deeper than MIRROR_REACH it is the smooth fill."""
    picture = np.zeros((120, 200, 3), np.uint8)
    picture[:, :, :] = np.where(np.arange(200) % 8 < 4, 200, 40)[None, :, None]
    hole = np.zeros((120, 200), bool)
    hole[:, 100:] = True
    face_px = 100.0  # the stripes are then reflected to 8 px deep, faded out by 16
    smooth, plate = fill_background(picture, hole), make_plate(picture, hole, face_px)
    assert np.array_equal(plate[~hole], picture[~hole])
    band = np.s_[40:80, 100:100 + int(MIRROR_REACH * face_px / 2)]

    def contrast(image: np.ndarray) -> float:
        return float(image[band].astype(np.float32).std())

    assert contrast(plate) > 50
    assert contrast(smooth) < 15
    # Mirrored about the last pixel outside: the first ones inside repeat those before it.
    np.testing.assert_array_equal(plate[60, 100:104], picture[60, 98:94:-1])
    deep = np.s_[40:80, 100 + int(MIRROR_REACH * face_px) + 2:]
    np.testing.assert_allclose(plate[deep], smooth[deep], atol=1)


def test_a_head_is_filled_from_the_backdrop_beside_it_not_below_the_shoulders():
    """A head (a disc) on a body that runs to the picture's bottom edge, over a light backdrop
    that is dark below the shoulders (the astronaut's flag and desk): the fill where a turned
    head would uncover takes the light backdrop around the head."""
    picture = np.full((200, 200, 3), 210, np.uint8)
    picture[120:] = (90, 10, 20)  # below the shoulders
    hole = np.zeros((200, 200), bool)
    cv2.circle(hole.view(np.uint8), (100, 70), 40, 1, -1)
    hole[100:, 40:160] = True  # the body
    filled = fill_background(picture, hole)
    head = np.zeros_like(hole)
    cv2.circle(head.view(np.uint8), (100, 70), 40, 1, -1)
    head[95:] = False  # the head's upper part, beside the light backdrop
    assert filled[head].min() > 190, filled[head].min()


def test_the_backdrop_does_not_move(astronaut_framed, matte, basis):
    p = astronaut_framed
    picture = p.framing.picture
    renderer = Renderer(p, basis, RenderConfig(refiner=False))
    with_matte = PictureRenderer(renderer)
    without = PasteBack(p.framing, p.size)
    # Backdrop pixels more than 10 px from the person's edge.
    backdrop = cv2.dilate((matte.alpha > 0.02).astype(np.uint8), np.ones((21, 21), np.uint8)) == 0
    moved_before = uncovered_seen = 0
    for move in MOVES:
        frame = with_matte.render(_posed(p, move), p.dynamics)
        covered = np.zeros(p.output_shape, bool)  # where the turned person now is
        covered[with_matte.paste.roi] = with_matte.paste.to_picture(renderer.carried) > 0
        still = backdrop & ~covered
        assert still.mean() > 0.2
        assert np.array_equal(frame[still], picture[still])
        # The same crop pasted without the matte drags the backdrop beside the head.
        old = without(renderer.render(_posed(p, move), p.dynamics), renderer.flow)
        moved_before += int((np.abs(old.astype(int) - picture)[still].max(1) > 3).sum())
        # Where the person was and no longer is, the plate shows, not the old head.
        uncovered = np.zeros(p.output_shape, bool)
        uncovered[with_matte.paste.roi] = ((with_matte.paste.alpha_roi > 250)
                                           & (with_matte.paste.to_picture(renderer.carried) < 5))
        full = with_matte.paste.to_picture(with_matte.paste.weights(renderer.flow)) > 0.99
        uncovered[with_matte.paste.roi] &= full  # not where the paste fades to the picture
        if uncovered.sum() > 50:
            err_plate = np.abs(frame.astype(int) - matte.plate)[uncovered].mean()
            err_still = np.abs(frame.astype(int) - picture)[uncovered].mean()
            assert err_plate < err_still
            uncovered_seen += 1
    assert moved_before > 300 and uncovered_seen


def test_a_turned_head_leaves_no_outline_of_its_still_edge(astronaut_framed, matte, basis):
    """Behind the moved head's soft edge, where the still person was and the moved one is
    not, lies the plate: the still face's edge does not show through as an outline."""
    p = astronaut_framed
    renderer = Renderer(p, basis, RenderConfig(refiner=False))
    out = PictureRenderer(renderer)
    paste = out.paste
    checked = 0
    for move in MOVES:
        out.render(_posed(p, move), p.dynamics)
        w = paste.to_picture(paste.weights(renderer.flow))
        moved = paste.to_picture(renderer.carried)
        _, behind = paste._through_matte(w, renderer.carried)
        left = (paste.alpha_roi > 192) & (moved < 64) & (w > 0.99)
        assert left.sum() > 50
        assert (np.abs(behind.astype(int) - paste.plate_roi)[left].max(1) <= 1).mean() > 0.99
        checked += 1
    assert checked == len(MOVES)


def test_at_rest_the_matte_changes_nothing_outside_the_face(astronaut_framed, matte, basis):
    p = astronaut_framed
    plain = PictureRenderer(Renderer(p, basis, RenderConfig(refiner=False, matte=False)))
    matted = PictureRenderer(Renderer(p, basis, RenderConfig(refiner=False)))
    a, b = (r.render(p.pose, p.dynamics) for r in (plain, matted))
    outside = ~cv2.dilate(_face_hull(p).astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert np.abs(a.astype(int) - b)[outside].max() <= 2


def test_the_off_switch_pastes_the_crop_as_before(astronaut_framed, basis):
    p = astronaut_framed
    renderer = Renderer(p, basis, RenderConfig(refiner=False, matte=False))
    out = PictureRenderer(renderer)
    assert out.paste.matte is None and renderer.carried is None
    pose = _posed(p, MOVES[0])
    frame = out.render(pose, p.dynamics)
    expected = PasteBack(p.framing, p.size)(renderer.render(pose, p.dynamics), renderer.flow)
    assert np.array_equal(frame, expected)


def test_a_carried_plane_leaves_the_frame_as_it_was(astronaut_framed, basis):
    p = astronaut_framed
    renderer = Renderer(p, basis, RenderConfig(refiner=False, matte=False))
    pose = _posed(p, MOVES[2])
    plain = renderer.render(pose, p.dynamics)
    plane = np.tile(np.arange(p.size, dtype=np.uint8)[None], (p.size, 1))  # x, wrapped at 256
    renderer.carry(plane)
    assert np.array_equal(renderer.render(pose, p.dynamics), plain)
    expected = cv2.remap(plane, renderer.flow, None, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    if renderer.warper.edges is not None:  # occlusion edges: sampled as the frame's are
        renderer.warper.edges.antialias(expected, plane)
    assert np.array_equal(renderer.carried, expected)
    with pytest.raises(ValueError, match="uint8"):
        renderer.carry(plane.astype(np.float32))


def test_the_command_line_turns_it_off():
    from vasa.cli import _generate_config, _reenact_config, build_parser

    parser = build_parser()
    for argv, make in ((["generate", "p.jpg", "a.wav", "-o", "o.mp4"], _generate_config),
                       (["reenact", "p.jpg", "d.mp4", "-o", "o.mp4"], _reenact_config)):
        assert make(parser.parse_args(argv)).render.matte
        assert not make(parser.parse_args([*argv, "--no-matte"])).render.matte


def test_the_matte_made_beside_the_calibration_is_the_one_made_alone(astronaut_framed, basis):
    """The pipelines make the matte on a thread while the mouth and lid probes render
    (calibrate.calibrated_output): the same matte, responses and frames as one after the
    other; with the matte off, none is made."""
    from vasa.pipelines.calibrate import calibrated_output, mouth_and_lid_response
    from vasa.render.paste import picture_matte

    p = astronaut_framed
    both = Renderer(p, basis, RenderConfig(refiner=False))
    output, mouth, lids = calibrated_output(p, both, basis)
    alone = Renderer(p, basis, RenderConfig(refiner=False))
    expected = PictureRenderer(alone)
    assert (mouth, lids) == mouth_and_lid_response(p, alone, basis)
    assert np.array_equal(output.paste.matte.alpha, expected.paste.matte.alpha)
    assert np.array_equal(output.paste.matte.plate, expected.paste.matte.plate)
    pose = _posed(p, MOVES[0])
    assert np.array_equal(output.render(pose, p.dynamics), expected.render(pose, p.dynamics))
    assert picture_matte(Renderer(p, basis, RenderConfig(refiner=False, matte=False))) is None
