"""Build the bundled public-domain demo assets in src/vasa/assets/ (run once, committed).

- astronaut.jpg: NASA portrait of astronaut Eileen Collins, public domain, as shipped by
  scikit-image (`skimage.data.astronaut`), re-encoded as JPEG.
- obama_address_8s.mp4: the first 8 s of a US presidential weekly address (Barack Obama; a
  work of the US federal government, public domain) from ../shared/data, 25 fps, 360 px, AAC.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2

from vasa.io import VideoWriter, load_audio, read_frames

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src" / "vasa" / "assets"
DATA = ROOT.parent / "shared" / "data"
CLIP = DATA / "clips" / "EDTalk__test_data__uncrop_Obama.mp4"
SECONDS, FPS, SIDE, RATE = 8.0, 25.0, 360, 22050


def main() -> int:
    import skimage.data  # only needed to make the asset, not a dependency of vasa

    img = skimage.data.astronaut()
    cv2.imwrite(str(ASSETS / "astronaut.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 92])
    n = int(SECONDS * FPS)
    audio = load_audio(CLIP, RATE)[: int(SECONDS * RATE)]
    with VideoWriter(ASSETS / "obama_address_8s.mp4", FPS, audio, RATE, crf=24) as w:
        for i, frame in enumerate(read_frames(CLIP, fps=FPS, max_side=SIDE)):
            if i >= n:
                break
            w.write(frame)
    return 0


if __name__ == "__main__":
    sys.exit(main())
