"""A portrait: one face image cropped, aligned and encoded into the face latent space.

`Portrait` is everything the renderer needs for one identity (VASA-1 section 1): the aligned
image (appearance), its canonical 3D face (identity plus the portrait's own expression), and the
portrait's own pose and dynamics. `load_portrait` crops any photo, painting or video frame
around its face with room for head motion, down to the shoulders.

Two framings of the output (issue 13). The crop (`framed=False`, `--crop`): the aligned square
is the output, `size` its side; where it reaches past the picture (most tight headshots) it is
filled with a blurred mirror, so up to a third of the frame is invented. The picture
(`framed=True`, the pipelines' default): the output is the picture as given, scaled to `size`
on its long side, and the crop is cut from it at that pixel scale, so that the animated crop
pastes back pixel for pixel (`vasa.render.paste`); `Portrait.framing` says where it lies.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vasa.latent import topology as topo
from vasa.latent.basis import FaceBasis, default_basis
from vasa.latent.face_model import (
    SHUT_EYE,
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
# Framed output: the crop is cut at the picture's own pixel scale (no resampling when pasted
# back), within these sides: past MAX the renderer's cost (which grows with the crop's pixels,
# 4x at 1024 what it is at 512) buys nothing at video sizes, so the face is rendered at MAX and
# scaled up; under MIN the mouth and iris sprites get too few pixels, so it is scaled down.
MAX_CROP_PX = 1024
MIN_CROP_PX = 128
TRACK_PX = 512  # framed: landmarks are tracked on a crop of this side, whatever the output's size
# Framed: a face tilted less than this is cropped without turning it upright, so that the crop
# is the picture's own pixels and the paste back a copy (no resampling either way); the tilt
# stays in the portrait's pose, which the renderer places like the tilts the generated motion
# adds. A face tilted more is cropped upright, as the renderer was built for (crop mode).
ROLL_SNAP_DEG = 10.0


@dataclass
class Framing:
    """Where the aligned crop lies in the picture it was cut from.

    to_crop: (2, 3) affine, picture pixels -> crop pixels. shape: (H, W) of the picture.
    picture: (H, W, 3) uint8 RGB, the picture at output scale, when the output is the picture
    (framed); None when the output is the crop: the source image (of any size) is not kept.
    enlarged: crop pixels per pixel of the image as read (over 1: the image was enlarged, and
    one of its pixels, the finest detail or edge it holds, spans that many crop pixels)."""

    to_crop: np.ndarray
    shape: tuple[int, int]
    picture: np.ndarray | None = None
    enlarged: float = 1.0


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
    framing: Framing | None = None  # None: a frame taken as it is (encode_frame)

    @property
    def size(self) -> int:
        """The crop's side in pixels (what `Renderer.render` returns)."""
        return int(self.image.shape[0])

    @property
    def enlarged(self) -> float:
        """Crop pixels per pixel of the image it was cut from (`Framing.enlarged`; 1 when
        unknown)."""
        return 1.0 if self.framing is None else float(self.framing.enlarged)

    @property
    def framed(self) -> bool:
        """Whether the output is the picture (the animated crop pasted back), not the crop."""
        return self.framing is not None and self.framing.picture is not None

    @property
    def output_shape(self) -> tuple[int, int]:
        """(H, W) of the frames the pipelines write for this portrait."""
        if self.framed:
            return self.framing.shape
        return self.size, self.size

    def identity(self, basis: FaceBasis) -> np.ndarray:
        """Neutral 3D face shape (478, 3): this face with zero expression, eyes open, gaze ahead."""
        neutral = np.zeros_like(self.dynamics)
        eyes = basis.layout.eyes
        neutral[eyes] = np.maximum(self.dynamics[eyes], 0.28)
        return decode_canonical(self.canonical, self.dynamics, neutral, basis)

    def shut_eyes(self, basis: FaceBasis) -> tuple[bool, bool]:
        """Which of the portrait's eyes (right, left) are shut: they have no iris to show, so
        they stay shut in every frame."""
        shut = self.dynamics[basis.layout.eyes] < SHUT_EYE
        return bool(shut[0]), bool(shut[1])

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


