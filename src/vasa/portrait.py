"""A portrait: one face image cropped, aligned and encoded into the face latent space.

`Portrait` is everything the renderer needs for one identity (VASA-1 section 1): the aligned
image (appearance), its canonical 3D face (identity plus the portrait's own expression), and the
portrait's own pose and dynamics. `load_portrait` crops any photo, painting or video frame
around its face with room for head motion, down to the shoulders.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vasa.latent.basis import FaceBasis, default_basis
from vasa.latent.face_model import (
    decode_canonical,
    encode_landmarks,
    fit_pose,
    lip_gap,
    move_lip_gap,
)
from vasa.latent.motion import SCALE, TX, TY
from vasa.tracking import FaceLandmarker, FaceObservation, NoFaceError

log = logging.getLogger(__name__)

# Checked from the header before decoding (CLI, API and server uploads alike): 8K photos (33 MP)
# fit; a 1 MB PNG of 20000x20000 would otherwise decode to 1.2 GB and tile for minutes.
MAX_IMAGE_PIXELS = 40_000_000
# The face search looks at a copy downscaled to this long side: the detector sees 128 px tiles,
# so more pixels only multiply the tiles. Faces under ~100 px in a 40 MP photo may be missed.
MAX_SEARCH_SIDE = 4096
SIZE_RANGE = (64, 2048)  # output side in pixels: below, no face detail; above, no memory
MIN_FACE_PX = 64  # smaller faces carry too little detail to animate
CROP_IOD = 4.6  # crop side in inter-ocular distances: face, hair, neck and room to move
CROP_CENTRE = (0.0, 0.55)  # crop centre in canonical units: between nose tip and mouth
MIN_CROP_IOD = 2.8  # never crop tighter than this, even when the image ends near the face
MAX_YAW_DEG = 45  # beyond this the far half of the face is hidden: nothing to warp it from


@dataclass
class Portrait:
    """image: (S, S, 3) uint8 RGB aligned crop. landmarks: (478, 3) pixels in it.
    canonical: (478, 3) pose-free face. pose: (6,). dynamics: (D,). source: where it came from."""

    image: np.ndarray
    landmarks: np.ndarray
    canonical: np.ndarray
    pose: np.ndarray
    dynamics: np.ndarray
    basis_version: str
    source: str = ""

    @property
    def size(self) -> int:
        return int(self.image.shape[0])

    def identity(self, basis: FaceBasis) -> np.ndarray:
        """Neutral 3D face shape (478, 3): this face with zero expression, eyes open, gaze ahead."""
        neutral = np.zeros_like(self.dynamics)
        eyes = basis.layout.eyes
        neutral[eyes] = np.maximum(self.dynamics[eyes], 0.28)
        return decode_canonical(self.canonical, self.dynamics, neutral, basis)

    def talking_rest(self, basis: FaceBasis) -> np.ndarray:
        """Dynamics (D,) the motion generator's offsets are added to: the portrait's own, with
        its mouth moved to the training speakers' typical talking opening (the template's
        inner-lip gap, 0.088 eye distances).

        The generator's lip offsets are relative to each training speaker's median mouth (its
        features subtract the segment median). Added to the portrait's mouth as it happens to
        be, they leaked its expression into the motion: a closed-mouth portrait opened 0.06-0.3x
        as wide as the real speaker, an open one 3.5x (issue 12). Starting from the state the
        offsets are relative to makes the opening the speech's, whatever the portrait's. The
        change is the smallest one of the whitened coefficients (`move_lip_gap`), so the lip
        shape that carries identity stays."""
        return move_lip_gap(self.dynamics, lip_gap(basis.template) - lip_gap(self.canonical),
                            basis)


def read_image(path: str | Path) -> np.ndarray:
    """RGB uint8 image (H, W, 3) from any image file OpenCV reads; clear errors otherwise."""
    path = Path(path)
    if not path.is_file():
        if path.is_symlink():  # is_file() follows links: say why rather than "not found"
            raise FileNotFoundError(f"{path}: broken symbolic link or symlink loop")
        if path.is_dir():
            raise ValueError(f"{path}: is a folder, not an image file")
        raise FileNotFoundError(f"{path}: file not found")
    return decode_image(np.fromfile(path, np.uint8), str(path))


class ImageTooLargeError(ValueError):
    """An image over MAX_IMAGE_PIXELS, refused from its header before any pixel is decoded."""


def check_size(size: int) -> int:
    """The output side `size`, or ValueError if outside SIZE_RANGE."""
    lo, hi = SIZE_RANGE
    if not lo <= size <= hi:
        raise ValueError(f"--size must be in {lo}..{hi} pixels, got {size}")
    return size


def _header_size(buf: np.ndarray, name: str) -> tuple[int, int] | None:
    """(width, height) read from the image header, no pixel decoded; None for a format Pillow
    does not know (OpenCV may still read it: then the decoded size is checked)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():  # our limit is lower than Pillow's warning threshold
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(buf)) as im:
                return im.size
    except Image.DecompressionBombError:  # Pillow's own limit (179 MP) refused the header
        raise ImageTooLargeError(f"{name}: image of over {2 * Image.MAX_IMAGE_PIXELS // 10**6} "
                                 f"megapixels: at most {MAX_IMAGE_PIXELS // 10**6} megapixels; "
                                 "downscale it first") from None
    except (OSError, ValueError, SyntaxError):
        return None


