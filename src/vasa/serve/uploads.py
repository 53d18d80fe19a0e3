"""Portrait uploads: checked and decoded in memory, kept in memory, never written to disk.

Nothing a client sends becomes a path: an upload is bytes in, a random id out, and a session
names its portrait by that id or "bundled". So there is no file to leave behind and no path to
traverse. Limits: the file size (by the server's request-size limit), the type (by the file's
own magic bytes, not the name or the Content-Type a client claims) and the pixel count (read
from the header before decoding, so a small file cannot unpack into gigabytes: the shared image
reader's check, `vasa.portrait.MAX_IMAGE_PIXELS`, the same as the CLI's).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from vasa.portrait import ImageTooLargeError, Portrait
from vasa.portrait import decode_image as decode_any_image

MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_MAGIC = {"JPEG": (b"\xff\xd8\xff",), "PNG": (b"\x89PNG\r\n\x1a\n",),
               "WEBP": (b"RIFF",), "BMP": (b"BM",)}


class UploadError(ValueError):
    """An upload the server refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _image_kind(data: bytes) -> str | None:
    for kind, magics in IMAGE_MAGIC.items():
        if any(data.startswith(m) for m in magics):
            if kind == "WEBP" and data[8:12] != b"WEBP":
                continue
            return kind
    return None


def decode_image(data: bytes) -> np.ndarray:
    """RGB uint8 (H, W, 3) from JPEG/PNG/WebP/BMP bytes; UploadError with the reason otherwise."""
    if not data:
        raise UploadError("empty upload: send the image file as the request body")
    if len(data) > MAX_IMAGE_BYTES:
        raise UploadError(f"image of {len(data)} bytes: at most {MAX_IMAGE_BYTES}", 413)
    kind = _image_kind(data)
    if kind is None:
        raise UploadError("not a JPEG, PNG, WebP or BMP image", 415)
    try:
        return decode_any_image(data, f"uploaded {kind}")
    except ImageTooLargeError as err:
        raise UploadError(str(err), 413) from None
    except ValueError as err:
        raise UploadError(str(err)) from None


@dataclass
class _Entry:
    portrait: Portrait
    added: float


class PortraitStore:
    """Uploaded portraits by random id, in memory: at most `capacity`, each for at most
    `ttl_s` unless a session holds it; the oldest go first."""

    def __init__(self, capacity: int = 16, ttl_s: float = 600.0) -> None:
        self.capacity, self.ttl_s = capacity, ttl_s
        self._items: OrderedDict[str, _Entry] = OrderedDict()
        self._held: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def add(self, portrait: Portrait) -> str:
        now = time.monotonic()
        for key in [k for k, e in self._items.items()
                    if now - e.added > self.ttl_s and not self._held.get(k)]:
            del self._items[key]
        while len(self._items) >= self.capacity:
            free = next((k for k in self._items if not self._held.get(k)), None)
            if free is None:
                raise UploadError("too many portraits in use; try again later", 503)
            del self._items[free]
        key = secrets.token_urlsafe(16)
        self._items[key] = _Entry(portrait, now)
        return key

    def acquire(self, key: str) -> Portrait:
        """The portrait for a session; KeyError for an unknown or expired id."""
        entry = self._items[key]
        self._held[key] = self._held.get(key, 0) + 1
        return entry.portrait

    def release(self, key: str) -> None:
        """The session is over: an uploaded portrait is used by one session, then dropped."""
        self._held[key] = self._held.get(key, 1) - 1
        if self._held[key] <= 0:
            self._held.pop(key, None)
            self._items.pop(key, None)
