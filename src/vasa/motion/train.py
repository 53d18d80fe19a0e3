"""`vasa train motion`: train the diffusion transformer on a prepared dataset.

Runs on CPU, one GPU, or several GPUs/nodes under torchrun (DistributedDataParallel):

    vasa train motion --data data/vasa-default --out runs/motion
    torchrun --nproc_per_node 8 -m vasa.cli train motion --data DATA --out RUN   # multi-GPU

Each rank samples its own windows (seeded by rank); rank 0 logs, evaluates and checkpoints.
A run folder holds last.pt (resumable: weights, EMA, optimiser, step, sampler state),
log.csv (step, train loss, validation loss, seconds), model.pt (the final EMA weights, exported)
and best.pt (the EMA weights at the lowest validation loss: the one to ship when the small
dataset starts to overfit).
"""

from __future__ import annotations

import copy
import csv
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vasa.data.format import Dataset
from vasa.data.offsets import load_av_offsets
from vasa.io import atomic_output
from vasa.motion.checkpoint import export_model, load_torch_file, save_model
from vasa.motion.config import MotionConfig, TrainMotionConfig
from vasa.motion.data import WindowSampler, condition_defaults, fit_normalizer, load_segments
from vasa.motion.diffusion import training_loss
from vasa.motion.dit import Conditions, MotionDiT
from vasa.motion.features import FEATURES
from vasa.timebase import MOTION_FPS, check_motion_fps


def learning_rate(cfg: TrainMotionConfig, step: int) -> float:
    """Linear warm-up, constant, then a linear fall to 10% over the last (1 - decay_from) of
    the steps. A function of the step alone, so a resumed run follows the same schedule."""
    lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup)
    start = cfg.decay_from * cfg.steps
    if step > start:
        lr *= 1.0 - 0.9 * (step - start) / max(cfg.steps - start, 1)
    return lr


LOG_HEADER = ["step", "train_loss", "val_loss", "lr", "seconds"]


def _log_rows(path: Path, step: int) -> list[list[str]]:
    """The log rows of a run resumed at `step` (none for a new run): rows logged after the
    checkpoint was saved are dropped, since the resumed run logs those steps again."""
    if step == 0 or not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    try:
        return [r for r in rows if r and int(r[0]) <= step]
    except (ValueError, IndexError):
        raise ValueError(f"{path}: not a training log written by `vasa train motion`; move it "
                         "away to resume") from None


