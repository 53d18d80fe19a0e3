"""The mouth closes when nobody speaks: a gate from the loudness of the audio itself.

The generator's lip offsets are relative to a speaker's median talking mouth. On voices unlike
its training speech it often keeps them near that median through pauses, so a face sat half
open in silence (re-tracked on a held-out French speaker: 0.11 eye distances in pauses and in
speech alike, against the real speaker's 0.046 and 0.071; issue 12). Here each emitted frame's
loudness is compared with the stream's speech level; where it is well below, the mouth's
opening is scaled towards closed (`move_lip_gap`: jaw and lips together), so pauses and long
silences show a closed mouth while speech keeps the generated motion.

The speech level is a peak follower: the loudest recent frame, falling slowly
(LEVEL_FALL decades per frame) down to MIN_LEVEL, so a quiet recording, a whisper or a loud one
all gate relative to themselves. Not in the paper.

A pause is not a silence: between phrases real speakers keep their lips where the last word
left them. Tracked training speech (17 speakers) has the inner lips 0.062-0.066 eye distances
above shut in pauses of up to 1 s against 0.068 in speech (per speaker, pause / speech 1.04 at
the median), the two held-out speakers 0.58 and 0.74; shutting the mouth in every pause made
the generated opening vary 1.5x as much as a held-out French speaker's (cross-identity
protocol). So `PauseHold` keeps the opening of the last spoken frame (or less, if the generator
closes) through the first HOLD_FRAMES of silence and then eases it shut over RELAX_FRAMES: a
long silence still shows a closed mouth.
"""

from __future__ import annotations

import numpy as np

from vasa.audio.prosody import log_rms
from vasa.timebase import SAMPLES_PER_FRAME

START_LEVEL = -2.0  # speech level assumed before any speech was heard (log10 RMS, -40 dBFS)
MIN_LEVEL = -2.6  # the level never falls below this: a whisper (-50 to -60 dBFS) still opens
#                  the mouth, a room's noise floor (-80 dBFS and under) never does
LEVEL_FALL = 0.004  # decades per frame the speech level falls without louder speech (10 s/dec)
CLOSED_BELOW = 1.4  # decades under the speech level: silence, the mouth closes
OPEN_ABOVE = 0.8  # decades under the speech level: speech, the generated opening is kept
HOLD_FRAMES = 25  # a pause this long (1 s) keeps the last spoken opening (the training speech
#                   has next to no longer pauses to say what real lips do after that)
RELAX_FRAMES = 12  # then the held opening eases shut over this many frames
SPOKEN = 0.5  # gate value from which a frame counts as spoken (its opening is the one held)


def _smoothstep(x: float) -> float:
    """0 below 0, 1 above 1, an S between: ramps that show no visible snap."""
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def frame_loudness(audio: np.ndarray, frames: int) -> np.ndarray:
    """log10 RMS (frames,) of consecutive 640-sample frames of `audio` (zero-padded): the
    prosody feature `log_energy`."""
    x = np.zeros(frames * SAMPLES_PER_FRAME, np.float64)
    n = min(len(audio), len(x))
    x[:n] = audio[:n]
    return log_rms(np.sqrt((x.reshape(frames, SAMPLES_PER_FRAME) ** 2).mean(1)))


class SilenceGate:
    """gate(loudness (T,)) -> (T,) in [0, 1]: 0 in silence, 1 in speech. Call in frame order;
    `reset()` starts a new stream."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.level = START_LEVEL

    def __call__(self, loudness: np.ndarray) -> np.ndarray:
        # A frame counts as loud as its loudest neighbour: lips part with the onset, not after.
        padded = np.pad(np.asarray(loudness, np.float64), 1, mode="edge")
        near = np.max(np.stack([padded[:-2], padded[1:-1], padded[2:]]), 0)
        out = np.empty(len(near))
        for t, e in enumerate(near):
            self.level = max(float(loudness[t]), self.level - LEVEL_FALL, MIN_LEVEL)
            out[t] = _smoothstep((e - (self.level - CLOSED_BELOW)) / (CLOSED_BELOW - OPEN_ABOVE))
        return out


class PauseHold:
    """hold(opening (T,), gate (T,)) -> (T,): the opening to show. In speech (gate 1) the
    generated opening; in silence (gate 0) the opening of the last spoken frame, capped by the
    generated one, for HOLD_FRAMES, then eased to shut over RELAX_FRAMES; between, a blend by
    the gate. Call in frame order; `reset()` starts a new stream (which starts shut)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.held = 0.0  # the opening of the last spoken frame
        self.since = HOLD_FRAMES + RELAX_FRAMES  # frames since it (a stream starts silent)

    def __call__(self, opening: np.ndarray, gate: np.ndarray) -> np.ndarray:
        opening = np.asarray(opening, np.float64)
        out = np.empty(len(opening))
        for t, (o, g) in enumerate(zip(opening, gate)):
            if g >= SPOKEN:
                self.held, self.since = float(o), 0
            else:
                self.since += 1
            keep = 1.0 - _smoothstep((self.since - HOLD_FRAMES) / RELAX_FRAMES)
            out[t] = g * o + (1.0 - g) * min(o, self.held * keep)
        return out
