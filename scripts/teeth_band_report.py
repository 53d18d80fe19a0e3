"""How the upper teeth read across open mouths, real videos beside rendered ones (model-free).

    python scripts/teeth_band_report.py NAME=VIDEO ... [--seconds 12] [--out REPORT.md]

Per video (25 fps, first `--seconds`, re-tracked), at frames whose inner lips are at least
`evaluation.interior.MIDDLING` apart (`evaluation.teeth_band.read_band`): the upper teeth's
band's median luma over the lips' in 0.05 IOD bins from the teeth's midline out, the same over
its first bin (the fall-off towards the corners: real mouths' halves by about 0.2 IOD), and
the band's fine texture across the mouth near the midline (tooth edges; a soft bar reads near
0).
"""

from __future__ import annotations

from pathlib import Path

from video_sheet import slashed, table_args, video_table

from vasa.evaluation.teeth_band import BIN, BINS, summarise, video_bands
from vasa.render import mouth_crop as mc


def main() -> None:
    args = table_args(__doc__)
    step = BIN / mc.PX_PER_IOD
    bins = ", ".join(f"{k * step:.2f}-{(k + 1) * step:.2f}" for k in range(BINS))
    head = (f"| video | frames read | band / lips luma by IOD from the midline ({bins}) | "
            "fall-off (over the first bin) | texture |")

    def row(name: str, path: Path, tracker) -> str:
        s = summarise(video_bands(path, round(args.seconds * 25), tracker))
        return (f"| {name} | {s.frames} | {slashed(s.profile)} | {slashed(s.falloff)} | "
                f"{s.texture:.3f} |")
    video_table(args.videos, "teeth_band_report", [head, "|---|---|---|---|---|"], row,
                args.out)


if __name__ == "__main__":
    main()
