"""Model-free measures of what a viewer sees in a talking face: how far the mouth opens, whether
it opens with the voice, whether the lips pass through each other, and how the eyes blink.

Each measure reads a re-tracked video (`vasa.tracking.video.track_video` at 25 fps) and the
loudness of its audio; no learned model is involved, so a still mouth can never pass for a
speaking one (the learned S_C measures timing confidence, not amplitude: issue 12).

Mouth opening: the inner-lip gap at the centre of the mouth (landmark 14 below 13, positive when
open), in inter-ocular distances (IOD). The tracker's PCA coefficients give it up to a constant:
template gap (0.088: the training speakers' typical talking mouth) + the gap the coefficients add
(`syncnet.lip_opening`, linear). The constant that the 24 coefficients cannot express (the face's
own lip shape, up to +-0.06 IOD on the shared portraits, +-0.007 on real talking clips) is
measured on a few frames of the video by `opening_residual` and added back.

dynamics (T, D): 24 PCA coefficients, open_right, open_left, gaze_x, gaze_y (`basis.layout`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from vasa.data import conditions
from vasa.evaluation import motion_metrics as mm
from vasa.evaluation.phones import OPEN_VOWELS, bilabial_closure
from vasa.evaluation.syncnet import correlation_lag, lip_opening
from vasa.latent.basis import FaceBasis
from vasa.latent.face_model import encode_canonical, lip_gap
from vasa.latent.motion import MotionLatents
from vasa.timebase import SAMPLE_RATE

FPS = mm.FPS
MAX_LAG = 5  # frames (0.2 s) either way searched for the envelope correlation
# Envelope correlation is taken on syllable-rate changes: both signals minus their centred
# running mean over SYLLABLE_WINDOW frames (0.52 s: a high-pass near 2 Hz). Mouth opening and
# the speech envelope co-vary at 2-7 Hz (Chandrasekaran et al. 2009, "The natural statistics of
# audiovisual speech"); below that, posture, smiles and sentence loudness dominate and made the
# raw correlation negative on real clips (Chris Christie: -0.3 raw, +0.22 high-passed).
SYLLABLE_WINDOW = 13
# Crossed lips: an inner-lip gap below CROSSED_BELOW IOD (the lower lip above the upper one).
# Not 0: closed real lips re-track at 0 +- 0.005 (the measured-minus-PCA gap varies by 0.005
# frame to frame), and at a 0 threshold 3-4% of real speakers' frames (Patrick Stewart,
# HDTF RD_Radio2) counted as crossed; at -0.005 they are at 0-1.3%, at -0.01 at 0%.
CROSSED_BELOW = -0.005
LIP_CORNERS = (61, 291)  # outer lip corners (MediaPipe)
MIN_STD = 1e-6  # IOD: a mouth moving less than this is still, and correlates with nothing


def mouth_opening(dynamics: np.ndarray, basis: FaceBasis, residual: float = 0.0) -> np.ndarray:
    """Absolute inner-lip gap (T,) in IOD: the template's gap, plus the change the PCA
    coefficients dynamics[:, basis.layout.pca] make to it, plus `residual`
    (`opening_residual` of the same face; 0 assumes the face's lips are the template's)."""
    return lip_gap(basis.template) + lip_opening(dynamics, basis) + residual


def mouth_width(dynamics: np.ndarray, basis: FaceBasis) -> np.ndarray:
    """Distance between the outer lip corners (T,) in IOD, in the pose-free canonical frame:
    the template's, moved by the PCA coefficients (what rounding narrows and a smile widens).
    The face's own width is a constant offset; use it relative to the same video."""
    lay = basis.layout
    corners = [LIP_CORNERS[0], LIP_CORNERS[1]]
    pos = np.searchsorted(basis.points, corners)
    assert np.array_equal(np.asarray(basis.points)[pos], corners), "lip corners outside the PCA"
    comp = basis.components.reshape(basis.num_pca, -1, 3)[:, pos, :2]  # (K, 2, 2)
    delta = np.asarray(dynamics, np.float64)[:, lay.pca] * basis.std  # (T, K)
    xy = basis.template[corners, :2][None] + np.einsum("tk,kpc->tpc", delta, comp)
    return np.linalg.norm(xy[:, 1] - xy[:, 0], axis=1)


