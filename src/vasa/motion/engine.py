"""The streaming motion engine: audio chunks in, timed motion latents out (VASA-1 section 3).

A state machine over windows of W frames that start every `hop` frames. Window j covers frames
s = j*hop .. s+W-1 and emits its first `hop` of them. It sees the audio of `audio_frames` =
min(W, hop + lookahead) frames from s (the rest of the window is marked audio-dropped, as the
paper's training drops the last audio frames), and is conditioned on the K frames emitted
before s (X_pre, A_pre). It runs as soon as that audio, plus the extractor's few samples of
analysis context, has arrived; its noise comes from a generator seeded by (seed, j). So what a
window sees never depends on how the audio was chunked: chunked and offline runs give the same
frames, and memory stays bounded (consumed audio is dropped).

hop = W (the default) is offline quality: every frame is generated with the audio of its whole
window. A small hop is the low-latency streaming mode: a frame can leave (hop + lookahead)
frames of audio after its own audio starts, at W/hop times the sampling cost per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vasa.audio.features import AudioFeatureExtractor
from vasa.latent.basis import FaceBasis, default_basis
from vasa.latent.expressions import EmotionDirections
from vasa.latent.face_model import lip_direction, lip_gap, move_lip_gap
from vasa.latent.motion import MotionLatents
from vasa.motion import lids
from vasa.motion.blinks import BlinkKeeper, limit_lid_speed, sharpen_blinks
from vasa.motion.checkpoint import MotionModel
from vasa.motion.closure import CONTEXT, LipClosure, load_closure
from vasa.motion.controls import Controls, check_controls
from vasa.motion.diffusion import sample_ddim
from vasa.motion.dit import Conditions
from vasa.motion.features import FEATURES, to_latents
from vasa.motion.gaze import HEAD_SHARE, GazeResponse, GazeSteer
from vasa.motion.guidance import guided_denoiser
from vasa.motion.mouth import MAX_STEP, MouthResponse, OpeningSlew, seen_as_generated
from vasa.motion.silence import PauseHold, SilenceGate, frame_loudness
from vasa.timebase import SAMPLE_RATE, SAMPLES_PER_FRAME, frame_time


@dataclass
class TimedFrame:
    """One frame of motion for the portrait: index, time in seconds, pose (6,), dynamics (28,)."""

    index: int
    time: float
    pose: np.ndarray
    dynamics: np.ndarray


SEAM_FADE = 8  # frames over which a window's start is bent onto the motion before it
# Frames (1 s) over which the first frame's head-pose offset is eased out (`ease_in`).
START_FADE = 25


def join_seam(x: np.ndarray, hist: np.ndarray, fade: int = SEAM_FADE) -> np.ndarray:
    """Remove the jump between the frames already emitted (hist, (K, M)) and a new window x
    (W, M): the gap between x[0] and where the previous frames were heading (their last frame
    plus half their last velocity) is subtracted with a cosine fade over `fade` frames.

    Not in the paper: X_pre conditioning alone leaves visible steps at window boundaries in a
    model trained on 20 minutes of video; this makes every join continuous in position and
    leaves the window's own motion after `fade` frames untouched."""
    if fade <= 0 or len(hist) < 2:
        return x
    expected = hist[-1] + 0.5 * (hist[-1] - hist[-2])
    n = min(fade, len(x))
    w = 0.5 * (1 + np.cos(np.pi * np.arange(n) / n))  # 1 -> ~0
    out = x.copy()
    out[:n] -= w[:, None] * (x[0] - expected)[None]
    return out


def ease_in(pose: np.ndarray, first: int, start: np.ndarray, fade: int = START_FADE
            ) -> np.ndarray:
    """Head-pose offsets (n, 6) of frames first..first+n-1 less `start` (6,), the first
    frame's offset, weighted by a cosine from 1 at frame 0 to 0 at frame `fade`: the video
    starts on the portrait's own pose and eases into the generated motion.

    Not in the paper: the first window is generated without X_pre, so nothing ties its start
    to the portrait; on one held-out voice (the Wav2Lip test clip's French) it began 11 degrees
    of yaw, 6 of roll and 0.27 eye distances away and held there for half a second, while the
    rest of the speech stayed within 5.5 degrees (99th percentile): every portrait opened on a
    turned head with its hair streaked by the warp. A function of the frame index alone, so
    any hop gives the same frames."""
    t = first + np.arange(len(pose))
    w = np.where(t < fade, 0.5 * (1 + np.cos(np.pi * t / max(fade, 1))), 0.0)
    return pose - w[:, None] * np.asarray(start)[None]


