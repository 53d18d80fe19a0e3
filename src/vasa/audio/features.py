"""Audio features per motion frame: log-mel, MFCC and their combination (the registry that
names them is `vasa.audio.get_extractor`).

Every extractor maps mono float32 audio at 16 kHz, ``(N,)``, to ``(T, dim)`` float32 with
``T = ceil(N / SAMPLES_PER_FRAME)``: feature row t describes samples ``[t*640, (t+1)*640)``,
the audio of motion frame t at 25 fps. The last, partial frame is completed with silence.

Locality (streaming): a frame's features depend on its own 640 samples plus at most
``extractor.streaming_context`` samples on either side (the analysis windows overhang the
frame). At the two ends of the input that context is reflect-padded. So features of a clip
computed in consecutive chunks (lengths multiples of 640) equal the whole-clip features except
in the first and last frame of each chunk, where reflected samples stand in for the
neighbouring chunk. Every context is shorter than a frame (at most 134 samples), so a streaming
front end that wants exact equality runs each chunk with one extra frame of real audio on each
side (40 ms look-ahead) and drops the first and last output rows.

Pure numpy and deterministic; the frames of a clip are analysed at once (strided views, one
rfft over all hops): ~30k motion frames/s for the default extractor on one CPU core.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from vasa.timebase import MOTION_FPS, SAMPLE_RATE, SAMPLES_PER_FRAME

__all__ = [
    "DEFAULT_EXTRACTOR",
    "HOP",
    "HOPS_PER_FRAME",
    "MOTION_FPS",
    "N_FFT",
    "N_MELS",
    "SAMPLES_PER_FRAME",
    "SAMPLE_RATE",
    "AudioFeatureExtractor",
    "CombinedExtractor",
    "ExtractorSpec",
    "LogMelExtractor",
    "MfccExtractor",
    "mel_filterbank",
    "num_frames",
    "power_spectrogram",
]

HOP = 160  # 10 ms, as in whisper/audio.py (HOP_LENGTH)
HOPS_PER_FRAME = SAMPLES_PER_FRAME // HOP  # 4 spectrogram hops per motion frame
N_FFT = 400  # 25 ms window, as in whisper/audio.py
N_MELS = 80
# The STFT window of hop j is centred on the middle of its 10 ms (sample j*160 + 80), so the
# 4 hops of a motion frame sit symmetrically in it; the window overhangs the hop by this much.
STFT_CONTEXT = N_FFT // 2 - HOP // 2  # 120 samples
# whisper/audio.py clamps log10 mel power to 8 decades below the clip's maximum. That floor
# depends on the whole clip (chunks and streams would disagree), so here it is fixed: about 8
# decades below full scale (a full-scale 1 kHz sine peaks at +2.4), near whisper's own floor for
# speech at normal level (the bundled clip peaks at +1.4: whisper would clamp at -6.6).
LOG_MEL_FLOOR = -6.0
N_MFCC = 20
DEFAULT_EXTRACTOR = "logmel+prosody"

assert SAMPLES_PER_FRAME * MOTION_FPS == SAMPLE_RATE and HOPS_PER_FRAME * HOP == SAMPLES_PER_FRAME


@dataclass(frozen=True)
class ExtractorSpec:
    """Identity of an extractor, stored in datasets and checkpoints so features built with one
    extractor are never used with another. version: bump when the numbers change."""

    name: str  # what is computed, e.g. "logmel80", "logmel80+prosody"
    version: str  # "1", or a hash of the model config for learned extractors
    dim: int  # feature dimension per motion frame

    @property
    def id(self) -> str:
        """``name@version``, e.g. ``"logmel80+prosody@1"``."""
        return f"{self.name}@{self.version}"


class AudioFeatureExtractor(abc.ABC):
    """Maps audio ``(N,)`` float32 at SAMPLE_RATE to features ``(ceil(N / 640), spec.dim)``."""

    spec: ExtractorSpec
    # Samples beyond a frame's own 640 on either side that can change its features; None when
    # a frame depends on the whole input (transformer models).
    streaming_context: int | None

    @abc.abstractmethod
    def __call__(self, audio: np.ndarray) -> np.ndarray:
        """audio: ``(N,)`` float32 in [-1, 1] at 16 kHz -> ``(T, dim)`` float32."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec.id}, dim={self.spec.dim})"


def num_frames(n_samples: int) -> int:
    """Motion frames covering ``n_samples`` audio samples: ``ceil(n / 640)``."""
    return -(-int(n_samples) // SAMPLES_PER_FRAME)


def check_audio(audio: np.ndarray) -> np.ndarray:
    """Validate mono audio ``(N,)`` and return it as float64 (for accurate energies/FFTs)."""
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono (N,), got shape {audio.shape}; average channels "
                         "first (vasa.io.load_audio does)")
    if not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"audio must be float in [-1, 1], got {audio.dtype}")
    if not np.isfinite(audio).all():
        raise ValueError("audio contains NaN or inf")
    return audio.astype(np.float64)


def padded_frames(audio: np.ndarray, context: int) -> np.ndarray:
    """Audio ``(N,)`` -> ``(T, 640 + 2*context)`` overlapping views, frame t spanning samples
    ``[t*640 - context, (t+1)*640 + context)``: zero-filled to T*640, reflect-padded by
    ``context`` (< 640) at both ends. A read-only strided view: no copy per frame."""
    t = num_frames(len(audio))
    win = SAMPLES_PER_FRAME + 2 * context
    if t == 0:
        return np.zeros((0, win))
    x = np.zeros(t * SAMPLES_PER_FRAME + 2 * context)
    x[context : context + len(audio)] = audio
    if context:
        body = x[context : context + t * SAMPLES_PER_FRAME]
        x[:context] = body[context:0:-1]
        x[-context:] = body[-2 : -context - 2 : -1]
    return np.lib.stride_tricks.sliding_window_view(x, win)[::SAMPLES_PER_FRAME]


