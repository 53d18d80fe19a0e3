"""`vasa build-expressions`: learn the emotion directions of the face latent space from real
videos (`vasa.latent.expressions`).

Every clip of the training speakers in a manifest is tracked (every `every`-th frame at 25
fps, at most `max_frames`); per frame, the face's PCA coefficients (its dynamics) and the 7
emotion scores of its blendshapes. The scores and the coefficients are centred per clip (so a
clip's identity and its mean expression drop out) and the coefficients regressed on the scores.
Clips whose emotion barely varies add little; the actors' expressive clips (exaggerated faces,
MEAD emotions) carry the fit. Disgust and contempt, which the clips barely show, are drawn from
their FACS prototypes instead (`vasa.latent.action_units`).
"""

from __future__ import annotations

import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vasa.data.emotion import EMOTIONS, emotion_coefficients
from vasa.data.manifest import is_validation, read_manifest, speaker_of
from vasa.latent.action_units import PROTOTYPES, drawn_direction
from vasa.latent.basis import default_basis
from vasa.latent.expressions import (
    DEFAULT_EXPRESSIONS,
    INTENSITY_RMS,
    EmotionDirections,
    equal_intensity,
    fit_directions,
)
from vasa.latent.face_model import encode_landmarks
from vasa.motion.controls import EMOTION_LEVEL
from vasa.tracking.video import sampled_faces

log = logging.getLogger(__name__)

MAX_SIDE = 480  # blendshapes and landmarks are stable well below this
MIN_FACE_PX = 64
MIN_FRAMES = 10  # a clip with fewer tracked frames is skipped


def track_expressions(video: str | Path, every: int = 3, max_frames: int = 100
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(PCA coefficients (T, K), emotion scores (T, 7)) of a clip's followed face."""
    basis = default_basis()
    coef, scores = [], []
    for frame, face in sampled_faces(video, every, max_frames, MAX_SIDE, MIN_FACE_PX):
        _, dyn, _ = encode_landmarks(face.landmarks, basis, max(frame.shape[:2]))
        coef.append(dyn[basis.layout.pca])
        scores.append(emotion_coefficients(face.blendshapes[None], face.blendshape_names)[0])
    k = basis.num_pca
    if not coef:
        return np.zeros((0, k), np.float32), np.zeros((0, len(EMOTIONS)), np.float32)
    return np.array(coef, np.float32), np.array(scores, np.float32)


def _track(video: str) -> tuple[str, tuple[np.ndarray, np.ndarray] | str]:
    try:
        return video, track_expressions(video)
    except ValueError as err:  # unreadable media: skip the clip with its reason
        return video, str(err)


def build_expressions_from_manifest(manifest: str | Path, out: str | Path = DEFAULT_EXPRESSIONS,
                                    workers: int = 2, ridge: float = 1.0) -> EmotionDirections:
    """Track the training speakers' clips of `manifest`, fit and save the directions."""
    items = [it for it in read_manifest(manifest)
             if ";" not in speaker_of(it) and not is_validation(speaker_of(it))]
    if not items:
        raise ValueError(f"{manifest}: no clip of a training speaker")
    coef, scores, used = [], [], []
    with ProcessPoolExecutor(workers) as pool:
        for video, got in tqdm(pool.map(_track, [str(i.video) for i in items]),
                               total=len(items), desc="tracking"):
            if isinstance(got, str):
                log.warning("%s: skipped (%s)", video, got)
            elif len(got[0]) >= MIN_FRAMES:
                coef.append(got[0])
                scores.append(got[1])
                used.append(Path(video).name)
    if not coef:
        raise ValueError(f"{manifest}: no clip had {MIN_FRAMES} tracked frames")
    basis = default_basis()
    directions, explained = fit_directions(coef, scores, ridge)
    directions, scale = equal_intensity(directions, basis)
    for emotion in PROTOTYPES:  # what the footage barely shows is drawn from FACS instead
        # per unit of score, like the fitted ones: a named emotion (`--emotion disgust`) is a
        # score of EMOTION_LEVEL and shows the drawn prototype at intensity 1
        directions[EMOTIONS.index(emotion)] = drawn_direction(emotion, basis) / EMOTION_LEVEL
    spread = np.concatenate([s - s.mean(0) for s in scores]).std(0)
    info = {"source": str(manifest), "clips": used, "frames": int(sum(len(c) for c in coef)),
            "ridge": ridge, "explained_variance": [round(float(v), 4) for v in explained],
            "drawn": {e: list(units) for e, units in PROTOTYPES.items()},
            "score_std_within_clip": dict(zip(EMOTIONS, np.round(spread, 4).tolist())),
            "intensity_rms": INTENSITY_RMS,
            "scale_per_unit_score": {e: round(float(k), 4) for e, k in zip(EMOTIONS, scale)
                                     if e not in PROTOTYPES}}
    result = EmotionDirections(EMOTIONS, directions.astype(np.float32), basis.version, info)
    result.save(out)
    return result
