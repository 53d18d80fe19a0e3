"""`vasa prepare` on small real inputs of every source format, bad inputs, resume, shards."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
import soundfile as sf
from conftest import ASSETS

from vasa.data.format import Dataset, DatasetMeta
from vasa.data.prepare import PrepareConfig, merge, prepare
from vasa.data.sources import SourceItem, discover
from vasa.io import VideoWriter, load_audio, read_frames

CLIP = ASSETS / "obama_address_8s.mp4"
SECONDS = 2.0


@pytest.fixture(scope="module")
def media():
    frames = [f for _, f in zip(range(int(SECONDS * 25)), read_frames(CLIP, fps=25, max_side=256))]
    audio = load_audio(CLIP, 16000)[: int(SECONDS * 16000)]
    return frames, audio


def _video(path, frames, fps=25.0, audio=None):
    with VideoWriter(path, fps, audio, 16000) as w:
        for f in frames:
            w.write(f)
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory, media):
    """A folder holding one item of each kind, plus bad ones."""
    frames, audio = media
    d = tmp_path_factory.mktemp("src")
    _video(d / "inside.mp4", frames, audio=audio)  # audio track inside the video
    _video(d / "paired.mp4", frames)  # silent video + same-stem wav
    sf.write(d / "paired.wav", audio, 16000)
    folder = d / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    sf.write(d / "frames.wav", audio, 16000)
    idx = np.round(np.arange(0, len(frames) - 1, 25 / 30)).astype(int)  # 30 fps, same motion
    _video(d / "fps30.mp4", [frames[i] for i in idx], fps=30.0, audio=audio)
    idx = np.round(np.arange(0, len(frames) - 1, 25 / 29.97)).astype(int)
    _video(d / "ntsc.mp4", [frames[i] for i in idx], fps=30000 / 1001, audio=audio)
    tall = [np.ascontiguousarray(cv2.copyMakeBorder(f[:, 40:216], 96, 96, 0, 0,
                                                    cv2.BORDER_REPLICATE)) for f in frames]
    _video(d / "vertical.mp4", tall, audio=audio)
    _video(d / "silent.mp4", frames)  # no audio at all: kept for the motion prior
    return d


@pytest.fixture(scope="module")
def dataset(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("ds")
    items, orphans = discover([sources])
    reports = prepare(items, out, PrepareConfig(), workers=1, progress=False,
                      audio_only=orphans)
    return out, {r.source.split("/")[-1]: r for r in reports}


def test_every_format_is_kept(dataset):
    _, reports = dataset
    for name in ("inside.mp4", "paired.mp4", "frames", "fps30.mp4", "ntsc.mp4", "vertical.mp4"):
        r = reports[name]
        assert r.status == "kept", (name, r.dropped, r.warnings)
        assert r.has_audio, name
        assert abs(r.frames_kept - SECONDS * 25) <= 2, (name, r.frames_kept)
    silent = reports["silent.mp4"]
    assert silent.status == "kept" and not silent.has_audio
    assert any("audio-less" in w for w in silent.warnings)


def test_arrays_schema_and_values(dataset):
    out, _ = dataset
    ds = Dataset(out)
    assert ds.meta.motion_fps == 25.0 and ds.meta.audio_dim > 0
    seg = next(s for s in ds.segments if s.source.endswith("inside.mp4"))
    m, a = ds.motion(seg), ds.audio(seg)
    assert isinstance(m, np.memmap) and m.shape[0] == a.shape[0] == seg.frames
    assert m.shape[1] == ds.meta.columns["confidence"][1] and a.shape[1] == ds.meta.audio_dim
    pose = ds.column(m, "pose")
    assert np.all(np.abs(np.degrees(pose[:, :3])) < 30)
    assert np.all(ds.column(m, "confidence") > 0.3)
    assert np.all(ds.column(m, "emotion") >= 0) and np.all(ds.column(m, "emotion") <= 1)
    assert seg.split in ("train", "val") and seg.distance > 0
    assert ds.audio(next(s for s in ds.segments if s.source.endswith("silent.mp4"))) is None


def test_30fps_and_25fps_agree(dataset):
    """The same motion at 30 and 29.97 fps comes out at 25 fps in step with the 25 fps source."""
    out, _ = dataset
    ds = Dataset(out)
    by = {s.source.split("/")[-1]: ds.column(ds.motion(s), "pose") for s in ds.segments}
    n = min(len(by["inside.mp4"]), len(by["fps30.mp4"]), len(by["ntsc.mp4"]))
    for name in ("fps30.mp4", "ntsc.mp4"):
        err = np.degrees(np.abs(by[name][:n, :3] - by["inside.mp4"][:n, :3])).mean()
        assert err < 1.0, name


def test_rerun_skips_done_clips(sources, dataset):
    out, reports = dataset
    mtimes = {p: p.stat().st_mtime for p in (out / "reports").glob("*.json")}
    items, _ = discover([sources])
    again = prepare(items, out, PrepareConfig(), workers=1, progress=False)
    assert {r.clip_id for r in again} <= {r.clip_id for r in reports.values()}
    assert all(p.stat().st_mtime == t for p, t in mtimes.items())


def test_other_settings_are_refused(sources, dataset):
    out, _ = dataset
    items, _ = discover([sources])
    with pytest.raises(ValueError, match="other settings"):
        prepare(items[:1], out, PrepareConfig(max_side=360), progress=False)
    with pytest.raises(ValueError, match="audio features are"):
        DatasetMeta.load(out).check_compatible(DatasetMeta.load(out).basis_version, "mfcc@9", "x")


def test_schema_version_is_checked(dataset, tmp_path):
    out, _ = dataset
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    meta = json.loads((copy / "dataset.json").read_text())
    meta["schema_version"] = 999
    (copy / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="schema 999"):
        Dataset(copy)


def test_bad_inputs_are_reported_not_fatal(tmp_path, media):
    frames, audio = media
    d = tmp_path / "bad"
    d.mkdir()
    good = _video(d / "good.mp4", frames[:30], audio=audio[:19200])
    (d / "truncated.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    (d / "text.mp4").write_text("not a video")
    _video(d / "noface.mp4", [np.full_like(f, 90) for f in frames[:30]], audio=audio[:19200])
    _video(d / "zeroaudio.mp4", frames[:30])
    sf.write(d / "zeroaudio.wav", np.zeros(0, np.float32), 16000)
    sf.write(d / "lonely.wav", audio, 16000)  # audio with no video
    gaps = d / "gaps"
    gaps.mkdir()
    for i in (0, 1, 2, 3, 4, 5, 9, 10):
        cv2.imwrite(str(gaps / f"{i:04d}.jpg"), cv2.cvtColor(frames[i], cv2.COLOR_RGB2BGR))
    items, orphans = discover([d])
    out = tmp_path / "ds"
    reports = {r.source.split("/")[-1]: r
               for r in prepare(items, out, PrepareConfig(), progress=False, audio_only=orphans)}
    assert reports["good.mp4"].status == "kept"
    assert reports["text.mp4"].status == "dropped" and "text.mp4" in str(reports["text.mp4"].dropped)
    assert reports["noface.mp4"].status == "dropped" and "no face" in reports["noface.mp4"].dropped
    assert reports["zeroaudio.mp4"].status == "kept" and not reports["zeroaudio.mp4"].has_audio
    assert reports["lonely.wav"].status == "dropped"
    assert "gaps" in str(reports["gaps"].dropped)
    assert reports["truncated.mp4"].status in ("kept", "dropped")  # either way, with a report
    assert not list((out / "clips").glob(".tmp-*"))  # no half-written clip left behind
    assert Dataset(out).segments  # the index was built despite the bad items


def test_shards_then_merge(sources, tmp_path):
    items, _ = discover([sources])
    out = tmp_path / "sharded"
    a = prepare(items, out, PrepareConfig(), shard=(0, 2), do_merge=False, progress=False)
    b = prepare(items, out, PrepareConfig(), shard=(1, 2), do_merge=False, progress=False)
    assert {r.clip_id for r in a}.isdisjoint({r.clip_id for r in b})
    assert len(a) + len(b) == len(items)
    segs = merge(out)
    assert len(segs) == sum(len(r.segments) for r in a + b)


def test_manifest_source(tmp_path, sources):
    tsv = tmp_path / "m.tsv"
    tsv.write_text("file\taudio\tkind\tspeaker\n"
                   f"{sources / 'paired.mp4'}\t{sources / 'paired.wav'}\tclips\tspk1\n"
                   f"{sources / 'silent.mp4'}\t\tsilent\t\n")
    items, _ = discover([tsv])
    assert items[0] == SourceItem(sources / "paired.mp4", sources / "paired.wav", "spk1",
                                  str(sources / "paired.mp4"))
    assert items[1].audio is None and items[1].speaker == "silent"


def test_prepared_latents_render_back_to_the_frames(dataset, media):
    """Ties the data engine to the latent space: the stored latents of a clip, rendered on its
    own first frame, reproduce the later frames far better than the first frame held still."""
    from vasa.portrait import encode_frame
    from vasa.render import Renderer

    frames, _ = media
    out, _ = dataset
    ds = Dataset(out)
    seg = next(s for s in ds.segments if s.source.endswith("inside.mp4"))
    m = ds.motion(seg)
    pose, dyn = ds.column(m, "pose"), ds.column(m, "dynamics")
    renderer = Renderer(encode_frame(frames[seg.start_frame], "first"))
    lm = renderer.portrait.landmarks
    x0, y0 = np.floor(lm[:, :2].min(0)).astype(int)
    x1, y1 = np.ceil(lm[:, :2].max(0)).astype(int)

    def psnr(a, b):
        d = (a[y0:y1, x0:x1].astype(float) - b[y0:y1, x0:x1].astype(float)) ** 2
        return 10 * np.log10(255**2 / d.mean())

    rendered, still = [], []
    for t in range(5, seg.frames, 9):
        real = frames[seg.start_frame + t]
        rendered.append(psnr(renderer.render(pose[t], dyn[t]), real))
        still.append(psnr(frames[seg.start_frame], real))
    assert np.mean(rendered) > 24 and np.mean(rendered) > np.mean(still) + 2


def test_train_motion_on_a_prepared_dataset_resumes_and_keeps_the_best(dataset, tmp_path):
    """`vasa train motion` on the dataset above: exports, best-by-validation, resume."""
    import csv

    import torch

    from vasa.motion.checkpoint import load_model
    from vasa.motion.config import MotionConfig
    from vasa.motion.train import TrainMotionConfig, train_motion

    torch.manual_seed(0)
    out, _ = dataset
    model = MotionConfig(window=8, prev=2, width=32, layers=1, heads=2)
    cfg = TrainMotionConfig(steps=6, batch=4, warmup=2, eval_every=3, save_every=3, model=model)
    run = tmp_path / "run"
    path = train_motion(out, run, cfg, progress=False)
    assert load_model(path).net.cfg == model and (run / "last.pt").is_file()
    has_val = bool(Dataset(out).split("val"))
    assert (run / "best.pt").is_file() == has_val
    cfg.steps = 9
    train_motion(out, run, cfg, progress=False)  # resumes at step 6
    with (run / "log.csv").open() as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == [3, 6, 9] and load_model(path).info["steps"] == 9


def test_train_motion_resume_is_safe_with_bad_leftovers(dataset, tmp_path):
    """A crash after a log row but before the checkpoint leaves rows past last.pt: the resumed
    log has each step once, in order. Another --width, or a corrupt last.pt, is a clear error
    naming the file, not a traceback or a silent restart."""
    import csv

    from vasa.motion.config import MotionConfig
    from vasa.motion.train import TrainMotionConfig, train_motion

    out, _ = dataset
    model = MotionConfig(window=8, prev=2, width=32, layers=1, heads=2)
    cfg = TrainMotionConfig(steps=6, batch=4, warmup=2, eval_every=3, save_every=6, model=model)
    run = tmp_path / "run"
    train_motion(out, run, cfg, progress=False)
    with (run / "log.csv").open("a") as f:
        f.write("9,0.1,0.1,1e-4,1.0\n")  # logged by a run killed before its next save
    cfg.steps = 9
    train_motion(out, run, cfg, progress=False)
    with (run / "log.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [3, 6, 9]
    wide = TrainMotionConfig(steps=12, batch=4, model=MotionConfig(window=8, prev=2, width=64,
                                                                    layers=1, heads=2))
    with pytest.raises(ValueError, match="last.pt: this run was started with another model: "
                                         "width 32 \\(asked 64\\)"):
        train_motion(out, run, wide, progress=False)
    (run / "last.pt").write_bytes(b"PK\x03\x04 not a checkpoint")
    with pytest.raises(ValueError, match="last.pt: not a readable training checkpoint"):
        train_motion(out, run, cfg, progress=False)


def test_motion_segments_undo_an_av_offset(dataset):
    """`--av-offsets`: a segment whose audio runs 3 frames late trains on audio[3:] against
    motion[:-3]; segments without an entry are left as they are."""
    from vasa.motion.data import load_segments

    out, _ = dataset
    ds = Dataset(out)
    recs = [s for s in ds.split("train") if s.has_audio]
    if not recs:
        pytest.skip("no train segment with audio in the tiny dataset")
    plain = load_segments(ds, "train", 8)
    moved = load_segments(ds, "train", 8, {recs[0].name: 3})
    i = [s for s in ds.split("train") if s.frames >= 8].index(recs[0])
    np.testing.assert_array_equal(moved[i].motion, plain[i].motion[:-3])
    np.testing.assert_array_equal(moved[i].audio, plain[i].audio[3:])
    for j in range(len(plain)):
        if j != i:
            np.testing.assert_array_equal(moved[j].motion, plain[j].motion)
