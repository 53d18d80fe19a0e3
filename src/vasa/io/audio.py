"""Audio loading: any file soundfile or PyAV can read -> mono float32 at a fixed sample rate."""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np
import soundfile as sf

from vasa.io._media import MediaError, check_exists, open_media, reason
from vasa.timebase import SAMPLE_RATE

__all__ = ["SAMPLE_RATE", "audio_duration", "has_audio", "iter_audio", "load_audio"]


# libsndfile reads these natively, faster than going through FFmpeg and without codec delay.
_SOUNDFILE_SUFFIXES = (".wav", ".flac")

# A decoded stream may run past its declared duration by the codec's last-frame padding (AAC
# frames are 1024 samples; the mp4 edit list says where the audio really ends but the decoder
# does not cut). Trim to the declared duration only when the excess is that small.
_MAX_PADDING_S = 0.1


class _Resampler:
    """Streaming mono float32 resampler (libswresample: windowed sinc, no delay, exact length).

    Input is cut into blocks of ``sr_in`` samples (1 s) from the start of the signal, however
    it arrives, so feeding a signal whole or piecewise gives the same samples, and a long file
    never becomes one giant FFmpeg frame. ``push`` returns what is ready; ``flush`` the rest.
    """

    def __init__(self, sr_in: int, sr_out: int) -> None:
        self.sr_in, self.sr_out = int(sr_in), int(sr_out)
        self._r = (
            None
            if self.sr_in == self.sr_out
            else av.AudioResampler(format="flt", layout="mono", rate=self.sr_out)
        )
        self._pending = np.zeros(0, np.float32)  # the start of the next, incomplete block
        self._fed = 0  # input samples sent to swresample

    def _feed(self, block: np.ndarray | None) -> list[np.ndarray]:
        if block is None:
            return [f.to_ndarray()[0] for f in self._r.resample(None)]
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(block[None], dtype=np.float32), format="flt", layout="mono"
        )
        frame.sample_rate, frame.pts = self.sr_in, self._fed
        frame.time_base = Fraction(1, self.sr_in)
        self._fed += len(block)
        return [f.to_ndarray()[0] for f in self._r.resample(frame)]

    def push(self, x: np.ndarray) -> np.ndarray:
        if self._r is None:
            return x
        out: list[np.ndarray] = []
        if len(self._pending):
            need = self.sr_in - len(self._pending)
            self._pending = np.concatenate([self._pending, x[:need]])
            x = x[need:]
            if len(self._pending) < self.sr_in:
                return np.zeros(0, np.float32)
            out += self._feed(self._pending)
        start = 0
        while len(x) - start >= self.sr_in:
            out += self._feed(x[start : start + self.sr_in])
            start += self.sr_in
        self._pending = np.array(x[start:], np.float32)  # a copy: x may be a reused buffer
        return _join(out)

    def flush(self) -> np.ndarray:
        if self._r is None:
            return np.zeros(0, np.float32)
        out = self._feed(self._pending) if len(self._pending) else []
        self._pending = np.zeros(0, np.float32)
        return _join(out + self._feed(None))


