"""Blinks on every face: a blink is added where the generated motion has gone too long without.

The generator places blinks where its training speech had them, and on some voices it goes
10-20 s without one; re-tracked from the video, the median portrait blinked 9.1 times a minute
on held-out speech (people: 10-30; issue 12). After each blink (generated or added) the next
gap is drawn from GAP_S (seeded, so a run is repeatable); if the generated eyes have not closed
by then, a blink of BLINK_PROFILE (openness ratio per frame: 280 ms, fully shut for 2 frames)
is laid over them. Generated blinks are left as they are. Not in the paper.
"""

from __future__ import annotations

import numpy as np

from vasa.timebase import MOTION_FPS

GAP_S = (2.0, 5.0)  # seconds without a blink after which one is added (uniform draw)
SHUT = 0.5  # openness ratio under which the eyes count as closed (a generated blink)
BLINK_PROFILE = np.array([0.7, 0.3, 0.04, 0.02, 0.08, 0.35, 0.75])  # ratio per frame


class BlinkKeeper:
    """keeper(eye ratios (T, 2)) -> ratios with blinks added; call in frame order."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._since = 0
        self._gap = self._draw()
        self._pending: list[float] = []

    def _draw(self) -> int:
        return round(self._rng.uniform(*GAP_S) * MOTION_FPS)

    def __call__(self, eyes: np.ndarray) -> np.ndarray:
        out = np.array(eyes, np.float64)
        for t in range(len(out)):
            if self._pending:
                out[t] = np.minimum(out[t], self._pending.pop(0))
            elif out[t].mean() < SHUT:
                self._since, self._gap = 0, self._draw()
            else:
                self._since += 1
                if self._since >= self._gap:
                    self._pending = list(BLINK_PROFILE)
                    self._since, self._gap = -len(BLINK_PROFILE), self._draw()
        return out
