"""Validate the CAPP metric against VASA-1 Tables 3 and 4 on held-out (val split) real windows.

Table 3: CAPP of real pairs with the pose slid by 0, +-1 .. +-4 frames against its audio.
Table 4: CAPP of real pairs with the pose variation scaled by 0.2 .. 3 about its window mean.
Also: matched vs mismatched (another clip's audio) pairs, per window and per clip, and the time
to score one minute of video. Writes benchmarks/results/capp_validation.{md,json}.

Both tables are measured twice: on the val clips as they are, and with each clip's own AV offset
undone first, as the lip-sync metric reads it (`--sync-model`; only offsets it is confident
about). Table 3 asks how fast CAPP falls when the pose slides away from its audio; on a clip
whose audio is already 5 frames late (three of the val files of one Obama address are), "shift
0" is not the aligned pair, so the aligned run is the one that answers it.

    python scripts/validate_capp.py [--model src/vasa/assets/capp.pt] [--data data/vasa-default]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from vasa.data.format import Dataset
from vasa.data.offsets import align
from vasa.evaluation.capp import DEFAULT_CAPP, CappModel, capp_score, load_capp
from vasa.evaluation.syncnet import DEFAULT_SYNC_MODEL, lip_opening, load_sync_model, sync_scores
from vasa.evaluation.train_capp import WindowBank, embed_windows, gather, load_windows
from vasa.evaluation.train_sync import REALIGN_MIN_S_C
from vasa.latent.basis import default_basis

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "src" / "vasa" / "assets" / "obama_address_8s.mp4"
PAPER_SHIFT = {0: 0.608, 1: 0.462, 2: 0.206, 3: 0.069, 4: 0.082}  # VASA-1 Table 3
PAPER_SCALE = {0.2: 0.368, 0.5: 0.584, 1.0: 0.608, 1.5: 0.587, 3.0: 0.505}  # VASA-1 Table 4
BOOTSTRAP = 1000  # clip-level resamples for the confidence intervals


def per_window_cos(model: CappModel, bank: WindowBank, pose_offset: int = 0,
                   scale: float = 1.0) -> np.ndarray:
    """(W,) cosine of audio window s with pose window s + pose_offset, its variation scaled."""
    net, w, out = model.net, model.config.window, []
    with torch.no_grad():
        for i in range(0, len(bank.starts), 256):
            s = bank.starts[i:i + 256]
            pose = gather(bank.pose, s + pose_offset, w)  # (b, T, 6)
            mean = pose.mean(1, keepdim=True)
            out.append(net(mean + scale * (pose - mean), gather(bank.audio, s, w)).numpy())
    return np.concatenate(out)


def clip_ci(values: np.ndarray, segment: np.ndarray, rng: np.random.Generator) -> list[float]:
    """95% interval of the mean of per-window `values`, resampling whole clips (windows of one
    clip overlap and are not independent)."""
    segs = np.unique(segment)
    groups = [values[segment == s] for s in segs]
    means = [np.concatenate([groups[j] for j in rng.integers(0, len(segs), len(segs))]).mean()
             for _ in range(BOOTSTRAP)]
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def shift_table(model: CappModel, bank: WindowBank, rng: np.random.Generator) -> dict:
    cos = {k: per_window_cos(model, bank, k) for k in range(-4, 5)}
    rows = {}
    for k in range(5):
        both = (cos[k] + cos[-k]) / 2
        rows[k] = {"ours": float(both.mean()), "plus": float(cos[k].mean()),
                   "minus": float(cos[-k].mean()), "paper": PAPER_SHIFT[k],
                   "drop_ci95": clip_ci(cos[0] - both, bank.segment, rng) if k else None}
    return rows


def scale_table(model: CappModel, bank: WindowBank, rng: np.random.Generator) -> dict:
    base = per_window_cos(model, bank)
    rows = {}
    for k, paper in PAPER_SCALE.items():
        c = per_window_cos(model, bank, scale=k)
        rows[k] = {"ours": float(c.mean()), "paper": paper,
                   "drop_ci95": clip_ci(base - c, bank.segment, rng) if k != 1.0 else None}
    return rows


def mismatch(model: CappModel, bank: WindowBank, ds: Dataset, rng: np.random.Generator) -> dict:
    """Matched vs mismatched: per window (every pose against every other clip's audio) and per
    clip (capp_score of a clip's pose with its own audio and with another clip's)."""
    p, a = embed_windows(model.net, bank, bank.starts)
    cos = (p @ a.T).numpy()
    other = bank.segment[:, None] != bank.segment[None]
    diag = np.diag(cos)
    clips = [(ds.column(ds.motion(s), "pose"), ds.audio(s)) for s in ds.split("val")
             if s.has_audio and s.frames >= model.config.window]
    own = [capp_score(model, pz, au).score for pz, au in clips]
    wrong = []
    for i, (pz, _) in enumerate(clips):
        for j, (_, au) in enumerate(clips):
            n = min(len(pz), len(au))
            if i != j:
                wrong.append(capp_score(model, pz[:n], au[:n]).score)
    return {"windows": len(diag), "clips": len(clips),
            "window_matched": float(diag.mean()), "window_mismatched": float(cos[other].mean()),
            "window_auc": float((diag[:, None] > cos)[other].mean()),
            "clip_matched": float(np.mean(own)), "clip_mismatched": float(np.mean(wrong)),
            "clip_auc": float(np.mean([o > w for o in own for w in wrong])),
            "matched_ci95": clip_ci(diag, bank.segment, rng)}


def timing(model: CappModel, bank: WindowBank) -> dict:
    """Seconds to score one minute (1500 frames) of video, from features / from the file."""
    from vasa.audio import get_extractor
    from vasa.io import load_audio
    from vasa.tracking.video import track_video

    pose = np.resize(bank.pose, (1500, 6))
    audio = np.tile(load_audio(CLIP, 16000), 8)[: 60 * 16000]
    t0 = time.perf_counter()
    feats = get_extractor("logmel+prosody")(audio)
    t1 = time.perf_counter()
    capp_score(model, pose, feats[:1500])
    t2 = time.perf_counter()
    tracked = track_video(CLIP, fps=25.0)
    t3 = time.perf_counter()
    track_min = (t3 - t2) * 1500 / len(tracked.found)
    return {"audio_features_s": t1 - t0, "capp_s": t2 - t1, "tracking_s": track_min,
            "excluding_tracking_s": t2 - t0, "including_tracking_s": t2 - t0 + track_min,
            "threads": torch.get_num_threads(),
            "note": f"tracking timed on the bundled {len(tracked.found) / 25:.0f} s clip and "
                    "scaled to 1500 frames"}


def energy_speed_xcorr(bank: WindowBank) -> dict[int, float]:
    """The timing signal in the data itself, model-free: mean within-window correlation of audio
    loudness (prosody log-energy) at frame t with head angular speed at frame t + lag."""
    out = {}
    for lag in range(-12, 13, 2):
        e = gather(bank.audio[:, 80:81], bank.starts, 75)[:, 4:71, 0].numpy()  # (W, 67)
        p = gather(bank.pose[:, :3], bank.starts + lag, 75).numpy()  # (W, 75, 3)
        v = np.linalg.norm(np.diff(p, axis=1), axis=-1)[:, 4:71]  # (W, 67) speed t -> t+1
        e = (e - e.mean(1, keepdims=True)) / (e.std(1, keepdims=True) + 1e-9)
        v = (v - v.mean(1, keepdims=True)) / (v.std(1, keepdims=True) + 1e-9)
        out[lag] = float((e * v).mean())
    return out


def val_offsets(ds: Dataset, sync_path: str) -> dict[str, dict]:
    """Each val segment's AV offset and S_C by the lip-sync metric (which never saw the val
    speakers); `applied` is the offset when S_C >= REALIGN_MIN_S_C, else 0."""
    sync, out = load_sync_model(sync_path), {}
    for seg in ds.split("val"):
        audio = ds.audio(seg)
        if audio is None:
            continue
        dyn = ds.column(ds.motion(seg), "dynamics")
        n = min(len(dyn), len(audio))
        r = sync_scores(sync, dyn[:n], audio[:n])
        if r.computable:
            out[seg.name] = {"speaker": seg.speaker, "offset": r.offset, "s_c": r.s_c,
                             "applied": r.offset if r.s_c >= REALIGN_MIN_S_C else 0}
    return out


def lip_pitch_xcorr(ds: Dataset, offsets: dict[str, int]) -> dict[int, float]:
    """Where frame-accurate timing lives, model-free: mean per-segment correlation of lip
    opening speed at frame t with head pitch speed at t + lag on the (aligned) val clips. Opening
    the jaw tips the tracked head, so the pose carries the articulation at lag 0 exactly."""
    basis, acc = default_basis(), {k: [] for k in range(-4, 5)}
    for seg in ds.split("val"):
        audio = ds.audio(seg)
        if audio is None:
            continue
        m = np.asarray(ds.motion(seg))
        m, _ = align(m, np.asarray(audio), offsets.get(seg.name, 0))
        lip = np.diff(lip_opening(ds.column(m, "dynamics"), basis))
        pitch = np.diff(ds.column(m, "pose")[:, 0])
        n = len(lip)
        for k, found in acc.items():
            x, y = lip[max(0, -k):n - max(0, k)], pitch[max(0, k):n - max(0, -k)]
            found.append(np.corrcoef(x, y)[0, 1])
    return {k: float(np.nanmean(v)) for k, v in acc.items()}


def shape_verdicts(shift: dict, scale: dict) -> list[str]:
    """Plain statements of whether each table's shape holds; a difference counts only when its
    95% clip-bootstrap interval excludes 0."""
    c = {k: v["ours"] for k, v in shift.items()}
    s = {k: v["ours"] for k, v in scale.items()}
    drop = lambda k: (c[0] - c[k]) / max(abs(c[0]), 1e-9)
    paper = lambda k: (PAPER_SHIFT[0] - PAPER_SHIFT[k]) / PAPER_SHIFT[0]
    lower = lambda d, k: d[k]["drop_ci95"][0] > 0  # significantly below the reference
    yes = {True: "holds", False: "does NOT hold"}
    return [
        (f"Table 3, peak at shift 0: {yes[all(lower(shift, k) for k in range(1, 5))]} "
         f"(ours {c[0]:.3f}; +-1..4: {', '.join(f'{c[k]:.3f}' for k in range(1, 5))}; the "
         "criterion is every shifted score significantly lower)."),
        (f"Table 3, fast fall-off (paper loses {paper(1):.0%} of its score at +-1 frame and "
         f"{paper(2):.0%} at +-2): ours loses {drop(1):.1%} at +-1 and {drop(2):.1%} at +-2: "
         f"{yes[drop(1) > 0.5 * paper(1) and drop(2) > 0.5 * paper(2)]} "
         "(criterion: at least half the paper's relative drop)."),
        (f"Table 4, peak at scale 1: {yes[all(lower(scale, k) for k in s if k != 1.0)]} "
         f"(ours: {', '.join(f'x{k}: {v:.3f}' for k, v in s.items())}; criterion: every other "
         "scale significantly lower)."),
        (f"Table 4, less variation scores lower (x0.2, x0.5 below x1): "
         f"{yes[lower(scale, 0.2) and lower(scale, 0.5)]}; more variation (x3) scores lower: "
         f"{yes[lower(scale, 3.0)]}."),
    ]


def table_lines(shift: dict, scale: dict, which: str) -> list[str]:
    """Markdown of Tables 3 and 4 for one set of val windows (`which` names it)."""
    ci = lambda r: "" if r["drop_ci95"] is None else (f"[{r['drop_ci95'][0]:.3f}, "
                                                      f"{r['drop_ci95'][1]:.3f}]")
    lines = [f"## Table 3: pose slid against its audio ({which})", "",
             "| shift (frames) | paper | ours (mean of + and -) | ours + | ours - | drop vs 0, 95% |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {'+-' if k else ''}{k} | {r['paper']:.3f} | {r['ours']:.3f} | {r['plus']:.3f} | "
              f"{r['minus']:.3f} | {ci(r)} |" for k, r in shift.items()]
    lines += ["", f"## Table 4: pose variation scaled about its window mean ({which})", "",
              "| scale | paper | ours | drop vs x1, 95% |", "|---|---|---|---|"]
    lines += [f"| x{k} | {r['paper']:.3f} | {r['ours']:.3f} | {ci(r)} |" for k, r in scale.items()]
    return lines


def write_markdown(res: dict, path: Path) -> None:
    sh, sc, mm, tm = res["shift"], res["scale"], res["mismatch"], res["timing"]
    al = res["aligned"]
    lines = [
        "# CAPP validation (VASA-1 Tables 3 and 4)", "",
        (f"Model: `{res['model']}` ({res['model_bytes'] / 1e6:.2f} MB, trained "
        f"{res['info'].get('steps')} steps on {res['info'].get('train_minutes')} min / "
        f"{res['info'].get('train_speakers')} speakers). Held-out data: val split of "
        f"`{res['data']}`, {mm['windows']} windows (3 s, every 1 s) from {mm['clips']} clips, "
        "speakers disjoint from training. Intervals: 95%, resampling whole clips."), "",
        ("Absolute values are not comparable with the paper's (different data, audio features "
        "and model); the shape of each table is."), "",
        (f"Each val clip's AV offset was first undone as the lip-sync metric reads it "
        f"(`{al['sync_model']}`, offsets with S_C >= {REALIGN_MIN_S_C}: "
        + ", ".join(f"{v['speaker']} {v['applied']:+d}" for v in al["offsets"].values()
                    if v["applied"]) + "). The same tables on the clips as they are follow."), "",
        *table_lines(al["shift"], al["scale"], "aligned val clips")]
    lp = al["lip_pitch_xcorr"]
    lines += ["", "## Shape (aligned val clips)", "", *[f"- {v}" for v in al["verdicts"]], "",
              ("Where frame-accurate timing is in the pose, without any model: correlation of "
              "lip-opening speed at frame t with head pitch speed at t + lag (aligned val "
              "clips). Opening the jaw tips the tracked head, in the same frame:"), "",
              "| lag (frames) | " + " | ".join(f"{k:+d}" for k in lp) + " |",
              "|---|" + "---|" * len(lp),
              "| correlation | " + " | ".join(f"{v:.3f}" for v in lp.values()) + " |", "",
              *table_lines(sh, sc, "val clips as they are")]
    xc = res["energy_speed_xcorr"]
    lines += ["", "## Shape (clips as they are)", "", *[f"- {v}" for v in res["verdicts"]], "",
              ("Why a 1-frame shift is hard to see here: the timing signal in the held-out data, "
              "without any model (correlation of audio loudness at frame t with head angular "
              "speed at t + lag, within 3 s windows). It is weak and spread over many frames; "
              "a pose slid by 1-4 frames keeps most of it:"), "",
              "| lag (frames) | " + " | ".join(f"{k:+d}" for k in xc) + " |",
              "|---|" + "---|" * len(xc),
              "| correlation | " + " | ".join(f"{v:.3f}" for v in xc.values()) + " |", "",
              "## Matched vs mismatched (another clip's audio)", "",
              ("The training settings (windows per clip, hard negatives, width) were chosen "
               "among a few variants by their AUC on this same val split, so these numbers are "
               "slightly optimistic. Training log: `benchmarks/results/capp_train_log.csv`."), "",
              "| | matched | mismatched | P(matched > mismatched) |", "|---|---|---|---|",
              (f"| per 3 s window | {mm['window_matched']:.3f} | {mm['window_mismatched']:.3f} | "
              f"{mm['window_auc']:.3f} |"),
              (f"| per clip (capp_score) | {mm['clip_matched']:.3f} | {mm['clip_mismatched']:.3f} "
              f"| {mm['clip_auc']:.3f} |"), "",
              (f"Paper, real videos: 0.588 (VoxCeleb2), 0.559 (OneMin-32). Ours, real val clips: "
              f"{mm['window_matched']:.3f} [{mm['matched_ci95'][0]:.3f}, "
              f"{mm['matched_ci95'][1]:.3f}]."), "",
              "## Time to score one minute of video", "",
              (f"- excluding tracking (audio features + CAPP): {tm['excluding_tracking_s']:.2f} s "
              f"(features {tm['audio_features_s']:.2f} s, CAPP {tm['capp_s']:.2f} s)"),
              f"- including tracking: {tm['including_tracking_s']:.1f} s ({tm['note']})",
              f"- {tm['threads']} CPU thread(s)", ""]
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(DEFAULT_CAPP), help="CAPP checkpoint")
    ap.add_argument("--data", default=str(ROOT / "data" / "vasa-default"), help="prepared dataset")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "capp_validation"),
                    help="output path without extension (.md and .json are written)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1)")
    ap.add_argument("--sync-model", default=str(DEFAULT_SYNC_MODEL),
                    help="lip-sync checkpoint that reads the val clips' AV offsets")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    model = load_capp(args.model)
    ds = Dataset(args.data)
    bank = load_windows(ds, "val", model.config.window, hop=25)
    res = {"model": os.path.relpath(Path(args.model).resolve(), ROOT),
           "model_bytes": Path(args.model).stat().st_size, "info": model.info,
           "data": Path(args.data).name, "shift": shift_table(model, bank, rng),
           "scale": scale_table(model, bank, rng), "mismatch": mismatch(model, bank, ds, rng),
           "timing": timing(model, bank)}
    res["verdicts"] = shape_verdicts(res["shift"], res["scale"])
    res["energy_speed_xcorr"] = energy_speed_xcorr(load_windows(ds, "val", 75, 25, margin=12))
    offsets = val_offsets(ds, args.sync_model)
    applied = {k: v["applied"] for k, v in offsets.items()}
    aligned = load_windows(ds, "val", model.config.window, hop=25, av_offsets=applied)
    res["aligned"] = {"sync_model": os.path.relpath(Path(args.sync_model).resolve(), ROOT),
                      "offsets": offsets, "shift": shift_table(model, aligned, rng),
                      "scale": scale_table(model, aligned, rng),
                      "lip_pitch_xcorr": lip_pitch_xcorr(ds, applied)}
    res["aligned"]["verdicts"] = shape_verdicts(res["aligned"]["shift"], res["aligned"]["scale"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str) + "\n")
    write_markdown(res, out.with_suffix(".md"))
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
