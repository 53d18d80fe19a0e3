"""One check for every trained model file: it must match the audio features and face basis
of the data it will see, or it is refused with a message saying how to fix it."""

from __future__ import annotations

from pathlib import Path


def check_trained_with(path: str | Path, retrain: str, trained_extractor: str,
                       trained_basis: str, extractor: str | None = None,
                       basis: str | None = None) -> None:
    """Raise ValueError if `extractor` / `basis` (when given) differ from what the model at
    `path` was trained with. retrain: the command that makes a matching model."""
    if extractor is not None and trained_extractor != extractor:
        raise ValueError(f"{path}: trained with audio features {trained_extractor}, not "
                         f"{extractor}: retrain it with `{retrain}`")
    if basis is not None and trained_basis != basis:
        raise ValueError(f"{path}: trained with face basis {trained_basis}, this vasa has "
                         f"{basis}: retrain it with `{retrain}`")
