"""Train CAPP (VASA-1 section 4.2) on the train split of a prepared dataset.

CLIP's symmetric InfoNCE over batches of real 3 s (audio, pose) windows, plus hard negatives:
the same clip's audio slid by 1..MAX_SHIFT frames against its pose. With a few minutes of data,
in-batch negatives alone are separable by clip identity (voice, speaking style) and teach
nothing about timing; the slid negatives are what makes the score fall when pose and audio are
out of step (SyncNet trains its offsets the same way). Reported honestly in the validation:
VASA-1 does not say it used them.

Augmentation: a random horizontal mirror of the head (yaw, roll, tx negated together, as a
mirrored video would track). A mirrored talking head is still a real talking head with the same
audio timing and motion energy; only the speaker's left/right habit is lost, which a measure of
audio-pose alignment should not use anyway. Time reversal is not used: motion lags speech.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vasa.data.format import Dataset
from vasa.evaluation.capp import CappConfig, CappModel, CappNet, pose_features

MAX_SHIFT = 8  # hard negatives: audio slid by 1..8 frames (0.04-0.32 s) either way
# pitch, yaw, roll, tx, ty, scale: yaw, roll and tx flip sign in a horizontally mirrored video
MIRROR = torch.tensor([1.0, -1.0, -1.0, -1.0, 1.0, 1.0])
EVAL_SHIFT = 2  # validation tracks cos(shift 0) - cos(shift +-2): is timing being learnt?


@dataclass
class WindowBank:
    """Every segment of a split, concatenated. pose: (N, 6); audio: (N, 85); starts: (W,) global
    frame of every window start whose window +- MAX_SHIFT stays inside one segment; segment:
    (W,) index of that segment."""

    pose: np.ndarray
    audio: np.ndarray
    starts: np.ndarray
    segment: np.ndarray
    speakers: int
    minutes: float


def load_windows(ds: Dataset, split: str, window: int, hop: int = 1) -> WindowBank:
    """Read the audio-bearing segments of a split into RAM (a few MB) with their window starts."""
    poses, audios, starts, segment, speakers, off = [], [], [], [], set(), 0
    for seg in ds.split(split):
        audio = ds.audio(seg)
        if audio is None or seg.frames < window + 2 * MAX_SHIFT:
            continue  # audio-less, or too short for one window and its slid negatives
        poses.append(np.asarray(ds.column(ds.motion(seg), "pose"), np.float32))
        audios.append(np.asarray(audio, np.float32))
        s = np.arange(MAX_SHIFT, seg.frames - window - MAX_SHIFT + 1, hop)
        starts.append(off + s)
        segment.append(np.full(len(s), len(poses) - 1))
        speakers.add(seg.speaker)
        off += seg.frames
    if not poses:
        raise ValueError(f"{ds.root}: no {split} segment with audio and at least "
                         f"{window + 2 * MAX_SHIFT} frames: CAPP needs {split} windows")
    return WindowBank(np.concatenate(poses), np.concatenate(audios), np.concatenate(starts),
                      np.concatenate(segment), len(speakers), off / 25 / 60)


def gather(x: np.ndarray, starts: np.ndarray, window: int) -> torch.Tensor:
    """(N, C) rows, (B,) starts -> (B, window, C) tensor."""
    return torch.from_numpy(x[starts[:, None] + np.arange(window)])


def fit_stats(net: CappNet, bank: WindowBank, rng: np.random.Generator) -> None:
    """Fill the network's normalisation buffers from train windows (no gradients)."""
    cfg = net.config
    s = rng.choice(bank.starts, min(4096, len(bank.starts)), replace=False)
    feats = pose_features(gather(bank.pose, s, cfg.window), cfg.velocities)  # (n, T, P)
    net.pose_std.copy_(feats.reshape(-1, cfg.pose_dim).std(0).clamp_min(1e-6))
    net.audio_mean.copy_(torch.from_numpy(bank.audio.mean(0)))
    net.audio_std.copy_(torch.from_numpy(bank.audio.std(0)).clamp_min(1e-3))


