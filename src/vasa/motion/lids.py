"""The eyelids as a viewer sees them: how open a portrait's rendered eyes read per latent
openness ratio, so a generated blink is the one seen.

The generator learned its eyelid ratios from tracked real video, and the evaluation re-tracks
our videos with the same tracker; a render of ratio r should read r. It does not: the warp
moves the lid contour, and the contour sits on the lashes, so the visible opening shrinks
faster than the contour's gap, and the eye refiner draws what a real eye looks like at the
warp's picture. Re-tracked, ratio 0.4 reads 0.03-0.45 across the 21 public portraits (median
0.25) and ratio 0.2 reads as shut on most: every blink stayed shut for longer than generated
(blink 150-190 ms under half open, real speakers 80-110 ms; `scripts/cross_identity_eval.py`).
`LidResponse` is that curve for one portrait, measured from probe renders
(`vasa.pipelines.calibrate.mouth_and_lid_response`), and `seen_as_generated` inverts it on the
generated ratios. Not in the paper (its decoder is learned end to end with its latent space).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

# Latent openness ratios probed (1: the rest), dense where the readings bend (0.2-0.6: ratio
# 0.2 reads shut on most portraits). Each probe is a render and a tracking, about 60 ms at
# setup. Five probes (0.2-0.6, shut taken to read 0, 0.8 interpolated) left the re-tracked
# blinks 113 ms under half open and reopening 0.38 a frame, against 95 ms and 0.32 with these
# seven (14 portraits x 3 held-out speeches, benchmarks/results/cross_identity_blinks.md).
PROBES = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8)
# Above this re-tracked ratio for shut lids the tracker cannot read the portrait's closed eyes
# (Trump's photo: 0.45-0.51 from ratio 0.4 down, though the frames show them shut): the
# curve would make every dip under it a shut eye. The neutral response is used instead.
MAX_SHUT_READING = 0.35


@dataclass(frozen=True)
class LidResponse:
    """Re-tracked openness ratio (both eyes' mean, over the rest's) of a render at each latent
    ratio of `ratios`; ratio 1 reads 1 (the rest). The neutral response: read as asked."""

    ratios: tuple[float, ...] = PROBES
    seen: tuple[float, ...] = PROBES

    @property
    def usable(self) -> bool:
        return min(self.seen) <= MAX_SHUT_READING

    @cached_property
    def inverse(self) -> tuple[np.ndarray, np.ndarray]:
        """(readings, ratios): the curve to interpolate a reading's ratio on, made once (the
        engine inverts every window). A reading never rises as the lids close (tracking noise
        can say so): from the rest down, each probe reads at most what the one above it read;
        ties are parted by a hair so the inverse is a function (a plateau maps to its most
        closed ratio)."""
        r = np.append(np.asarray(self.ratios, np.float64), 1.0)
        seen = np.append(np.clip(self.seen, 0.0, 1.0), 1.0)
        order = np.argsort(r)
        r, seen = r[order], np.minimum.accumulate(seen[order][::-1])[::-1]
        for i in range(1, len(seen)):
            seen[i] = max(seen[i], seen[i - 1] + 1e-6)
        return seen, r


def seen_as_generated(ratios: np.ndarray, response: LidResponse) -> np.ndarray:
    """Latent openness ratios (any shape) whose renders read as the generated `ratios`. Ratios
    from 1 up (eyes as open as at rest or wider) are kept; so is everything when the response
    is not usable."""
    ratios = np.asarray(ratios, np.float64)
    if not response.usable:
        return ratios
    return np.where(ratios < 1.0, np.interp(ratios, *response.inverse), ratios)


def asked_openness(openness: np.ndarray, rest: np.ndarray, response: LidResponse) -> np.ndarray:
    """Eyelid openness (..., 2) to render so that the eyes read `openness`: taken as ratios of
    the portrait's openness `rest` (2,) and passed through `seen_as_generated`. For motion whose
    lids come from elsewhere than the generator's ratios (a driving video's, tracked)."""
    rest = np.maximum(np.asarray(rest, np.float64), 1e-3)
    return (rest * seen_as_generated(np.asarray(openness, np.float64) / rest, response)
            ).astype(np.float32)