def _check_pixels(w: int, h: int, name: str) -> None:
    if w * h > MAX_IMAGE_PIXELS:
        raise ImageTooLargeError(f"{name}: image is {w}x{h}: at most "
                                 f"{MAX_IMAGE_PIXELS // 10**6} megapixels; downscale it first")


def decode_image(data: bytes | np.ndarray, name: str = "image") -> np.ndarray:
    """RGB uint8 (H, W, 3) from encoded image bytes: grey, 16-bit and transparent images
    (composited onto white) included. ValueError naming `name` if it is not an image."""
    buf = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else data
    size = _header_size(buf, name) if buf.size else None
    if size is not None:
        _check_pixels(*size, name)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if img is None:
        raise ValueError(f"{name}: not a readable image")
    _check_pixels(img.shape[1], img.shape[0], name)
    if img.dtype != np.uint8:
        img = cv2.convertScaleAbs(img, alpha=255.0 / max(float(img.max()), 1.0))
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:  # composite transparency onto white
        alpha = img[..., 3:].astype(np.float32) / 255
        img = (img[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(img)


def _tiles(h: int, w: int, side: int) -> list[tuple[int, int]]:
    """Top-left corners of square tiles of `side` covering an h x w image with 50% overlap."""
    ys = sorted({*range(0, max(h - side, 0) + 1, max(side // 2, 1)), max(h - side, 0)})
    xs = sorted({*range(0, max(w - side, 0) + 1, max(side // 2, 1)), max(w - side, 0)})
    return [(y, x) for y in ys for x in xs]


def detect_faces(tracker: FaceLandmarker, image: np.ndarray) -> list[FaceObservation]:
    """Faces in an image of any size, largest first.

    MediaPipe's detector is a short-range model that sees the image at 128 px, so a face that
    fills little of a large or wide picture is missed. Besides the whole image we look in
    overlapping square tiles (the image's short side, then halves of it while nothing is
    found) and merge the results, so that a second, smaller face is found too. An image over
    MAX_SEARCH_SIDE is searched downscaled (landmarks in its own pixels still), else a faceless
    40 MP photo would take thousands of tiles.
    """
    k = MAX_SEARCH_SIDE / max(image.shape[:2])
    if k < 1:
        small = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        faces = detect_faces(tracker, small)
        for f in faces:
            f.landmarks /= k
        return faces

    def run(img: np.ndarray, x0: int, y0: int) -> list[FaceObservation]:
        scale = min(1.0, 1024 / max(img.shape[:2]))
        small = img if scale == 1.0 else cv2.resize(img, None, fx=scale, fy=scale,
                                                    interpolation=cv2.INTER_AREA)
        found = tracker.detect(np.ascontiguousarray(small))
        for f in found:
            f.landmarks /= scale
            f.landmarks[:, 0] += x0
            f.landmarks[:, 1] += y0
        return found

    faces = run(image, 0, 0)
    h, w = image.shape[:2]
    side = min(h, w)
    first = True
    while (first or not faces) and side >= 2 * MIN_FACE_PX:
        first = False
        for y, x in _tiles(h, w, side):
            for f in run(image[y:y + side, x:x + side], x, y):
                c = f.landmarks[:, :2].mean(0)
                if all(np.linalg.norm(c - g.landmarks[:, :2].mean(0)) > 0.5 * g.size for g in faces):
                    faces.append(f)
        side //= 2
    faces.sort(key=lambda f: -f.size)
    return faces


def choose_face(faces: list[FaceObservation], name: str, face_index: int | None) -> FaceObservation:
    """The largest face, or the `face_index`-th by size; errors name the file."""
    if not faces:
        raise NoFaceError(f"{name}: no face found")
    if face_index is not None:
        if not 0 <= face_index < len(faces):
            raise ValueError(f"{name}: face index {face_index} out of range (found {len(faces)})")
        face = faces[face_index]
    else:
        face = faces[0]
        if len(faces) > 1:
            log.warning("%s: %d faces found, using the largest (choose with --face-index)",
                        name, len(faces))
    if face.size < MIN_FACE_PX:
        raise NoFaceError(f"{name}: face is {face.size:.0f} px, too small to animate "
                          f"(needs at least {MIN_FACE_PX} px)")
    return face


def crop_transform(face: FaceObservation, image_shape: tuple[int, ...], basis: FaceBasis,
                   size: int, crop_iod: float = CROP_IOD) -> np.ndarray:
    """(2, 3) affine from the image to a `size` square crop, upright (roll removed)."""
    h, w = image_shape[:2]
    pose = fit_pose(face.landmarks, basis, 1.0)
    iod = pose[SCALE]  # pixels per canonical unit
    roll = pose[2]
    c, s = np.cos(roll), np.sin(roll)
    # Canonical crop centre in image pixels (in-plane rotation only; enough for framing).
    cx = pose[TX] + 0.5 + iod * (c * CROP_CENTRE[0] - s * CROP_CENTRE[1])
    cy = pose[TY] + 0.5 + iod * (s * CROP_CENTRE[0] + c * CROP_CENTRE[1])
    side = crop_iod * iod
    # Tight photos: shrink the crop towards what the image holds rather than pad a lot.
    room = 2 * min(cx + 0.15 * w, w * 1.15 - cx, cy + 0.15 * h, h * 1.15 - cy)
    side = max(min(side, room), MIN_CROP_IOD * iod)
    k = size / side
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), float(np.degrees(roll)), k)
    m[:, 2] += size / 2 - np.array([cx, cy])
    return m


def warp_crop(image: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """Apply the crop affine. Where the crop reaches past the image, fill with a heavily
    blurred mirror of it: replicated edge pixels would streak, and a sharp mirror would
    duplicate the face; a blur reads as out-of-focus background."""
    flags = cv2.INTER_AREA if abs(m[0, 0]) + abs(m[0, 1]) < 1 else cv2.INTER_CUBIC
    crop = cv2.warpAffine(image, m, (size, size), flags=flags, borderMode=cv2.BORDER_REFLECT_101)
    inside = cv2.warpAffine(np.full(image.shape[:2], 255, np.uint8), m, (size, size),
                            flags=cv2.INTER_LINEAR, borderValue=0)
    if inside.min() == 255:
        return crop
    k = size // 4 | 1
    small = cv2.resize(crop, (32, 32), interpolation=cv2.INTER_AREA)  # blur cheaply, widely
    blurred = cv2.GaussianBlur(cv2.resize(small, (size, size)), (k, k), 0)
    alpha = cv2.GaussianBlur(cv2.erode(inside, np.ones((5, 5), np.uint8)), (k // 4 | 1,) * 2, 0)
    alpha = alpha.astype(np.float32)[..., None] / 255
    return (crop * alpha + blurred * (1 - alpha)).astype(np.uint8)


def make_portrait(image: np.ndarray, name: str = "", size: int = 512, face_index: int | None = None,
                  basis: FaceBasis | None = None, model_path: str | None = None,
                  crop_iod: float = CROP_IOD) -> Portrait:
    """Crop, align and encode the face in an RGB image."""
    check_size(size)
    basis = basis or default_basis()
    with FaceLandmarker(model_path, max_faces=4) as tracker:
        face = choose_face(detect_faces(tracker, image), name, face_index)
        yaw = np.degrees(fit_pose(face.landmarks, basis, 1.0)[1])
        if abs(yaw) > MAX_YAW_DEG:
            raise NoFaceError(f"{name}: face turned {abs(yaw):.0f} degrees from the camera, too "
                              f"far to animate (at most {MAX_YAW_DEG}); use a more frontal picture")
        m = crop_transform(face, image.shape, basis, size, crop_iod)
        crop = warp_crop(image, m, size)
        # Re-track on the aligned crop: upright and at working resolution, landmarks are better.
        faces = tracker.detect(crop)
        if not faces:
            raise NoFaceError(f"{name}: face lost after cropping")
        lm = faces[0].landmarks
    pose, dyn, canonical = encode_landmarks(lm, basis, size)
    return Portrait(image=crop, landmarks=lm, canonical=canonical, pose=pose, dynamics=dyn,
                    basis_version=basis.version, source=name)


def encode_frame(image: np.ndarray, name: str = "", basis: FaceBasis | None = None,
                 model_path: str | None = None) -> Portrait:
    """A `Portrait` of a square frame as it is, without cropping: its latents then share the
    frame's coordinates with latents tracked from the same video (data engine round trips)."""
    if image.shape[0] != image.shape[1]:
        raise ValueError(f"{name}: encode_frame needs a square frame, got {image.shape[:2]}")
    basis = basis or default_basis()
    with FaceLandmarker(model_path) as tracker:
        lm = choose_face(tracker.detect(image), name, None).landmarks
    pose, dyn, canonical = encode_landmarks(lm, basis, image.shape[0])
    return Portrait(image=np.ascontiguousarray(image), landmarks=lm, canonical=canonical,
                    pose=pose, dynamics=dyn, basis_version=basis.version, source=name)


def load_portrait(path: str | Path, size: int = 512, face_index: int | None = None,
                  basis: FaceBasis | None = None, model_path: str | None = None) -> Portrait:
    """Read an image file and make a `Portrait` of its (largest) face."""
    return make_portrait(read_image(path), str(path), size, face_index, basis, model_path)
