"""Readings of this process (resident memory), for the benchmarks and the server's health page."""

from __future__ import annotations

import os


def rss_mb() -> float | None:
    """Resident memory of this process now (Linux), in MiB; None where it cannot be read."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None
