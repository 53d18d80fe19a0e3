"""Self-reenactment: how well the latent space + renderer reproduce a real talking clip.

The first frame of a clip becomes the portrait; the clip's own motion, tracked and encoded into
(pose, dynamics), drives it; the real frames are the ground truth. Every ground-truth frame is
cropped with the portrait's affine so that render and truth share pixel coordinates. Scores are
taken inside the face (convex hull of the tracked face oval, slightly dilated), because the
renderer keeps the background still by design and a full-frame score would mostly measure that.

Alongside the render we score a "still" baseline: the portrait itself, never moved. A renderer
worth having must beat it on the frames where the person moves.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from vasa.io import atomic_output, read_frames
from vasa.latent import topology as topo
from vasa.latent.basis import FaceBasis, default_basis
from vasa.latent.face_model import encode_landmarks, fit_pose
from vasa.latent.motion import MotionLatents
from vasa.latent.retarget import retarget
from vasa.portrait import (
    Portrait,
    choose_face,
    crop_transform,
    detect_faces,
    make_portrait,
    warp_crop,
)
from vasa.render import Renderer
from vasa.tracking import FaceLandmarker, NoFaceError

MASK_DILATE_IOD = 0.1  # mask grown by this many inter-ocular distances: keeps the jaw edge in
SSIM_C1 = (0.01 * 255) ** 2  # Wang et al. 2004 constants for 8-bit data
SSIM_C2 = (0.03 * 255) ** 2
OUTER_EYE_CORNERS = (33, 263)


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB of two uint8-range images (H, W[, C]) over the pixels where `mask` is true.

    Identical images give +inf.
    """
    diff = a.astype(np.float64) - b.astype(np.float64)
    sq = diff**2 if diff.ndim == 2 else (diff**2).mean(-1)
    if mask is not None:
        if not mask.any():
            raise ValueError("psnr: empty mask")
        sq = sq[mask]
    mse = float(sq.mean())
    return float("inf") if mse == 0.0 else 10.0 * np.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean SSIM (Gaussian window 11x11, sigma 1.5, per channel) over the pixels of `mask`.

    Identical images give 1.0. The local statistics are computed on the whole image before
    masking, so pixels near the mask edge see their true neighbourhood.
    """
    x, y = a.astype(np.float64), b.astype(np.float64)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]

    def blur(img: np.ndarray) -> np.ndarray:
        out = cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)
        return out.reshape(img.shape)  # GaussianBlur drops a trailing channel axis of 1

    mx, my = blur(x), blur(y)
    vx, vy = blur(x * x) - mx * mx, blur(y * y) - my * my
    cov = blur(x * y) - mx * my
    smap = ((2 * mx * my + SSIM_C1) * (2 * cov + SSIM_C2)
            / ((mx * mx + my * my + SSIM_C1) * (vx + vy + SSIM_C2))).mean(-1)
    if mask is not None:
        if not mask.any():
            raise ValueError("ssim: empty mask")
        smap = smap[mask]
    return float(smap.mean())


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance in pixels between the outer eye corners (landmarks 33 and 263)."""
    a, b = OUTER_EYE_CORNERS
    return float(np.linalg.norm(landmarks[a, :2] - landmarks[b, :2]))


