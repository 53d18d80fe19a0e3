"""Self-reenactment pairs for the refiner: what the warp makes of a frame, and what was real.

For each clip: crop every frame with the first frame's portrait crop, track it, and encode it
(pose, dynamics). A few frames become portraits (the closest mouth, the widest, one at random:
the refiner must invent teeth for a closed portrait and keep them for an open one). Each is
rendered, warp only (no painted mouth), under the motion of other frames of the same clip; the
real frame is the truth. Both are cut with the mouth crop (`refine.crops`) placed on the
*decoded* target landmarks, the ones the renderer knows at run time, so training and rendering
crop alike. The portrait's own mouth, cropped on its landmarks, is the reference input.

On disk (`vasa refiner-pairs --out PAIRS`):
    PAIRS/index.json           one entry per clip: id, source file, split (train/val), samples
    PAIRS/<id>.npz             warped, target: JPEG-packed (N) crops; reference: JPEG-packed (K);
                               ref: (N,) which reference; lips: (N, 40, 2) crop pixels
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
from vasa.refine.store import pack_jpeg
from vasa.render import RenderConfig, Renderer
from vasa.render import mouth_crop as crops
from vasa.timebase import MOTION_FPS
from vasa.tracking import VIDEO_MAX_FACES, FaceLandmarker

log = logging.getLogger(__name__)


def _choose_sources(gaps: np.ndarray, found: np.ndarray, count: int,
                    rng: np.random.Generator) -> list[int]:
    idx = np.flatnonzero(found)
    chosen = [int(idx[np.argmin(gaps[idx])]), int(idx[np.argmax(gaps[idx])])]
    rest = [int(i) for i in rng.permutation(idx) if i not in chosen]
    return list(dict.fromkeys(chosen + rest))[:count]


def clip_pairs(video: str | Path, cfg: PairsConfig, basis: FaceBasis) -> dict | None:
    """Arrays of one clip's pairs (the npz's content), or None if too few frames track."""
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
    gaps = np.array([lip_gap(e[2]) if e is not None else np.nan for e in enc])
    rng = np.random.default_rng(cfg.seed + sum(name.encode()))
    warped, target, refs, ref_of, lips = [], [], [], [], []
    for k, s in enumerate(_choose_sources(gaps, found, cfg.sources, rng)):
        pose_s, dyn_s, canon_s = enc[s]
        portrait = Portrait(image=frames[s], landmarks=lms[s], canonical=canon_s, pose=pose_s,
                            dynamics=dyn_s, basis_version=basis.version, source=name)
        renderer = Renderer(portrait, basis, RenderConfig(mouth=False, eyes=False))
        refs.append(crops.crop(frames[s], crops.mouth_affine(lms[s])))
        far = [t for t in np.flatnonzero(found) if abs(int(t) - s) >= cfg.min_distance]
        for t in rng.permutation(far)[:cfg.targets]:
            pose_t, dyn_t, _ = enc[t]
            lm = placer(pose_t, cfg.size)(decode_canonical(canon_s, dyn_s, dyn_t, basis))
            a = crops.mouth_affine(lm)
            warped.append(crops.crop(renderer.render(pose_t, dyn_t), a))
            target.append(crops.crop(frames[t], a))
            lips.append(crops.lip_points(lm, a))
            ref_of.append(k)
    w, wo = pack_jpeg(warped)
    t, to = pack_jpeg(target)
    r, ro = pack_jpeg(refs)
    return {"warped": w, "warped_offsets": wo, "target": t, "target_offsets": to,
            "reference": r, "reference_offsets": ro, "ref": np.array(ref_of, np.int16),
            "lips": np.stack(lips).astype(np.float32)}


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
    for item in tqdm(items, desc="refiner pairs", unit="clip", disable=not progress):
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
