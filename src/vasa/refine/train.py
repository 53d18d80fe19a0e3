"""`vasa train refiner`: fit a refiner (mouth or eyes) on self-reenactment pairs, export it to ONNX.

The whole pair set sits in memory as uint8 tensors on the training device (a few thousand
128 px crops: under 1 GB), so a step is a random gather plus augmentation on the device: no
loader processes, the same code on a CPU, one GPU, or several under torchrun (each rank draws
its own batches; gradients are averaged by DistributedDataParallel).

Loss: L1 weighted towards the region (the paste mask: skin far from the lips or lids is the
warp's and is pasted back only faintly) plus 1 - SSIM over the same region, which keeps edges
(teeth, the lip line, lashes) instead of the blur L1 alone settles for. The region (mouth or
eyes, `refine.regions`) is the pair set's: index.json records it.

Those losses still draw the mean of the mouths that fit a warped crop: soft teeth. With
`adversarial` > 0 a PatchGAN critic (`refine.net.PatchCritic`, hinge loss, over the paste
region) is trained alongside and the refiner is also asked to fool it (pix2pix), usually as a
fine-tune of a refiner trained without it (`init`). Such a run exports its sharpest evaluated
step among those that keep the starting refiner's held-out PSNR and SSIM (the critic makes
the scores swing from one evaluation to the next; the best SSIM alone would pick the softest
step), or the starting refiner itself when no step does.

With `texture` > 0 the refiner is also asked for as much fine detail across the opening as the
real frame has (`texture_loss`): per small patch, how much, not where. L1 and the gradient
term charge an edge drawn a few pixels off twice (once where it is, once where it should be)
and a missing one once, so they prefer no tooth edges at all; this term charges the missing
ones. Such a run exports the evaluated step whose held-out texture (`evaluate`'s
"texture_refined") comes nearest the real frames' among those within TEXTURE_SLACK of the
starting refiner's PSNR and SSIM.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from vasa.evaluation.interior import upper_band
from vasa.files import atomic_output
from vasa.refine.config import TrainRefinerConfig
from vasa.refine.export import export_onnx, load_refiner, save_refiner
from vasa.refine.net import PatchCritic, Refiner
from vasa.refine.regions import Region, region
from vasa.refine.store import unpack_jpeg

log = logging.getLogger(__name__)
WARMUP_STEPS = 50  # steps before timing starts (cuDNN autotuning, allocator warm-up)
TIMING_STEPS = 100  # steps timed before a time budget (`minutes`) sets the run's length
CALIBRATION_ROWS = 128  # pairs the INT8 export calibrates its activation ranges on
GRAD_CLIP = 1.0
GREY_SHARE = 0.15  # share of training samples shown in grey
REGION_WEIGHT = 4.0  # L1 weight inside the paste mask, relative to 1 elsewhere in the crop
CRITIC_LR = 2e-4  # the critic's Adam rate, betas (0.5, 0.999) as in pix2pix
# The texture term's patch (crop px, patches overlap by half): about one upper incisor's width
# in a 128 px mouth crop (an incisor is ~0.09 eye distances, a crop 1.25), so the term asks for
# a tooth's edges near where the real ones are without asking for them at the pixel.
TEXTURE_PATCH = 8
# A texture run's exported step may lose this much held-out PSNR (dB) and SSIM against its
# start: drawing edges near, not at, the real ones costs some of both.
TEXTURE_SLACK = (0.15, 0.005)
# A pair's real frame bares the upper teeth when the upper third of its opening (opened at least
# `evaluation.interior.MIDDLING`) is this much lighter than its lips. Over the pairs of
# `vasa refiner-pairs --max-frames 125` so opened: 28% of the training speakers' frames, 45% of
# the held-out speakers'.
BARED = 1.2


PAIR_FIELDS = ("warped", "target", "reference", "ref", "masks", "paste", "points")


@dataclass
class PairSet:
    """uint8 crops on one device: warped, target (N, 3, H, W); reference (K, 3, H, W); ref (N,)
    index into reference; masks (N, 2, H, W) the region's masks (lips, or eye openings and
    irises); paste (N, 1, H, W) paste mask; points (N, P, 2) float32 the region's landmark
    points in crop pixels (`Region.points`)."""

    warped: torch.Tensor
    target: torch.Tensor
    reference: torch.Tensor
    ref: torch.Tensor
    masks: torch.Tensor
    paste: torch.Tensor
    points: torch.Tensor

    def __len__(self) -> int:
        return len(self.ref)


def pairs_region(root: str | Path) -> Region:
    """The region a pair set holds (sets made before there were regions are of the mouth)."""
    index = Path(root) / "index.json"
    if not index.is_file():
        raise FileNotFoundError(f"{index}: not a refiner pair set (make one with "
                                "`vasa refiner-pairs`)")
    return region(json.loads(index.read_text())["config"].get("region", "mouth"))


def load_pairs(root: str | Path, split: str, device: torch.device) -> PairSet:
    """Every clip of `split` ('train' or 'val') listed in root/index.json."""
    root = Path(root)
    reg = pairs_region(root)
    clips = [c for c in json.loads((root / "index.json").read_text())["clips"]
             if c["split"] == split]
    if not clips:
        raise ValueError(f"{root}: no {split} clips")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in PAIR_FIELDS}
    base = 0
    for c in clips:
        with np.load(root / f"{c['id']}.npz") as z:
            for k in ("warped", "target", "reference"):  # (N, S, S, 3) -> (N, 3, S, S)
                parts[k].append(unpack_jpeg(z[k], z[k + "_offsets"]).transpose(0, 3, 1, 2))
            parts["ref"].append(z["ref"].astype(np.int64) + base)
            points = z[reg.points]
        parts["points"].append(points.astype(np.float32))
        parts["masks"].append((np.stack([reg.masks(p) for p in points]) * 255)
                              .astype(np.uint8))
        parts["paste"].append((np.stack([reg.paste_mask(p) for p in points])[:, None] * 255)
                              .astype(np.uint8))
        base += len(parts["reference"][-1])
    return PairSet(*(torch.from_numpy(np.ascontiguousarray(np.concatenate(parts[k]))).to(device)
                     for k in PAIR_FIELDS))


def bared_teeth(data: PairSet) -> torch.Tensor:
    """(N,) bool on the CPU: the mouth pairs whose real frame bares the upper teeth (BARED)."""
    target = data.target.permute(0, 2, 3, 1).cpu().numpy()
    with np.errstate(invalid="ignore"):
        return torch.from_numpy(upper_band(target, data.points.cpu().numpy()) >= BARED)


def draw_rows(n: int, size: int, favoured: torch.Tensor | None, share: float,
              gen: torch.Generator) -> torch.Tensor:
    """(size,) random rows of `n`, round(share * size) of them from the `favoured` rows
    (indices; none or empty: all at random)."""
    k = 0 if favoured is None or not len(favoured) else round(share * size)
    rows = torch.randint(0, n, (size - k,), generator=gen)
    if not k:
        return rows
    return torch.cat([rows, favoured[torch.randint(0, len(favoured), (k,), generator=gen)]])


def network_input(warped: torch.Tensor, reference: torch.Tensor, masks: torch.Tensor
                  ) -> torch.Tensor:
    """(N, 8, H, W) in [0, 1], channels as `render.mouth_crop.CHANNELS` or
    `render.eye_crop.CHANNELS` (the runtime builds the same array in numpy,
    `render.refiner.CropRefiner.run`)."""
    return torch.cat([warped, reference, masks], 1)


def input_mask(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N, 1, H, W) the region's mask `k` of a `network_input` (after warped and reference)."""
    return x[:, 6 + k:7 + k]


