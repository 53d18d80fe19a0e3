"""The cross-identity protocol of issue 12: measuring a generated video against the real video of
the same speech, and the tables that compare methods over many portraits.

A (portrait, speech) pair is scored by `relative`: the generated video's model-free measures
(`mouth_metrics`) and learned S_C, divided by the real speaker's where the target is relative
(mouth opening mean and std, envelope correlation, Delta P, S_C). A portrait's value is the
median over its speeches (`per_portrait`); a method's, the median over portraits (`summarise`),
so one portrait cannot hide another: the opening ratios also carry their range. The script
that picks the inputs and makes the videos is scripts/cross_identity_eval.py.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from vasa.audio import get_extractor
from vasa.evaluation import mouth_metrics as mo
from vasa.evaluation.evaluate import IDENTITY_FRAMES, LOG_ENERGY, identity_shapes
from vasa.evaluation.interior import MIDDLING, WIDE, video_readings
from vasa.evaluation.interior import summarise as inside_of
from vasa.evaluation.phones import phone_segments
from vasa.evaluation.syncnet import SyncModel, load_sync_model, sync_scores
from vasa.io import load_audio
from vasa.latent.basis import default_basis
from vasa.tracking import FaceLandmarker
from vasa.tracking.video import track_video

log = logging.getLogger(__name__)
MIN_REAL_CORR = 0.15  # a real envelope correlation below this is too weak to divide by
MIN_REAL_S_C = 0.1  # likewise for the real video's sync confidence
MIN_REAL_BILABIAL = 0.2  # likewise for the real video's bilabial closure rate


@lru_cache(maxsize=1)
def _sync_model() -> SyncModel | None:
    try:
        return load_sync_model()
    except (FileNotFoundError, ValueError) as e:  # missing, or made for other features
        log.warning("S_C not measured: %s", e)
        return None


def measure_video(video: Path, wav: Path) -> dict:
    """Re-track `video` (25 fps) and measure it against the speech `wav` over their common
    first frames: the `mouth_metrics.ViewerMeasures` fields, plus s_c (the learned sync
    confidence, None where the sync model is unavailable or the clip too short)."""
    basis = default_basis()
    tracked = track_video(video, fps=mo.FPS, basis=basis)
    speech = load_audio(wav, 16000)
    feats = get_extractor("logmel+prosody")(speech)  # (T, 85)
    envelope = feats[:, LOG_ENERGY].astype(np.float64)  # = mouth_metrics.loudness_envelope
    t = min(len(feats), len(tracked.found))
    residual = mo.opening_residual(identity_shapes(video, t, IDENTITY_FRAMES, basis), basis)
    try:
        phones = phone_segments(speech)
    except ValueError as e:  # pocketsphinx not installed: no articulation column
        log.warning("bilabial closure not measured: %s", e)
        phones = None
    m = mo.measure(tracked.motion, tracked.found, envelope, basis, residual,
                   phones=phones).to_dict()
    sync, m["s_c"] = _sync_model(), None
    if sync is not None:
        r = sync_scores(sync, tracked.motion.dynamics[:t], feats[:t], found=tracked.found[:t])
        m["s_c"] = float(r.s_c) if r.computable else None
    # How dark the open mouth is inside, from the pixels (`evaluation.interior`).
    with FaceLandmarker() as tracker:
        inside = inside_of(video_readings(video, t, tracker))
    m["inside_wide"], m["inside_middling"] = inside.wide, inside.middling
    return m


def _ratio(a: float | None, b: float | None, floor: float = 1e-9) -> float | None:
    """a / b; None when either is missing or b is under `floor` (nothing to compare with)."""
    return None if a is None or b is None or b < floor else a / b


def relative(gen: dict, real: dict) -> dict:
    """One (portrait, speech) row: the generated video's measures, relative to the real
    video's where the target is relative."""
    return {"open_mean_x": _ratio(gen["opening_mean"], real["opening_mean"]),
            "open_std_x": _ratio(gen["opening_std"], real["opening_std"]),
            "corr": gen["envelope_corr"], "lag": gen["envelope_lag"],
            "corr_x": _ratio(gen["envelope_corr"], real["envelope_corr"], MIN_REAL_CORR),
            "crossed": gen["crossed_share"], "open_silence": gen["opening_silence"],
            "open_speech": gen["opening_speech"], "blinks": gen["blinks_per_min"],
            "blink_ms": gen["blink_ms"], "lid_reopen": gen.get("lid_reopen"),
            "half_shut": gen.get("half_shut"),
            "delta_p_x": _ratio(gen["delta_p"], real["delta_p"]),
            "s_c_x": _ratio(gen["s_c"], real["s_c"], MIN_REAL_S_C),
            "bilabial": gen.get("bilabial_closure"),
            "bilabial_x": _ratio(gen.get("bilabial_closure"), real.get("bilabial_closure"),
                                 MIN_REAL_BILABIAL),
            "bilabial_real": real.get("bilabial_closure"),
            "vowel": gen.get("vowel_closure"), "vowel_real": real.get("vowel_closure"),
            "inside_wide": gen.get("inside_wide"), "inside_mid": gen.get("inside_middling")}


