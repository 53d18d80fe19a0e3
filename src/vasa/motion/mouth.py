"""The mouth as a viewer sees it: how far a portrait's rendered mouth opens per unit of latent
opening, so the generated opening is the one seen.

The renderer warps the portrait's own lips and paints a mouth interior between them; re-tracked
from the frames, a closed-mouth portrait's painted opening reads about 1.5x the latent one, an
open portrait's real teeth nearly 1x (cross-identity table, issue 12: opening std 1.58x the
real speaker on closed-mouth portraits against 1.04x on an open one). `MouthResponse` is that
map for one portrait, measured from probe renders (`vasa.pipelines.calibrate.mouth_response`),
and `seen_as_generated` inverts it on the generated inner-lip gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GAIN_RANGE = (0.5, 2.0)  # a measured gain outside this is a failed measurement: clipped
OFFSET_RANGE = (-0.05, 0.05)  # likewise for the offset at rest, eye distances
# Eye distances the generated inner-lip gap may move from one frame to the next (40 ms). The
# generator now and then jumps further: a 3-frame plateau at 0.30 shut to 0.05 in one frame
# on the AOC photo, the mouth snapping like a trap. Re-tracked, 0.47% of generated frames
# moved over 0.15 (cross-identity videos, 14 portraits) against 0.09% of the real held-out
# speakers' (5 clips, 1,092 frames; their fastest 0.21); training speakers' 99th percentiles
# are 0.05-0.34 (median 0.10).
MAX_STEP = 0.15


@dataclass(frozen=True)
class MouthResponse:
    """Re-tracked inner-lip gap of a render = rest + offset + gain * (latent gap - rest), with
    `rest` the template's gap (where `Portrait.talking_rest` puts the mouth)."""

    gain: float = 1.0
    offset: float = 0.0


class OpeningSlew:
    """slew(gap (T,)) -> (T,): the generated inner-lip gaps, each moved at most `max_step`
    from the one before. Call in frame order; `reset()` starts a new stream (its first frame
    is free)."""

    def __init__(self, max_step: float = MAX_STEP) -> None:
        self.max_step = float(max_step)
        self.reset()

    def reset(self) -> None:
        self.last: float | None = None

    def __call__(self, gap: np.ndarray) -> np.ndarray:
        out = np.empty(len(gap))
        for t, g in enumerate(np.asarray(gap, np.float64)):
            if self.last is not None:
                g = min(max(g, self.last - self.max_step), self.last + self.max_step)
            out[t] = self.last = float(g)
        return out


def seen_as_generated(gap: np.ndarray, rest: float, response: MouthResponse) -> np.ndarray:
    """Latent gaps (T,) whose renders are seen at the generated gaps `gap` (T,)."""
    gain = float(np.clip(response.gain, *GAIN_RANGE))
    offset = float(np.clip(response.offset, *OFFSET_RANGE))
    return rest + (np.asarray(gap, np.float64) - rest - offset) / gain
