"""Tests for vasa.io: probing, decoding with fps resampling, frame folders, audio, mp4 writing."""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import soundfile as sf

from vasa.io import (
    SAMPLE_RATE,
    MediaError,
    VideoWriter,
    atomic_output,
    has_audio,
    load_audio,
    probe_video,
    read_frames,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OBAMA_MP4 = "clips/EDTalk__test_data__uncrop_Obama.mp4"  # 25 fps 450x450, AAC 48 kHz stereo
VFR_MP4 = "clips/V-Express__scripts__prepare_dataset__RD_Radio10_0_clip_0.mp4"  # 29.97, 2 gaps
SILENT_30FPS = "silent/IP_LAP__test__template_video__129.mp4"  # 30 fps 256x256, 9 s, no audio
FRAMES_DIR = "clips/Talking-Face_PC-AVS__misc__Mouth_Source__681600002_frames"  # 363 JPEGs
MP3 = "clips/Talking-Face_PC-AVS__misc__Audio_Source__681600002.mp3"  # 16 kHz mono, 14.528 s
WAV = "clips/styletalk__samples__source_video__wav__Obama_clip1.wav"  # 16 kHz mono, 20.011 s


def shared(rel: str) -> Path:
    path = DATA / rel
    if not path.exists():
        pytest.skip(f"shared test data not available: {path}")
    return path


def index_video(path: Path, n: int, fps: float, size: tuple[int, int] = (64, 64)) -> None:
    """Write a silent video whose frame i is a flat grey of level 8 * i (frame index readable)."""
    with VideoWriter(path, fps) as w:
        for i in range(n):
            w.write(np.full((*size, 3), 8 * i, np.uint8))


def frame_index(frame: np.ndarray) -> int:
    return round(float(frame.mean()) / 8)


def chirp(seconds: float, sr: int) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * (150 * t + 900 * t**2))).astype(np.float32)


# --------------------------------------------------------------------------- video reading


def test_resample_30_to_25_picks_nearest_previous(tmp_path: Path) -> None:
    path = tmp_path / "idx30.mp4"
    index_video(path, 30, 30.0)
    assert len(list(read_frames(path))) == 30
    same = [frame_index(f) for f in read_frames(path, fps=30.0)]
    assert same == list(range(30))  # no drop/dup from time-base rounding
    out = [frame_index(f) for f in read_frames(path, fps=25.0)]
    assert out == [k * 30 // 25 for k in range(25)]  # latest source frame with pts <= k/25


def test_resample_real_30fps_clip_to_25() -> None:
    path = shared(SILENT_30FPS)
    info = probe_video(path)
    assert info.fps == pytest.approx(30.0)
    frames = list(read_frames(path, fps=25.0, max_side=64))
    assert abs(len(frames) - info.duration_s * 25) <= 1
    assert frames[0].shape == (64, 64, 3) and frames[0].dtype == np.uint8


def test_variable_frame_rate_clip() -> None:
    path = shared(VFR_MP4)
    info = probe_video(path)
    assert info.fps == pytest.approx(30000 / 1001)
    assert (info.width, info.height) == (512, 512) and info.has_audio
    raw = list(read_frames(path, max_side=32))
    at25 = list(read_frames(path, fps=25.0, max_side=32))
    at2997 = list(read_frames(path, fps=30000 / 1001, max_side=32))
    assert len(raw) == 61  # two dropped frames in the source
    assert abs(len(at25) - info.duration_s * 25) <= 1
    assert len(at2997) == 62  # the gaps are filled by repeating the previous frame


def test_probe_and_read_real_clip() -> None:
    path = shared(OBAMA_MP4)
    info = probe_video(path)
    assert (info.fps, info.width, info.height, info.num_frames) == (25.0, 450, 450, 500)
    assert info.duration_s == pytest.approx(20.0) and info.has_audio
    frames = list(itertools.islice(read_frames(path), 3))
    assert frames[0].shape == (450, 450, 3) and frames[0].dtype == np.uint8
    assert all(f.flags.c_contiguous for f in frames)  # PyAV pads rows of 450*3 bytes
    small = next(iter(read_frames(path, max_side=128)))
    assert small.shape == (128, 128, 3) and small.flags.c_contiguous


def test_frame_folder() -> None:
    path = shared(FRAMES_DIR)
    info = probe_video(path, folder_fps=25.0)
    assert (info.fps, info.num_frames, info.has_audio) == (25.0, 363, False)
    first = next(iter(read_frames(path)))
    assert first.shape == (info.height, info.width, 3) and first.dtype == np.uint8


def test_frame_folder_natural_order_and_resampling(tmp_path: Path) -> None:
    for i in range(12):  # f2 must come before f10
        cv2.imwrite(str(tmp_path / f"f{i}.png"), np.full((8, 10, 3), 8 * i, np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    assert [frame_index(f) for f in read_frames(tmp_path)] == list(range(12))
    info = probe_video(tmp_path, folder_fps=10.0)
    assert (info.width, info.height, info.duration_s) == (10, 8, pytest.approx(1.2))
    up = [frame_index(f) for f in read_frames(tmp_path, fps=25.0, folder_fps=10.0)]
    assert up == [k * 10 // 25 for k in range(30)]


def test_rotation_metadata_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rot.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 32, "yuv420p"
        s.set_display_rotation(90)  # counter-clockwise, as phones store portrait video
        img = np.zeros((32, 64, 3), np.uint8)
        img[:8, :8] = 255  # top-left marker
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        c.mux(s.encode(frame))
        c.mux(s.encode(None))
    info = probe_video(path)
    assert (info.width, info.height) == (32, 64)
    shown = next(iter(read_frames(path)))
    assert shown.shape == (64, 32, 3)
    assert shown[-8:, :8].mean() > 200 and shown[:8, :8].mean() < 50  # marker now bottom-left


# --------------------------------------------------------------------------- audio


@pytest.mark.parametrize(("rel", "seconds"), [(WAV, 20.011), (MP3, 14.528), (OBAMA_MP4, 20.0)])
def test_load_audio_real_files(rel: str, seconds: float) -> None:
    path = shared(rel)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) / SAMPLE_RATE == pytest.approx(seconds, abs=0.05)
    assert 0.05 < np.abs(audio).max() <= 1.0
    assert has_audio(path)


def test_load_audio_stereo_resampled_to_mono(tmp_path: Path) -> None:
    left = chirp(1.0, 44100)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, np.zeros_like(left)], axis=1), 44100)
    audio = load_audio(path)
    assert len(audio) == SAMPLE_RATE
    expected = chirp(1.0, SAMPLE_RATE) / 2  # channels averaged
    assert np.abs(audio - expected)[50:-50].max() < 0.01
    low = tmp_path / "low.flac"
    sf.write(low, chirp(0.5, 8000)[:, None].repeat(2, axis=1), 8000)
    assert len(load_audio(low)) == SAMPLE_RATE // 2


