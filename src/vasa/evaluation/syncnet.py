"""The project's lip-sync metric: a SyncNet-style pair of encoders and its S_C / S_D scores.

SyncNet (Chung & Zisserman 2016, "Out of time: automated lip sync in the wild") embeds 5-frame
mouth crops and the matching 0.2 s of audio; a clip's sync is read off the distance between the
two embeddings as the audio is slid against the video by up to +-15 frames. Its weights cannot be
downloaded here, so this is the same recipe on the project's own quantities: the mouth is the
tracker's 24 PCA landmark-motion coefficients (lips, jaw and the rest of the face shape; the eye
openness and gaze columns are left out), the audio is the dataset's per-frame features
(`logmel80+prosody@1`). `vasa train sync` fits it on the train split of a prepared dataset.

Units: distances are DISTANCE_SCALE (10) times the Euclidean distance between unit-norm
embeddings, so they lie in [0, 20]; 14.1 is the distance between orthogonal embeddings. These are
not SyncNet's units: compare S_C / S_D between methods scored by this model, not with the paper.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vasa.compat import check_trained_with
from vasa.io import atomic_output
from vasa.latent.basis import FaceBasis
from vasa.latent.face_model import lip_direction

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_SYNC_MODEL = ASSETS / "syncnet.pt"
CHECKPOINT_FORMAT = 1
DISTANCE_SCALE = 10.0  # chord distance on the unit sphere, x10: a SyncNet-like 0..20 range
MAX_OFFSET = 15  # frames either way, as SyncNet's default vshift
MIN_WINDOWS = 10  # fewer common video windows than this and the mean distances are noise


@dataclass
class SyncConfig:
    """Dimensions of the sync encoders; stored in every checkpoint."""

    window: int = 5  # frames per window: 0.2 s at 25 fps, as SyncNet
    motion_dim: int = 24  # PCA dynamics coefficients used (dynamics[:, :24]; no eyes or gaze)
    audio_dim: int = 85  # audio features per frame (logmel80 + 5 prosody)
    deltas: bool = True  # also feed the motion's frame differences (speed of the lips)
    hidden: int = 256  # width of the two hidden layers of each encoder
    embed_dim: int = 64  # embedding size; embeddings are L2-normalised
    dropout: float = 0.1  # dropout after each hidden layer (training only)


class WindowEncoder(nn.Module):
    """MLP over a flattened window: (N, window, dim) -> unit-norm (N, embed_dim)."""

    def __init__(self, window: int, dim: int, cfg: SyncConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),  # (N, window * dim): 5 frames are too few to need convolutions
            nn.Linear(window * dim, cfg.hidden), nn.LayerNorm(cfg.hidden), nn.GELU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.hidden), nn.LayerNorm(cfg.hidden), nn.GELU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.embed_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.net(x), dim=-1)  # (N, E)


class SyncNet(nn.Module):
    """The two encoders. mouth: (N, window, motion_dim * (2 if deltas else 1)) normalised motion
    (the deltas concatenated after the values); audio: (N, window, audio_dim) normalised
    features. Both -> (N, embed_dim) on the unit sphere."""

    def __init__(self, cfg: SyncConfig) -> None:
        super().__init__()
        self.cfg = cfg
        motion_in = cfg.motion_dim * (2 if cfg.deltas else 1)
        self.mouth = WindowEncoder(cfg.window, motion_in, cfg)
        self.audio = WindowEncoder(cfg.window, cfg.audio_dim, cfg)


@dataclass
class SyncModel:
    """A trained SyncNet with what it needs to read raw per-frame values: the train-split mean
    and std of the motion (motion_dim) and audio (audio_dim) features, after per-clip centring,
    and the ids of the audio extractor and face basis whose numbers it was trained on."""

    net: SyncNet
    config: SyncConfig
    motion_mean: np.ndarray  # (motion_dim,)
    motion_std: np.ndarray  # (motion_dim,)
    audio_mean: np.ndarray  # (audio_dim,)
    audio_std: np.ndarray  # (audio_dim,)
    extractor_id: str  # e.g. "logmel80+prosody@1"
    basis_version: str  # vasa.latent.basis.FaceBasis.version

    def save(self, path: str | Path) -> None:
        """Write the checkpoint atomically (a crash never leaves half a file)."""
        stats = {k: torch.from_numpy(np.asarray(getattr(self, k), np.float32))
                 for k in ("motion_mean", "motion_std", "audio_mean", "audio_std")}
        with atomic_output(path) as tmp:
            torch.save({"format": CHECKPOINT_FORMAT, "config": asdict(self.config),
                        "state_dict": self.net.state_dict(), "stats": stats,
                        "extractor_id": self.extractor_id, "basis_version": self.basis_version},
                       tmp)


def load_sync_model(path: str | Path = DEFAULT_SYNC_MODEL, extractor_id: str | None = None,
                    basis_version: str | None = None) -> SyncModel:
    """Load a checkpoint, refusing one trained on other audio features or another face basis
    (defaults: the current default extractor and `default_basis()`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: sync model not found (train one with `vasa train sync`)")
    if extractor_id is None:
        from vasa.audio import get_extractor

        extractor_id = get_extractor().spec.id
    if basis_version is None:
        from vasa.latent.basis import default_basis

        basis_version = default_basis().version
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: sync checkpoint format {ckpt.get('format')}, this vasa reads "
                         f"{CHECKPOINT_FORMAT}: retrain with `vasa train sync`")
    check_trained_with(path, "vasa train sync", ckpt["extractor_id"], ckpt["basis_version"],
                       extractor_id, basis_version)
    cfg = SyncConfig(**ckpt["config"])
    net = SyncNet(cfg)
    net.load_state_dict(ckpt["state_dict"])
    net.eval()
    stats = {k: v.numpy() for k, v in ckpt["stats"].items()}
    return SyncModel(net, cfg, **stats, extractor_id=ckpt["extractor_id"],
                     basis_version=ckpt["basis_version"])


