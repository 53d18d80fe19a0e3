"""A far cheek turned into view takes the near cheek's detail (render.reveal), measured by the
streak ratio (evaluation.streaks)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vasa.evaluation.streaks import streak_ratio, stretch_of
from vasa.render.reveal import mirror_points


def test_mirror_points_pair_the_two_sides(basis):
    mirror = mirror_points(basis.template)
    assert np.array_equal(mirror[mirror], np.arange(len(mirror)))  # an involution
    for right, left in ((33, 263), (61, 291), (234, 454)):  # eye and mouth corners, cheeks
        assert mirror[right] == left and mirror[left] == right
    assert mirror[1] == 1  # the nose tip lies on the midline


def test_the_portrait_at_rest_is_untouched(astronaut, astronaut_renderer):
    r = astronaut_renderer
    assert r.reveal is not None  # on by default
    dst, _ = r.mesh_frame(astronaut.pose, astronaut.dynamics)
    assert not r.reveal.weights(dst).any()


@pytest.fixture(scope="module")
def turned(tmp_path_factory, astronaut, astronaut_renderer, basis):
    """The astronaut rendered 25 degrees turned and loaded as a portrait: its far cheek is a
    thin band along the outline."""
    from vasa.portrait import load_portrait

    pose = astronaut.pose.copy()
    pose[1] += np.radians(25)
    path = tmp_path_factory.mktemp("reveal") / "turned.png"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut_renderer.render(pose, astronaut.dynamics),
                                        cv2.COLOR_RGB2BGR))
    return load_portrait(path, 256, basis=basis)


def test_a_far_cheek_turned_into_view_loses_its_streaks(turned, basis):
    from vasa.render import RenderConfig, Renderer

    plain = Renderer(turned, basis, RenderConfig(reveal=False))
    filled = Renderer(turned, basis)
    back = turned.pose.copy()
    back[1] -= np.radians(25)
    before = plain.render(back, turned.dynamics)
    after = filled.render(back, turned.dynamics)
    dst, _ = filled.mesh_frame(back, turned.dynamics)
    assert filled.reveal.weights(dst).max() == 1.0  # some triangles are fully redrawn
    stretch = stretch_of(filled, dst)
    assert stretch.mask.sum() > 200
    assert streak_ratio(after, stretch) < 0.8 * streak_ratio(before, stretch)  # 1.69 vs 2.42
    # Only around the stretched cheek: the rest of the frame is the plain warp's.
    ys, xs = np.nonzero(np.any(after != before, axis=2))
    my, mx = np.nonzero(stretch.mask)
    assert xs.min() >= mx.min() - 40 and xs.max() <= mx.max() + 40
    assert ys.min() >= my.min() - 40 and ys.max() <= my.max() + 40


def test_a_second_source_map_matches_the_flow_where_it_maps_the_same(astronaut,
                                                                     astronaut_renderer):
    """`MeshWarper.map_of` upsamples a box of the last flow's triangle map exactly as `flow`
    upsamples the whole map: given each triangle's own affine map it gives the flow back."""
    from vasa.render.warp import affine_maps

    r = astronaut_renderer
    dst, depth = r.mesh_frame(astronaut.pose, astronaut.dynamics)
    flow = r.warper.flow(dst, r.src, depth)  # one sheet at rest: no exact edges
    rows = np.arange(0, len(r.tris), 7)
    box = r.warper.box(100, 150, 300, 260)
    again = r.warper.map_of(rows, affine_maps(dst, r.src, r.tris)[rows], box)
    assert again.shape == (110, 200, 2)
    # cv2.remap weighs neighbours in 1/32 steps where cv2.resize does not: 0.04 px at most
    assert np.abs(again - flow[box.full]).max() < 0.05
