"""Train CAPP (VASA-1 section 4.2) on the train split of a prepared dataset.

CLIP's symmetric InfoNCE over batches of real 3 s (audio, pose) windows. Two departures, both
for lack of data (about 10 minutes of speech in the default dataset):
  - a batch is 4 clips x 16 windows, so most negatives share the speaker's voice, recording and
    speaking style, and clip identity alone cannot solve it (best held-out AUC of the variants
    tried: 4 windows per clip, 8, 16; see benchmarks/results/capp_validation.md);
  - hard negatives: the same clip's audio slid by 1-8 frames against its pose, as SyncNet trains
    its offsets; VASA-1 does not say it used them. They were meant to teach the timing behind
    VASA-1 Table 3; on this data they did not (nor did slides of 3-25 frames, or 6 per window),
    and the validation says so.

Augmentation: a random horizontal mirror of the head (yaw, roll, tx negated together, as a
mirrored video would track). A mirrored talking head is still a real talking head with the same
audio timing and motion energy; only the speaker's left/right habit is lost, which a measure of
audio-pose alignment should not use anyway. Time reversal is not used: motion leads speech.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from vasa.data.format import Dataset
from vasa.data.offsets import align, load_av_offsets
from vasa.evaluation.capp import CappConfig, CappModel, CappNet, pose_features
from vasa.timebase import MOTION_FPS, check_motion_fps

SLID = (1, 8)  # hard negatives: audio slid by 1..8 frames (0.04-0.32 s) either way
EVAL_MARGIN = 4  # val windows keep 4 frames either side for the shifted scores (VASA-1 Table 3)
# pitch, yaw, roll, tx, ty, scale: yaw, roll and tx flip sign in a horizontally mirrored video
MIRROR = torch.tensor([1.0, -1.0, -1.0, -1.0, 1.0, 1.0])
EVAL_SHIFT = 2  # validation tracks cos(shift 0) - cos(shift +-2): is timing being learnt?


@dataclass
class WindowBank:
    """Every segment of a split, concatenated. pose: (N, 6); audio: (N, 85); starts: (W,) every
    window start whose window +- margin stays in one segment; segment: (W,) that segment's index;
    first / count: (S,) where each segment's starts lie in `starts`."""

    pose: np.ndarray
    audio: np.ndarray
    starts: np.ndarray
    segment: np.ndarray
    first: np.ndarray
    count: np.ndarray
    speakers: int
    minutes: float


def load_windows(ds: Dataset, split: str, window: int, hop: int = 1,
                 margin: int = EVAL_MARGIN, av_offsets: dict[str, int] | None = None
                 ) -> WindowBank:
    """Read the audio-bearing segments of a split into RAM (a few MB) with their window starts;
    av_offsets: segment name -> AV offset undone first (vasa.evaluation.train_sync.align)."""
    poses, audios, starts, segment, speakers, off = [], [], [], [], set(), 0
    for seg in ds.split(split):
        audio = ds.audio(seg)
        if audio is None:
            continue
        pose = np.asarray(ds.column(ds.motion(seg), "pose"), np.float32)
        pose, audio = align(pose, np.asarray(audio, np.float32),
                            (av_offsets or {}).get(seg.name, 0))
        if len(pose) < window + 2 * margin:
            continue  # too short for one window and its slid negatives
        poses.append(pose)
        audios.append(audio)
        s = np.arange(margin, len(pose) - window - margin + 1, hop)
        starts.append(off + s)
        segment.append(np.full(len(s), len(poses) - 1))
        speakers.add(seg.speaker)
        off += len(pose)
    if not poses:
        raise ValueError(f"{ds.root}: no {split} segment with audio and at least "
                         f"{window + 2 * margin} frames: CAPP needs {split} windows")
    count = np.array([len(x) for x in starts])
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    return WindowBank(np.concatenate(poses), np.concatenate(audios), np.concatenate(starts),
                      np.concatenate(segment), first, count, len(speakers), off / MOTION_FPS / 60)