def crop_square(face: FaceObservation, image_shape: tuple[int, ...], basis: FaceBasis,
                crop_iod: float = CROP_IOD, framed: bool = False
                ) -> tuple[float, float, float, float]:
    """(cx, cy, side, roll): the crop's centre and side in image pixels and the face's roll
    (radians), which `crop_transform` turns upright. framed: the crop is the renderer's canvas
    inside the picture, not the output (`framed_transform`): its side is not shrunk toward a
    close edge (that cut off the top of a head whose chin is near the picture's bottom), only
    to the side that covers the whole picture (past it, a crop holds nothing more)."""
    h, w = image_shape[:2]
    pose = fit_pose(face.landmarks, basis, 1.0)
    iod = pose[SCALE]  # pixels per canonical unit
    roll = pose[2]
    c, s = np.cos(roll), np.sin(roll)
    # Canonical crop centre in image pixels (in-plane rotation only; enough for framing).
    cx = pose[TX] + 0.5 + iod * (c * CROP_CENTRE[0] - s * CROP_CENTRE[1])
    cy = pose[TY] + 0.5 + iod * (s * CROP_CENTRE[0] + c * CROP_CENTRE[1])
    side = crop_iod * iod
    if framed:  # the side that covers the picture, cropped upright (turned, ROLL_SNAP_DEG)
        t = abs(roll) if abs(np.degrees(roll)) >= ROLL_SNAP_DEG else 0.0
        room = max(w * np.cos(t) + h * np.sin(t), w * np.sin(t) + h * np.cos(t))
    else:  # tight photos: shrink the crop towards what the image holds rather than pad a lot
        room = 2 * min(cx + 0.15 * w, w * 1.15 - cx, cy + 0.15 * h, h * 1.15 - cy)
    side = max(min(side, room), MIN_CROP_IOD * iod)
    return cx, cy, side, roll


def crop_transform(face: FaceObservation, image_shape: tuple[int, ...], basis: FaceBasis,
                   size: int, crop_iod: float = CROP_IOD) -> np.ndarray:
    """(2, 3) affine from the image to a `size` square crop, upright (roll removed)."""
    cx, cy, side, roll = crop_square(face, image_shape, basis, crop_iod)
    k = size / side
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), float(np.degrees(roll)), k)
    m[:, 2] += size / 2 - np.array([cx, cy])
    return m


