"""CAPP, the audio-pose alignment metric (VASA-1 section 4.2): encoders, scoring, checkpoints,
training on a tiny dataset, and the shipped asset on the bundled clip."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from vasa.data.format import DatasetMeta, SegmentRecord, column_layout, write_array
from vasa.evaluation.capp import (
    DEFAULT_CAPP,
    CappConfig,
    CappModel,
    CappNet,
    capp_score,
    load_capp,
    pose_features,
    window_starts,
)

ASSETS = Path(__file__).resolve().parents[1] / "src" / "vasa" / "assets"
TINY = CappConfig(width=16, heads=2, pose_layers=1, audio_layers=1, embed_dim=8)


def random_pose(n: int, frames: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    pose = 0.1 * torch.randn(n, frames, 6, generator=g).cumsum(1) / frames**0.5
    pose[..., 5] = 0.05 + 0.01 * pose[..., 5].abs()  # scale: inter-ocular distance, positive
    return pose


def test_tiny_net_shapes_and_unit_embeddings():
    net = CappNet(TINY).eval()
    pose, audio = random_pose(3, 75), torch.randn(3, 75, 85)
    p, a = net.embed_pose(pose), net.embed_audio(audio)
    assert p.shape == a.shape == (3, 8)
    torch.testing.assert_close(p.norm(dim=-1), torch.ones(3))
    sim = net(pose, audio)
    assert sim.shape == (3,) and bool((sim.abs() <= 1 + 1e-5).all())


def test_pose_features_ignore_where_the_head_is_but_not_how_it_moves():
    pose = random_pose(2, 75)
    moved = pose.clone()
    moved[..., :5] += torch.tensor([0.2, -0.3, 0.1, 0.25, -0.1])  # other place, same motion
    zoomed = pose.clone()
    zoomed[..., 3:6] *= 2.0  # the same head filmed twice as close (about the frame centre)
    ref = pose_features(pose)
    assert ref.shape == (2, 75, 12)
    torch.testing.assert_close(pose_features(moved), ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(pose_features(zoomed), ref, atol=1e-5, rtol=0)
    mean = pose.mean(1, keepdim=True)
    calmer = mean + 0.5 * (pose - mean)  # VASA-1 Table 4: less variation must look different
    assert not torch.allclose(pose_features(calmer), ref, atol=1e-4)


def test_windows_cover_the_video_and_short_videos_are_not_computable():
    assert window_starts(74).tolist() == []
    assert window_starts(75).tolist() == [0]
    assert window_starts(130, hop=25).tolist() == [0, 25, 50, 55]
    model = CappModel(CappNet(TINY), "x@1", "b")
    short = capp_score(model, np.zeros((74, 6), np.float32) + 0.05, np.zeros((74, 85)))
    assert not short.computable and short.windows == 0 and np.isnan(short.score)
    assert "3 s" in short.reason
    ok = capp_score(model, random_pose(1, 100)[0].numpy(), np.random.rand(101, 85))
    assert ok.computable and ok.windows == 2 and len(ok.similarities) == 2
    with pytest.raises(ValueError, match="audio frames"):
        capp_score(model, random_pose(1, 100)[0].numpy(), np.random.rand(150, 85))


def test_checkpoint_round_trip_and_mismatch_refused(tmp_path):
    torch.manual_seed(0)
    model = CappModel(CappNet(TINY).eval(), "logmel80+prosody@1", "1-abc", {"steps": 3})
    path = tmp_path / "capp.pt"
    model.save(path)
    pose, audio = random_pose(1, 90)[0].numpy(), np.random.rand(90, 85).astype(np.float32)
    back = load_capp(path, extractor_id="logmel80+prosody@1", basis_version="1-abc")
    assert back.config == TINY and back.info == {"steps": 3}
    assert capp_score(back, pose, audio).score == pytest.approx(capp_score(model, pose, audio).score)
    with pytest.raises(ValueError, match="audio features logmel80\\+prosody@1"):
        load_capp(path, extractor_id="mfcc20+delta@1", basis_version="1-abc")
    with pytest.raises(ValueError, match="face basis 1-abc"):
        load_capp(path, extractor_id="logmel80+prosody@1", basis_version="1-other")
    with pytest.raises(FileNotFoundError):
        load_capp(tmp_path / "missing.pt")


def make_dataset(root: Path, seed: int = 0) -> None:
    """A 2-speaker dataset in the on-disk format where head motion follows audio loudness."""
    rng = np.random.default_rng(seed)
    root.mkdir()
    cols = column_layout(4)
    DatasetMeta(25.0, "1-abc", 4, "logmel80+prosody@1", 85, cols).save(root)
    segs = []
    for i, split in enumerate(["train", "train", "val"]):
        frames = 200
        audio = rng.normal(size=(frames, 85)).astype(np.float32)
        motion = np.zeros((frames, cols["confidence"][1]), np.float32)
        motion[:, 1] = 0.05 * np.convolve(audio[:, 0], np.ones(5) / 5, "same")  # yaw
        motion[:, 5] = 0.05
        (root / "clips" / f"c{i}").mkdir(parents=True)
        write_array(root / "clips" / f"c{i}" / "0.motion.npy", motion)
        write_array(root / "clips" / f"c{i}" / "0.audio.npy", audio)
        segs.append(SegmentRecord(f"c{i}", 0, f"v{i}.mp4", f"s{i}", 0, frames, True, (0.0, 0.0),
                                  0.05, [0.0] * 7, split))
    (root / "index.json").write_text(json.dumps({"segments": [asdict(s) for s in segs],
                                                 "reports": []}))


def test_train_capp_writes_a_loadable_checkpoint_and_a_log(tmp_path):
    from vasa.evaluation.train_capp import TrainCappConfig, train_capp

    make_dataset(tmp_path / "ds")
    out = tmp_path / "capp.pt"
    config = TrainCappConfig(steps=4, batch_size=4, windows_per_clip=2, eval_every=2, model=TINY)
    report = train_capp(tmp_path / "ds", out, config, progress=False)
    assert report.steps == 4 and report.asset_bytes == out.stat().st_size
    assert set(report.val) >= {"val_loss", "val_acc", "val_cos_matched"}
    rows = Path(report.log_path).read_text().splitlines()
    assert rows[0].startswith("step,") and len(rows) == 3  # header + steps 2 and 4
    model = load_capp(out, extractor_id="logmel80+prosody@1", basis_version="1-abc")
    assert model.info["steps"] == 4 and not model.net.training


def test_av_offsets_are_undone_before_windowing(tmp_path):
    """`--av-offsets`: a segment with audio 3 frames late loses its first 3 audio frames, one
    with audio 2 frames early its first 2 pose frames; a bad file names itself."""
    from vasa.data.format import Dataset
    from vasa.data.offsets import load_av_offsets
    from vasa.evaluation.train_capp import load_windows

    make_dataset(tmp_path / "ds")
    path = tmp_path / "offsets.json"
    path.write_text(json.dumps({"segments": [{"segment": "c0/0", "applied": 3},
                                             {"segment": "c1/0", "applied": -2}]}))
    ds = Dataset(tmp_path / "ds")
    plain = load_windows(ds, "train", 75)
    moved = load_windows(ds, "train", 75, av_offsets=load_av_offsets(path))
    assert len(moved.pose) == len(plain.pose) - 5
    np.testing.assert_array_equal(moved.pose[:10], plain.pose[:10])
    np.testing.assert_array_equal(moved.audio[:10], plain.audio[3:13])
    np.testing.assert_array_equal(moved.pose[197:207], plain.pose[202:212])
    np.testing.assert_array_equal(moved.audio[197:207], plain.audio[200:210])
    path.write_text("{}")
    with pytest.raises(ValueError, match="offsets.json"):
        load_av_offsets(path)


@pytest.fixture(scope="module")
def bundled_clip() -> tuple[np.ndarray, np.ndarray]:
    """(pose (T, 6), audio features (T, 85)) of the bundled 8 s clip, a held-out (val) speaker."""
    from vasa.audio import get_extractor
    from vasa.io import load_audio
    from vasa.tracking.video import track_video

    clip = ASSETS / "obama_address_8s.mp4"
    pose = track_video(clip, fps=25.0).motion.pose
    audio = get_extractor("logmel+prosody")(load_audio(clip, 16000))
    return pose, audio


@pytest.mark.skipif(not DEFAULT_CAPP.is_file(), reason="capp.pt asset not shipped")
def test_shipped_capp_prefers_the_clips_own_audio_and_motion(bundled_clip):
    """On a speaker CAPP never saw: the clip's own (audio, pose) beats the same speech at the
    wrong time (played 2-6 s late, or backwards) and beats a near-still version of its head
    motion (VASA-1 Table 4's x0.2). Shipped asset: 0.47 vs 0.34 / 0.36 / 0.37."""
    pose, audio = bundled_clip
    model = load_capp()
    own = capp_score(model, pose, audio, hop=5)
    assert own.windows == 26
    late = np.mean([capp_score(model, pose, np.roll(audio, r, axis=0), hop=5).score
                    for r in (50, 75, 100, 125, 150)])
    backwards = capp_score(model, pose, audio[::-1].copy(), hop=5).score
    mean = pose.mean(0)
    calm = capp_score(model, mean + 0.2 * (pose - mean), audio, hop=5).score
    assert own.score > max(late, backwards, calm) + 0.05