def batch(data: PairSet, idx: torch.Tensor, augment: bool, gen: torch.Generator | None = None
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input (B, 8, H, W), target (B, 3, H, W), weight (B, 1, H, W)) for rows `idx`.

    Augmentation: a mirror image (mouths and eye pairs are near symmetric; the masks flip with
    them), one
    random gain and colour cast per sample, the same on every picture of the sample, so the
    network learns to take colour from the reference rather than memorise skin tones, and
    GREY_SHARE of the samples in grey (black-and-white portraits must stay grey)."""
    w = data.warped[idx].float() / 255
    r = data.reference[data.ref[idx]].float() / 255
    t = data.target[idx].float() / 255
    m = data.masks[idx].float() / 255
    p = data.paste[idx].float() / 255
    if augment:
        dev = w.device
        n = len(idx)
        flip = torch.rand(n, generator=gen, device="cpu").to(dev) < 0.5
        w, r, t, m, p = (torch.where(flip[:, None, None, None], x.flip(-1), x)
                         for x in (w, r, t, m, p))
        gain = (0.75 + 0.5 * torch.rand(n, 1, 1, 1, generator=gen)).to(dev)
        cast = (1 + 0.1 * (torch.rand(n, 3, 1, 1, generator=gen) - 0.5)).to(dev)
        w, r, t = ((x * gain * cast).clamp(0, 1) for x in (w, r, t))
        grey = (torch.rand(n, generator=gen) < GREY_SHARE).to(dev)[:, None, None, None]
        w, r, t = (torch.where(grey, x.mean(1, keepdim=True).expand_as(x), x) for x in (w, r, t))
    return network_input(w, r, m), t, 1 + (REGION_WEIGHT - 1) * p


def ssim_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, 1, S, S) SSIM of images in [0, 1] (Gaussian 11x11, sigma 1.5; Wang et al. 2004)."""
    g = torch.exp(-(torch.arange(11, device=a.device, dtype=a.dtype) - 5) ** 2 / (2 * 1.5**2))
    g = g / g.sum()
    c = a.shape[1]
    kx, ky = g.view(1, 1, 1, 11).repeat(c, 1, 1, 1), g.view(1, 1, 11, 1).repeat(c, 1, 1, 1)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(x, kx, padding=(0, 5), groups=c), ky, padding=(5, 0), groups=c)

    c1, c2 = 0.01**2, 0.03**2
    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma**2, blur(b * b) - mb**2, blur(a * b) - ma * mb
    s = (2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    return s.mean(1, keepdim=True)


def loss_fn(out: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, ssim_w: float,
            grad_w: float = 0.0) -> torch.Tensor:
    """Weighted L1 + ssim_w * (1 - SSIM) + grad_w * L1 of the x and y image gradients, the last
    two over the paste region. Without the gradient term the refiner settles for soft teeth
    and lip lines (the mean of the possible mouths)."""
    l1 = ((out - target).abs() * weight).mean() / weight.mean()
    region = weight - 1  # the paste mask, scaled: SSIM where the refiner's pixels are used
    area = region.sum().clamp_min(1e-6)
    loss = l1 + ssim_w * ((1 - ssim_map(out, target)) * region).sum() / area
    if grad_w:
        d = out - target
        gx = (d[..., :, 1:] - d[..., :, :-1]).abs() * region[..., :, 1:]
        gy = (d[..., 1:, :] - d[..., :-1, :]).abs() * region[..., 1:, :]
        loss = loss + grad_w * (gx.sum() + gy.sum()) / (3 * area)
    return loss


# Detail across the mouth at the scale of a tooth's edge: the horizontal derivative of the grey
# image smoothed by [1, 2, 1] both ways (a Sobel filter, over 8). It does not see stripes of a
# 2 px period, the pattern a network that upsamples by pixel shuffle draws most cheaply: asked
# for neighbour differences, a first run filled the teeth's band with a fine hatching that
# matched the real frames' amount of detail and looked like none of their teeth.
DETAIL_KERNEL = (torch.tensor([1.0, 2.0, 1.0])[:, None] * torch.tensor([-1.0, 0.0, 1.0])) / 8


def detail_across(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) absolute smoothed horizontal derivative of the grey image (DETAIL_KERNEL):
    the edges of teeth, which run up and down."""
    grey = F.pad(x.mean(1, keepdim=True), (1, 1, 1, 1), mode="replicate")
    return F.conv2d(grey, DETAIL_KERNEL.to(x).view(1, 1, 3, 3)).abs()


def texture_loss(out: torch.Tensor, target: torch.Tensor, opening: torch.Tensor) -> torch.Tensor:
    """How far the amount of fine detail across the opening (N, 1, H, W) in `out` is from the
    target's, patch by patch (TEXTURE_PATCH, overlapping by half), per opening pixel."""
    k = TEXTURE_PATCH

    def pooled(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x * opening, k, k // 2)

    gap = (pooled(detail_across(out)) - pooled(detail_across(target))).abs().sum()
    return gap / pooled(torch.ones_like(opening)).sum().clamp_min(1e-6)


def laplacian_energy(x: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """(N,) mean squared Laplacian of the grey image over a region (N, 1, H, W): fine detail."""
    grey = x.mean(1, keepdim=True)
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], device=x.device)
    lap = F.conv2d(grey, k.view(1, 1, 3, 3), padding=1)
    return (lap ** 2 * region).sum((1, 2, 3)) / region.sum((1, 2, 3)).clamp_min(1)


def critic_weight(region: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """The paste region (N, 1, H, W) pooled to the critic's patches: only the refiner's pixels
    are judged."""
    return F.adaptive_avg_pool2d(region, logits.shape[-2:])


def patch_mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of per-patch values weighted by `critic_weight`."""
    return (values * weight).sum() / weight.sum().clamp_min(1e-6)


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: PairSet, opening: int, max_rows: int = 2048,
             teeth: bool = False) -> dict[str, float]:
    """Region (paste mask > 0.5) PSNR, SSIM and sharpness (Laplacian energy over the real
    frame's) of the refiner's input (the warp; for the eyes, the warp with drawn eyes) and of
    its output, and their texture ratio: the detail across the opening (mask `opening` of the
    region's two) over the real frames', summed over the pairs. teeth (mouths): also the upper
    third of the opening, luma over the lips' (`upper_band`), median over the pairs opened
    enough to read it, refined and real ("upper_refined", "upper_real"), and the share of them
    that bare the upper teeth (BARED; "bared_refined", "bared_real")."""
    model.eval()
    sums = {"psnr_warp": 0.0, "psnr_refined": 0.0, "ssim_warp": 0.0, "ssim_refined": 0.0,
            "sharpness_warp": 0.0, "sharpness_refined": 0.0}
    detail = {"warp": 0.0, "refined": 0.0, "real": 0.0}
    rows = torch.arange(min(len(data), max_rows), device=data.ref.device)
    n = 0
    drawn: dict[str, list[np.ndarray]] = {"refined": [], "real": []}
    for chunk in rows.split(128):
        x, t, w = batch(data, chunk, augment=False)
        out = model(x)
        if teeth:
            lips = data.points[chunk].cpu().numpy()
            for name, y in (("refined", out), ("real", t)):
                pictures = (y.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
                drawn[name].append(upper_band(pictures, lips))
        region = (w > 1 + 0.5 * (REGION_WEIGHT - 1)).float()
        area = region.sum((1, 2, 3)).clamp_min(1)
        inside = input_mask(x, opening)
        detail["real"] += float((detail_across(t) * inside).sum())
        for name, y in (("warp", x[:, :3]), ("refined", out)):
            detail[name] += float((detail_across(y) * inside).sum())
            mse = (((y - t) ** 2).mean(1, keepdim=True) * region).sum((1, 2, 3)) / area
            sums["psnr_" + name] += float((10 * torch.log10(1 / mse.clamp_min(1e-10))).sum())
            ssim = (ssim_map(y, t) * region).sum((1, 2, 3)) / area
            sums["ssim_" + name] += float(ssim.sum())
            sums["sharpness_" + name] += float((laplacian_energy(y, region)
                                                / laplacian_energy(t, region).clamp_min(1e-8))
                                               .sum())
        n += len(chunk)
    model.train()
    real = max(detail["real"], 1e-8)
    scores = ({k: v / n for k, v in sums.items()}
              | {"texture_warp": detail["warp"] / real,
                 "texture_refined": detail["refined"] / real})
    if teeth:
        upper = {k: np.concatenate(v) for k, v in drawn.items()}
        read = np.isfinite(upper["refined"]) & np.isfinite(upper["real"])
        for k, v in upper.items():
            scores[f"upper_{k}"] = float(np.median(v[read])) if read.any() else math.nan
            scores[f"bared_{k}"] = float((v[read] >= BARED).mean()) if read.any() else math.nan
    return scores


def texture_key(scores: dict[str, float]) -> float:
    """A texture run's export key: the held-out texture ratio's nearness to the real's (1)."""
    return -abs(math.log(max(scores["texture_refined"], 1e-6)))


def keeps_floor(scores: dict[str, float], floor: dict[str, float], slack: tuple[float, float]
                ) -> bool:
    """Whether held-out `scores` keep the starting refiner's PSNR and SSIM, less `slack`."""
    return (scores["psnr_refined"] >= floor["psnr_refined"] - slack[0]
            and scores["ssim_refined"] >= floor["ssim_refined"] - slack[1])


def calibration_inputs(data: PairSet, rows: int = CALIBRATION_ROWS) -> list[np.ndarray]:
    """(1, 8, H, W) float32 network inputs of `rows` pairs spread over the set: the activation
    ranges INT8 quantisation is calibrated on."""
    idx = torch.linspace(0, len(data) - 1, rows).long().to(data.ref.device)
    return [batch(data, idx[i:i + 1], augment=False)[0].cpu().numpy() for i in range(rows)]


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: no CUDA device here")
    return torch.device(name)


def train_refiner(data: str | Path, out: str | Path, config: TrainRefinerConfig | None = None,
                  progress: Callable[[str], None] | None = print) -> dict:
    """Train on the pair set `data`; write out/STEM.pt, out/STEM.onnx (float32) and
    out/STEM.int8.onnx (the bundled form; STEM: 'refiner' for the mouth, 'eye_refiner' for the
    eyes, `refine.regions`), out/metrics.json. Resumes from out/last.pt."""
    cfg = config or TrainRefinerConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = 0
    if distributed:  # torchrun: one process per GPU
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        rank = torch.distributed.get_rank()
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    device = _device(cfg.device) if not distributed or not torch.cuda.is_available() else \
        torch.device("cuda", torch.cuda.current_device())
    torch.manual_seed(cfg.seed + rank)
    gen = torch.Generator().manual_seed(cfg.seed + rank)
    t0 = time.perf_counter()
    reg = pairs_region(data)
    mouth = reg.name == "mouth"
    if cfg.teeth and not mouth:
        raise ValueError(f"{data}: --teeth is for mouth pairs; these are of the {reg.name}")
    train = load_pairs(data, "train", device)
    val = load_pairs(data, "val", device)
    say = progress if (progress and rank == 0) else (lambda _s: None)
    # rows to draw `cfg.teeth` of each batch from (indices on the CPU, where rows are drawn)
    favoured = bared_teeth(train).nonzero()[:, 0] if cfg.teeth else None
    say(f"{reg.name} pairs: {len(train)} train, {len(val)} val, loaded in "
        f"{time.perf_counter() - t0:.0f} s on {device}"
        + (f"; {len(favoured)} training pairs bare the upper teeth" if cfg.teeth else ""))
    if cfg.init:
        model = load_refiner(cfg.init).train().to(device)  # its own widths, not cfg.model's
        say(f"starting from {cfg.init} (widths {model.config.widths})")
    else:
        model = Refiner(cfg.model).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    critic = opt_c = None
    if cfg.adversarial:
        critic = PatchCritic().to(device)
        opt_c = torch.optim.Adam(critic.parameters(), lr=CRITIC_LR, betas=(0.5, 0.999))
    step = 0
    last = out / "last.pt"
    history: list[dict] = []
    # (key, step, weights) of the step to export: held-out SSIM, or with a critic the sharpness
    # of a step that keeps `floor` (the starting refiner's scores)
    best: tuple[float, int, dict | None] = (-math.inf, 0, None)
    floor: dict | None = None
    if last.exists():
        from vasa.motion.checkpoint import load_torch_file

        state = load_torch_file(last, "refiner training state")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        if critic is not None and "critic" in state:
            critic.load_state_dict(state["critic"])
            opt_c.load_state_dict(state["opt_critic"])
        step, history = int(state["step"]), list(state["history"])
        floor, best = state.get("floor"), state.get("best", best)
        say(f"resumed from {last} at step {step}")
    # A sharpening run (a critic, or the texture term) exports by a key of its own among the
    # steps that keep `floor`, the starting refiner's scores, less a slack.
    sharpening = critic is not None or cfg.texture > 0
    slack = TEXTURE_SLACK if cfg.texture > 0 else (0.0, 0.0)

    def key_of(scores: dict[str, float]) -> float:
        if cfg.texture > 0:
            return texture_key(scores)
        return scores["sharpness_refined" if critic is not None else "ssim_refined"]

    if sharpening and floor is None:
        start = (load_refiner(cfg.init).to(device) if cfg.init else model)
        floor = {**evaluate(start, val, reg.opening, teeth=mouth), "step": 0}
        best = (key_of(floor), 0, _weights(start))
        say(f"starting refiner: held-out PSNR {floor['psnr_refined']:.2f} dB, SSIM "
            f"{floor['ssim_refined']:.3f}, sharpness {floor['sharpness_refined']:.2f}, "
            f"texture {floor['texture_refined']:.2f}"
            + (f", upper teeth {floor['upper_refined']:.2f} (real {floor['upper_real']:.2f})"
               if mouth else ""))
    net = (torch.nn.parallel.DistributedDataParallel(model) if distributed else model)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True

    def save() -> None:
        if rank:
            return
        state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                 "history": history, "config": asdict(cfg), "best": best, "floor": floor}
        if critic is not None:
            state |= {"critic": critic.state_dict(), "opt_critic": opt_c.state_dict()}
        with atomic_output(last) as tmp:
            torch.save(state, tmp)

    t_start = time.perf_counter()
    first = step
    steps = cfg.steps
    while step < steps:
        if step == first + WARMUP_STEPS:
            t_timed = time.perf_counter()
        if cfg.minutes and step == first + WARMUP_STEPS + TIMING_STEPS:
            per_step = (time.perf_counter() - t_timed) / TIMING_STEPS
            fits = step + int((cfg.minutes * 60 - (time.perf_counter() - t0)) / per_step)
            if fits < steps:
                steps = max(step + 1, fits)
                say(f"time budget {cfg.minutes:g} min: {steps} steps "
                    f"({per_step * 1e3:.1f} ms/step)")
        lr = cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = draw_rows(len(train), cfg.batch, favoured, cfg.teeth, gen).to(device)
        x, t, w = batch(train, idx, augment=True, gen=gen)
        y = net(x)
        loss = loss_fn(y, t, w, cfg.ssim, cfg.grad)
        if cfg.texture:
            loss = loss + cfg.texture * texture_loss(y, t, input_mask(x, reg.opening))
        if critic is not None:
            critic.requires_grad_(False)  # the refiner's step: no critic gradients to compute
            fake = critic(y, x[:, :3])
            cw = critic_weight(w - 1, fake)
            loss = loss - cfg.adversarial * patch_mean(fake, cw)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        opt.step()
        if critic is not None:  # hinge loss on real frames against the refiner's
            critic.requires_grad_(True)
            real, fake = critic(t, x[:, :3]), critic(y.detach(), x[:, :3])
            loss_c = patch_mean(F.relu(1 - real) + F.relu(1 + fake), cw)
            opt_c.zero_grad(set_to_none=True)
            loss_c.backward()
            opt_c.step()
        step += 1
        if step % cfg.eval_every == 0 or step == steps:
            scores = evaluate(model, val, reg.opening, teeth=mouth)
            key = key_of(scores)
            keeps = not sharpening or keeps_floor(scores, floor, slack)
            if keeps and key > best[0]:
                best = (key, step, _weights(model))
            history.append({"step": step, "loss": loss.item(), **scores})
            say(f"step {step}/{steps} loss {loss.item():.4f} val {reg.name} PSNR "
                f"{scores['psnr_warp']:.2f} -> {scores['psnr_refined']:.2f} dB, SSIM "
                f"{scores['ssim_warp']:.3f} -> {scores['ssim_refined']:.3f}, sharpness "
                f"{scores['sharpness_warp']:.2f} -> {scores['sharpness_refined']:.2f}, texture "
                f"{scores['texture_warp']:.2f} -> {scores['texture_refined']:.2f}"
                + (f", upper teeth {scores['upper_refined']:.2f} (real "
                   f"{scores['upper_real']:.2f})" if mouth else "")
                + f" ({(time.perf_counter() - t_start) / 60:.1f} min)")
        if step % cfg.save_every == 0:
            save()
    save()
    metrics = {"region": reg.name, "steps": step, "train_pairs": len(train),
               "val_pairs": len(val), "history": history, "final": history[-1] if history else {}}
    if rank == 0:
        if best[2] is not None:  # a late divergence must not be what ships
            model.load_state_dict(best[2])
            metrics["final"] = next((h for h in history if h["step"] == best[1]), floor)
            metrics["exported_step"] = best[1]
        if floor is not None:
            metrics["start"] = floor
        model.eval()
        save_refiner(model, out / f"{reg.stem}.pt", metrics)
        export_onnx(model, out / f"{reg.stem}.onnx", calibration_inputs(train),
                    quantized=out / f"{reg.stem}.int8.onnx", size=reg.size)
        with atomic_output(out / "metrics.json") as tmp:
            Path(tmp).write_text(json.dumps(metrics, indent=1))
    if distributed:
        torch.distributed.destroy_process_group()
    return metrics