POSE_SIGMA = 1.0  # frames: Gaussian smoothing of the generated head pose
BLINK_GAMMA = 4.0  # eyelid dips below BLINK_KNEE deepened as knee * (ratio / knee)**gamma.
#                   Re-tracked blinks/min on the 7 held-out clips with the shipped model: 8.0 at
#                   gamma 3, 11.5 at 4 (real clips: 19.4); 2 left blinks half-closed
BLINK_KNEE = 0.85  # ratio = openness / rest openness; shallower flutter is left alone
BLINK_SPAN = np.array([0.25, 0.5, 0.25])  # time filter a dip must stay under the knee through
# The lids' level (their open ratio between blinks) soft-limited to 1 +- LID_LEVEL_LIMIT. Real
# speakers' per-second median ratio stays within 0.84-1.10 of their median (6 held-out speakers,
# re-tracked); the generator's wandered to 0.70-1.22 on some speeches (French, LP s18: a
# quarter of the open frames under 0.85, real 2-8%), a drowsy look for seconds at a time.
LID_LEVEL_LIMIT = 0.12
# Frames the level is read over, the frame and those before it: causal and within the previous
# window's context rows (MotionConfig.prev, 10), so where windows start does not change it.
LID_LEVEL_SPAN = 9


def _gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian filter along axis 0 (truncated at 4 sigma), edges extended (x: (T, D))."""
    r = max(1, int(4 * sigma + 0.5))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(x, ((r, r), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, d], k, mode="valid") for d in range(x.shape[1])], 1)


def level_lids(eyes: np.ndarray, limit: float = LID_LEVEL_LIMIT,
               span: int = LID_LEVEL_SPAN) -> np.ndarray:
    """Eyelid ratios (T, E) scaled so that their level (both eyes' mean ratio, its upper
    quartile over the last `span` frames: a blink, shut for fewer, does not lower it) is
    1 + limit * tanh((level - 1) / limit): near the rest it is kept, far from it capped at
    +- limit. Blinks scale with it and still shut. Each ratio stays between its own value and
    that level, so a level that has just jumped (and the estimate, looking back, lags) never
    flashes the lids past either."""
    eyes = np.asarray(eyes, np.float64)
    padded = np.pad(eyes.mean(1), (span - 1, 0), mode="edge")
    level = np.percentile(np.lib.stride_tricks.sliding_window_view(padded, span), 75, axis=1)
    target = (1.0 + limit * np.tanh((level - 1.0) / limit))[:, None]
    scaled = eyes * target / np.maximum(level, 1e-3)[:, None]
    return np.clip(scaled, np.minimum(eyes, target), np.maximum(eyes, target))


def refine(features: np.ndarray, context: int, pose_sigma: float = POSE_SIGMA,
           blink_gamma: float = BLINK_GAMMA) -> np.ndarray:
    """Three corrections of generated features (T, 34), whose first `context` rows are frames
    already emitted (used as the filter's past, not returned). None is in the paper; all
    undo what a model trained on 20 minutes of tracked video learns from its data:

    - head pose (FEATURES.pose) smoothed with a Gaussian of `pose_sigma` frames: the training
      poses carry the tracker's frame-to-frame jitter and the model reproduces it (generated
      Delta P 0.50-0.62 deg/frame in latents, as the tracked data, against 0.39 re-tracked
      from real video); the filter keeps head motion slower than ~0.2 s.
    - the eyelids' level soft-limited near the rest (`level_lids`), first: between blinks the
      model's lids wandered to 0.70 of their rest for seconds on some speeches (a drowsy
      look) where real speakers' stay within 0.84-1.10.
    - eyelid openness ratios (FEATURES.dynamics.eyes) below BLINK_KNEE deepened with `blink_gamma`:
      the model spreads blinks into shallow dips (per minute, dips to < 50% of the open level:
      19 generated vs 37 in the data; to 50-90%: 54 vs 20), so deepening the dips it places
      restores the blink rate without inventing blink times; dips above the knee (flutter)
      stay as they are, or the eyes would look half shut. Both eyes take the deeper one's
      dip: people blink with both eyes. A dip is deepened where it is below the knee also
      after a [1 2 1]/4 filter over time (BLINK_SPAN): a one-frame dip of the generator's
      (to 0.7 between open frames) is its noise, not a blink, and deepened it drew a frame of
      shut eyes between open ones. Each deepened dip is then redrawn as one blink around its
      lowest frame (`blinks.sharpen_blinks`: the model spreads a blink over 5-6 frames), and
      the lids keep to a lid's speed (`blinks.limit_lid_speed`), so a blink closes over 2-3
      frames and reopens over 4. The context rows carry a dip's reopening into this window;
      the rows past the emitted frames give a dip's closing frames before it.
    """
    out = np.array(features, np.float64)
    pose, eyes_at = FEATURES.pose, FEATURES.dynamics.eyes
    if pose_sigma > 0:
        out[:, pose] = _gaussian_smooth(out[:, pose], pose_sigma)
    eyes = out[:, eyes_at] = level_lids(out[:, eyes_at])
    k = BLINK_KNEE
    # Blinks are bilateral: a dip of either eye below the knee closes both (the model's two
    # eyes dip unevenly, and deepening one alone drew winks in the contact sheets).
    both = np.clip(eyes.min(1, keepdims=True), 0.0, None)
    padded = np.pad(both[:, 0], 1, mode="edge")
    span = np.convolve(padded, BLINK_SPAN, mode="valid")[:, None]  # (T, 1)
    deep = (both < k) & (span < k)
    deepened = np.where(deep, k * (both / k) ** blink_gamma, eyes)
    out[:, eyes_at] = limit_lid_speed(sharpen_blinks(deepened, eyes, deep[:, 0]))
    return out[context:].astype(np.float32)


class MotionEngine:
    """push(audio 16 kHz float32 chunk) -> frames ready so far; flush() -> the rest.

    pose, dynamics: the portrait's pose and the rest state the generated offsets are added to
    (`Portrait.talking_rest`: its own dynamics with a typical talking mouth). hop: frames
    emitted per window (1..W; default W); lookahead: frames of audio past the emitted ones each
    window sees (default: the rest of the window). basis: the face basis of the dynamics
    (default: the bundled one); rest_gap: the inner-lip gap of `dynamics` (default: the
    template's, which `talking_rest` gives); close_in_silence: close the mouth where the audio
    is silent (`vasa.motion.silence`); close_lips: shut the lips inside speech where the audio
    says a speaker's would be (`vasa.motion.closure`; `closure`: the model, default the bundled
    one); mouth_response: how far this portrait's rendered mouth opens per unit of latent
    opening, and lid_response: how open its rendered eyes read per latent openness ratio
    (`vasa.pipelines.calibrate.mouth_and_lid_response`; neutral by default), each inverted so
    the generated opening is the one seen. gaze_response: how far this portrait's
    rendered eyes and head turn the gaze (`vasa.pipelines.calibrate.gaze_response`), used when
    a gaze is requested. expressions: the emotion directions a requested emotion adds
    (default: the bundled ones, loaded when an emotion is first asked for). lip_step: the
    most the generated inner-lip gap moves from one frame to the next (`OpeningSlew`).
    start_fade: frames over which the video eases from the portrait's pose into the generated
    head motion (`ease_in`; 0: none)."""

    def __init__(self, model: MotionModel, extractor: AudioFeatureExtractor, pose: np.ndarray,
                 dynamics: np.ndarray, controls: Controls | None = None, hop: int | None = None,
                 lookahead: int | None = None, seam_fade: int | None = None,
                 pose_sigma: float = POSE_SIGMA, blink_gamma: float = BLINK_GAMMA,
                 gaze_response: GazeResponse | None = None, basis: FaceBasis | None = None,
                 rest_gap: float | None = None, close_in_silence: bool = True,
                 mouth_response: MouthResponse | None = None, close_lips: bool = True,
                 lid_response: lids.LidResponse | None = None,
                 closure: LipClosure | None = None,
                 expressions: EmotionDirections | None = None,
                 lip_step: float = MAX_STEP, start_fade: int = START_FADE) -> None:
        if extractor.spec.id != model.extractor:
            raise ValueError(f"model trained with audio features {model.extractor}, "
                             f"engine given {extractor.spec.id}")
        w = model.net.cfg.window
        self.hop = w if hop is None else int(hop)
        if not 1 <= self.hop <= w:
            raise ValueError(f"hop must be in 1..{w} (the model's window), got {hop}")
        self.lookahead = w - self.hop if lookahead is None else int(lookahead)
        if self.lookahead < 0:
            raise ValueError(f"lookahead must be >= 0, got {lookahead}")
        self.audio_frames = min(w, self.hop + self.lookahead)
        # A fade longer than the hop would bend every emitted frame onto the past (each window
        # emits only its first `hop` frames): measured with hop 2, a fade of 8 frames cut lip
        # sync (S_C) from 1.24 to 0.37; a fade of `hop` frames keeps 1.16 and smooth joins.
        self.seam_fade = min(SEAM_FADE, self.hop) if seam_fade is None else int(seam_fade)
        self.pose_sigma, self.blink_gamma = float(pose_sigma), float(blink_gamma)
        self.start_fade = int(start_fade)
        # Samples past a frame its features depend on; learned extractors (None) get a frame.
        ctx = extractor.streaming_context
        self._ctx = SAMPLES_PER_FRAME if ctx is None else int(ctx)
        self.model, self.extractor = model, extractor
        self.pose, self.dynamics = np.asarray(pose), np.asarray(dynamics)
        self.controls = controls or Controls()
        check_controls(self.controls)
        self.basis = basis or default_basis()
        # The rest's inner-lip gap: the template's for `Portrait.talking_rest` (the default).
        self.rest_gap = lip_gap(self.basis.template) if rest_gap is None else float(rest_gap)
        self.close_in_silence = bool(close_in_silence)
        self.closure = (closure or load_closure(extractor=model.extractor)) if close_lips else None
        self.mouth_response = mouth_response or MouthResponse()
        self.lid_response = lid_response or lids.LidResponse()
        self._gate = SilenceGate()
        self._pause = PauseHold()
        self._slew = OpeningSlew(lip_step)
        self._blinks = BlinkKeeper(self.controls.seed)
        self._steer = GazeSteer(FEATURES.check_dynamics(len(self.dynamics)),
                                rest=(self.pose, self.dynamics))
        self._emotion_directions = expressions
        if gaze_response is not None:
            self.gaze_response = gaze_response
        # A-pre of the K frames of rest before the first window: silence, computed once.
        silence = extractor(np.zeros(model.net.cfg.prev * SAMPLES_PER_FRAME, np.float32))
        self._silence_a = model.norm.audio(silence).astype(np.float32)
        self.reset()

    def _expressions(self) -> EmotionDirections:
        """The bundled emotion directions, loaded when an emotion is first asked for."""
        if self._emotion_directions is None:
            self._emotion_directions = EmotionDirections.load(
                basis_version=self.model.basis_version)
        return self._emotion_directions

    @property
    def gaze_response(self) -> GazeResponse:
        return self._steer.response

    @gaze_response.setter
    def gaze_response(self, response: GazeResponse) -> None:
        self._steer.response = response

    @property
    def gaze_target(self) -> tuple[float, float] | None:
        """The requested main gaze resolved against the model (radians), None without one."""
        c = self.controls
        if c.gaze is None:
            return None
        return c.gaze.resolve(tuple(self.model.info.get("gaze_forward", (0.0, 0.0))))

    @property
    def head_share(self) -> float:
        """Share of a gaze change the head turns (0 with a still head)."""
        return 0.0 if self.controls.still_head else HEAD_SHARE

    @property
    def latency_s(self) -> float:
        """Seconds of audio needed past a window's first frame before that frame can be
        generated: its audio frames plus the extractor's analysis context."""
        return (self.audio_frames * SAMPLES_PER_FRAME + self._ctx) / SAMPLE_RATE

    def reset(self) -> None:
        cfg = self.model.net.cfg
        self._audio = np.zeros(0, np.float32)
        self._offset = 0  # absolute sample index of self._audio[0]
        self._window = 0  # next window to generate
        # The last K emitted frames (normalised motion, normalised audio features), started
        # with K frames of rest (features zero, silent audio) so a small hop has a full
        # X_pre from the second window on; the first window is generated without X_pre.
        self._hist_x = np.repeat(self.model.norm.motion(np.zeros(cfg.motion_dim))[None],
                                 cfg.prev, 0).astype(np.float32)
        self._hist_a = self._silence_a
        self._hist_feats = np.zeros((0, self.model.net.cfg.audio_dim), np.float32)  # raw, past
        self._steer.reset()
        self._gate.reset()
        self._pause.reset()
        self._slew.reset()
        self._blinks.reset()
        self._start_pose: np.ndarray | None = None  # the first frame's generated pose offset

    @property
    def _w(self) -> int:
        return self.model.net.cfg.window

    @property
    def _received(self) -> int:
        return self._offset + len(self._audio)

    def _needed(self, j: int) -> int:
        """Samples that must have arrived before window j can run (unless flushing)."""
        return (j * self.hop + self.audio_frames) * SAMPLES_PER_FRAME + self._ctx

    @property
    def samples_to_next_window(self) -> int:
        """Audio still needed before the next window can run (0: it runs on the next push)."""
        return max(self._needed(self._window) - self._received, 0)

    def push(self, chunk: np.ndarray) -> list[TimedFrame]:
        chunk = np.asarray(chunk, np.float32).reshape(-1)
        self._audio = np.concatenate([self._audio, chunk])
        out: list[TimedFrame] = []
        while self._received >= self._needed(self._window):
            out += self._generate(self._window, total=None)
        return out

    def flush(self) -> list[TimedFrame]:
        """Generate what remains of the audio (the last window may be partial), then reset."""
        total = -(-self._received // SAMPLES_PER_FRAME)  # frames = ceil(samples / 640)
        out: list[TimedFrame] = []
        while self._window * self.hop < total:
            out += self._generate(self._window, total)
        self.reset()
        return out

    def _features(self, j: int, total: int | None) -> tuple[np.ndarray, int]:
        """Audio features (W, A) of window j and how many of its frames have audio."""
        s, spf = j * self.hop, SAMPLES_PER_FRAME
        have = self.audio_frames if total is None else min(self.audio_frames, total - s)
        begin = max(s - 1, 0) * spf  # one frame of context before (dropped below)
        end = min((s + have) * spf + self._ctx, self._received)
        seg = self._audio[begin - self._offset:end - self._offset]
        feats = self.extractor(seg)[1 if s > 0 else 0:][:have]
        out = np.zeros((self._w, feats.shape[1]), np.float32)
        out[:have] = feats
        return out, have

    def _generate(self, j: int, total: int | None) -> list[TimedFrame]:
        m, c = self.model, self.controls
        cfg = m.net.cfg
        feats, have = self._features(j, total)
        audio = m.norm.audio(feats).astype(np.float32)
        drop_a = np.arange(cfg.window) >= have  # frames past the audio this window may see
        info = m.info
        forward = tuple(info.get("gaze_forward", (0.0, 0.0)))
        gaze = c.gaze.resolve(forward) if c.gaze is not None else forward
        dist = np.log(c.distance) if c.distance is not None else info.get("log_distance", 0.0)
        emo = c.emotion if c.emotion is not None else np.zeros(cfg.emotion_dim)
        t = torch.from_numpy
        cond = Conditions(
            audio=t(audio[None]), x_pre=t(self._hist_x[None]), a_pre=t(self._hist_a[None]),
            gaze=torch.tensor([gaze], dtype=torch.float32),
            distance=torch.tensor([[dist]], dtype=torch.float32),
            emotion=torch.as_tensor(np.asarray(emo, np.float32)[None]),
            drop_audio=t(drop_a[None]), drop_pre=torch.tensor([j == 0]),
            drop_gaze=torch.tensor([False]),
            drop_distance=torch.tensor([c.distance is None and "log_distance" not in info]),
            drop_emotion=torch.tensor([c.emotion is None]))
        gen = torch.Generator().manual_seed(c.seed * 1_000_003 + j)
        noise = torch.randn((1, cfg.window, cfg.motion_dim), generator=gen)
        den = guided_denoiser(m.infer, cond, c.cfg_audio, c.cfg_gaze,
                              c.cfg_emotion if c.emotion is not None else 0.0)
        x = sample_ddim(den, noise, c.steps)[0].numpy()  # (W, M) normalised
        if not np.all(np.isfinite(x)):  # never hand NaN to the renderer (it would hang or crash)
            raise ValueError(f"motion generator produced non-finite values in window {j}: "
                             "check the model file and the controls")
        if j > 0:
            x = join_seam(x, self._hist_x, self.seam_fade)
        s = j * self.hop
        n = self.hop if total is None else min(self.hop, total - s)
        loud = frame_loudness(self._audio[s * SAMPLES_PER_FRAME - self._offset:], n)
        shut = self._shut(feats, have, n)
        hist_before = self._hist_x if j > 0 else self._hist_x[:0]
        a_emit = np.where((np.arange(n) < have)[:, None], audio[:n], 0.0).astype(np.float32)
        self._hist_x = np.concatenate([self._hist_x, x[:n]])[-cfg.prev:]
        self._hist_a = np.concatenate([self._hist_a, a_emit])[-cfg.prev:]
        self._window = j + 1
        keep = max(self._window * self.hop - 1, 0) * SAMPLES_PER_FRAME  # next window's start
        if keep > self._offset:
            self._audio = self._audio[keep - self._offset:]
            self._offset = keep
        feats = refine(m.norm.motion_inverse(np.concatenate([hist_before, x])), len(hist_before),
                       self.pose_sigma, self.blink_gamma)
        feats = feats[:n]
        pose = FEATURES.pose
        if s < self.start_fade:
            if self._start_pose is None:
                self._start_pose = feats[0, pose].copy()
            feats[:, pose] = ease_in(feats[:, pose], s, self._start_pose, self.start_fade)
        eyes = FEATURES.dynamics.eyes
        # Blinks are kept and shaped as the ratios to be seen; then the ratios that render so.
        feats[:, eyes] = lids.seen_as_generated(self._blinks(feats[:, eyes]), self.lid_response)
        lat = self._controlled(to_latents(feats, self.pose, self.dynamics, c.motion_scale,
                                          c.still_head), loud, gaze, shut)
        return [TimedFrame(s + i, frame_time(s + i), lat.pose[i], lat.dynamics[i])
                for i in range(n)]

    def _shut(self, feats: np.ndarray, have: int, n: int) -> np.ndarray:
        """Lip closing strength (n,) of the frames a window emits, from their audio features
        with CONTEXT frames of the audio before them (kept across windows, so chunking does
        not change it) and what the window has after them; 0 where there is no audio."""
        out = np.zeros(n)
        if self.closure is None:
            return out
        seen = np.concatenate([self._hist_feats, feats[:have]])
        k = len(self._hist_feats)
        out[:min(n, have)] = self.closure.strength(seen)[k:k + n]
        self._hist_feats = np.concatenate([self._hist_feats, feats[:min(n, have)]])[-CONTEXT:]
        return out

    def _controlled(self, lat: MotionLatents, loudness: np.ndarray,
                    gaze: tuple[float, float], shut: np.ndarray | None = None) -> MotionLatents:
        """What the learned conditions alone do not deliver, applied to a window's latents:
        a requested emotion shown, the lip motion scaled as asked, the mouth closed in silence
        and shut where the audio says lips shut, a requested gaze steered."""
        c, pca = self.controls, self.basis.layout.pca
        shut = np.zeros(len(loudness)) if shut is None else shut
        # The emotion first, then the mouth's constraints on the face it made: an emotion's
        # direction opens the lips too (disgust's raised upper lip, surprise's dropped jaw),
        # and added last it opened them in silence and at /p b m/ as well.
        if c.emotion is not None and c.emotion_intensity > 0:  # the condition alone barely shows
            lat.dynamics[:, pca] += (c.emotion_intensity
                                     * self._expressions().offset(c.emotion)).astype(np.float32)
        d = lip_direction(self.basis)
        gap = self.rest_gap + (lat.dynamics[:, pca] - self.dynamics[pca]) @ d
        asked = c.mouth_scale * gap  # the lip-motion control: shut lips stay shut
        limited = self._slew(asked)  # no snapping from wide open to shut in one frame
        if (self.close_in_silence or self.mouth_response != MouthResponse() or shut.any()
                or not np.array_equal(limited, gap)):
            seen = np.maximum(limited, 0.0)  # the opening to be seen
            if self.close_in_silence:
                seen = self._pause(seen, self._gate(loudness))
            seen = seen * (1.0 - shut)
            want = seen_as_generated(seen, self.rest_gap, self.mouth_response)
            lat.dynamics = move_lip_gap(lat.dynamics, want - gap, self.basis)
        if c.gaze is not None:  # the learned condition alone does not follow it: steer
            lat = self._steer(lat, gaze, self.head_share)
        return lat
