"""Streaming audio: iter_audio (decode in chunks), VideoWriter.write_audio (mux in pieces) and
the streaming `generate` pipeline. Small real inputs written here, plus the bundled clip."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from conftest import ASSETS

from vasa.io import (
    SAMPLE_RATE,
    MediaError,
    VideoWriter,
    audio_duration,
    iter_audio,
    load_audio,
)

CLIP = ASSETS / "obama_address_8s.mp4"  # 8 s, AAC


def chirp(seconds: float, sr: int) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * (150 * t + 900 * t**2))).astype(np.float32)


def encode(path: Path, audio: np.ndarray, sr: int, codec: str) -> None:
    """Write ``audio`` ``(N, C)`` with PyAV (``codec`` 'aac' into .m4a, 'libmp3lame' into .mp3);
    PyAV converts the sample format and re-frames to the codec's frame size."""
    layout = "mono" if audio.shape[1] == 1 else "stereo"
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=sr)
        s.layout = layout
        for start in range(0, len(audio), 1000):
            block = np.ascontiguousarray(audio[start : start + 1000].T)
            f = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            f.sample_rate, f.pts, f.time_base = sr, start, Fraction(1, sr)
            c.mux(s.encode(f))
        c.mux(s.encode(None))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("audio")
    mono16 = chirp(2.3, 16000)
    stereo44 = np.stack([chirp(2.3, 44100), 0.5 * chirp(2.3, 44100)], axis=1)
    stereo48 = np.stack([chirp(2.7, 48000), np.zeros(round(2.7 * 48000), np.float32)], axis=1)
    files = {
        "wav16": d / "mono16k.wav",
        "wav44": d / "stereo44k.wav",
        "flac8": d / "low.flac",
        "m4a48": d / "stereo48k.m4a",
        "mp3_22": d / "mono22k.mp3",
    }
    sf.write(files["wav16"], mono16, 16000)  # PCM_16: the exact-equality case
    sf.write(files["wav44"], stereo44, 44100, subtype="FLOAT")
    sf.write(files["flac8"], chirp(1.1, 8000), 8000)
    encode(files["m4a48"], stereo48, 48000, "aac")
    encode(files["mp3_22"], chirp(1.9, 22050)[:, None], 22050, "libmp3lame")
    files["clip"] = CLIP
    return files


# --------------------------------------------------------------------------- iter_audio


@pytest.mark.parametrize("name", ["wav16", "wav44", "flac8", "m4a48", "mp3_22", "clip"])
@pytest.mark.parametrize("chunk_seconds", [1.0, 0.37])
def test_chunks_concatenate_to_load_audio(inputs, name: str, chunk_seconds: float) -> None:
    path = inputs[name]
    whole = load_audio(path)
    chunks = list(iter_audio(path, SAMPLE_RATE, chunk_seconds))
    n = round(chunk_seconds * SAMPLE_RATE)
    assert all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    assert all(len(c) == n for c in chunks[:-1]) and 0 < len(chunks[-1]) <= n
    joined = np.concatenate(chunks)
    assert len(joined) == len(whole)
    if name == "wav16":
        assert np.array_equal(joined, whole)  # native rate: the very same samples
    # Resampled and compressed inputs: same decoders and resampler framing, so the same
    # samples up to float rounding.
    np.testing.assert_allclose(joined, whole, rtol=0, atol=1e-6)


def test_iter_audio_other_rate_and_trimmed_codec_padding(inputs) -> None:
    # AAC pads its last frame; the declared duration (2.7 s) is what comes out, as load_audio.
    joined = np.concatenate(list(iter_audio(inputs["m4a48"], 16000)))
    assert len(joined) == len(load_audio(inputs["m4a48"])) == round(2.7 * 16000)
    at8k = np.concatenate(list(iter_audio(inputs["wav44"], 8000, 0.5)))
    np.testing.assert_allclose(at8k, load_audio(inputs["wav44"], 8000), rtol=0, atol=1e-6)
    expected = 0.75 * chirp(2.3, 16000)  # channels averaged: (1 + 0.5) / 2
    assert np.abs(np.concatenate(list(iter_audio(inputs["wav44"]))) - expected)[50:-50].max() < 0.01


def test_audio_duration(inputs) -> None:
    assert audio_duration(inputs["wav16"]) == pytest.approx(2.3, abs=1e-4)
    assert audio_duration(inputs["flac8"]) == pytest.approx(1.1, abs=1e-3)
    assert audio_duration(inputs["m4a48"]) == pytest.approx(2.7, abs=0.05)
    assert audio_duration(inputs["mp3_22"]) == pytest.approx(1.9, abs=0.1)
    assert audio_duration(CLIP) == pytest.approx(8.0, abs=0.05)


