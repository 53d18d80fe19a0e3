"""Motion model files: weights, config, normaliser, and what they depend on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vasa.compat import check_trained_with
from vasa.files import atomic_output
from vasa.motion.config import DEFAULT_MODEL, MotionConfig
from vasa.motion.dit import MotionDiT
from vasa.motion.onnx_dit import OnnxDiT, beside, export_dit

FORMAT = 1


@dataclass
class Normalizer:
    """Feature means and stds of the training split: stored in the model file (as tensors, so
    it loads with weights_only=True) and applied at inference."""

    motion_mean: np.ndarray
    motion_std: np.ndarray
    audio_mean: np.ndarray
    audio_std: np.ndarray

    def motion(self, x: np.ndarray) -> np.ndarray:
        return (x - self.motion_mean) / self.motion_std

    def motion_inverse(self, x: np.ndarray) -> np.ndarray:
        return x * self.motion_std + self.motion_mean

    def audio(self, a: np.ndarray) -> np.ndarray:
        return (a - self.audio_mean) / self.audio_std

    def state(self) -> dict:
        return {k: torch.as_tensor(v) for k, v in self.__dict__.items()}

    @staticmethod
    def from_state(state: dict) -> Normalizer:
        return Normalizer(**{k: np.asarray(v, np.float32) for k, v in state.items()})


@dataclass
class MotionModel:
    """A trained generator: the network (eval mode), its normaliser, and the ids of the audio
    extractor and face basis it was trained with."""

    net: MotionDiT
    norm: Normalizer
    extractor: str
    basis_version: str
    info: dict
    exported: OnnxDiT | None = None  # the file's ONNX export (`onnx_dit`), where it matches

    @property
    def infer(self) -> MotionDiT | OnnxDiT:
        """What sampling calls: the export when there is one (the same network, faster on a
        CPU), else the network."""
        return self.exported or self.net


def save_model(path: str | Path, net: MotionDiT, norm: Normalizer, extractor: str,
               basis_version: str, info: dict, half: bool = True) -> None:
    """Write a model file atomically (fp16 weights by default: half the size, same samples
    within the tolerance the renderer can show)."""
    state = {k: (v.half() if half and v.is_floating_point() else v)
             for k, v in net.state_dict().items()}
    with atomic_output(path) as tmp:
        torch.save({"format": FORMAT, "config": net.cfg.to_dict(), "state": state,
                    "norm": norm.state(), "extractor": extractor,
                    "basis_version": basis_version, "info": info}, tmp)


def load_torch_file(path: Path, what: str) -> dict:
    """A torch file's dict, unpickled with weights_only=True: tensors, numbers, strings, lists
    and dicts only, so a crafted file cannot run code when loaded. Errors name the file."""
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (pickle, zip and torch errors alike: not ours)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path}: not a readable {what} file ({first[:200]})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: not a {what} file ({type(raw).__name__})")  # noqa: TRY004
    return raw


def load_model(path: str | Path = DEFAULT_MODEL, extractor: str | None = None,
               basis_version: str | None = None) -> MotionModel:
    """Load a model file; refuse one made for another audio extractor or face basis. Its ONNX
    export beside it, made from this very file, is loaded too (`MotionModel.infer`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: motion model not found (train one with "
                                "`vasa train motion`)")
    raw = load_torch_file(path, "motion model")
    if raw.get("format") != FORMAT:
        raise ValueError(f"{path}: motion model format {raw.get('format')}, expected {FORMAT}")
    check_trained_with(path, "vasa train motion", raw["extractor"], raw["basis_version"],
                       extractor, basis_version)
    net = MotionDiT(MotionConfig.from_dict(raw["config"]))
    net.load_state_dict({k: v.float() for k, v in raw["state"].items()})
    net.eval()
    return MotionModel(net, Normalizer.from_state(raw["norm"]), raw["extractor"],
                       raw["basis_version"], raw.get("info", {}),
                       beside(path, net.cfg))


def export_model(path: str | Path, out: str | Path | None = None) -> Path:
    """Export a model file to ONNX (`onnx_dit`), to `out` (default: beside it), from its weights
    as stored, so the graph computes what the file does. Returns the export's path."""
    return export_dit(load_model(path).net, path, out)
