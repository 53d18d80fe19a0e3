"""Motion model files: weights, config, normaliser, and what they depend on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from vasa.compat import check_trained_with
from vasa.motion.config import MotionConfig
from vasa.motion.data import Normalizer
from vasa.motion.dit import MotionDiT

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "assets" / "motion_dit.pt"
FORMAT = 1


@dataclass
class MotionModel:
    """A trained generator: the network (eval mode), its normaliser, and the ids of the audio
    extractor and face basis it was trained with."""

    net: MotionDiT
    norm: Normalizer
    extractor: str
    basis_version: str
    info: dict


def save_model(path: str | Path, net: MotionDiT, norm: Normalizer, extractor: str,
               basis_version: str, info: dict, half: bool = True) -> None:
    """Write a model file atomically (fp16 weights by default: half the size, same samples
    within the tolerance the renderer can show)."""
    state = {k: (v.half() if half and v.is_floating_point() else v)
             for k, v in net.state_dict().items()}
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({"format": FORMAT, "config": net.cfg.to_dict(), "state": state,
                "norm": norm.state(), "extractor": extractor, "basis_version": basis_version,
                "info": info}, tmp)
    tmp.replace(path)


def load_model(path: str | Path = DEFAULT_MODEL, extractor: str | None = None,
               basis_version: str | None = None) -> MotionModel:
    """Load a model file; refuse one made for another audio extractor or face basis."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: motion model not found (train one with "
                                "`vasa train motion`)")
    raw = torch.load(path, map_location="cpu", weights_only=False)
    if raw.get("format") != FORMAT:
        raise ValueError(f"{path}: motion model format {raw.get('format')}, expected {FORMAT}")
    check_trained_with(path, "vasa train motion", raw["extractor"], raw["basis_version"],
                       extractor, basis_version)
    net = MotionDiT(MotionConfig.from_dict(raw["config"]))
    net.load_state_dict({k: v.float() for k, v in raw["state"].items()})
    net.eval()
    return MotionModel(net, Normalizer.from_state(raw["norm"]), raw["extractor"],
                       raw["basis_version"], raw.get("info", {}))
