"""Shared media plumbing: opening with PyAV; the error type and atomic output (`vasa.files`).

Kept apart from ``video.py``/``audio.py`` so both (and other writers, e.g. PNG sheets) can use
it without importing each other. ``vasa.io.video`` re-exports :class:`MediaError` and
:func:`atomic_output`.
"""

from __future__ import annotations

import os

import av

from vasa.files import (  # noqa: F401  (re-exported: the media modules import them from here)
    MediaError,
    atomic_output,
    reason,
    remove_quietly,
    reserve_temp,
    sweep_stale_temps,
)


def check_exists(path: str) -> None:
    """Raise :class:`MediaError` ``"<path>: file not found"`` if ``path`` does not exist."""
    if not os.path.exists(path):
        if os.path.islink(path):  # exists() follows links: a dangling one or a loop
            raise MediaError(f"{path}: broken symbolic link or symlink loop")
        raise MediaError(f"{path}: file not found")


def open_media(path: str) -> av.container.InputContainer:
    """Open ``path`` with PyAV for reading, turning FFmpeg/OS errors into :class:`MediaError`."""
    check_exists(path)
    if os.path.isdir(path):
        raise MediaError(f"{path}: is a folder, not a media file")
    if os.path.getsize(path) == 0:
        raise MediaError(f"{path}: file is empty")
    try:
        return av.open(path, mode="r")
    except (av.error.FFmpegError, OSError) as e:
        raise MediaError(f"{path}: cannot open media ({reason(e)})") from e


