"""Motion generator core: features, network shapes, sampler, guidance, training, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import ASSETS, TINY_MOTION

from vasa.motion.config import MotionConfig
from vasa.motion.diffusion import alpha_bar, q_sample, sample_ddim, training_loss
from vasa.motion.dit import Conditions, MotionDiT
from vasa.motion.features import to_features, to_latents
from vasa.motion.guidance import guided_denoiser

TINY = MotionConfig(**TINY_MOTION)


def _cond(b: int, cfg: MotionConfig = TINY) -> Conditions:
    z = torch.zeros
    return Conditions(torch.randn(b, cfg.window, cfg.audio_dim), z(b, cfg.prev, cfg.motion_dim),
                      z(b, cfg.prev, cfg.audio_dim), z(b, 2), z(b, 1), z(b, cfg.emotion_dim),
                      z(b, cfg.window, dtype=torch.bool), *(z(b, dtype=torch.bool) for _ in range(4)))


def test_features_round_trip_to_portrait(astronaut):
    rng = np.random.default_rng(0)
    t = 20
    pose = np.repeat(astronaut.pose[None], t, 0) + rng.normal(0, 0.02, (t, 6)).astype(np.float32)
    dyn = np.repeat(astronaut.dynamics[None], t, 0) + rng.normal(0, 0.3, (t, 28)).astype(np.float32)
    f = to_features(pose, dyn)
    assert f.shape == (t, 34) and np.all(np.isfinite(f))
    lat = to_latents(f, np.median(pose, 0), np.median(dyn, 0))
    assert np.allclose(lat.pose[:, :3], pose[:, :3], atol=1e-4)
    assert np.allclose(lat.dynamics[:, :24], dyn[:, :24], atol=1e-4)
    still = to_latents(f, astronaut.pose, astronaut.dynamics, still_head=True)
    assert np.allclose(still.pose, astronaut.pose)


def test_network_shapes_and_empty_conditions():
    net = MotionDiT(TINY).eval()
    c = _cond(3)
    x = torch.randn(3, TINY.window, TINY.motion_dim)
    out = net(x, torch.rand(3), c)
    assert out.shape == x.shape
    dropped = c.with_drops(audio=True, gaze=True, emotion=True)
    assert dropped.drop_audio.all() and dropped.drop_gaze.all() and not c.drop_audio.any()


def test_schedule_and_noising():
    t = torch.tensor([0.0, 0.5, 1.0])
    a = alpha_bar(t)
    assert a[0] > 0.99 and a[1] < a[0] and a[2] < 1e-3
    x0 = torch.ones(3, 4)
    xt = q_sample(x0, t, torch.zeros(3, 4))
    assert torch.allclose(xt[0], x0[0], atol=1e-2)


def test_ddim_converges_on_a_known_denoiser():
    target = torch.full((2, 8, 3), 0.7)
    out = sample_ddim(lambda x, t: target.expand_as(x), torch.randn(2, 8, 3), steps=10)
    assert torch.allclose(out, target, atol=1e-5)


def test_guidance_is_eq2():
    """X0 = (1 + sum l) H(C) - sum l H(C | c = empty), with a network whose answer is known."""

    class Fake(torch.nn.Module):
        def forward(self, x, t, c):  # conditional: 1, audio dropped: 0.25, gaze dropped: 0.5
            val = 1.0 - 0.75 * c.drop_audio[:, :1].float() - 0.5 * c.drop_gaze[:, None].float()
            return x * 0 + val[:, :, None]

    c = _cond(2)
    den = guided_denoiser(Fake(), c, cfg_audio=0.5, cfg_gaze=1.0)
    out = den(torch.zeros(2, TINY.window, TINY.motion_dim), torch.rand(2))
    assert torch.allclose(out, torch.full_like(out, (1 + 1.5) * 1.0 - 0.5 * 0.25 - 1.0 * 0.5))


def test_training_reduces_loss_and_checkpoint_refuses_mismatch(tmp_path):
    from vasa.motion.checkpoint import Normalizer, load_model, save_model

    torch.manual_seed(0)
    net = MotionDiT(TINY)
    opt = torch.optim.AdamW(net.parameters(), 3e-3)
    x0 = torch.sin(torch.linspace(0, 6, TINY.window))[None, :, None].repeat(16, 1, TINY.motion_dim)
    c = _cond(16)
    gen = torch.Generator().manual_seed(0)
    first = training_loss(net, x0, c, generator=gen).item()
    for _ in range(60):
        loss = training_loss(net, x0, c, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert training_loss(net, x0, c, generator=gen).item() < 0.5 * first
    norm = Normalizer(*(np.zeros(n, np.float32) + 1 for n in (34, 34, 85, 85)))
    path = tmp_path / "m.pt"
    save_model(path, net, norm, "logmel80+prosody@1", "1-abc", {})
    model = load_model(path, "logmel80+prosody@1", "1-abc")
    assert model.net.cfg == TINY
    with pytest.raises(ValueError, match="trained with audio features"):
        load_model(path, "mfcc20+delta@1", "1-abc")
    with pytest.raises(ValueError, match="face basis"):
        load_model(path, "logmel80+prosody@1", "1-other")


def _engine(model, portrait, hop=None, lookahead=None, **kw):
    from vasa.audio import get_extractor
    from vasa.motion.controls import Controls
    from vasa.motion.engine import MotionEngine

    return MotionEngine(model, get_extractor(), portrait.pose, portrait.dynamics,
                        Controls(**{"steps": 3, **kw}), hop=hop, lookahead=lookahead)


@pytest.mark.parametrize("hop,lookahead", [(None, None), (3, 2)])
def test_streaming_equals_offline_and_counts_frames(tiny_model, astronaut, hop, lookahead):
    from vasa.io import load_audio

    audio = load_audio(ASSETS / "obama_address_8s.mp4")[: 16000 * 3 + 1234]  # not a whole frame
    offline = _engine(tiny_model, astronaut, hop, lookahead)
    a = offline.push(audio) + offline.flush()
    chunked = _engine(tiny_model, astronaut, hop, lookahead)
    b, rng = [], np.random.default_rng(0)
    i = 0
    while i < len(audio):
        n = int(rng.integers(100, 9000))
        b += chunked.push(audio[i:i + n])
        i += n
    b += chunked.flush()
    assert len(a) == len(b) == -(-len(audio) // 640)
    assert [f.index for f in a] == list(range(len(a)))
    assert np.isclose(a[-1].time, (len(a) - 1) / 25)
    for fa, fb in zip(a, b):
        assert np.array_equal(fa.pose, fb.pose) and np.array_equal(fa.dynamics, fb.dynamics)


def test_small_hop_streams_with_low_latency_and_bounded_memory(tiny_model, astronaut):
    engine = _engine(tiny_model, astronaut, hop=2, lookahead=1, steps=1)
    assert 0.12 < engine.latency_s < 0.13  # hop + lookahead + the features' analysis context
    first = engine.push(np.zeros(640 * 3 + 200, np.float32))  # 3 frames + analysis context
    assert [f.index for f in first] == [0, 1]
    frames, chunk = list(first), np.zeros(320, np.float32)  # 20 ms chunks, like a microphone
    for _ in range(400):
        frames += engine.push(chunk)
        assert len(engine._audio) < 640 * 8  # consumed audio is dropped
    assert [f.index for f in frames] == list(range(len(frames)))
    assert len(frames) >= (640 * 3 + 200 + 400 * 320) // 640 - 4


def test_engine_rejects_bad_hop(tiny_model, astronaut):
    with pytest.raises(ValueError, match="hop must be in 1..8"):
        _engine(tiny_model, astronaut, hop=30)


def test_seeds_differ_and_silence_works(tiny_model, astronaut):
    audio = np.zeros(16000, np.float32)
    e0, e1 = _engine(tiny_model, astronaut, seed=0), _engine(tiny_model, astronaut, seed=1)
    f0, f1 = e0.push(audio) + e0.flush(), e1.push(audio) + e1.flush()
    assert len(f0) == 25 and not np.allclose(f0[5].dynamics, f1[5].dynamics)
    still = _engine(tiny_model, astronaut, still_head=True)
    frames = still.push(audio) + still.flush()
    assert all(np.allclose(f.pose, astronaut.pose) for f in frames)


def test_engine_refuses_another_extractor(tiny_model, astronaut):
    from vasa.audio import get_extractor
    from vasa.motion.engine import MotionEngine

    with pytest.raises(ValueError, match="trained with audio features"):
        MotionEngine(tiny_model, get_extractor("mfcc"), astronaut.pose, astronaut.dynamics)


def test_control_values_are_checked():
    """The library names the Controls field; the CLI spells it as a flag (test_cli)."""
    from vasa.motion.controls import Controls, check_controls, parse_emotion, parse_gaze

    with pytest.raises(ValueError, match="cfg_audio must be in 0..10"):
        check_controls(Controls(cfg_audio=-1))
    with pytest.raises(ValueError, match="distance must be in 0.5..3.0"):
        check_controls(Controls(distance=9))
    with pytest.raises(ValueError, match="gaze angles must be within"):
        parse_gaze("80,0")
    with pytest.raises(ValueError, match="emotion must be one of"):
        parse_emotion("joyful")
    assert parse_emotion("happiness")[0] > 0 and parse_gaze("left").resolve((0.0, 0.0))[0] < 0


def test_non_finite_controls_are_refused():
    """NaN passes `abs(x) > limit` and `x < lo or x > hi`: every entry refuses it by name."""
    from vasa.motion.controls import Controls, check_controls, parse_emotion, parse_gaze

    for text in ("nan,0", "0,inf", "-inf,-inf"):
        with pytest.raises(ValueError, match="gaze angles must be finite"):
            parse_gaze(text)
    with pytest.raises(ValueError, match="emotion must be one of"):
        parse_emotion("nan,0,0,0,0,0,0")
    for name in ("cfg_audio", "cfg_gaze", "cfg_emotion", "motion_scale", "mouth_scale",
                 "distance"):
        with pytest.raises(ValueError, match=f"{name} must be in"):
            check_controls(Controls(**{name: float("nan")}))
    with pytest.raises(ValueError, match="emotion must be 7 values"):
        check_controls(Controls(emotion=np.full(7, np.nan, np.float32)))


def test_learning_rate_schedule_depends_on_the_step_only():
    from vasa.motion.train import TrainMotionConfig, learning_rate

    cfg = TrainMotionConfig(steps=1000, lr=1e-3, warmup=100, decay_from=0.7)
    assert learning_rate(cfg, 0) == pytest.approx(1e-5)
    assert learning_rate(cfg, 500) == pytest.approx(1e-3)
    assert learning_rate(cfg, 850) == pytest.approx(1e-3 * (1 - 0.9 * 0.5))
    assert learning_rate(cfg, 1000) == pytest.approx(1e-4)


def test_a_model_file_cannot_run_code_when_loaded(tmp_path, tiny_model_file):
    """Model files are unpickled with weights_only: a crafted file's code never runs, and a
    garbage file is an error naming it."""
    import pickle

    from vasa.motion.checkpoint import load_model

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    crafted = tmp_path / "crafted.pt"
    torch.save({"format": 1, "x": Payload()}, crafted, pickle_module=pickle)
    with pytest.raises(ValueError, match="crafted.pt: not a readable motion model file"):
        load_model(crafted)
    assert not marker.exists()
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="garbage.pt: not a readable motion model file"):
        load_model(garbage)
    assert load_model(tiny_model_file).net.cfg.window == 8  # a real one still loads


def test_gaze_steering_reaches_the_requested_main_gaze(astronaut, basis):
    """Whatever the generated gaze, the steered motion's median gaze is the request (gains 1),
    each frame keeps its own movement around it, and the head turns part of the way."""
    from vasa.data.conditions import gaze_angles
    from vasa.latent.motion import YAW, MotionLatents
    from vasa.motion.gaze import GazeSteer

    rng = np.random.default_rng(0)
    t = 60
    pose = np.repeat(astronaut.pose[None], t, 0)
    dyn = np.repeat(astronaut.dynamics[None], t, 0)
    dyn[:, basis.layout.gaze] += rng.normal(0, 0.02, (t, 2))  # glances
    steer = GazeSteer(basis.layout)
    for target in [(-0.26, 0.0), (0.26, 0.0), (0.0, -0.15), (0.1, 0.1)]:
        steer.reset()
        out = steer(MotionLatents(pose, dyn), target)
        got = gaze_angles(out.dynamics, out.pose)
        assert np.allclose(np.median(got, 0), target, atol=0.01), target
        before = gaze_angles(dyn, pose)
        assert np.corrcoef(got[:, 0], before[:, 0])[0, 1] > 0.9  # the glances are kept
        if abs(target[0]) > 0.2:
            assert np.sign(pose[0, YAW] - out.pose[0, YAW]) == np.sign(target[0])


def test_gaze_steering_counts_an_eye_turn_only_as_far_as_it_shows(astronaut, basis):
    """Eyes turned down in the latents that the portrait's iris cannot show (vertical eye gain
    0.25) do not count as a downward gaze reached: the head is tipped further than with eyes
    that show their turn whole; at the portrait's own gaze the estimate is the latent one."""
    from vasa.data.conditions import gaze_angles
    from vasa.latent.motion import PITCH, MotionLatents
    from vasa.motion.gaze import GazeResponse, GazeSteer

    t = 40
    pose = np.repeat(astronaut.pose[None], t, 0)
    dyn = np.repeat(astronaut.dynamics[None], t, 0)
    rest = (astronaut.pose, astronaut.dynamics)
    still = GazeSteer(basis.layout, GazeResponse(eyes=(1.0, 0.25)), rest)
    assert np.allclose(still.seen(dyn, pose), gaze_angles(dyn, pose), atol=1e-6)
    dyn[:, basis.layout.gaze.start + 1] += 0.05  # the eyes look down in the latents
    target = tuple(np.median(gaze_angles(dyn, pose), 0) + [0.0, 0.05])
    pitch = {}
    for gain in (1.0, 0.25):
        steer = GazeSteer(basis.layout, GazeResponse(eyes=(1.0, gain)), rest)
        pitch[gain] = np.median(steer(MotionLatents(pose, dyn), target).pose[:, PITCH])
    assert pitch[0.25] > pitch[1.0] + np.radians(2)


