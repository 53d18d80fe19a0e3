"""The learned eye refiner: band geometry, eye pairs, training by region, the runtime."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import ASSETS

from vasa.render import eye_crop as ec


def test_the_eye_band_is_upright_centred_and_scaled(astronaut):
    lm = astronaut.landmarks
    a = ec.eye_affine(lm)
    corners = lm[list(ec.EYE_CORNERS), :2] @ a[:, :2].T + a[:, 2]
    assert abs(corners[0, 1] - corners[1, 1]) < 1e-6  # the eye line is horizontal
    assert np.linalg.norm(corners[1] - corners[0]) == pytest.approx(ec.WIDTH / ec.EYES_IOD)
    points = ec.eye_points(lm, a)
    assert np.all((points > 0) & (points < [ec.WIDTH, ec.HEIGHT]))  # both eyes inside
    opening, irises = ec.eye_masks(points)
    assert opening.sum() > irises.sum() > 0
    assert np.all(irises <= opening + 1e-6)  # an iris is seen only inside the lids
    paste = ec.paste_mask(points)
    assert paste.shape == (ec.HEIGHT, ec.WIDTH) and paste.max() > 0.99
    assert np.all(paste[opening > 0.5] > 0.9)  # the paste mask covers the open eyes


def test_the_eye_band_round_trip_changes_only_the_eyes(astronaut):
    lm = astronaut.landmarks
    a = ec.eye_affine(lm)
    points = ec.eye_points(lm, a)
    mask = ec.paste_mask(points)
    frame = astronaut.image.copy()
    ec.paste(frame, ec.crop(frame, a).astype(np.float32), a, mask)  # its own band back
    diff = np.abs(frame.astype(int) - astronaut.image)
    # Resampled twice (down to the band's scale and back: a 512 px portrait's lashes soften),
    # nothing else.
    assert diff.mean() < 0.05 and np.median(diff[diff.max(-1) > 0]) <= 3
    frame = astronaut.image.copy()
    ec.paste(frame, np.full((ec.HEIGHT, ec.WIDTH, 3), 255.0, np.float32), a, mask)
    ys, xs = np.nonzero(np.any(frame != astronaut.image, -1))
    iod = np.linalg.norm(np.subtract(*lm[list(ec.EYE_CORNERS), :2]))
    centre = lm[list(ec.EYE_CORNERS + ec.INNER_CORNERS), :2].mean(0)
    assert np.abs(xs - centre[0]).max() < 0.8 * iod  # both eyes, their corners, no further
    assert np.abs(ys - centre[1]).max() < 0.4 * iod  # the brows and cheeks stay


def test_a_pasted_eye_change_keeps_the_brows_and_skin_of_a_fine_frame(astronaut):
    """A refinement that changes nothing leaves a frame finer than the band as it was round
    the eyes (brows, crease, lower lids); inside the openings, the target's and the rest-open
    eye a closing lid covers, the band is taken whole, as a plain paste takes it everywhere."""
    import cv2

    frame = np.ascontiguousarray(np.repeat(np.repeat(astronaut.image, 2, 0), 2, 1))
    lm = astronaut.landmarks.copy()
    lm[:, :2] *= 2  # the face twice as large: the band samples the frame down
    a = ec.eye_affine(lm)
    rest = ec.eye_points(lm, a)
    shut = rest.copy()  # both eyes shut: every contour point on its eye's corner line
    for k in range(2):
        eye = shut[k * ec.NUM_EYE:(k + 1) * ec.NUM_EYE]
        eye[:, 1] = np.interp(eye[:, 0], *zip(*sorted([eye[0], eye[ec.NUM_EYE // 2]],
                                                      key=lambda p: p[0])))
    keep, keep_rest = ec.detail_mask(shut), ec.detail_mask(shut, rest)
    # Shut eyes alone: only the lash lines are taken whole; with the rest-open eyes, all a
    # closing lid covers.
    assert 0 < (keep < 0.5).sum() < 0.6 * (keep_rest < 0.5).sum()
    assert keep_rest.min() == 0.0 and keep_rest.max() == 1.0
    assert np.all(keep_rest[ec.eye_masks(rest)[0] > 0.5] < 0.05)  # the open eyes, whole
    same = ec.crop(frame, a).astype(np.float32)
    mask = ec.paste_mask(shut)
    plain, kept = frame.copy(), frame.copy()
    ec.paste(plain, same, a, mask)
    ec.paste(kept, same, a, mask, start=same, keep=keep_rest)
    band = ((mask > 0.5) & (keep_rest > 0.99)).astype(np.uint8)  # lid skin round the eyes
    band = cv2.warpAffine(band, cv2.invertAffineTransform(a), frame.shape[1::-1],
                          flags=cv2.INTER_NEAREST).astype(bool)
    assert band.sum() > 1000
    assert np.abs(kept.astype(int) - frame)[band].max() <= 1  # rounding only
    assert np.abs(plain.astype(int) - frame)[band].mean() > 1  # sampled down and up


def test_eye_targets_oversample_blinks_and_gaze_changes():
    from vasa.refine.config import PairsConfig
    from vasa.refine.pairs import _eye_targets

    rng = np.random.default_rng(0)
    closure = np.zeros(200)
    closure[[20, 21, 22, 90, 91, 150]] = [0.3, 0.8, 0.4, 0.9, 0.5, 0.6]  # 6 blink frames of 200
    gaze = np.zeros(200)
    gaze[100:110] = np.arange(1, 11)
    cfg = PairsConfig(region="eyes", targets=20, blink_share=0.5, gaze_share=0.2)
    chosen = _eye_targets(np.arange(200), closure, gaze, cfg, rng)
    assert len(chosen) == 20 and len(set(chosen.tolist())) == 20
    assert (closure[chosen] > 0.25).sum() == 6  # all the blinks (3% of frames -> 30%)
    assert set(range(106, 110)) <= set(chosen.tolist())  # the four largest gaze changes


@pytest.fixture(scope="module")
def eye_run(tmp_path_factory):
    """Eye pairs of a second of the bundled clip (two portraits, four targets each), trained a
    few steps on CPU and exported: `vasa refiner-pairs --region eyes` + `vasa train refiner`."""
    from vasa.data.manifest import ManifestItem
    from vasa.refine.config import PairsConfig, RefinerConfig, TrainRefinerConfig
    from vasa.refine.pairs import build_pairs
    from vasa.refine.train import train_refiner

    root = tmp_path_factory.mktemp("eye_refiner")
    clip = ASSETS / "obama_address_8s.mp4"
    item = ManifestItem(video=clip, audio=clip, kind="clips", speaker="Obama", fps=25.0)
    entries = build_pairs([item], root / "pairs", PairsConfig(size=256, max_frames=25,
                                                               sources=2, targets=4,
                                                               region="eyes"), progress=False)
    assert [e.samples for e in entries] == [8]
    index = json.loads((root / "pairs" / "index.json").read_text())
    assert index["config"]["region"] == "eyes"
    index["clips"].append(dict(index["clips"][0], split="val" if entries[0].split == "train"
                               else "train"))  # one clip on both sides, for a test only
    (root / "pairs" / "index.json").write_text(json.dumps(index))
    cfg = TrainRefinerConfig(steps=2, batch=4, eval_every=2, save_every=2, device="cpu",
                             model=RefinerConfig(widths=(8, 8, 8, 8)))
    metrics = train_refiner(root / "pairs", root / "run", cfg, progress=None)
    return root, metrics


def test_eye_pairs_hold_bands_and_eye_points(eye_run):
    from vasa.refine.store import unpack_jpeg

    root, _ = eye_run
    (npz,) = (root / "pairs").glob("*.npz")
    with np.load(npz) as z:
        assert z["eyes"].shape == (8, len(ec.POINTS), 2) and "lips" not in z
        for k in ("warped", "target", "reference"):
            assert unpack_jpeg(z[k], z[k + "_offsets"]).shape[1:] == (ec.HEIGHT, ec.WIDTH, 3)


def test_training_on_eye_pairs_exports_the_eye_refiner(eye_run):
    import onnx

    root, metrics = eye_run
    assert metrics["region"] == "eyes" and metrics["steps"] == 2
    assert 5 < metrics["final"]["psnr_warp"] < 60
    graph = onnx.load(root / "run" / "eye_refiner.int8.onnx").graph
    assert [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] == \
        [1, 8, ec.HEIGHT, ec.WIDTH]
    assert "upper_refined" not in metrics["final"]  # the teeth's band is the mouth's


def test_favouring_bared_teeth_is_refused_for_eye_pairs(eye_run, tmp_path):
    from vasa.refine.config import TrainRefinerConfig
    from vasa.refine.train import train_refiner

    root, _ = eye_run
    with pytest.raises(ValueError, match="--teeth is for mouth pairs"):
        train_refiner(root / "pairs", tmp_path, TrainRefinerConfig(steps=1, teeth=0.3,
                                                                   device="cpu"), progress=None)


def test_a_mouth_model_is_refused_for_the_eyes(astronaut):
    from vasa.render.refiner import DEFAULT_REFINER, EyeRefiner

    with pytest.raises(ValueError, match="swapped"):
        EyeRefiner(astronaut.image, astronaut.landmarks, DEFAULT_REFINER)


def test_the_eye_weight_ramps_with_closure():
    from vasa.render.refiner import EYE_START, eye_refiner_weight

    assert eye_refiner_weight((0.0, 0.0)) == 0.0 == eye_refiner_weight((EYE_START, 0.0))
    assert eye_refiner_weight((1.0, 0.0)) == 1.0 == eye_refiner_weight((0.2, 0.9))
    w = [eye_refiner_weight((c, 0.0)) for c in np.linspace(0, 1, 101)]
    assert np.all(np.diff(w) >= 0) and np.abs(np.diff(w)).max() <= 0.11  # no pop


def _blink(renderer, portrait, basis, openness: float = 0.2):
    dyn = portrait.dynamics.copy()
    dyn[basis.layout.eyes] *= openness
    return renderer.render(portrait.pose, dyn)


def test_an_untrained_eye_refiner_or_none_leaves_the_drawn_blink(astronaut, basis, tmp_path):
    from vasa.refine.config import RefinerConfig
    from vasa.refine.export import export_onnx
    from vasa.refine.net import Refiner
    from vasa.render import RenderConfig, Renderer

    identity = tmp_path / "identity.onnx"
    export_onnx(Refiner(RefinerConfig(widths=(8, 8, 8, 8))), identity,
                size=(ec.HEIGHT, ec.WIDTH))
    # The refiner's input: the drawn lids it redraws are the lighter ones.
    drawn = Renderer(astronaut, basis, RenderConfig(eye_refiner=False, light_lids=True))
    assert drawn.eye_refiner is None
    assert Renderer(astronaut, basis, RenderConfig(refiner=False)).eye_refiner is None
    untrained = Renderer(astronaut, basis, RenderConfig(eye_refiner_model=str(identity)))
    # Eyes as open as the portrait's: the refiner's weight is 0, the frame the drawn one.
    assert np.array_equal(untrained.render(astronaut.pose, astronaut.dynamics),
                          drawn.render(astronaut.pose, astronaut.dynamics))
    a, b = _blink(untrained, astronaut, basis), _blink(drawn, astronaut, basis)
    assert np.abs(a.astype(int) - b).mean() < 0.05  # only the band's resampling


def test_the_bundled_eye_refiner_redraws_a_blink_and_only_the_eyes(astronaut, basis):
    from vasa.render import RenderConfig, Renderer

    drawn = _blink(Renderer(astronaut, basis, RenderConfig(eye_refiner=False)), astronaut, basis)
    refined = _blink(Renderer(astronaut, basis), astronaut, basis)
    diff = np.abs(refined.astype(int) - drawn)
    assert diff.mean() > 0.1  # the lids are redrawn (an untrained refiner: under 0.05)
    ys, _ = np.nonzero(diff.max(-1) > 2)
    lm = astronaut.landmarks
    iod = np.linalg.norm(np.subtract(*lm[list(ec.EYE_CORNERS), :2]))
    centre = lm[list(ec.EYE_CORNERS + ec.INNER_CORNERS), :2].mean(0)
    assert np.abs(ys - centre[1]).max() < 0.4 * iod


def test_a_black_and_white_portrait_keeps_grey_eyes(astronaut, basis):
    from dataclasses import replace

    from vasa.render import Renderer
    from vasa.render.refiner import EyeRefiner

    grey_image = astronaut.image.mean(-1, keepdims=True).repeat(3, -1).astype(np.uint8)
    assert EyeRefiner(grey_image, astronaut.landmarks).grey
    assert not EyeRefiner(astronaut.image, astronaut.landmarks).grey
    frame = _blink(Renderer(replace(astronaut, image=grey_image), basis), astronaut, basis, 0.0)
    assert np.abs(frame.astype(int) - frame[..., :1]).max() <= 2


def test_the_mirrored_pass_draws_each_eye_as_its_mirror_image_would_be(astronaut, basis):
    """With `mirror` the eye refiner is mirror-symmetric: the astronaut's mid-blink band and its
    mirror image (portrait's band mirrored too) come out as mirror images of each other, so
    neither eye's place in the band decides how shut it is drawn. One pass is not: the network
    draws the same band mirrored differently (a wink half-way through a blink)."""
    from vasa.render import RenderConfig, Renderer
    from vasa.render.refiner import EyeRefiner

    renderer = Renderer(astronaut, basis, RenderConfig(eye_refiner=False, light_lids=True))
    dyn = astronaut.dynamics.copy()
    dyn[basis.layout.eyes] *= 0.5
    w = renderer.warp(astronaut.pose, dyn)
    a = ec.eye_affine(w.landmarks)
    points = ec.eye_points(w.landmarks, a)
    drawn = ec.crop(renderer.finish(w), a)
    mirrored = points.copy()
    mirrored[:, 0] = ec.WIDTH - 1 - mirrored[:, 0]
    for mirror, most in ((True, 1.0), (False, None)):
        one = EyeRefiner(astronaut.image, astronaut.landmarks, mirror=mirror)
        other = EyeRefiner(astronaut.image, astronaut.landmarks, mirror=mirror)
        other.reference, other._mirrored_reference = one._mirrored_reference, one.reference
        y = one.refine_crop(drawn, points)
        y_mirrored = other.refine_crop(np.ascontiguousarray(drawn[:, ::-1]), mirrored)[:, ::-1]
        gap = np.abs(y - y_mirrored).mean()
        if most is not None:
            assert gap < most  # grey levels (0.57): the masks' antialiased edges differ a little
        else:
            assert gap > 2.0  # the network alone is not symmetric (3.06)
