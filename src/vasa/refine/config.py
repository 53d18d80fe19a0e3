"""The refiner's settings, torch-free (the CLI reads its defaults from here without loading
torch): the pair set, the network, the training run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class PairsConfig:
    """size: frame crop side the warp runs at. max_frames: frames read per clip (at MOTION_FPS).
    sources: portraits per clip. targets: frames rendered per portrait. min_distance: frames
    between a portrait and its targets (neighbours are nearly the same picture). seed.
    region: 'mouth' or 'eyes' (`refine.regions`). Eyes only: blink_share of each portrait's
    targets are drawn from the clip's closing or shut eyes (blinks are 5-10% of frames and a
    real closed lid is the eye refiner's main job), gaze_share from the frames whose gaze is
    furthest from the portrait's; the rest at random."""

    size: int = 384
    max_frames: int = 250
    sources: int = 3
    targets: int = 30
    min_distance: int = 4
    seed: int = 0
    region: str = "mouth"
    blink_share: float = 0.5
    gaze_share: float = 0.2


@dataclass
class RefinerConfig:
    """widths: channels per level (the first at half the crop's resolution, each next one at
    half again). Defaults: 0.43 GMAC per 128 px crop, 0.4 M parameters (1.6 MB float32)."""

    widths: tuple[int, ...] = (32, 48, 64, 96)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RefinerConfig:
        unknown = set(d) - {"widths"}
        if unknown:
            raise ValueError(f"unknown refiner config keys: {sorted(unknown)}")
        return cls(widths=tuple(d["widths"]))


@dataclass
class TrainRefinerConfig:
    """steps, batch, lr (AdamW, cosine decay to 5%). ssim: weight of 1 - SSIM. grad: weight of
    the L1 of image gradients (edges: teeth, the lip line). adversarial: weight of the
    PatchGAN term (0: none; L1 and SSIM alone draw the mean of the possible mouths: soft
    teeth). texture: weight of the texture term (`refine.train.texture_loss`: as much fine
    detail across the opening as the real frame has, wherever it falls; 0: none). init: a
    refiner to start from (.pt, or an exported .onnx / .int8.onnx such as the bundled one), to
    fine-tune it. teeth: share of each batch drawn from the pairs whose real frame bares the
    upper teeth (`refine.train.BARED`; mouths only, 0: batches drawn at random): the training
    speakers show their teeth in 16% of the pairs, the held-out ones in 27%, and the wider
    refiner learnt a darker upper band than the held-out speakers show. device: 'auto' (CUDA
    when present), 'cpu' or 'cuda'. eval_every/save_every: steps. seed. minutes: a time
    budget (None: none): after TIMING_STEPS steps the run shortens `steps` to what fits, so
    the schedule still decays to its end and the export happens in time."""

    steps: int = 4000
    batch: int = 32
    lr: float = 5e-4
    ssim: float = 0.5
    grad: float = 1.0
    adversarial: float = 0.0
    texture: float = 0.0
    teeth: float = 0.0
    init: str | None = None
    device: str = "auto"
    eval_every: int = 250
    save_every: int = 250
    seed: int = 0
    minutes: float | None = None
    model: RefinerConfig = field(default_factory=RefinerConfig)


