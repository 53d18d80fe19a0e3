"""The mouth as a viewer sees it: how far a portrait's rendered mouth opens per unit of latent
opening, so the generated opening is the one seen.

The renderer warps the portrait's own lips and paints a mouth interior between them; re-tracked
from the frames, a closed-mouth portrait's painted opening reads about 1.5x the latent one, an
open portrait's real teeth nearly 1x (cross-identity table, issue 12: opening std 1.58x the
real speaker on closed-mouth portraits against 1.04x on an open one). Nor is the map a line:
Trump's thick closed lips read 0.01 at the talking rest's 0.09 and then open 1.2x as fast,
and Macron's mouth opens 1.1x near the rest but 0.5-0.8x past 0.14 (the refiner's wide
mouths read narrower). `MouthResponse` is the map for one portrait, the re-tracked gap of probe
renders from just under the rest to a wide opening (`vasa.pipelines.calibrate`), and
`seen_as_generated` inverts it, piece by piece, on the generated inner-lip gaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

# A slope of the measured map (seen gap per latent gap) outside this is a failed measurement:
# clipped, so the inverse never multiplies a gap by more than 2 or less than 0.5.
GAIN_RANGE = (0.5, 2.0)
# The most the rest may read off its latent gap, eye distances (Trump's closed lips: -0.074;
# beyond this, a tracking failure).
OFFSET_RANGE = (-0.1, 0.1)
# Eye distances the generated inner-lip gap may move from one frame to the next (40 ms). The
# generator now and then jumps further: a 3-frame plateau at 0.30 shut to 0.05 in one frame
# on the AOC photo, the mouth snapping like a trap. Re-tracked, 0.47% of generated frames
# moved over 0.15 (cross-identity videos, 14 portraits) against 0.09% of the real held-out
# speakers' (5 clips, 1,092 frames; their fastest 0.21); training speakers' 99th percentiles
# are 0.05-0.34 (median 0.10).
MAX_STEP = 0.15


@dataclass(frozen=True)
class MouthResponse:
    """Renders at latent inner-lip gaps rest + `changes` re-track at rest + `seen` (eye
    distances; `rest` is the template's gap, where `Portrait.talking_rest` puts the mouth;
    one of the changes is 0). Empty: the neutral response, read as asked."""

    changes: tuple[float, ...] = ()
    seen: tuple[float, ...] = ()

    @cached_property
    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(changes, offsets): the map as seen gap = rest + change + offset, interpolated
        between the probes and carried on at the end slopes, each slope (seen per latent)
        clipped to GAIN_RANGE and taken outward from the rest, whose offset is clipped to
        OFFSET_RANGE; so the map rises everywhere (tracking noise cannot fold it)."""
        if not self.changes:
            return np.zeros(1), np.zeros(1)
        order = np.argsort(self.changes)
        c = np.asarray(self.changes, np.float64)[order]
        s = np.asarray(self.seen, np.float64)[order]
        k = int(np.argmin(np.abs(c)))
        seen = np.empty_like(s)
        seen[k] = c[k] + np.clip(s[k] - c[k], *OFFSET_RANGE)  # relative to the rest gap
        for i in range(k + 1, len(c)):
            seen[i] = seen[i - 1] + np.clip((s[i] - s[i - 1]) / (c[i] - c[i - 1]),
                                            *GAIN_RANGE) * (c[i] - c[i - 1])
        for i in range(k - 1, -1, -1):
            seen[i] = seen[i + 1] - np.clip((s[i + 1] - s[i]) / (c[i + 1] - c[i]),
                                            *GAIN_RANGE) * (c[i + 1] - c[i])
        return c, seen - c


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
    """Latent gaps (T,) whose renders are seen at the generated gaps `gap` (T,): the inverse of
    `response.curve`, linear under its narrowest probe at the end slope, and past its widest
    probe at slope 1 (a constant offset, as with a single point).

    Past the widest probe nothing was measured, and carrying the end slope on multiplied the
    generator's peaks: on a smiling portrait with its teeth showing (Alex Lacamoire's), whose
    wide probes read 0.5x as the stretched teeth look shut to the tracker, a 3-frame peak of
    0.32 eye distances was asked as 0.48 and drew a glowing white blob for a mouth."""
    gap = np.asarray(gap, np.float64)
    changes, offsets = response.curve
    seen = changes + offsets  # the seen gaps over rest, rising
    if len(changes) == 1:
        return gap - offsets[0]
    latent = np.interp(gap - rest, seen, changes)
    lo = (changes[1] - changes[0]) / (seen[1] - seen[0])
    latent = np.where(gap - rest < seen[0], changes[0] + (gap - rest - seen[0]) * lo, latent)
    latent = np.where(gap - rest > seen[-1], changes[-1] + (gap - rest - seen[-1]), latent)
    return rest + latent