def test_gaze_aim_steers_to_what_re_tracks_as_the_request(astronaut, astronaut_renderer, basis,
                                                         tracker):
    """The tracker reads a rendered gaze with a bias and the lids cut a large turn short; the
    calibrated aim, rendered and tracked back, lands nearer the request than the request
    itself, and the steer uses it for that request only."""
    from vasa.data.conditions import gaze_angles
    from vasa.latent.face_model import encode_landmarks
    from vasa.motion.gaze import HEAD_SHARE, GazeResponse
    from vasa.pipelines.calibrate import aim_gaze, gaze_response, rest_frames

    target = (0.0, -0.2)  # up: read back short on this portrait
    gains = gaze_response(astronaut, astronaut_renderer, basis)
    sample = rest_frames(astronaut, basis, target, HEAD_SHARE)

    def miss(response: GazeResponse) -> float:
        m = sample(response)
        face = tracker.detect(astronaut_renderer.render(m.pose[0], m.dynamics[0]))[0]
        p, d, _ = encode_landmarks(face.landmarks, basis, astronaut.size)
        return float(np.linalg.norm(gaze_angles(d[None], p[None])[0] - target))

    aimed = aim_gaze(astronaut_renderer, basis, astronaut.size, gains, target, sample)
    assert aimed.aimed(target) and not aimed.aimed((0.0, 0.0))
    assert aimed.aim((0.0, 0.0)) == (0.0, 0.0)
    # Nearer, by how much depends on the tracker's reading of this portrait at the aims tried,
    # which moves with any change to the rendered face (1.9 degrees before the outline inset of
    # issue 13, 0.2 with 3%, 1.0 with 1%); the end-to-end gaze error (scripts/gaze_error.py)
    # stayed at 2.4-2.5 degrees.
    assert miss(aimed) < miss(gains) - np.radians(0.1)
    assert aimed.with_aim(target, (0.0, -0.3)).aims == ((target, (0.0, -0.3)),)  # replaced