def _join(parts: list[np.ndarray]) -> np.ndarray:
    if not parts:
        return np.zeros(0, np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample mono float32 ``(N,)`` with libswresample (fed in 1 s blocks)."""
    if sr_in == sr_out or len(x) == 0:
        return x
    r = _Resampler(sr_in, sr_out)
    return _join([r.push(x), r.flush()])


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


def _check_finite(x: np.ndarray, path: str, offset: int, rate: int) -> None:
    """Float files (WAV, FLAC...) can hold NaN or inf samples: they would pass through the
    features into the motion model as NaN. Refused, naming the file and the time."""
    bad = ~np.isfinite(x)
    if bad.any():
        t = (offset + int(np.argmax(bad))) / rate
        raise MediaError(f"{path}: audio holds NaN or infinite samples (first at {t:.2f} s)")


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Load the (first) audio track of ``path`` as mono float32 ``(N,)`` at ``sample_rate``.

    Reads .wav/.flac with soundfile and everything else FFmpeg decodes (.mp3, .aac, .m4a,
    the audio of .mp4/.mov/.webm ...) with PyAV. Multi-channel audio is averaged to mono;
    any input rate is resampled with libswresample. Values are in [-1, 1] for integer
    sources. Raises :class:`MediaError` naming the file if it is missing, has no audio
    stream, has no samples, holds NaN or infinite samples, or cannot be decoded.
    """
    path = os.fspath(path)
    check_exists(path)
    loaded = None
    if path.lower().endswith(_SOUNDFILE_SUFFIXES) and os.path.isfile(path):
        loaded = _load_soundfile(path)
    x, rate = loaded if loaded is not None else _load_pyav(path)
    if len(x) == 0:
        raise MediaError(f"{path}: audio is empty (zero samples)")
    _check_finite(x, path, 0, rate)
    try:
        return _resample(x, rate, sample_rate)
    except (av.error.FFmpegError, ValueError) as e:
        raise MediaError(
            f"{path}: cannot resample audio {rate} -> {sample_rate} Hz ({reason(e)})"
        ) from e


class _SoundfileSource:
    """Mono float32 blocks at the native rate via libsndfile (.wav/.flac)."""

    def __init__(self, path: str, f: sf.SoundFile) -> None:
        self.path, self._f, self.rate = path, f, int(f.samplerate)

    @classmethod
    def open(cls, path: str) -> _SoundfileSource | None:
        """None if libsndfile cannot read the file (PyAV may still), as in ``load_audio``."""
        try:
            return cls(path, sf.SoundFile(path))
        except (sf.LibsndfileError, RuntimeError, TypeError):
            return None

    def blocks(self, frames: int) -> Iterator[np.ndarray]:
        while True:
            try:
                data = self._f.read(frames, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError, TypeError) as e:
                raise MediaError(f"{self.path}: cannot decode audio ({reason(e)})") from e
            if len(data) == 0:
                return
            yield data.mean(axis=1)

    def close(self) -> None:
        self._f.close()


class _PyAVSource:
    """Mono float32 blocks at the native rate from the first audio stream (as ``_load_pyav``,
    including its trim of codec padding past the declared duration)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._container = open_media(path)
        try:
            if not self._container.streams.audio:
                raise MediaError(f"{path}: no audio stream")
            self._stream = stream = self._container.streams.audio[0]
            self.rate = int(stream.rate or stream.codec_context.sample_rate or 0)
            if not self.rate:
                raise MediaError(f"{path}: audio stream has no sample rate")
            self._declared = 0
            if stream.duration is not None and stream.time_base is not None:
                self._declared = round(float(stream.duration * stream.time_base) * self.rate)
        except BaseException:
            self._container.close()
            raise

    def _decoded(self) -> Iterator[np.ndarray]:
        to_float = av.AudioResampler(format="fltp", rate=self.rate)
        for frame in self._container.decode(self._stream):
            for f in to_float.resample(frame):
                yield f.to_ndarray().mean(axis=0).astype(np.float32, copy=False)
        for f in to_float.resample(None):
            yield f.to_ndarray().mean(axis=0).astype(np.float32, copy=False)

    def blocks(self, frames: int) -> Iterator[np.ndarray]:
        del frames  # blocks are the decoder's frames (~1024 samples)
        declared, max_pad = self._declared, _MAX_PADDING_S * self.rate
        trimming = declared > 0  # until more than max_pad samples run past `declared`
        emitted, held, held_n = 0, [], 0
        try:
            for x in self._decoded():
                if not trimming:
                    yield x
                    continue
                room = declared - emitted
                if room > 0:
                    head, x = x[:room], x[room:]
                    emitted += len(head)
                    yield head
                if len(x):
                    held.append(x)
                    held_n += len(x)
                    if held_n > max_pad:  # not codec padding: keep everything
                        trimming = False
                        yield np.concatenate(held)
                        held = []
            # Whatever is still held is at most max_pad past the declared end: dropped.
        except MediaError:
            raise
        except (av.error.FFmpegError, OSError, ValueError) as e:
            # ValueError: PyAV rejects odd layouts/formats with it, outside FFmpegError.
            raise MediaError(f"{self.path}: cannot decode audio ({reason(e)})") from e

    def close(self) -> None:
        self._container.close()


def _open_source(path: str) -> _SoundfileSource | _PyAVSource:
    source = None
    if path.lower().endswith(_SOUNDFILE_SUFFIXES) and os.path.isfile(path):
        source = _SoundfileSource.open(path)
    return source if source is not None else _PyAVSource(path)


def iter_audio(
    path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, chunk_seconds: float = 1.0
) -> Iterator[np.ndarray]:
    """Stream the (first) audio track of ``path`` as mono float32 chunks at ``sample_rate``.

    Each chunk has ``round(chunk_seconds * sample_rate)`` samples (the last one may be
    shorter); they are decoded as they are asked for, so memory does not grow with the file's
    length. Concatenated, the chunks are :func:`load_audio`'s array (same decoders,
    down-mixing, padding trim and resampler framing). A missing file raises
    :class:`MediaError` at once; no audio stream, zero samples, NaN or infinite samples or a
    decoding error raise it, naming the file, from the first ``next()`` (or later, for a file that breaks midway).
    Closing the iterator early (``close()``, or dropping it) closes the file.
    """
    path = os.fspath(path)
    check_exists(path)
    n = round(chunk_seconds * sample_rate)
    if n < 1:
        raise ValueError(f"chunk_seconds * sample_rate must be >= 1 sample, got {n}")
    return _iter_audio(path, int(sample_rate), n)


def _iter_audio(path: str, sample_rate: int, n: int) -> Iterator[np.ndarray]:
    source = _open_source(path)
    try:
        resampler = _Resampler(source.rate, sample_rate)
        native = 0  # samples decoded at the native rate
        parts: list[np.ndarray] = []
        have = 0  # samples in parts

        def resample(x: np.ndarray | None) -> np.ndarray:
            try:
                return resampler.push(x) if x is not None else resampler.flush()
            except (av.error.FFmpegError, ValueError) as e:
                raise MediaError(
                    f"{path}: cannot resample audio {source.rate} -> {sample_rate} Hz ({reason(e)})"
                ) from e

        block = max(1, round(n * source.rate / sample_rate))
        for x in _chain(source.blocks(block)):
            if x is None:
                if native == 0:
                    raise MediaError(f"{path}: audio is empty (zero samples)")
                y = resample(None)
            else:
                _check_finite(x, path, native, source.rate)
                native += len(x)
                y = resample(x)
            if len(y):
                parts.append(y)
                have += len(y)
            while have >= n:
                joined = np.concatenate(parts) if len(parts) > 1 else parts[0]
                chunk, rest = joined[:n], joined[n:]
                parts, have = ([rest] if len(rest) else []), len(rest)
                yield chunk
        if have:
            yield np.concatenate(parts)
    finally:
        source.close()


def _chain(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray | None]:
    """The blocks, then None (end of input)."""
    yield from blocks
    yield None


def audio_duration(path: str | os.PathLike) -> float | None:
    """Duration in seconds of the (first) audio track of ``path`` from its header, or None if
    the file does not say. Approximate for some formats (e.g. mp3 without a length header);
    meant for progress bars. Raises :class:`MediaError` if the file is missing, unreadable or
    has no audio stream.
    """
    path = os.fspath(path)
    check_exists(path)
    if path.lower().endswith(_SOUNDFILE_SUFFIXES) and os.path.isfile(path):
        try:
            info = sf.info(path)
            return info.frames / info.samplerate if info.samplerate else None
        except (sf.LibsndfileError, RuntimeError, TypeError):
            pass  # not something libsndfile knows: ask FFmpeg
    container = open_media(path)
    try:
        if not container.streams.audio:
            raise MediaError(f"{path}: no audio stream")
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / av.time_base
        return None
    finally:
        container.close()


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
