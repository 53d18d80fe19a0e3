"""Mouth refiners side by side on the held-out pairs of a pair set, in one run.

    python scripts/refiner_pairs_eval.py --data PAIRS NAME=MODEL ... [--out REPORT.md]

MODEL: a `vasa train refiner` run's refiner.pt, or an exported .onnx / .int8.onnx (the bundled
`src/vasa/assets/refiner.int8.onnx`; read back into float32 torch, as `--init` reads it).
Per model, over every validation pair (speakers no model saw; `refine.train.evaluate`): mouth
PSNR / SSIM inside the paste mask, the texture across the opening over the real frames', and
the upper third of the opening's luma over the lips' (median over the pairs opened at least
MIDDLING) with the share of those pairs that bare the upper teeth (`refine.train.BARED`), the
real frames' beside it. A refiner that learns the training speakers' mean draws that band
darker than the held-out speakers show it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from vasa.files import atomic_output
from vasa.refine.export import load_refiner
from vasa.refine.train import evaluate, load_pairs, pairs_region


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", metavar="NAME=MODEL")
    ap.add_argument("--data", required=True, help="mouth pair set (`vasa refiner-pairs`)")
    ap.add_argument("--out", default=None, help="also write the table here (markdown)")
    args = ap.parse_args()
    region = pairs_region(args.data)
    if region.name != "mouth":
        raise SystemExit(f"{args.data}: not a mouth pair set")
    torch.set_num_threads(1)
    val = load_pairs(args.data, "val", torch.device("cpu"))
    lines = [f"Held-out pairs of {args.data}: {len(val)}.", "",
             "| refiner | PSNR | SSIM | texture | upper band / lips (real) | bared (real) |",
             "|---|---|---|---|---|---|"]
    for spec in args.models:
        name, _, path = spec.partition("=")
        if not Path(path).is_file():
            raise SystemExit(f"{path}: no such refiner")
        s = evaluate(load_refiner(path), val, region.opening, max_rows=len(val), teeth=True)
        lines.append(f"| {name} | {s['psnr_refined']:.2f} | {s['ssim_refined']:.4f} | "
                     f"{s['texture_refined']:.2f} | {s['upper_refined']:.2f} "
                     f"({s['upper_real']:.2f}) | {s['bared_refined']:.2f} "
                     f"({s['bared_real']:.2f}) |")
        print(lines[-1], flush=True)
    if args.out:
        with atomic_output(args.out) as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
