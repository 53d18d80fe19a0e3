"""Blinks on every face: a blink is added where the generated motion has gone too long without.

The generator places blinks where its training speech had them, and on some voices it goes
10-20 s without one; re-tracked from the video, the median portrait blinked 9.1 times a minute
on held-out speech (people: 10-30; issue 12). After each blink (generated or added) the next
gap is drawn from GAP_S (seeded, so a run is repeatable); if the generated eyes have not closed
by then, a blink of BLINK_PROFILE (openness ratio per frame: 200 ms, shut for one)
is laid over them. Generated blinks are left as they are. Not in the paper.

Every lid movement, generated or added, keeps to a lid's speed (`limit_lid_speed`): a blink
closes in about 80 ms and opens again in about 120 ms. The generator sometimes dips the lids
for a single frame; deepened into a blink (`engine.refine`) that drew a frame of shut eyes
between two open ones, which a viewer sees as a twitch. Re-tracked (`mouth_metrics.
lid_reopen_steps`), real speakers' lids reopen by a median 0.28-0.38 of the open level a frame;
generated ones reopened by 0.51 (median of 14 portraits; `scripts/cross_identity_eval.py`),
0.36 with `sharpen_blinks` and speeds of 0.35 / 0.2, which kept the eyes under half open for
150 ms (real: 80-110). The renderer then drew every ratio more shut than asked; since the
ratios are asked so that they read as generated (`vasa.motion.lids`), these speeds are the
real ones: 95 ms under half open, reopening by 0.32 a frame (14 portraits x 3 held-out
speeches, benchmarks/results/cross_identity_blinks.md).
"""

from __future__ import annotations

import numpy as np

from vasa.timebase import MOTION_FPS

GAP_S = (2.0, 5.0)  # seconds without a blink after which one is added (uniform draw)
SHUT = 0.5  # openness ratio under which the eyes count as closed (a generated blink)
# Lid speed, in openness ratio per 25 fps frame, as real speakers' re-tracked lids move.
# Closing: open to shut in 2 frames; opening in 3-4 (a blink's opening phase is longer than
# its closing: 75-100 ms against 100-250 ms).
CLOSE_PER_FRAME = 0.5
OPEN_PER_FRAME = 0.3
# An added blink, ratio per frame from open eyes (1) and back: it keeps to those speeds.
BLINK_PROFILE = np.array([0.52, 0.02, 0.3, 0.6, 0.9])
# A deepened dip (`engine.refine`) is a blink only if its lowest frame gets this shut; one
# that stays above is taken out (`sharpen_blinks`). Deepening maps a generated ratio r under
# the knee to 0.85 (r / 0.85)^4: 0.25 is a generated dip to 0.63 of the open level.
LEAST_BLINK = 0.25


def limit_lid_speed(ratios: np.ndarray, close: float = CLOSE_PER_FRAME,
                    open_: float = OPEN_PER_FRAME) -> np.ndarray:
    """Eyelid openness ratios (T, ...) with every dip widened until the lids close at most
    `close` and reopen at most `open_` a frame: the largest signal under `ratios` that keeps to
    those speeds (a min-plus filter with a lopsided V, as two running passes). Frames are only
    ever lowered, so a dip keeps its depth and its time; a single shut frame gains a closing
    frame before it and an opening phase after it."""
    out = np.array(ratios, np.float64)
    for t in range(1, len(out)):  # reopening: at most `open_` above the frame before
        out[t] = np.minimum(out[t], out[t - 1] + open_)
    for t in range(len(out) - 2, -1, -1):  # closing: at most `close` above the frame after
        out[t] = np.minimum(out[t], out[t + 1] + close)
    return out


