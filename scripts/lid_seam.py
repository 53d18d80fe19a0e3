"""Do shut eyes read as lids or as patches? The lid seam on every portrait (model-free, #13).

    python scripts/lid_seam.py [--out benchmarks/results/lid_seam] [--compare BEFORE.json]

Each portrait of ../shared/data/portraits and the bundled astronaut, at 512 px, its own pose
and expression with both eyes shut (the dynamics' eye openness 0) and half way (0.5: where
the drawn lid covers about half the eye), rendered with no eye synthesis (the warp squeezing
the eye), the drawn lids (`--no-refiner`) and the eye refiner (the default), scored by
`evaluation.lid_seam` round each eye's open outline; per portrait the mean of its two eyes.
The renderer is the `vasa` on PYTHONPATH (another tree's for a before/after); the measure is
always this tree's, so both sides are scored alike. `--compare` puts a run's JSON beside this
one, before -> after.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

from portrait_table import provenance, read_rows, table_lines, write_report

from vasa.latent import topology as topo
from vasa.latent.basis import default_basis
from vasa.latent.face_model import decode_canonical, placer
from vasa.portrait import load_portrait
from vasa.render import RenderConfig, Renderer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ASTRONAUT = ROOT / "src" / "vasa" / "assets" / "astronaut.jpg"
_spec = importlib.util.spec_from_file_location(
    "lid_seam_measure", ROOT / "src" / "vasa" / "evaluation" / "lid_seam.py")
measure = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = measure  # its dataclass looks its module up
_spec.loader.exec_module(measure)

RENDERERS = {"warp only": RenderConfig(mouth=False, eyes=False),
             "drawn": RenderConfig(refiner=False),
             "eye refiner": RenderConfig()}
OPENNESS = (0.0, 0.5)


def score(path: Path, basis) -> dict[str, float]:
    """{"RENDERER @ OPENNESS": seam} for one portrait (mean of its two eyes)."""
    p = load_portrait(path, 512, basis=basis)
    rest = placer(p.pose, p.size)(decode_canonical(p.canonical, p.dynamics, p.dynamics, basis))
    out = {}
    for name, cfg in RENDERERS.items():
        r = Renderer(p, basis, cfg)
        for openness in OPENNESS:
            dyn = p.dynamics.copy()
            dyn[basis.layout.eyes] *= openness
            frame = r.render(p.pose, dyn)
            seams = [measure.lid_seam(frame, rest[eye, :2]) for eye in
                     (topo.RIGHT_EYE, topo.LEFT_EYE)]
            out[f"{name} @ {openness:g}"] = float(np.nanmean(seams))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="write OUT.md and OUT.json")
    ap.add_argument("--compare", type=Path, help="a JSON of an earlier run: before -> after")
    args = ap.parse_args()
    basis = default_basis()
    paths = sorted((DATA / "portraits").iterdir()) + [ASTRONAUT]
    rows = {}
    for path in paths:
        try:
            rows[path.stem] = score(path, basis)
        except ValueError as e:  # no usable face: say so, score the rest
            print(f"{path.name}: skipped ({e})")
            continue
        print(path.stem, {k: round(v, 3) for k, v in rows[path.stem].items()}, flush=True)
    cols = list(next(iter(rows.values())))
    lines = [(f"Lid seam ({provenance('lid_seam.py', args.compare)}): the luma step "
             "across the open eye's upper outline over the skin's, 0 = none; eyes shut (0) "
             "and half shut (0.5). Where the brows sit close above the eye (Obama, Trump) "
             "the outer band reaches them and the seam reads high whatever the lid."), ""]
    lines += table_lines(rows, cols, read_rows(args.compare), lambda col, v: f"{v:.3f}",
                         np.nanmedian, "median")
    text = "\n".join(lines) + "\n"
    print(text)
    write_report(args.out, text, rows)


if __name__ == "__main__":
    main()