def prepare_motion(model: SyncModel, dynamics: np.ndarray) -> np.ndarray:
    """Dynamics (T, >= motion_dim) -> normalised encoder input (T, motion_dim [* 2]).

    Each clip is centred on its own median first: the PCA coefficients carry the speaker's face
    shape, and the metric should see how the mouth moves, not whose mouth it is. The delta of
    frame t is x[t] - x[t-1] (0 at t = 0)."""
    x = np.asarray(dynamics, np.float32)[:, : model.config.motion_dim]
    x = (x - np.median(x, axis=0) - model.motion_mean) / model.motion_std  # (T, D)
    if not model.config.deltas:
        return x
    d = np.diff(x, axis=0, prepend=x[:1])  # (T, D)
    return np.concatenate([x, d], axis=1)  # (T, 2D)


def prepare_audio(model: SyncModel, audio: np.ndarray) -> np.ndarray:
    """Audio features (T, audio_dim) -> normalised (T, audio_dim), centred per clip (the
    recording level and the speaker's pitch are not sync)."""
    a = np.asarray(audio, np.float32)
    return (a - np.median(a, axis=0) - model.audio_mean) / model.audio_std


def windows(x: np.ndarray, window: int) -> np.ndarray:
    """(T, C) -> (T - window + 1, window, C): row t holds frames t .. t + window - 1."""
    return np.lib.stride_tricks.sliding_window_view(x, window, axis=0).transpose(0, 2, 1)