def _linear_scale(m: np.ndarray) -> float:
    """The scale of a (2, 3) affine (the square root of its linear part's determinant)."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(m, np.float64)[:, :2]))))


def even(n: float) -> int:
    """`n` rounded to an even number, at least 2 (H.264's 4:2:0 colour needs even sides)."""
    return max(2, 2 * round(n / 2))


def picture_size(image_shape: tuple[int, ...], size: int) -> tuple[int, int]:
    """(width, height) of the framed output: the image scaled to `size` on its long side, each
    side rounded to even (the aspect ratio changes by under a pixel)."""
    h, w = image_shape[:2]
    k = size / max(h, w)
    return even(w * k), even(h * k)


def _then(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The (2, 3) affine doing `b` after `a`."""
    out = b[:, :2] @ a
    out[:, 2] += b[:, 2]
    return out


def _scale(kx: float, ky: float) -> np.ndarray:
    """(2, 3) affine resizing pixels by (kx, ky), pixel centres to pixel centres (cv2.resize)."""
    return np.array([[kx, 0.0, 0.5 * kx - 0.5], [0.0, ky, 0.5 * ky - 0.5]])


def framed_transform(face: FaceObservation, image_shape: tuple[int, ...], basis: FaceBasis,
                     picture_wh: tuple[int, int], crop_iod: float = CROP_IOD,
                     canvas: bool = True) -> tuple[np.ndarray, int]:
    """(to_crop, side): the (2, 3) affine from picture pixels (the image resized to
    `picture_wh`) to the crop, and the crop's side, at the picture's pixel scale within
    MIN_CROP_PX..MAX_CROP_PX. The square is `crop_square`'s; under ROLL_SNAP_DEG of tilt and
    within the side limits the affine is a whole-pixel shift. canvas: the renderer's crop
    (`crop_square(framed=True)`, slid into the picture: `slide_inside`); False: the square
    centred on the face that the landmarks are tracked on (`make_portrait`)."""
    h, w = image_shape[:2]
    kx, ky = picture_wh[0] / w, picture_wh[1] / h
    cx, cy, side, roll = crop_square(face, image_shape, basis, crop_iod, framed=canvas)
    centre = _scale(kx, ky) @ np.array([cx, cy, 1.0])
    side *= (kx + ky) / 2
    size = int(np.clip(round(side), MIN_CROP_PX, MAX_CROP_PX))
    k = 1.0 if size == round(side) else size / side
    deg = float(np.degrees(roll)) if abs(np.degrees(roll)) >= ROLL_SNAP_DEG else 0.0
    if canvas and deg == 0.0:
        centre = slide_inside(centre, size / k, picture_wh)
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), deg, k)
    m[:, 2] += size / 2 - centre
    if deg == 0.0 and k == 1.0:
        m[:, 2] = np.round(m[:, 2])
    return m, size


def slide_inside(centre: np.ndarray, side: float, picture_wh: tuple[int, int]) -> np.ndarray:
    """The centre (2,) of an upright square crop of `side` moved, along each axis, to the point
    nearest it where the crop overhangs the picture (W, H) as little as it can: inside it where
    it fits, else covering the picture's whole extent. The crop is the renderer's canvas, and
    what lies outside it stays still: a crop centred on the face of a close-up hung past the
    picture's bottom edge and cut off the top of the head, whose hair then sheared into a hook
    as the head turned (Aya: 11.8% of her head above the eyes outside the crop). Slid, the crop
    loses no picture it held, and every held edge (the crop's, the picture's) is at least as
    far from the face as before."""
    out = np.array(centre, np.float64)
    for axis, extent in enumerate(picture_wh):
        lo, hi = sorted((side / 2, extent - side / 2))  # hi < lo when the crop outgrows it
        out[axis] = np.clip(out[axis], lo, hi)
    return out


def cut_crop(picture: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """The framed crop: `picture` through `m`, mirrored past its edges. Sharp, unlike
    `warp_crop`'s blurred fill: what lies outside the picture is never pasted back (only the
    renderer sees it), and inside, a whole-pixel shift copies the picture exactly."""
    flags = cv2.INTER_LINEAR if abs(m[0, 0]) + abs(m[0, 1]) < 1 else cv2.INTER_CUBIC
    return cv2.warpAffine(picture, m, (size, size), flags=flags,
                          borderMode=cv2.BORDER_REFLECT_101)


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
                  crop_iod: float = CROP_IOD, framed: bool = False) -> Portrait:
    """Crop, align and encode the face in an RGB image.

    framed=False: the crop is the output, `size` its side. framed=True: the output is the
    picture, `size` its long side; the crop is cut from it at its pixel scale (`Framing`)."""
    check_size(size)
    basis = basis or default_basis()
    with FaceLandmarker(model_path, max_faces=4, blendshapes=False) as tracker:
        face = choose_face(detect_faces(tracker, image), name, face_index)
        eyes = np.stack([face.landmarks[e, :2].mean(0) for e in (topo.RIGHT_EYE, topo.LEFT_EYE)])
        if not np.any(np.all((eyes >= 0) & (eyes < image.shape[1::-1]), axis=1)):
            # The detector places a face whose eyes the picture has cut off (a chin and mouth
            # at its top edge); nothing in the picture shows them, so nothing can animate them.
            # One eye inside is enough: a face cut down its side renders.
            raise NoFaceError(f"{name}: the face is cut by the picture's edge (its eyes lie "
                              "outside it); use a picture that shows the whole face")
        yaw = np.degrees(fit_pose(face.landmarks, basis, 1.0)[1])
        if abs(yaw) > MAX_YAW_DEG:
            raise NoFaceError(f"{name}: face turned {abs(yaw):.0f} degrees from the camera, too "
                              f"far to animate (at most {MAX_YAW_DEG}); use a more frontal picture")
        if framed:
            wh = picture_size(image.shape, size)
            m, side = framed_transform(face, image.shape, basis, wh, crop_iod)
            # Tracked on a TRACK_PX crop of the full-resolution image, so landmarks are as good
            # whatever the output's size: of the square centred on the face (the tracker's
            # input as in crop mode; the canvas may hold the face off centre), then moved to
            # the canvas. (Tracked on the canvas, Alex Lacamoire's landmarks moved 0.7 px and
            # his matte took the backdrop beside his head.)
            m_face, side_face = framed_transform(face, image.shape, basis, wh, crop_iod,
                                                 canvas=False)
            to_picture = _scale(wh[0] / image.shape[1], wh[1] / image.shape[0])
            to_track = _then(_then(to_picture, m_face), _scale(*(TRACK_PX / side_face,) * 2))
            track = warp_crop(image, to_track, TRACK_PX)
        else:
            m, side = crop_transform(face, image.shape, basis, size, crop_iod), size
            track = warp_crop(image, m, size)
        # Re-track on the aligned crop: centred and at working resolution, landmarks are better.
        faces = tracker.detect(track)
        if not faces:
            raise NoFaceError(f"{name}: the face found in the picture is not found again in its "
                              "aligned crop (cut by the picture's edge, or too blurred); use a "
                              "picture that shows the whole face")
        lm = faces[0].landmarks
    if framed:
        to_canvas = _then(cv2.invertAffineTransform(to_track), _then(to_picture, m))
        lm = lm.copy()
        lm[:, :2] = lm[:, :2] @ to_canvas[:, :2].T + to_canvas[:, 2]
        lm[:, 2] *= _linear_scale(to_canvas)
        picture = cv2.resize(image, wh, interpolation=cv2.INTER_AREA if wh[0] < image.shape[1]
                             else cv2.INTER_CUBIC)
        crop = cut_crop(picture, m, side)
        framing = Framing(m, (wh[1], wh[0]), picture,
                          _linear_scale(m) * np.sqrt(wh[0] * wh[1] / (image.shape[0]
                                                                       * image.shape[1])))
    else:
        crop, framing = track, Framing(m, image.shape[:2], None, _linear_scale(m))
    pose, dyn, canonical = encode_landmarks(lm, basis, side)
    return Portrait(image=crop, landmarks=lm, canonical=canonical, pose=pose, dynamics=dyn,
                    basis_version=basis.version, source=name, framing=framing)


def encode_frame(image: np.ndarray, name: str = "", basis: FaceBasis | None = None,
                 model_path: str | None = None) -> Portrait:
    """A `Portrait` of a square frame as it is, without cropping: its latents then share the
    frame's coordinates with latents tracked from the same video (data engine round trips)."""
    if image.shape[0] != image.shape[1]:
        raise ValueError(f"{name}: encode_frame needs a square frame, got {image.shape[:2]}")
    basis = basis or default_basis()
    with FaceLandmarker(model_path, blendshapes=False) as tracker:
        lm = choose_face(tracker.detect(image), name, None).landmarks
    pose, dyn, canonical = encode_landmarks(lm, basis, image.shape[0])
    return Portrait(image=np.ascontiguousarray(image), landmarks=lm, canonical=canonical,
                    pose=pose, dynamics=dyn, basis_version=basis.version, source=name)


def load_portrait(path: str | Path, size: int = 512, face_index: int | None = None,
                  basis: FaceBasis | None = None, model_path: str | None = None,
                  framed: bool = False) -> Portrait:
    """Read an image file and make a `Portrait` of its (largest) face (`make_portrait`). A face
    whose eyes are shut renders, with a warning: they stay shut."""
    portrait = make_portrait(read_image(path), str(path), size, face_index, basis, model_path,
                             framed=framed)
    shut = portrait.shut_eyes(basis or default_basis())
    if any(shut):
        which = "both eyes are" if all(shut) else "one eye is"
        log.warning("%s: %s shut in the picture and stay%s shut in the video (there is no iris "
                    "to show; no blinks or gaze there): for those, use a picture with open eyes",
                    path, which, "" if all(shut) else "s")
    return portrait
