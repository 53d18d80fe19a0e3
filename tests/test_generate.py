"""`vasa generate` end to end with a tiny random model (the pipeline, not the model's quality):
outputs, audio muxing, odd audio inputs and the errors a user sees."""

from __future__ import annotations

import numpy as np
import soundfile as sf
from conftest import ASSETS

from vasa.cli import main
from vasa.io import load_audio, probe_video
from vasa.motion.config import MotionConfig


def _run(*args) -> int:
    return main(["generate", *map(str, args), "-q"])


def test_generate_writes_video_with_audio(tmp_path, tiny_model_file):
    speech = load_audio(ASSETS / "obama_address_8s.mp4")[: 16000 * 2]
    wav = tmp_path / "s.wav"
    sf.write(wav, np.stack([speech, speech], 1), 16000)  # stereo
    out = tmp_path / "o.mp4"
    assert _run(ASSETS / "astronaut.jpg", wav, "-o", out, "--model", tiny_model_file,
                "--size", 256, "--steps", 2, "--gaze", "left", "--emotion", "happy") == 0
    info = probe_video(out)
    assert info.num_frames == 50 and info.has_audio and (info.width, info.height) == (256, 256)
    back = load_audio(out)
    assert abs(len(back) - len(speech)) < 0.05 * 16000  # muxed, same length


def test_telephone_audio_and_silence(tmp_path, tiny_model_file):
    tel = tmp_path / "tel.wav"
    t = np.arange(8000) / 8000
    sf.write(tel, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 8000)  # 1 s, 8 kHz
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    music = tmp_path / "music.wav"  # a chord with a beat, 44.1 kHz stereo: not speech
    t = np.arange(44100) / 44100
    chord = sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)) / 3
    beat = (np.sin(2 * np.pi * 2 * t) > 0).astype(np.float32)
    sf.write(music, np.stack([chord * beat, chord], 1).astype(np.float32) * 0.5, 44100)
    for i, wav in enumerate((tel, silent, music)):
        out = tmp_path / f"o{i}.mp4"
        assert _run(ASSETS / "astronaut.jpg", wav, "-o", out, "--model", tiny_model_file,
                    "--size", 128, "--steps", 1, "--still-head") == 0
        assert probe_video(out).num_frames == 25


def test_bad_inputs_are_clear_errors(tmp_path, tiny_model_file, capsys):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    out = tmp_path / "o.mp4"
    cases = [((ASSETS / "astronaut.jpg", empty), "audio is empty"),
             ((ASSETS / "astronaut.jpg", text), "notes.wav"),
             ((ASSETS / "astronaut.jpg", tmp_path / "missing.wav"), "missing.wav")]
    for (portrait, audio), msg in cases:
        assert _run(portrait, audio, "-o", out, "--model", tiny_model_file) == 2
        assert msg in capsys.readouterr().err
        assert not out.exists() and not list(tmp_path.glob(".o.mp4*"))
    wav = tmp_path / "s.wav"
    sf.write(wav, np.zeros(1600, np.float32), 16000)
    assert _run(ASSETS / "astronaut.jpg", wav, "-o", out, "--model", tiny_model_file,
                "--cfg-audio", "50") == 2
    assert "--cfg-audio must be in 0..10" in capsys.readouterr().err
    assert _run(ASSETS / "astronaut.jpg", wav, "-o", out, "--model", tmp_path / "none.pt") == 2
    assert "motion model not found" in capsys.readouterr().err


def test_model_of_another_extractor_is_refused(tmp_path, basis, capsys):
    from vasa.motion.checkpoint import Normalizer, save_model
    from vasa.motion.dit import MotionDiT

    cfg = MotionConfig(window=8, prev=2, width=32, layers=2, heads=2, audio_dim=40)
    norm = Normalizer(np.zeros(34, np.float32), np.ones(34, np.float32),
                      np.zeros(40, np.float32), np.ones(40, np.float32))
    path = tmp_path / "mfcc.pt"
    save_model(path, MotionDiT(cfg), norm, "mfcc20+delta@1", basis.version, {})
    wav = tmp_path / "s.wav"
    sf.write(wav, np.zeros(1600, np.float32), 16000)
    assert _run(ASSETS / "astronaut.jpg", wav, "-o", tmp_path / "o.mp4", "--model", path) == 2
    assert "mfcc20+delta@1" in capsys.readouterr().err


def test_demo_generates_and_reenacts(tmp_path, tiny_model_file):
    out = tmp_path / "demo.mp4"
    assert main(["demo", "-o", str(out), "--model", str(tiny_model_file), "--size", "128",
                 "--steps", "1", "-q"]) == 0
    info = probe_video(out)
    assert info.has_audio and abs(info.num_frames - 8 * 25) <= 2  # the bundled 8 s speech
    out2 = tmp_path / "demo_reenact.mp4"
    assert main(["demo", "--reenact", "-o", str(out2), "--size", "128", "-q"]) == 0
    assert probe_video(out2).width == 256  # side by side: driving clip | portrait


def test_control_errors_name_the_flag_and_refuse_nan(tmp_path, tiny_model_file, capsys):
    """The library's checks name Controls fields; the CLI spells them as its flags. NaN and
    infinities are refused before any work (they once ran 20 s, then crashed)."""
    out = tmp_path / "o.mp4"
    cases = [(("--cfg-audio", "-1"), "--cfg-audio must be in 0..10"),
             (("--distance", "9"), "--distance must be in 0.5..3.0"),
             (("--motion-scale", "nan"), "--motion-scale must be in 0..3"),
             (("--mouth-scale", "3"), "--mouth-scale must be in 0..2"),
             (("--gaze", "80,0"), "--gaze angles must be within"),
             (("--gaze", "nan,0"), "--gaze angles must be finite"),
             (("--emotion", "joyful"), "--emotion must be one of")]
    for flags, msg in cases:
        assert _run(ASSETS / "astronaut.jpg", ASSETS / "obama_address_8s.mp4", "-o", out,
                    "--model", tiny_model_file, *flags) == 2
        assert msg in capsys.readouterr().err, flags
    assert not out.exists()


def test_generate_resolves_gaze_without_touching_the_callers_config(tmp_path, tiny_model_file):
    from dataclasses import replace

    from vasa.motion.controls import Controls, parse_gaze
    from vasa.pipelines.generate import GenerateConfig, generate

    speech = load_audio(ASSETS / "obama_address_8s.mp4")[:16000]
    wav = tmp_path / "s.wav"
    sf.write(wav, speech, 16000)
    controls = Controls(gaze=parse_gaze("left"), steps=1)
    cfg = GenerateConfig(size=128, model=str(tiny_model_file), controls=controls)
    before = replace(controls)
    generate(ASSETS / "astronaut.jpg", wav, tmp_path / "o.mp4", cfg, progress=False)
    assert cfg.controls == before and cfg.controls.gaze.relative
