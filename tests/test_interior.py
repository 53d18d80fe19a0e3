"""The mouth's inside when it opens wider than the portrait's (`render.interior`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vasa.evaluation.interior import WIDE, read_interior, summarise
from vasa.latent import topology as topo
from vasa.latent.face_model import move_lip_gap
from vasa.portrait import load_portrait
from vasa.render import RenderConfig, Renderer
from vasa.render import mouth_crop as mc
from vasa.render.interior import MouthInterior, lip_lines


def _opening(landmarks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """bool (H, W): inside the inner lip contour of pixel landmarks."""
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(landmarks[topo.LIPS_INNER, :2]).astype(np.int32)], 1)
    return mask.astype(bool)


def _luma(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def test_a_smiles_teeth_keep_their_size_as_the_mouth_opens(shared_data, basis):
    """Alex Lacamoire's portrait smiles with its teeth showing. Warped 0.2 eye distances wider
    open, the warp stretches the teeth over the whole opening (a white blob 2-3x their area);
    redrawn, they keep about their own area and the middle of the opening is dark."""
    p = load_portrait(shared_data / "portraits" / "face_recognition__examples__alex-lacamoire.png",
                      512, None, basis, framed=False)
    interior = MouthInterior(p.image, p.landmarks)
    assert interior.active
    source = _opening(p.landmarks, p.image.shape)
    luma = _luma(p.image)
    bright = np.quantile(luma[source], 0.75) * 0.85  # the teeth's brightness
    own_teeth = (luma[source] > bright).sum()
    w = Renderer(p, basis, RenderConfig(mouth=False)).warp(
        p.pose, move_lip_gap(p.talking_rest(basis), 0.2, basis))
    target = _opening(w.landmarks, w.frame.shape)
    assert target.sum() > 2 * source.sum()
    stretched = (_luma(w.frame)[target] > bright).sum()
    redrawn = w.frame.copy()
    columns = interior(redrawn, w.landmarks)  # per column of the mouth crop
    assert columns.max() == 1.0  # fully redrawn in the middle (the refiner keeps it)
    # Towards the corners the portrait's own opening is a slit: those columns stay the
    # stretched warp's, for the refiner to redraw; outside the mouth, nothing.
    assert columns[0] == 0.0 and columns[-1] == 0.0 and ((columns > 0) & (columns < 1)).any()
    kept = (_luma(redrawn)[target] > bright).sum()
    assert stretched > 1.8 * own_teeth
    assert 0.6 * own_teeth < kept < 1.4 * own_teeth
    # The middle of the opening (between the lips, half way) is the cavity: dark.
    lm = w.landmarks
    mid = np.round(0.5 * (lm[13, :2] + lm[14, :2])).astype(int)
    assert _luma(redrawn)[mid[1], mid[0]] < 0.5 * bright
    # The whole renderer (the refiner after the redraw) keeps them: no blob, a dark middle.
    full = Renderer(p, basis, RenderConfig()).render(
        p.pose, move_lip_gap(p.talking_rest(basis), 0.2, basis))
    assert (_luma(full)[target] > bright).sum() < 1.4 * own_teeth
    assert _luma(full)[mid[1], mid[0]] < 0.5 * bright
    # The columns the redraw leaves (towards the corners) are the refiner's to redraw: it
    # changes them (24 levels on average; 0.2 when it was kept off the whole opening by the
    # most redrawn column), and leaves the redrawn ones as they are.
    a = mc.mouth_affine(w.landmarks)
    inner = mc.lip_masks(mc.lip_points(w.landmarks, a))[1] > 0.5
    left, kept = inner & (columns < 0.5)[None, :], inner & (columns == 1.0)[None, :]
    change = np.abs(mc.crop(full, a).astype(np.float32) - mc.crop(redrawn, a)).mean(-1)
    assert left.sum() > 50 and change[left].mean() > 10
    assert change[kept].mean() < 1
    # Outside the opening's box nothing changes.
    ys, xs = np.nonzero(target)
    box = np.zeros(target.shape, bool)
    box[ys.min() - 3:ys.max() + 4, xs.min() - 3:xs.max() + 4] = True
    assert np.array_equal(redrawn[~box], w.frame[~box])


def test_a_closed_mouth_or_an_unstretched_opening_is_left_to_the_warp(shared_data, astronaut,
                                                                     basis):
    """Trump's lips are together: nothing of its own to keep, nothing is drawn. The
    astronaut's smile, rendered as it is, is not stretched: the warp's pixels stand."""
    p = load_portrait(shared_data / "portraits" / "Audio2Head__demo__img__trump.jpg", 512, None,
                      basis, framed=False)
    interior = MouthInterior(p.image, p.landmarks)
    assert not interior.active
    w = Renderer(p, basis, RenderConfig(mouth=False)).warp(
        p.pose, move_lip_gap(p.talking_rest(basis), 0.2, basis))
    frame = w.frame.copy()
    assert not interior(frame, w.landmarks).any()
    assert np.array_equal(frame, w.frame)
    smile = MouthInterior(astronaut.image, astronaut.landmarks)
    assert smile.active
    w = Renderer(astronaut, basis, RenderConfig(mouth=False)).warp(astronaut.pose,
                                                                   astronaut.dynamics)
    frame = w.frame.copy()
    assert not smile(frame, w.landmarks).any()
    assert np.array_equal(frame, w.frame)


def test_a_wide_opening_with_no_teeth_of_its_own_is_dark_inside(shared_data, basis):
    """The "sad" portrait's lips are together: opened 0.25 eye distances, the refiner alone
    fills the opening with a lip-coloured blur (its core read at 0.8-0.9 of the lips' luma).
    With the interior its core is the cavity's dark, the lips are as the refiner drew them, and
    a middling opening (0.05) is left to the refiner (its colour aside: `whiten`, below)."""
    p = load_portrait(shared_data / "portraits" / "AniTalker__test_demos__portraits__sad.jpg",
                      512, None, basis, framed=False)
    assert not MouthInterior(p.image, p.landmarks).active  # nothing to keep: no redraw
    wide = move_lip_gap(p.talking_rest(basis), 0.25, basis)
    plain = Renderer(p, basis, RenderConfig(interior=False))
    drawn = Renderer(p, basis, RenderConfig(whiten=False))
    w = plain.warp(p.pose, wide)
    before = read_interior(plain.render(p.pose, wide), w.landmarks)
    after = read_interior(drawn.render(p.pose, wide), w.landmarks)
    assert after.opening > WIDE
    assert before.core_ratio > 0.7
    assert after.core_ratio < 0.6 * before.core_ratio
    # Away from the opening, the two renderers agree to the pixel.
    a, b = plain.render(p.pose, wide), drawn.render(p.pose, wide)
    ys, xs = np.nonzero(_opening(w.landmarks, a.shape))
    box = np.zeros(a.shape[:2], bool)
    box[ys.min() - 2:ys.max() + 3, xs.min() - 2:xs.max() + 3] = True
    assert np.array_equal(a[~box], b[~box])
    middling = move_lip_gap(p.talking_rest(basis), 0.05, basis)
    assert np.array_equal(plain.render(p.pose, middling), drawn.render(p.pose, middling))


def test_a_wide_opening_reads_teeth_dark_and_tongue_from_top_to_bottom(shared_data, basis):
    """A real mouth opened wide is light at the top (the upper teeth), darkest under them and
    light and coloured at the bottom (the tongue; held-out speakers' lower third 0.82-1.00 of
    the lips' colour but for one whose lower teeth show). The "sad" portrait opened 0.25 past
    its talking rest: the middle third is the darkest, the lower one keeps the lips' colour
    (whitened whole, it read as a grey ring of teeth round a dark bar, a mouth guard), and the
    teeth's colour is given to the upper third only."""
    p = load_portrait(shared_data / "portraits" / "AniTalker__test_demos__portraits__sad.jpg",
                      512, None, basis, framed=False)
    wide = move_lip_gap(p.talking_rest(basis), 0.25, basis)
    pink = Renderer(p, basis, RenderConfig(whiten=False))
    lm = pink.warp(p.pose, wide).landmarks
    drawn = read_interior(pink.render(p.pose, wide), lm).bands
    full = read_interior(Renderer(p, basis, RenderConfig()).render(p.pose, wide), lm).bands
    (upper, middle, lower), colour = full
    assert middle < 0.8 * upper and middle < 0.5 * lower
    assert colour[2] > 0.9  # the tongue: the lips' colour, not grey
    np.testing.assert_allclose(full[:, 2], drawn[:, 2], atol=0.02)  # not whitened
    assert colour[0] < 0.8 * drawn[1, 0]  # the upper teeth are


def test_the_light_inside_of_an_opening_with_no_teeth_of_its_own_is_not_lip_coloured(
        shared_data, basis):
    """Opened 0.05 eye distances past its talking rest (0.15 in all), the "sad" portrait's
    refined opening is the lips' pink and dim (its upper third's chroma 0.85-0.9 of the lips';
    a real speaker's teeth read 0.4-0.9 of the skin's): whitened, the upper teeth's band takes
    the teeth's tint (under 0.8 of the lips': 0.67 with the first refiner, 0.72 with the
    texture-trained one, whose band holds darker tooth edges that are whitened less) and a
    little more light (real teeth are lighter than the lips), the lower third (the tongue's; real ones 0.82-1.0 of the lips' colour but
    for one speaker's lower teeth) keeps its colour, and nothing outside the opening changes.
    A black-and-white portrait has no colour to take out: it stays grey, and its light inside
    gets the light alone."""
    p = load_portrait(shared_data / "portraits" / "AniTalker__test_demos__portraits__sad.jpg",
                      512, None, basis, framed=False)
    middling = move_lip_gap(p.talking_rest(basis), 0.05, basis)
    pink = Renderer(p, basis, RenderConfig(whiten=False))
    lm = pink.warp(p.pose, middling).landmarks
    a = pink.render(p.pose, middling)
    b = Renderer(p, basis, RenderConfig()).render(p.pose, middling)
    before, after = read_interior(a, lm), read_interior(b, lm)
    assert 0.08 < before.opening < WIDE
    (l0, _, _), (c0, _, lower0) = before.bands
    (l1, _, _), (c1, _, lower1) = after.bands
    assert c0 > 0.8
    assert c1 < 0.8 and c1 < 0.9 * c0
    assert l0 < l1 < 1.25 * l0
    assert lower1 == pytest.approx(lower0, abs=0.02)
    ys, xs = np.nonzero(_opening(lm, a.shape))
    box = np.zeros(a.shape[:2], bool)
    box[ys.min() - 2:ys.max() + 3, xs.min() - 2:xs.max() + 3] = True
    assert np.array_equal(a[~box], b[~box])
    # A black-and-white portrait stays grey: only the light is added.
    grey = load_portrait(shared_data / "portraits" / "MakeItTalk__examples__audrey.jpg", 512,
                         None, basis, framed=False)
    opened = move_lip_gap(grey.talking_rest(basis), 0.05, basis)
    g0 = Renderer(grey, basis, RenderConfig(whiten=False)).render(grey.pose, opened)
    g1 = Renderer(grey, basis, RenderConfig()).render(grey.pose, opened)
    spread = lambda im: int(np.ptp(im.astype(np.int16), axis=2).max())
    assert spread(g0) == spread(g1) == 0
    assert not np.array_equal(g0, g1) and _luma(g1).sum() > _luma(g0).sum()


def test_a_slit_that_shows_teeth_opens_to_teeth_dark_and_tongue_not_a_white_fog(shared_data,
                                                                              basis):
    """Taylor Swift's portrait parts its lips on a slit of white teeth, too thin to keep
    (under OWN_START). Stretched by the warp, the teeth filled an opening 0.22 eye distances
    wide with white, which the refiner drew as a milky fog (its middle third 0.85 of the lips'
    luma, its bottom grey). Cleared under the upper teeth's band before the refiner, the
    opening reads upper teeth, dark, tongue: the middle third under 0.6 of the lips' luma and
    darker than the fog (the first refiner's fog read 0.85 and cleared 0.57; the
    texture-trained refiner draws less fog, 0.68, and clears to 0.49), the upper teeth as
    light as before, the bottom more coloured. A dark slit (s1) and shut lips
    (Trump) are not cleared."""
    portraits = shared_data / "portraits"
    p = load_portrait(portraits / "V-Express__test_samples__short_case__tys__ref.jpg", 512,
                      None, basis, framed=False)
    cleared = Renderer(p, basis, RenderConfig())
    assert not cleared.interior.active and cleared.interior.slit_teeth == 1.0
    fog = Renderer(p, basis, RenderConfig())
    fog.interior.slit_teeth = 0.0  # the renderer before
    wide = move_lip_gap(p.talking_rest(basis), 0.15, basis)
    lm = cleared.warp(p.pose, wide).landmarks
    a, b = cleared.render(p.pose, wide), fog.render(p.pose, wide)
    (up1, mid1, low1), (_, _, colour1) = read_interior(a, lm).bands
    (up0, mid0, _), (_, _, colour0) = read_interior(b, lm).bands
    assert read_interior(a, lm).opening > 0.2
    assert mid1 < 0.6 and mid1 < 0.8 * mid0 and mid1 < 0.5 * min(up1, low1)
    assert up1 == pytest.approx(up0, rel=0.1)
    assert colour1 > colour0 + 0.05
    # The refiner redraws the lips round it from what it is given (a few levels); nothing
    # changes further than half the mouth's width from the opening.
    inside = _opening(lm, a.shape)
    ys, xs = np.nonzero(inside)
    grow = (xs.max() - xs.min()) // 2
    box = np.zeros(a.shape[:2], bool)
    box[ys.min() - grow:ys.max() + grow, xs.min() - grow:xs.max() + grow] = True
    assert np.array_equal(a[~box], b[~box])
    assert np.abs(a.astype(np.int16) - b)[~inside].mean() < 1
    for name in ("LivePortrait__assets__examples__source__s1.jpg",
                 "Audio2Head__demo__img__trump.jpg"):
        other = load_portrait(portraits / name, 512, None, basis, framed=False)
        assert MouthInterior(other.image, other.landmarks).slit_teeth == 0.0


def test_an_open_mouths_teeth_are_cleared_only_where_the_redraw_does_not_keep_them(astronaut,
                                                                                  basis):
    """The astronaut's smile shows its teeth (`slit_teeth` 0.93) and is open enough to keep them
    (`active`): opened 0.3 eye distances, `clear_slit` darkens the stretched teeth only in the
    columns whose own opening is too thin to redraw in full (towards the corners), never in
    the middle, where the redraw keeps her teeth, nor in the upper teeth's band."""
    interior = MouthInterior(astronaut.image, astronaut.landmarks)
    assert interior.active and interior.slit_teeth > 0.9
    w = Renderer(astronaut, basis, RenderConfig(mouth=False)).warp(
        astronaut.pose, move_lip_gap(astronaut.talking_rest(basis), 0.3, basis))
    cleared = w.frame.copy()
    assert interior.clear_slit(cleared, w.landmarks) > 0.5
    a = mc.mouth_affine(w.landmarks)
    before, after = mc.crop(w.frame, a).astype(np.int16), mc.crop(cleared, a).astype(np.int16)
    darker = (_luma(before) - _luma(after)) > 8
    upper, _ = lip_lines(mc.lip_points(w.landmarks, a))
    share = (np.arange(mc.CROP) - upper[0, 0]) / (upper[-1, 0] - upper[0, 0])
    redrawn = interior._column_strength(np.arange(mc.CROP, dtype=np.float64), upper,
                                        lip_lines(mc.lip_points(w.landmarks, a))[1])
    assert darker[:, (redrawn > 0.99)].sum() == 0  # kept whole by the redraw: untouched
    assert darker[:, (share > 0.05) & (share < 0.3)].sum() > 20  # towards a corner: cleared
    # The upper teeth's band (under the upper lip) keeps the warp's teeth.
    top = np.interp(np.arange(mc.CROP), upper[:, 0], upper[:, 1])
    band = np.arange(mc.CROP)[:, None] < top[None, :] + 4
    assert darker[band].sum() == 0


def test_the_summary_reads_wide_and_middling_openings_apart():
    """Medians of the core ratio at wide (>= WIDE), middling (MIDDLING..WIDE) and slit
    (SLIT..MIDDLING) openings, unread frames (nan) left out, and n/a where a video has no such
    frame."""
    readings = np.array([[0.20, 0.4], [0.30, 0.5], [0.16, np.nan], [0.10, 1.2], [0.12, 1.0],
                         [0.02, np.nan]])
    s = summarise(readings)
    assert s.frames == 6 and s.wide_share == pytest.approx(0.5)
    assert (s.wide, s.wide_frames) == (pytest.approx(0.45), 2)
    assert (s.middling, s.middling_frames) == (pytest.approx(1.1), 2)
    assert s.middling_colour is None  # (T, 2) readings: no colour
    assert (s.slit, s.slit_frames) == (None, 0)  # 0.02 IOD: under SLIT
    shut = summarise(np.array([[0.01, np.nan], [0.02, np.nan]]))
    assert shut.wide is None and shut.middling is None and shut.wide_share == 0.0
    slits = summarise(np.array([[0.04, 0.5], [0.06, 0.7], [0.07, np.nan], [0.09, 1.4]]))
    assert (slits.slit, slits.slit_frames) == (pytest.approx(0.6), 2)
    coloured = summarise(np.array([[0.10, 1.2, 0.9], [0.12, 1.0, np.nan], [0.11, 1.1, 0.5],
                                   [0.20, 0.4, 0.2]]))
    assert coloured.middling_colour == pytest.approx(0.7)  # middling frames read, nan left out
    assert coloured.bands is None  # no thirds read
    # With the thirds (luma x3, colour x3): medians over the frames opened WIDE or more.
    thirds = np.array([[0.20, 1.0, 0.5, 1.2, 0.3, 1.0, 0.6, 0.8, 1.0],
                       [0.30, 0.4, 0.4, 1.0, 0.1, 1.2, 0.8, 0.6, np.nan],
                       [0.10, 0.9, 0.5, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0]])
    np.testing.assert_allclose(summarise(thirds).bands,
                               [[1.1, 0.2, 1.1], [0.7, 0.7, 1.0]])


def test_an_opening_with_no_teeth_of_its_own_is_no_brighter_than_a_real_mouths(shared_data,
                                                                                basis):
    """Angelina Jolie's portrait has its pale lips together. Opened a little, the refiner drew
    the teeth fully lit: a glowing white line, the core 1.3x the lips' luma and more. Real
    held-out speakers' teeth sit in the lips' shadow (at most 0.76x at 0.02-0.05 eye distances,
    1.07x at 0.05-0.08): after the refiner the inside is held under SHADE_LIGHT for its
    opening, and its light keeps the teeth's warmth (it does not turn grey-green)."""
    from vasa.render.interior import SHADE_AT, SHADE_LIGHT

    p = load_portrait(shared_data / "portraits" /
                      "dreamtalk__data__src_img__uncropped__uncut_src_img.jpg", 512, None, basis,
                      framed=False)
    for change in (-0.04, -0.02):  # past the talking rest: 0.05 and 0.07 eye distances open
        opened = move_lip_gap(p.talking_rest(basis), change, basis)
        bare = Renderer(p, basis, RenderConfig(interior=False))
        lm = bare.warp(p.pose, opened).landmarks
        glow = read_interior(bare.render(p.pose, opened), lm)
        frame = Renderer(p, basis, RenderConfig()).render(p.pose, opened)
        shaded = read_interior(frame, lm)
        ceiling = float(np.interp(shaded.opening * mc.PX_PER_IOD, SHADE_AT, SHADE_LIGHT))
        assert glow.core_ratio > ceiling + 0.15
        assert shaded.core_ratio < ceiling + 0.1
        inside = frame[_opening(lm, frame.shape)].astype(np.float32).mean(0)
        assert inside[0] >= inside[1] >= inside[2] - 2  # warm, not grey-green
