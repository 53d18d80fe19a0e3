"""Face tracking: MediaPipe Face Landmarker, offline, with its model carried by a PyPI wheel."""

from vasa.tracking.landmarker import (
    NUM_LANDMARKS,
    VIDEO_MAX_FACES,
    FaceLandmarker,
    FaceObservation,
    NoFaceError,
    default_model_path,
)

__all__ = ["NUM_LANDMARKS", "VIDEO_MAX_FACES", "FaceLandmarker", "FaceObservation", "NoFaceError",
           "default_model_path"]