def sharpen_blinks(ratios: np.ndarray, ceiling: np.ndarray, dips: np.ndarray,
                   close: float = CLOSE_PER_FRAME, open_: float = OPEN_PER_FRAME,
                   least: float = LEAST_BLINK) -> np.ndarray:
    """Eyelid ratios (T, E) with each dip (a run of True in `dips` (T,)) either redrawn as one
    blink or taken out. `ceiling` (T, E): the ratios before the dip was deepened.

    A dip whose lowest frame (in `ratios`, deepened) stays above `least` is not a blink: its
    frames go to the open line, the straight line between the frames on either side of it.
    Deepened, the generator's shallow dips (to 0.6-0.75 of the open level for a frame or two)
    became half-shut flickers: 36-48 a minute re-tracked from 6 portraits on held-out French
    speech, where real speakers' lids dip to half open 0-19 times a minute.
    A blink is redrawn around its lowest frame: the frames before it close at `close` a frame
    into it, those after reopen at `open_` a frame out of it, none above the open line. The
    generator spreads a blink over 5-6 frames, sometimes closing, half reopening and closing
    again; deepened as it was, the eyes stayed under half open for about 250 ms where real
    speakers' do for 80-110 ms. Only frames inside a dip change."""
    out = np.array(ratios, np.float64)
    edges = np.flatnonzero(np.diff(np.asarray(dips, np.int8), prepend=0, append=0))
    for a, b in zip(edges[::2], edges[1::2]):
        line = _open_line(ceiling, a, b)  # (b - a, E)
        low = a + int(np.argmin(out[a:b].min(1)))
        if out[low].min() > least:
            out[a:b] = np.maximum(line, ceiling[a:b])
            continue
        t = np.arange(a, b)[:, None]
        v = out[low] + np.where(t < low, close * (low - t), open_ * (t - low))  # (b - a, E)
        out[a:b] = np.minimum(v, line)
    return out


def _open_line(ceiling: np.ndarray, a: int, b: int) -> np.ndarray:
    """(b - a, E): the eyes' openness across frames a..b-1 as the straight line between the
    frame before a and frame b (the one side there is at a signal's end; the dip's own highest
    frame when it spans the whole signal)."""
    n = len(ceiling)
    if a == 0 and b == n:
        return np.broadcast_to(ceiling.max(0), ceiling.shape).copy()
    before = ceiling[a - 1] if a > 0 else ceiling[b]
    after = ceiling[b] if b < n else ceiling[a - 1]
    w = (np.arange(a, b) - (a - 1))[:, None] / (b - a + 1)
    return (1 - w) * before + w * after


class BlinkKeeper:
    """keeper(eye ratios (T, 2)) -> ratios with blinks added; call in frame order.

    It also keeps the lids to a lid's speed across calls, from the last frame it returned: a
    streaming window (`vasa serve`: 2 frames emitted, the rest of the window a guess) may start
    a blink that the next window does not finish, and refining each window alone let the lids
    snap open between them (hop 2: 11 one-frame rises over 0.2 in 8 s of AOC before the speed
    limit, 2 with it inside windows only, none with this), or shut them in one frame."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._since = 0
        self._gap = self._draw()
        self._pending: list[float] = []
        self._last: np.ndarray | None = None  # the last frame returned
        self._owed: np.ndarray | float = np.inf  # a depth a too fast close put off a frame

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
        # The lids' speed from the last frame returned, frame by frame: causal, so chunking
        # does not change it. Reopening at most OPEN_PER_FRAME; closing at most
        # CLOSE_PER_FRAME, a dip that would close faster reaching its depth a frame later
        # (`_owed`). Inside a window refine keeps to both; between two windows it cannot, the
        # frames before this one being out already: a window that saw a shallow dip emitted
        # open lids, the next saw a blink there and shut them in one frame (hop 2: 2 such
        # closes in 10 s of the French voice on Aya).
        prev = self._last
        for t in range(len(out)):
            want = np.minimum(out[t], self._owed)
            if prev is None:
                out[t] = want
            else:
                out[t] = np.minimum(np.maximum(want, prev - CLOSE_PER_FRAME),
                                    prev + OPEN_PER_FRAME)
                self._owed = np.where(want < out[t] - 1e-6, want, np.inf)  # not ties
            prev = out[t]
        if len(out):
            self._last = out[-1].copy()
        return out