def _median(values) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.median(v)) if v else None


COLUMNS = ("open_mean_x", "open_std_x", "corr", "corr_x", "lag", "crossed", "open_silence",
           "open_speech", "blinks", "blink_ms", "lid_reopen", "half_shut", "delta_p_x", "s_c_x",
           "bilabial", "bilabial_x", "bilabial_pool_x", "vowel", "vowel_pool_x", "inside_wide",
           "inside_mid")


def _pooled(rows: list[dict], gen: str, real: str) -> float | None:
    """Mean generated over mean real rate, over the rows that have both: a clip holds only a
    handful of bilabials, so a per-speech ratio is mostly noise."""
    both = [(r.get(gen), r.get(real)) for r in rows
            if r.get(gen) is not None and r.get(real) is not None]
    return _ratio(float(np.mean([g for g, _ in both])), float(np.mean([x for _, x in both])),
                  MIN_REAL_BILABIAL) if both else None


def per_portrait(pairs: dict[str, dict]) -> dict:
    """Median over a portrait's speeches of each column (the articulation ratios pooled over
    them); `failed`: speeches with no video."""
    ok = [r for r in pairs.values() if "error" not in r]
    pooled = {"bilabial_pool_x": _pooled(ok, "bilabial", "bilabial_real"),
              "vowel_pool_x": _pooled(ok, "vowel", "vowel_real")}
    return {c: _median(r.get(c) for r in ok) for c in COLUMNS} | pooled | {
        "speeches": len(ok), "failed": len(pairs) - len(ok)}


def summarise(portraits: dict[str, dict]) -> dict:
    """A method's row: medians over portraits (each the median over its speeches), the range of
    the opening ratios, how many portraits have both opening ratios within 0.5-2x, and the
    lowest blink rate."""
    rows = [r for r in portraits.values() if r["speeches"]]
    out = {c: _median(r[c] for r in rows) for c in COLUMNS}
    for c in ("open_mean_x", "open_std_x"):
        v = [r[c] for r in rows if r[c] is not None]
        out[c + "_range"] = [min(v), max(v)] if v else None
    out["within_half_to_2x"] = sum(
        all(r[c] is not None and 0.5 <= r[c] <= 2.0 for c in ("open_mean_x", "open_std_x"))
        for r in rows)
    blinks = [r["blinks"] for r in rows if r["blinks"] is not None]
    out["blinks_min"] = min(blinks) if blinks else None
    out["portraits"] = len(rows)
    out["pairs"] = sum(r["speeches"] for r in portraits.values())
    out["failed"] = sum(r["failed"] for r in portraits.values())
    return out


def _f(v, fmt: str = ".2f", scale: float = 1.0) -> str:
    return "n/a" if v is None else format(v * scale, fmt)


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(r) + " |" for r in rows)]


def _range_cell(s: dict, c: str) -> str:
    r = s[c + "_range"]
    return f"{_f(s[c])} [{_f(r[0])}, {_f(r[1])}]" if r else "n/a"


