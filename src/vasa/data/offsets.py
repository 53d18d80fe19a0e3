"""Audio-video offsets of dataset segments: undoing one, and the offsets file that
`vasa train sync` writes and `vasa train motion / capp --av-offsets` read.

Below both the motion generator and the evaluators: a data utility, so neither imports the
other for it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vasa.io import atomic_output


def align(video: np.ndarray, audio: np.ndarray, offset: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """Undo an AV offset (sync_scores' sign: +N = the sound of video frame t is at audio frame
    t + N): returns (video', audio') of equal length with audio'[t] the sound of video'[t]."""
    if offset > 0:
        audio = audio[offset:]
    elif offset < 0:
        video = video[-offset:]
    t = min(len(video), len(audio))
    return video[:t], audio[:t]


def write_av_offsets(path: str | Path, table: dict) -> None:
    """Write an offsets file atomically: `table` holds "segments", a list of rows with at least
    "segment" (SegmentRecord.name) and "applied" (the offset undone before training)."""
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(table, indent=1))


def load_av_offsets(path: str | Path) -> dict[str, int]:
    """Segment name -> AV offset to undo, from the `<stem>_offsets.json` that `train_sync`
    writes (its `applied` column: out-of-fold offsets the sync metric was confident about);
    read by `vasa train capp / motion --av-offsets`."""
    path = Path(path)
    try:
        rows = json.loads(path.read_text())["segments"]
        return {r["segment"]: int(r["applied"]) for r in rows}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not an offsets file written by `vasa train sync` ({e})") from e