def opening_residual(canonicals: np.ndarray, basis: FaceBasis) -> float:
    """The part of the inner-lip gap that the PCA coefficients do not express, in IOD: median
    over canonical shapes (N, 478, 3) of one face (`encode_landmarks(...)[2]` of a few frames) of
    their measured gap minus `mouth_opening` of their own coefficients. Constant over a video:
    the renderer and the tracker both move the lips along the PCA directions only."""
    shapes = np.asarray(canonicals, np.float64).reshape(-1, 478, 3)
    if len(shapes) == 0:
        raise mm.NotComputable("no frame with a tracked face to measure the lip shape on")
    dyn = np.stack([encode_canonical(c, basis) for c in shapes])  # (N, D)
    measured = np.array([lip_gap(c) for c in shapes])  # (N,)
    return float(np.median(measured - mouth_opening(dyn, basis)))


def _tracked(values: np.ndarray, found: np.ndarray | None) -> np.ndarray:
    v = np.asarray(values, np.float64).reshape(-1)
    ok = np.ones(len(v), bool) if found is None else np.asarray(found, bool)[:len(v)]
    if len(ok) != len(v) or not ok.any():
        raise mm.NotComputable("face lost in all frames")
    return v[ok]


def opening_stats(opening: np.ndarray, found: np.ndarray | None = None) -> tuple[float, float]:
    """(mean, std) of the mouth opening (T,) in IOD over tracked frames. The std is how much the
    mouth moves; the mean how open it is held (a real speaker's: 0.05-0.10 IOD)."""
    v = _tracked(opening, found)
    return float(v.mean()), float(v.std())