def _resume_state(last: Path, cfg: TrainMotionConfig) -> dict:
    """The checkpoint of an interrupted run, checked against this run's model config (weights of
    another width or depth cannot be resumed)."""
    ck = load_torch_file(last, "training checkpoint")
    try:
        saved = MotionConfig.from_dict(ck["config"]["model"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{last}: not a checkpoint written by `vasa train motion`") from None
    if saved != cfg.model:
        diff = ", ".join(f"{k} {getattr(saved, k)} (asked {getattr(cfg.model, k)})"
                         for k in saved.to_dict() if getattr(saved, k) != getattr(cfg.model, k))
        raise ValueError(f"{last}: this run was started with another model: {diff}; resume with "
                         "the same options or use another --out")
    return ck


def _dist() -> tuple[int, int]:
    """(rank, world size); initialises torch.distributed under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return int(os.environ.get("RANK", "0")), world


@torch.no_grad()
def _val_loss(net: MotionDiT, sampler: WindowSampler | None, batches: int = 8) -> float:
    if sampler is None:
        return float("nan")
    net.eval()
    device = next(net.parameters()).device  # the EMA lives where the network trains
    gen = torch.Generator(device=device).manual_seed(1234)  # the same noise every evaluation
    sampler.rng = np.random.default_rng(1234)
    losses = [training_loss(net, *_to(sampler.batch(32, dropout=False), device), generator=gen)
              for _ in range(batches)]
    net.train()
    return float(torch.stack(losses).mean())


def _to(batch, device):
    x0, cond = batch
    return x0.to(device), Conditions(**{k: v.to(device) for k, v in cond.__dict__.items()})


def train_motion(data_dir: str | Path, out_dir: str | Path,
                 config: TrainMotionConfig | None = None, progress: bool = True) -> Path:
    """Train (or resume) into out_dir; returns the exported model path (out_dir/model.pt)."""
    cfg = config or TrainMotionConfig()
    rank, world = _dist()
    device = torch.device(f"cuda:{rank % torch.cuda.device_count()}"
                          if torch.cuda.is_available() else "cpu")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ds = Dataset(data_dir)
    check_motion_fps(ds.meta.motion_fps, str(data_dir))
    FEATURES.check_dynamics(ds.meta.dynamics_dim, str(data_dir))
    if ds.meta.audio_dim != cfg.model.audio_dim:
        raise ValueError(f"{data_dir}: audio features have {ds.meta.audio_dim} dims, the model "
                         f"expects {cfg.model.audio_dim}")
    offsets = load_av_offsets(cfg.av_offsets) if cfg.av_offsets else None
    train_segs = load_segments(ds, "train", cfg.model.window, offsets)
    val_segs = load_segments(ds, "val", cfg.model.window)
    norm = fit_normalizer(train_segs)
    torch.manual_seed(cfg.seed + rank)
    net = MotionDiT(cfg.model).to(device)
    ema = copy.deepcopy(net).eval()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sampler = WindowSampler(train_segs, norm, cfg.model, seed=cfg.seed + rank)
    val = WindowSampler(val_segs, norm, cfg.model, seed=0) if val_segs else None
    step, last = 0, out / "last.pt"
    if last.is_file():  # resume
        ck = _resume_state(last, cfg)
        net.load_state_dict(ck["net"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        step = ck["step"]
        sampler.rng.bit_generator.state = ck["rng"]
    model = net
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device.index]
                                                          if device.type == "cuda" else None)
    log_path = out / "log.csv"
    rows = _log_rows(log_path, step)  # a resumed run drops rows past its checkpoint
    best_val = min((float(r[2]) for r in rows if r[2] not in ("", "nan")), default=float("inf"))
    log = log_path.open("w", newline="")  # rewritten: no duplicate or out-of-order steps
    writer = csv.writer(log)
    writer.writerows([LOG_HEADER, *rows])
    log.flush()
    t0, running = time.perf_counter(), []

    def info(at: int) -> dict:
        return {"steps": at, "data": str(data_dir), "train_segments": len(train_segs),
                "train_minutes": sum(len(s.motion) for s in train_segs) / MOTION_FPS / 60,
                "batch": cfg.batch, "world_size": world, "velocity_weight": cfg.velocity_weight,
                **condition_defaults(train_segs)}

    end = min(cfg.steps, cfg.stop_at or cfg.steps)
    bar = tqdm(total=end, initial=step, desc="training", disable=not progress or rank)
    net.train()
    while step < end:
        lr = learning_rate(cfg, step)
        for g in opt.param_groups:
            g["lr"] = lr
        x0, cond = _to(sampler.batch(cfg.batch), device)
        loss = training_loss(model, x0, cond, velocity_weight=cfg.velocity_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.lerp_(p, 1 - cfg.ema)
        step += 1
        running.append(loss.item())
        bar.update(1)
        if rank == 0 and (step % cfg.eval_every == 0 or step == end):
            v = _val_loss(ema, val)
            if v < best_val:  # the EMA weights at the lowest speaker-held-out loss
                best_val = v
                save_model(out / "best.pt", ema, norm, ds.meta.audio_extractor,
                           ds.meta.basis_version, {**info(step), "val_loss": v})
            writer.writerow([step, f"{np.mean(running):.5f}", f"{v:.5f}", f"{lr:.2e}",
                             f"{time.perf_counter() - t0:.1f}"])
            log.flush()
            bar.set_postfix(train=f"{np.mean(running):.4f}", val=f"{v:.4f}")
            running = []
        if rank == 0 and (step % cfg.save_every == 0 or step == end):
            with atomic_output(last) as tmp:
                torch.save({"net": net.state_dict(), "ema": ema.state_dict(),
                            "opt": opt.state_dict(), "step": step,
                            "rng": sampler.rng.bit_generator.state, "config": asdict(cfg)}, tmp)
    bar.close()
    log.close()
    path = out / "model.pt"
    if rank == 0:
        save_model(path, ema.cpu(), norm, ds.meta.audio_extractor, ds.meta.basis_version,
                   info(step))
        for done in (path, out / "best.pt"):  # what inference runs (`onnx_dit`)
            if done.is_file():
                export_model(done)
    return path


__all__ = ["TrainMotionConfig", "train_motion"]
