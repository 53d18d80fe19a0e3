"""The renderer (decoder): Portrait + (pose, dynamics) -> RGB frame, in real time on a CPU.

Per frame: decode the target canonical face from the portrait's face and the change of
dynamics; place it with the target pose; move the anchor rings (head rigid, neck partly, the
background not at all); backward-warp the eye-free portrait through the mesh; then synthesise
what the portrait cannot show: the mouth interior and the irises at the target gaze.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vasa.latent.basis import FaceBasis, default_basis
from vasa.latent.face_model import MIN_OPEN, decode_canonical, place, placer
from vasa.latent.motion import SCALE, TX, TY, MotionLatents
from vasa.portrait import Portrait
from vasa.render.appearance import build_appearance
from vasa.render.eyes import LID_START, paint_eyes
from vasa.render.mesh import (
    BLEND_FOLLOW,
    NECK_FOLLOW,
    border_points,
    make_layout,
    open_mouth,
    triangulate,
)
from vasa.render.mouth import lip_gap, paint_mouth
from vasa.render.refiner import DEFAULT_REFINER, MouthRefiner, refiner_weight
from vasa.render.warp import MeshWarper, remap
from vasa.timing import StageClock

FAR = 1e4  # depth given to anchors that never move: always behind the face


@dataclass
class RenderConfig:
    """flow_scale: resolution of the warp field relative to the frame (0.4: 54 dB PSNR against a
    full-resolution field on a turned, open-mouthed face, at a fraction of the cost).
    mouth, eyes: synthesis on/off. refiner: the mouth is redrawn by the learned refiner
    (`render.refiner`); False paints it (`render.mouth`). refiner_model: its ONNX file (None:
    the bundled one)."""

    flow_scale: float = 0.4
    mouth: bool = True
    eyes: bool = True
    refiner: bool = True
    refiner_model: str | None = None


SHUT_EYE = 2 * MIN_OPEN  # eyelid gap / eye width under which a portrait's eye is taken as shut


class Renderer:
    """Renders one portrait under any motion. Frames have the portrait's size (S, S, 3) uint8."""

    def __init__(self, portrait: Portrait, basis: FaceBasis | None = None,
                 config: RenderConfig | None = None) -> None:
        self.basis = basis or default_basis()
        if portrait.basis_version != self.basis.version:
            raise ValueError(f"portrait was encoded with face basis {portrait.basis_version}, "
                             f"renderer has {self.basis.version}: re-encode the portrait")
        self.portrait = portrait
        self.config = config or RenderConfig()
        self.size = portrait.size
        self.identity = portrait.identity(self.basis)
        self.layout = make_layout(portrait.canonical)
        self.appearance = build_appearance(portrait.image, portrait.landmarks,
                                           self.basis.iris_right, self.basis.iris_left)
        # An eye shut in the portrait has no iris to show: it stays shut (no sprite to paste).
        shut = portrait.dynamics[self.basis.layout.eyes] < SHUT_EYE
        self.appearance.irises = tuple(None if s else sprite for s, sprite in
                                       zip(shut, self.appearance.irises))
        self.src, self.src_depth = self._vertices(portrait.landmarks, portrait.pose,
                                                  portrait.pose)
        # Topology from a frontal, open-mouthed copy of this face placed where the portrait is.
        frontal = portrait.pose.copy()
        frontal[:3] = 0.0
        shape = open_mouth(portrait.canonical)
        topo_pts, _ = self._vertices(place(shape, frontal, self.size), frontal, frontal)
        self.tris = triangulate(topo_pts)
        self.warper = MeshWarper(self.tris, self.size, self.config.flow_scale)
        self.source_gap = lip_gap(portrait.canonical)
        self.refiner = None
        if self.config.mouth and self.config.refiner:
            self.refiner = MouthRefiner(portrait.image, portrait.landmarks,
                                        self.config.refiner_model or DEFAULT_REFINER)
        self._iris_idx = (self.basis.iris_right, self.basis.iris_left)
        self.flow: np.ndarray | None = None  # the last frame's source map (render.paste reads it)

    def _vertices(self, landmarks: np.ndarray, pose: np.ndarray, src_pose: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(V, 2) vertex positions and (V,) depths for face landmarks (478, 3) under `pose`;
        neck and fixed anchors are placed relative to the portrait's pose `src_pose`."""
        lay = self.layout
        face, head, blend, neck, fixed, border = lay.slices
        xy = np.empty((lay.num_vertices, 2))
        depth = np.empty(lay.num_vertices)
        xy[face], depth[face] = landmarks[lay.face, :2], landmarks[lay.face, 2]
        h = place(lay.head_canon, pose, self.size)
        xy[head], depth[head] = h[:, :2], h[:, 2]
        b_src = place(lay.blend_canon, src_pose, self.size)
        b_dst = place(lay.blend_canon, pose, self.size)
        xy[blend] = b_src[:, :2] + BLEND_FOLLOW * (b_dst[:, :2] - b_src[:, :2])
        depth[blend] = b_dst[:, 2]
        n = place(lay.neck_canon, src_pose, self.size)
        shift = (pose[TX:TY + 1] - src_pose[TX:TY + 1]) * self.size * NECK_FOLLOW
        xy[neck], depth[neck] = n[:, :2] + shift, n[:, 2]
        xy[fixed] = place(lay.fixed_canon, src_pose, self.size)[:, :2]
        depth[fixed] = FAR
        xy[border], depth[border] = border_points(self.size), FAR
        return xy, depth

    def render(self, pose: np.ndarray, dynamics: np.ndarray,
               timings: dict[str, float] | None = None) -> np.ndarray:
        """One frame (S, S, 3) uint8 for pose (6,) and dynamics (D,).

        timings: if given, seconds spent per stage are added to it (for benchmarks):
        decode, vertices, flow, remap, mouth, eyes.
        """
        clock = StageClock(timings)
        pose = np.asarray(pose, np.float64).reshape(-1)
        dynamics = np.asarray(dynamics, np.float64).reshape(-1)
        if dynamics.shape[0] != self.basis.dynamics_dim:
            raise ValueError(f"dynamics has {dynamics.shape[0]} values, the face basis "
                             f"{self.basis.dynamics_dim} (num_pca = {self.basis.num_pca} plus eye "
                             "openness and gaze): motion made for another basis")
        p = self.portrait
        canonical = decode_canonical(p.canonical, p.dynamics, dynamics, self.basis)
        to_pixels = placer(pose, self.size)
        lm = to_pixels(canonical)
        clock("decode")
        dst, depth = self._vertices(lm, pose, p.pose)
        clock("vertices")
        flow = self.flow = self.warper.flow(dst, self.src, depth)
        clock("flow")
        frame = remap(self.appearance.image, flow)
        clock("remap")
        if self.refiner is not None:
            self.refiner(frame, lm, refiner_weight(lip_gap(canonical), self.source_gap))
        elif self.config.mouth:
            paint_mouth(frame, lm, canonical, to_pixels, self.appearance, self.source_gap)
        clock("mouth")
        if self.config.eyes:
            now, rest = dynamics[self.basis.layout.eyes], p.dynamics[self.basis.layout.eyes]
            closure = tuple(float(np.clip(1 - now[i] / max(rest[i], MIN_OPEN), 0, 1))
                            for i in (0, 1))
            lm_open = None
            if max(closure) > LID_START:  # where the eyes are at rest: the lid skin's extent
                opened = np.array(dynamics)
                opened[self.basis.layout.eyes] = np.maximum(rest, now)
                lm_open = to_pixels(decode_canonical(p.canonical, p.dynamics, opened,
                                                     self.basis))
            paint_eyes(frame, lm, self.appearance, self._iris_idx,
                       float(pose[SCALE] / p.pose[SCALE]), closure, lm_open)
        clock("eyes")
        return frame

    def render_sequence(self, motion: MotionLatents):
        """Yield one frame per motion frame."""
        for pose, dyn in zip(motion.pose, motion.dynamics):
            yield self.render(pose, dyn)


__all__ = ["RenderConfig", "Renderer"]
