"""`vasa generate`: portrait + speech -> talking-face video (VASA-1 section 3).

Encode the portrait once; stream the audio through the motion engine in chunks (the same
engine a real-time server uses); render and encode each frame as soon as its window is ready.
The audio is decoded chunk by chunk as well and muxed as it goes, so memory does not grow with
the input's length (an hour of speech is fine).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tqdm import tqdm

from vasa.audio import get_extractor
from vasa.io import VideoWriter, audio_duration, iter_audio
from vasa.latent.basis import default_basis
from vasa.motion.checkpoint import load_model
from vasa.motion.controls import check_controls
from vasa.motion.engine import MotionEngine
from vasa.overlap import Drain
from vasa.pipelines.calibrate import aim_gaze, calibrated_output, gaze_response, rest_frames
from vasa.pipelines.config import GenerateConfig
from vasa.portrait import load_portrait
from vasa.render import Renderer, render_frames
from vasa.timebase import MOTION_FPS, SAMPLE_RATE, SAMPLES_PER_FRAME
from vasa.timing import StageClock

CHUNK_S = 1.0  # audio decoded and pushed to the engine per step: bounded memory
# Frames queued for the encoder's thread (libx264 and the mux release the GIL: on 2 cores
# encoding runs beside rendering). Bounded, so memory does not grow when encoding lags.
ENCODE_BEHIND = 4
STAGES = ("setup", "audio", "motion", "render", "encode")


@dataclass
class GenerateResult:
    """frames written; seconds per stage: setup, audio (decoding), motion, render, encode."""

    frames: int
    seconds: dict[str, float]


def generate(portrait_path: str | Path, audio_path: str | Path, out_path: str | Path,
             cfg: GenerateConfig | None = None, progress: bool = True) -> GenerateResult:
    """Write a talking-face mp4 of the portrait speaking the audio (audio muxed in sync).

    The audio is streamed: decoded in CHUNK_S chunks, each pushed to the motion engine and
    queued for muxing, so memory is bounded whatever the input's length. Unreadable or empty
    audio raises MediaError naming the file before any output is created.
    """
    cfg = cfg or GenerateConfig()
    check_controls(cfg.controls)
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise FileNotFoundError(f"{out_path.parent}: output directory does not exist")
    secs = dict.fromkeys(STAGES, 0.0)
    clock = StageClock(secs)
    with contextlib.closing(iter_audio(audio_path, SAMPLE_RATE, CHUNK_S)) as chunks:
        # The first chunk now: a missing, empty or undecodable file fails before any work.
        first = next(chunks)
        clock("audio")
        basis = default_basis()
        extractor = get_extractor()
        model = load_model(cfg.model, extractor.spec.id, basis.version)
        portrait = load_portrait(portrait_path, cfg.size, cfg.face_index, basis,
                                 framed=not cfg.crop)
        renderer = Renderer(portrait, basis, cfg.render)  # the crop: what calibration tracks
        # What is written (the picture, or the crop), and how the portrait renders a mouth and lids.
        output, mouth, lids = calibrated_output(portrait, renderer, basis)
        engine = MotionEngine(model, extractor, portrait.pose, portrait.talking_rest(basis),
                              cfg.controls, hop=cfg.hop, lookahead=cfg.lookahead,
                              close_lips=cfg.close_lips, mouth_response=mouth, lid_response=lids)
        # A requested gaze is steered with this portrait's rendered eye gain and an aim that
        # re-tracks as the request (the portrait steered to it, rendered and tracked back);
        # without one nothing is measured.
        if (target := engine.gaze_target) is not None:
            engine.gaze_response = aim_gaze(
                renderer, basis, portrait.size, gaze_response(portrait, renderer, basis),
                target, rest_frames(portrait, basis, target, engine.head_share))
        duration = audio_duration(audio_path)  # from the header; None if it does not say
        total = (-(-round(duration * SAMPLE_RATE) // SAMPLES_PER_FRAME)
                 if duration else None)
        clock("setup")
        with VideoWriter(out_path, float(MOTION_FPS), sample_rate=SAMPLE_RATE, crf=cfg.crf,
                         audio_channels=1) as writer, \
                Drain(_call, ENCODE_BEHIND, "encode") as encoder, \
                tqdm(total=total, desc="generating", unit="frame", disable=not progress) as bar:

            def emit(frames: list) -> None:
                for img in render_frames(output, ((f.pose, f.dynamics) for f in frames)):
                    clock("render")
                    encoder.put(partial(writer.write, img))  # a new array: never changed
                    clock("encode")
                bar.update(len(frames))

            chunk = first
            while chunk is not None:
                # Queued in order with the frames: the writer is used on one thread only.
                encoder.put(partial(writer.write_audio, chunk))
                clock("encode")
                frames = engine.push(chunk)
                clock("motion")
                emit(frames)
                chunk = next(chunks, None)
                clock("audio")
            frames = engine.flush()
            clock("motion")
            emit(frames)
            encoder.finish()
            clock("encode")
            if bar.total != bar.n:  # the header's duration was approximate or missing
                bar.total = bar.n
                bar.refresh()
            written = writer.num_frames
    return GenerateResult(written, secs)


def _call(job: Callable[[], object]) -> None:
    """The encoder thread's sink: each job is one call on the writer, in the order queued."""
    job()