def test_generate_turns_the_gaze_as_asked(tmp_path, basis):
    """Re-tracked from the video: --gaze left looks left of --gaze right (it once came out
    alike, with the wrong sign)."""
    import soundfile as sf
    from conftest import ASSETS

    from vasa.cli import main
    from vasa.data.conditions import gaze_angles
    from vasa.io import load_audio
    from vasa.tracking.video import track_video

    wav = tmp_path / "s.wav"
    sf.write(wav, load_audio(ASSETS / "obama_address_8s.mp4")[:16000 * 2], 16000)
    seen = {}
    for g in ("left", "right"):
        out = tmp_path / f"{g}.mp4"
        assert main(["generate", str(ASSETS / "astronaut.jpg"), str(wav), "-o", str(out), "-q",
                     "--size", "256", "--steps", "2", "--gaze", g]) == 0
        tr = track_video(out, fps=25, basis=basis)
        seen[g] = np.degrees(np.median(gaze_angles(tr.motion.dynamics, tr.motion.pose), 0))
    # asked 30 degrees apart (the bundled model: the tiny random one jerks the head)
    assert 20 < seen["right"][0] - seen["left"][0] < 40


def test_the_mouth_closes_in_silence_and_speaks_in_speech(astronaut, basis):
    """A held-out French voice once left the face half open (0.11 eye distances) in pauses as in
    speech; the silence gate closes it where the audio is silent, relative to the stream's own
    speech level, and leaves speech alone."""
    from vasa.motion.silence import SilenceGate, frame_loudness

    rng = np.random.default_rng(0)
    speech = 0.05 * rng.standard_normal(640 * 50)
    quiet = 1e-4 * rng.standard_normal(640 * 50)
    loud = frame_loudness(np.concatenate([speech, quiet, 0.2 * speech]), 150)
    gate = SilenceGate()(loud)
    assert gate[:48].min() > 0.99 and gate[52:98].max() < 0.01 and gate[102:].min() > 0.99
    # A whisper at -55 dBFS, then silence at -100 dBFS
    whisper = SilenceGate()(frame_loudness(np.concatenate([0.035 * speech, 1e-4 * speech]), 100))
    assert whisper[:48].min() > 0.99 and whisper[52:].max() < 0.01  # relative to its own level