def sample_starts(bank: WindowBank, rng: np.random.Generator, batch: int,
                  per_clip: int) -> np.ndarray:
    """(batch,) window starts: batch // per_clip segments (chance proportional to their windows),
    per_clip random windows from each. Negatives from the same clip share voice, recording and
    speaking style, so telling them apart takes audio-pose timing, not clip identity."""
    segs = rng.choice(len(bank.count), batch // per_clip, p=bank.count / bank.count.sum())
    j = bank.first[segs, None] + rng.integers(0, bank.count[segs, None], (len(segs), per_clip))
    return bank.starts[j.ravel()]


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


def clip_loss(net: CappNet, pose: torch.Tensor, audio: torch.Tensor, slid: torch.Tensor | None = None,
              starts: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric InfoNCE (CLIP) over B matched windows, with optional slid-audio negatives.

    pose: (B, T, 6); audio: (B, T, 85); slid: (B, K, T, 85) audio of the same clip off by a few
    frames, extra negatives for the pose -> audio direction; starts: (B,) window starts, to
    leave out of the negatives any window drawn twice. Returns (loss, top-1 accuracy).
    """
    p, a = net.embed_pose(pose), net.embed_audio(audio)  # (B, E), (B, E)
    scale = net.temperature_scale()
    logits = scale * p @ a.T  # (B, B): row i = pose i against every audio
    target = torch.arange(len(p))
    if starts is not None:
        twin = torch.from_numpy(starts[:, None] == starts[None]) & (target[:, None] != target)
        logits = logits.masked_fill(twin, float("-inf"))
    p2a = logits
    if slid is not None:
        b, k = slid.shape[:2]
        h = net.embed_audio(slid.flatten(0, 1)).view(b, k, -1)  # (B, K, E)
        p2a = torch.cat([logits, scale * (p[:, None] * h).sum(-1)], 1)  # (B, B + K)
    loss = 0.5 * (F.cross_entropy(p2a, target) + F.cross_entropy(logits.T, target))
    acc = (p2a.argmax(1) == target).float().mean()
    return loss, acc


@torch.no_grad()
def embed_windows(net: CappNet, bank: WindowBank, starts: np.ndarray, audio_offset: int = 0,
                  batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Pose embeddings of the windows at `starts` and audio embeddings of the windows at
    `starts + audio_offset`: (W, E), (W, E)."""
    w, p, a = net.config.window, [], []
    for i in range(0, len(starts), batch):
        s = starts[i:i + batch]
        p.append(net.embed_pose(gather(bank.pose, s, w)))
        a.append(net.embed_audio(gather(bank.audio, s + audio_offset, w)))
    return torch.cat(p), torch.cat(a)


@torch.no_grad()
def evaluate(net: CappNet, bank: WindowBank, batch: int, seed: int = 0) -> dict[str, float]:
    """Validation on every window of `bank`:
    val_loss / val_acc: CLIP loss and pose->audio top-1 accuracy in fixed random batches of
    `batch` windows (no slid negatives); val_cos_matched / val_cos_mismatched: mean cosine of
    true pairs / of pairs from different clips; val_auc: how often a true pair beats a pair of
    the same pose with another clip's audio; val_cos_shift2: true pairs slid +-2 frames."""
    net.eval()
    p, a = embed_windows(net, bank, bank.starts)
    cos = p @ a.T  # (W, W)
    seg = torch.from_numpy(bank.segment)
    other = seg[:, None] != seg[None]
    diag = cos.diag()
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(diag)))
    losses, accs = [], []
    for i in range(0, len(order) - batch + 1, batch):
        idx = order[i:i + batch]
        logits = net.temperature_scale() * cos[idx][:, idx]  # (B, B)
        target = torch.arange(len(idx))
        losses.append(0.5 * (F.cross_entropy(logits, target)
                             + F.cross_entropy(logits.T, target)).item())
        accs.append((logits.argmax(1) == target).float().mean().item())
    shifted = [(p * embed_windows(net, bank, bank.starts, d)[1]).sum(-1).mean().item()
               for d in (-EVAL_SHIFT, EVAL_SHIFT)]
    net.train()
    return {"val_loss": float(np.mean(losses)), "val_acc": float(np.mean(accs)),
            "val_auc": (diag[:, None] > cos)[other].float().mean().item(),
            "val_cos_matched": diag.mean().item(), "val_cos_mismatched": cos[other].mean().item(),
            f"val_cos_shift{EVAL_SHIFT}": float(np.mean(shifted))}


@dataclass
class TrainReport:
    """What `train_capp` did: files written, data used, time taken, final validation numbers
    (val_* as in `evaluate`, on the speaker-disjoint val split)."""

    out_path: str  # the checkpoint
    log_path: str  # the CSV log, one row per evaluation
    steps: int
    seconds: float  # wall time, loading included
    train_minutes: float  # audio-bearing train data used, and its speakers
    train_speakers: int
    val_minutes: float
    val_speakers: int
    train_loss: float  # mean over the last evaluation interval
    val: dict[str, float]
    asset_bytes: int


@dataclass
class TrainCappConfig:
    """Settings of `train_capp`; the model's sizes are in `model`."""

    steps: int = 600  # optimiser steps
    seed: int = 0  # weights and batches: deterministic for a seed and a thread count
    threads: int = 1  # torch CPU threads (restored afterwards)
    av_offsets: str | None = None  # offsets file of `vasa train sync`: undo train AV offsets
    log_path: str | None = None  # CSV log (default: next to the checkpoint, <stem>_log.csv)

    batch_size: int = 64  # windows per batch (CLIP negatives: the other 63)
    windows_per_clip: int = 16  # batch = 4 clips x 16 windows: most negatives share the clip
    slid_negatives: int = 2  # extra negatives per window: its audio slid by a few frames
    slid_range: tuple[int, int] = SLID  # min / max slide in frames (either way)
    lr: float = 5e-4  # AdamW peak learning rate (warm-up 5%, cosine decay to 0)
    weight_decay: float = 0.05  # AdamW weight decay
    eval_every: int = 100  # validate and write a log row every this many steps
    model: CappConfig = field(default_factory=CappConfig)