@torch.no_grad()
def embed(model: SyncModel, dynamics: np.ndarray, audio: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of every window: (Tv - 4, E) for the mouth and (Ta - 4, E) for the audio."""
    w = model.config.window
    mv = torch.from_numpy(np.ascontiguousarray(windows(prepare_motion(model, dynamics), w)))
    av = torch.from_numpy(np.ascontiguousarray(windows(prepare_audio(model, audio), w)))
    model.net.eval()
    return model.net.mouth(mv).numpy(), model.net.audio(av).numpy()


@dataclass
class SyncResult:
    """SyncNet scores of one clip. distances: (2 * max_offset + 1,) mean distance at each offset
    (offsets[i] = i - max_offset), in DISTANCE_SCALE units; s_d = min, s_c = median - min;
    offset: the argmin, > 0 when the audio lags the video. computable False (scores NaN) with a
    reason when the clip is too short or has too few windows with a tracked face."""

    computable: bool
    s_c: float = float("nan")
    s_d: float = float("nan")
    offset: int = 0
    distances: np.ndarray | None = None
    windows: int = 0  # video windows averaged at every offset
    reason: str = ""

    @property
    def offsets(self) -> np.ndarray:
        m = (len(self.distances) - 1) // 2 if self.distances is not None else 0
        return np.arange(-m, m + 1)


def sync_scores(model: SyncModel, dynamics: np.ndarray, audio: np.ndarray,
                max_offset: int = MAX_OFFSET, found: np.ndarray | None = None) -> SyncResult:
    """S_C, S_D and the AV offset of a clip, as SyncNet computes them (VASA-1 section 4.2).

    dynamics: (T, 28) or (T, 24) per video frame at 25 fps; audio: (T', 85) features whose row t
    covers the audio of video frame t; found: optional (T,) bool, windows with a lost face skipped.
    For each offset o in [-max_offset, max_offset], the mean over video windows t of
    DISTANCE_SCALE * |mouth(t) - audio(t + o)|. Only windows t for which every offset has audio
    are used, so all offsets average the same windows (SyncNet zero-pads the audio instead).
    Sign: audio delayed by N frames (the sound of video frame t is at audio frame t + N) gives
    offset +N; syncnet_python prints the opposite sign as its "AV offset".
    """
    w = model.config.window
    tv, ta = len(dynamics), len(audio)
    t = np.arange(max_offset, min(tv - w, ta - w - max_offset) + 1)  # first frames of windows
    if found is not None:
        ok = np.lib.stride_tricks.sliding_window_view(np.asarray(found, bool), w).all(axis=1)
        t = t[ok[t]]
    if len(t) < MIN_WINDOWS:
        need = 2 * max_offset + w + MIN_WINDOWS - 1
        return SyncResult(False, reason=f"{len(t)} usable windows (< {MIN_WINDOWS}): needs at "
                          f"least {need} frames of video and audio with the face tracked; "
                          f"got {tv} video and {ta} audio frames")
    ev, ea = embed(model, dynamics, audio)  # (Tv - w + 1, E), (Ta - w + 1, E)
    offsets = np.arange(-max_offset, max_offset + 1)
    pairs = ea[t[None, :] + offsets[:, None]] - ev[t][None]  # (O, N, E)
    dist = DISTANCE_SCALE * np.linalg.norm(pairs, axis=-1).mean(axis=1)  # (O,)
    best = int(np.argmin(dist))
    return SyncResult(True, s_c=float(np.median(dist) - dist[best]), s_d=float(dist[best]),
                      offset=int(offsets[best]), distances=dist, windows=len(t))


def lip_opening(dynamics: np.ndarray, basis: FaceBasis) -> np.ndarray:
    """Inner-lip gap (T,) relative to the mean face, in inter-ocular distances: the vertical
    distance between landmarks 13 (upper lip) and 14 (lower lip) that the PCA coefficients
    dynamics[:, :num_pca] (T, D) add to the template. A model-free cross-check signal."""
    return np.asarray(dynamics, np.float64)[:, basis.layout.pca] @ lip_direction(basis)


def correlation_lag(video: np.ndarray, audio: np.ndarray, max_offset: int = MAX_OFFSET
                    ) -> tuple[int, float]:
    """(offset, correlation): the offset o in [-max_offset, max_offset] maximising the Pearson
    correlation of video[t] and audio[t + o] (both (T,)), same sign as sync_scores, and that
    correlation (a weak peak, < 0.3, makes the offset noise). With the lip opening and the
    audio log energy this is a crude, model-free AV offset: no training data involved, but
    biased by the natural lead of the lips over the voice (~0-2 frames on the train clips)."""
    n = min(len(video), len(audio))
    v, a = np.asarray(video[:n], np.float64), np.asarray(audio[:n], np.float64)
    corr = [np.corrcoef(v[max(0, -o):n - max(0, o)], a[max(0, o):n - max(0, -o)])[0, 1]
            for o in range(-max_offset, max_offset + 1)]
    best = int(np.nanargmax(corr))
    return best - max_offset, float(corr[best])

