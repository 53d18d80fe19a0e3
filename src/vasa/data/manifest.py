"""The data manifest (TSV) and the speaker-disjoint train/validation split."""

from __future__ import annotations

import csv
import zlib
from dataclasses import dataclass
from pathlib import Path

VALIDATION_PERCENT = 15  # share of speakers held out; chosen by a stable hash of the label


@dataclass(frozen=True)
class ManifestItem:
    """One row of a MANIFEST.tsv: `video` and `audio` are absolute paths (audio may be None)."""

    video: Path
    audio: Path | None
    kind: str
    speaker: str
    fps: float | None


def speaker_of(item: ManifestItem) -> str:
    """Speaker label; items without one count as their own speaker (named by the file)."""
    return item.speaker or item.video.stem


def is_validation(speaker: str) -> bool:
    """Deterministic, speaker-disjoint split: the same speaker is always on the same side."""
    return zlib.crc32(speaker.encode()) % 100 < VALIDATION_PERCENT


def read_manifest(path: str | Path, kinds: tuple[str, ...] = ("clips", "silent")
                  ) -> list[ManifestItem]:
    """Rows of a manifest whose `kind` is in `kinds`, paths resolved against its folder."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: manifest not found")
    root = path.parent
    items = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row.get("kind") not in kinds or not row.get("file"):
                continue
            audio = row.get("audio") or None
            fps = row.get("fps") or None
            items.append(ManifestItem(video=root / row["file"],
                                      audio=root / audio if audio else None, kind=row["kind"],
                                      speaker=row.get("speaker", ""),
                                      fps=float(fps) if fps else None))
    return items
