"""Train the lip-sync metric (vasa.evaluation.syncnet) on the train split of a prepared dataset.

Contrastive, as SyncNet (Chung & Zisserman 2016) but with InfoNCE over a batch (as CLIP) instead
of its pairwise contrastive loss: each mouth window must pick its own 0.2 s of audio among the
other windows' audio in the batch (mostly other clips: easy negatives) and among its own clip's
audio shifted by MIN_SHIFT..MAX_SHIFT frames (hard negatives: the same voice and recording, off
by a few frames: exactly what the offset search must tell apart). The val split (held-out
speakers) is scored every `eval_every` steps: InfoNCE loss and the share of segments whose
detected AV offset is within +-1 frame of 0. A CSV log a person can plot is written next to
the checkpoint.

Re-alignment (on by default): the clips of ../shared/data are not all in sync. Files of one
recording disagree by 2 frames, and the lag of lip opening against loudness, a model-free
estimate, spreads from -4 to +7 frames across clips. A model trained on them as they are learns
each train clip's own offset as "in sync". So `train_sync` first cross-fits `folds` models on
speaker folds of the train split, reads every train segment's AV offset off the model that never
saw its speaker, shifts the audio of segments whose offset is confident (S_C >= REALIGN_MIN_S_C)
by that offset, and only then fits the model it ships. This is how LRS2/3 were built: SyncNet
offsets applied to the raw broadcasts before training lip readers. The offsets are written to
`<out stem>_offsets.json`, which `vasa train capp --av-offsets` can reuse.
"""

from __future__ import annotations

import csv
import time
import zlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vasa.data.format import Dataset, SegmentRecord
from vasa.data.offsets import align, write_av_offsets
from vasa.evaluation.syncnet import (
    SyncConfig,
    SyncModel,
    SyncNet,
    prepare_audio,
    prepare_motion,
    sync_scores,
)

MIN_SHIFT = 2  # hard negatives: shifts of 1 frame (40 ms) are left out, their audio is ~the same
MAX_SHIFT = 15  # as far as the offset search looks
FOLDS = 5  # speaker folds for the out-of-fold offsets of the train segments
REALIGN_MIN_S_C = 0.5  # below this out-of-fold S_C an offset is not trusted (~90th percentile of
#                        S_C with another clip's audio: benchmarks/results/sync_validation.md)


@dataclass
class TrainSyncConfig:
    """Optimisation settings (the network's dimensions are in SyncConfig)."""

    steps: int = 1000  # optimiser steps: ~16 passes over the 10 min of train windows; more overfits
    batch: int = 256  # aligned (mouth, audio) pairs per step
    hard_negatives: int = 16  # shifted same-clip audio windows per pair
    batch_negatives: bool = True  # also contrast with the other pairs' audio (other clips)
    temperature: float = 0.1  # InfoNCE softmax temperature on cosine similarity
    lr: float = 1e-3  # AdamW peak learning rate, cosine decay to 0 after a short warm-up
    weight_decay: float = 0.05  # AdamW weight decay: the data is small
    noise: float = 0.15  # std of Gaussian noise on normalised motion (tracker jitter)
    eval_every: int = 250  # steps between validations
    seed: int = 0  # weights, batches and validation windows
    folds: int = FOLDS  # speaker folds to read and undo train offsets (0: clips as they are)
    model: SyncConfig = field(default_factory=SyncConfig)


@dataclass
class TrainReport:
    """What a run did: final train / val InfoNCE loss, val offset accuracy (share of val
    segments with |offset| <= 1) and mean S_C, sizes and times."""

    out_path: Path
    log_path: Path
    steps: int
    seconds: float
    train_loss: float
    val_loss: float
    val_offset_acc: float
    val_s_c: float
    train_segments: int
    val_segments: int
    params: int
    bytes: int
    realigned: int = 0  # train segments whose audio was shifted before the final fit


@dataclass
class Clips:
    """Normalised segments of one split: motion[i] (T_i, 24 [* 2]), audio[i] (T_i, 85)."""

    motion: list[np.ndarray]
    audio: list[np.ndarray]
    raw: list[tuple[np.ndarray, np.ndarray]]  # un-normalised (dynamics, audio), for scoring


