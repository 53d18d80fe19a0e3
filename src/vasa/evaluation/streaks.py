"""Streaks where a turn reveals what the portrait saw edge-on (issue 13: no visible seam).

A far cheek seen foreshortened in the portrait is magnified when the head turns it into view;
stretched, a band of a few pixels becomes lines along the stretch (streaks), which no fold
count sees: nothing turns over. Each face triangle's stretch is known from its affine map:
the frame direction a unit step of which covers the least of the portrait. Streaks run along
it, so the picture there changes across that direction and hardly along it; skin and features
have no such preference. The streak ratio is the gradient energy across the stretch over the
energy along it, pooled over the pixels of face triangles the frame stretches past STRETCH
times in one direction: near 1 for texture with no direction tied to the stretch, far above
for streaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vasa.render.warp import affine_maps

STRETCH = 3.0  # a face triangle counts as stretched past this linear magnification


@dataclass
class Stretch:
    """Per pixel of a frame (S, S): `mask` bool, pixels of stretched face triangles;
    `along` (S, S, 2) float32, the unit direction of each one's stretch."""

    mask: np.ndarray
    along: np.ndarray


def stretch_of(renderer, dst: np.ndarray) -> Stretch:
    """Where the last frame of `renderer` (a `Renderer`, its mesh at `dst` (V, 2)) stretched its
    face triangles (eyes and mouth excluded) past STRETCH times, and along which direction."""
    tris = renderer.tris
    face = (renderer.layout.landmark_of()[tris] >= 0).all(1) & ~renderer.openings
    lin = affine_maps(dst, renderer.src, tris)[:, :, :2]  # (M, 2, 2): frame -> portrait
    _, sv, vt = np.linalg.svd(lin)
    least = np.maximum(sv[:, 1], 1e-6)  # the portrait step of a unit frame step, at least
    stretched = face & (1 / least > STRETCH)
    ids = renderer.warper.ids
    size = renderer.size
    up = (size, size)
    mask = cv2.resize(stretched[ids].astype(np.uint8), up, interpolation=cv2.INTER_NEAREST)
    along = vt[:, 1, :].astype(np.float32)[ids]  # (L, L, 2)
    along = cv2.resize(along, up, interpolation=cv2.INTER_NEAREST)
    return Stretch(mask.astype(bool), along)


def streak_ratio(image: np.ndarray, stretch: Stretch) -> float:
    """Gradient energy across the stretch over the energy along it, pooled over the stretched
    pixels of `image` (S, S, 3) uint8; nan if none."""
    if not stretch.mask.any():
        return float("nan")
    across, along = streak_energies(image, stretch)
    return across / max(along, 1e-6)


def streak_energies(image: np.ndarray, stretch: Stretch) -> tuple[float, float]:
    """(across, along): the summed squared gradient across and along the stretch over the
    stretched pixels of `image` (S, S, 3) uint8, to pool over frames."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)[stretch.mask]
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)[stretch.mask]
    u = stretch.along[stretch.mask]
    along = gx * u[:, 0] + gy * u[:, 1]
    across = -gx * u[:, 1] + gy * u[:, 0]
    return float((across ** 2).sum()), float((along ** 2).sum())


__all__ = ["STRETCH", "Stretch", "streak_energies", "streak_ratio", "stretch_of"]
