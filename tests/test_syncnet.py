"""The lip-sync metric: shapes, the offset sign convention, refusals, and the shipped model on
the bundled clip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import ASSETS

from vasa.evaluation.syncnet import (
    DEFAULT_SYNC_MODEL,
    DISTANCE_SCALE,
    SyncConfig,
    SyncModel,
    SyncNet,
    correlation_lag,
    embed,
    lip_opening,
    load_sync_model,
    sync_scores,
)

TINY = SyncConfig(hidden=16, embed_dim=8)
ENERGY = 80  # log energy: the first prosody column after the 80 log-mel bins


def tiny_model(cfg: SyncConfig = TINY, extractor_id: str = "logmel80+prosody@1",
               basis_version: str = "test-basis") -> SyncModel:
    torch.manual_seed(0)
    return SyncModel(SyncNet(cfg).eval(), cfg, np.zeros(cfg.motion_dim, np.float32),
                     np.ones(cfg.motion_dim, np.float32), np.zeros(cfg.audio_dim, np.float32),
                     np.ones(cfg.audio_dim, np.float32), extractor_id, basis_version)


def mirror_model() -> SyncModel:
    """A stub whose audio encoder is its mouth encoder: audio that is a copy of the motion gives
    distance 0 exactly where the two line up."""
    model = tiny_model(SyncConfig(audio_dim=24, deltas=False, hidden=32, embed_dim=16))
    model.net.audio.load_state_dict(model.net.mouth.state_dict())
    return model


def test_shapes_and_units():
    model = tiny_model()
    rng = np.random.default_rng(0)
    dyn, audio = rng.standard_normal((80, 28)), rng.standard_normal((82, 85))
    ev, ea = embed(model, dyn, audio)
    assert ev.shape == (76, 8) and ea.shape == (78, 8)
    assert np.allclose(np.linalg.norm(ev, axis=1), 1, atol=1e-5)
    r = sync_scores(model, dyn, audio)
    assert r.computable and r.distances.shape == (31,) and r.offsets[[0, -1]].tolist() == [-15, 15]
    assert r.windows == min(80 - 5, 82 - 5 - 15) - 15 + 1  # every offset has audio
    assert 0 <= r.s_d <= 2 * DISTANCE_SCALE and r.s_c >= 0
    assert r.s_d == pytest.approx(r.distances.min()) and r.offset == r.offsets[r.distances.argmin()]


@pytest.mark.parametrize("delay", [-12, -5, -1, 0, 3, 7, 15])
def test_offset_sign_convention(delay):
    """Audio delayed by N frames (its row t + N belongs to video frame t) is offset +N."""
    rng = np.random.default_rng(1)
    dyn = rng.standard_normal((120, 28)).astype(np.float32)
    audio = np.roll(dyn[:, :24], delay, axis=0)  # audio[t + delay] = dyn[t]
    r = sync_scores(mirror_model(), dyn, audio)
    assert r.offset == delay
    assert r.s_d == pytest.approx(0, abs=1e-4) and r.s_c > 1


def test_too_short_is_not_computable():
    model = tiny_model()
    r = sync_scores(model, np.zeros((40, 28)), np.zeros((40, 85)))
    assert not r.computable and np.isnan(r.s_c) and "frames" in r.reason
    assert sync_scores(model, np.zeros((44, 28)), np.zeros((44, 85))).computable
    found = np.ones(100, bool)
    found[::4] = False  # every window loses the face somewhere
    r = sync_scores(model, np.zeros((100, 28)), np.zeros((100, 85)), found=found)
    assert not r.computable and "tracked" in r.reason


def test_checkpoint_round_trip_and_refusals(tmp_path):
    model = tiny_model()
    path = tmp_path / "sync.pt"
    model.save(path)
    loaded = load_sync_model(path, "logmel80+prosody@1", "test-basis")
    rng = np.random.default_rng(2)
    dyn, audio = rng.standard_normal((60, 28)), rng.standard_normal((60, 85))
    assert np.allclose(sync_scores(model, dyn, audio).distances,
                       sync_scores(loaded, dyn, audio).distances, atol=1e-5)
    assert loaded.config == model.config
    with pytest.raises(ValueError, match="audio features logmel80\\+prosody@1"):
        load_sync_model(path, "mfcc20+delta@1", "test-basis")
    with pytest.raises(ValueError, match="face basis test-basis"):
        load_sync_model(path, "logmel80+prosody@1", "another-basis")
    with pytest.raises(FileNotFoundError, match="vasa train sync"):
        load_sync_model(tmp_path / "missing.pt")


@pytest.fixture(scope="module")
def bundled_clip() -> tuple[np.ndarray, np.ndarray]:
    """(dynamics (T, 28), audio features (T', 85)) of the bundled 8 s Obama clip."""
    from vasa.audio import get_extractor
    from vasa.io import load_audio
    from vasa.tracking.video import track_video

    clip = ASSETS / "obama_address_8s.mp4"
    tracked = track_video(clip, fps=25.0)
    return tracked.motion.dynamics, get_extractor()(load_audio(clip, 16000))


def test_shipped_model_on_bundled_clip(bundled_clip, basis):
    """The shipped model agrees with a model-free estimate of the clip's AV offset, and moves
    its detection by exactly the frames the audio is shifted by."""
    model = load_sync_model()  # refuses if the shipped asset is stale against basis/extractor
    assert DEFAULT_SYNC_MODEL.stat().st_size < 5e6
    dyn, audio = bundled_clip
    aligned = sync_scores(model, dyn, audio)
    assert aligned.computable and aligned.s_c > 0.5
    raw_lag, corr = correlation_lag(lip_opening(dyn, basis), audio[:, ENERGY])
    assert corr > 0.3 and abs(aligned.offset - raw_lag) <= 2
    delayed = sync_scores(model, dyn, np.roll(audio, 5, axis=0))
    assert abs(delayed.offset - (aligned.offset + 5)) <= 1
    early = sync_scores(model, dyn, np.roll(audio, -5, axis=0))
    assert abs(early.offset - (aligned.offset - 5)) <= 1
    unrelated = sync_scores(model, dyn, np.ascontiguousarray(audio[::-1]))
    assert unrelated.s_c < aligned.s_c


def test_shipped_model_finds_the_bundled_clips_own_offset(bundled_clip):
    """The bundled clip (first 8 s of EDTalk uncrop_Obama) carries its audio ~5 frames late:
    the learned metric and the model-free lip-opening / loudness lag agree on it, and undoing
    the measured offset brings the clip to 0 (benchmarks/results/sync_validation.md)."""
    from vasa.audio import N_MELS, PROSODY_FIELDS
    from vasa.data.offsets import align
    from vasa.latent.basis import default_basis

    dyn, audio = bundled_clip
    model = load_sync_model()
    r = sync_scores(model, dyn, audio)
    energy = audio[:, N_MELS + PROSODY_FIELDS.index("log_energy")]
    lag, corr = correlation_lag(lip_opening(dyn, default_basis()), energy)
    assert 3 <= r.offset <= 6 and corr >= 0.3 and abs(lag - r.offset) <= 2
    assert sync_scores(model, *align(dyn, audio, r.offset)).offset == 0


def test_correlation_lag_sign():
    rng = np.random.default_rng(3)
    x = np.convolve(rng.standard_normal(300), np.ones(3), "same")
    assert correlation_lag(x, np.roll(x, 4))[0] == 4  # audio delayed by 4 frames
    assert correlation_lag(x, np.roll(x, -2))[0] == -2


def fake_dataset(root, basis_version: str = "fake-basis", train: int = 2,
                 delay: dict[int, int] | None = None) -> None:
    """`train` train and 2 val speakers, one 120-frame segment each, whose audio is a noisy
    function of the motion; delay {i: N}: segment i's audio comes N frames late."""
    from dataclasses import asdict

    from vasa.data.format import DatasetMeta, SegmentRecord, column_layout, write_json

    cols = column_layout(28)
    DatasetMeta(25.0, basis_version, 28, "logmel80+prosody@1", 85, cols).save(root)
    rng, segs = np.random.default_rng(4), []
    mix = rng.standard_normal((24, 85))
    for i, split in enumerate(["train"] * train + ["val", "val"]):
        motion = rng.standard_normal((120, cols["confidence"][1])).astype(np.float32)
        audio = motion[:, 6:30] @ mix + 0.1 * rng.standard_normal((120, 85))
        audio = np.roll(audio, (delay or {}).get(i, 0), axis=0)
        (root / "clips" / f"c{i}").mkdir(parents=True)
        np.save(root / "clips" / f"c{i}" / "0.motion.npy", motion)
        np.save(root / "clips" / f"c{i}" / "0.audio.npy", audio.astype(np.float32))
        segs.append(asdict(SegmentRecord(f"c{i}", 0, "fake", f"s{i}", 0, 120, True, (0.0, 0.0),
                                         1.0, [0.0] * 7, split)))
    write_json(root / "index.json", {"segments": segs, "reports": []})


def test_train_sync_end_to_end(tmp_path):
    from vasa.evaluation.train_sync import TrainSyncConfig, train_sync

    fake_dataset(tmp_path)
    cfg = TrainSyncConfig(steps=60, batch=32, hard_negatives=4, eval_every=30, lr=3e-3,
                          model=TINY)
    reports = [train_sync(tmp_path, tmp_path / f"sync{k}.pt", cfg, progress=False)
               for k in range(2)]
    assert reports[0].train_loss == reports[1].train_loss  # deterministic with the seed
    assert reports[0].val_offset_acc == 1.0  # the fake audio is aligned with the motion
    log = (tmp_path / "sync0_train_log.csv").read_text().splitlines()
    assert log[0].startswith("step,") and len(log) == 3
    model = load_sync_model(tmp_path / "sync0.pt", "logmel80+prosody@1", "fake-basis")
    assert model.config == TINY and model.motion_std.shape == (24,)
    offsets = json.loads((tmp_path / "sync0_offsets.json").read_text())
    assert offsets["folds"] == 5 and len(offsets["segments"]) == 2  # the two train segments


def test_realignment_undoes_a_shifted_train_clip(tmp_path):
    """One of four train speakers has its audio delayed by 4 frames: the out-of-fold models read
    that offset, the final fit trains on it shifted back, and the other segments are left."""
    from vasa.data.offsets import align
    from vasa.evaluation.train_sync import TrainSyncConfig, train_sync

    fake_dataset(tmp_path, train=4, delay={0: 4})
    cfg = TrainSyncConfig(steps=200, folds=2, batch=32, hard_negatives=4, eval_every=200,
                          lr=3e-3, model=TINY)
    report = train_sync(tmp_path, tmp_path / "sync.pt", cfg, progress=False)
    segs = {o["speaker"]: o for o in
            json.loads((tmp_path / "sync_offsets.json").read_text())["segments"]}
    assert segs["s0"]["offset"] == 4 and segs["s0"]["applied"] == 4
    assert all(abs(o["offset"]) <= 1 for k, o in segs.items() if k != "s0")
    assert report.realigned == sum(o["applied"] != 0 for o in segs.values())
    v, a = align(np.arange(10), np.arange(10) + 100, 3)
    assert v.tolist() == list(range(7)) and a.tolist() == list(range(103, 110))
    v, a = align(np.arange(10), np.arange(10) + 100, -2)
    assert v.tolist() == list(range(2, 10)) and a.tolist() == list(range(100, 108))