def load_split(ds: Dataset, name: str, cfg: SyncConfig
               ) -> tuple[list[SegmentRecord], list[tuple[np.ndarray, np.ndarray]]]:
    """A split's segments with audio, long enough for a window plus the hard negatives' shifts,
    and their (dynamics (T, motion_dim), audio (T, audio_dim))."""
    segs, out = [], []
    for seg in ds.split(name):
        audio = ds.audio(seg)
        if audio is None or seg.frames < cfg.window + 2 * MAX_SHIFT:
            continue
        dyn = ds.column(ds.motion(seg), "dynamics")[:, : cfg.motion_dim]
        t = min(len(dyn), len(audio))
        segs.append(seg)
        out.append((np.array(dyn[:t], np.float32), np.array(audio[:t], np.float32)))
    return segs, out


def speaker_folds(speakers: list[str], folds: int) -> np.ndarray:
    """Fold of each entry of `speakers`: distinct speakers ordered by a stable hash (crc32, not
    Python's salted hash) and dealt round robin, so folds differ in size by at most one speaker."""
    order = sorted(set(speakers), key=lambda n: (zlib.crc32(n.encode()), n))
    fold = {name: i % folds for i, name in enumerate(order)}
    return np.array([fold[n] for n in speakers], dtype=int)


@dataclass
class SegmentOffset:
    """A train segment's AV offset as read by a model that never saw its speaker, and the
    shift applied to it before the final fit (0 when the estimate was not confident)."""

    segment: str  # SegmentRecord.name
    speaker: str
    source: str
    fold: int
    offset: int
    s_c: float | None  # None: not computable (too few windows)
    applied: int


def estimate_offsets(segs: list[SegmentRecord], raws: list[tuple[np.ndarray, np.ndarray]],
                     cfg: TrainSyncConfig, extractor_id: str, basis_version: str,
                     folds: int = FOLDS, seed: int = 0, min_s_c: float = REALIGN_MIN_S_C,
                     progress: bool = True) -> list[SegmentOffset]:
    """Out-of-fold AV offsets: fit one model per speaker fold on the other folds and score
    that fold's segments with it."""
    fold = speaker_folds([s.speaker for s in segs], folds)
    out: list[SegmentOffset | None] = [None] * len(segs)
    for k in range(folds):
        held = np.flatnonzero(fold == k)
        train = [raws[i] for i in np.flatnonzero(fold != k)]
        if len(held) == 0 or not train:
            for i in held:  # every speaker in one fold: nothing to cross-fit on
                out[i] = SegmentOffset(segs[i].name, segs[i].speaker, segs[i].source, k, 0,
                                       None, 0)
            continue
        model, _ = fit_sync(train, [], cfg, extractor_id, basis_version, seed + 1 + k,
                            progress=progress)
        for i in held:
            r = sync_scores(model, *raws[i])
            ok = r.computable and r.s_c >= min_s_c
            out[i] = SegmentOffset(segs[i].name, segs[i].speaker, segs[i].source, k,
                                   r.offset, round(r.s_c, 4) if r.computable else None,
                                   r.offset if ok else 0)
    return out  # type: ignore[return-value]


