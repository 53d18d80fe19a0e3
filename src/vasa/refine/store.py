"""The refiner pair set's pictures on disk: crops as concatenated JPEGs in one array.

JPEG (quality 90) keeps a 128 px pair near 7 KB, so a set of thousands of pairs stays small
enough to carry to a GPU machine; decoding it is a loop of cv2.imdecode (numpy and OpenCV only,
so the trainer runs where neither the tracker nor the video stack is installed).
"""

from __future__ import annotations

from itertools import pairwise

import cv2
import numpy as np

JPEG_QUALITY = 90


def pack_jpeg(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(bytes (B,) uint8, offsets (N + 1,) int64) of RGB images as concatenated JPEGs."""
    blobs = []
    for im in images:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(im, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise ValueError("pack_jpeg: cannot encode")
        blobs.append(buf.reshape(-1))
    return _concatenate(blobs)


def _concatenate(blobs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(blobs) + 1, np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    data = np.concatenate(blobs) if blobs else np.zeros(0, np.uint8)
    return data, offsets


def take_jpeg(data: np.ndarray, offsets: np.ndarray, keep: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """The images `keep` (indices) of `pack_jpeg`'s output, in its form, without re-encoding."""
    return _concatenate([data[offsets[i]:offsets[i + 1]] for i in keep])


def unpack_jpeg(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB from `pack_jpeg`'s output."""
    out = [cv2.cvtColor(cv2.imdecode(data[a:b], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
           for a, b in pairwise(offsets)]
    return np.stack(out)
