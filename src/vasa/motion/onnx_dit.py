"""The motion DiT exported to ONNX and run by ONNX Runtime: the same network, faster on a CPU.

The DiT is small (width 128, 4 blocks, 60 tokens): PyTorch's eager dispatch and its GEMMs on a
few hundred rows cost more than the arithmetic. ONNX Runtime runs one forward pass of a batch of
3 (the three guidance terms of the streaming preset) in 9-10 ms on one thread of this 2-core CPU
against 15 ms for PyTorch (`benchmarks/bench_stream.py` measures what that does to a stream).

A model file `M.pt` gets its export beside it, `M.onnx` (`vasa export-motion M.pt`, that is
`checkpoint.export_model`; `vasa train motion` writes one for its `model.pt` and `best.pt`). The export records the SHA-256 of the file
it was made from; `load_model` uses it only while that still matches, so a retrained or edited
`M.pt` never runs with a stale graph (it falls back to PyTorch and says so).
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from vasa.files import atomic_output
from vasa.motion.dit import Conditions, MotionDiT

log = logging.getLogger(__name__)

SOURCE_KEY = "vasa.source_sha256"  # the export's metadata: the model file it was made from
INPUTS = ("x_t", "t", *Conditions.__dataclass_fields__)
OUTPUT = "x0"


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def onnx_path(model_path: str | Path) -> Path:
    """Where the export of a model file lies: beside it, suffix .onnx."""
    return Path(model_path).with_suffix(".onnx")


class _Flat(torch.nn.Module):
    """The DiT with its conditions as separate inputs (an ONNX graph takes tensors only)."""

    def __init__(self, net: MotionDiT) -> None:
        super().__init__()
        self.net = net

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, *conditions: torch.Tensor
                ) -> torch.Tensor:
        return self.net(x_t, t, Conditions(*conditions))


def export_dit(net: MotionDiT, source: str | Path, path: str | Path | None = None) -> Path:
    """Write `net` (the network of model file `source`) as an ONNX graph with a dynamic batch,
    to `path` (default: beside `source`), recording `source`'s SHA-256. Returns the path."""
    import onnx

    path = Path(path) if path is not None else onnx_path(source)
    cfg = net.cfg
    flat = _Flat(net).float().cpu().eval()
    z, no = torch.zeros, (lambda *shape: torch.zeros(*shape, dtype=torch.bool))
    example = Conditions(z(1, cfg.window, cfg.audio_dim), z(1, cfg.prev, cfg.motion_dim),
                         z(1, cfg.prev, cfg.audio_dim), z(1, 2), z(1, 1), z(1, cfg.emotion_dim),
                         no(1, cfg.window), no(1), no(1), no(1), no(1))
    args = (z(1, cfg.window, cfg.motion_dim), z(1), *example.__dict__.values())
    with atomic_output(path) as tmp, warnings.catch_warnings():
        # The TorchScript exporter (as the refiners'): no onnxscript needed; torch warns that
        # it is legacy and that the batch's size is traced as a constant in places it is not.
        warnings.simplefilter("ignore")
        torch.onnx.export(flat, args, tmp, input_names=list(INPUTS), output_names=[OUTPUT],
                          dynamic_axes={k: {0: "batch"} for k in (*INPUTS, OUTPUT)},
                          opset_version=17, dynamo=False)
        graph = onnx.load(tmp)
        _half_weights(graph)
        entry = graph.metadata_props.add()
        entry.key, entry.value = SOURCE_KEY, file_sha256(source)
        onnx.save(graph, tmp)
    return path


def _half_weights(model) -> None:
    """Store every float32 weight that float16 holds exactly (all of a model file's: it keeps
    fp16 weights) as float16, cast back by a Cast node: half the file, the same numbers. ONNX
    Runtime folds the casts when it loads the graph, so inference runs on float32 as before."""
    from onnx import TensorProto, helper, numpy_helper

    casts = []
    for weight in model.graph.initializer:
        if weight.data_type != TensorProto.FLOAT:
            continue
        x = numpy_helper.to_array(weight)
        half = x.astype(np.float16)
        if x.size < 2 or not np.array_equal(half.astype(np.float32), x):
            continue  # scalars and anything float16 would round: kept as they are
        name = weight.name
        weight.CopyFrom(numpy_helper.from_array(half, f"{name}.fp16"))
        casts.append(helper.make_node("Cast", [f"{name}.fp16"], [name], to=TensorProto.FLOAT))
    nodes = casts + list(model.graph.node)  # the casts first: the graph stays in order
    del model.graph.node[:]
    model.graph.node.extend(nodes)


class OnnxDiT:
    """Runs an exported DiT: called as `MotionDiT` is, (x_t, t, Conditions) -> X0 (B, W, M)."""

    def __init__(self, path: str | Path, cfg, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # One thread: the motion runs beside the renderer's threads (or one per serve worker).
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.cfg = cfg

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor, c: Conditions) -> torch.Tensor:
        feeds = {"x_t": x_t, "t": t, **c.__dict__}
        out = self.session.run(None, {k: np.ascontiguousarray(v.detach().cpu().numpy())
                                      for k, v in feeds.items()})[0]
        return torch.from_numpy(out)


def beside(model_path: str | Path, cfg) -> OnnxDiT | None:
    """The export beside a model file, if there is one made from this very file, else None (a
    stale export is reported and left unused). The file is hashed only when an export is
    there to check."""
    path = onnx_path(model_path)
    if not path.is_file():
        return None
    try:
        dit = OnnxDiT(path, cfg)
    except Exception as err:  # noqa: BLE001 (ORT raises its own untyped errors)
        log.warning("%s: unreadable (%s); running the model with PyTorch", path, str(err)[:200])
        return None
    if dit.session.get_modelmeta().custom_metadata_map.get(SOURCE_KEY) != file_sha256(model_path):
        log.warning("%s: made from another version of %s; running the model with PyTorch "
                    "(re-export: vasa export-motion %s)", path, model_path, model_path)
        return None
    return dit


__all__ = ["OnnxDiT", "beside", "export_dit", "file_sha256", "onnx_path"]