def fit_stats(clips: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Mean and std of per-clip-centred motion and audio over all frames of the train split."""
    m = np.concatenate([d - np.median(d, axis=0) for d, _ in clips])
    a = np.concatenate([x - np.median(x, axis=0) for _, x in clips])
    return {"motion_mean": m.mean(0), "motion_std": m.std(0) + 1e-6,
            "audio_mean": a.mean(0), "audio_std": a.std(0) + 1e-6}


def normalise(model: SyncModel, clips: list[tuple[np.ndarray, np.ndarray]]) -> Clips:
    return Clips([prepare_motion(model, d) for d, _ in clips],
                 [prepare_audio(model, a) for _, a in clips], clips)


def sample_batch(clips: Clips, cfg: TrainSyncConfig, rng: np.random.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random aligned windows: mouth (B, w, Dm), audio (B, w, Da), shifted same-clip audio
    (B, K, w, Da), and a (B, B) mask of in-batch pairs too close in one clip to be negatives."""
    w, k = cfg.model.window, cfg.hard_negatives
    starts = np.array([len(m) - w + 1 for m in clips.motion])
    seg = rng.choice(len(starts), size=cfg.batch, p=starts / starts.sum())
    t = (rng.random(cfg.batch) * starts[seg]).astype(int)
    # Hard negatives: a shift of MIN_SHIFT..MAX_SHIFT frames either way, reflected back into
    # the segment when it would run off an end (segments are >= w + 2 * MAX_SHIFT long).
    shift = rng.integers(MIN_SHIFT, MAX_SHIFT + 1, (cfg.batch, k))
    shift *= rng.choice([-1, 1], (cfg.batch, k))
    tn = t[:, None] + shift
    tn = np.where((tn < 0) | (tn >= starts[seg][:, None]), t[:, None] - shift, tn)
    mouth = np.stack([clips.motion[s][i:i + w] for s, i in zip(seg, t)])
    audio = np.stack([clips.audio[s][i:i + w] for s, i in zip(seg, t)])
    neg = np.stack([[clips.audio[s][j:j + w] for j in row] for s, row in zip(seg, tn)])
    mouth = mouth + cfg.noise * rng.standard_normal(mouth.shape)
    close = (seg[:, None] == seg[None]) & (np.abs(t[:, None] - t[None]) < MIN_SHIFT)
    np.fill_diagonal(close, False)
    f32 = torch.float32
    return (torch.as_tensor(mouth, dtype=f32), torch.as_tensor(audio, dtype=f32),
            torch.as_tensor(neg, dtype=f32), torch.as_tensor(close))


def info_nce(net: SyncNet, mouth: torch.Tensor, audio: torch.Tensor, neg: torch.Tensor,
             close: torch.Tensor, temperature: float, batch_negatives: bool = True
             ) -> torch.Tensor:
    """Mouth -> audio InfoNCE over the batch's audio plus each pair's hard negatives, plus
    audio -> mouth over the batch (CLIP's symmetric loss)."""
    b, k = neg.shape[:2]
    v = net.mouth(mouth)  # (B, E)
    a = net.audio(audio)  # (B, E)
    n = net.audio(neg.flatten(0, 1)).view(b, k, -1)  # (B, K, E)
    sim = (v @ a.T).masked_fill(close, float("-inf")) / temperature  # (B, B)
    hard = torch.einsum("be,bke->bk", v, n) / temperature  # (B, K)
    target = torch.arange(b)
    ce = nn.functional.cross_entropy
    if not batch_negatives:
        pos = (v * a).sum(-1, keepdim=True) / temperature  # (B, 1)
        return ce(torch.cat([pos, hard], dim=1), torch.zeros_like(target))
    return 0.5 * (ce(torch.cat([sim, hard], dim=1), target) + ce(sim.T, target))


@torch.no_grad()
def validate(model: SyncModel, clips: Clips, cfg: TrainSyncConfig, seed: int
             ) -> tuple[float, float, float]:
    """Val InfoNCE loss (fixed batches), share of val segments with |offset| <= 1, mean S_C."""
    model.net.eval()
    rng = np.random.default_rng(seed + 1)
    eval_cfg = replace(cfg, noise=0.0)
    loss = float(np.mean([info_nce(model.net, *sample_batch(clips, eval_cfg, rng),
                                   cfg.temperature, cfg.batch_negatives).item()
                          for _ in range(4)]))
    results = [sync_scores(model, d, a) for d, a in clips.raw]
    results = [r for r in results if r.computable]
    acc = float(np.mean([abs(r.offset) <= 1 for r in results])) if results else float("nan")
    s_c = float(np.mean([r.s_c for r in results])) if results else float("nan")
    model.net.train()
    return loss, acc, s_c


def fit_sync(train_raw: list[tuple[np.ndarray, np.ndarray]],
             val_raw: list[tuple[np.ndarray, np.ndarray]], cfg: TrainSyncConfig,
             extractor_id: str, basis_version: str, seed: int = 0, log_path: Path | None = None,
             progress: bool = True) -> tuple[SyncModel, dict[str, float]]:
    """Train the encoders on raw (dynamics, audio) clips, validating on `val_raw`; returns the
    model (in eval mode) and its final train / val figures. The core of `train_sync`, also used
    to cross-fit models on speaker folds (`estimate_offsets`)."""
    from tqdm import tqdm

    steps = cfg.steps
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SyncModel(SyncNet(cfg.model), cfg.model, **fit_stats(train_raw),
                      extractor_id=extractor_id, basis_version=basis_version)
    train, val = normalise(model, train_raw), normalise(model, val_raw)
    opt = torch.optim.AdamW(model.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5
                                              * (1 + np.cos(np.pi * min(s, steps) / steps)))
    t0, running = time.perf_counter(), []
    val_loss = val_acc = val_sc = float("nan")
    model.net.train()
    f = log_path.open("w", newline="") if log_path is not None else None
    try:
        log = csv.writer(f) if f is not None else None
        if log is not None:
            log.writerow(["step", "seconds", "lr", "train_loss", "val_loss", "val_offset_acc",
                          "val_s_c"])
        bar = tqdm(range(1, steps + 1), desc="train sync", disable=not progress)
        for step in bar:
            loss = info_nce(model.net, *sample_batch(train, cfg, rng), cfg.temperature,
                            cfg.batch_negatives)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running.append(loss.item())
            if val_raw and (step % cfg.eval_every == 0 or step == steps):
                val_loss, val_acc, val_sc = validate(model, val, cfg, seed)
                if log is not None:
                    log.writerow([step, f"{time.perf_counter() - t0:.1f}",
                                  f"{sched.get_last_lr()[0]:.2e}", f"{np.mean(running):.4f}",
                                  f"{val_loss:.4f}", f"{val_acc:.3f}", f"{val_sc:.3f}"])
                    f.flush()
                bar.set_postfix(loss=f"{np.mean(running):.3f}", val=f"{val_loss:.3f}",
                                acc=f"{val_acc:.2f}", s_c=f"{val_sc:.2f}")
                if step != steps:
                    running = []
    finally:
        if f is not None:
            f.close()
    model.net.eval()
    return model, {"seconds": time.perf_counter() - t0,
                   "train_loss": float(np.mean(running)) if running else float("nan"),
                   "val_loss": val_loss, "val_offset_acc": val_acc, "val_s_c": val_sc}


def train_sync(data_dir: str | Path, out_path: str | Path, config: TrainSyncConfig | None = None,
               progress: bool = True) -> TrainReport:
    """Train the sync encoders on `data_dir`'s train split, validate on its val split, save the
    model to `out_path`, a CSV log to `<out stem>_train_log.csv` and the train segments' AV
    offsets to `<out stem>_offsets.json` beside it. folds >= 2: re-align the train segments
    first (module docstring); 0: train on the clips as they are."""
    cfg = config or TrainSyncConfig()
    steps, seed, folds = cfg.steps, cfg.seed, cfg.folds
    out_path = Path(out_path)
    log_path = out_path.with_name(out_path.stem + "_train_log.csv")
    ds = Dataset(data_dir)
    if ds.meta.dynamics_dim < cfg.model.motion_dim or ds.meta.audio_dim != cfg.model.audio_dim:
        raise ValueError(f"{data_dir}: dynamics dim {ds.meta.dynamics_dim} / audio dim "
                         f"{ds.meta.audio_dim}, the sync model needs >= {cfg.model.motion_dim} "
                         f"/ {cfg.model.audio_dim}")
    if folds == 1 or folds < 0:
        raise ValueError(f"folds must be 0 (no re-alignment) or >= 2, got {folds}")
    train_segs, train_raw = load_split(ds, "train", cfg.model)
    _, val_raw = load_split(ds, "val", cfg.model)
    if not train_raw or not val_raw:
        raise ValueError(f"{data_dir}: the sync model needs train and val segments with audio "
                         f"of at least {cfg.model.window + 2 * MAX_SHIFT} frames; found "
                         f"{len(train_raw)} train and {len(val_raw)} val")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    offsets: list[SegmentOffset] = []
    if folds:
        offsets = estimate_offsets(train_segs, train_raw, cfg, ds.meta.audio_extractor,
                                   ds.meta.basis_version, folds, seed, progress=progress)
        train_raw = [align(d, a, o.applied) for (d, a), o in zip(train_raw, offsets)]
    model, fig = fit_sync(train_raw, val_raw, cfg, ds.meta.audio_extractor,
                          ds.meta.basis_version, seed, log_path, progress)
    model.save(out_path)
    write_av_offsets(out_path.with_name(out_path.stem + "_offsets.json"),
                     {"folds": folds, "min_s_c": REALIGN_MIN_S_C,
                      "segments": [asdict(o) for o in offsets]})
    return TrainReport(out_path, log_path, steps, time.perf_counter() - t0, fig["train_loss"],
                       fig["val_loss"], fig["val_offset_acc"], fig["val_s_c"], len(train_raw),
                       len(val_raw), sum(p.numel() for p in model.net.parameters()),
                       out_path.stat().st_size, sum(o.applied != 0 for o in offsets))
