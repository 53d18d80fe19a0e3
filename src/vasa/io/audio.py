"""Audio loading: any file soundfile or PyAV can read -> mono float32 at a fixed sample rate."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np
import soundfile as sf

from vasa.io._media import MediaError, check_exists, open_media, reason

__all__ = ["SAMPLE_RATE", "has_audio", "load_audio"]

SAMPLE_RATE = 16000

# libsndfile reads these natively, faster than going through FFmpeg and without codec delay.
_SOUNDFILE_SUFFIXES = (".wav", ".flac")

# A decoded stream may run past its declared duration by the codec's last-frame padding (AAC
# frames are 1024 samples; the mp4 edit list says where the audio really ends but the decoder
# does not cut). Trim to the declared duration only when the excess is that small.
_MAX_PADDING_S = 0.1


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample mono float32 ``(N,)`` with libswresample (windowed sinc, no delay, exact length).

    Fed in 1 s chunks so a long file never becomes one giant FFmpeg frame.
    """
    if sr_in == sr_out or len(x) == 0:
        return x
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sr_out)
    out: list[np.ndarray] = []
    for start in range(0, len(x), sr_in):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(x[None, start : start + sr_in]), format="flt", layout="mono"
        )
        frame.sample_rate, frame.pts, frame.time_base = sr_in, start, Fraction(1, sr_in)
        out.extend(f.to_ndarray()[0] for f in resampler.resample(frame))
    out.extend(f.to_ndarray()[0] for f in resampler.resample(None))
    return np.concatenate(out).astype(np.float32, copy=False)


def _load_soundfile(path: str) -> tuple[np.ndarray, int] | None:
    """``(mono float32, rate)`` via libsndfile, or None if it cannot read the file."""
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return None  # e.g. a compressed WAV variant libsndfile lacks: PyAV may still read it
    return data.mean(axis=1), int(rate)


def _load_pyav(path: str) -> tuple[np.ndarray, int]:
    """``(mono float32, rate)`` from the first audio stream of anything FFmpeg decodes."""
    container = open_media(path)
    try:
        if not container.streams.audio:
            raise MediaError(f"{path}: no audio stream")
        stream = container.streams.audio[0]
        rate = stream.rate or stream.codec_context.sample_rate
        if not rate:
            raise MediaError(f"{path}: audio stream has no sample rate")
        # Convert whatever sample format the codec emits (s16, fltp, s32p...) to planar float
        # at the native rate and layout; channels are averaged below (swresample's own
        # stereo->mono matrix would scale by 1/sqrt(2) rather than average).
        to_float = av.AudioResampler(format="fltp", rate=rate)
        chunks: list[np.ndarray] = []
        for frame in container.decode(stream):
            for f in to_float.resample(frame):
                chunks.append(f.to_ndarray().mean(axis=0))
        for f in to_float.resample(None):
            chunks.append(f.to_ndarray().mean(axis=0))
        x = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        if stream.duration is not None and stream.time_base is not None:
            declared = round(float(stream.duration * stream.time_base) * rate)
            if 0 < declared < len(x) <= declared + _MAX_PADDING_S * rate:
                x = x[:declared]
        return x.astype(np.float32, copy=False), int(rate)
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as e:
        # ValueError: PyAV rejects odd layouts/formats with it, outside FFmpegError.
        raise MediaError(f"{path}: cannot decode audio ({reason(e)})") from e
    finally:
        container.close()


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Load the (first) audio track of ``path`` as mono float32 ``(N,)`` at ``sample_rate``.

    Reads .wav/.flac with soundfile and everything else FFmpeg decodes (.mp3, .aac, .m4a,
    the audio of .mp4/.mov/.webm ...) with PyAV. Multi-channel audio is averaged to mono;
    any input rate is resampled with libswresample. Values are in [-1, 1] for integer
    sources. Raises :class:`MediaError` naming the file if it is missing, has no audio
    stream, has no samples, or cannot be decoded.
    """
    path = os.fspath(path)
    check_exists(path)
    loaded = None
    if path.lower().endswith(_SOUNDFILE_SUFFIXES) and os.path.isfile(path):
        loaded = _load_soundfile(path)
    x, rate = loaded if loaded is not None else _load_pyav(path)
    if len(x) == 0:
        raise MediaError(f"{path}: audio is empty (zero samples)")
    try:
        return _resample(x, rate, sample_rate)
    except (av.error.FFmpegError, ValueError) as e:
        raise MediaError(
            f"{path}: cannot resample audio {rate} -> {sample_rate} Hz ({reason(e)})"
        ) from e


def has_audio(path: str | os.PathLike) -> bool:
    """True if ``path`` has at least one audio stream (False for frame folders).

    Raises :class:`MediaError` if the file is missing or not a readable media file.
    """
    path = os.fspath(path)
    check_exists(path)
    if os.path.isdir(path):
        return False
    if path.lower().endswith(_SOUNDFILE_SUFFIXES):
        try:
            return sf.info(path).frames > 0
        except (sf.LibsndfileError, RuntimeError, TypeError):
            pass  # not something libsndfile knows: ask FFmpeg
    container = open_media(path)
    try:
        return len(container.streams.audio) > 0
    finally:
        container.close()
