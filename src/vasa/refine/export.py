"""The refiner's files: a torch checkpoint to resume or fine-tune from, and the ONNX graphs the
renderer runs (float32, and INT8 for speed: static quantisation calibrated on training pairs).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from vasa.files import atomic_output
from vasa.refine.config import RefinerConfig
from vasa.refine.net import Refiner
from vasa.render.mouth_crop import CROP, IN_CHANNELS

INPUT, OUTPUT = "x", "y"


def save_refiner(model: Refiner, path: str | Path, metrics: dict | None = None) -> None:
    with atomic_output(path) as tmp:
        torch.save({"model": model.state_dict(), "config": model.config.to_dict(),
                    "metrics": metrics or {}}, tmp)


def load_refiner(path: str | Path) -> Refiner:
    from vasa.motion.checkpoint import load_torch_file

    state = load_torch_file(Path(path), "refiner")
    model = Refiner(RefinerConfig.from_dict(state["config"]))
    model.load_state_dict(state["model"])
    return model.eval()


def export_onnx(model: Refiner, path: str | Path,
                calibration: list[np.ndarray] | None = None,
                quantized: str | Path | None = None,
                size: tuple[int, int] = (CROP, CROP)) -> None:
    """Write the float32 graph to `path` (fixed input (1, 8, H, W), `size` = (H, W): the
    region's crop); with `quantized` and `calibration` inputs ((1, 8, H, W) float32 each, real
    pairs), also the INT8 graph (QDQ, per-channel weights, activation ranges from the
    calibration inputs)."""
    model = model.float().cpu().eval()
    x = torch.zeros(1, IN_CHANNELS, *size)
    # The TorchScript exporter: a plain conv net needs nothing newer, and it does not pull in
    # onnxscript; torch warns that it is legacy.
    with atomic_output(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (x,), tmp, input_names=[INPUT], output_names=[OUTPUT],
                          opset_version=17, dynamo=False)
    if quantized is None or not calibration:
        return
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(calibration)

        def get_next(self) -> dict | None:
            x = next(self.it, None)
            return None if x is None else {INPUT: x.astype(np.float32)}

    with atomic_output(quantized) as tmp:
        quantize_static(str(path), tmp, Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
