"""The learned refiners at render time: ONNX Runtime, INT8, on the CPU.

The warp moves the portrait's pixels but cannot show what the portrait does not: teeth and the
mouth's inside when a closed mouth opens, or lips when an open one closes; eyelid skin when an
open eye closes. Two refiners (trained by `vasa train refiner` on self-reenactment pairs,
`vasa.refine`) redraw a crop from the rendered frame, the portrait's own crop (lip colour and
teeth; lid skin, lashes and iris) and the target contours:

- MouthRefiner: the mouth crop (`render.mouth_crop`) of the warp; it replaces the painted
  interior (`render.mouth`, kept as `--no-refiner`).
- EyeRefiner: the band over both eyes (`render.eye_crop`) after the drawn irises and lids
  (`render.eyes`); it redraws the lids of a blink over the drawn lid skin and lash line.

Each runs only where its region differs from the portrait's, with a weight that grows with the
change (the lip gap's, RAMP; the eyes' closure, EYE_START and EYE_RAMP), so a face at rest is
the warp's own pixels and nothing pops on or off (the weight is continuous). Blinks are a few
per cent of frames, so the eye refiner costs almost nothing on average.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from vasa.render import eye_crop as ec
from vasa.render import mouth_crop as mc
from vasa.render.eyes import LID_START

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_REFINER = ASSETS / "refiner.int8.onnx"
DEFAULT_EYE_REFINER = ASSETS / "eye_refiner.int8.onnx"
GREY_TOLERANCE = 6  # grey levels between channels under which a portrait counts as grey
RAMP = 0.03  # change of the canonical lip gap (eye distances) over which the refiner fades in
# Eye closure (0: as open as in the portrait, 1: shut) at which the eye refiner starts; it
# fades in to full weight where the drawn lid skin starts (LID_START). Generated motion keeps
# the eyes a little under the portrait's openness on many frames (closure over 0.05 on 34% of
# the bundled portrait's frames, over 0.15 on 10%, 0.2 and more on 8%: the blinks), so it
# starts at 0.15: it runs on about a tenth of the frames.
EYE_START = 0.15
EYE_RAMP = LID_START - EYE_START


class _CropRefiner:
    """A refiner network over one crop shape: its ONNX session, the portrait's reference crop
    (H, W, 3) uint8, and whether the portrait is grey. threads: ONNX Runtime intra-op threads
    (2: 4.6 -> 3.0-3.7 ms per mouth crop on this 2-core machine; the motion engine is idle
    while a frame renders)."""

    def __init__(self, reference: np.ndarray, model_path: str | Path, threads: int) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: refiner model not found (train one with "
                                    "`vasa train refiner`, or render with --no-refiner)")
        self.session = _session(str(path.resolve()), threads)
        node = self.session.get_inputs()[0]
        self.input = node.name
        h, w = reference.shape[:2]
        if list(node.shape[2:]) != [h, w]:
            raise ValueError(f"{path}: a refiner for {node.shape[2]}x{node.shape[3]} crops, "
                             f"this region's crop is {h}x{w} (the mouth's and the eyes' models "
                             "swapped?)")
        # A black-and-white portrait gets a grey refined region: the network, trained on colour
        # video mostly, would tint it.
        self.grey = bool(np.abs(reference.astype(np.int16) - reference[..., :1]).max()
                         <= GREY_TOLERANCE)
        self.reference = reference.transpose(2, 0, 1).astype(np.float32) / 255  # (3, H, W)
        self._x = np.empty((1, mc.IN_CHANNELS, h, w), np.float32)

    def run(self, rendered: np.ndarray, masks: np.ndarray,
            reference: np.ndarray | None = None) -> np.ndarray:
        """(H, W, 3) float32 0..255 refined crop of a rendered (H, W, 3) uint8 crop with the
        target's masks (2, H, W); `reference`: (3, H, W) in [0, 1] in place of the portrait's
        own crop (its mirror image, for a mirrored pass)."""
        x = self._x
        x[0, :3] = rendered.transpose(2, 0, 1) / 255.0
        x[0, 3:6] = self.reference if reference is None else reference
        x[0, 6:] = masks
        y = self.session.run(None, {self.input: x})[0][0]  # (3, H, W) in [0, 1]
        if self.grey:
            y = np.broadcast_to(y.mean(0), y.shape)
        return y.transpose(1, 2, 0) * 255.0


class MouthRefiner(_CropRefiner):
    """One portrait's mouth refiner: the reference crop is cut once, then each frame is refined
    in place by `__call__`."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray,
                 model_path: str | Path = DEFAULT_REFINER, threads: int = 2) -> None:
        a = mc.mouth_affine(landmarks)
        super().__init__(mc.crop(image, a), model_path, threads)
        self.source_area = mc.opening_area(mc.lip_points(landmarks, a))

    def refine_crop(self, warped: np.ndarray, lips: np.ndarray) -> np.ndarray:
        """(S, S, 3) float32 0..255 refined crop of a warped (S, S, 3) uint8 crop whose target
        lip contours are `lips` (40, 2) crop pixels."""
        return self.run(warped, mc.lip_masks(lips))

    def __call__(self, frame: np.ndarray, landmarks: np.ndarray, weight: float = 1.0,
                 redrawn: np.ndarray | None = None) -> None:
        """Refine the mouth of `frame` (H, W, 3) uint8 in place; `landmarks` (478, >=2) are the
        target's pixel landmarks; `weight` in [0, 1] scales the paste mask; `redrawn`: per
        column of the crop ((CROP,) in 0..1), how much of the opening `render.interior` filled
        with the portrait's own teeth and cavity, which is then not pasted over (the lips and
        skin round it still are; so is the rest of the opening, the stretched warp)."""
        if weight <= 0.0:
            return
        a = mc.mouth_affine(landmarks)
        lips = mc.lip_points(landmarks, a)
        warped = mc.crop(frame, a)
        refined = self.refine_crop(warped, lips)
        keep = mc.detail_mask(lips, mc.carried(mc.opening_area(lips), self.source_area))
        mask = mc.paste_mask(lips) * min(weight, 1.0)
        if redrawn is not None and redrawn.any():
            mask *= 1.0 - redrawn[None, :] * (1.0 - mc.detail_mask(lips))
        mc.paste(frame, refined, a, mask, start=warped.astype(np.float32), keep=keep)


