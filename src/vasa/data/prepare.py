"""`vasa prepare`: turn talking-face videos into training data for motion generation.

One source item -> decode at the motion frame rate -> track -> follow the speaker's face ->
quality control (faces, cuts, audio) -> per-frame latents, gaze, eyes, head scale, emotion,
confidence and audio features -> arrays for each kept segment -> the clip's report. Items run
in worker processes; a report is written last and marks a clip done, so a re-run (or a crashed
run) resumes where it stopped, and `--shard I/N` lets N machines split a corpus.
"""

from __future__ import annotations

import logging
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from vasa.data import qc
from vasa.data.config import PrepareConfig
from vasa.data.format import (
    ClipReport,
    DatasetMeta,
    SegmentRecord,
    column_layout,
    write_array,
    write_json,
)
from vasa.data.sources import SourceItem, content_hash
from vasa.timebase import SAMPLE_RATE

log = logging.getLogger(__name__)


def _media(item: SourceItem, fps: float, max_side: int):
    """Decode and track: (per-frame face lists, frame size, cut flags, warnings)."""
    from vasa.io import MediaError, read_frames
    from vasa.tracking import VIDEO_MAX_FACES, FaceLandmarker

    per_frame, cuts, warnings = [], [], []
    size, prev = 0, None
    with FaceLandmarker(max_faces=VIDEO_MAX_FACES, video=True) as tracker:
        frames = read_frames(item.video, fps=fps, max_side=max_side)
        i = 0
        while True:
            try:
                frame = next(frames, None)
            except MediaError as err:  # truncated file: keep what decoded
                warnings.append(f"decoding stopped at frame {i}: {err}")
                break
            if frame is None:
                break
            size = max(frame.shape[:2])
            sig = qc.frame_signature(frame)
            cuts.append(prev is not None and qc.is_cut(prev, sig))
            prev = sig
            per_frame.append(tracker.track(frame, i / fps))
            i += 1
    return per_frame, size, np.array(cuts, bool), warnings


def _audio(item: SourceItem, report: ClipReport):
    """The clip's audio at 16 kHz, or None (with the reason in the report)."""
    from vasa.io import MediaError, has_audio, load_audio

    path = item.audio or item.video
    if item.audio is None and (item.video.is_dir() or not has_audio(item.video)):
        report.warnings.append("no audio: kept as audio-less (motion prior)")
        return None
    try:
        audio = load_audio(path, SAMPLE_RATE)
    except (MediaError, FileNotFoundError) as err:
        report.warnings.append(f"audio unusable ({err}): kept as audio-less")
        return None
    level = qc.rms_dbfs(audio)
    if level < qc.SILENT_DBFS:
        report.warnings.append(f"near-silent audio ({level:.0f} dBFS): kept as audio-less")
        return None
    return audio


def _frame_values(faces: list, size: int, basis, cfg: PrepareConfig) -> np.ndarray:
    """(T, C) motion matrix of the followed face; rows of frames without a face are zero."""
    from vasa.data.conditions import gaze_angles
    from vasa.data.emotion import emotion_coefficients
    from vasa.latent.face_model import encode_landmarks

    cols = column_layout(basis.dynamics_dim)
    out = np.zeros((len(faces), cols["confidence"][1]), np.float32)
    eyes = basis.layout.eyes
    for i, f in enumerate(faces):
        if f is None:
            continue
        pose, dyn, _ = encode_landmarks(f.landmarks, basis, size)
        out[i, slice(*cols["pose"])] = pose
        out[i, slice(*cols["dynamics"])] = dyn
        out[i, slice(*cols["eye_open"])] = dyn[eyes]
        out[i, slice(*cols["face_scale"])] = pose[5]
        out[i, slice(*cols["emotion"])] = emotion_coefficients(f.blendshapes[None],
                                                               f.blendshape_names)[0]
        # Tracking confidence: share of landmarks inside the frame times a size factor, since
        # MediaPipe's Tasks API exposes no per-face score.
        xy = f.landmarks[:, :2]
        inside = np.mean((xy >= 0).all(1) & (xy < size).all(1))
        out[i, slice(*cols["confidence"])] = inside * min(1.0, f.size / 128)
    found = np.array([f is not None for f in faces])
    if found.any():
        g = gaze_angles(out[found][:, slice(*cols["dynamics"])], out[found][:, slice(*cols["pose"])])
        out[found, slice(*cols["gaze"])] = g
    return out


