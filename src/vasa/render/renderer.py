"""The renderer (decoder): Portrait + (pose, dynamics) -> RGB frame, in real time on a CPU.

Per frame: decode the target canonical face from the portrait's face and the change of
dynamics; place it with the target pose; move the anchor rings (head rigid, neck partly, the
background not at all); backward-warp the eye-free portrait through the mesh; then synthesise
what the portrait cannot show: the mouth interior (the learned mouth refiner), the irises at
the target gaze and, in a blink, the closing lids (drawn, then the learned eye refiner).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from vasa.latent import topology as topo
from vasa.latent.basis import FaceBasis, default_basis
from vasa.latent.face_model import MIN_OPEN, decode_canonical, place, placer, unplace
from vasa.latent.motion import SCALE, MotionLatents
from vasa.overlap import pipelined
from vasa.portrait import Portrait
from vasa.render.appearance import build_appearance
from vasa.render.eyes import LID_START, paint_eyes
from vasa.render.interior import MouthInterior
from vasa.render.mesh import (
    BLEND_FOLLOW,
    HEAD_DEPTH,
    HEAD_RING_SCALES,
    NECK_DEPTH,
    NECK_DROP,
    NECK_FOLLOW,
    OUTLINE_INSET,
    anchor_rest,
    border_points,
    make_layout,
    open_mouth,
    opening_triangles,
    outline,
    triangulate,
    unfold,
)
from vasa.render.mouth import lip_gap, paint_mouth
from vasa.render.picture_edge import EdgeHold
from vasa.render.refiner import (
    DEFAULT_EYE_REFINER,
    DEFAULT_REFINER,
    EYE_START,
    EyeRefiner,
    MouthRefiner,
    eye_refiner_weight,
    refiner_weight,
)
from vasa.render.reveal import RevealFill, mirror_points
from vasa.render.warp import MeshWarper, remap
from vasa.timing import StageClock

FAR = 1e4  # depth given to anchors that never move: always behind the face
# The frame border's distance outside the frame (frame widths): room for the outer rings of a
# tightly cropped face, which reach past the frame's edge.
BORDER_MARGIN = 0.5
BLEND_DEPTH = 1.0  # the blend ring lies this far behind the outer head ring (canonical units)


@dataclass
class RenderConfig:
    """flow_scale: resolution of the warp field relative to the frame (0.4: 54 dB PSNR against a
    full-resolution field on a turned, open-mouthed face, at a fraction of the cost), never
    under `warp.MIN_FLOW_PX` (a smaller crop's face keeps a 512 px crop's field detail).
    mouth, eyes: synthesis on/off. refiner: the mouth is redrawn by the learned refiner
    (`render.refiner`); False paints it (`render.mouth`) and keeps the drawn lids of blinks.
    eye_refiner: with `refiner`, blinking eyes are redrawn by the learned eye refiner over the
    drawn lids (False: the drawn lids only). refiner_model, eye_refiner_model: their ONNX files
    (None: the bundled ones). matte: in the picture output (`render.paste`), compose the warped
    person over the still backdrop through a person matte made once per portrait
    (`render.matte`), so the backdrop never moves; False: paste the warped crop as it is (the
    backdrop near the head moves with it). reveal: a far cheek the turn magnifies takes its
    detail from the near cheek (`render.reveal`, benchmarks/results/reveal.md); False: the
    stretched warp as it is.
    outline_inset: how far inside MediaPipe's face oval, above the jaw, the face's mesh ends
    (`mesh.OUTLINE_INSET`). antialias: the pixels along an occlusion edge (a turned cheek's
    outline over the hair) are each sampled over their footprint in the portrait's image
    (`warp.Edges`); False: sharp to the pixel, a staircase. interior: with `refiner`, a mouth
    opening wider than the portrait's keeps the portrait's teeth at their size and opens dark
    between them, and a wide opening where the portrait had no teeth to keep is dark at its
    core (`render.interior`); False: the warp and the refiner alone draw the inside.
    whiten: with `interior`, the light inside of an opening where the portrait had no teeth to
    keep loses the lips' colour (`MouthInterior.whiten`: teeth, not pink); False: as the
    refiner draws it.
    light_lids: the drawn lids of a blink take the lighter half of the skin round the eye
    (`render.eyes.LID_LIGHT`: what the eye refiner is given to redraw); None: exactly when the
    eye refiner runs (the pair builder sets True to draw its input without running it).
    eye_mirror: the eye refiner redraws the band and its mirror image and takes their mean
    (`EyeRefiner`: both lids of a blink close together); False: one pass."""

    flow_scale: float = 0.4
    mouth: bool = True
    eyes: bool = True
    refiner: bool = True
    eye_refiner: bool = True
    refiner_model: str | None = None
    eye_refiner_model: str | None = None
    matte: bool = True
    reveal: bool = True
    outline_inset: float = OUTLINE_INSET
    antialias: bool = True
    interior: bool = True
    whiten: bool = True
    light_lids: bool | None = None
    eye_mirror: bool = True


# The eyes' contours: the lids round them are drawn over (the eye refiner, or the drawn lids),
# so where a blink squeezes them the warp's coarse map stands (`warp.MeshWarper`'s redrawn).
EYE_CONTOURS = np.unique(topo.RIGHT_EYE + topo.LEFT_EYE)
# Landmark contours the unfolding leaves where they are.
CONTOURS = np.union1d(np.unique(topo.LIPS_OUTER + topo.LIPS_INNER), EYE_CONTOURS)
# Regions whose triangles are a few px^2, warped at full resolution (warp.flow's exact boxes):
# the lips, where a coarse map misses them and reads the closed lip line as dark specks below
# an opening lower lip. Each box is the contour's bounds grown by DETAIL_GROW of its size. (The
# eyes' boxes changed no pixel by more than 6 grey levels and cost 0.7 ms a frame: left out.)
DETAIL_REGIONS = (np.array(topo.LIPS_OUTER),)
DETAIL_GROW = 0.35


def detail_boxes(landmarks: np.ndarray) -> tuple[tuple[int, int, int, int], ...]:
    """(x0, y0, x1, y1) pixel boxes around the `DETAIL_REGIONS` of `landmarks` (478, >=2)."""
    boxes = []
    for region in DETAIL_REGIONS:
        xy = landmarks[region, :2]
        lo, hi = xy.min(0), xy.max(0)
        pad = DETAIL_GROW * (hi - lo).max() + 2.0
        boxes.append((int(lo[0] - pad), int(lo[1] - pad), int(hi[0] + pad) + 1,
                      int(hi[1] + pad) + 1))
    return tuple(boxes)


@dataclass
class Warped:
    """A frame between `Renderer.warp` and `Renderer.finish`."""

    frame: np.ndarray  # (S, S, 3) uint8: the warped portrait; finish draws into it
    pose: np.ndarray  # (6,) float64
    dynamics: np.ndarray  # (D,) float64
    canonical: np.ndarray  # (478, 3): the decoded face, canonical frame
    landmarks: np.ndarray  # (478, 3): that face placed in the frame, pixels
    flow: np.ndarray  # (S, S, 2) float32: each pixel's source position (render.paste reads it)
    carried: np.ndarray | None  # (S, S) uint8: the carried plane, warped (`Renderer.carry`)
    hold_widths: np.ndarray | None = None  # this frame's held band (`MeshWarper.held`)


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
        # The outline's inset per oval point (`mesh.OUTLINE_INSET`): above the jaw only.
        self._inset = np.r_[np.full(len(self.layout.upper), self.config.outline_inset),
                            np.zeros(len(self.layout.jaw))]
        self.appearance = build_appearance(portrait.image, portrait.landmarks,
                                           self.basis.iris_right, self.basis.iris_left)
        # An eye shut in the portrait has no iris to show: it stays shut (no sprite to paste).
        shut = portrait.shut_eyes(self.basis)
        self.appearance.irises = tuple(None if s else sprite for s, sprite in
                                       zip(shut, self.appearance.irises))
        lay = self.layout
        self.border = border_points(self.size, BORDER_MARGIN)
        # Topology from a frontal, open-mouthed copy of this face placed where the portrait is.
        frontal = portrait.pose.copy()
        frontal[:3] = 0.0
        face = place(open_mouth(portrait.canonical), frontal, self.size)[lay.face, :2]
        self.tris = triangulate(np.concatenate([face, anchor_rest(lay, face), self.border]))
        self.openings = opening_triangles(self.tris, lay.landmark_of())
        self._source()
        lids = np.isin(lay.landmark_of(), EYE_CONTOURS)[self.tris].any(1)
        self.warper = MeshWarper(self.tris, self.size, self.config.flow_scale,
                                 portrait.enlarged if self.config.antialias else None, lids)
        self.reveal = None
        if self.config.reveal:
            self.reveal = RevealFill(self.tris, lay.landmark_of(),
                                     mirror_points(self.basis.template), self.src,
                                     self.openings, portrait.pose[SCALE] * self.size)
        self.source_gap = lip_gap(portrait.canonical)
        self.refiner = self.interior = None
        if self.config.mouth and self.config.refiner:
            self.refiner = MouthRefiner(portrait.image, portrait.landmarks,
                                        self.config.refiner_model or DEFAULT_REFINER)
            if self.config.interior:
                self.interior = MouthInterior(portrait.image, portrait.landmarks)
        self.eye_refiner = None
        if self.config.eyes and self.config.refiner and self.config.eye_refiner:
            self.eye_refiner = EyeRefiner(portrait.image, portrait.landmarks,
                                          self.config.eye_refiner_model or DEFAULT_EYE_REFINER,
                                          mirror=self.config.eye_mirror)
        self._light_lids = (self.eye_refiner is not None if self.config.light_lids is None
                            else self.config.light_lids)
        self._iris_idx = (self.basis.iris_right, self.basis.iris_left)
        self.flow: np.ndarray | None = None  # the last frame's source map (render.paste reads it)
        self._rgba: np.ndarray | None = None  # the image with a carried plane (`carry`)
        self.carried: np.ndarray | None = None  # that plane, warped with the last frame
        if portrait.framed:  # pasted back: the picture's edge and the crop's stay put
            f = portrait.framing
            self.warper.pin(EdgeHold(f.to_crop, f.shape, self.size))

    def carry(self, plane: np.ndarray | None) -> None:
        """Warp `plane` (S, S) uint8 with every frame from now on, into `carried` (S, S) uint8
        (the paste's person matte, `render.paste`); None stops. It rides as the image's fourth
        channel through the one remap: OpenCV's 4-channel remap costs no more than its
        3-channel one, and the frame is split from it in a fraction of a millisecond."""
        self.carried = None
        if plane is None:
            self._rgba = None
            return
        if plane.shape != (self.size, self.size) or plane.dtype != np.uint8:
            raise ValueError(f"a carried plane is ({self.size}, {self.size}) uint8, got "
                             f"{plane.shape} {plane.dtype}")
        self._rgba = np.dstack([self.appearance.image, plane])

    def _source(self) -> None:
        """The portrait's own mesh: `src` (V, 2) positions and `src_depth` (V,), and the 3D
        head-ring anchors `_head_canon` (canonical frame) that move rigidly with the pose.

        The rings are drawn around the outline one sees (the far side of a turned face's oval
        lies behind its cheek), what still faces away is unfolded (mesh.unfold), and each
        head anchor is put HEAD_DEPTH behind where it is seen, along the portrait's line of
        sight: wherever the head then turns, the anchor shows the same pixels. Every frame's
        face gets the same outline and the same unfolding offsets (`_vertices`), so the
        portrait's own pose renders the portrait."""
        p, lay = self.portrait, self.layout
        face_rows, head, blend, neck, fixed, _ = lay.slices
        px = p.pose[SCALE] * self.size  # pixels per canonical unit
        self._rest = place(p.canonical, p.pose, self.size)  # (478, 3) portrait under its pose
        self._jaw_canon = p.canonical[lay.face[lay.jaw]]
        face_xy = self._outlined(self._rest[lay.face, :2])
        xy = np.concatenate([face_xy, anchor_rest(lay, face_xy), self.border])
        depth = np.full(len(xy), FAR)
        depth[face_rows] = self._rest[lay.face, 2]
        upper_z = depth[lay.upper]
        push = [upper_z + HEAD_DEPTH * (s - 1) * px for s in HEAD_RING_SCALES]
        depth[head] = np.concatenate(push)
        depth[blend] = depth[head][lay.blend_head] + BLEND_DEPTH * px
        depth[neck] = depth[lay.jaw] + NECK_DEPTH * px
        movable = np.zeros(len(xy), bool)
        movable[:fixed.start] = True  # not the fixed ring or the border: the still frame
        # Nor the lips' and eyes' contours: the mouth and eye painters draw on the landmarks,
        # and a smile's curled corner folds the frontal topology without hiding anything.
        movable[face_rows] = ~np.isin(lay.face, CONTOURS)
        self.src = unfold(xy, depth, self.tris, self.openings, movable)
        self.src_depth = depth
        self._face_offset = self.src[face_rows] - face_xy
        h = np.concatenate([self.src[head], depth[head, None]], 1)
        self._head_src = h
        self._head_canon = unplace(h, p.pose, self.size)

    def _outlined(self, face_xy: np.ndarray) -> np.ndarray:
        """Face vertices (F, 2) with the oval moved out to the outline one sees (mesh.outline)."""
        out = face_xy.copy()
        lay = self.layout
        oval = np.concatenate([lay.upper, lay.jaw])
        out[oval] = outline(face_xy, oval, self._inset)
        return out

    def _vertices(self, landmarks: np.ndarray, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(V, 2) vertex positions and (V,) depths (pixels, larger = farther) of the frame with
        face landmarks (478, 3) under `pose`. Face and head rings are where the 3D head puts
        them; blend and neck anchors take a share of the head ring's and the jaw's motion;
        fixed anchors and the border stay."""
        lay = self.layout
        face, head, blend, neck = lay.slices[:4]
        xy = self.src.copy()
        depth = self.src_depth.copy()
        xy[face] = self._outlined(landmarks[lay.face, :2]) + self._face_offset
        depth[face] = landmarks[lay.face, 2]
        to_pixels = placer(pose, self.size)
        h = to_pixels(self._head_canon)
        xy[head], depth[head] = h[:, :2], h[:, 2]
        # Shares of the outer head ring's motion along its ray and of the jaw's: displacement
        # falls off monotonically from the head to the still background and shoulders.
        ring = lay.blend_head
        xy[blend] += BLEND_FOLLOW * (h[ring, :2] - self._head_src[ring, :2])
        depth[blend] += h[ring, 2] - self._head_src[ring, 2]
        jaw = lay.face[lay.jaw]
        carried = to_pixels(self._jaw_canon)  # the portrait's own jaw, moved by the head alone
        moved = (NECK_FOLLOW * (carried - self._rest[jaw])
                 + NECK_DROP * (landmarks[jaw] - carried))  # the head's motion; speech's
        side = h[lay.neck_side] - self._head_src[lay.neck_side]
        tie = lay.neck_tie[:, None]
        moved = tie * side + (1 - tie) * moved  # the ends join the head rings
        xy[neck] += moved[:, :2]
        depth[neck] += moved[:, 2]
        return xy, depth

    def mesh_frame(self, pose: np.ndarray, dynamics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The mesh `render` warps through for pose (6,) and dynamics (D,): (V, 2) vertex
        positions and (V,) depths, against `src` and `tris` (for evaluation.folds)."""
        pose = np.asarray(pose, np.float64).reshape(-1)
        p = self.portrait
        canonical = decode_canonical(p.canonical, p.dynamics,
                                     np.asarray(dynamics, np.float64).reshape(-1), self.basis)
        return self._vertices(placer(pose, self.size)(canonical), pose)

    def warp(self, pose: np.ndarray, dynamics: np.ndarray,
             timings: dict[str, float] | None = None) -> Warped:
        """The first half of `render`: the portrait warped to pose (6,) and dynamics (D,),
        before the mouth and eyes are drawn (`finish`). It touches only the warp's own state
        (the mesh warper, the reveal), `finish` only the refiners': the two halves of
        successive frames may run on two threads at once (`render_frames`).

        timings: if given, seconds spent per stage are added to it: decode, vertices, flow,
        remap, reveal.
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
        lm = placer(pose, self.size)(canonical)
        clock("decode")
        dst, depth = self._vertices(lm, pose)
        clock("vertices")
        flow = self.warper.flow(dst, self.src, depth, detail_boxes(lm))
        clock("flow")
        carried = None
        image = self.appearance.image if self._rgba is None else self._rgba
        warped = remap(image, flow)
        if self.warper.edges is not None:  # occlusion edges (a turned cheek's outline)
            self.warper.edges.antialias(warped, image)
        if self._rgba is None:
            frame = warped
        else:
            frame = cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB)
            carried = cv2.extractChannel(warped, 3)
        clock("remap")
        if self.reveal is not None:
            self.reveal(frame, self.appearance.image, dst, self.warper)
        clock("reveal")
        # The mouth and eyes are drawn where the warp shows them: near a held edge of the
        # picture that is short of where the mesh put them.
        widths = self.warper.hold_widths
        return Warped(frame, pose, dynamics, canonical, self.warper.held(lm, self._rest, widths),
                      flow, carried, widths)

    def finish(self, w: Warped, timings: dict[str, float] | None = None) -> np.ndarray:
        """The second half of `render`: the mouth interior and the eyes drawn into `w.frame`
        (in place), which is returned. timings: as `warp`'s, stages mouth and eyes."""
        clock = StageClock(timings)
        p, frame, lm, dynamics = self.portrait, w.frame, w.landmarks, w.dynamics
        if self.refiner is not None:
            # What the refiner starts from: a smile's teeth unstretched, kept as they are drawn.
            redrawn = self.interior(frame, lm) if self.interior is not None else None
            self.refiner(frame, lm, refiner_weight(lip_gap(w.canonical), self.source_gap),
                         redrawn)
            if self.interior is not None:  # an opening the portrait had no teeth for
                self.interior.after_refiner(frame, lm, self.config.whiten)
        elif self.config.mouth:
            paint_mouth(frame, lm, w.canonical, placer(w.pose, self.size), self.appearance,
                        self.source_gap)
        clock("mouth")
        if self.config.eyes:
            now, rest = dynamics[self.basis.layout.eyes], p.dynamics[self.basis.layout.eyes]
            closure = tuple(float(np.clip(1 - now[i] / max(rest[i], MIN_OPEN), 0, 1))
                            for i in (0, 1))
            lm_open = None
            # Where the eyes are at rest: the drawn lid skin's extent (from LID_START), and
            # what the eye refiner (from EYE_START) redraws whole.
            if max(closure) > (LID_START if self.eye_refiner is None
                               else min(LID_START, EYE_START)):
                opened = np.array(dynamics)
                opened[self.basis.layout.eyes] = np.maximum(rest, now)
                lm_open = self.warper.held(
                    placer(w.pose, self.size)(decode_canonical(p.canonical, p.dynamics,
                                                               opened, self.basis)),
                    self._rest, w.hold_widths)
            paint_eyes(frame, lm, self.appearance, self._iris_idx,
                       float(w.pose[SCALE] / p.pose[SCALE]), closure, lm_open, self._light_lids)
            if self.eye_refiner is not None:  # over the drawn (lighter) lids, as in its pairs
                self.eye_refiner(frame, lm, eye_refiner_weight(closure), lm_open)
        clock("eyes")
        return frame

    def render(self, pose: np.ndarray, dynamics: np.ndarray,
               timings: dict[str, float] | None = None) -> np.ndarray:
        """One frame (S, S, 3) uint8 for pose (6,) and dynamics (D,): `warp` then `finish`;
        `flow` and `carried` keep the frame's source map and carried plane.

        timings: if given, seconds spent per stage are added to it (for benchmarks):
        decode, vertices, flow, remap, reveal, mouth, eyes (drawn and refined).
        """
        w = self.warp(pose, dynamics, timings)
        self.flow, self.carried = w.flow, w.carried
        return self.finish(w, timings)

    def render_sequence(self, motion: MotionLatents):
        """Yield one frame per motion frame."""
        for pose, dyn in zip(motion.pose, motion.dynamics):
            yield self.render(pose, dyn)


class TwoHalves(Protocol):
    """A renderer in two halves: `Renderer`, or `render.paste.PictureRenderer`."""

    def warp(self, pose: np.ndarray, dynamics: np.ndarray) -> Warped: ...

    def finish(self, w: Warped) -> np.ndarray: ...


# Frames warped ahead of the one being finished: 2 keeps the warp thread busy through the
# jitter of either half, at two frames' flow (2 MB each at 512 px) of memory.
WARP_AHEAD = 2


def render_frames(output: TwoHalves, motion: Iterable[tuple[np.ndarray, np.ndarray]]
                  ) -> Iterator[np.ndarray]:
    """`output.render(pose, dynamics)` of each (pose, dynamics) in `motion`, in order, on two
    cores: the next frame's warp (mesh, flow, remap) runs on a thread while this frame's mouth,
    eyes (the ONNX refiners) and paste run here. Both halves spend most of their time in
    OpenCV and ONNX Runtime, which release the GIL, so on 2 cores this renders 1.2-1.35x as
    many frames a second as calling `render` in turn (`benchmarks/bench_render.py`), with
    identical frames (tests/test_render.py)."""
    return pipelined(lambda m: output.warp(*m), output.finish, motion, WARP_AHEAD, "warp")


__all__ = ["RenderConfig", "Renderer", "TwoHalves", "Warped", "render_frames"]