def face_mask(landmarks: np.ndarray, shape: tuple[int, ...],
              dilate_iod: float = MASK_DILATE_IOD) -> np.ndarray:
    """Bool (H, W) mask: convex hull of the face oval, grown by `dilate_iod` eye distances."""
    mask = np.zeros(shape[:2], np.uint8)
    hull = cv2.convexHull(np.round(landmarks[topo.FACE_OVAL, :2]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    r = round(dilate_iod * inter_ocular(landmarks))
    if r > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
    return mask.astype(bool)


def landmark_nme(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean 2D landmark distance divided by the ground truth's inter-ocular distance."""
    err = np.linalg.norm(pred[:, :2] - truth[:, :2], axis=1).mean()
    return float(err / max(inter_ocular(truth), 1e-6))


def pose_error_deg(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute difference of (pitch, yaw, roll), in degrees, of two (6,) poses."""
    d = np.asarray(pred[:3], np.float64) - np.asarray(truth[:3], np.float64)
    d = (d + np.pi) % (2 * np.pi) - np.pi  # angles wrap: 359 deg and 1 deg differ by 2
    return float(np.degrees(np.abs(d)).mean())


@dataclass
class ClipResult:
    """Per-clip means over scored frames: frames where both the ground truth and the render
    have a tracked face, first frame excluded (it is the portrait itself).

    frames: frames rendered; lost_frames: frames not scored because a face was lost (lost_gt
    in the real frame, lost_render in the rendered one). still_*: the same scores for the
    portrait held still; still_pose_err_deg is thus the mean head rotation away from the first
    frame (how much pose there was to reproduce)."""

    name: str
    psnr_face: float
    ssim_face: float
    pose_err_deg: float
    lmk_nme: float
    frames: int
    lost_frames: int
    lost_gt: int = 0
    lost_render: int = 0
    still_psnr_face: float = float("nan")
    still_ssim_face: float = float("nan")
    still_pose_err_deg: float = float("nan")
    still_lmk_nme: float = float("nan")
    size: int = 0
    seconds: float = 0.0
    comparison: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def portrait_crop(image: np.ndarray, portrait: Portrait, basis: FaceBasis, size: int,
                  model_path: str | None = None) -> np.ndarray:
    """(2, 3) affine that `make_portrait` used to crop `image` into `portrait`.

    make_portrait does not return its affine, so its face detection is repeated here with the
    same helpers (IMAGE mode is deterministic) and the result checked against the portrait's
    pixels: a mismatch would silently misalign every ground-truth frame.
    """
    with FaceLandmarker(model_path, max_faces=4) as tracker:
        faces = detect_faces(tracker, image)
    m = crop_transform(choose_face(faces, portrait.source, None), image.shape, basis, size)
    crop = warp_crop(image, m, size)
    err = float(np.abs(crop.astype(np.int16) - portrait.image.astype(np.int16)).mean())
    if err > 0.5:
        raise RuntimeError(f"{portrait.source}: cannot reproduce the portrait's crop "
                           f"(mean abs difference {err:.1f}); has make_portrait changed?")
    return m


def track_all(frames: list[np.ndarray], fps: float, model_path: str | None
               ) -> list[np.ndarray | None]:
    """Landmarks of the largest face per frame (None where lost), tracked as a video."""
    out: list[np.ndarray | None] = []
    with FaceLandmarker(model_path, video=True) as tracker:
        for i, frame in enumerate(frames):
            faces = tracker.track(frame, i / fps)
            out.append(faces[0].landmarks if faces else None)
    return out


def driving_motion(landmarks: list[np.ndarray | None], basis: FaceBasis, size: int,
                    name: str) -> MotionLatents:
    """Motion latents of tracked frames, holding the nearest earlier motion where lost (the first
    found one before any), as the reenact pipeline does."""
    found = [i for i, lm in enumerate(landmarks) if lm is not None]
    if not found:
        raise NoFaceError(f"{name}: no face tracked in any cropped frame")
    poses, dyns = [], []
    last = found[0]
    for i, lm in enumerate(landmarks):
        last = i if lm is not None else last
        pose, dyn, _ = encode_landmarks(landmarks[last], basis, size)
        poses.append(pose)
        dyns.append(dyn)
    return MotionLatents(np.stack(poses), np.stack(dyns))


def comparison_indices(num_frames: int, count: int = 5) -> list[int]:
    """`count` frame indices spread over a clip, skipping the first (the portrait itself)."""
    if num_frames < 2:
        return [0]
    idx = np.linspace(0, num_frames - 1, count + 1)[1:]
    return sorted({max(1, round(float(i))) for i in idx})


def save_comparison(path: str | Path, truth: list[np.ndarray], rendered: list[np.ndarray],
                    labels: list[str] | None = None, tile: int = 256) -> Path:
    """PNG strip: ground truth (top row), render (middle), |difference| x4 (bottom), one
    column per frame; written atomically. Returns the path."""
    path = Path(path)
    cols = []
    for j, (gt, rd) in enumerate(zip(truth, rendered, strict=True)):
        diff = np.clip(np.abs(gt.astype(np.int16) - rd.astype(np.int16)).mean(-1) * 4, 0, 255)
        heat = cv2.applyColorMap(diff.astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]
        tiles = [cv2.resize(im, (tile, tile), interpolation=cv2.INTER_AREA)
                 for im in (gt, rd, heat)]
        texts = (labels[j] if labels else f"#{j}", "render", "|diff| x4")
        for im, text in zip(tiles, texts, strict=True):
            cv2.putText(im, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 0), 1,
                        cv2.LINE_AA)
        cols.append(np.concatenate(tiles, 0))
    strip = np.concatenate(cols, 1)
    with atomic_output(path) as tmp:
        if not cv2.imwrite(tmp, cv2.cvtColor(strip, cv2.COLOR_RGB2BGR)):
            raise OSError(f"{path}: cannot write PNG")
    return path


class SelfReenactment(NamedTuple):
    """A clip set up for self-reenactment: its first frame as the portrait, the real frames
    cropped with the portrait's affine (truth, frame 0 is the portrait image), their tracked
    landmarks (None where lost) and the motion that drives the portrait through them."""

    portrait: Portrait
    truth: list[np.ndarray]
    truth_landmarks: list[np.ndarray | None]
    motion: MotionLatents


def self_reenactment(video_path: str | Path, max_frames: int, size: int, fps: float,
                     basis: FaceBasis, model_path: str | None = None) -> SelfReenactment:
    """The first `max_frames` frames of a clip at `fps`, set up for self-reenactment."""
    name = Path(video_path).name
    frames_iter = read_frames(video_path, fps=fps)
    first = next(frames_iter, None)
    if first is None:
        raise ValueError(f"{video_path}: no frames")
    portrait = make_portrait(first, name, size, basis=basis, model_path=model_path)
    m = portrait_crop(first, portrait, basis, size, model_path)
    gt = [portrait.image]  # frame 0 cropped is the portrait image (checked by portrait_crop)
    for frame in frames_iter:
        if len(gt) >= max_frames:
            break
        gt.append(warp_crop(frame, m, size))  # the portrait's own crop, padding included
    gt_lm = track_all(gt, fps, model_path)
    driving = driving_motion(gt_lm, basis, size, name)
    # Relative to the driver's first frame, which is the portrait: self-reenactment is the
    # identity mapping plus whatever the latent space and renderer lose.
    motion = retarget(portrait.pose, portrait.dynamics, driving, basis.num_pca)
    return SelfReenactment(portrait, gt, gt_lm, motion)


def self_reenact_clip(video_path: str | Path, max_frames: int = 250, size: int = 512,
                      fps: float = 25.0, basis: FaceBasis | None = None,
                      comparison_path: str | Path | None = None,
                      model_path: str | None = None) -> ClipResult:
    """Drive a clip's first frame with the clip's own motion and score against the real frames
    (the first `max_frames` frames at `fps`); writes a GT/render PNG strip to `comparison_path`
    when given."""
    t0 = time.perf_counter()
    basis = basis or default_basis()
    name = Path(video_path).name
    portrait, gt, gt_lm, motion = self_reenactment(video_path, max_frames, size, fps, basis,
                                                   model_path)
    renderer = Renderer(portrait, basis)
    still_lm = gt_lm[0] if gt_lm[0] is not None else portrait.landmarks
    keys = ("psnr", "ssim", "pose", "nme")
    scores: dict[str, list[float]] = {p + k: [] for p in ("", "s_") for k in keys}
    shown = comparison_indices(len(gt)) if comparison_path is not None else []
    kept: dict[int, np.ndarray] = {}
    lost = lost_render = 0
    # Render and re-track frame by frame: only the frames for the comparison strip are kept.
    with FaceLandmarker(model_path, video=True) as tracker:
        for i in range(len(gt)):
            frame = renderer.render(motion.pose[i], motion.dynamics[i])
            faces = tracker.track(frame, i / fps)
            if i in shown:
                kept[i] = frame
            lost_render += not faces
            g = gt_lm[i]
            if i == 0:
                continue
            if g is None or not faces:
                lost += 1
                continue
            mask = face_mask(g, gt[i].shape)
            g_pose = fit_pose(g, basis, size)
            for key, img, lm in (("", frame, faces[0].landmarks),
                                 ("s_", portrait.image, still_lm)):
                scores[key + "psnr"].append(psnr(img, gt[i], mask))
                scores[key + "ssim"].append(ssim(img, gt[i], mask))
                scores[key + "pose"].append(pose_error_deg(fit_pose(lm, basis, size), g_pose))
                scores[key + "nme"].append(landmark_nme(lm, g))
    mean = {k: float(np.mean(v)) if v else float("nan") for k, v in scores.items()}
    out_png = None
    if comparison_path is not None:
        out_png = str(save_comparison(comparison_path, [gt[i] for i in shown],
                                      [kept[i] for i in shown], [f"GT #{i}" for i in shown]))
    return ClipResult(
        name=name, psnr_face=mean["psnr"], ssim_face=mean["ssim"], pose_err_deg=mean["pose"],
        lmk_nme=mean["nme"], frames=len(gt), lost_frames=lost,
        lost_gt=sum(lm is None for lm in gt_lm), lost_render=lost_render,
        still_psnr_face=mean["s_psnr"], still_ssim_face=mean["s_ssim"],
        still_pose_err_deg=mean["s_pose"], still_lmk_nme=mean["s_nme"], size=size,
        seconds=time.perf_counter() - t0, comparison=out_png)