def test_a_pause_keeps_the_last_spoken_opening_and_a_silence_shuts_it():
    """Real speakers keep their lips apart through short pauses (training speech: as open as in
    speech for pauses up to 1 s); a long silence shows a closed mouth."""
    from vasa.motion.silence import HOLD_FRAMES, RELAX_FRAMES, PauseHold

    hold = PauseHold()
    gate = np.r_[np.ones(10), np.zeros(HOLD_FRAMES + RELAX_FRAMES + 10), np.ones(5)]
    opening = np.full(len(gate), 0.08)
    opening[9] = 0.05  # the last spoken frame
    shown = hold(opening, gate)
    assert np.allclose(shown[:10], opening[:10])  # speech: the generated opening
    assert np.allclose(shown[10:10 + HOLD_FRAMES], 0.05)  # the pause: the last word's opening
    assert np.all(np.diff(shown[10 + HOLD_FRAMES:10 + HOLD_FRAMES + RELAX_FRAMES]) <= 0)
    assert np.allclose(shown[10 + HOLD_FRAMES + RELAX_FRAMES:-5], 0.0)  # a silence: shut
    assert np.allclose(shown[-5:], 0.08)  # speech again
    # The generator closing in a pause is kept; a stream starts shut.
    assert PauseHold()(np.full(5, 0.08), np.zeros(5)).max() == 0.0
    low = PauseHold()(np.r_[0.08, np.full(5, 0.01)], np.r_[1.0, np.zeros(5)])
    assert np.allclose(low[1:], 0.01)


def test_the_generated_mouth_never_snaps_from_wide_open_to_shut_in_one_frame(
        tiny_model, astronaut, basis):
    """The generator's 3-frame plateau at 0.30 shut to 0.05 in one frame (AOC photo, held-out
    speech). The gap moves at most MAX_STEP a frame, across window boundaries too; motion
    within it is untouched."""
    from vasa.audio import get_extractor
    from vasa.latent.face_model import lip_direction
    from vasa.motion.engine import MotionEngine
    from vasa.motion.mouth import MAX_STEP, OpeningSlew

    slew = OpeningSlew()
    gap = np.r_[0.05, 0.15, 0.30, 0.30, 0.30, 0.05, 0.06, 0.02]
    out = slew(gap)
    assert np.allclose(out, [0.05, 0.15, 0.30, 0.30, 0.30, 0.15, 0.06, 0.02])
    assert np.allclose(slew(np.r_[0.50]), 0.02 + MAX_STEP)  # the state carries over
    slew.reset()
    assert np.allclose(slew(np.r_[0.50]), 0.50)  # a new stream starts free
    # In the engine, across its windows (hop 5): a step small enough to bind this model.
    d, pca = lip_direction(basis), basis.layout.pca
    speech = np.sin(np.linspace(0, 900, 16000 * 3)).astype(np.float32) * 0.3

    def steps(lip_step: float) -> np.ndarray:
        engine = MotionEngine(tiny_model, get_extractor(), astronaut.pose,
                              astronaut.talking_rest(basis), hop=5, close_in_silence=False,
                              close_lips=False, lip_step=lip_step)
        frames = engine.push(speech) + engine.flush()
        return np.abs(np.diff([(f.dynamics[pca] - engine.dynamics[pca]) @ d for f in frames]))

    assert steps(MAX_STEP).max() > 0.0005  # the model moves the mouth
    assert steps(0.0005).max() <= 0.0005 + 1e-6


@pytest.mark.parametrize("hop", [None, 2])
def test_the_video_starts_on_the_portraits_pose(tiny_model, astronaut, hop):
    """The first frame's head pose is the portrait's own; the generated offset it had is
    eased out over START_FADE frames, and from there on the frames are those generated."""
    from vasa.audio import get_extractor
    from vasa.io import load_audio
    from vasa.motion.controls import Controls
    from vasa.motion.engine import START_FADE, MotionEngine

    audio = load_audio(ASSETS / "obama_address_8s.mp4")[:16000 * 2]
    runs = {}
    for fade in (0, START_FADE):
        e = MotionEngine(tiny_model, get_extractor(), astronaut.pose, astronaut.dynamics,
                         Controls(steps=2), hop=hop, start_fade=fade)
        runs[fade] = np.stack([f.pose for f in e.push(audio) + e.flush()])
    free, eased = runs[0], runs[START_FADE]
    assert np.abs(free[0] - astronaut.pose).max() > 1e-3  # the random model starts elsewhere
    assert eased[0] == pytest.approx(astronaut.pose, abs=1e-5)
    assert np.array_equal(eased[START_FADE:], free[START_FADE:])
    gap = np.abs(eased - free)[:START_FADE].max(1)
    assert np.all(np.diff(gap) <= 1e-5)  # the offset only fades


def test_engine_closes_the_mouth_in_silence(tiny_model, astronaut, basis):
    from vasa.audio import get_extractor
    from vasa.latent.face_model import decode_canonical, lip_gap
    from vasa.motion.controls import Controls
    from vasa.motion.engine import MotionEngine

    rng = np.random.default_rng(1)
    audio = np.concatenate([0.1 * rng.standard_normal(16000), np.zeros(48000)]).astype(np.float32)
    gaps = {}
    for close in (False, True):
        e = MotionEngine(tiny_model, get_extractor(), astronaut.pose,
                         astronaut.talking_rest(basis), Controls(steps=2),
                         close_in_silence=close)
        gaps[close] = np.array([lip_gap(decode_canonical(astronaut.canonical, astronaut.dynamics,
                                                         f.dynamics, basis))
                                for f in e.push(audio) + e.flush()])
    # A pause keeps the last spoken opening (or less) for a second, then the mouth shuts.
    assert gaps[True][70:].max() < 0.005  # the rest of a 3 s silence: closed
    assert gaps[False][70:].mean() > 0.02  # the random model alone leaves it open