def process_item(item: SourceItem, root: Path, cfg: PrepareConfig) -> ClipReport:
    """Prepare one item into `root` (or return its existing report): never raises for bad
    media, which becomes a dropped clip with its reason."""
    from vasa.audio import get_extractor
    from vasa.latent.basis import default_basis

    basis, extractor = default_basis(), get_extractor(cfg.audio_features)
    t0 = time.perf_counter()
    try:
        clip_id = content_hash([item.video, item.audio],
                               cfg.fingerprint(basis.version, extractor.spec.id))
    except OSError as err:
        report = ClipReport(content_hash([], item.key), str(item.video), str(item.audio or ""),
                            item.speaker, "dropped", dropped={f"unreadable: {err}": 0})
        write_json(root / "reports" / f"{report.clip_id}.json", asdict(report))
        return report
    done = root / "reports" / f"{clip_id}.json"
    if done.is_file():
        import json

        return ClipReport.from_json(json.loads(done.read_text()))
    report = ClipReport(clip_id, str(item.video), str(item.audio or ""), item.speaker, "dropped")
    try:
        _process(item, root, cfg, basis, extractor, report)
    except Exception as err:  # noqa: BLE001 - one bad file must not end a corpus-wide run
        log.warning("%s: %s", item.video, err)
        report.status, report.segments = "dropped", []
        report.drop(f"error: {err}", report.frames_total - report.frames_kept)
        report.frames_kept = 0
        shutil.rmtree(root / "clips" / clip_id, ignore_errors=True)
    report.seconds_taken = time.perf_counter() - t0
    write_json(done, asdict(report))
    return report


def _process(item: SourceItem, root: Path, cfg: PrepareConfig, basis, extractor,
             report: ClipReport) -> None:
    from vasa.data.conditions import clip_conditions, main_gaze

    if gaps := qc.folder_gaps(item.video):
        raise ValueError(f"frame folder has gaps ({len(gaps)} missing frame numbers, "
                         f"first {gaps[0]})")
    per_frame, size, cuts, warnings = _media(item, cfg.fps, cfg.max_side)
    report.warnings += warnings
    report.frames_total = n = len(per_frame)
    if n == 0:
        raise ValueError("no video frames")
    audio = _audio(item, report)
    pick = qc.pick_speaker(per_frame)
    if pick.similar_face_frames > qc.AMBIGUOUS_SHARE * n:
        report.drop("several faces of similar size (speaker ambiguous)", n)
        return
    if pick.other_face_frames:
        report.warnings.append(f"{pick.other_face_frames} frames show another, smaller face: "
                               "kept the dominant one")
    found = np.array([f is not None for f in pick.faces])
    big = np.array([f is not None and f.size >= qc.MIN_FACE_PX for f in pick.faces])
    report.drop("no face", int((~found).sum()))
    report.drop("face too small", int((found & ~big).sum()))
    valid = big.copy()
    if audio is not None:  # align lengths: trim to the shorter, warn past the tolerance
        audio_frames = int(len(audio) / SAMPLE_RATE * cfg.fps)
        if abs(len(audio) / SAMPLE_RATE - n / cfg.fps) > qc.AV_TOLERANCE_S:
            report.warnings.append(f"audio {len(audio) / SAMPLE_RATE:.2f} s vs video "
                                   f"{n / cfg.fps:.2f}"
                                   " s: trimmed to the shorter")
        if audio_frames < n:
            report.drop("beyond the end of the audio", int(valid[audio_frames:].sum()))
            valid[audio_frames:] = False
    # A cut is a colour change of the whole frame or a jump of the followed face.
    centres = [f.landmarks[:, :2].mean(0) if f is not None else None for f in pick.faces]
    for i in range(1, n):
        a, b, f = centres[i - 1], centres[i], pick.faces[i]
        if a is not None and b is not None and np.linalg.norm(a - b) > qc.CUT_FACE_JUMP * f.size:
            cuts[i] = True
    if cuts.any():
        report.warnings.append(f"{int(cuts.sum())} shot cuts: split into segments")
    runs = qc.segments(valid, cuts)
    motion = _frame_values(pick.faces, size, basis, cfg)
    feats = extractor(audio) if audio is not None else None
    report.has_audio = feats is not None
    tmp = root / "clips" / f".tmp-{report.clip_id}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cols = column_layout(basis.dynamics_dim)
    for a, b in runs:
        if b - a < cfg.min_segment_frames:
            report.drop("segment shorter than 1 s", b - a)
            continue
        k = len(report.segments)
        m = motion[a:b]
        write_array(tmp / f"{k}.motion.npy", m)
        if feats is not None:
            f = feats[a:b]
            if len(f) < b - a:  # the last motion frame may reach past the audio's last sample
                f = np.concatenate([f, np.repeat(f[-1:], b - a - len(f), 0)])
            write_array(tmp / f"{k}.audio.npy", f)
        cond = clip_conditions(main_gaze(m[:, slice(*cols["gaze"])]),
                               m[:, slice(*cols["face_scale"])][:, 0],
                               m[:, slice(*cols["emotion"])])
        report.segments.append(SegmentRecord(
            report.clip_id, k, str(item.video), item.speaker, a, b - a, feats is not None,
            tuple(float(v) for v in cond.gaze), float(cond.face_scale),
            [float(v) for v in cond.emotion]))
        report.frames_kept += b - a
    final = root / "clips" / report.clip_id
    shutil.rmtree(final, ignore_errors=True)
    if report.segments:
        tmp.rename(final)  # arrays appear all at once; the report (written next) commits them
        report.status = "kept"
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def merge(root: Path) -> list[SegmentRecord]:
    """Build index.json from every report: speaker-disjoint split and normalised distance."""
    import json

    from vasa.data.conditions import normalise_distance
    from vasa.data.manifest import is_validation

    reports = [ClipReport.from_json(json.loads(p.read_text()))
               for p in sorted((root / "reports").glob("*.json"))]
    segs = [s for r in reports for s in r.segments]
    if segs:
        dist = normalise_distance(np.array([s.face_scale for s in segs]))
        segs = [replace(s, split="val" if is_validation(s.speaker) else "train",
                        distance=float(d)) for s, d in zip(segs, dist)]
    write_json(root / "index.json", {"segments": [asdict(s) for s in segs],
                                     "reports": [asdict(r) for r in reports]})
    return segs


