"""Articulation without a transcript: where English speech has a bilabial (/p b m/), and whether
the lips close there.

Phones come from pocketsphinx's all-phone decoder with the English acoustic model its PyPI wheel
carries (nothing is downloaded; about 15x real time on one core here). For a talking face, the
bilabial closure rate is the share of bilabial phones during which (within +-TOLERANCE frames)
the inner lips come to within CLOSED eye distances of touching: a mouth that only opens and
closes with the loudness misses most of them. The phone recogniser is a hypothesis on held-out
voices, as every learned measure here: compare a generated video with the real video of the
same speech, never against an absolute level.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from vasa.timebase import MOTION_FPS, SAMPLE_RATE

BILABIALS = ("P", "B", "M")
# Open vowels (jaw lowered), where shut lips would be wrong: the closure rate at these is the
# false-alarm side of the bilabial rate (a mouth that shuts everywhere would pass that alone).
OPEN_VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY", "EH")
# Rounded phones (lips narrowed and pushed forward): /u/ as in "boot", /o/ "boat", /w/, /U/
# "book". The mouth's width at these over its median width is the rounding measure.
ROUNDED = ("UW", "OW", "W", "UH")
PHONE_RATE = 100  # pocketsphinx frames per second
TOLERANCE = 1  # video frames either side of the phone in which the lips may close
CLOSED = 0.015  # eye distances above the video's own closed level (its 5th percentile of
#                 opening) still counted as closed: real closed lips read +-0.005 re-tracked,
#                 and the absolute level of a face is uncertain by up to 0.06 (PCA residual)
MAX_CLOSED_LEVEL = 0.03  # a face whose mouth never comes under this has no closed level: it
#                          cannot pass by being always "as closed as it gets"
MIN_PHONE_S = 0.03  # shorter phone segments are the decoder's noise


@dataclass(frozen=True)
class Phone:
    """A recognised phone: its ARPAbet label and its span in seconds."""

    label: str
    start: float
    end: float


def phone_segments(audio: np.ndarray) -> list[Phone]:
    """Phones of mono float32 16 kHz speech (N,). Raises ValueError when pocketsphinx is not
    installed (it is a test/eval dependency, not the product's)."""
    try:
        from pocketsphinx import Decoder, get_model_path
    except ImportError:
        raise ValueError("the articulation measure needs pocketsphinx (pip install "
                         "'vasa[dev]')") from None
    model = os.path.join(get_model_path(), "en-us")
    decoder = Decoder(hmm=os.path.join(model, "en-us"),
                      allphone=os.path.join(model, "en-us-phone.lm.bin"), lw=2.0, beam=1e-20,
                      pbeam=1e-20, loglevel="FATAL")
    pcm = (np.clip(np.asarray(audio, np.float64), -1, 1) * 32767).astype("<i2").tobytes()
    assert SAMPLE_RATE == 16000  # the acoustic model's rate
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    out = [Phone(s.word, s.start_frame / PHONE_RATE, (s.end_frame + 1) / PHONE_RATE)
           for s in decoder.seg()]
    return [p for p in out if p.end - p.start >= MIN_PHONE_S]


def bilabial_closure(opening: np.ndarray, phones: list[Phone], found: np.ndarray | None = None,
                     fps: float = MOTION_FPS, labels: tuple[str, ...] = BILABIALS
                     ) -> float | None:
    """Share of bilabial phones (or of phones with other `labels`, e.g. OPEN_VOWELS) whose span
    (+-TOLERANCE frames) holds a tracked frame with the inner lips within CLOSED of the video's
    closed level; None without such a phone inside the video or without a tracked frame."""
    opening = np.asarray(opening, np.float64)
    ok = np.ones(len(opening), bool) if found is None else np.asarray(found, bool)[:len(opening)]
    if not ok.any():
        return None
    closed = min(float(np.percentile(opening[ok], 5)), MAX_CLOSED_LEVEL) + CLOSED
    hits = []
    for p in phones:
        if p.label not in labels:
            continue
        a = max(int(np.floor(p.start * fps)) - TOLERANCE, 0)
        b = min(int(np.ceil(p.end * fps)) + TOLERANCE, len(opening))
        span = opening[a:b][ok[a:b]]
        if len(span):
            hits.append(bool(span.min() <= closed))
    return float(np.mean(hits)) if hits else None


def phone_ratio(values: np.ndarray, phones: list[Phone], labels: tuple[str, ...],
                found: np.ndarray | None = None, fps: float = MOTION_FPS) -> float | None:
    """Median of `values` (T,) over the tracked frames inside phones with `labels`, over their
    median over all tracked frames: e.g. the mouth's width at ROUNDED phones (under 1: the lips
    narrow there). None without such a phone inside the video or without a tracked frame."""
    values = np.asarray(values, np.float64)
    ok = np.ones(len(values), bool) if found is None else np.asarray(found, bool)[:len(values)]
    inside = np.zeros(len(values), bool)
    for p in phones:
        if p.label in labels:
            a = int(np.floor(p.start * fps))
            inside[a:max(int(np.ceil(p.end * fps)), a + 1)] = True
    inside &= ok
    if not inside.any():
        return None
    return float(np.median(values[inside]) / np.median(values[ok]))
