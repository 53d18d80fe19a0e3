"""What `vasa generate`, `vasa reenact` and a streaming session are asked to do: plain
dataclasses (no torch import), the one source of their defaults for the Python API, the command
line and the server."""

from __future__ import annotations

from dataclasses import dataclass, field

from vasa.latent.retarget import SHIFT_LIMIT
from vasa.motion.config import DEFAULT_MODEL
from vasa.motion.controls import Controls, streaming_controls
from vasa.portrait import check_size
from vasa.render import RenderConfig


@dataclass
class GenerateConfig:
    """size: output size; crop: the framing (see `vasa.portrait`); model: motion model file;
    controls: conditions and sampling (their defaults, ranges and help live in
    `vasa.motion.controls`)."""

    size: int = 512  # output's long side in pixels (with crop: the square's side)
    crop: bool = False  # output the aligned square crop around the face, not the picture
    model: str = str(DEFAULT_MODEL)  # motion model file
    crf: int = 18  # x264 quality, lower is better
    face_index: int | None = None  # which portrait face to animate, 0 = largest
    controls: Controls = field(default_factory=Controls)
    hop: int | None = None  # engine windows start every `hop` frames (None: the window, W)
    lookahead: int | None = None  # audio frames each window sees past its emitted ones
    render: RenderConfig = field(default_factory=RenderConfig)
    close_lips: bool = True  # shut the lips where the speech says (vasa.motion.closure)


@dataclass
class StreamConfig:
    """The streaming preset (see README, "Real time"): windows every `hop` frames, each seeing
    `lookahead` frames of audio past the frames it emits."""

    hop: int = 2  # frames per window: 2 halves the per-frame sampling cost of hop=1
    lookahead: int = 1  # 40 ms of audio past every emitted frame: lips move before the sound
    size: int = 512  # frame's long side in pixels (with crop: the square's side)
    crop: bool = False  # stream the aligned square crop around the face, not the picture
    controls: Controls = field(default_factory=streaming_controls)


@dataclass
class ReenactConfig:
    """size: output's long side in pixels (with crop: the square's side). crop: output the
    aligned square crop, not the picture (see `vasa.portrait`). transfer: 'both', 'pose' or
    'dynamics' (Fig. 5). reference_s, shift_limit, mouth: how the driver's motion is taken
    (below; `vasa.latent.retarget`). side_by_side: driving video on the left, result on the right.
    face_index: which portrait face (largest first). fps: output rate (default: the driving
    video's). crf: x264 quality."""

    size: int = 512  # output's long side in pixels (with crop: the square's side)
    crop: bool = False  # output the aligned square crop around the face, not the picture
    transfer: str = "both"
    side_by_side: bool = False
    face_index: int | None = None
    fps: float | None = None  # None: the driving video's rate
    crf: int = 18  # x264 quality, lower is better
    # Eyelids and gaze are taken relative to the driver's median over its first seconds with
    # a face (`DriverReference`): long enough that a blink cannot be the median, short enough
    # that rendering starts while the rest is tracked.
    reference_s: float = 2.0
    # The head's shift from the portrait's, soft-limited to this many face sizes (None: the
    # driver's whole shift; `vasa.latent.retarget.limit_shift`).
    shift_limit: float | None = SHIFT_LIMIT
    # "driver": the mouth opens as the driver's (`driver_lip_change`); "relative": the
    # portrait's own opening plus the driver's change (a portrait caught mid-word stays open).
    mouth: str = "driver"
    # True: the driver's eyelid ratios are asked as this portrait's render reads them
    # (`vasa.motion.lids`: measured from probe renders at setup, as `vasa generate` asks its
    # generated ratios), so the lids read as the driver's. Held-out self-reenactment's eyes
    # come closer to the real frames (scripts/refiner_ablation.py, "refiner, lids as read":
    # 21.62 -> 21.87 dB over all frames), but more frames then go through the eye refiner
    # (72 of the bundled clip's 200 on the astronaut, against 32) and `vasa reenact` runs about
    # 10% slower, where it is at its 40 frames/s target on this CPU: off by default (the
    # driver's ratios rendered as tracked).
    lids_as_read: bool = False
    render: RenderConfig = field(default_factory=RenderConfig)

    def __post_init__(self) -> None:
        if self.mouth not in ("driver", "relative"):
            raise ValueError(f"mouth must be 'driver' or 'relative', got {self.mouth!r}")
        if self.shift_limit is not None and not 0 <= self.shift_limit < float("inf"):
            raise ValueError(f"shift_limit must be a number of face sizes >= 0, got "
                             f"{self.shift_limit}")
        if not 0 < self.reference_s < float("inf"):  # NaN fails too
            raise ValueError(f"reference_s must be a positive number of seconds, got "
                             f"{self.reference_s}")
        if self.transfer not in ("both", "pose", "dynamics"):
            raise ValueError(f"transfer must be 'both', 'pose' or 'dynamics', got {self.transfer!r}")
        check_size(self.size)
