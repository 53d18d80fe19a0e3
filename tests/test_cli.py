"""`vasa` end to end: reenact, demo options, and clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ASSETS

from vasa.cli import main
from vasa.io import VideoWriter, load_audio, probe_video, read_frames

PORTRAIT = str(ASSETS / "astronaut.jpg")
CLIP = ASSETS / "obama_address_8s.mp4"


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory):
    """1 s of the bundled address, with its audio, and copies with the face blanked out in
    frames 10-14 and in frames 0-4."""
    d = tmp_path_factory.mktemp("clips")
    frames = [f for _, f in zip(range(25), read_frames(CLIP, fps=25, max_side=256))]
    audio = load_audio(CLIP, 16000)[:16000]
    with VideoWriter(d / "short.mp4", 25, audio, 16000) as w:
        for f in frames:
            w.write(f)
    with VideoWriter(d / "lost.mp4", 25, audio, 16000) as w:
        for i, f in enumerate(frames):
            w.write(np.zeros_like(f) if 10 <= i < 15 else f)
    with VideoWriter(d / "late.mp4", 25, audio, 16000) as w:
        for i, f in enumerate(frames):
            w.write(np.zeros_like(f) if i < 5 else f)
    return d


def test_reenact_writes_video_with_audio(short_clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["reenact", PORTRAIT, str(short_clip / "short.mp4"), "-o", str(out), "-q",
                 "--size", "256"]) == 0
    info = probe_video(out)
    assert (info.width, info.height) == (256, 256) and abs(info.num_frames - 25) <= 1
    assert info.has_audio and abs(len(load_audio(out)) / 16000 - 1.0) < 0.1
    assert "25 frames" in capsys.readouterr().out


def test_reenact_side_by_side_and_pose_only(short_clip, tmp_path):
    out = tmp_path / "sbs.mp4"
    assert main(["reenact", PORTRAIT, str(short_clip / "short.mp4"), "-o", str(out), "-q",
                 "--size", "128", "--side-by-side", "--pose-only"]) == 0
    assert probe_video(out).width == 256


@pytest.mark.parametrize("clip", ["lost.mp4", "late.mp4"])  # mid-clip; the first 5 frames
def test_face_lost_holds_motion(clip, short_clip, tmp_path, capsys):
    out = tmp_path / "lost_out.mp4"
    # a reference of 0.2 s: 5 frames with a face, beyond the lost ones of late.mp4
    assert main(["reenact", PORTRAIT, str(short_clip / clip), "-o", str(out), "-q",
                 "--size", "128", "--reference-s", "0.2"]) == 0
    assert "25 frames at 25 fps, face lost in 5 frames" in capsys.readouterr().out
    frames = list(read_frames(out))
    assert len(frames) == 25
    if clip == "late.mp4":  # held at the first frame with a face until it is found
        assert all(np.abs(f.astype(int) - frames[5]).mean() < 1.0 for f in frames[:5])


def test_reenact_options_fill_the_config():
    from vasa.cli import _reenact_config, build_parser
    from vasa.pipelines.config import ReenactConfig

    def config(*extra):
        return _reenact_config(build_parser().parse_args(["reenact", "p.jpg", "d.mp4", "-o",
                                                          "o.mp4", *extra]))

    default = ReenactConfig()
    assert (config().shift_limit, config().mouth) == (default.shift_limit, "driver")
    assert config("--shift-limit", "-1").shift_limit is None  # the driver's whole shift
    assert config("--shift-limit", "0.3", "--relative-mouth").mouth == "relative"
    assert not config().lids_as_read and config("--lids-as-read").lids_as_read
    with pytest.raises(ValueError, match="mouth must be"):
        ReenactConfig(mouth="open")


def test_a_trained_refiner_is_chosen_by_flag_and_a_missing_one_named(tmp_path, capsys):
    """`vasa train refiner` writes RUN/refiner.int8.onnx: generate and reenact take it by
    --refiner-model (and an eye refiner by --eye-refiner-model) without replacing the bundled
    one; a file that is not there is named before any work."""
    from vasa.cli import _generate_config, _reenact_config, build_parser
    from vasa.render import RenderConfig

    mine = tmp_path / "refiner.int8.onnx"
    mine.write_bytes(b"")
    args = build_parser().parse_args(["reenact", "p.jpg", "d.mp4", "-o", "o.mp4",
                                      "--refiner-model", str(mine)])
    assert _reenact_config(args).render.refiner_model == str(mine)
    assert _reenact_config(args).render.eye_refiner_model == RenderConfig().eye_refiner_model
    args = build_parser().parse_args(["generate", "p.jpg", "a.wav", "-o", "o.mp4",
                                      "--eye-refiner-model", str(mine)])
    assert _generate_config(args).render.eye_refiner_model == str(mine)
    out = tmp_path / "o.mp4"
    assert main(["reenact", PORTRAIT, str(CLIP), "-o", str(out), "-q",
                 "--refiner-model", str(tmp_path / "nothing.onnx")]) == 2
    err = capsys.readouterr().err
    assert "nothing.onnx: refiner model not found" in err and "Traceback" not in err
    assert not out.exists()


def test_a_bad_reference_span_is_refused(short_clip, tmp_path, capsys):
    for bad in ("0", "nan", "-1"):
        assert main(["reenact", PORTRAIT, str(short_clip / "short.mp4"), "-o",
                     str(tmp_path / "o.mp4"), "-q", "--reference-s", bad]) == 2
        err = capsys.readouterr().err
        assert "reference_s must be a positive number of seconds" in err, err
        assert "Traceback" not in err and not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("case", ["missing_portrait", "text_driving", "no_dir", "no_face"])
def test_bad_input_gives_clear_error_and_no_file(case, short_clip, tmp_path, capsys):
    portrait, driving, out = PORTRAIT, str(short_clip / "short.mp4"), tmp_path / "o.mp4"
    expect = ""
    if case == "missing_portrait":
        portrait, expect = str(tmp_path / "nobody.jpg"), "nobody.jpg: file not found"
    elif case == "text_driving":
        driving = str(tmp_path / "fake.mp4")
        (tmp_path / "fake.mp4").write_text("hello")
        expect = "fake.mp4"
    elif case == "no_dir":
        out, expect = tmp_path / "nope" / "o.mp4", "output directory does not exist"
    elif case == "no_face":
        driving = str(tmp_path / "black.mp4")
        with VideoWriter(driving, 25) as w:
            for _ in range(5):
                w.write(np.zeros((64, 64, 3), np.uint8))
        expect = "black.mp4: no face found"
    assert main(["reenact", portrait, driving, "-o", str(out), "-q", "--size", "128"]) == 2
    err = capsys.readouterr().err
    assert "vasa: error:" in err and expect in err and "Traceback" not in err
    assert not out.exists()
    assert not [p for p in out.parent.glob("*.mp4") if p.name.startswith(".o.mp4")] if out.parent.exists() else True


def test_invalid_options_are_refused(capsys):
    with pytest.raises(SystemExit):
        main(["reenact", PORTRAIT])  # argparse: missing arguments
    assert main(["reenact", PORTRAIT, str(CLIP), "-o", "x.mp4", "--size", "10"]) == 2
    assert "size must be in 64..2048" in capsys.readouterr().err
