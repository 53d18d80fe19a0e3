"""Geometry that cannot tear (issue 13): the fold counter, and a mesh that does not fold when the
head turns, nods, or turns back from a three-quarter view."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import ASSETS, open_direction

from vasa.evaluation.folds import count_folds, flipped_triangles
from vasa.render.mesh import facing, signed_areas
from vasa.render.warp import affine_maps

# A big triangle over a small one, plus a free triangle off to the side (x right, y down).
SRC = np.array([[0, 0], [100, 0], [0, 100],  # big: 0 1 2
                [20, 20], [40, 20], [20, 40],  # small, under the big one: 3 4 5
                [150, 150], [190, 150], [150, 190]], float)  # alone: 6 7 8
TRIS = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]])


def _turned_over(points: np.ndarray, tri: list[int]) -> np.ndarray:
    """A copy with the triangle's first corner reflected across its opposite edge."""
    out = points.copy()
    a, b, c = (out[i] for i in tri)
    edge = c - b
    foot = b + edge * ((a - b) @ edge) / (edge @ edge)
    out[tri[0]] = 2 * foot - a
    return out


def test_the_counter_sees_a_planted_fold():
    assert np.all(signed_areas(SRC, TRIS) > 0)
    depth = np.zeros(len(SRC))
    assert count_folds(SRC, SRC, depth, TRIS, 256).flipped == 0
    alone = _turned_over(SRC, [6, 7, 8])
    folds = count_folds(SRC, alone, depth, TRIS, 256)
    assert (folds.flipped, folds.folds) == (1, 1) and folds.exposed_px > 100
    squeezed = SRC.copy()
    squeezed[6] = [169.8, 169.8]  # 1% of its area left: a crease
    assert count_folds(SRC, squeezed, depth, TRIS, 256).flipped == 1


def test_a_fold_behind_nearer_surface_is_hidden_one_in_front_is_not():
    under = _turned_over(SRC, [3, 4, 5])
    behind = np.array([0, 0, 0, 5, 5, 5, 0, 0, 0], float)  # larger = farther
    folds = count_folds(SRC, under, behind, TRIS, 256)
    assert (folds.flipped, folds.folds) == (1, 0)
    folds = count_folds(SRC, under, -behind, TRIS, 256)
    assert (folds.flipped, folds.folds) == (1, 1)


def _sweep(portrait):
    for axis, angles in ((1, range(-25, 26, 5)), (0, range(-15, 16, 5))):
        for deg in angles:
            pose = portrait.pose.copy()
            pose[axis] += np.radians(deg)
            yield pose


def _drawn_turned_over(renderer, dst, depth) -> int:
    """Turned-over triangles holding pixels of the renderer's own triangle map."""
    renderer.warper.flow(dst, renderer.src, depth)
    drawn = np.bincount(renderer.warper.ids.ravel(), minlength=len(renderer.tris)) > 0
    return int((flipped_triangles(renderer.src, dst, renderer.tris, renderer.openings)
                & drawn).sum())


def test_no_fold_when_the_astronaut_turns_or_nods(astronaut, astronaut_renderer, basis):
    """Yaw -25..25 and pitch -15..15 degrees, one with the mouth wide open: the far cheek goes
    behind the nose, the chin in front of the neck; nothing turned over is seen or drawn."""
    r = astronaut_renderer
    wide = astronaut.dynamics.copy()
    wide[basis.layout.pca] += 2.5 * open_direction(basis)
    for pose in _sweep(astronaut):
        for dyn in (astronaut.dynamics, wide):
            dst, depth = r.mesh_frame(pose, dyn)
            folds = count_folds(r.src, dst, depth, r.tris, r.size, r.openings)
            assert folds.folds == 0, (np.degrees(pose[:2] - astronaut.pose[:2]), folds)
            assert _drawn_turned_over(r, dst, depth) == 0


def test_speech_moves_the_chin_not_the_collar(astronaut, astronaut_renderer, basis):
    """A speaker's collar does not bob with the jaw (mesh.NECK_DROP): the mouth opened wide
    moves the neck ring under a fifth of what it moves the jaw, while a turn of the head still
    carries the neck with it (mesh.NECK_FOLLOW)."""
    r = astronaut_renderer
    face, _, _, neck = r.layout.slices[:4]
    jaw = r.layout.jaw

    def moved(pose, dyn):
        dst, _ = r.mesh_frame(pose, dyn)
        rest, _ = r.mesh_frame(astronaut.pose, astronaut.dynamics)
        step = np.linalg.norm(dst - rest, axis=1)
        return step[face][jaw].max(), step[neck].max()

    wide = astronaut.dynamics.copy()
    wide[basis.layout.pca] += 2.5 * open_direction(basis)
    jaw_px, neck_px = moved(astronaut.pose, wide)
    assert jaw_px > 5 and neck_px < 0.2 * jaw_px, (jaw_px, neck_px)
    turned = astronaut.pose.copy()
    turned[1] += np.radians(15)
    jaw_px, neck_px = moved(turned, astronaut.dynamics)
    assert neck_px > 0.35 * jaw_px, (jaw_px, neck_px)