def method_table(summary: dict[str, dict]) -> list[str]:
    head = ["method", "pairs (failed)", "opening mean x real [min, max]",
            "opening std x real [min, max]", "portraits in 0.5-2x", "envelope corr",
            "corr x real", "lag", "crossed lips", "opening silence / speech",
            "blinks/min [lowest]", "blink ms", "lid reopening", "lids half shut",
            "Delta P x real", "S_C x real",
            "lips shut at /p b m/ (x real)", "lips shut at open vowels (x real)",
            "inside wide / middling"]
    rows = []
    for name, s in summary.items():
        rows.append([name, f"{s['pairs']} ({s['failed']})", _range_cell(s, "open_mean_x"),
                     _range_cell(s, "open_std_x"), f"{s['within_half_to_2x']}/{s['portraits']}",
                     _f(s["corr"]), _f(s["corr_x"]), _f(s["lag"], "+.0f"),
                     _f(s["crossed"], ".1%"),
                     f"{_f(s['open_silence'], '.3f')} / {_f(s['open_speech'], '.3f')}",
                     f"{_f(s['blinks'], '.1f')} [{_f(s['blinks_min'], '.1f')}]",
                     _f(s["blink_ms"], ".0f"), _f(s.get("lid_reopen")),
                     _f(s.get("half_shut"), ".1%"), _f(s["delta_p_x"]),
                     _f(s["s_c_x"]),
                     f"{_f(s['bilabial'])} ({_f(s['bilabial_pool_x'])})",
                     f"{_f(s['vowel'])} ({_f(s['vowel_pool_x'])})",
                     f"{_f(s.get('inside_wide'))} / {_f(s.get('inside_mid'))}"])
    return _table(head, rows)


def real_table(speeches: list[tuple[str, str, str, float]], real: dict[str, dict]) -> list[str]:
    """Rows of the real videos: speeches are (key, speaker, language, seconds)."""
    head = ["speech", "speaker", "language", "s", "opening mean", "opening std",
            "envelope corr", "lag", "crossed lips", "opening silence / speech", "blinks/min",
            "blink ms", "lid reopening", "lids half shut", "Delta P", "S_C",
            "lips shut at /p b m/",
            "at open vowels", "inside wide / middling", "lost frames"]
    rows = []
    for key, speaker, language, seconds in speeches:
        m = real[key]
        if "error" in m:
            rows.append([key, speaker, language, f"{seconds:.1f}", *["n/a"] * 15, m["error"]])
            continue
        rows.append([key, speaker, language, f"{seconds:.1f}",
                     _f(m["opening_mean"], ".3f"), _f(m["opening_std"], ".3f"),
                     _f(m["envelope_corr"]), _f(m["envelope_lag"], "+.0f"),
                     _f(m["crossed_share"], ".1%"),
                     f"{_f(m['opening_silence'], '.3f')} / {_f(m['opening_speech'], '.3f')}",
                     _f(m["blinks_per_min"], ".1f"), _f(m["blink_ms"], ".0f"),
                     _f(m.get("lid_reopen")), _f(m.get("half_shut"), ".1%"),
                     _f(m["delta_p"], ".3f"), _f(m["s_c"]),
                     _f(m.get("bilabial_closure")),
                     _f(m.get("vowel_closure")),
                     f"{_f(m.get('inside_wide'))} / {_f(m.get('inside_middling'))}",
                     f"{m['lost']}/{m['frames']}"])
    return _table(head, rows)


