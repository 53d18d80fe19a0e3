"""The face regions a refiner can redraw, and what differs between them: the crop's size, the
landmark points kept per pair, the masks the network is given and the paste mask its loss is
weighted by. Training, export and the pair builder read a region from here by name; the pair
set's index.json records which one it holds, so `vasa train refiner` needs no flag for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vasa.render import eye_crop as ec
from vasa.render import mouth_crop as mc


@dataclass(frozen=True)
class Region:
    """name; size: (height, width) of the crop; points: the npz field holding each pair's
    landmark points in crop pixels; masks: points -> (2, H, W) float32 network masks;
    paste_mask: points -> (H, W) float32 paste mask; opening: which of the masks is the
    region's opening (the mouth's inside, the eyes' visible eyeball), where teeth or an eyeball
    are drawn rather than skin; stem: the run's file names (`<stem>.pt`, `<stem>.int8.onnx`),
    the bundled asset's name."""

    name: str
    size: tuple[int, int]
    points: str
    masks: Callable[[np.ndarray], np.ndarray]
    paste_mask: Callable[[np.ndarray], np.ndarray]
    opening: int
    stem: str


REGIONS = {
    "mouth": Region("mouth", (mc.CROP, mc.CROP), "lips", mc.lip_masks, mc.paste_mask, 1,
                    "refiner"),
    "eyes": Region("eyes", (ec.HEIGHT, ec.WIDTH), "eyes", ec.eye_masks, ec.paste_mask, 0,
                   "eye_refiner"),
}


def region(name: str) -> Region:
    if name not in REGIONS:
        raise ValueError(f"unknown refiner region {name!r} (one of {', '.join(REGIONS)})")
    return REGIONS[name]
