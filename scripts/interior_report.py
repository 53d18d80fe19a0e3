"""How dark open mouths are inside, real videos beside rendered ones (model-free).

    python scripts/interior_report.py NAME=VIDEO ... [--seconds 12] [--out REPORT.md]

Per video (25 fps, first `--seconds`): frames whose inner lips are at least
`evaluation.interior.WIDE` apart, and the median core-over-lips luma there
(`evaluation.interior.read_interior`); the same at middling openings (0.08 IOD to WIDE), with
the core's colour (chroma) over the lips' there. A real speaker's wide mouth is dark inside; a
smeared one is nearly as light as the lips; a lip-coloured middling one (lips pressed together,
to the eye) reads about 1 in colour where real teeth read well under it; and at slits
(`evaluation.interior.SLIT` to MIDDLING), where real teeth sit in the lips' shadow and a
glowing white line reads well over 1. Then, at wide
openings, the luma and colour over the lips' of the opening's upper, middle and lower thirds
(`InteriorReading.bands`): real mouths are light at the top where the upper teeth show, dark
under them and light and coloured at the bottom (the tongue).
"""

from __future__ import annotations

import numpy as np
from video_sheet import slashed, table_args, video_table

from vasa.evaluation.interior import MIDDLING, SLIT, WIDE, summarise, video_readings


def row(name: str, r: np.ndarray) -> str:
    s = summarise(r)

    def cell(v: float | None, n: int) -> str:
        return f"{v:.2f} ({n})" if v is not None else "n/a (0)"
    colour = "n/a" if s.middling_colour is None else f"{s.middling_colour:.2f}"

    def thirds(k: int) -> str:
        if s.bands is None:
            return "n/a"
        return slashed(s.bands[k])
    return (f"| {name} | {s.frames} | {s.wide_share:.0%} | {cell(s.wide, s.wide_frames)} | "
            f"{cell(s.middling, s.middling_frames)} | {colour} | {cell(s.slit, s.slit_frames)} "
            f"| {thirds(0)} | {thirds(1)} |")


def main() -> None:
    args = table_args(__doc__)
    head = (f"| video | frames | wide (>= {WIDE:.2f} IOD) | core / lips luma, wide (frames) | "
            f"core / lips, {MIDDLING:.2f}-{WIDE:.2f} (frames) | core / lips colour, "
            f"{MIDDLING:.2f}-{WIDE:.2f} | core / lips luma, {SLIT:.2f}-{MIDDLING:.2f} (frames) | "
            "thirds' luma / lips, wide | thirds' colour / lips, wide |")
    video_table(args.videos, "interior_report", [head, "|---|---|---|---|---|---|---|---|---|"],
                lambda name, path, tracker: row(
                    name, video_readings(path, round(args.seconds * 25), tracker)), args.out)

if __name__ == "__main__":
    main()