def test_lip_motion_scales_the_opening(astronaut, basis):
    """`mouth_scale` scales the generated inner-lip gap: the bundled model's mouth on real
    speech opens 1.5x as wide at 1.5 (here without the per-frame speed limit, which the
    scaled motion still obeys) and stays shut at 0; the head is untouched."""
    from vasa.audio import get_extractor
    from vasa.io import load_audio
    from vasa.latent.face_model import lip_direction, lip_gap
    from vasa.motion.checkpoint import load_model
    from vasa.motion.controls import Controls
    from vasa.motion.engine import MotionEngine

    extractor = get_extractor()
    model = load_model(extractor=extractor.spec.id, basis_version=basis.version)
    audio = load_audio(ASSETS / "obama_address_8s.mp4", 16000)[:4 * 16000]
    rest = astronaut.talking_rest(basis)
    d, pca, rest_gap = lip_direction(basis), basis.layout.pca, lip_gap(basis.template)
    gaps, poses = {}, {}
    for scale in (0.0, 1.0, 1.5):
        e = MotionEngine(model, extractor, astronaut.pose, rest,
                         Controls(steps=4, mouth_scale=scale), close_lips=False,
                         lip_step=10.0)
        frames = e.push(audio) + e.flush()
        gaps[scale] = np.array([rest_gap + (f.dynamics[pca] - rest[pca]) @ d for f in frames])
        poses[scale] = np.stack([f.pose for f in frames])
    wide = {s: np.percentile(g, 95) for s, g in gaps.items()}
    assert wide[1.0] > rest_gap + 0.03  # the model opens the mouth past the rest here
    assert wide[1.5] == pytest.approx(1.5 * wide[1.0], rel=0.02)
    assert np.abs(gaps[0.0]).max() < 1e-3
    assert np.array_equal(poses[0.0], poses[1.0]) and np.array_equal(poses[1.5], poses[1.0])


def test_an_emotion_does_not_open_the_mouth_in_silence(tiny_model, astronaut, basis):
    """Surprise's direction drops the jaw; in silence the gate still closes the mouth (an
    emotion was once added after the mouth's constraints and reopened it), in speech it shows."""
    from vasa.audio import get_extractor
    from vasa.latent.expressions import EmotionDirections
    from vasa.latent.face_model import decode_canonical, lip_gap
    from vasa.motion.controls import Controls, parse_emotion
    from vasa.motion.engine import MotionEngine

    directions = EmotionDirections.load(basis_version=basis.version)  # the tiny model has none
    rng = np.random.default_rng(1)
    audio = np.concatenate([0.1 * rng.standard_normal(16000), np.zeros(48000)]).astype(np.float32)
    gaps = {}
    for emotion in ("neutral", "surprise"):
        e = MotionEngine(tiny_model, get_extractor(), astronaut.pose,
                         astronaut.talking_rest(basis),
                         Controls(steps=2, emotion=parse_emotion(emotion), emotion_intensity=2),
                         expressions=directions)
        gaps[emotion] = np.array([lip_gap(decode_canonical(
            astronaut.canonical, astronaut.dynamics, f.dynamics, basis))
            for f in e.push(audio) + e.flush()])
    assert gaps["surprise"][70:].max() < 0.005  # past a pause's hold: closed
    assert gaps["surprise"][:20].mean() > gaps["neutral"][:20].mean() + 0.01  # speech: it shows


def test_lids_keep_to_a_lids_speed():
    """A one-frame dip gains a closing frame before it and reopens over 3 frames, keeping its
    depth and time; a blink already that slow and open eyes are left alone; the added blink
    keeps to the same speeds."""
    from vasa.motion.blinks import BLINK_PROFILE, CLOSE_PER_FRAME, OPEN_PER_FRAME, limit_lid_speed

    eyes = np.ones((12, 2))
    eyes[4] = 0.1
    got = limit_lid_speed(eyes)
    assert got[:, 0] == pytest.approx([1, 1, 1, 0.6, 0.1, 0.4, 0.7, 1, 1, 1, 1, 1])
    assert np.array_equal(got[:, 0], got[:, 1])
    assert np.array_equal(limit_lid_speed(got), got)
    assert np.array_equal(limit_lid_speed(np.ones((5, 2))), np.ones((5, 2)))
    added = np.concatenate([[1.0], BLINK_PROFILE, [1.0]])
    assert np.diff(added).min() >= -CLOSE_PER_FRAME - 1e-9
    assert np.diff(added).max() <= OPEN_PER_FRAME + 1e-9


def test_the_lids_level_stays_near_the_rest_and_blinks_still_shut():
    """Between blinks the generator's lids wandered to 0.7 of their rest for seconds (a
    drowsy look; real speakers' stay within 0.84-1.10): their level is soft-limited to
    1 +- LID_LEVEL_LIMIT, a level near the rest is kept, a blink in a low stretch still shuts,
    a jump of the level does not flash the lids past it, and a window that starts later (with
    the context rows refine has) gives the same frames."""
    from vasa.motion.engine import LID_LEVEL_LIMIT, level_lids

    eyes = np.ones((60, 2))
    eyes[20:50] = 0.7
    eyes[40:43] = [[0.3, 0.3], [0.0, 0.0], [0.3, 0.3]]  # a blink in the low stretch
    got = level_lids(eyes)
    capped = 1 - LID_LEVEL_LIMIT * np.tanh(0.3 / LID_LEVEL_LIMIT)
    assert got[:20] == pytest.approx(1.0)
    assert got[30:40] == pytest.approx(capped) and capped > 0.85
    assert got[41, 0] == 0.0 and got[40, 0] < 0.5
    assert got[50:].max() <= 1.0 + 1e-12  # back to the rest: no flash past it
    assert got[58:] == pytest.approx(1.0)
    near = np.full((20, 2), 0.97)
    assert np.abs(level_lids(near) - near).max() < 0.005
    assert np.array_equal(level_lids(eyes[25:])[10:], got[35:])