def periodic_hann(n: int) -> np.ndarray:
    """Periodic Hann window, as torch.hann_window (whisper's STFT window)."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def power_spectrogram(audio: np.ndarray) -> np.ndarray:
    """Audio ``(N,)`` -> STFT power ``(T, 4, N_FFT//2 + 1)``: Hann window of 400 samples, hop 160,
    hop j's window centred at sample ``j*160 + 80``; 4 hops per motion frame."""
    frames = padded_frames(check_audio(audio), STFT_CONTEXT)  # (T, 880)
    hops = np.lib.stride_tricks.sliding_window_view(frames, N_FFT, axis=1)[:, ::HOP]  # (T, 4, 400)
    spec = np.fft.rfft(hops * periodic_hann(N_FFT), axis=-1)  # (T, 4, 201)
    return spec.real**2 + spec.imag**2


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above (librosa.hz_to_mel, htk=False)."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * 200.0 / 3)


def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE,
                   fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Slaney-style mel filterbank ``(n_mels, n_fft//2 + 1)``: triangles equally spaced on the
    Slaney mel scale, each normalised to unit area (2 / bandwidth), as
    ``librosa.filters.mel(sr, n_fft, n_mels)`` which whisper's mel_filters.npz stores."""
    fmax = sample_rate / 2 if fmax is None else fmax
    fft_hz = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]


def _log_mel_hops(audio: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """Audio ``(N,)`` -> whisper-scaled log-mel per hop ``(T, 4, n_mels)``, values ~[-0.5, 1.5]."""
    mel = power_spectrogram(audio) @ filters.T  # (T, 4, n_mels)
    log = np.maximum(np.log10(np.maximum(mel, 1e-10)), LOG_MEL_FLOOR)
    return (log + 4.0) / 4.0  # whisper/audio.py's scaling


class LogMelExtractor(AudioFeatureExtractor):
    """Log-mel spectrogram (80 bins, 0-8 kHz, 25 ms Hann, 10 ms hop), whisper-scaled.

    stack=False (default): the mean over the 4 hops of each motion frame, dim n_mels (80). The
    generator predicts one motion latent per 40 ms; 80 dims keep the concatenated audio
    condition small next to the motion latent, and the prosody features carry timing.
    stack=True: the 4 hops side by side, dim 4*n_mels (320), hop-major, for 10 ms detail.
    """

    def __init__(self, n_mels: int = N_MELS, stack: bool = False) -> None:
        self.filters = mel_filterbank(n_mels)
        self.stack = stack
        dim = n_mels * HOPS_PER_FRAME if stack else n_mels
        self.spec = ExtractorSpec(f"logmel{n_mels}" + ("x4" if stack else ""), "1", dim)
        self.streaming_context = STFT_CONTEXT

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        hops = _log_mel_hops(audio, self.filters)  # (T, 4, n_mels)
        out = hops.reshape(len(hops), self.spec.dim) if self.stack else hops.mean(axis=1)
        return out.astype(np.float32)


def dct_ii(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II matrix ``(n_out, n_in)``, as scipy.fft.dct(type=2, norm="ortho")."""
    k = np.arange(n_out)[:, None]
    basis = np.cos(np.pi * k * (2 * np.arange(n_in)[None, :] + 1) / (2 * n_in))
    basis *= np.sqrt(2.0 / n_in)
    basis[0] /= np.sqrt(2.0)
    return basis


class MfccExtractor(AudioFeatureExtractor):
    """MFCCs (orthonormal DCT-II of the log-mel, first n_mfcc coefficients) and their deltas.

    Per motion frame: the mean MFCC over its 4 hops, then the delta: the least-squares slope
    across those 4 hops, per 10 ms. Taking the slope inside the frame (not across neighbouring
    frames) keeps the features local: no look-ahead beyond the STFT window. dim 2*n_mfcc (40).
    """

    def __init__(self, n_mfcc: int = N_MFCC, n_mels: int = N_MELS) -> None:
        self.filters = mel_filterbank(n_mels)
        self.dct = dct_ii(n_mels, n_mfcc)
        self.spec = ExtractorSpec(f"mfcc{n_mfcc}+delta", "1", 2 * n_mfcc)
        self.streaming_context = STFT_CONTEXT

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        cep = _log_mel_hops(audio, self.filters) @ self.dct.T  # (T, 4, n_mfcc)
        k = np.arange(HOPS_PER_FRAME) - (HOPS_PER_FRAME - 1) / 2  # -1.5 .. 1.5
        slope = np.einsum("k,tkc->tc", k / (k @ k), cep)
        return np.concatenate([cep.mean(axis=1), slope], axis=1).astype(np.float32)


class CombinedExtractor(AudioFeatureExtractor):
    """Extractors side by side: features concatenated in the given order along dim."""

    def __init__(self, *parts: AudioFeatureExtractor) -> None:
        if not parts:
            raise ValueError("CombinedExtractor needs at least one extractor")
        self.parts = parts
        versions = [p.spec.version for p in parts]
        version = versions[0] if len(set(versions)) == 1 else "+".join(versions)
        self.spec = ExtractorSpec("+".join(p.spec.name for p in parts), version,
                                  sum(p.spec.dim for p in parts))
        contexts = [p.streaming_context for p in parts]
        self.streaming_context = None if None in contexts else max(contexts)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        return np.concatenate([p(audio) for p in self.parts], axis=1)

