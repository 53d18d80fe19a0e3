"""The per-portrait table that the model-free portrait reports print and write (lid_seam.py,
ghost_report.py): a row per portrait, a summary row, and with an earlier run's JSON each cell
as before -> after."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import vasa
from vasa.files import atomic_output

ROOT = Path(__file__).resolve().parents[1]

Rows = dict[str, dict[str, float]]


def table_lines(rows: Rows, columns: list[str], before: Rows | None,
                fmt: Callable[[str, float], str], summary: Callable[[list[float]], float],
                summary_name: str) -> list[str]:
    """Markdown lines: header, the summary row (`summary` of each column over the portraits,
    before's over the same portraits), then a row per portrait."""

    def cell(name: str | None, col: str) -> str:
        def value(table: Rows) -> float:
            if name is None:
                return float(summary([r[col] for n, r in table.items() if n in rows]))
            return table.get(name, {}).get(col, float("nan"))
        now = fmt(col, value(rows))
        return now if before is None else f"{fmt(col, value(before))} -> {now}"

    lines = ["| portrait | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|",
             f"| **{summary_name}** | " + " | ".join(cell(None, c) for c in columns) + " |"]
    return lines + [f"| {n} | " + " | ".join(cell(n, c) for c in columns) + " |" for n in rows]


def provenance(script: str, compare: Path | None) -> str:
    """"`python scripts/SCRIPT`, `vasa` from TREE[, before: JSON]": the renderer measured is
    the `vasa` on PYTHONPATH (another tree's for a before/after)."""
    tree = os.path.relpath(Path(vasa.__file__).parent, ROOT)
    before = f", before: {os.path.relpath(compare, ROOT)}" if compare else ""
    return f"`python scripts/{script}`, `vasa` from {tree}{before}"


def read_rows(path: Path | None) -> Rows | None:
    """The rows of an earlier run's JSON (None: no comparison)."""
    return json.loads(path.read_text())["rows"] if path else None


def write_report(out: Path | None, text: str, rows: Rows) -> None:
    """OUT.md (the text) and OUT.json (the rows, for a later --compare), each written whole."""
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    for suffix, body in ((".md", text), (".json", json.dumps({"rows": rows}, indent=1))):
        with atomic_output(out.with_suffix(suffix)) as tmp:
            Path(tmp).write_text(body)


__all__ = ["Rows", "provenance", "read_rows", "table_lines", "write_report"]