def test_one_frame_eyelid_dips_are_flutter_or_a_blink_never_a_flash():
    """refine deepens a generated dip into a blink only if it is below the knee also filtered
    over 3 frames: a one-frame dip to 0.75 stays a flutter, one to 0.5 becomes a blink that
    closes over 2 frames and reopens at a lid's speed (a frame of shut eyes between open
    ones was a twitch)."""
    from vasa.motion.blinks import OPEN_PER_FRAME
    from vasa.motion.engine import refine
    from vasa.motion.features import FEATURES

    feats = np.zeros((40, 34))
    feats[:, FEATURES.dynamics.eyes] = 1.0
    feats[10, FEATURES.dynamics.eyes] = 0.75  # the generator's one-frame dip: noise
    feats[30, FEATURES.dynamics.eyes] = 0.5  # a deep one: a blink
    eyes = refine(feats, 0, pose_sigma=0)[:, FEATURES.dynamics.eyes]
    assert eyes[10] == pytest.approx([0.75, 0.75]) and eyes[11, 0] == pytest.approx(1.0)
    assert eyes[30, 0] < 0.15  # deepened
    assert eyes[28, 0] == 1.0 and 0.5 < eyes[29, 0] < 1.0  # closing over 2 frames
    assert eyes[31, 0] == pytest.approx(eyes[30, 0] + OPEN_PER_FRAME, abs=1e-6)
    assert np.diff(eyes[:, 0]).max() <= OPEN_PER_FRAME + 1e-6


def test_a_spread_blink_is_redrawn_around_its_lowest_frame():
    """A generated blink spread over 5 frames under half open keeps its lowest frame; the
    frames around it rise to a lid's closing and reopening speeds from there, up to the open
    line between the frames either side of the dip, so it stays under half open for 2 frames
    (80 ms: real speakers' blinks read 80-110 ms)."""
    from vasa.motion.blinks import CLOSE_PER_FRAME, OPEN_PER_FRAME, sharpen_blinks

    raw = np.array([0.84, 0.66, 0.58, 0.68, 0.74, 0.79, 0.9])[:, None].repeat(2, 1)
    deep = np.array([0, 1, 1, 1, 1, 1, 0], bool)
    deepened = np.where(deep[:, None], 0.85 * (raw / 0.85) ** 4, raw)
    assert (deepened[:, 0] < 0.5).sum() == 4
    got = sharpen_blinks(deepened, raw, deep)[:, 0]
    line = np.interp(np.arange(7), [0, 6], [0.84, 0.9])
    assert got[2] == pytest.approx(deepened[2, 0])  # the lowest frame
    assert got[1] == pytest.approx(min(got[2] + CLOSE_PER_FRAME, line[1]))
    assert got[3:6] == pytest.approx(np.minimum(got[2] + OPEN_PER_FRAME * np.arange(1, 4),
                                                line[3:6]))
    assert (got < 0.5).sum() == 2 and np.all(got <= line + 1e-12)
    assert got[0] == raw[0, 0] and got[6] == raw[6, 0]  # outside the dip: unchanged


def test_a_blink_that_half_reopens_and_shuts_again_is_one_blink():
    """The generator sometimes closes the lids half-way, opens them a little and shuts them
    (0.47, 0.56, 0.06): redrawn, the eyes stay open until two frames before the lowest one,
    close at a lid's speed and reopen without a second dip."""
    from vasa.motion.engine import refine
    from vasa.motion.features import FEATURES

    feats = np.zeros((12, 34))
    eyes_at = FEATURES.dynamics.eyes
    feats[:, eyes_at] = np.array([0.95, 0.95, 0.95, 0.89, 0.47, 0.56, 0.06, 0.36, 0.66, 0.79,
                                  0.95, 0.95])[:, None]
    got = refine(feats, 0, pose_sigma=0)[:, eyes_at][:, 0]
    low = int(np.argmin(got))
    assert low == 6 and got[low] < 0.05
    assert got[4] > 0.85  # the early half-closing is gone
    assert np.all(np.diff(got[4:low + 1]) <= 1e-6) and np.all(np.diff(got[low:10]) >= -1e-6)


def test_a_shallow_dip_is_taken_out_not_drawn_as_a_half_blink():
    """A generated dip to 0.68-0.75 of the open level for three frames, deepened, would
    reach 0.35 and no further: a half-shut flicker, neither a blink nor open eyes. It is not
    drawn: the lids stay on the open line across it; a deeper dip is still a blink."""
    from vasa.motion.engine import refine
    from vasa.motion.features import FEATURES

    feats = np.zeros((30, 34))
    eyes_at = FEATURES.dynamics.eyes
    feats[:, eyes_at] = 0.95
    feats[5:8, eyes_at] = np.array([0.75, 0.68, 0.74])[:, None]
    feats[20:23, eyes_at] = np.array([0.7, 0.5, 0.7])[:, None]
    got = refine(feats, 0, pose_sigma=0)[:, eyes_at]
    assert np.ptp(got[:15]) < 1e-6 and got[0, 0] > 0.9  # open throughout (level_lids scales)
    assert got[21].max() < 0.15


