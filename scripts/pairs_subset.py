"""Copy a refiner pair set keeping a share of each clip's pairs (a set small enough to carry to
a training machine).

    python scripts/pairs_subset.py PAIRS OUT --train 0.74 --val 0.6 [--seed 0]

Each clip keeps round(share x its pairs) at random (at least one), so every clip and speaker
stays in the set; the JPEG-packed crops are sliced, not re-encoded; the portraits' reference
crops are kept whole. Writes OUT/<id>.npz and OUT/index.json with the new counts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from vasa.files import atomic_output
from vasa.refine.store import take_jpeg

PACKED = ("warped", "target")  # per-pair JPEG crops (bytes + offsets)


def subset_clip(arrays: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    """The clip's arrays with only the pairs `keep` (sorted indices)."""
    n = len(arrays["ref"])
    out = dict(arrays)
    for k in PACKED:
        out[k], out[k + "_offsets"] = take_jpeg(arrays[k], arrays[k + "_offsets"], keep)
    skip = set(PACKED) | {k + "_offsets" for k in PACKED} | {"reference", "reference_offsets"}
    for k, v in arrays.items():
        if k not in skip and len(v) == n:  # per-pair arrays: ref, landmark points
            out[k] = v[keep]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pairs", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--train", type=float, default=1.0, help="share of each train clip's pairs")
    ap.add_argument("--val", type=float, default=1.0, help="share of each held-out clip's pairs")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    index = json.loads((args.pairs / "index.json").read_text())
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for e in index["clips"]:
        with np.load(args.pairs / f"{e['id']}.npz") as z:
            arrays = dict(z)
        n = len(arrays["ref"])
        share = args.train if e["split"] == "train" else args.val
        keep = np.sort(rng.choice(n, max(1, round(n * share)), replace=False))
        e["samples"] = len(keep)
        with atomic_output(args.out / f"{e['id']}.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, **subset_clip(arrays, keep))
    with atomic_output(args.out / "index.json") as tmp:
        Path(tmp).write_text(json.dumps(index, indent=1))
    for split in ("train", "val"):
        print(split, sum(e["samples"] for e in index["clips"] if e["split"] == split), "pairs")


if __name__ == "__main__":
    main()
