"""How the upper teeth read across an open mouth (`evaluation.teeth_band`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vasa.evaluation.teeth_band import BINS, read_band, summarise
from vasa.latent.face_model import move_lip_gap
from vasa.portrait import load_portrait
from vasa.render import RenderConfig, Renderer


def test_real_teeth_read_texture_a_blurred_band_does_not_and_shut_lips_are_not_read(
        astronaut, shared_data, basis):
    """The astronaut's smile shows her real teeth: their edges read as texture across the
    band, which blurring across the mouth takes away; a band lighter than the lips reads over 1
    at the midline. A portrait with its lips together has no band to read; opened by the
    renderer, it has one."""
    teeth = read_band(astronaut.image, astronaut.landmarks)
    assert teeth is not None and teeth.profile.shape == (BINS,)
    assert teeth.texture > 0.04 and teeth.profile[0] > 1.0
    blurred = cv2.GaussianBlur(astronaut.image, (0, 0), sigmaX=3, sigmaY=0.1)
    assert read_band(blurred, astronaut.landmarks).texture < teeth.texture / 3
    p = load_portrait(shared_data / "portraits" / "LivePortrait__assets__examples__source__s1.jpg",
                      512, None, basis, framed=False)
    assert read_band(p.image, p.landmarks) is None
    opened = move_lip_gap(p.talking_rest(basis), 0.1, basis)
    r = Renderer(p, basis, RenderConfig())
    assert read_band(r.render(p.pose, opened), r.warp(p.pose, opened).landmarks) is not None


def test_the_summary_takes_medians_and_the_fall_off_over_the_middle():
    from vasa.evaluation.teeth_band import BandReading
    a = BandReading(np.array([1.2, 1.0, 0.6, 0.4, np.nan, np.nan]), 0.05)
    b = BandReading(np.array([1.0, 0.8, 0.6, np.nan, np.nan, np.nan]), 0.03)
    c = BandReading(np.array([1.4, 1.2, 0.6, 0.2, np.nan, np.nan]), np.nan)
    s = summarise([a, b, c])
    assert s.frames == 3
    np.testing.assert_allclose(s.profile[:4], [1.2, 1.0, 0.6, 0.3])
    np.testing.assert_allclose(s.falloff[:3], [1.0, 1.0 / 1.2, 0.5])
    assert np.isnan(s.profile[4]) and s.texture == pytest.approx(0.04)
    assert summarise([]).frames == 0
