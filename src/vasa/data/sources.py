"""Finding the source items of a dataset: manifests (TSV) and folders to scan."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

from vasa.data.manifest import read_manifest

VIDEO_EXT = {".mp4", ".mov", ".avi", ".mpg", ".mpeg", ".webm", ".mkv", ".m4v"}
AUDIO_EXT = {".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg"}
IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp"}
MIN_FOLDER_FRAMES = 5


@dataclass(frozen=True)
class SourceItem:
    """One video to prepare. video: a file or a folder of frames; audio: a separate audio file,
    or None to use the video's own track (if any); key: stable name used for sharding."""

    video: Path
    audio: Path | None
    speaker: str
    key: str

    def shard(self, n: int) -> int:
        """Which of n shards takes this item: stable across machines and runs."""
        return zlib.crc32(self.key.encode()) % n


def _is_frame_folder(path: Path) -> bool:
    files = [p for p in path.iterdir() if p.is_file()]
    images = [p for p in files if p.suffix.lower() in IMAGE_EXT]
    return len(images) >= MIN_FOLDER_FRAMES and not any(p.suffix.lower() in VIDEO_EXT for p in files)


def _paired_audio(video: Path) -> Path | None:
    """An audio file with the same name stem next to the video (a frame folder's name)."""
    stem = video.stem if video.is_file() else video.name
    for ext in sorted(AUDIO_EXT):
        for cand in (video.with_name(stem + ext), video.with_name(stem + ext.upper())):
            if cand.is_file():
                return cand
    if video.is_dir() and video.name.endswith("_frames"):
        return _paired_audio(video.with_name(video.name[: -len("_frames")]))
    return None


def scan_folder(root: Path) -> tuple[list[SourceItem], list[Path]]:
    """Videos and frame folders under `root`, each with its same-stem audio file, and the
    audio-only files that have no video (returned so the report can say they were skipped).

    Speaker: the first folder under `root` (VoxCeleb-style `id/video/clip.mp4`), or the file's
    own stem when it sits directly in `root`.
    """
    items, used_audio, audio_files = [], set(), []
    for path in sorted(root.rglob("*")):
        if path.is_dir():
            if not _is_frame_folder(path):
                continue
        elif path.suffix.lower() in AUDIO_EXT:
            audio_files.append(path)
            continue
        elif path.suffix.lower() not in VIDEO_EXT:
            continue
        rel = path.relative_to(root)
        speaker = rel.parts[0] if len(rel.parts) > 1 else (path.stem if path.is_file() else path.name)
        audio = _paired_audio(path)
        if audio is not None:
            used_audio.add(audio)
        items.append(SourceItem(path, audio, speaker, str(rel)))
    orphans = [a for a in audio_files if a not in used_audio]
    return items, orphans


def read_manifest_items(path: Path, kinds: tuple[str, ...] = ("clips", "silent")
                        ) -> list[SourceItem]:
    """Items of a TSV manifest (`vasa.data.manifest`): columns `file`, `audio` (empty: none;
    the file itself: its own track), optional `speaker` and `kind`."""
    return [SourceItem(m.video, None if m.audio in (None, m.video) else m.audio, m.speaker,
                       m.name) for m in read_manifest(path, kinds)]


def discover(sources: list[str | Path]) -> tuple[list[SourceItem], list[Path]]:
    """All items of the given manifests (.tsv) and folders; plus audio-only files found."""
    items, orphans = [], []
    for src in map(Path, sources):
        if src.is_dir():
            found, alone = scan_folder(src)
            items += found
            orphans += alone
        elif src.is_file() and src.suffix.lower() == ".tsv":
            items += read_manifest_items(src)
        elif src.is_file() and src.suffix.lower() in VIDEO_EXT:
            items.append(SourceItem(src, _paired_audio(src), src.stem, src.name))
        elif src.is_file() and src.suffix.lower() in AUDIO_EXT:
            orphans.append(src)
        else:
            raise FileNotFoundError(f"{src}: not a folder, a .tsv manifest or a video file")
    return items, orphans


def content_hash(paths: list[Path | None], settings: str) -> str:
    """Hash of the media bytes (a frame folder: its file names and bytes) and of the settings."""
    h = hashlib.sha1(settings.encode())
    for p in paths:
        if p is None:
            h.update(b"<none>")
            continue
        files = sorted(q for q in p.iterdir() if q.is_file()) if p.is_dir() else [p]
        for q in files:
            h.update(q.name.encode())
            if not q.exists():
                continue
            with q.open("rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
    return h.hexdigest()[:16]
