"""A text-to-speech / assistant voice driving a talking face through the streaming API.

    python examples/tts_stream.py --model runs/motion/model.pt -o tts_face.mp4
    python examples/tts_stream.py --model M --audio reply.wav --portrait me.jpg --show

A voice arrives in chunks. Here a stand-in TTS engine "speaks" a recording sentence by
sentence: each sentence comes as 0.2 s pieces, generated twice as fast as real time, with a
pause after it, as an assistant's voice would. Every piece goes to `session.push_audio` the
moment it arrives; the frames that come back (index, presentation time, image and the 40 ms of
audio that plays with it) are written to a video or shown. While the voice is silent the script
pushes silence in real time, so the face idles (blinks, small head motion, mouth closed) instead
of freezing. The frames carry their own audio, so picture and sound stay in sync by
construction.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vasa.io import VideoWriter, load_audio
from vasa.motion.checkpoint import DEFAULT_MODEL
from vasa.pipelines.stream import StreamFrame, open_session

ASSETS = Path(__file__).resolve().parents[1] / "src" / "vasa" / "assets"
RATE = 16000
PIECE_S = 0.2  # what the stand-in TTS engine hands over at a time
TICK_S = 0.04  # one frame: how often silence is pushed while the voice is quiet


@dataclass
class Utterance:
    """The stamp pushed with each chunk of one utterance: when its first chunk arrived."""

    arrived: float
    reported: bool = False


def fake_tts(audio: np.ndarray, sentence_s: float = 2.5,
             pause_s: float = 1.0) -> Iterator[tuple[str, np.ndarray | float]]:
    """("speech", piece) as a TTS engine yields them, ("pause", seconds) between sentences."""
    step = int(sentence_s * RATE)
    for start in range(0, len(audio), step):
        sentence = audio[start:start + step]
        for i in range(0, len(sentence), int(PIECE_S * RATE)):
            time.sleep(PIECE_S / 2)  # synthesis: twice as fast as real time
            yield "speech", sentence[i:i + int(PIECE_S * RATE)]
        yield "pause", pause_s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--portrait", default=str(ASSETS / "astronaut.jpg"), help="portrait image")
    p.add_argument("--audio", default=str(ASSETS / "obama_address_8s.mp4"),
                   help="what the voice says (any audio file)")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="motion model file")
    p.add_argument("-o", "--out", default="tts_face.mp4", help="output video")
    p.add_argument("--show", action="store_true", help="also show the frames in a window")
    args = p.parse_args()

    import torch

    torch.set_num_threads(1)
    session = open_session(args.portrait, args.model)
    print(f"look-ahead {session.latency_s * 1000:.0f} ms of audio per frame")
    audio = load_audio(args.audio, RATE)

    with VideoWriter(args.out, 25, sample_rate=RATE, audio_channels=1) as writer:
        def emit(frames: list[StreamFrame]) -> None:
            for f in frames:
                writer.write_audio(f.audio)
                writer.write(f.image)
                if f.stamp is not None and not f.stamp.reported:  # an utterance's first frame
                    print(f"utterance at {f.time:5.2f} s: first frame "
                          f"{(time.monotonic() - f.stamp.arrived) * 1000:.0f} ms after its audio")
                    f.stamp.reported = True
                if args.show:
                    import cv2

                    cv2.imshow("vasa", cv2.cvtColor(f.image, cv2.COLOR_RGB2BGR))
                    cv2.waitKey(1)

        t0, utterance = time.monotonic(), None
        for kind, value in fake_tts(audio):
            if kind == "speech":
                if utterance is None:
                    utterance = Utterance(time.monotonic())
                emit(session.push_audio(value, stamp=utterance))
                continue
            utterance = None
            end = time.monotonic() + value
            while time.monotonic() < end:  # no speech: idle motion, in real time
                behind = (time.monotonic() - t0) - session.received_s
                emit(session.push_silence(max(behind, 0.0)))
                time.sleep(TICK_S)
        emit(session.flush())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
