"""`reenact` with its stages overlapped on threads (issue 13): the frames of doing each step in
turn, in order; an error on a stage's thread, or Ctrl-C, ends the run at once with that error,
no output file, no temporary file and no thread left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import ASSETS, ROOT

from vasa.io import MediaError, VideoWriter, load_audio, read_frames
from vasa.pipelines.config import ReenactConfig
from vasa.pipelines.reenact import AUDIO_RATE, reenact
from vasa.tracking import FaceLandmarker

PORTRAIT = ASSETS / "astronaut.jpg"
CLIP = ASSETS / "obama_address_8s.mp4"
STAGE_THREADS = {"track", "decode", "encode"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """The first 1.2 s of the bundled address, with its audio."""
    path = tmp_path_factory.mktemp("clip") / "short.mp4"
    with VideoWriter(path, 25, load_audio(CLIP, 16000)[:19200], 16000) as w:
        for _, f in zip(range(30), read_frames(CLIP, fps=25, max_side=256)):
            w.write(f)
    return path


def _one_step_at_a_time(driving, out, cfg):
    """What `reenact` did before its stages overlapped: track every frame, then render and
    encode each frame in turn, all on this thread; eyelids and gaze relative to the driver's
    first cfg.reference_s seconds, the head's shift limited and the mouth the driver's; with
    cfg.lids_as_read the eyelids asked as the portrait's render reads them."""
    from vasa.latent.basis import default_basis
    from vasa.latent.face_model import encode_landmarks
    from vasa.latent.motion import MotionLatents
    from vasa.latent.retarget import DriverReference, driver_lip_change, retarget
    from vasa.motion.lids import asked_openness
    from vasa.pipelines.calibrate import calibrated_output
    from vasa.portrait import load_portrait
    from vasa.render import Renderer
    from vasa.render.paste import output_renderer
    from vasa.tracking import VIDEO_MAX_FACES

    basis = default_basis()
    poses, dyns = [], []
    with FaceLandmarker(max_faces=VIDEO_MAX_FACES, video=True) as tracker:
        for i, frame in enumerate(read_frames(driving, fps=25, max_side=720)):
            face = tracker.track(frame, i / 25)[0]  # this clip never loses the face
            pose, dyn, _ = encode_landmarks(face.landmarks, basis, max(frame.shape[:2]))
            poses.append(pose)
            dyns.append(dyn)
    portrait = load_portrait(PORTRAIT, cfg.size, None, basis, framed=True)
    renderer = Renderer(portrait, basis, cfg.render)
    if cfg.lids_as_read:
        output, _, lids = calibrated_output(portrait, renderer, basis, mouth=False)
    else:
        output = output_renderer(renderer)
    tracked = MotionLatents(np.stack(poses), np.stack(dyns))
    reference = DriverReference.of(tracked[:round(cfg.reference_s * 25)], basis.num_pca)
    motion = retarget(portrait.pose, portrait.dynamics, tracked, basis.num_pca,
                      reference=reference, shift_limit=cfg.shift_limit,
                      lip_change=driver_lip_change(portrait.canonical, reference, basis),
                      basis=basis)
    if cfg.lids_as_read:
        eyes = basis.layout.eyes
        motion.dynamics[:, eyes] = asked_openness(motion.dynamics[:, eyes],
                                                  portrait.dynamics[eyes], lids)
    with VideoWriter(out, 25, load_audio(driving, AUDIO_RATE), AUDIO_RATE, cfg.crf) as w:
        for i in range(len(motion)):
            w.write(output.render(motion.pose[i], motion.dynamics[i]))


def _assert_clean(out):
    assert list(out.parent.iterdir()) == [], "an output or temporary file was left behind"
    deadline = time.monotonic() + 5
    while ({t.name for t in threading.enumerate()} & STAGE_THREADS
           and time.monotonic() < deadline):
        time.sleep(0.01)
    assert not {t.name for t in threading.enumerate()} & STAGE_THREADS, "a stage thread runs on"


@pytest.mark.parametrize("reference_s, lids_as_read",  # the whole clip; its first 10 frames
                         [(2.0, True), (0.4, True), (2.0, False)])
def test_overlapped_stages_give_the_frames_of_one_step_at_a_time(reference_s, lids_as_read, clip,
                                                                 tmp_path):
    cfg = ReenactConfig(size=256, reference_s=reference_s, lids_as_read=lids_as_read)
    result = reenact(PORTRAIT, clip, tmp_path / "overlapped.mp4", cfg, progress=False)
    _one_step_at_a_time(clip, tmp_path / "in_turn.mp4", cfg)
    a = list(read_frames(tmp_path / "overlapped.mp4"))
    b = list(read_frames(tmp_path / "in_turn.mp4"))
    assert result.frames == len(a) == len(b) == 30
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # same frames, same order
    assert set(result.phases) == {"setup", "rendering"}
    assert {"portrait", "decode", "track", "render", "encode"} <= set(result.seconds)


@pytest.mark.parametrize("stage", ["track", "encode"])
def test_an_error_on_a_stage_thread_ends_the_run_with_that_error(stage, clip, tmp_path,
                                                                monkeypatch):
    calls = []

    def fail_on_the_fourth(original, error):
        def wrapped(self, *args):
            calls.append(threading.current_thread().name)
            if len(calls) == 4:
                raise error
            return original(self, *args)
        return wrapped

    if stage == "track":
        monkeypatch.setattr(FaceLandmarker, "track", fail_on_the_fourth(
            FaceLandmarker.track, RuntimeError("tracker crashed")))
        expected = RuntimeError, "tracker crashed"
    else:
        monkeypatch.setattr(VideoWriter, "write", fail_on_the_fourth(
            VideoWriter.write, MediaError("disk full")))
        expected = MediaError, "disk full"
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    t0 = time.monotonic()
    with pytest.raises(expected[0], match=expected[1]):
        reenact(PORTRAIT, clip, out_dir / "o.mp4", ReenactConfig(size=128), progress=False)
    assert time.monotonic() - t0 < 60  # not a hang
    assert set(calls) == {stage}  # the error was raised on the stage's own thread
    _assert_clean(out_dir / "o.mp4")


def test_ctrl_c_while_tracking_stops_every_thread(clip, tmp_path, monkeypatch):
    original, frames = FaceLandmarker.track, []

    def track(self, *args):
        frames.append(1)
        if len(frames) == 3:  # a real SIGINT, as a terminal sends it, while this thread tracks
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, *args)

    monkeypatch.setattr(FaceLandmarker, "track", track)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # background jobs
    try:
        with pytest.raises(KeyboardInterrupt):
            reenact(PORTRAIT, clip, out_dir / "o.mp4", ReenactConfig(size=128), progress=False)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(frames) < 30  # tracking stopped early
    _assert_clean(out_dir / "o.mp4")


def test_ctrl_c_while_rendering_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
             "from vasa.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", start, "reenact", str(PORTRAIT), str(CLIP),
                             "-o", str(out / "o.mp4"), "-q", "--size", "128"],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not any(out.iterdir()) and time.monotonic() < deadline:  # rendering has begun
            time.sleep(0.02)
        assert proc.poll() is None, "finished before the signal"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "vasa: interrupted", err
    assert "Traceback" not in err
    assert list(out.iterdir()) == []