def test_a_three_quarter_portrait_turned_back_does_not_tear(tmp_path, astronaut,
                                                            astronaut_renderer, basis):
    """A portrait turned 25 degrees shows its far cheek from behind; its mesh is unfolded
    there, so turning it back to the front stretches the outline instead of tearing strips."""
    from vasa.portrait import load_portrait
    from vasa.render import Renderer

    pose = astronaut.pose.copy()
    pose[1] += np.radians(25)
    path = tmp_path / "turned.png"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut_renderer.render(pose, astronaut.dynamics),
                                        cv2.COLOR_RGB2BGR))
    turned = load_portrait(path, 256, basis=basis)
    assert abs(np.degrees(turned.pose[1] - astronaut.pose[1])) > 15
    r = Renderer(turned, basis)
    assert np.all(signed_areas(r.src, r.tris)[~r.openings] > 0)
    for deg in (-30, -25, -12, 0):
        back = turned.pose.copy()
        back[1] += np.radians(deg)
        dst, depth = r.mesh_frame(back, turned.dynamics)
        assert count_folds(r.src, dst, depth, r.tris, r.size, r.openings).folds == 0, deg
        assert _drawn_turned_over(r, dst, depth) == 0, deg


@pytest.mark.parametrize("yaw", [-25, 25])
def test_occlusion_edges_sample_their_own_triangle(astronaut, astronaut_renderer, yaw):
    """The warp field is computed at 0.4x and upsampled; where a near surface lies beside a far
    one, upsampling blended their source positions (specks along a jaw over a collar). The
    field matches one computed pixel by pixel from a full-size triangle map."""
    r = astronaut_renderer
    pose = astronaut.pose.copy()
    pose[1] += np.radians(yaw)
    dst, depth = r.mesh_frame(pose, astronaut.dynamics)
    flow = r.warper.flow(dst, r.src, depth)
    front = facing(dst, r.src, r.tris)
    far_first = np.argsort(-depth[r.tris].mean(1), kind="stable")
    ids = np.zeros((r.size, r.size), np.int32)
    corners = np.round(dst[r.tris] * 16).astype(np.int32)
    for t in np.concatenate([np.flatnonzero(~front), far_first[front[far_first]]]):
        cv2.fillConvexPoly(ids, corners[t], int(t), cv2.LINE_8, 4)
    maps = affine_maps(dst, r.src, r.tris)[ids]  # (S, S, 2, 3)
    y, x = np.mgrid[0:r.size, 0:r.size]
    exact = maps[..., 0] * x[..., None] + maps[..., 1] * y[..., None] + maps[..., 2]
    err = np.linalg.norm(flow - exact, axis=-1)
    assert r.warper.edge_pixels > 0
    assert np.percentile(err, 99.9) < 4.0  # the rest: one-pixel differences along edges


def test_a_strip_squeezed_thinner_than_the_map_is_warped_exactly():
    """The skin under a turned chin, squeezed between the jaw and the neck to a few pixels
    without turning over, falls between the coarse map's samples: upsampling blended the source
    on either side of it (a staircase of collar and skin specks along the chin at 25 degrees
    of yaw). Such a strip's pixels take their own triangle's map, as an occlusion edge's do."""
    from vasa.render.warp import MeshWarper

    size = 600
    x_src, x_dst = [0.0, 250.0, 350.0, 600.0], [0.0, 300.0, 304.0, 600.0]  # 100 px -> 4 px

    def grid(xs: list[float]) -> np.ndarray:
        return np.array([[x, y] for y in (0.0, size) for x in xs])

    src, dst = grid(x_src), grid(x_dst)
    tris = np.array([t for i in range(3) for t in ([i, i + 1, i + 5], [i, i + 5, i + 4])])
    tris[signed_areas(src, tris) < 0] = tris[signed_areas(src, tris) < 0][:, ::-1]
    assert facing(dst, src, tris).all()  # squeezed to 4%, nothing turned over
    warper = MeshWarper(tris, size, 0.4, footprint=None)
    assert warper.low < size
    flow = warper.flow(dst, src, np.zeros(len(dst)))
    exact = np.interp(np.arange(size, dtype=np.float64), x_dst, x_src)
    assert np.abs(flow[..., 0] - exact[None]).max() < 1.0
    assert np.abs(flow[..., 1] - np.arange(size)[:, None]).max() < 1.0


