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
            x = (e - (self.level - CLOSED_BELOW)) / (CLOSED_BELOW - OPEN_ABOVE)
            x = min(max(x, 0.0), 1.0)
            out[t] = x * x * (3 - 2 * x)  # smoothstep: no visible snap
        return out