def clip_loss(net: CappNet, pose: torch.Tensor, audio: torch.Tensor,
              slid: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric InfoNCE (CLIP) over B matched windows, with optional slid-audio negatives.

    pose: (B, T, 6); audio: (B, T, 85); slid: (B, K, T, 85) audio of the same clip off by a few
    frames, extra negatives for the pose -> audio direction. Returns (loss, top-1 accuracy).
    """
    p, a = net.embed_pose(pose), net.embed_audio(audio)  # (B, E), (B, E)
    scale = net.temperature_scale()
    logits = scale * p @ a.T  # (B, B): row i = pose i against every audio
    target = torch.arange(len(p))
    p2a = logits
    if slid is not None:
        b, k = slid.shape[:2]
        h = net.embed_audio(slid.flatten(0, 1)).view(b, k, -1)  # (B, K, E)
        p2a = torch.cat([logits, scale * (p[:, None] * h).sum(-1)], 1)  # (B, B + K)
    loss = 0.5 * (F.cross_entropy(p2a, target) + F.cross_entropy(logits.T, target))
    acc = (p2a.argmax(1) == target).float().mean()
    return loss, acc


@torch.no_grad()
def evaluate(net: CappNet, bank: WindowBank, batch: int, seed: int = 0) -> dict[str, float]:
    """Validation: CLIP loss and pose->audio top-1 accuracy in fixed batches of `batch` windows
    (no slid negatives), matched / mismatched cosine, and the cosine at +-EVAL_SHIFT frames."""
    net.eval()
    w = net.config.window
    order = np.random.default_rng(seed).permutation(bank.starts)
    losses, accs, matched, mismatched, shifted = [], [], [], [], []
    for i in range(0, len(order) - batch + 1, batch):
        s = order[i:i + batch]
        pose, audio = gather(bank.pose, s, w), gather(bank.audio, s, w)
        loss, acc = clip_loss(net, pose, audio)
        p, a = net.embed_pose(pose), net.embed_audio(audio)
        cos = p @ a.T  # (B, B)
        losses.append(loss.item())
        accs.append(acc.item())
        matched.append(cos.diag().mean().item())
        mismatched.append((cos.sum() - cos.diag().sum()).item() / (batch * (batch - 1)))
        for d in (-EVAL_SHIFT, EVAL_SHIFT):
            shifted.append((p * net.embed_audio(gather(bank.audio, s + d, w))).sum(-1).mean().item())
    net.train()
    return {"val_loss": float(np.mean(losses)), "val_acc": float(np.mean(accs)),
            "val_cos_matched": float(np.mean(matched)),
            "val_cos_mismatched": float(np.mean(mismatched)),
            f"val_cos_shift{EVAL_SHIFT}": float(np.mean(shifted))}


@dataclass
class TrainReport:
    """What `train_capp` did: files written, data used, time taken, final validation numbers
    (val_* as in `evaluate`, on the speaker-disjoint val split)."""

    out_path: str
    log_path: str
    steps: int
    seconds: float
    train_minutes: float
    train_speakers: int
    val_minutes: float
    val_speakers: int
    train_loss: float
    val: dict[str, float]
    asset_bytes: int


def train_capp(data_dir: str | Path, out_path: str | Path, steps: int = 1500, seed: int = 0,
               batch_size: int = 64, slid_negatives: int = 2, lr: float = 1e-3,
               eval_every: int = 100, config: CappConfig | None = None,
               log_path: str | Path | None = None, threads: int = 1,
               progress: bool = True) -> TrainReport:
    """Train CAPP on `data_dir`'s train split, validate on its val split, save to `out_path`.

    Writes a CSV log (default: next to the checkpoint, `<stem>_log.csv`), one row per
    `eval_every` steps. Deterministic for a given seed and thread count.
    """
    from tqdm import tqdm

    cfg = config or CappConfig()
    ds = Dataset(data_dir)
    if ds.meta.audio_dim != cfg.audio_dim or ds.meta.motion_fps != 25.0:
        raise ValueError(f"{data_dir}: audio features of dim {ds.meta.audio_dim} at "
                         f"{ds.meta.motion_fps} fps; CAPP reads dim {cfg.audio_dim} at 25 fps")
    out_path = Path(out_path)
    log_path = Path(log_path or out_path.with_name(out_path.stem + "_log.csv"))
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    train, val = load_windows(ds, "train", cfg.window), load_windows(ds, "val", cfg.window, 25)
    net = CappNet(cfg)
    fit_stats(net, train, rng)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.05)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / warmup)
                                              * 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps)))
    shifts = np.concatenate([np.arange(-MAX_SHIFT, 0), np.arange(1, MAX_SHIFT + 1)])
    fields_ = ["step", "seconds", "lr", "temperature", "train_loss", "train_acc"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    running: list[tuple[float, float]] = []
    val_stats: dict[str, float] = {}
    try:
        with log_path.open("w", newline="") as fh, tqdm(total=steps, desc="capp",
                                                        disable=not progress) as bar:
            writer = None
            for step in range(1, steps + 1):
                s = rng.choice(train.starts, batch_size)
                pose = gather(train.pose, s, cfg.window)  # (B, T, 6)
                flip = torch.from_numpy(rng.random(batch_size) < 0.5)[:, None, None]
                pose = torch.where(flip, pose * MIRROR, pose)
                audio = gather(train.audio, s, cfg.window)  # (B, T, 85)
                slid = None
                if slid_negatives:
                    d = rng.choice(shifts, (batch_size, slid_negatives))  # (B, K)
                    slid = gather(train.audio, (s[:, None] + d).ravel(), cfg.window)
                    slid = slid.view(batch_size, slid_negatives, cfg.window, -1)
                loss, acc = clip_loss(net, pose, audio, slid)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                sched.step()
                running.append((loss.item(), acc.item()))
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}",
                                val_acc=f"{val_stats.get('val_acc', float('nan')):.3f}")
                if step % eval_every == 0 or step == steps:
                    val_stats = evaluate(net, val, batch_size)
                    row = {"step": step, "seconds": round(time.perf_counter() - t0, 1),
                           "lr": sched.get_last_lr()[0],
                           "temperature": 1.0 / net.temperature_scale().item(),
                           "train_loss": np.mean([r[0] for r in running]),
                           "train_acc": np.mean([r[1] for r in running]), **val_stats}
                    if writer is None:
                        writer = csv.DictWriter(fh, [*fields_, *val_stats])
                        writer.writeheader()
                    writer.writerow({k: f"{v:.5g}" if isinstance(v, float) else v
                                     for k, v in row.items()})
                    fh.flush()
                    last_loss, running = float(row["train_loss"]), []
    finally:
        torch.set_num_threads(old_threads)
    seconds = time.perf_counter() - t0
    info = {"steps": steps, "seed": seed, "batch_size": batch_size,
            "slid_negatives": slid_negatives, "lr": lr, "dataset": Path(data_dir).name,
            "train_minutes": round(train.minutes, 2), "train_speakers": train.speakers,
            "val": val_stats, "seconds": round(seconds, 1), "torch": torch.__version__}
    model = CappModel(net.eval(), ds.meta.audio_extractor, ds.meta.basis_version, info)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(out_path)
    return TrainReport(str(out_path), str(log_path), steps, round(seconds, 1),
                       round(train.minutes, 2), train.speakers, round(val.minutes, 2),
                       val.speakers, last_loss, val_stats, out_path.stat().st_size)
