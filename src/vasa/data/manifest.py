"""The data manifest (TSV) and the speaker-disjoint train/validation split."""

from __future__ import annotations

import csv
import zlib
from dataclasses import dataclass
from pathlib import Path

VALIDATION_PERCENT = 15  # share of speakers held out; chosen by a stable hash of the label


@dataclass(frozen=True)
class ManifestItem:
    """One row of a MANIFEST.tsv: `video` and `audio` are paths (audio None: no audio; equal
    to `video`: the video's own track). A row without a speaker gets one by `infer_speaker`."""

    video: Path
    audio: Path | None
    kind: str
    speaker: str
    fps: float | None
    name: str = ""  # the row's `file` entry, as written


def infer_speaker(label: str, name: str, known: set[str]) -> str:
    """A row's speaker: its label, else a known label (4+ letters) that its file name contains
    (an unlabelled `..._Obama_clip3.mp4` is Obama, and must not leak him into training), else
    the file name itself, as its own speaker."""
    if label:
        return label
    low = name.lower()
    hits = [k for k in known if len(k) >= 4 and k.lower() in low]
    return max(hits, key=len) if hits else name


def speaker_of(item: ManifestItem) -> str:
    """Speaker label; items without one count as their own speaker (named by the file)."""
    return item.speaker or item.video.stem


def is_validation(speaker: str) -> bool:
    """Deterministic, speaker-disjoint split: the same speaker is always on the same side."""
    return zlib.crc32(speaker.encode()) % 100 < VALIDATION_PERCENT


def read_manifest(path: str | Path, kinds: tuple[str, ...] = ("clips", "silent")
                  ) -> list[ManifestItem]:
    """Rows of a manifest whose `kind` (if the column exists) is in `kinds`, paths resolved
    against the manifest's folder."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: manifest not found")
    root = path.parent
    items = []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    known = {r["speaker"] for r in rows if r.get("speaker")}
    for row in rows:
        if not row.get("file") or (row.get("kind") and row["kind"] not in kinds):
            continue
        audio = row.get("audio") or None
        fps = row.get("fps") or None
        items.append(ManifestItem(video=root / row["file"],
                                  audio=root / audio if audio else None,
                                  kind=row.get("kind", ""),
                                  speaker=infer_speaker(row.get("speaker", ""),
                                                        Path(row["file"]).stem, known),
                                  fps=float(fps) if fps else None, name=row["file"]))
    return items
