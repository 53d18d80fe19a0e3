"""Shared media plumbing: the user-facing error type, opening with PyAV, atomic output files.

Kept apart from ``video.py``/``audio.py`` so both (and other writers, e.g. PNG sheets) can use
it without importing each other. ``vasa.io.video`` re-exports :class:`MediaError` and
:func:`atomic_output`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import av


class MediaError(ValueError):
    """A media file cannot be read or written; the message starts with the path and the problem.

    Example messages: ``"clip.mp4: no video stream"``, ``"x.wav: cannot decode audio (...)"``.
    """


def reason(e: BaseException) -> str:
    """Short cause for a message: FFmpeg/OS errors repeat errno and path in ``str(e)``."""
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def check_exists(path: str) -> None:
    """Raise :class:`MediaError` ``"<path>: file not found"`` if ``path`` does not exist."""
    if not os.path.exists(path):
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


def reserve_temp(path: str) -> str:
    """Create an empty, uniquely named hidden file ``.NAME.tmp-XXXXXXXX.SUFFIX`` next to ``path``.

    Raises :class:`MediaError` naming the directory if it does not exist.
    """
    out_dir = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(out_dir):
        raise MediaError(f"{out_dir}: output directory does not exist")
    name, suffix = os.path.basename(path), Path(path).suffix
    for _ in range(100):
        tmp = os.path.join(out_dir, f".{name}.tmp-{secrets.token_hex(4)}{suffix}")
        try:
            # O_EXCL avoids clobbering a concurrent writer; mode 0o666 lets the umask decide
            # the final permissions (mkstemp would leave the output private, 0o600).
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
        except OSError as e:
            raise MediaError(f"{path}: cannot create output file ({reason(e)})") from e
    raise MediaError(f"{path}: cannot create a unique temporary file")


def remove_quietly(path: str) -> None:
    """Delete ``path`` if it exists."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path next to ``path`` (same suffix); rename it to ``path`` on success.

    The temporary file already exists (empty) when yielded; write over it. On an exception the
    temporary file is removed and ``path`` is left untouched, so readers never see a
    half-written file. The output directory must exist, else :class:`MediaError` is raised
    before the ``with`` body runs.
    """
    path = os.fspath(path)
    tmp = reserve_temp(path)
    try:
        yield tmp
    except BaseException:
        remove_quietly(tmp)
        raise
    os.replace(tmp, path)
