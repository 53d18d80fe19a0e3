"""The face latent space: pose, holistic dynamics and the basis they are measured in."""

from vasa.latent.basis import FaceBasis, default_basis
from vasa.latent.motion import POSE_DIM, MotionLatents

__all__ = ["POSE_DIM", "FaceBasis", "MotionLatents", "default_basis"]
