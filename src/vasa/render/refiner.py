"""The learned mouth refiner at render time: ONNX Runtime, INT8, on the CPU.

The warp moves the portrait's lips but cannot show what the portrait does not: teeth and the
mouth's inside when a closed mouth opens, or lips when an open one closes. The refiner (trained
by `vasa train refiner` on self-reenactment pairs, `vasa.refine`) redraws the mouth crop from
the warped frame, the portrait's own mouth (its lip colour and teeth) and the target lip
contours. It replaces the painted interior (`render.mouth`, kept as `--no-refiner`).

It runs only where the mouth differs from the portrait's: the refined crop is blended in with a
weight that grows with the change of the lip gap (RAMP), so a mouth at rest is the warp's own
pixels, and nothing pops on or off (the weight is continuous).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from vasa.render import mouth_crop as mc

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_REFINER = ASSETS / "refiner.int8.onnx"
GREY_TOLERANCE = 6  # grey levels between channels under which a portrait counts as grey
RAMP = 0.03  # change of the canonical lip gap (eye distances) over which the refiner fades in


class MouthRefiner:
    """One portrait's refiner: the reference crop is cut once, then each frame is refined in
    place by `__call__`. threads: ONNX Runtime intra-op threads (2: 4.6 -> 3.0-3.7 ms per crop
    on this 2-core machine; the motion engine is idle while a frame renders)."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray,
                 model_path: str | Path = DEFAULT_REFINER, threads: int = 2) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: refiner model not found (train one with "
                                    "`vasa train refiner`, or render with --no-refiner)")
        self.session = _session(str(path.resolve()), threads)
        self.input = self.session.get_inputs()[0].name
        ref = mc.crop(image, mc.mouth_affine(landmarks))
        # A black-and-white portrait gets a grey mouth: the network, trained on colour video
        # mostly, would tint the lips.
        self.grey = bool(np.abs(ref.astype(np.int16) - ref[..., :1]).max() <= GREY_TOLERANCE)
        self.reference = ref.transpose(2, 0, 1).astype(np.float32) / 255  # (3, S, S)
        self._x = np.empty((1, mc.IN_CHANNELS, mc.CROP, mc.CROP), np.float32)

    def refine_crop(self, warped: np.ndarray, lips: np.ndarray) -> np.ndarray:
        """(S, S, 3) float32 0..255 refined crop of a warped (S, S, 3) uint8 crop whose target
        lip contours are `lips` (40, 2) crop pixels."""
        x = self._x
        x[0, :3] = warped.transpose(2, 0, 1) / 255.0
        x[0, 3:6] = self.reference
        x[0, 6:] = mc.lip_masks(lips)
        y = self.session.run(None, {self.input: x})[0][0]  # (3, S, S) in [0, 1]
        if self.grey:
            y = np.broadcast_to(y.mean(0), y.shape)
        return y.transpose(1, 2, 0) * 255.0

    def __call__(self, frame: np.ndarray, landmarks: np.ndarray, weight: float = 1.0) -> None:
        """Refine the mouth of `frame` (H, W, 3) uint8 in place; `landmarks` (478, >=2) are the
        target's pixel landmarks; `weight` in [0, 1] scales the paste mask."""
        if weight <= 0.0:
            return
        a = mc.mouth_affine(landmarks)
        lips = mc.lip_points(landmarks, a)
        refined = self.refine_crop(mc.crop(frame, a), lips)
        mc.paste(frame, refined, a, mc.paste_mask(lips) * min(weight, 1.0))


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