def prepare(items: list[SourceItem], root: str | Path, cfg: PrepareConfig | None = None,
            workers: int = 1, shard: tuple[int, int] = (0, 1), do_merge: bool = True,
            progress: bool = True, audio_only: list[Path] | None = None) -> list[ClipReport]:
    """Prepare the items of shard `shard` = (i, n) into dataset `root`, then (by default) merge.
    audio_only: audio files found with no video, reported as skipped."""
    from tqdm import tqdm

    from vasa.audio import get_extractor
    from vasa.latent.basis import default_basis

    cfg = cfg or PrepareConfig()
    root = Path(root)
    i, n = shard
    if not 0 <= i < n:
        raise ValueError(f"shard {i}/{n}: need 0 <= I < N")
    basis, extractor = default_basis(), get_extractor(cfg.audio_features)
    meta = DatasetMeta(cfg.fps, basis.version, basis.dynamics_dim, extractor.spec.id,
                       extractor.spec.dim, column_layout(basis.dynamics_dim),
                       settings={"max_side": cfg.max_side,
                                 "min_segment_frames": cfg.min_segment_frames})
    (root / "reports").mkdir(parents=True, exist_ok=True)
    (root / "clips").mkdir(exist_ok=True)
    if (root / "dataset.json").is_file():
        old = DatasetMeta.load(root)
        old.check_compatible(basis.version, extractor.spec.id, str(root))
        if old.motion_fps != cfg.fps or old.settings != meta.settings:
            raise ValueError(f"{root}: dataset was built with other settings {old.settings}, "
                             f"{old.motion_fps} fps: use another output folder")
    else:
        meta.save(root)
    mine = [it for it in items if it.shard(n) == i]
    reports = []
    for path in audio_only or []:
        if SourceItem(path, None, "", str(path)).shard(n) == i:
            rep = ClipReport(content_hash([], str(path)), str(path), str(path), "", "dropped",
                             dropped={"audio-only file (no video)": 0})
            write_json(root / "reports" / f"{rep.clip_id}.json", asdict(rep))
            reports.append(rep)
    bar = tqdm(total=len(mine), desc="preparing", unit="clip", disable=not progress)
    if workers <= 1:  # in this process: no start-up cost, and errors are easy to follow
        for it in mine:
            reports.append(process_item(it, root, cfg))
            bar.update(1)
    else:
        with ProcessPoolExecutor(workers) as pool:
            for rep in pool.map(process_item, mine, [root] * len(mine), [cfg] * len(mine)):
                reports.append(rep)
                bar.update(1)
    bar.close()
    if do_merge:
        merge(root)
    return reports
