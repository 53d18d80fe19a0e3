"""Files the project writes: the user-facing error for a bad file, and atomic output.

Every output (videos, checkpoints, datasets, PNG sheets, ONNX graphs) is written to a temporary
name beside its final path and renamed when complete, so no reader ever sees half a file. Kept
apart from `vasa.io` (whose decoders need PyAV) so that the trainers run where only numpy,
OpenCV and torch are installed (a GPU machine). `vasa.io` re-exports all of it.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path


class MediaError(ValueError):
    """A media file cannot be read or written; the message starts with the path and the problem.

    Example messages: ``"clip.mp4: no video stream"``, ``"x.wav: cannot decode audio (...)"``.
    """


def reason(e: BaseException) -> str:
    """Short cause for a message: FFmpeg/OS errors repeat errno and path in ``str(e)``."""
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


# Our temporary files: ".NAME.tmp-" + 8 hex digits + NAME's suffix (reserve_temp).
_TEMP_NAME = re.compile(r"\..+\.tmp-[0-9a-f]{8}(\.[^.]*)?")
# A temporary file untouched this long is a dead run's (SIGKILL, power loss): a live writer
# appends as it encodes, seconds apart. The name holds no pid to ask, and a pid would mean
# nothing on another machine sharing the folder, so age is the test.
STALE_TEMP_S = 30 * 60
_swept: set[str] = set()  # folders already swept by this process


def sweep_stale_temps(out_dir: str) -> list[str]:
    """Delete our temporary files in ``out_dir`` left by runs that died (older than
    STALE_TEMP_S); once per folder and process. Returns the paths removed."""
    if out_dir in _swept:
        return []
    _swept.add(out_dir)
    removed, now = [], time.time()
    try:
        entries = list(os.scandir(out_dir))
    except OSError:
        return []
    for e in entries:
        try:
            if (_TEMP_NAME.fullmatch(e.name) and e.is_file(follow_symlinks=False)
                    and now - e.stat(follow_symlinks=False).st_mtime > STALE_TEMP_S):
                os.remove(e.path)
                removed.append(e.path)
        except OSError:  # gone meanwhile, or not ours to delete: leave it
            continue
    return removed


def reserve_temp(path: str, claim: Callable[[str | None], None] | None = None) -> str:
    """Create an empty, uniquely named hidden file ``.NAME.tmp-XXXXXXXX.SUFFIX`` next to ``path``.

    Raises :class:`MediaError` naming the directory if it does not exist, or naming ``path`` if
    it is a folder (checked now, not after the work at the final rename). Stale temporary files
    of dead runs in that directory are swept first (:func:`sweep_stale_temps`).

    ``claim``: told each name before the file is created (and None if that name was taken), so
    a caller's clean-up already knows the file when a signal (Ctrl-C) lands between its
    creation and this function's return; else the file would be left behind.
    """
    out_dir = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(out_dir):
        raise MediaError(f"{out_dir}: output directory does not exist")
    if os.path.isdir(path):
        raise MediaError(f"{path}: is a folder, not a file name")
    sweep_stale_temps(out_dir)
    name, suffix = os.path.basename(path), Path(path).suffix
    claim = claim or (lambda _: None)
    for _ in range(100):
        tmp = os.path.join(out_dir, f".{name}.tmp-{secrets.token_hex(4)}{suffix}")
        claim(tmp)
        try:
            # O_EXCL avoids clobbering a concurrent writer; mode 0o666 lets the umask decide
            # the final permissions (mkstemp would leave the output private, 0o600).
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except OSError as e:
            claim(None)  # not ours to remove: another writer's name, or nothing was made
            if isinstance(e, FileExistsError):
                continue
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
    tmp: str | None = None  # named before it is created: see reserve_temp's claim

    def claim(name: str | None) -> None:
        nonlocal tmp
        tmp = name

    try:
        reserve_temp(path, claim)
        yield tmp
    except BaseException:
        if tmp is not None:
            remove_quietly(tmp)
        raise
    os.replace(tmp, path)
