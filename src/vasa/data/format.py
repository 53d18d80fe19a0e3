"""The on-disk dataset format (schema version 1), written by `vasa prepare`.

    DATASET_DIR/
      dataset.json                 DatasetMeta: schema, motion fps, basis and audio extractor ids,
                                   column layout of the motion arrays
      index.json                   every kept segment (SegmentRecord) with its split; built by
                                   the merge step from the reports
      reports/<clip_id>.json       ClipReport per source item: kept or dropped, with reasons.
                                   Written last, atomically: a clip is done iff its report exists
      clips/<clip_id>/<k>.motion.npy   (T, C) float32 per-frame values, columns in dataset.json
      clips/<clip_id>/<k>.audio.npy    (T, F) float32 audio features (absent if audio-less)

One float32 matrix per segment and stream: a training loader memory-maps it (np.load with
mmap_mode="r") and slices windows without reading the rest. `clip_id` is a content hash of the
source media and of the settings, so a re-run skips what is done and a changed setting is
never mixed with old results.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vasa.io import atomic_output

SCHEMA_VERSION = 1
EMOTION_DIM = 7


def column_layout(dynamics_dim: int) -> dict[str, tuple[int, int]]:
    """Column ranges of a motion matrix: name -> (start, stop)."""
    widths = [("pose", 6), ("dynamics", dynamics_dim), ("gaze", 2), ("eye_open", 2),
              ("face_scale", 1), ("emotion", EMOTION_DIM), ("confidence", 1)]
    out, start = {}, 0
    for name, w in widths:
        out[name] = (start, start + w)
        start += w
    return out


@dataclass
class DatasetMeta:
    """dataset.json. columns: motion-matrix layout; audio_extractor: id of the feature extractor
    (e.g. "logmel+prosody@1"); basis_version: the face basis the latents were encoded with."""

    motion_fps: float
    basis_version: str
    dynamics_dim: int
    audio_extractor: str
    audio_dim: int
    columns: dict[str, tuple[int, int]]
    schema_version: int = SCHEMA_VERSION
    settings: dict = field(default_factory=dict)

    def save(self, root: Path) -> None:
        write_json(root / "dataset.json", asdict(self))

    @staticmethod
    def load(root: Path) -> DatasetMeta:
        path = root / "dataset.json"
        if not path.is_file():
            raise FileNotFoundError(f"{root}: not a vasa dataset (no dataset.json)")
        raw = json.loads(path.read_text())
        if raw.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"{path}: dataset schema {raw.get('schema_version')}, this vasa reads "
                             f"schema {SCHEMA_VERSION}: rebuild it with `vasa prepare`")
        raw["columns"] = {k: tuple(v) for k, v in raw["columns"].items()}
        return DatasetMeta(**raw)

    def check_compatible(self, basis_version: str, audio_extractor: str, where: str) -> None:
        """Refuse to mix latents or audio features made with another basis or extractor."""
        if self.basis_version != basis_version:
            raise ValueError(f"{where}: dataset encoded with face basis {self.basis_version}, "
                             f"expected {basis_version}")
        if self.audio_extractor != audio_extractor:
            raise ValueError(f"{where}: dataset audio features are {self.audio_extractor}, "
                             f"expected {audio_extractor}")


@dataclass
class SegmentRecord:
    """One continuous stretch of one face in one source, stored as arrays `clips/<clip_id>/<k>`.

    gaze: main gaze (theta, phi) radians; face_scale: the clip's median face scale; distance:
    head distance normalised by the dataset median (filled at merge); emotion: emotion offset."""

    clip_id: str
    k: int
    source: str
    speaker: str
    start_frame: int
    frames: int
    has_audio: bool
    gaze: tuple[float, float]
    face_scale: float
    emotion: list[float]
    split: str = ""
    distance: float = 1.0

    @property
    def name(self) -> str:
        return f"{self.clip_id}/{self.k}"

    @property
    def seconds(self) -> float:
        return self.frames / 25.0


@dataclass
class ClipReport:
    """reports/<clip_id>.json. status: 'kept' or 'dropped'; reasons: why frames or the whole
    clip were dropped, each with a count; warnings: kept-but-noted (trimmed audio...)."""

    clip_id: str
    source: str
    audio: str
    speaker: str
    status: str
    frames_total: int = 0
    frames_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    segments: list[SegmentRecord] = field(default_factory=list)
    has_audio: bool = False
    seconds_taken: float = 0.0

    def drop(self, reason: str, frames: int) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + frames

    @staticmethod
    def from_json(raw: dict) -> ClipReport:
        raw = dict(raw)
        raw["segments"] = [SegmentRecord(**{**s, "gaze": tuple(s["gaze"])})
                           for s in raw.get("segments", [])]
        return ClipReport(**raw)


def write_json(path: Path, obj: object) -> None:
    """Atomic JSON write: a crash leaves the old file or the new one, never half of one."""
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=1) + "\n")


def write_array(path: Path, array: np.ndarray) -> None:
    """Atomic .npy write."""
    with atomic_output(path) as tmp:  # the temporary name keeps .npy: numpy adds none
        np.save(tmp, np.ascontiguousarray(array, np.float32))


def load_array(path: Path) -> np.ndarray:
    """A segment's (T, C) float32 matrix, memory-mapped. Errors name the file: numpy's own
    ("cannot reshape array", "Failed to interpret file as a pickle") do not."""
    if not path.is_file():
        why = "broken symbolic link or symlink loop" if path.is_symlink() else "file not found"
        raise FileNotFoundError(f"{path}: {why} (the dataset is incomplete: run `vasa prepare` "
                                "again)")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise ValueError(f"{path}: corrupt array ({err}); delete its clip's report and run "
                         "`vasa prepare` again") from None
    if array.ndim != 2 or array.dtype != np.float32:
        raise ValueError(f"{path}: expected a 2-D float32 array, got {array.dtype} "
                         f"{array.shape}")
    return array


class Dataset:
    """Read side: `Dataset(dir)` checks the schema; arrays are memory-mapped on access."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.meta = DatasetMeta.load(self.root)
        index = self.root / "index.json"
        if not index.is_file():
            raise FileNotFoundError(f"{self.root}: no index.json (run `vasa prepare --merge`)")
        raw = json.loads(index.read_text())
        self.segments = [SegmentRecord(**{**s, "gaze": tuple(s["gaze"])})
                         for s in raw["segments"]]
        self.reports = [ClipReport.from_json(r) for r in raw["reports"]]

    def split(self, name: str) -> list[SegmentRecord]:
        return [s for s in self.segments if s.split == name]

    def motion(self, seg: SegmentRecord) -> np.ndarray:
        """(T, C) float32, memory-mapped."""
        return load_array(self.root / "clips" / seg.clip_id / f"{seg.k}.motion.npy")

    def audio(self, seg: SegmentRecord) -> np.ndarray | None:
        """(T, F) float32 audio features, memory-mapped, or None for audio-less segments."""
        if not seg.has_audio:
            return None
        return load_array(self.root / "clips" / seg.clip_id / f"{seg.k}.audio.npy")

    def column(self, motion: np.ndarray, name: str) -> np.ndarray:
        """A named column block of a motion matrix, e.g. column(m, "pose") -> (T, 6)."""
        a, b = self.meta.columns[name]
        return motion[:, a:b]
