"""Renderer ablation on self-reenactment: the same clip, the same motion, several renderers.

Each held-out clip's first frame is the portrait, the clip's own tracked motion drives it, and
the real frames are the truth (as `reconstruction.self_reenact_clip`). Every renderer variant
(warp only, painted mouth, learned refiner, ...) renders the same motion, so their scores
differ only by the renderer. Scores per variant:

- face PSNR / SSIM inside the face oval; mouth PSNR / SSIM inside the lips' hull grown by
  MOUTH_GROW eye distances (the region the mouth synthesis changes);
- mouth sharpness: variance of the Laplacian in the mouth region, render over truth (1: as
  sharp as the video; below: blurred; above: over-sharpened or speckled);
- teeth flicker: frames where the mouth region's mean brightness jumps by more than FLICKER_LV
  grey levels beyond what the real video's does between the same two frames (the painted
  interior popping on and off shows up here);
- eyes PSNR / SSIM inside the lids' ellipses (`render.eye_crop.lid_ellipses`, the region the eye
  synthesis changes), over every frame and over blink frames only (the real eyes' closure past
  BLINK_CLOSURE of the portrait's openness), where the drawn lid and the eye refiner differ;
  and the eyes' sharpness on blink frames, render over truth as for the mouth;
- inside: at frames where the real mouth is open at least `interior.MIDDLING` (0.08 eye
  distances), the open mouth's core luma over its lips' (`interior.read_interior`, both read
  on the real frame's landmarks), the render's and the truth's medians and their mean absolute
  difference: whether the inside shows as light as the real one (teeth) or as dark, where
  PSNR prefers a blur of the two; and the same of its colour (the core's chroma over the
  lips'): teeth and the dark are near grey, a lip-coloured fill is not;
- teeth: at frames where the real mouth shows an upper teeth's band (opened at least
  `interior.MIDDLING`), the band's fine texture across the mouth (`teeth_band.read_band`, both
  read on the real frame's landmarks), the render's and the truth's medians: tooth edges,
  where a soft band of light reads near 0.

A variant named in `lids` renders the motion's eyelid ratios asked as that renderer reads them
(`vasa.motion.lids`; `lids[name](portrait, renderer, basis)` measures the response, as
`vasa generate` does): the tracked truth is in the tracker's terms, so this row tells whether
asking so brings the render closer to the real blink frames, a check of the calibration
against pictures rather than the tracker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from vasa.evaluation.interior import MIDDLING, read_interior
from vasa.evaluation.reconstruction import face_mask, inter_ocular, psnr, self_reenactment, ssim
from vasa.evaluation.teeth_band import read_band
from vasa.latent import topology as topo
from vasa.latent.basis import FaceBasis, default_basis
from vasa.motion.lids import LidResponse, asked_openness
from vasa.portrait import Portrait
from vasa.render import RenderConfig, Renderer
from vasa.render import eye_crop as ec

MOUTH_GROW = 0.12  # eye distances the lips' hull is grown by for the mouth region
FLICKER_LV = 6.0  # grey levels of unexplained frame-to-frame brightness jump that count
BLINK_CLOSURE = 0.25  # closure (1 - openness / the portrait's) from which a frame is a blink
LidCalibration = Callable[[Portrait, Renderer, FaceBasis], LidResponse]


def as_grey(image: np.ndarray) -> np.ndarray:
    """An RGB uint8 image (H, W, 3) in grey, still three channels."""
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def mouth_mask(landmarks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Bool (H, W): convex hull of the outer lips grown by MOUTH_GROW eye distances."""
    mask = np.zeros(shape[:2], np.uint8)
    hull = cv2.convexHull(np.round(landmarks[topo.LIPS_OUTER, :2]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    r = max(1, round(MOUTH_GROW * inter_ocular(landmarks)))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
    return mask.astype(bool)


def eye_mask(landmarks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Bool (H, W): the two lid ellipses of the eye refiner's paste mask, from the landmarks'
    eye corners."""
    mask = np.zeros(shape[:2], np.uint8)
    for centre, axes, angle in ec.lid_ellipses(landmarks[ec.POINTS, :2]):
        cv2.ellipse(mask, (tuple(map(float, centre)), (2 * axes[0], 2 * axes[1]), angle), 1, -1)
    return mask.astype(bool)


def sharpness(image: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image over `mask`."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.Laplacian(grey, cv2.CV_32F, ksize=3)[mask].var())


@dataclass
class VariantScores:
    psnr_face: list[float] = field(default_factory=list)
    ssim_face: list[float] = field(default_factory=list)
    psnr_mouth: list[float] = field(default_factory=list)
    ssim_mouth: list[float] = field(default_factory=list)
    sharp_ratio: list[float] = field(default_factory=list)
    brightness: list[float] = field(default_factory=list)
    psnr_eyes: list[float] = field(default_factory=list)
    ssim_eyes: list[float] = field(default_factory=list)
    psnr_blink: list[float] = field(default_factory=list)  # blink frames only (may be none)
    ssim_blink: list[float] = field(default_factory=list)
    blink_sharp_ratio: list[float] = field(default_factory=list)
    inside: list[tuple[float, float]] = field(default_factory=list)  # (render, truth) ratios
    colour: list[tuple[float, float]] = field(default_factory=list)  # (render, truth) ratios
    teeth: list[tuple[float, float]] = field(default_factory=list)  # (render, truth) texture

    def summary(self, truth_brightness: list[float]) -> dict[str, float]:
        out = {k: float(np.mean(v)) if v else float("nan") for k, v in asdict(self).items()
               if k not in ("brightness", "sharp_ratio", "blink_sharp_ratio", "inside",
                            "colour", "teeth")}
        for name, values in (("inside", self.inside), ("colour", self.colour),
                             ("teeth", self.teeth)):
            pairs = np.asarray(values, np.float64).reshape(-1, 2)
            out[f"{name}_frames"] = len(pairs)
            out[name], out[f"{name}_truth"] = (np.median(pairs, 0).tolist() if len(pairs)
                                               else [float("nan")] * 2)
            out[f"{name}_error"] = (float(np.abs(pairs[:, 0] - pairs[:, 1]).mean())
                                    if len(pairs) else float("nan"))
        out["blinks"] = len(self.psnr_blink)
        for k in ("sharp_ratio", "blink_sharp_ratio"):
            values = getattr(self, k)
            out[k] = float(np.median(values)) if values else float("nan")
        jump = np.abs(np.diff(self.brightness)) - np.abs(np.diff(truth_brightness))
        out["flicker"] = int((jump > FLICKER_LV).sum())
        return out


def ablate_clip(video: str | Path, variants: dict[str, RenderConfig], max_frames: int = 125,
                size: int = 512, fps: float = 25.0, basis: FaceBasis | None = None,
                keep: tuple[int, ...] = (), lids: dict[str, LidCalibration] | None = None,
                grey: bool = False) -> tuple[dict[str, dict[str, float]],
                                                      dict[int, dict[str, np.ndarray]]]:
    """Scores per variant name, and the frames of indices `keep` ({index: {name or 'truth':
    frame}}, for contact sheets). Frames where the real face is not tracked are skipped.
    grey: score the clip as a black-and-white one (portrait and truth in grey)."""
    basis = basis or default_basis()
    portrait, gt, gt_lm, motion = self_reenactment(video, max_frames, size, fps, basis)
    if grey:  # a black-and-white clip: its portrait and truth as such, tracked in colour
        portrait = replace(portrait, image=as_grey(portrait.image))
        gt = [as_grey(f) for f in gt]
    renderers = {k: Renderer(portrait, basis, cfg) for k, cfg in variants.items()}
    eyes = basis.layout.eyes
    rest = np.maximum(portrait.dynamics[eyes], 1e-3)
    asked = {k: measure(portrait, renderers[k], basis) for k, measure in (lids or {}).items()}
    scores = {k: VariantScores() for k in variants}
    truth_brightness: list[float] = []
    kept: dict[int, dict[str, np.ndarray]] = {}
    for i in range(1, len(gt)):
        lm = gt_lm[i]
        if lm is None:
            continue
        face, mouth = face_mask(lm, gt[i].shape), mouth_mask(lm, gt[i].shape)
        eye = eye_mask(lm, gt[i].shape)
        blink = float(np.max(1 - motion.dynamics[i][eyes] / rest)) > BLINK_CLOSURE
        truth_brightness.append(float(gt[i][mouth].mean()))
        gt_sharp = sharpness(gt[i], mouth)
        gt_eye_sharp = sharpness(gt[i], eye) if blink else 0.0
        inside = read_interior(gt[i], lm)
        open_inside = inside.core_ratio is not None and inside.opening >= MIDDLING
        band = read_band(gt[i], lm)
        band = band if band is not None and np.isfinite(band.texture) else None
        if i in keep:
            kept[i] = {"truth": gt[i]}
        for k, r in renderers.items():
            dynamics = motion.dynamics[i]
            if k in asked:
                dynamics = dynamics.copy()
                dynamics[eyes] = asked_openness(dynamics[eyes], rest, asked[k])
            img = r.render(motion.pose[i], dynamics)
            s = scores[k]
            s.psnr_face.append(psnr(img, gt[i], face))
            s.ssim_face.append(ssim(img, gt[i], face))
            s.psnr_mouth.append(psnr(img, gt[i], mouth))
            s.ssim_mouth.append(ssim(img, gt[i], mouth))
            s.sharp_ratio.append(sharpness(img, mouth) / max(gt_sharp, 1e-6))
            s.brightness.append(float(img[mouth].mean()))
            s.psnr_eyes.append(psnr(img, gt[i], eye))
            s.ssim_eyes.append(ssim(img, gt[i], eye))
            if open_inside and (seen := read_interior(img, lm)).core_ratio is not None:
                s.inside.append((seen.core_ratio, inside.core_ratio))
                if seen.core_colour is not None and inside.core_colour is not None:
                    s.colour.append((seen.core_colour, inside.core_colour))
            if band is not None and (drawn := read_band(img, lm)) is not None:
                s.teeth.append((drawn.texture, band.texture))
            if blink:
                s.psnr_blink.append(s.psnr_eyes[-1])
                s.ssim_blink.append(s.ssim_eyes[-1])
                s.blink_sharp_ratio.append(sharpness(img, eye) / max(gt_eye_sharp, 1e-6))
            if i in keep:
                kept[i][k] = img
    return {k: s.summary(truth_brightness) for k, s in scores.items()}, kept


def speaker_means(per_clip: dict[str, dict[str, dict[str, float]]], speakers: dict[str, str]
                  ) -> dict[str, dict[str, float]]:
    """Per variant and score, the mean over speakers of each speaker's mean over its clips:
    `per_clip` maps clip -> variant -> score -> value, `speakers` clip -> speaker. The held-out
    clips are not one per speaker (Obama has 5 of the 11 talking ones), and a mean over clips
    weighs a change by how often a speaker was filmed. nan values (a clip with no blink frame)
    are left out, and a speaker with none for a score with them."""
    by: dict[str, list[str]] = {}
    for clip in per_clip:
        by.setdefault(speakers[clip], []).append(clip)
    first = next(iter(per_clip.values()), {})
    out: dict[str, dict[str, float]] = {}
    for variant, scores in first.items():
        out[variant] = {}
        for key in scores:
            means = []
            for clips in by.values():
                values = np.array([per_clip[c][variant][key] for c in clips], np.float64)
                if np.isfinite(values).any():
                    means.append(np.nanmean(values))
            out[variant][key] = float(np.mean(means)) if means else float("nan")
    return out