def make_batch(bank: WindowBank, rng: np.random.Generator, cfg: CappConfig, st: TrainCappConfig
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, np.ndarray]:
    """A training batch: pose (B, T, 6), mirrored at random; audio (B, T, 85); slid audio
    (B, K, T, 85) or None; starts (B,)."""
    s = sample_starts(bank, rng, st.batch_size, st.windows_per_clip)
    pose = gather(bank.pose, s, cfg.window)  # (B, T, 6)
    flip = torch.from_numpy(rng.random(len(s)) < 0.5)[:, None, None]
    pose = torch.where(flip, pose * MIRROR, pose)
    audio = gather(bank.audio, s, cfg.window)  # (B, T, 85)
    if not st.slid_negatives:
        return pose, audio, None, s
    lo, hi = st.slid_range
    shifts = np.concatenate([np.arange(-hi, 1 - lo), np.arange(lo, hi + 1)])  # never 0
    d = rng.choice(shifts, (len(s), st.slid_negatives))  # (B, K)
    slid = gather(bank.audio, (s[:, None] + d).ravel(), cfg.window)  # (B * K, T, 85)
    return pose, audio, slid.view(len(s), st.slid_negatives, cfg.window, -1), s


def train_capp(data_dir: str | Path, out_path: str | Path, config: TrainCappConfig | None = None,
               progress: bool = True) -> TrainReport:
    """Train CAPP on `data_dir`'s train split, validate on its val split, save to `out_path`.

    Writes a CSV log (default: next to the checkpoint, `<stem>_log.csv`), one row per
    `config.eval_every` steps. Uses `config.threads` torch CPU threads (restored afterwards);
    deterministic for a given seed and thread count. config.av_offsets: the offsets file of
    `vasa train sync`; its train segments' AV offsets are undone before windowing (a pose
    sliding against its audio by a few frames is exactly what CAPP must learn to score low).
    """
    st = config or TrainCappConfig()
    cfg, steps, seed, threads, av_offsets = st.model, st.steps, st.seed, st.threads, st.av_offsets
    ds = Dataset(data_dir)
    check_motion_fps(ds.meta.motion_fps, str(data_dir))
    if ds.meta.audio_dim != cfg.audio_dim:
        raise ValueError(f"{data_dir}: audio features of dim {ds.meta.audio_dim}; CAPP reads "
                         f"dim {cfg.audio_dim}")
    out_path = Path(out_path)
    log_path = Path(st.log_path or out_path.with_name(out_path.stem + "_log.csv"))
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    offsets = load_av_offsets(av_offsets) if av_offsets else None
    train = load_windows(ds, "train", cfg.window, margin=st.slid_range[1], av_offsets=offsets)
    val = load_windows(ds, "val", cfg.window, hop=MOTION_FPS)  # a window every second
    net = CappNet(cfg)
    fit_stats(net, train, rng)
    opt = torch.optim.AdamW(net.parameters(), lr=st.lr, weight_decay=st.weight_decay)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * i / steps)))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    running: list[tuple[float, float]] = []
    row: dict = {}
    try:
        with log_path.open("w", newline="") as fh, tqdm(total=steps, desc="capp",
                                                        disable=not progress) as bar:
            writer = None
            for step in range(1, steps + 1):
                pose, audio, slid, starts = make_batch(train, rng, cfg, st)
                loss, acc = clip_loss(net, pose, audio, slid, starts)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                sched.step()
                running.append((loss.item(), acc.item()))
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", val_auc=row.get("val_auc", "-"))
                if step % st.eval_every == 0 or step == steps:
                    row = {"step": step, "seconds": round(time.perf_counter() - t0, 1),
                           "lr": sched.get_last_lr()[0],
                           "temperature": 1.0 / net.temperature_scale().item(),
                           "train_loss": float(np.mean([r[0] for r in running])),
                           "train_acc": float(np.mean([r[1] for r in running])),
                           **evaluate(net, val, st.batch_size)}
                    row = {k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()}
                    writer = writer or csv.DictWriter(fh, list(row))
                    if fh.tell() == 0:
                        writer.writeheader()
                    writer.writerow(row)
                    fh.flush()
                    running = []
    finally:
        torch.set_num_threads(old_threads)
    seconds = time.perf_counter() - t0
    val_stats = {k: v for k, v in row.items() if k.startswith("val_")}
    info = {"steps": steps, "seed": seed, "settings": asdict(st), "dataset": Path(data_dir).name,
            "av_offsets": Path(av_offsets).name if av_offsets else None,
            "realigned_segments": sum(v != 0 for v in (offsets or {}).values()),
            "train_minutes": round(train.minutes, 2), "train_speakers": train.speakers,
            "val": val_stats, "seconds": round(seconds, 1), "torch": str(torch.__version__)}
    model = CappModel(net.eval(), ds.meta.audio_extractor, ds.meta.basis_version, info)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(out_path)
    return TrainReport(str(out_path), str(log_path), steps, round(seconds, 1),
                       round(train.minutes, 2), train.speakers, round(val.minutes, 2),
                       val.speakers, row["train_loss"], val_stats, out_path.stat().st_size)
