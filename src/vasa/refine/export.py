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
    """A refiner from its checkpoint (.pt) or from an exported graph (.onnx, float32 or INT8:
    the bundled files ship without their checkpoint, and fine-tuning starts from them)."""
    path = Path(path)
    if path.suffix == ".onnx":
        return refiner_from_onnx(path)
    from vasa.motion.checkpoint import load_torch_file

    state = load_torch_file(path, "refiner")
    model = Refiner(RefinerConfig.from_dict(state["config"]))
    model.load_state_dict(state["model"])
    return model.eval()


def refiner_from_onnx(path: str | Path) -> Refiner:
    """The network of an exported refiner: each parameter is read back by its name (the export
    keeps the module's names), INT8 weights dequantised per output channel (within half a
    quantisation step of the weights that were exported)."""
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: refiner not found")
    graph = onnx.load(str(path)).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    # An INT8 parameter is an initializer dequantised by a node: name its output by the parameter.
    dequant = {n.output[0].removesuffix("_DequantizeLinear_Output"): n for n in graph.node
               if n.op_type == "DequantizeLinear" and n.input[0] in init}

    def tensor(name: str) -> np.ndarray:
        if name in init:
            return init[name].astype(np.float32)
        if name not in dequant:
            raise ValueError(f"{path}: no {name!r} in the graph (not a refiner export?)")
        node = dequant[name]
        q, scale, zero = (init[i].astype(np.float32) for i in node.input[:3])
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        shape = [1] * q.ndim
        if scale.ndim:  # per channel
            shape[axis] = -1
        return (q - zero.reshape(shape)) * scale.reshape(shape)

    widths = []
    i = 0
    while f"down.{i}.0.weight" in init or f"down.{i}.0.weight" in dequant:
        widths.append(int(tensor(f"down.{i}.0.weight").shape[0]))
        i += 1
    if not widths:
        raise ValueError(f"{path}: not a refiner export (no down.0.0.weight)")
    model = Refiner(RefinerConfig(widths=tuple(widths)))
    model.load_state_dict({k: torch.from_numpy(tensor(k)) for k in model.state_dict()})
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