def loudness_envelope(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Loudness per motion frame (T,): log10 RMS of each 40 ms of mono audio (`prosody`'s
    log_energy, floored at -5 in digital silence), so that row t covers video frame t."""
    from vasa.audio import PROSODY_FIELDS, get_extractor

    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"audio at {sample_rate} Hz: load it at {SAMPLE_RATE} Hz "
                         "(vasa.io.load_audio(path, 16000))")
    feats = get_extractor("prosody")(np.asarray(audio, np.float32))  # (T, 5)
    return feats[:, PROSODY_FIELDS.index("log_energy")].astype(np.float64)


def _syllabic(x: np.ndarray) -> np.ndarray:
    """x minus its centred running mean over SYLLABLE_WINDOW frames (edges padded)."""
    half = SYLLABLE_WINDOW // 2
    mean = np.convolve(np.pad(x, half, mode="edge"), np.ones(SYLLABLE_WINDOW) / SYLLABLE_WINDOW,
                       mode="valid")
    return x - mean


def envelope_correlation(opening: np.ndarray, envelope: np.ndarray, max_lag: int = MAX_LAG
                         ) -> tuple[float, int | None]:
    """(correlation, lag): the Pearson correlation of the mouth opening (T,) with the loudness
    envelope (T',) at the lag in [-max_lag, max_lag] frames that maximises it, over their
    common first frames.

    Sign: lag L pairs opening[t] with envelope[t + L]; L > 0 when the voice comes after the
    mouth (lips lead the sound, as they do by 0-2 frames in natural speech), the same sign as
    `syncnet.sync_scores`' offset. The envelope is floored 30 dB below the speech level
    (`motion_metrics.SILENCE_DROP`: the noise floor of a pause says nothing about the mouth),
    and both are high-passed (`SYLLABLE_WINDOW`). A still mouth gives (0.0, None). Frames
    where the face was lost hold the last tracked opening, as `track_video` leaves them.
    """
    n = min(len(opening), len(envelope))
    if n < 2 * max_lag + SYLLABLE_WINDOW:
        raise mm.NotComputable(f"{n} frames: too short for an envelope correlation")
    v = np.asarray(opening[:n], np.float64)
    e = np.asarray(envelope[:n], np.float64)
    e = np.maximum(e, np.percentile(e, mm.SPEECH_PERCENTILE) - mm.SILENCE_DROP)
    v, e = _syllabic(v), _syllabic(e)
    if v.std() < MIN_STD:
        return 0.0, None
    if e.std() < MIN_STD:
        raise mm.NotComputable("the audio's loudness does not change")
    lag, corr = correlation_lag(v, e, max_lag)
    return corr, lag


def crossed_lip_share(opening: np.ndarray, found: np.ndarray | None = None) -> float:
    """Share of tracked frames whose inner-lip gap (T,) is below CROSSED_BELOW (-0.005 IOD,
    the tracker's noise on closed lips): the lower lip drawn above the upper one. The tracker
    fits a real face's mesh to the image, so lips drawn through each other re-track as at most
    0.02 IOD crossed, often as just closed: this under-counts them."""
    return float(np.mean(_tracked(opening, found) < CROSSED_BELOW))


def opening_in_silence(opening: np.ndarray, envelope: np.ndarray,
                       found: np.ndarray | None = None) -> tuple[float | None, float | None]:
    """(mean opening in silence, mean opening in speech) in IOD, over tracked frames.

    Silence: runs of at least `motion_metrics.MIN_SILENCE_FRAMES` (0.2 s) whose loudness is more
    than 30 dB below the clip's speech level (its 95th percentile), as
    `motion_metrics.silent_frames`; speech: every other frame. None where a clip has none.
    A real speaker closes the mouth in pauses; a generator that holds it open does not.
    """
    n = min(len(opening), len(envelope))
    ok = np.ones(n, bool) if found is None else np.asarray(found, bool)[:n]
    silent = mm.silent_frames(np.asarray(envelope)[:n])
    v = np.asarray(opening, np.float64)[:n]
    out = [float(v[ok & s].mean()) if (ok & s).any() else None for s in (silent, ~silent)]
    return out[0], out[1]


def blink_spans(eye_open: np.ndarray, fps: float = FPS,
                shortest: float = conditions.BLINK_SECONDS[0]) -> list[tuple[int, int]]:
    """(start, stop) frames of each blink in (T, 2) eye openness: the blinks that
    `conditions.blink_count` counts (openness under half its running open level for 0.05-0.8 s),
    so rate and duration always describe the same blinks; shortest=0 keeps one-frame dips."""
    # The one blink detector of the project (private there: its public face is blink_count).
    return conditions._blink_runs(eye_open, fps, shortest)


def blink_durations_ms(eye_open: np.ndarray, fps: float = FPS) -> np.ndarray:
    """Duration of each blink (N,) in ms: the time the eyes stay below half open (full width
    at half depth; a blink's whole close-and-open lasts about twice that). Natural: 100-400 ms."""
    return np.array([(b - a) / fps * 1e3 for a, b in blink_spans(eye_open, fps)])


def blink_closure(eye_open: np.ndarray, fps: float = FPS) -> np.ndarray:
    """How far each blink closes the eyes (N,): 1 - the blink's least openness / the clip's
    median openness (1: shut; the tracker reads a real full blink as 0.7-0.9)."""
    o = np.asarray(eye_open, np.float64).reshape(len(eye_open), -1).mean(1)  # (T,)
    level = max(float(np.median(o)), 1e-6)
    return np.array([1.0 - o[a:b].min() / level for a, b in blink_spans(eye_open, fps)])


HALF_SHUT = (0.3, 0.75)  # open share (`conditions.open_share`) a lid counts as half shut within


def half_shut_share(eye_open: np.ndarray, found: np.ndarray | None = None, fps: float = FPS
                    ) -> float:
    """Share of the found frames of (T, 2) eye openness whose open share lies in HALF_SHUT:
    lids neither open nor shut. A blink passes through it for a frame or two; re-tracked real
    held-out speech video: 2.3-5.1% of frames. Generated lids that dip part-way (a flicker a
    viewer reads as twitching or drowsy eyes) raise it: 10-15% on held-out French speech
    before `blinks.sharpen_blinks` took shallow dips out."""
    r = conditions.open_share(eye_open, fps)
    ok = np.ones(len(r), bool) if found is None else np.asarray(found, bool)[:len(r)]
    if not ok.any():
        raise mm.NotComputable("half_shut_share: no tracked frame")
    return float(((r >= HALF_SHUT[0]) & (r < HALF_SHUT[1]))[ok].mean())


REOPEN_FRAMES = 3  # frames past a dip's end (back over half open) in which it may still reopen


def lid_reopen_steps(eye_open: np.ndarray, fps: float = FPS) -> np.ndarray:
    """How fast the lids reopen (N,): per dip of (T, 2) eye openness under half its open level
    (`conditions.open_share`; any length up to a blink's longest, one frame included), the
    largest one-frame rise of the open share from its lowest frame to REOPEN_FRAMES past it.
    Re-tracked real held-out speech video: 0.28-0.38 (0.61 and 0.70 on a low-quality clip and
    on one without blinks, where the dips are the tracker's noise); a lid that snaps open from
    shut in one frame (a twitch): 0.7-0.9. The blink count leaves one-frame dips out as
    tracker noise, and that is where a generator's twitches hide."""
    r = conditions.open_share(eye_open, fps)
    steps = [np.diff(r[a + int(np.argmin(r[a:b])):b + REOPEN_FRAMES]).max()
             for a, b in blink_spans(eye_open, fps, shortest=0.0) if b + REOPEN_FRAMES <= len(r)]
    return np.array(steps)


@dataclass
class ViewerMeasures:
    """The model-free measures of one video against its audio. Openings in IOD; None where a
    measure has no value on this video (no pause for the silence opening, no blink for the
    blink duration, under 2 s for the blink rate)."""

    frames: int  # video frames measured (25 fps), the common length of video and audio
    lost: int  # of those, frames where the tracker lost the face
    opening_mean: float
    opening_std: float
    envelope_corr: float | None  # at the best lag within +-MAX_LAG
    envelope_lag: int | None  # frames, > 0: the voice after the mouth
    crossed_share: float  # share of frames with the lips through each other
    opening_silence: float | None
    opening_speech: float | None
    blinks_per_min: float | None
    blink_ms: float | None  # mean time below half open
    blink_closure: float | None  # mean closure depth
    delta_p: float | None  # head-angle speed, deg/frame (motion_metrics.delta_p)
    residual: float = 0.0  # IOD added to the PCA opening (opening_residual)
    bilabial_closure: float | None = None  # lips closed at /p b m/ (phones.bilabial_closure)
    eye_open: float | None = None  # median eyelid openness (lid gap / eye width) of found frames
    vowel_closure: float | None = None  # lips closed at open vowels: the false-alarm side
    lid_reopen: float | None = None  # median reopening step of the lids (lid_reopen_steps)
    half_shut: float | None = None  # share of frames with the lids half shut (half_shut_share)

    def to_dict(self) -> dict:
        return asdict(self)


def _maybe(fn, *args) -> float | None:
    try:
        return float(fn(*args))
    except mm.NotComputable:
        return None


def measure(motion: MotionLatents, found: np.ndarray, envelope: np.ndarray, basis: FaceBasis,
            residual: float = 0.0, fps: float = FPS, phones: list | None = None
            ) -> ViewerMeasures:
    """Every measure of one re-tracked video (motion (T frames), found (T,)) against the
    loudness envelope of its audio (T',), over their common first frames; with the audio's
    `phones` (vasa.evaluation.phones) also the bilabial closure rate."""
    t = min(len(found), len(envelope))
    pose, dyn = motion.pose[:t], motion.dynamics[:t]
    found, envelope = np.asarray(found, bool)[:t], np.asarray(envelope)[:t]
    opening = mouth_opening(dyn, basis, residual)
    mean, std = opening_stats(opening, found)
    try:
        corr, lag = envelope_correlation(opening, envelope)
    except mm.NotComputable:
        corr, lag = None, None
    silence, speech = opening_in_silence(opening, envelope, found)
    eyes = dyn[:, basis.layout.eyes]
    durations, closure = blink_durations_ms(eyes, fps), blink_closure(eyes, fps)
    reopen = lid_reopen_steps(eyes, fps)
    return ViewerMeasures(
        frames=t, lost=int((~found).sum()), opening_mean=mean, opening_std=std,
        envelope_corr=corr, envelope_lag=lag, crossed_share=crossed_lip_share(opening, found),
        opening_silence=silence, opening_speech=speech,
        blinks_per_min=_maybe(mm.blink_rate, dyn, found, fps),
        blink_ms=float(durations.mean()) if len(durations) else None,
        blink_closure=float(closure.mean()) if len(closure) else None,
        lid_reopen=float(np.median(reopen)) if len(reopen) else None,
        half_shut=_maybe(half_shut_share, eyes, found, fps),
        delta_p=_maybe(mm.delta_p, pose, found), residual=residual,
        eye_open=float(np.median(eyes[found])) if found.any() else None,
        vowel_closure=None if phones is None else bilabial_closure(opening, phones, found, fps,
                                                                   OPEN_VOWELS),
        bilabial_closure=None if phones is None else bilabial_closure(opening, phones, found,
                                                                      fps))
