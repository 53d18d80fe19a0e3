"""CAPP: Contrastive Audio and Pose Pretraining, VASA-1's audio-pose alignment metric.

VASA-1 section 4.2: "a CLIP-style pair of encoders, audio and head-pose sequence (6-layer
transformer), trained on real 3-second windows; the score is the cosine similarity of an
(audio, pose) pair". Here the audio encoder reads the project's own per-frame features
(``logmel80+prosody@1``, 85 per 25 fps frame) instead of Wav2Vec2, so a checkpoint is tied to that
extractor and to the face basis that defines the pose, and refuses to load against others.

Pose input (``pose_features``): where the head is and how large it is in the frame say nothing
about speech, so each 3 s window is made position-free before the network sees it:
  angles:       pitch, yaw, roll minus their window mean (radians);
  translation:  (tx, ty) minus their window mean, divided by the window's mean scale, i.e. in
                inter-ocular distances rather than frame widths (a close-up and a wide shot of
                the same nod give the same numbers);
  scale:        log(scale) minus its window mean (relative approach / retreat);
  velocities:   frame-to-frame differences of those 6 (on by default). Pose is smooth, so a
                pose slid by 1-2 frames barely changes the levels; velocities are what could
                line up with onsets in the audio (VASA-1 Table 3's fast fall-off). With ~10 min
                of training data that fall-off is not reached: see
                benchmarks/results/capp_validation.md.
The variance is deliberately not normalised per window: a still head and an agitated one must
score differently (VASA-1 Table 4). Audio is standardised with train-split statistics, its 80
mel bins pooled into a few bands, and its window mean removed (gain and channel differ between
recordings; speech timing does not).

Layering: ``CappNet`` is a pure ``nn.Module`` (tensors in, tensors out); ``CappModel`` adds the
provenance a checkpoint must carry; ``capp_score`` does the sliding-window scoring.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vasa.compat import check_trained_with
from vasa.io import atomic_output

WINDOW = 75  # 3 s at 25 fps, VASA-1 section 4.2
DEFAULT_HOP = 25  # score windows start every second
CAPP_FORMAT = 1
DEFAULT_CAPP = Path(__file__).resolve().parents[1] / "assets" / "capp.pt"
POSE_FEATURES = 6  # per frame, before velocities
N_MELS = 80  # log-mel bins at the start of the logmel80+prosody features


@dataclass
class CappConfig:
    """Sizes of the two encoders. Unknown keys in a checkpoint are an error."""

    window: int = WINDOW  # frames per window (3 s at 25 fps)
    audio_dim: int = 85  # audio features per frame (logmel80+prosody)
    mel_bands: int = 8  # the 80 log-mel bins averaged into this many bands (80: keep all). The
    #                     coarse envelope keeps loudness, voicing and onsets; the fine spectrum
    #                     mostly says who speaks, which minutes of data learn instead of timing
    width: int = 32  # transformer width of both encoders (64 overfits 10 min of data sooner)
    heads: int = 4  # attention heads
    pose_layers: int = 6  # pose transformer depth, as VASA-1
    audio_layers: int = 2  # audio transformer depth (after the conv stem)
    embed_dim: int = 64  # joint embedding size (the encoders' final linear maps width -> this)
    stride: int = 2  # conv stem stride: 75 frames -> 38 tokens (4x cheaper attention); the
    #                  stem's 5-frame kernel still sees every frame, so timing is kept
    dropout: float = 0.2  # transformer dropout (little data)
    velocities: bool = True  # append frame-to-frame pose differences to the pose input
    audio_window_norm: bool = True  # subtract each audio window's mean (gain, channel)
    init_temperature: float = 0.07  # CLIP's initial softmax temperature

    @property
    def pose_dim(self) -> int:
        return POSE_FEATURES * (2 if self.velocities else 1)

    @property
    def audio_in(self) -> int:
        """Audio channels the encoder sees: mel bands + the extractor's non-mel features."""
        return self.mel_bands + self.audio_dim - N_MELS

    def __post_init__(self) -> None:
        if N_MELS % self.mel_bands:
            raise ValueError(f"mel_bands must divide {N_MELS}, got {self.mel_bands}")

    @staticmethod
    def from_dict(raw: dict) -> CappConfig:
        known = {f.name for f in fields(CappConfig)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown CappConfig keys {sorted(unknown)}")
        return CappConfig(**raw)


def pose_features(pose: torch.Tensor, velocities: bool = True) -> torch.Tensor:
    """Position-free pose of each window (see module docstring).

    pose: (B, T, 6) pitch, yaw, roll, tx, ty, scale -> (B, T, 6) or (B, T, 12) with velocities.
    """
    angles = pose[..., :3] - pose[..., :3].mean(1, keepdim=True)  # (B, T, 3)
    scale = pose[..., 5:6].clamp_min(1e-4)  # (B, T, 1)
    mean_scale = scale.mean(1, keepdim=True)  # (B, 1, 1)
    trans = (pose[..., 3:5] - pose[..., 3:5].mean(1, keepdim=True)) / mean_scale  # (B, T, 2)
    log_scale = scale.log() - scale.log().mean(1, keepdim=True)  # (B, T, 1)
    x = torch.cat([angles, trans, log_scale], -1)  # (B, T, 6)
    if velocities:
        v = x[:, 1:] - x[:, :-1]  # (B, T-1, 6)
        x = torch.cat([x, torch.cat([v[:, :1], v], 1)], -1)  # (B, T, 12): first velocity repeated
    return x


class SequenceEncoder(nn.Module):
    """Conv stem + transformer encoder + mean pool -> L2-normalised embedding.

    (B, T, in_dim) -> (B, embed_dim), unit norm.
    """

    def __init__(self, in_dim: int, layers: int, cfg: CappConfig) -> None:
        super().__init__()
        w = cfg.width
        self.stem = nn.Sequential(
            nn.Conv1d(in_dim, w, 5, stride=cfg.stride, padding=2), nn.GELU(),
            nn.Conv1d(w, w, 3, padding=1), nn.GELU())
        tokens = (cfg.window - 1) // cfg.stride + 1
        self.pos = nn.Parameter(torch.randn(1, tokens, w) * 0.02)
        layer = nn.TransformerEncoderLayer(w, cfg.heads, 2 * w, cfg.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(w)
        self.proj = nn.Linear(w, cfg.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x.transpose(1, 2)).transpose(1, 2)  # (B, N, W), N = ceil(T / stride)
        h = self.transformer(h + self.pos[:, : h.shape[1]])  # (B, N, W)
        z = self.proj(self.norm(h.mean(1)))  # (B, E)
        return F.normalize(z, dim=-1)


class CappNet(nn.Module):
    """The two CAPP encoders with their input normalisation and CLIP temperature.

    Normalisation statistics are buffers (filled from the train split by the trainer), so they
    travel with the weights.
    """

    def __init__(self, cfg: CappConfig) -> None:
        super().__init__()
        self.config = cfg
        self.pose_encoder = SequenceEncoder(cfg.pose_dim, cfg.pose_layers, cfg)
        self.audio_encoder = SequenceEncoder(cfg.audio_in, cfg.audio_layers, cfg)
        # CLIP: logits = exp(logit_scale) * cos, learned; exp() clamped at 100 as in CLIP.
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1.0 / cfg.init_temperature))))
        self.register_buffer("pose_std", torch.ones(cfg.pose_dim))
        self.register_buffer("audio_mean", torch.zeros(cfg.audio_dim))
        self.register_buffer("audio_std", torch.ones(cfg.audio_dim))

    def embed_pose(self, pose: torch.Tensor) -> torch.Tensor:
        """pose: (B, T, 6) raw tracked pose -> (B, E) unit embeddings."""
        x = pose_features(pose, self.config.velocities) / self.pose_std  # (B, T, P)
        return self.pose_encoder(x)

    def embed_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """audio: (B, T, 85) raw extractor features -> (B, E) unit embeddings."""
        x = (audio - self.audio_mean) / self.audio_std  # (B, T, 85)
        b, t, _ = x.shape
        bands = x[..., :N_MELS].reshape(b, t, self.config.mel_bands, -1).mean(-1)  # (B, T, bands)
        x = torch.cat([bands, x[..., N_MELS:]], -1)  # (B, T, A)
        if self.config.audio_window_norm:
            x = x - x.mean(1, keepdim=True)
        return self.audio_encoder(x)

    def temperature_scale(self) -> torch.Tensor:
        return self.logit_scale.clamp(max=float(np.log(100.0))).exp()

    def forward(self, pose: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """(B, T, 6), (B, T, 85) -> (B,) cosine similarity of each matched pair."""
        return (self.embed_pose(pose) * self.embed_audio(audio)).sum(-1)


@dataclass
class CappModel:
    """A trained CAPP with what it depends on. extractor_id: audio features it reads
    (``ExtractorSpec.id``); basis_version: face basis the poses were tracked with; info:
    training provenance (steps, data, validation numbers)."""

    net: CappNet
    extractor_id: str
    basis_version: str
    info: dict = field(default_factory=dict)

    @property
    def config(self) -> CappConfig:
        return self.net.config

    def save(self, path: str | Path) -> None:
        """Write a checkpoint atomically (config, weights, buffers, provenance)."""
        state = {k: v.detach().to(torch.float32).clone() for k, v in self.net.state_dict().items()}
        with atomic_output(path) as tmp:
            torch.save({"format": CAPP_FORMAT, "config": asdict(self.config), "state": state,
                        "extractor_id": self.extractor_id, "basis_version": self.basis_version,
                        "info": self.info}, tmp)


def load_capp(path: str | Path = DEFAULT_CAPP, extractor_id: str | None = None,
              basis_version: str | None = None) -> CappModel:
    """Load a CAPP checkpoint (eval mode), refusing one made for other audio features or another
    face basis. extractor_id / basis_version default to the package's current ones."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: CAPP checkpoint not found (train one with "
                                f"`vasa train capp --out {path.name}`)")
    ck = torch.load(path, map_location="cpu", weights_only=True)
    if ck.get("format") != CAPP_FORMAT:
        raise ValueError(f"{path}: CAPP checkpoint format {ck.get('format')}, this vasa reads "
                         f"{CAPP_FORMAT}: retrain it with `vasa train capp`")
    if extractor_id is None or basis_version is None:
        from vasa.audio import get_extractor
        from vasa.latent.basis import default_basis

        extractor_id = extractor_id or get_extractor("logmel+prosody").spec.id
        basis_version = basis_version or default_basis().version
    check_trained_with(path, "vasa train capp", ck["extractor_id"], ck["basis_version"],
                       extractor_id, basis_version)
    net = CappNet(CappConfig.from_dict(ck["config"]))
    net.load_state_dict(ck["state"])
    return CappModel(net.eval(), ck["extractor_id"], ck["basis_version"], ck["info"])


@dataclass
class CappResult:
    """CAPP of one video. score: mean cosine similarity over its 3 s windows (nan when not
    computable); windows: how many were scored; similarities: (windows,) per window;
    starts: (windows,) first frame of each; reason: why not computable ("" when it is)."""

    score: float
    windows: int
    similarities: np.ndarray
    starts: np.ndarray
    reason: str = ""

    @property
    def computable(self) -> bool:
        return self.windows > 0


def window_starts(frames: int, window: int = WINDOW, hop: int = DEFAULT_HOP) -> np.ndarray:
    """Start frames of the scored windows: every `hop` frames, plus one flush with the end so
    the tail is covered. Empty when the video is shorter than one window."""
    starts = np.arange(0, frames - window + 1, hop)
    tail = [frames - window] if frames >= window and starts[-1] != frames - window else []
    return np.concatenate([starts, tail]).astype(np.int64)


@torch.no_grad()
def capp_score(model: CappModel, pose: np.ndarray, audio: np.ndarray, hop: int = DEFAULT_HOP,
               batch: int = 256) -> CappResult:
    """CAPP of a video (VASA-1 section 4.2): mean cosine similarity of (audio, pose) embeddings
    over its 3 s windows.

    pose: (T, 6) tracked head pose at 25 fps; audio: (T', 85) features of the same video (row t =
    frame t). T and T' may differ by up to 2 frames (the audio's last partial frame, rounding of
    the video's length); the common prefix is scored. Shorter than 3 s -> not computable.
    """
    pose = np.asarray(pose, np.float32)
    audio = np.asarray(audio, np.float32)
    cfg = model.config
    if pose.ndim != 2 or pose.shape[1] != POSE_FEATURES:
        raise ValueError(f"capp_score: pose must be (T, 6), got {pose.shape}")
    if audio.ndim != 2 or audio.shape[1] != cfg.audio_dim:
        raise ValueError(f"capp_score: audio must be (T, {cfg.audio_dim}) features of "
                         f"{model.extractor_id}, got {audio.shape}")
    if abs(len(pose) - len(audio)) > 2:
        raise ValueError(f"capp_score: {len(pose)} pose frames but {len(audio)} audio frames; "
                         "they must come from the same video at 25 fps")
    if not np.isfinite(pose).all():
        raise ValueError("capp_score: pose has non-finite values (fill frames where the face "
                         "was lost before scoring)")
    frames = min(len(pose), len(audio))
    starts = window_starts(frames, cfg.window, hop)
    if len(starts) == 0:
        return CappResult(float("nan"), 0, np.zeros(0, np.float32), starts,
                          f"video is {frames / 25:.2f} s, CAPP needs at least "
                          f"{cfg.window / 25:.0f} s ({cfg.window} frames)")
    idx = starts[:, None] + np.arange(cfg.window)  # (W, window)
    was_training = model.net.training
    model.net.eval()  # no dropout: a score must not depend on the call
    sims = []
    for i in range(0, len(idx), batch):
        p = torch.from_numpy(pose[idx[i:i + batch]])  # (b, window, 6)
        a = torch.from_numpy(audio[idx[i:i + batch]])  # (b, window, 85)
        sims.append(model.net(p, a).numpy())
    model.net.train(was_training)
    sims = np.concatenate(sims)
    return CappResult(float(sims.mean()), len(sims), sims, starts)