def test_the_lids_keep_their_speed_across_streaming_windows():
    """A window that ends mid-blink and a next one that opens the eyes at once (the window
    guessed a blink the next did not draw): the reopening keeps to a lid's speed across the
    joint, as in one call; chunking does not change the result."""
    from vasa.motion.blinks import OPEN_PER_FRAME, BlinkKeeper

    eyes = np.ones((10, 2))
    eyes[3:5] = [[0.6, 0.6], [0.1, 0.1]]  # the first window closes the eyes ...
    keeper = BlinkKeeper(seed=3)
    got = np.concatenate([keeper(eyes[:5]), keeper(eyes[5:])])  # ... the next opens them
    assert got[5, 0] == pytest.approx(0.1 + OPEN_PER_FRAME)
    assert np.diff(got[:, 0]).max() <= OPEN_PER_FRAME + 1e-9
    assert np.array_equal(got, BlinkKeeper(seed=3)(eyes))


def test_blinks_are_added_where_the_motion_has_none():
    """Open eyes for 20 s get a blink every 2-5 s (10-30 a minute), fully shut; generated
    blinks count and reset the wait; chunking does not change the result."""
    from vasa.data.conditions import blink_count
    from vasa.motion.blinks import BlinkKeeper

    still = np.ones((500, 2))
    out = BlinkKeeper(seed=3)(still)
    rate = blink_count(out) / (500 / 25 / 60)
    assert 12 <= rate <= 30 and out.min() < 0.05
    keeper = BlinkKeeper(seed=3)
    chunked = np.concatenate([keeper(still[i:i + 37]) for i in range(0, 500, 37)])
    assert np.array_equal(chunked, out)
    blinking = still.copy()
    blinking[39], blinking[40:44] = 0.5, 0.1  # the motion blinks by itself at 1.6 s
    got = BlinkKeeper(seed=3)(blinking)
    assert np.array_equal(got[:44], blinking[:44])  # nothing added before or over it


def test_a_blink_a_later_window_starts_closes_at_a_lids_speed_and_still_shuts():
    """Streaming: one window emitted open lids, the next starts a blink at once (its guess of
    the frames before had no dip). The lids close over two frames, not one, and reach the
    blink's depth a frame later; the reopening keeps to its speed."""
    from vasa.motion.blinks import CLOSE_PER_FRAME, OPEN_PER_FRAME, BlinkKeeper

    keeper = BlinkKeeper(seed=3)
    keeper(np.ones((10, 2)))
    got = keeper(np.array([0.02, 0.3, 0.6, 0.9, 1.0])[:, None].repeat(2, 1))[:, 0]
    np.testing.assert_allclose(got, [1 - CLOSE_PER_FRAME, 0.02, 0.02 + OPEN_PER_FRAME,
                                     0.02 + 2 * OPEN_PER_FRAME, 0.02 + 3 * OPEN_PER_FRAME])
    assert np.diff(np.r_[1.0, got]).min() >= -CLOSE_PER_FRAME - 1e-9


def test_lid_ratios_are_asked_so_that_they_read_as_generated():
    """A portrait whose eyes read shut from ratio 0.3 and half open at 0.5: a generated 0.25
    is asked as about 0.4 (which reads 0.25), shut stays shut, the rest and wider eyes are
    kept; readings that rise as the lids close (tracking noise) still give a monotone map; a
    portrait whose shut eyes read half open keeps the generated ratios."""
    from vasa.motion.lids import MAX_SHUT_READING, LidResponse, seen_as_generated

    ratios = np.arange(15) / 10  # 0 to 1.4
    assert np.array_equal(seen_as_generated(ratios, LidResponse()), ratios)
    response = LidResponse((0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8),
                           (0.02, 0.0, 0.05, 0.2, 0.5, 0.7, 0.9))  # 0.02 at 0: noise
    got = seen_as_generated(ratios, response)
    assert np.all(np.diff(got) >= 0)  # monotone
    assert got[0] == 0.0 and np.array_equal(got[10:], ratios[10:])  # shut; rest and wider
    asked = float(seen_as_generated(np.array(0.25), response))
    assert 0.35 < asked < 0.45
    assert float(np.interp(asked, response.ratios, response.seen)) == pytest.approx(0.25)
    floor = LidResponse(response.ratios, (0.5, 0.5, 0.5, 0.5, 0.55, 0.7, 0.9))
    assert min(floor.seen) > MAX_SHUT_READING
    assert np.array_equal(seen_as_generated(ratios, floor), ratios)


def test_a_drivers_openness_is_asked_per_eye_as_ratios_of_the_portraits():
    """`asked_openness` (what `vasa reenact` asks for a driver's tracked lids): each eye's
    openness is taken as a ratio of the portrait's, mapped as generated ratios are, and given
    back as openness; the neutral response keeps it."""
    from vasa.motion.lids import LidResponse, asked_openness, seen_as_generated

    response = LidResponse((0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8),
                           (0.0, 0.0, 0.05, 0.2, 0.5, 0.7, 0.9))
    rest = np.array([0.3, 0.25])
    openness = np.array([[0.3, 0.25], [0.075, 0.0625], [0.36, 0.1]])  # rest, 0.25, wider / 0.4
    got = asked_openness(openness, rest, response)
    assert got.dtype == np.float32 and got.shape == openness.shape
    assert np.allclose(got / rest, seen_as_generated(openness / rest, response))
    assert np.allclose(got[0], rest) and np.allclose(got[2, 0], 0.36)  # the rest, wider: kept
    assert np.all(got[1] / rest > 0.35)  # a quarter open is asked at about 0.4
    assert np.allclose(asked_openness(openness, rest, LidResponse()), openness)