def _supersampled_reference(r, pose, dynamics, image: np.ndarray) -> np.ndarray:
    """The frame's warp at twice the size with an exact full-resolution map, averaged over
    each output pixel's footprint (`taps` points a side, centred on the pixel): what the
    edge pixels are sampled to match."""
    from vasa.render.warp import MeshWarper, remap

    dst, depth = r.mesh_frame(pose, dynamics)
    flow = MeshWarper(r.tris, 2 * r.size, 1.0, footprint=None).flow((dst + 0.5) * 2 - 0.5,
                                                                    r.src, depth)
    n = r.warper.taps  # even: OpenCV's box covers 2 i + 1 - n / 2 .. 2 i + n / 2
    return cv2.blur(remap(image, flow), (n, n))[1::2, 1::2].astype(np.float32)


@pytest.mark.parametrize("yaw", [-25, 25])
def test_occlusion_edges_are_antialiased(astronaut, basis, yaw):
    """Along an occlusion edge (the turned cheek's outline over the far side) each pixel is
    the mean over its footprint, so the outline blends its two sides by coverage as a
    supersampled warp does, instead of a staircase with lone light or dark pixels."""
    from vasa.render import RenderConfig, Renderer

    plain = {"reveal": False, "mouth": False, "eyes": False}
    smooth = Renderer(astronaut, basis, RenderConfig(**plain))
    sharp = Renderer(astronaut, basis, RenderConfig(antialias=False, **plain))
    assert smooth.warper.taps >= 2 and sharp.warper.taps == 0
    pose = astronaut.pose.copy()
    pose[1] += np.radians(yaw)
    soft = smooth.warp(pose, astronaut.dynamics).frame
    hard = sharp.warp(pose, astronaut.dynamics).frame
    assert sharp.warper.edges is None
    edges = smooth.warper.edges
    assert edges is not None and len(edges.y) > 50
    ref = _supersampled_reference(smooth, pose, astronaut.dynamics,
                                  smooth.appearance.image)[edges.y, edges.x]

    def off(frame: np.ndarray) -> np.ndarray:
        return np.abs(frame[edges.y, edges.x] - ref).max(1)

    assert off(soft).mean() < 0.5 * off(hard).mean(), (off(soft).mean(), off(hard).mean())
    assert (off(soft) > 40).sum() < 0.25 * max((off(hard) > 40).sum(), 1)
    # Away from the edges the two warps are the same frame.
    away = np.ones(soft.shape[:2], bool)
    away[edges.y, edges.x] = False
    assert np.array_equal(soft[away], hard[away])


def test_an_enlarged_picture_blends_its_edges_over_its_own_pixels(basis):
    """A small picture enlarged to the output's size holds no detail finer than its own
    pixels: its occlusion edges are sampled over one of them (two output pixels wide)."""
    from vasa.portrait import make_portrait
    from vasa.render import RenderConfig, Renderer

    image = cv2.cvtColor(cv2.imread(str(ASSETS / "astronaut.jpg")), cv2.COLOR_BGR2RGB)
    small = cv2.resize(image, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    p = make_portrait(small, "small", 2 * max(small.shape[:2]), basis=basis, framed=True)
    assert abs(p.enlarged - 2.0) < 0.05
    crop = make_portrait(image, "crop", 256, basis=basis)  # the crop mode's own scale
    assert crop.enlarged < 1.0
    r = Renderer(p, basis, RenderConfig(reveal=False, mouth=False, eyes=False))
    assert r.warper.taps == 4
    pose = p.pose.copy()
    pose[1] += np.radians(25)
    frame = r.warp(pose, p.dynamics).frame
    edges = r.warper.edges
    assert edges is not None and edges.source.shape[1:] == (4, 4, 2)
    # Each edge pixel is the mean of its 16 samples of the image (INTER_AREA rounding).
    i = len(edges.y) // 2
    samples = cv2.remap(r.appearance.image, edges.source[i], None, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE).reshape(-1, 3).astype(np.float32)
    assert np.abs(frame[edges.y[i], edges.x[i]] - samples.mean(0)).max() <= 1.0


def test_the_outline_is_drawn_inside_the_oval():
    """MediaPipe's oval lies on the silhouette or just past it: the face's mesh ends the
    inset's share of each ray inside it, on skin (mesh.OUTLINE_INSET)."""
    from vasa.render.mesh import OUTLINE_INSET, outline

    angles = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    circle = 100 + 50 * np.stack([np.cos(angles), np.sin(angles)], 1)
    rows = np.arange(36)
    inset = np.where(np.arange(36) < 18, OUTLINE_INSET, 0.0)  # as above the jaw / along it
    radius = np.linalg.norm(outline(circle, rows, inset) - 100, axis=1)
    assert np.allclose(radius, np.where(inset > 0, 50 * (1 - OUTLINE_INSET), 50), atol=1e-6)
    assert np.allclose(np.linalg.norm(outline(circle, rows) - 100, axis=1), 50)