def test_iter_audio_is_lazy_and_closes(inputs) -> None:
    it = iter_audio(CLIP, chunk_seconds=0.5)
    first = next(it)
    assert len(first) == 8000
    it.close()  # stops decoding and closes the file
    assert next(it, None) is None


def test_iter_audio_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "gone.wav"
    with pytest.raises(MediaError, match="gone.wav: file not found"):
        iter_audio(missing)  # at once, before iterating
    text = tmp_path / "notes.mp3"
    text.write_text("not audio\n" * 50)
    empty = tmp_path / "empty.m4a"
    empty.touch()
    broken_wav = tmp_path / "broken.wav"
    broken_wav.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x01" * 64)
    silent = tmp_path / "silent.mp4"
    with VideoWriter(silent, 25.0) as w:
        for _ in range(3):
            w.write(np.zeros((16, 16, 3), np.uint8))
    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros(0, np.float32), 16000)
    zero_aiff = tmp_path / "zero.aiff"  # not .wav/.flac: decoded through PyAV
    sf.write(zero_aiff, np.zeros(0, np.float32), 16000, format="AIFF")
    for path, what in [
        (text, "notes.mp3: cannot"),
        (empty, "empty.m4a: file is empty"),
        (broken_wav, "broken.wav: cannot"),
        (silent, "silent.mp4: no audio stream"),
        (zero, "zero.wav: audio is empty"),
        (zero_aiff, "zero.aiff: audio is empty"),
    ]:
        with pytest.raises(MediaError, match=what):
            load_audio(path)
        with pytest.raises(MediaError, match=what):
            list(iter_audio(path))
    with pytest.raises(MediaError, match="silent.mp4: no audio stream"):
        audio_duration(silent)
    with pytest.raises(ValueError, match="chunk_seconds"):
        iter_audio(CLIP, chunk_seconds=0)


# --------------------------------------------------------------------------- VideoWriter


def write_video(path: Path, frames: int, **kw) -> VideoWriter:
    """A writer that writes `frames` flat frames, calling kw['between'](writer, i) before each."""
    between = kw.pop("between", None)
    with VideoWriter(path, 25.0, sample_rate=SAMPLE_RATE, **kw) as w:
        for i in range(frames):
            if between is not None:
                between(w, i)
            w.write(np.full((32, 32, 3), 4 * i, np.uint8))
    return w


def feed(audio: np.ndarray, sizes: list[int]):
    """A `between` callback pushing `audio` in pieces of the given sizes, one per frame."""
    bounds = np.cumsum([0, *sizes])

    def between(w: VideoWriter, i: int) -> None:
        if i < len(sizes):
            w.write_audio(audio[bounds[i] : bounds[i + 1]])

    return between


@pytest.mark.parametrize(
    ("seconds", "pattern"),
    [
        (1.5, "ahead"),  # longer than the video (1.2 s): trimmed
        (0.7, "ahead"),  # shorter: padded with silence at close
        (1.5, "behind"),  # audio arrives after the frames it plays with
        (1.5, "ragged"),  # odd piece sizes, not multiples of an AAC frame
    ],
)
def test_incremental_audio_equals_whole_array(tmp_path: Path, seconds: float, pattern: str):
    frames = 30  # 1.2 s at 25 fps
    sound = load_audio(CLIP)[: round(seconds * SAMPLE_RATE)]
    write_video(tmp_path / "whole.mp4", frames, audio=sound)
    if pattern == "ahead":
        sizes = [SAMPLE_RATE] * 2  # 1 s pieces, as generate pushes them
        w = write_video(tmp_path / "inc.mp4", frames, audio_channels=1, between=feed(sound, sizes))
    elif pattern == "behind":
        sizes = [320] * frames  # half a frame's audio per frame: lags, caught up at close
        rest = sound[320 * frames :]

        def between(w: VideoWriter, i: int) -> None:
            feed(sound, sizes)(w, i)
            if i == frames - 1:
                w.write_audio(rest)

        w = write_video(tmp_path / "inc.mp4", frames, audio_channels=1, between=between)
    else:
        sizes = [1, 999, 3000, 17, 5000, 1600, 9000, 24000]
        w = write_video(tmp_path / "inc.mp4", frames, audio_channels=1, between=feed(sound, sizes))
    assert w._audio.size == 0  # nothing left queued
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inc.mp4", "whole.mp4"]
    a, b = load_audio(tmp_path / "whole.mp4"), load_audio(tmp_path / "inc.mp4")
    assert len(a) == len(b) == round(frames / 25 * SAMPLE_RATE)
    assert np.array_equal(a, b)  # the encoder got the same samples in the same frames
    assert np.corrcoef(a[:8000], sound[:8000])[0, 1] > 0.95  # and they are the input's


