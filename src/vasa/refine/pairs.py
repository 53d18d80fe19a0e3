"""Self-reenactment pairs for the refiners: what the renderer makes of a frame, and what was real.

For each clip: crop every frame with the first frame's portrait crop, track it, and encode it
(pose, dynamics). A few frames become portraits and each is rendered under the motion of other
frames of the same clip; the real frame is the truth. Both are cut with the region's crop
(`render.mouth_crop`, `render.eye_crop`) placed on the *decoded* target landmarks, the ones the
renderer knows at run time, so training and rendering crop alike. The portrait's own mouth or
eyes, cropped on its landmarks, is the reference input.

Mouth (the default): portraits are the closest mouth, the widest and one at random (the refiner
must invent teeth for a closed portrait and keep them for an open one), rendered warp only (no
painted mouth). Eyes: portraits are frames with open eyes (as portraits are), rendered with the
drawn irises and lids the runtime refines; targets are oversampled from blinks and gaze
changes (`PairsConfig.blink_share`, `gaze_share`).

On disk (`vasa refiner-pairs [--region eyes] --out PAIRS`):
    PAIRS/index.json           config (its region) and one entry per clip: id, source file,
                               split (train/val), samples
    PAIRS/<id>.npz             warped, target: JPEG-packed (N) crops; reference: JPEG-packed (K);
                               ref: (N,) which reference; lips: (N, 40, 2) or eyes: (N, 42, 2)
                               crop pixels of the target's landmark points
JPEG (quality 90) keeps a pair near 7 KB: the set stays small enough to carry to a GPU.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from vasa.data.manifest import ManifestItem, is_validation, read_manifest, speaker_of
from vasa.io import atomic_output, read_frames
from vasa.latent.basis import FaceBasis, default_basis
from vasa.latent.face_model import decode_canonical, encode_landmarks, lip_gap, placer
from vasa.portrait import Portrait, choose_face, crop_transform, detect_faces, warp_crop
from vasa.refine.config import PairsConfig
from vasa.refine.regions import region
from vasa.refine.store import pack_jpeg
from vasa.render import RenderConfig, Renderer, eye_crop, mouth_crop
from vasa.timebase import MOTION_FPS
from vasa.tracking import VIDEO_MAX_FACES, FaceLandmarker

log = logging.getLogger(__name__)


BLINK_CLOSURE = 0.25  # closure (1 - openness / the clip's median) from which a frame is a blink
OPEN_CLOSURE = 0.1  # closure under which a frame's eyes are open enough to be a portrait


def _choose_sources(gaps: np.ndarray, found: np.ndarray, count: int,
                    rng: np.random.Generator) -> list[int]:
    idx = np.flatnonzero(found)
    chosen = [int(idx[np.argmin(gaps[idx])]), int(idx[np.argmax(gaps[idx])])]
    rest = [int(i) for i in rng.permutation(idx) if i not in chosen]
    return list(dict.fromkeys(chosen + rest))[:count]


def _eye_targets(far: np.ndarray, closure: np.ndarray, gaze_change: np.ndarray,
                 cfg: PairsConfig, rng: np.random.Generator) -> np.ndarray:
    """cfg.targets frames of `far`: blink_share from blinks, gaze_share from the largest gaze
    changes, the rest at random; fewer blinks than asked for leave their places to chance."""
    blinks = rng.permutation(far[closure[far] > BLINK_CLOSURE])[:round(cfg.blink_share *
                                                                        cfg.targets)]
    rest = far[~np.isin(far, blinks)]
    n_gaze = round(cfg.gaze_share * cfg.targets)
    gaze = rest[np.argsort(-gaze_change[rest], kind="stable")[:n_gaze]]
    rest = rest[~np.isin(rest, gaze)]
    chance = rng.permutation(rest)[:cfg.targets - len(blinks) - len(gaze)]
    return np.concatenate([blinks, gaze, chance]).astype(int)


def _tracked_clip(video: str | Path, cfg: PairsConfig, basis: FaceBasis
                  ) -> tuple[list[np.ndarray], list, list, np.ndarray] | None:
    """(frames cropped as the first frame's portrait, their landmarks (None where lost), their
    (pose, dynamics, canonical) encodings, found (T,) bool), or None if too few frames."""
    name = Path(video).name
    frames = list(islice(read_frames(video, fps=MOTION_FPS, max_side=720), cfg.max_frames))
    if len(frames) < 2 * cfg.min_distance + 2:
        return None
    with FaceLandmarker(max_faces=4) as tracker:
        face = choose_face(detect_faces(tracker, frames[0]), name, None)
    m = crop_transform(face, frames[0].shape, basis, cfg.size)
    frames = [warp_crop(f, m, cfg.size) for f in frames]
    lms: list[np.ndarray | None] = []
    with FaceLandmarker(max_faces=VIDEO_MAX_FACES, video=True) as tracker:
        for i, f in enumerate(frames):
            faces = tracker.track(f, i / MOTION_FPS)
            lms.append(faces[0].landmarks if faces else None)
    found = np.array([lm is not None for lm in lms])
    if found.sum() < 2 * cfg.min_distance + 2:
        return None
    enc = [encode_landmarks(lm, basis, cfg.size) if lm is not None else None for lm in lms]
    return frames, lms, enc, found


def clip_pairs(video: str | Path, cfg: PairsConfig, basis: FaceBasis) -> dict | None:
    """Arrays of one clip's pairs (the npz's content), or None if too few frames track."""
    reg = region(cfg.region)
    tracked = _tracked_clip(video, cfg, basis)
    if tracked is None:
        return None
    frames, lms, enc, found = tracked
    name = Path(video).name
    rng = np.random.default_rng(cfg.seed + sum(name.encode()))
    lay = basis.layout
    if reg.name == "mouth":
        gaps = np.array([lip_gap(e[2]) if e is not None else np.nan for e in enc])
        sources = _choose_sources(gaps, found, cfg.sources, rng)
        render_cfg = RenderConfig(mouth=False, eyes=False)
        cut, points = mouth_crop.crop, mouth_crop.lip_points
        affine = mouth_crop.mouth_affine
    else:
        opening = np.array([e[1][lay.eyes] if e is not None else (np.nan, np.nan)
                            for e in enc])  # (T, 2)
        rest = np.nanmedian(opening, 0)
        closure = np.nan_to_num(1 - np.mean(opening / np.maximum(rest, 1e-3), 1), nan=0.0)
        gaze = np.array([e[1][lay.gaze] if e is not None else (np.nan, np.nan) for e in enc])
        open_idx = np.flatnonzero(found & (closure < OPEN_CLOSURE))
        if len(open_idx) == 0:
            return None
        sources = [int(i) for i in rng.permutation(open_idx)[:cfg.sources]]
        # What the runtime refines: the warp with the drawn irises and the lighter lids the
        # eye refiner is given (`render.eyes.LID_LIGHT`), no refiner.
        render_cfg = RenderConfig(mouth=False, eyes=True, refiner=False, light_lids=True)
        cut, points, affine = eye_crop.crop, eye_crop.eye_points, eye_crop.eye_affine
    warped, target, refs, ref_of, pts = [], [], [], [], []
    for k, s in enumerate(sources):
        pose_s, dyn_s, canon_s = enc[s]
        portrait = Portrait(image=frames[s], landmarks=lms[s], canonical=canon_s, pose=pose_s,
                            dynamics=dyn_s, basis_version=basis.version, source=name)
        renderer = Renderer(portrait, basis, render_cfg)
        refs.append(cut(frames[s], affine(lms[s])))
        far = np.array([t for t in np.flatnonzero(found) if abs(int(t) - s) >= cfg.min_distance],
                       int)
        if reg.name == "mouth":
            chosen = rng.permutation(far)[:cfg.targets]
        else:
            change = np.nan_to_num(np.linalg.norm(gaze - gaze[s], axis=1))
            chosen = _eye_targets(far, closure, change, cfg, rng)
        for t in chosen:
            pose_t, dyn_t, _ = enc[t]
            lm = placer(pose_t, cfg.size)(decode_canonical(canon_s, dyn_s, dyn_t, basis))
            a = affine(lm)
            warped.append(cut(renderer.render(pose_t, dyn_t), a))
            target.append(cut(frames[t], a))
            pts.append(points(lm, a))
            ref_of.append(k)
    w, wo = pack_jpeg(warped)
    t, to = pack_jpeg(target)
    r, ro = pack_jpeg(refs)
    return {"warped": w, "warped_offsets": wo, "target": t, "target_offsets": to,
            "reference": r, "reference_offsets": ro, "ref": np.array(ref_of, np.int16),
            reg.points: np.stack(pts).astype(np.float32)}


@dataclass
class PairsEntry:
    id: str
    video: str
    speaker: str
    split: str
    samples: int


def build_pairs(items: list[ManifestItem], out: str | Path, cfg: PairsConfig | None = None,
                progress: bool = True) -> list[PairsEntry]:
    """Write every item's pairs under `out` and index.json; resumes (a clip whose npz exists is
    not redone). Items whose face cannot be tracked are logged and left out."""
    from tqdm import tqdm

    cfg = cfg or PairsConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    basis = default_basis()
    entries = []
    region(cfg.region)  # an unknown region fails before any clip is read
    for item in tqdm(items, desc=f"{cfg.region} refiner pairs", unit="clip",
                     disable=not progress):
        cid = item.video.stem
        path = out / f"{cid}.npz"
        speaker = speaker_of(item)
        split = "val" if is_validation(speaker) else "train"
        if not path.exists():
            try:
                arrays = clip_pairs(item.video, cfg, basis)
            except (ValueError, OSError) as e:  # no face, unreadable: say so, go on
                log.warning("%s: skipped: %s", item.video, e)
                continue
            if arrays is None:
                log.warning("%s: skipped: too few tracked frames", item.video)
                continue
            with atomic_output(path) as tmp, open(tmp, "wb") as f:
                np.savez(f, **arrays)
        with np.load(path) as z:
            n = len(z["ref"])
        entries.append(PairsEntry(cid, str(item.video), speaker, split, n))
    with atomic_output(out / "index.json") as tmp:
        Path(tmp).write_text(json.dumps({"config": asdict(cfg),
                                         "clips": [asdict(e) for e in entries]}, indent=1))
    return entries


def build_pairs_from_manifest(manifest: str | Path, out: str | Path,
                              cfg: PairsConfig | None = None, progress: bool = True
                              ) -> list[PairsEntry]:
    """Pairs from every clip and silent video of a MANIFEST.tsv (both splits; index.json says
    which clip is held out)."""
    return build_pairs(read_manifest(manifest), out, cfg, progress)