def test_has_audio_false() -> None:
    assert not has_audio(shared(SILENT_30FPS))
    assert not has_audio(shared(FRAMES_DIR))


# --------------------------------------------------------------------------- writing


def test_write_with_audio_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    n, fps = 10, 25.0
    sound = chirp(n / fps + 0.3, SAMPLE_RATE)  # longer than the video: must be trimmed
    rng = np.random.default_rng(0)
    with VideoWriter(path, fps, audio=sound, sample_rate=SAMPLE_RATE) as w:
        for _ in range(n):
            w.write(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
    info = probe_video(path)
    assert (info.num_frames, info.width, info.height, info.fps) == (n, 64, 64, fps)
    assert info.has_audio and len(list(read_frames(path))) == n
    back = load_audio(path)
    assert len(back) / SAMPLE_RATE == pytest.approx(n / fps, abs=0.05)
    m = min(len(back), len(sound))
    assert np.corrcoef(back[:m], sound[:m])[0, 1] > 0.95  # content and alignment kept


def test_written_colours_read_back_as_they_were(tmp_path: Path) -> None:
    """Flat patches of the primaries, skin, greys and the extremes survive the writer's RGB ->
    BT.601 limited-range YUV conversion and H.264 at the default quality, and the stream says
    which matrix it uses (players assume BT.709 otherwise)."""
    path = tmp_path / "colours.mp4"
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (224, 172, 140), (128, 128, 128),
               (0, 0, 0), (255, 255, 255), (90, 60, 40)]
    frame = np.zeros((64, 16 * len(colours), 3), np.uint8)
    for i, c in enumerate(colours):
        frame[:, 16 * i:16 * (i + 1)] = c
    with VideoWriter(path, 25.0) as w:
        for _ in range(3):
            w.write(frame)
    back = next(iter(read_frames(path))).astype(int)
    for i, c in enumerate(colours):  # the patches' cores: chroma is shared by 2 x 2 pixels
        core = back[8:56, 16 * i + 4:16 * (i + 1) - 4].reshape(-1, 3).mean(0)
        assert np.abs(core - c).max() < 4, (c, core)
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.colorspace == 5  # AVCOL_SPC_BT470BG: BT.601