def test_incremental_stereo_and_queue_stays_small(tmp_path: Path) -> None:
    left = load_audio(CLIP)[:32000]
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    sizes: list[int] = []
    with VideoWriter(tmp_path / "st.mp4", 25.0, audio_channels=2) as w:
        for i in range(40):  # 1.6 s of video, audio pushed one frame (640 samples) ahead
            w.write_audio(stereo[640 * i : 640 * (i + 1)])
            w.write(np.zeros((16, 16, 3), np.uint8))
            sizes.append(w._audio.size)
    assert max(sizes) < 640 + 1024  # only what is not encoded yet: under a frame + AAC frame
    whole = tmp_path / "whole.mp4"
    write_video(whole, 40, audio=stereo[: 640 * 40])
    assert np.array_equal(load_audio(tmp_path / "st.mp4"), load_audio(whole))


def test_write_audio_misuse(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="audio_channels must be 1 or 2"):
        VideoWriter(tmp_path / "a.mp4", 25.0, audio_channels=3)
    with pytest.raises(ValueError, match="audio_channels=2"):
        VideoWriter(tmp_path / "a.mp4", 25.0, np.zeros(10, np.float32), audio_channels=2)
    w = VideoWriter(tmp_path / "b.mp4", 25.0)
    with pytest.raises(ValueError, match="write_audio needs"):
        w.write_audio(np.zeros(10, np.float32))
    w.abort()
    w = VideoWriter(tmp_path / "c.mp4", 25.0, audio_channels=1)
    with pytest.raises(ValueError, match="2 channel"):
        w.write_audio(np.zeros((10, 2), np.float32))
    w.write_audio(np.zeros(10, np.float32))
    w.write(np.zeros((16, 16, 3), np.uint8))
    w.close()
    with pytest.raises(MediaError, match="c.mp4: writer is already closed"):
        w.write_audio(np.zeros(10, np.float32))
    assert [p.name for p in tmp_path.iterdir()] == ["c.mp4"]


def test_streaming_writer_failure_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "fail.mp4"
    path_existing = tmp_path / "keep.mp4"
    path_existing.write_bytes(b"old")
    sound = load_audio(CLIP)
    with pytest.raises(RuntimeError), VideoWriter(path, 25.0, audio_channels=1) as w:
        w.write_audio(sound[:16000])
        w.write(np.zeros((16, 16, 3), np.uint8))
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError), VideoWriter(path_existing, 25.0, audio_channels=1) as w:
        w.write_audio(sound[:16000])
        w.write(np.zeros((16, 16, 3), np.uint8))
        raise RuntimeError("boom")
    assert [p.name for p in tmp_path.iterdir()] == ["keep.mp4"]
    assert path_existing.read_bytes() == b"old"


# --------------------------------------------------------------------------- generate


def test_generate_rejects_bad_audio_before_any_output(tmp_path: Path) -> None:
    from vasa.pipelines.generate import GenerateConfig, generate

    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros(0, np.float32), 16000)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    # A model path that does not exist: the audio must be refused before it is even looked at.
    cfg = GenerateConfig(size=128, model=str(tmp_path / "no_model.pt"))
    for audio, what in [(zero, "zero.wav: audio is empty"), (tmp_path / "x.wav", "x.wav")]:
        with pytest.raises(MediaError, match=what):
            generate(ASSETS / "astronaut.jpg", audio, out_dir / "o.mp4", cfg, progress=False)
    assert list(out_dir.iterdir()) == []


def test_generate_streams_audio_into_the_video(tmp_path: Path, tiny_model_file: Path) -> None:
    from vasa.motion.controls import Controls
    from vasa.pipelines.generate import GenerateConfig, generate

    speech = load_audio(CLIP)[: round(2.3 * SAMPLE_RATE)]  # not a whole number of chunks
    m4a = tmp_path / "speech.m4a"
    encode(m4a, speech[:, None], SAMPLE_RATE, "aac")  # a PyAV-decoded input
    out = tmp_path / "talk.mp4"
    cfg = GenerateConfig(size=128, model=str(tiny_model_file), controls=Controls(steps=2))
    result = generate(ASSETS / "astronaut.jpg", m4a, out, cfg, progress=False)
    source = load_audio(m4a)
    assert result.frames == -(-len(source) // 640)  # ceil(samples / 640)
    assert set(result.seconds) == {"setup", "audio", "motion", "render", "encode"}
    assert all(v >= 0 for v in result.seconds.values())
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".mp4"] == ["talk.mp4"]
    # The muxed audio is exactly what the whole-array writer makes of the decoded file.
    ref = tmp_path / "ref.mp4"
    write_video(ref, result.frames, audio=source)
    assert np.array_equal(load_audio(out), load_audio(ref))
