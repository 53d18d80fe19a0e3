"""Evaluation of the face latent space and renderer against real footage."""

from __future__ import annotations

from vasa.evaluation.reconstruction import (
    ClipResult,
    face_mask,
    psnr,
    save_comparison,
    self_reenact_clip,
    ssim,
)

__all__ = ["ClipResult", "face_mask", "psnr", "save_comparison", "self_reenact_clip", "ssim"]