def test_lip_gaps_are_asked_so_that_they_read_as_generated():
    """A portrait whose lips read 0.07 under their latent gap at rest, then open 1.2x as fast
    up to 0.1 over it and 0.6x beyond (thick closed lips; a refiner's wide mouth read
    narrower): each generated gap is asked where the measured map reads it; past the probes
    the narrowest probe's slope carries on below it and slope 1 past the widest (nothing was
    measured there: the end slope multiplied the generator's peaks); a slope under GAIN_RANGE
    (a failed reading) is clipped, so the map still rises; the neutral response keeps the gaps."""
    from vasa.motion.mouth import GAIN_RANGE, MouthResponse, seen_as_generated

    rest = 0.088
    gaps = np.linspace(0.0, 0.35, 36)
    assert np.allclose(seen_as_generated(gaps, rest, MouthResponse()), gaps)
    changes = (-0.05, 0.0, 0.05, 0.1, 0.15)
    seen = (-0.1, -0.07, -0.01, 0.05, 0.08)
    response = MouthResponse(changes, seen)
    asked = seen_as_generated(gaps, rest, response)
    assert np.all(np.diff(asked) > 0)
    # Where the probes were read, the map's read-out of the asked gap is the generated one.
    read = rest + np.interp(asked - rest, changes, seen)
    inside = (gaps >= rest - 0.1) & (gaps <= rest + 0.08)
    assert np.allclose(read[inside], gaps[inside], atol=1e-9)
    # Past the widest probe at slope 1, not its own 0.6: 0.06 more seen is 0.06 more asked.
    wide = float(seen_as_generated(np.array(rest + 0.14), rest, response))
    assert wide == pytest.approx(rest + 0.15 + 0.06)
    # A saturating reading (a smile's stretched teeth look shut: slopes clipped to 0.5) asks
    # twice the change inside the probes, but a peak past them only as much again as seen.
    flat = MouthResponse(changes, (-0.045, 0.006, 0.052, 0.075, 0.088))
    peak = float(seen_as_generated(np.array(0.32), rest, flat))
    c, o = flat.curve
    assert peak == pytest.approx(rest + 0.15 + (0.32 - rest - (c[-1] + o[-1])))
    assert peak < 0.40  # was 0.48: a glowing blob of stretched teeth
    # A reading that falls as the mouth opens (tracking noise) is taken at the lowest slope.
    noisy = MouthResponse(changes, (-0.05, 0.0, 0.05, 0.04, 0.1))
    c, o = noisy.curve
    assert np.all(np.diff(c + o) / np.diff(c) >= GAIN_RANGE[0] - 1e-9)
    assert np.all(np.diff(seen_as_generated(gaps, rest, noisy)) > 0)


def test_the_onnx_export_computes_what_the_model_file_does(tmp_path, tiny_model_file, astronaut,
                                                           caplog):
    """`vasa export-motion` writes M.onnx beside M.pt; load_model runs it (`infer`) while it
    was made from that very file, and its forward passes and an engine's frames match
    PyTorch's; a stale export (the model file changed since) is reported and left unused."""
    import logging
    import shutil

    from vasa.cli import main
    from vasa.motion.checkpoint import load_model
    from vasa.motion.onnx_dit import OnnxDiT

    path = tmp_path / "tiny.pt"
    shutil.copy(tiny_model_file, path)
    assert load_model(path).exported is None  # none yet: PyTorch
    main(["export-motion", str(path)])
    model = load_model(path)
    assert isinstance(model.infer, OnnxDiT) and path.with_suffix(".onnx").is_file()
    x, t = torch.randn(3, TINY.window, TINY.motion_dim), torch.rand(3)
    c = _cond(3)
    c.drop_gaze[1] = True
    c.drop_audio[2, 3:] = True
    with torch.no_grad():
        for b in (1, 3):  # the batch is dynamic: one term, or three guidance terms
            sub = Conditions(**{k: v[:b] for k, v in c.__dict__.items()})
            want = model.net(x[:b], t[:b], sub)
            assert torch.allclose(model.infer(x[:b], t[:b], sub), want, atol=1e-4)
    fast = _engine(model, astronaut, 3, 2).push(np.random.default_rng(0).normal(
        0, 0.1, 16000 * 2).astype(np.float32))
    model.exported = None
    slow = _engine(model, astronaut, 3, 2).push(np.random.default_rng(0).normal(
        0, 0.1, 16000 * 2).astype(np.float32))
    assert len(fast) == len(slow) > 0
    for a, b in zip(fast, slow):
        assert np.allclose(a.dynamics, b.dynamics, atol=1e-3)

    raw = torch.load(path, weights_only=True)
    raw["info"] = {**raw["info"], "edited": 1}
    torch.save(raw, path)  # the model file changes; its export does not
    with caplog.at_level(logging.WARNING):
        assert load_model(path).exported is None
    assert "made from another version" in caplog.text


def test_the_bundled_model_runs_its_bundled_export():
    """The bundled motion_dit.onnx was exported from the bundled motion_dit.pt (re-export with
    `vasa export-motion` after retraining, or it would silently run the slower PyTorch path)."""
    from vasa.motion.checkpoint import load_model
    from vasa.motion.config import DEFAULT_MODEL

    assert load_model(DEFAULT_MODEL).exported is not None


def test_generated_turns_are_eased_into_the_renderers_envelope(astronaut):
    """A generated turn past 18 degrees of yaw (a nod past 10 of pitch) is eased towards 25
    (15): the warp magnifies a turned face's near cheek from the photo's foreshortened pixels
    and at 30 degrees the face read swollen. Below the knees motion is untouched; roll is not
    limited (the warp renders it without stretching)."""
    from vasa.motion.features import FEATURES, TURN_LIMIT

    feats = np.zeros((6, FEATURES.dim))
    feats[:, 0] = np.radians([0, 5, 10, 12, 20, -40])  # pitch
    feats[:, 1] = np.radians([0, 10, 18, 22, 30, 60])  # yaw
    feats[:, 2] = np.radians([0, 0, 0, 0, 0, 35])  # roll
    lat = to_latents(feats, astronaut.pose, astronaut.dynamics)
    turn = np.degrees(lat.pose[:, :3].astype(np.float64) - astronaut.pose[:3])
    assert np.allclose(turn[:3, :2], np.degrees(feats[:3, :2]), atol=1e-3)
    assert np.all(np.diff(turn[:5, 1]) > 0)  # eased, never reversed
    assert 21 < turn[3, 1] < 22 and 24 < turn[4, 1] < 25 < np.degrees(TURN_LIMIT[1]) + 1e-6
    assert abs(turn[5, 1]) <= 25 + 1e-3 and abs(turn[5, 0]) <= 15 + 1e-3 and turn[5, 0] < 0
    assert abs(turn[5, 2] - 35) < 1e-3
