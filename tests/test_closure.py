"""The lip closure network (vasa.motion.closure): training on a dataset, the file, and the
engine shutting the generated mouth where it fires."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

ASSETS = Path(__file__).resolve().parents[1] / "src" / "vasa" / "assets"


def _dataset(root: Path, basis) -> None:
    """Three talking segments whose lips shut where audio feature 0 is low (a learnable rule)."""
    from vasa.data.format import DatasetMeta, SegmentRecord, column_layout, write_array
    from vasa.latent.face_model import lip_direction

    rng = np.random.default_rng(0)
    root.mkdir()
    dim = basis.layout.gaze.stop
    cols = column_layout(dim)
    DatasetMeta(25.0, basis.version, dim, "logmel80+prosody@1", 85, cols).save(root)
    d = lip_direction(basis)
    segs = []
    for i, split in enumerate(["train", "train", "val"]):
        frames = 300
        audio = rng.normal(size=(frames, 85)).astype(np.float32)
        gap = 0.04 * np.clip(audio[:, 0] + 1.0, 0.0, None)  # shut where feature 0 < -1
        motion = np.zeros((frames, cols["confidence"][1]), np.float32)
        a, _ = cols["dynamics"]
        motion[:, a:a + basis.num_pca] = np.outer(gap, d / (d @ d))
        (root / "clips" / f"c{i}").mkdir(parents=True)
        write_array(root / "clips" / f"c{i}" / "0.motion.npy", motion)
        write_array(root / "clips" / f"c{i}" / "0.audio.npy", audio)
        segs.append(SegmentRecord(f"c{i}", 0, f"v{i}.mp4", f"s{i}", 0, frames, True, (0.0, 0.0),
                                  0.05, [0.0] * 7, split))
    (root / "index.json").write_text(json.dumps({"segments": [asdict(s) for s in segs],
                                                 "reports": []}))


def test_training_learns_where_lips_shut_and_the_file_round_trips(tmp_path, basis):
    from vasa.motion.closure import load_closure
    from vasa.motion.train_closure import TrainClosureConfig, auc, train_closure

    _dataset(tmp_path / "ds", basis)
    out = tmp_path / "closure.pt"
    info = train_closure(tmp_path / "ds", out, TrainClosureConfig(steps=150, eval_every=50),
                         progress=False)
    assert info["val_auc"] > 0.65  # held-out segment (chance: 0.5): learnt, not memorised
    assert len((tmp_path / "closure_log.csv").read_text().splitlines()) == 1 + 3
    closure = load_closure(out, extractor="logmel80+prosody@1")
    rng = np.random.default_rng(5)
    feats = rng.normal(size=(200, 85)).astype(np.float32)
    s = closure.strength(feats)
    assert s.shape == (200,) and s.min() >= 0.0 and s.max() <= 1.0
    shut = feats[:, 0] < -1.0
    assert auc(closure.predict(feats), shut) > 0.65
    assert s[shut].mean() > 2 * s[~shut].mean()  # the strength follows the prediction
    assert closure.strength(feats[:0]).shape == (0,)
    with pytest.raises(ValueError, match="audio features"):
        load_closure(out, extractor="mfcc20+delta@1")
    with pytest.raises(FileNotFoundError, match="lip closure model"):
        load_closure(tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.pt"):
        load_closure(tmp_path / "bad.pt")


def test_engine_shuts_the_lips_where_the_bundled_model_fires(tiny_model, astronaut, basis):
    """On real speech, the bundled closure model shuts the generated mouth on some frames and
    never opens it further than the generator alone."""
    from vasa.audio import get_extractor
    from vasa.io import load_audio
    from vasa.latent.face_model import decode_canonical, lip_gap
    from vasa.motion.controls import Controls
    from vasa.motion.engine import MotionEngine

    audio = load_audio(ASSETS / "obama_address_8s.mp4")[: 16000 * 4]
    gaps = {}
    for close in (False, True):
        e = MotionEngine(tiny_model, get_extractor(), astronaut.pose,
                         astronaut.talking_rest(basis), Controls(steps=2), close_lips=close)
        gaps[close] = np.array([lip_gap(decode_canonical(astronaut.canonical, astronaut.dynamics,
                                                         f.dynamics, basis))
                                for f in e.push(audio) + e.flush()])
    assert np.all(gaps[True] <= gaps[False] + 1e-4)
    shut = gaps[True] < gaps[False] - 0.01
    assert 0.02 < shut.mean() < 0.5  # some frames shut, most left to the generator
