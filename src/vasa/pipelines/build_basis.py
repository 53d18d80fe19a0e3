"""`vasa build-basis`: learn the face basis (template + dynamics PCA) from real videos."""

from __future__ import annotations

import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vasa.data.manifest import ManifestItem, is_validation, read_manifest, speaker_of
from vasa.latent.basis import FaceBasis, build_basis
from vasa.tracking.video import sampled_faces

log = logging.getLogger(__name__)

MAX_SIDE = 640  # tracking accuracy saturates well below 1080p; decoding and tracking get faster
MIN_FACE_PX = 64


def track_clip(video: str | Path, every: int = 2, max_frames: int = 300,
               model_path: str | None = None) -> np.ndarray:
    """Landmarks (T, 478, 3) of every `every`-th frame at 25 fps (at most `max_frames`), frames
    with no face or a face under 64 px skipped."""
    kept = [face.landmarks for _, face in
            sampled_faces(video, every, max_frames, MAX_SIDE, MIN_FACE_PX, model_path)]
    return np.stack(kept) if kept else np.zeros((0, 478, 3), np.float32)


def _track_item(item: ManifestItem) -> tuple[str, np.ndarray | str]:
    try:
        return str(item.video), track_clip(item.video)
    except ValueError as err:  # unreadable media: skip the clip with its reason
        return str(item.video), str(err)


def build_basis_from_manifest(manifest: str | Path, out: str | Path, num_components: int = 24,
                              workers: int = 2) -> FaceBasis:
    """Track the training-split clips of a manifest and write the basis to `out`."""
    items = [i for i in read_manifest(manifest) if not is_validation(speaker_of(i))]
    clips, used = [], []
    with ProcessPoolExecutor(workers) as pool:
        for name, result in tqdm(pool.map(_track_item, items), total=len(items), desc="tracking"):
            if isinstance(result, str):
                log.warning("skipped %s: %s", name, result)
            elif len(result) < 10:
                log.warning("skipped %s: fewer than 10 frames with a usable face", name)
            else:
                clips.append(result)
                used.append(Path(name).name)
    basis = build_basis(clips, num_components=num_components,
                        info={"source": str(manifest), "split": "train speakers", "items": used})
    basis.save(out)
    return basis