def test_write_pads_short_stereo_audio_and_crops_odd_size(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    fps = 30000 / 1001
    left = chirp(0.1, 44100)
    short = np.stack([left, np.zeros_like(left)], axis=1)  # stereo, right channel silent
    with VideoWriter(path, fps, audio=short, sample_rate=44100) as w:
        for i in range(10):
            w.write(np.full((33, 47, 3), 8 * i, np.uint8))
    info = probe_video(path)
    assert (info.width, info.height, info.num_frames) == (46, 32, 10)
    assert info.fps == pytest.approx(fps)
    back = load_audio(path)
    assert len(back) / SAMPLE_RATE == pytest.approx(10 / fps, abs=0.05)
    rms = float(np.sqrt(np.mean(back[: int(0.1 * SAMPLE_RATE)] ** 2)))
    assert rms == pytest.approx(0.25 / np.sqrt(2), rel=0.2)  # channels averaged: (0.5 + 0) / 2
    assert np.abs(back[int(0.15 * SAMPLE_RATE) :]).max() < 0.02  # zero padding after 0.1 s


def test_failing_with_block_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "fail.mp4"
    with pytest.raises(RuntimeError), VideoWriter(path, 25.0, audio=chirp(1.0, 16000)) as w:
        w.write(np.zeros((16, 16, 3), np.uint8))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    w = VideoWriter(path, 25.0)  # never closed: the temporary file goes with the object
    w.write(np.zeros((16, 16, 3), np.uint8))
    assert len(list(tmp_path.iterdir())) == 1
    del w
    gc.collect()
    assert list(tmp_path.iterdir()) == []


def test_atomic_output(tmp_path: Path) -> None:
    target = tmp_path / "sheet.png"
    with atomic_output(target) as tmp:
        assert Path(tmp).parent == tmp_path and tmp.endswith(".png") and not target.exists()
        cv2.imwrite(tmp, np.zeros((4, 4, 3), np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.png"]
    with pytest.raises(KeyError), atomic_output(tmp_path / "other.png") as tmp:
        Path(tmp).write_bytes(b"partial")
        raise KeyError("x")
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.png"]


# --------------------------------------------------------------------------- errors


def bad_files(tmp_path: Path) -> dict[str, Path]:
    text = tmp_path / "notes.mp4"
    text.write_text("this is a text file, not a video\n" * 20)
    empty = tmp_path / "empty.mp4"
    empty.touch()
    return {"missing": tmp_path / "does" / "not" / "exist.mp4", "text": text, "empty": empty}


@pytest.mark.parametrize("kind", ["missing", "text", "empty"])
@pytest.mark.parametrize("reader", [probe_video, lambda p: list(read_frames(p)), load_audio])
def test_bad_inputs_raise_media_error_naming_file(
    tmp_path: Path, kind: str, reader: Callable[[Path], object]
) -> None:
    path = bad_files(tmp_path)[kind]
    with pytest.raises(MediaError, match=str(path.name)):
        reader(path)


def test_audio_only_file_to_read_frames(tmp_path: Path) -> None:
    wav = tmp_path / "voice.wav"
    sf.write(wav, chirp(0.2, 16000), 16000)
    with pytest.raises(MediaError, match="voice.wav: no video stream"):
        list(read_frames(wav))
    with pytest.raises(MediaError, match="no video stream"):
        probe_video(shared(MP3))


def test_silent_video_to_load_audio(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    index_video(path, 3, 25.0, (16, 16))
    assert not has_audio(path)
    with pytest.raises(MediaError, match="silent.mp4: no audio stream"):
        load_audio(path)
    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros(0, np.float32), 16000)
    with pytest.raises(MediaError, match="zero.wav: audio is empty"):
        load_audio(zero)


def test_missing_output_dir(tmp_path: Path) -> None:
    out = tmp_path / "no_such_dir" / "out.mp4"
    with pytest.raises(MediaError, match="no_such_dir: output directory does not exist"):
        VideoWriter(out, 25.0)
    with pytest.raises(MediaError, match="no_such_dir"), atomic_output(out):
        pass
    assert list(tmp_path.iterdir()) == []


def test_writer_without_frames_raises(tmp_path: Path) -> None:
    with (
        pytest.raises(MediaError, match="empty.mp4: no frames"),
        VideoWriter(tmp_path / "empty.mp4", 25.0),
    ):
        pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make", ["writer", "atomic_output"])
def test_a_ctrl_c_while_the_temporary_file_is_made_leaves_nothing(make, tmp_path, monkeypatch):
    """The clean-up knows the temporary file before it exists: a Ctrl-C landing just after
    it is created (here: as its descriptor is closed) leaves no file behind."""
    import types

    from vasa import files
    from vasa.files import atomic_output

    real = files.os

    def close(fd):
        real.close(fd)
        raise KeyboardInterrupt

    fake = types.SimpleNamespace(**{k: getattr(real, k) for k in dir(real)
                                    if not k.startswith("__")})
    fake.close = close
    monkeypatch.setattr(files, "os", fake)
    interrupted = False
    try:
        if make == "writer":
            VideoWriter(tmp_path / "o.mp4", 25)
        else:
            with atomic_output(tmp_path / "o.npz"):
                pass
    except KeyboardInterrupt:
        interrupted = True
    monkeypatch.undo()
    gc.collect()  # the half-made writer's finaliser
    assert interrupted and list(tmp_path.iterdir()) == []