def portrait_table(per: dict[str, dict[str, dict]], mouths: dict[str, str]) -> list[str]:
    """Rows per portrait and method; per: {method: {portrait: per_portrait(...)}}, mouths:
    {portrait: "closed" or "open"}."""
    head = ["portrait", "mouth", "method", "opening mean x", "opening std x", "envelope corr",
            "corr x real", "lag", "crossed lips", "opening silence / speech", "blinks/min",
            "blink ms", "lid reopening", "lids half shut", "Delta P x", "S_C x",
            "shut at /p b m/ x",
            "at open vowels x", "inside wide / middling", "failed"]
    rows = []
    keys = list(next(iter(per.values()))) if per else []
    for key in keys:
        for method, portraits in per.items():
            r = portraits[key]
            rows.append([key, mouths[key], method, _f(r["open_mean_x"]),
                         _f(r["open_std_x"]), _f(r["corr"]), _f(r["corr_x"]),
                         _f(r["lag"], "+.0f"), _f(r["crossed"], ".1%"),
                         f"{_f(r['open_silence'], '.3f')} / {_f(r['open_speech'], '.3f')}",
                         _f(r["blinks"], ".1f"), _f(r["blink_ms"], ".0f"),
                         _f(r.get("lid_reopen")), _f(r.get("half_shut"), ".1%"),
                         _f(r["delta_p_x"]), _f(r["s_c_x"]),
                         _f(r.get("bilabial_pool_x")),
                         _f(r.get("vowel_pool_x")),
                         f"{_f(r.get('inside_wide'))} / {_f(r.get('inside_mid'))}",
                         str(r["failed"])])
    return _table(head, rows)


TARGETS = ("Targets (issue 12, medians over portraits): opening std 0.8-1.25x real and mean "
           "0.7-1.4x, every portrait within 0.5-2x; crossed lips under 1%; envelope correlation "
           "at least 0.8x real, lag within +-2 frames; lips shut at /p b m/ at least 0.8x "
           "real; blinks 10-30/min on every portrait; Delta P 0.8-1.25x real.")
READING = (
    "Reading. Opening: the inner-lip gap at the centre of the mouth in inter-ocular distances "
    "(IOD), re-tracked from the frames; x real: divided by the real speaker's on the same "
    "speech. Envelope corr: Pearson correlation of the opening with the speech loudness (log "
    "RMS floored 30 dB under the speech level), both high-passed at ~2 Hz (syllables), at the "
    "best lag within +-5 frames; lag > 0: the voice comes after the mouth. corr x real is n/a "
    f"where the real video's own correlation is under {MIN_REAL_CORR}. Crossed lips: share of "
    f"frames with the lower lip above the upper one by more than {-mo.CROSSED_BELOW:g} IOD (the "
    "tracker's noise on closed lips). Silence: runs of 0.2 s or more 30 dB under "
    "the speech level. Blink ms: time under half open (a whole blink lasts about twice that). "
    "Lid reopening: median over dips under half open (one frame included) of the largest "
    "one-frame rise of the openness, in shares of the open level, from the dip's lowest frame "
    "to 3 frames past its end; a lid snapping open from shut in one frame scores 0.7-0.9. "
    "Delta P: head-angle speed. S_C: the project's learned sync confidence (timing, not "
    "amplitude). Lips shut at /p b m/ (at open vowels): share of those phones (an English "
    "phone recogniser, `vasa.evaluation.phones`) during which the lips come within 0.015 IOD "
    "of the video's closed level; the first is articulation, the second its false alarms; "
    "x real: mean over a portrait's speeches over the real videos' mean. Inside wide / "
    f"middling: the median luma of the open mouth's core over its lips' at frames opened "
    f"{WIDE:g} IOD or more / {MIDDLING:g}-{WIDE:g} (`vasa.evaluation.interior`, from the "
    "frames' own landmarks): real wide mouths read 0.4-1.15 (their dark or their teeth), a "
    "lip-coloured blur 0.7-0.9, teeth at middling openings over 1. Each portrait's value is "
    "the median over its speeches; a method's row, the median over portraits.")
CAVEATS = (
    "Caveats. The tracker fits a real face's mesh: lips drawn through each other can be "
    "re-tracked as merely closed, so crossed lips can be under-counted (look at the contact "
    "sheets). Real files carry their own audio-video offsets (the Obama address: video 5-6 "
    "frames ahead), which the real rows' lags show; a generated video on the same audio has "
    "none. Correlations over 6-12 s clips are noisy (+-0.1).")
