"""Self-reenactment evaluation: image metrics and a short end-to-end run on the bundled clip."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from conftest import ASSETS

from vasa.evaluation.reconstruction import (
    comparison_indices,
    face_mask,
    landmark_nme,
    pose_error_deg,
    psnr,
    save_comparison,
    self_reenact_clip,
    ssim,
)


@pytest.fixture(scope="module")
def textured() -> np.ndarray:
    """A smooth, structured RGB image (SSIM of flat images is degenerate)."""
    y, x = np.mgrid[0:96, 0:128].astype(np.float64)
    img = np.stack([128 + 100 * np.sin(x / 7), 128 + 100 * np.cos(y / 5),
                    128 + 60 * np.sin((x + y) / 11)], -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_identical_images_are_perfect(textured):
    mask = np.zeros(textured.shape[:2], bool)
    mask[20:70, 30:100] = True
    assert psnr(textured, textured) == math.inf
    assert psnr(textured, textured, mask) == math.inf
    assert ssim(textured, textured) == pytest.approx(1.0)
    assert ssim(textured, textured, mask) == pytest.approx(1.0)
    assert ssim(textured[..., 0], textured[..., 0]) == pytest.approx(1.0)  # single channel


def test_noise_lowers_scores_monotonically(textured):
    rng = np.random.default_rng(0)
    scores = []
    for sigma in (2.0, 8.0, 32.0):
        noisy = np.clip(textured + rng.normal(0, sigma, textured.shape), 0, 255).astype(np.uint8)
        scores.append((psnr(noisy, textured), ssim(noisy, textured)))
    p, s = zip(*scores, strict=True)
    assert p[0] > p[1] > p[2] and s[0] > s[1] > s[2]
    assert 40 < p[0] < 44  # sigma 2 -> about 20 log10(255 / 2) = 42 dB
    assert s[0] < 1.0 and s[2] < 0.6


def test_mask_restricts_the_score(textured):
    damaged = textured.copy()
    damaged[:, :40] = 0  # damage outside the mask only
    mask = np.zeros(textured.shape[:2], bool)
    mask[:, 60:] = True
    assert psnr(damaged, textured, mask) == math.inf
    assert ssim(damaged, textured, mask) == pytest.approx(1.0)
    assert psnr(damaged, textured) < 20
    with pytest.raises(ValueError):
        psnr(damaged, textured, np.zeros_like(mask))


def test_face_mask_covers_the_oval_and_a_margin(astronaut):
    lm = astronaut.landmarks
    mask = face_mask(lm, astronaut.image.shape)
    tight = face_mask(lm, astronaut.image.shape, dilate_iod=0.0)
    xy = np.round(lm[:468, :2]).astype(int)
    assert mask[xy[:, 1], xy[:, 0]].mean() > 0.99  # every mesh point lies inside the face oval
    assert mask.sum() > tight.sum() and not mask.all()


def test_geometric_errors():
    lm = np.zeros((478, 3))
    lm[:, 0] = np.arange(478)
    lm[263, 0] = lm[33, 0] + 50.0
    shifted = lm.copy()
    shifted[:, 1] += 5.0
    assert landmark_nme(shifted, lm) == pytest.approx(0.1)
    a = np.array([0.0, 0.0, np.radians(179.0), 0, 0, 0.1])
    b = np.array([0.0, np.radians(3.0), np.radians(-179.0), 0, 0, 0.1])
    assert pose_error_deg(a, b) == pytest.approx((0 + 3 + 2) / 3)  # roll wraps around


def test_comparison_indices_skip_the_portrait():
    assert comparison_indices(250) == [50, 100, 149, 199, 249]
    assert comparison_indices(3) == [1, 2]
    assert comparison_indices(1) == [0]


def test_save_comparison_writes_a_png(tmp_path, textured):
    out = save_comparison(tmp_path / "strip.png", [textured] * 2, [textured[::-1]] * 2)
    img = cv2.imread(str(out))
    assert img.shape == (3 * 256, 2 * 256, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["strip.png"]  # no temporary left behind


def test_self_reenactment_of_the_bundled_clip(tmp_path):
    png = tmp_path / "cmp.png"
    r = self_reenact_clip(ASSETS / "obama_address_8s.mp4", max_frames=8, size=256,
                          comparison_path=png)
    assert r.frames == 8 and r.lost_frames == 0
    values = (r.psnr_face, r.ssim_face, r.pose_err_deg, r.lmk_nme)
    assert all(math.isfinite(v) for v in values)
    assert r.ssim_face > 0.5 and r.pose_err_deg < 5 and r.lmk_nme < 0.1
    assert r.psnr_face > 20
    assert png.is_file() and r.comparison == str(png)