class EyeRefiner(_CropRefiner):
    """One portrait's eye refiner: the reference band is cut once, then each frame whose eyes
    close is refined in place by `__call__`, after the eyes are drawn.

    mirror: each band is refined as it is and as its mirror image (the eyes swapped, the
    result mirrored back), and the two are averaged. The network is not mirror-symmetric
    (trained with mirrored pairs, it still draws the two eyes of one band differently), and
    half-way through a blink it drew one lid shut over an eye and left the other's iris
    showing: a wink, where the motion asked both lids for the same closure
    (`scripts/eye_symmetry.py`). Averaged, each eye is drawn from both of its places in the
    band. It costs a second network pass on the frames the refiner runs on (EYE_START)."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray,
                 model_path: str | Path = DEFAULT_EYE_REFINER, threads: int = 2,
                 mirror: bool = True) -> None:
        super().__init__(ec.crop(image, ec.eye_affine(landmarks)), model_path, threads)
        self.mirror = mirror
        self._mirrored_reference = np.ascontiguousarray(self.reference[:, :, ::-1])

    def refine_crop(self, drawn: np.ndarray, points: np.ndarray) -> np.ndarray:
        """(HEIGHT, WIDTH, 3) float32 0..255 refined band of a drawn (HEIGHT, WIDTH, 3) uint8
        band whose target eye points are `points` (`eye_crop.POINTS`, band pixels)."""
        masks = ec.eye_masks(points)
        out = self.run(drawn, masks)
        if self.mirror:
            back = self.run(drawn[:, ::-1], masks[:, :, ::-1], self._mirrored_reference)
            out = 0.5 * (out + back[:, ::-1])
        return out

    def __call__(self, frame: np.ndarray, landmarks: np.ndarray, weight: float = 1.0,
                 rest: np.ndarray | None = None) -> None:
        """Refine the eyes of `frame` (H, W, 3) uint8 in place; `landmarks` (478, >=2) are the
        target's pixel landmarks; `weight` in [0, 1] scales the paste mask; `rest`: the same
        landmarks with the eyes at the portrait's openness (what a closing lid covers).
        Pasted as a change outside the eye openings (`eye_crop.detail_mask`)."""
        if weight <= 0.0:
            return
        a = ec.eye_affine(landmarks)
        points = ec.eye_points(landmarks, a)
        drawn = ec.crop(frame, a)
        refined = self.refine_crop(drawn, points)
        keep = ec.detail_mask(points, None if rest is None else ec.eye_points(rest, a))
        ec.paste(frame, refined, a, ec.paste_mask(points) * min(weight, 1.0),
                 start=drawn.astype(np.float32), keep=keep)


@functools.lru_cache(maxsize=4)
def _session(path: str, threads: int):
    """One ONNX Runtime session per model file and thread count, shared by every renderer in
    the process (a session is safe to run from several threads): a new portrait, e.g. a
    server session, does not pay the graph's load and optimisation again."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # No spin-waiting between runs: ORT's workers otherwise keep a core busy for a while after
    # each crop, taking it from what runs beside the renderer (reenact's encoder and tracker
    # threads, other processes): 2 threads measured 10-11 ms of CPU per crop spinning, 5 not,
    # under load. Which thread computes what is unchanged, so the output is too.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3  # the quantiser leaves unused constants ORT warns about
    try:
        return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001  (ORT raises its own untyped errors)
        raise ValueError(f"{path}: not a readable refiner model ({str(e)[:200]})") from None


def refiner_weight(gap: float, source_gap: float) -> float:
    """How much of the refined mouth to use for a target lip gap, given the portrait's."""
    return float(np.clip(abs(gap - source_gap) / RAMP, 0.0, 1.0))


def eye_refiner_weight(closure: tuple[float, float]) -> float:
    """How much of the refined eyes to use for the eyes' closure (0 open as in the portrait,
    1 shut; the more closed eye counts): 0 for open eyes, which the refiner then never sees."""
    return float(np.clip((max(closure) - EYE_START) / EYE_RAMP, 0.0, 1.0))
