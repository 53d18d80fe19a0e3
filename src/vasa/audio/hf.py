"""Learned speech features from a local Wav2Vec2 / HuBERT checkpoint (transformers, torch).

VASA-1 conditions its motion generator on Wav2Vec2 features; this wraps any local directory
``transformers.AutoModel`` can load (config.json + weights). Nothing is downloaded. torch and
transformers are optional: they are imported only when such an extractor is built.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import numpy as np

from vasa.audio.features import (
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    AudioFeatureExtractor,
    ExtractorSpec,
    check_audio,
    num_frames,
)

__all__ = ["HFExtractor"]

# The Wav2Vec2/HuBERT conv front end: 400-sample receptive field, stride 320 (50 Hz).
_RECEPTIVE = 400
_STRIDE = 320
# Attention is quadratic in length: run at most 20 s (a whole number of motion frames) at once.
_CHUNK = 500 * SAMPLES_PER_FRAME
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


class HFExtractor(AudioFeatureExtractor):
    """Hidden states of a local Wav2Vec2/HuBERT model, 50 Hz averaged in pairs to 25 fps.

    model_dir: a directory holding config.json and model.safetensors or pytorch_model.bin.
    layer: which hidden state (None: the last; 0 is the projected conv features). dim is the
    model's hidden_size; spec.version is a hash of config.json, so features of a different
    model never pass for these. Input is zero-mean/unit-variance normalised per chunk, as the
    Wav2Vec2 feature extractor does. Frames depend on the whole (<= 20 s) chunk they are in:
    streaming_context is None.
    """

    def __init__(self, model_dir: str | Path, layer: int | None = None) -> None:
        model_dir = Path(model_dir).expanduser()
        config = model_dir / "config.json"
        if not config.is_file() or not any((model_dir / w).is_file() for w in _WEIGHTS):
            raise ValueError(f"hf:{model_dir}: not a local model directory (need config.json and "
                             f"one of {', '.join(_WEIGHTS)}); vasa never downloads models")
        try:
            self._torch = importlib.import_module("torch")
            transformers = importlib.import_module("transformers")
        except ImportError as e:
            raise ValueError(f"hf:{model_dir} needs torch and transformers, which are not "
                             f"installed ({e}); pip install torch transformers") from e
        self.model = transformers.AutoModel.from_pretrained(model_dir).eval()
        self.layer = layer
        digest = hashlib.sha256(config.read_bytes()).hexdigest()[:12]
        name = f"hf-{model_dir.name}" + ("" if layer is None else f"-L{layer}")
        self.spec = ExtractorSpec(name, digest, int(self.model.config.hidden_size))
        self.streaming_context = None

    def _run(self, chunk: np.ndarray) -> np.ndarray:
        """A chunk ``(n,)``, n a multiple of 640 -> hidden states ``(n // 320, hidden_size)``."""
        torch = self._torch
        chunk = (chunk - chunk.mean()) / np.sqrt(chunk.var() + 1e-7)
        # Pad 40 samples before and 40 after (zeros): conv frame k then covers samples
        # [320k - 40, 320k + 360), centred on the k-th 20 ms, and n // 320 frames come out.
        pad = (_RECEPTIVE - _STRIDE) // 2
        x = np.pad(chunk, (pad, pad)).astype(np.float32)
        with torch.inference_mode():
            out = self.model(torch.from_numpy(x)[None], output_hidden_states=self.layer is not None)
        hidden = out.last_hidden_state if self.layer is None else out.hidden_states[self.layer]
        return hidden[0].float().cpu().numpy()

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        x = check_audio(audio)
        t = num_frames(len(x))
        x = np.pad(x, (0, t * SAMPLES_PER_FRAME - len(x)))
        parts = [self._run(x[s : s + _CHUNK]) for s in range(0, len(x), _CHUNK)]
        if not parts:
            return np.zeros((0, self.spec.dim), np.float32)
        hidden = np.concatenate(parts)[: 2 * t]  # (2T, D) at 50 Hz
        return hidden.reshape(t, 2, -1).mean(axis=1).astype(np.float32)  # (T, D) at 25 fps


assert SAMPLE_RATE // _STRIDE == 50
