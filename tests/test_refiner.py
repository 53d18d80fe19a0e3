"""The learned mouth refiner: crop geometry, pairs, training, export and the render-time runtime."""

from __future__ import annotations

import itertools
import json

import cv2
import numpy as np
import pytest
from conftest import ASSETS

from vasa.render import mouth_crop as mc


def test_mouth_crop_is_upright_centred_and_scaled(astronaut):
    lm = astronaut.landmarks
    a = mc.mouth_affine(lm)
    eyes = lm[list(mc.EYE_CORNERS), :2] @ a[:, :2].T + a[:, 2]
    assert abs(eyes[0, 1] - eyes[1, 1]) < 1e-6  # the eye line is horizontal in the crop
    assert np.linalg.norm(eyes[1] - eyes[0]) == pytest.approx(mc.CROP / mc.MOUTH_IOD)
    lips = mc.lip_points(lm, a)
    assert np.all((lips > 0) & (lips < mc.CROP))  # the whole mouth is inside
    outer, inner = mc.lip_masks(lips)
    assert outer.sum() > inner.sum() >= 0 and outer.max() == 1.0


def test_paste_back_of_the_frames_own_crop_changes_nothing_outside_the_mask(astronaut):
    frame = astronaut.image.copy()
    a = mc.mouth_affine(astronaut.landmarks)
    lips = mc.lip_points(astronaut.landmarks, a)
    mask = mc.paste_mask(lips)
    mc.paste(frame, np.full((mc.CROP, mc.CROP, 3), 255.0, np.float32), a, mask)
    changed = np.any(frame != astronaut.image, -1)
    ys, xs = np.nonzero(changed)
    centre = astronaut.landmarks[list(mc.MOUTH_CENTRE), :2].mean(0)
    iod = np.linalg.norm(np.subtract(*astronaut.landmarks[list(mc.EYE_CORNERS), :2]))
    assert changed.any()
    assert np.abs(xs - centre[0]).max() < 0.6 * mc.MOUTH_IOD * iod  # only around the mouth
    assert np.abs(ys - centre[1]).max() < 0.6 * mc.MOUTH_IOD * iod


def test_a_pasted_change_keeps_the_frames_detail_outside_the_mouth_opening(astronaut):
    """A refinement that changes nothing leaves a frame finer than the crop as it was on the
    lips and skin (keep = 1); inside the opening the crop is taken whole, so there the frame
    takes the crop's coarser picture, as a plain paste does everywhere."""
    frame = np.ascontiguousarray(np.repeat(np.repeat(astronaut.image, 2, 0), 2, 1))
    lm = astronaut.landmarks.copy()
    lm[:, :2] *= 2  # the face twice as large: the crop samples the frame down
    a = mc.mouth_affine(lm)
    lips = mc.lip_points(lm, a)
    same = mc.crop(frame, a).astype(np.float32)
    mask, keep = mc.paste_mask(lips), mc.detail_mask(lips)
    assert keep.min() == 0.0 and keep.max() == 1.0
    plain, kept = frame.copy(), frame.copy()
    mc.paste(plain, same, a, mask)
    mc.paste(kept, same, a, mask, start=same, keep=keep)
    band = ((mask > 0.99) & (keep > 0.99)).astype(np.uint8)  # lips and skin, pasted whole
    band = cv2.warpAffine(band, cv2.invertAffineTransform(a), frame.shape[1::-1],
                          flags=cv2.INTER_NEAREST).astype(bool)
    assert band.sum() > 1000
    assert np.abs(kept.astype(int) - frame)[band].max() <= 1  # rounding only
    assert np.abs(plain.astype(int) - frame)[band].mean() > 1  # sampled down and up


def test_a_pasted_blur_leaves_the_lips_and_skin_their_detail(astronaut):
    """A refinement that only blurs (what an L1 regressor learns on pairs that never align to
    the pixel) is pasted on the lips and skin as a low-passed change: the frame keeps most of
    its fine detail there, where the blurred crop itself has little."""
    frame = astronaut.image.copy()
    a = mc.mouth_affine(astronaut.landmarks)
    lips = mc.lip_points(astronaut.landmarks, a)
    start = mc.crop(frame, a).astype(np.float32)
    blurred = cv2.GaussianBlur(start, (0, 0), 2.0)
    mask, keep = mc.paste_mask(lips), mc.detail_mask(lips)
    mc.paste(frame, blurred, a, mask, start=start, keep=keep)
    band = ((mask > 0.9) & (keep > 0.9)).astype(np.uint8)
    def detail(img: np.ndarray) -> float:  # mean squared Laplacian over the band
        lap = cv2.Laplacian(cv2.cvtColor(np.asarray(img, np.float32), cv2.COLOR_RGB2GRAY),
                            cv2.CV_32F)
        return float((lap ** 2)[band > 0].mean())
    assert band.sum() > 300
    assert detail(blurred) < 0.3 * detail(start)
    # Cropped again (resampled once more); the whole change pasted kept 0.16 of it.
    assert detail(mc.crop(frame, a)) > 0.5 * detail(start)


def test_the_warp_keeps_the_portraits_own_teeth_where_it_carries_them():
    """`carried`: a target opening no larger than the portrait's is the portrait's own mouth
    moved (its teeth: the refiner blurred them); one twice its area or more is stretched lips,
    the refiner's to draw; two shut mouths count as carried. detail_mask keeps the frame's
    detail over that share of the opening."""
    assert mc.carried(300.0, 300.0) == 1.0
    assert mc.carried(150.0, 300.0) == 1.0
    assert mc.carried(2 * 300.0 + mc.OPENING_SLACK, 300.0) == 0.0
    assert 0.0 < mc.carried(450.0, 300.0) < 1.0
    assert mc.carried(300.0, 1.0) == 0.0  # a closed portrait opened
    assert mc.carried(0.0, 0.0) == 1.0
    corners = np.array([[40.0, 50.0], [80.0, 50.0], [80.0, 60.0], [40.0, 60.0], [40.0, 50.0]])
    t = np.arange(5) / 5  # 5 points along each side of a 40 x 10 box
    lips = np.zeros((40, 2))
    lips[mc.NUM_OUTER:] = np.concatenate([a + t[:, None] * (b - a)
                                          for a, b in itertools.pairwise(corners)])
    assert mc.opening_area(lips) == pytest.approx(400.0)
    assert mc.detail_mask(lips, 1.0).min() == 1.0
    assert mc.detail_mask(lips, 0.0).min() == 0.0


def test_jpeg_store_round_trip():
    from vasa.refine.store import pack_jpeg, unpack_jpeg

    rng = np.random.default_rng(0)
    ims = [np.full((16, 16, 3), c, np.uint8) for c in (10, 128, 250)]
    ims.append(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    data, offsets = pack_jpeg(ims)
    back = unpack_jpeg(data, offsets)
    assert back.shape == (4, 16, 16, 3)
    assert np.abs(back[:3].astype(int) - np.stack(ims[:3])).max() <= 2


def test_a_subset_of_a_jpeg_store_is_sliced_not_re_encoded():
    from vasa.refine.store import pack_jpeg, take_jpeg, unpack_jpeg

    rng = np.random.default_rng(0)
    data, offsets = pack_jpeg([rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
                               for _ in range(4)])
    part, part_offsets = take_jpeg(data, offsets, np.array([3, 1]))
    assert len(part_offsets) == 3 and part_offsets[-1] == len(part)
    np.testing.assert_array_equal(unpack_jpeg(part, part_offsets),
                                  unpack_jpeg(data, offsets)[[3, 1]])


def test_an_untrained_refiner_is_the_identity():
    import torch

    from vasa.refine.net import Refiner

    x = torch.rand(2, mc.IN_CHANNELS, mc.CROP, mc.CROP)
    assert torch.equal(Refiner()(x), x[:, :3])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Pairs of the bundled clip (two portraits, four targets each), trained for a few steps on
    CPU and exported: the whole `vasa refiner-pairs` + `vasa train refiner` path, small."""
    from vasa.data.manifest import ManifestItem
    from vasa.refine.config import PairsConfig, RefinerConfig, TrainRefinerConfig
    from vasa.refine.pairs import build_pairs
    from vasa.refine.train import train_refiner

    root = tmp_path_factory.mktemp("refiner")
    clip = ASSETS / "obama_address_8s.mp4"
    item = ManifestItem(video=clip, audio=clip, kind="clips", speaker="Obama", fps=25.0)
    entries = build_pairs([item], root / "pairs",
                          PairsConfig(size=256, max_frames=24, sources=2, targets=4),
                          progress=False)
    assert [e.samples for e in entries] == [8]
    index = json.loads((root / "pairs" / "index.json").read_text())
    index["clips"].append(dict(index["clips"][0], split="val" if entries[0].split == "train"
                               else "train"))  # one clip on both sides, for a test only
    (root / "pairs" / "index.json").write_text(json.dumps(index))
    cfg = TrainRefinerConfig(steps=4, batch=4, eval_every=2, save_every=2, device="cpu",
                             model=RefinerConfig(widths=(8, 8, 8, 8)))
    metrics = train_refiner(root / "pairs", root / "run", cfg, progress=None)
    return root / "run", metrics


def test_training_writes_a_checkpoint_graphs_and_scores(tiny_run):
    run, metrics = tiny_run
    assert metrics["steps"] == 4 and len(metrics["history"]) == 2
    final = metrics["final"]
    assert 5 < final["psnr_warp"] < 60 and np.isfinite(final["psnr_refined"])
    # the upper teeth's band, read where the real mouth opens enough (nan: no such pair)
    assert {"upper_refined", "upper_real", "bared_refined", "bared_real"} <= set(final)
    for name in ("refiner.pt", "refiner.onnx", "refiner.int8.onnx", "metrics.json", "last.pt"):
        assert (run / name).stat().st_size > 0


def test_training_resumes_where_it_stopped(tiny_run, tmp_path):
    import shutil

    from vasa.refine.config import RefinerConfig, TrainRefinerConfig
    from vasa.refine.train import train_refiner

    run, _ = tiny_run
    pairs = run.parent / "pairs"
    shutil.copy(run / "last.pt", tmp_path / "last.pt")
    cfg = TrainRefinerConfig(steps=6, batch=4, eval_every=2, save_every=2, device="cpu",
                             model=RefinerConfig(widths=(8, 8, 8, 8)))
    lines = []
    metrics = train_refiner(pairs, tmp_path, cfg, progress=lines.append)
    assert any("resumed" in s and "step 4" in s for s in lines)
    assert [h["step"] for h in metrics["history"]] == [2, 4, 6]


def test_an_exported_refiner_is_read_back_and_fine_tuned_with_a_critic(tiny_run, tmp_path):
    """The bundled refiners ship as INT8 graphs only: `--init` reads the network back from one
    (it reproduces the graph's output within its INT8 rounding) and `--adversarial` fine-tunes
    it with a PatchGAN critic, resumably, exporting a step that keeps the start's scores."""
    import onnxruntime as ort
    import torch

    from vasa.refine.config import TrainRefinerConfig
    from vasa.refine.export import load_refiner
    from vasa.refine.train import train_refiner

    run, _ = tiny_run
    graph = run / "refiner.int8.onnx"
    model = load_refiner(graph)
    assert model.config.widths == (8, 8, 8, 8)
    x = torch.rand(1, 8, 128, 128, generator=torch.Generator().manual_seed(0))
    want = ort.InferenceSession(str(graph)).run(None, {"x": x.numpy()})[0]
    # Within the graph's INT8 activation rounding: a few quantisation steps at a few pixels
    # (here mean 0.002, max 0.033 against outputs of mean size 0.5); a misread network is off
    # by the output's own size.
    err = np.abs(model(x).detach().numpy() - want)
    assert err.mean() < 0.005 and err.max() < 0.1
    cfg = TrainRefinerConfig(steps=4, batch=4, eval_every=2, save_every=2, device="cpu",
                             adversarial=0.05, init=str(graph))
    lines = []
    metrics = train_refiner(run.parent / "pairs", tmp_path, cfg, progress=lines.append)
    assert any("starting from" in s for s in lines)
    assert [h["step"] for h in metrics["history"]] == [2, 4]
    # it exports the sharpest step that keeps the starting refiner's scores, or the start
    start, final = metrics["start"], metrics["final"]
    assert final["step"] == metrics["exported_step"] in (0, 2, 4)
    assert final["ssim_refined"] >= start["ssim_refined"]
    assert final["psnr_refined"] >= start["psnr_refined"]
    state = torch.load(tmp_path / "last.pt", weights_only=False)
    assert "critic" in state and state["step"] == 4
    assert load_refiner(tmp_path / "refiner.pt").config.widths == (8, 8, 8, 8)


def test_the_texture_term_asks_for_tooth_edges_near_the_real_ones_not_at_them():
    """Real teeth are vertical edges a few pixels apart: an output with the same edges two
    pixels off is as good to the texture term as the truth, and much better than a flat band
    (which L1 prefers to the misplaced edges)."""
    import torch

    from vasa.refine.train import texture_loss

    x = torch.arange(128.0)
    teeth = (0.7 + 0.2 * ((x // 4) % 2)).expand(1, 3, 128, 128)  # a tooth edge every 4 px
    shifted = teeth.roll(2, -1)
    flat = torch.full_like(teeth, 0.8)
    opening = torch.zeros(1, 1, 128, 128)
    opening[..., 40:80, 24:104] = 1
    assert texture_loss(teeth, teeth, opening) == 0
    assert texture_loss(shifted, teeth, opening) < 0.005
    # the flat band misses all of it: a 0.2 step every 4 px, 0.05 per pixel
    assert texture_loss(flat, teeth, opening) > 0.045
    # where L1 over the opening says the reverse
    l1 = {n: float(((y - teeth).abs() * opening).sum()) for n, y in
          (("shifted", shifted), ("flat", flat))}
    assert l1["flat"] < l1["shifted"]
    # a hatching of 2 px period (what a pixel-shuffle network draws most cheaply) is no detail
    hatch = 0.8 + 0.1 * (-1.0) ** x.expand(1, 3, 128, 128)
    assert torch.isclose(texture_loss(hatch, teeth, opening), texture_loss(flat, teeth, opening))
    # the term reads only the opening
    outside = flat.clone()
    outside[..., :30, :] = teeth[..., :30, :]
    assert torch.isclose(texture_loss(outside, teeth, opening), texture_loss(flat, teeth, opening))


def test_a_texture_run_reads_the_held_out_texture_and_exports_within_its_slack(tiny_run,
                                                                                tmp_path):
    from vasa.refine.config import TrainRefinerConfig
    from vasa.refine.train import TEXTURE_SLACK, train_refiner

    run, _ = tiny_run
    cfg = TrainRefinerConfig(steps=4, batch=4, eval_every=2, save_every=2, device="cpu",
                             texture=1.0, init=str(run / "refiner.pt"))
    metrics = train_refiner(run.parent / "pairs", tmp_path, cfg, progress=None)
    start, final = metrics["start"], metrics["final"]
    assert all(0 < h["texture_warp"] and 0 < h["texture_refined"] for h in metrics["history"])
    assert final["step"] == metrics["exported_step"] in (0, 2, 4)
    assert final["psnr_refined"] >= start["psnr_refined"] - TEXTURE_SLACK[0]
    assert final["ssim_refined"] >= start["ssim_refined"] - TEXTURE_SLACK[1]


def test_the_runtime_refines_only_the_mouth_and_matches_torch(tiny_run, astronaut):
    import torch

    from vasa.refine.export import load_refiner
    from vasa.render.refiner import MouthRefiner

    run, _ = tiny_run
    refiner = MouthRefiner(astronaut.image, astronaut.landmarks, run / "refiner.onnx")
    frame = astronaut.image.copy()
    a = mc.mouth_affine(astronaut.landmarks)
    lips = mc.lip_points(astronaut.landmarks, a)
    warped = mc.crop(frame, a)
    got = refiner.refine_crop(warped, lips)
    x = np.concatenate([warped.transpose(2, 0, 1) / 255.0, refiner.reference,
                        mc.lip_masks(lips)])[None].astype(np.float32)
    want = load_refiner(run / "refiner.pt")(torch.from_numpy(x))[0].detach().numpy()
    assert np.abs(got - want.transpose(1, 2, 0) * 255).max() < 0.5
    refiner(frame, astronaut.landmarks, 1.0)
    assert frame.shape == astronaut.image.shape
    far = np.ones(frame.shape[:2], bool)
    far[int(astronaut.landmarks[:, 1].min()):, :] = False  # rows from the face's top down
    assert np.array_equal(frame[far], astronaut.image[far])


def test_a_missing_refiner_model_is_named(astronaut, tmp_path):
    from vasa.render.refiner import MouthRefiner

    with pytest.raises(FileNotFoundError, match="nope.onnx: refiner model not found"):
        MouthRefiner(astronaut.image, astronaut.landmarks, tmp_path / "nope.onnx")


def test_a_corrupt_refiner_model_is_named(astronaut, tmp_path):
    from vasa.render.refiner import MouthRefiner

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph")
    with pytest.raises(ValueError, match="bad.onnx: not a readable refiner model"):
        MouthRefiner(astronaut.image, astronaut.landmarks, bad)


def test_a_black_and_white_portrait_keeps_a_grey_mouth(astronaut):
    from vasa.render.refiner import MouthRefiner

    grey = astronaut.image.mean(-1, keepdims=True).repeat(3, -1).astype(np.uint8)
    refiner = MouthRefiner(grey, astronaut.landmarks)
    assert refiner.grey and not MouthRefiner(astronaut.image, astronaut.landmarks).grey
    frame = grey.copy()
    refiner(frame, astronaut.landmarks, 1.0)
    assert np.abs(frame.astype(int) - frame[..., :1]).max() <= 1


def test_the_renderer_ablation_scores_each_variant_on_the_same_motion():
    from vasa.evaluation.ablation import ablate_clip
    from vasa.motion.lids import PROBES, LidResponse
    from vasa.render import RenderConfig

    painted = RenderConfig(refiner=False)
    variants = {"warp only": RenderConfig(mouth=False), "painted": painted,
                "as read": painted, "shut-reading": painted}
    # Rows whose lid ratios are asked through a response: the neutral one changes nothing; one
    # whose renders read half as open as asked opens the eyes further.
    lids = {"as read": lambda p, r, b: LidResponse(),
            "shut-reading": lambda p, r, b: LidResponse(PROBES, tuple(0.5 * x for x in PROBES))}
    scores, kept = ablate_clip(ASSETS / "obama_address_8s.mp4", variants, max_frames=6,
                               size=256, keep=(3,), lids=lids)
    assert set(scores) == set(variants) and set(kept[3]) == {"truth", *variants}
    for s in scores.values():
        assert 10 < s["psnr_mouth"] < 60 and 0 < s["ssim_mouth"] <= 1 and s["flicker"] >= 0
    assert np.array_equal(kept[3]["as read"], kept[3]["painted"])
    assert not np.array_equal(kept[3]["shut-reading"], kept[3]["painted"])


def test_the_ablation_reads_how_light_the_open_mouth_is_against_the_truth():
    """At the frames the real mouth is open (0.08 eye distances or more) the inside's core is
    read against the lips on the real frame's landmarks: the painted teeth read far lighter
    than the real mouth and than the warp's stretched inside, on the same frames, and far
    greyer (their colour against the lips'). Where the real upper teeth show, their texture is
    read too."""
    from vasa.evaluation.ablation import ablate_clip
    from vasa.render import RenderConfig

    variants = {"warp only": RenderConfig(mouth=False), "painted": RenderConfig(refiner=False)}
    scores, _ = ablate_clip(ASSETS / "obama_address_8s.mp4", variants, max_frames=25, size=256)
    warp, painted = scores["warp only"], scores["painted"]
    assert warp["inside_frames"] == painted["inside_frames"] > 5
    assert warp["inside_truth"] == painted["inside_truth"] > 0.5
    assert painted["inside"] > 1.5 * warp["inside"]
    assert painted["inside"] > 1.5 * painted["inside_truth"]
    assert painted["inside_error"] > warp["inside_error"] > 0
    assert warp["colour_frames"] == painted["colour_frames"] == warp["inside_frames"]
    assert painted["colour"] < 0.6 * warp["colour"]
    assert painted["colour_error"] > warp["colour_error"] > 0
    # The teeth's texture is read on the same frames (the real band's), for every renderer.
    assert warp["teeth_frames"] == painted["teeth_frames"] > 5
    assert warp["teeth_truth"] == painted["teeth_truth"] > 0 and painted["teeth"] > 0


def test_the_ablation_scores_a_clip_as_black_and_white_when_asked():
    """grey=True: the truth and every render are grey (the portrait is made grey, so the
    refined mouth is too), and the inside's colour is not read."""
    from vasa.evaluation.ablation import ablate_clip
    from vasa.render import RenderConfig

    scores, kept = ablate_clip(ASSETS / "obama_address_8s.mp4", {"refiner": RenderConfig()},
                               max_frames=12, size=256, keep=(6,), grey=True)
    for frame in kept[6].values():
        assert np.ptp(frame.astype(np.int16), axis=2).max() == 0
    assert scores["refiner"]["colour_frames"] == 0 and scores["refiner"]["inside_frames"] > 0


def test_the_ablation_means_each_speaker_once():
    """Five clips of one speaker and one of another: over speakers each counts once, and a
    clip without blink frames (nan) is left out of its speaker's mean."""
    from vasa.evaluation.ablation import speaker_means

    per_clip = {f"obama{i}": {"refiner": {"psnr_blink": 20.0}} for i in range(5)}
    per_clip["d14"] = {"refiner": {"psnr_blink": 26.0}}
    per_clip["w2l"] = {"refiner": {"psnr_blink": float("nan")}}
    speakers = {c: ("Obama" if c.startswith("obama") else c) for c in per_clip}
    assert speaker_means(per_clip, speakers)["refiner"]["psnr_blink"] == pytest.approx(23.0)
    assert np.nanmean([c["refiner"]["psnr_blink"] for c in per_clip.values()]) == pytest.approx(21.0)


def test_training_runs_where_the_video_and_tracking_stack_is_missing(tiny_run, tmp_path):
    """A GPU machine may hold torch, NumPy, OpenCV and ONNX only: `vasa train refiner` (the
    parser, the trainer, `--init` from a checkpoint, the export) must not import PyAV,
    soundfile or MediaPipe."""
    import subprocess
    import sys

    run, _ = tiny_run
    code = ("import sys\n"
            "for m in ('av', 'soundfile', 'mediapipe'):\n"
            "    sys.modules[m] = None  # importing it raises ImportError\n"
            "from vasa.cli import main\n"
            "raise SystemExit(main())\n")  # main() returns the exit status
    done = subprocess.run(
        [sys.executable, "-c", code, "train", "refiner", "--data", str(run.parent / "pairs"),
         "--out", str(tmp_path / "run"), "--init", str(run / "refiner.pt"), "--steps", "2",
         "--eval-every", "1", "--batch", "2", "--device", "cpu", "-q"],
        check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "run" / "refiner.int8.onnx").stat().st_size > 0
    history = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]
    assert [h["step"] for h in history] == [1, 2]  # --eval-every


def test_pairs_whose_real_mouth_bares_the_upper_teeth_are_found_and_favoured(shared_data, basis):
    """The "sad" portrait's lips parted 0.25 eye distances past its talking rest, as a pair's
    real frame: with the upper third of the opening white over a dark cavity it bares the
    upper teeth (BARED); dark throughout, or shut, it does not. `draw_rows` takes its share
    of a batch from those pairs and, with no share, draws as it did before there was one."""
    import torch

    from vasa.evaluation.interior import upper_band
    from vasa.latent.face_model import move_lip_gap
    from vasa.portrait import load_portrait
    from vasa.refine.train import BARED, PairSet, bared_teeth, draw_rows
    from vasa.render import RenderConfig, Renderer
    from vasa.render.interior import lip_lines

    p = load_portrait(shared_data / "portraits" / "AniTalker__test_demos__portraits__sad.jpg",
                      512, None, basis, framed=False)
    renderer = Renderer(p, basis, RenderConfig(mouth=False))
    crops, lips = [], []
    for gap in (0.25, 0.25, -0.1):  # the talking rest is parted; 0.1 less shuts the lips
        w = renderer.warp(p.pose, move_lip_gap(p.talking_rest(basis), gap, basis))
        a = mc.mouth_affine(w.landmarks)
        crop, points = mc.crop(w.frame, a), mc.lip_points(w.landmarks, a)
        upper, lower = lip_lines(points)
        xs = np.arange(mc.CROP)
        top = np.interp(xs, upper[:, 0], upper[:, 1])[None]
        bottom = np.interp(xs, lower[:, 0], lower[:, 1])[None]
        ys = np.arange(mc.CROP)[:, None]
        inside = (ys > top) & (ys < bottom)
        crop[inside] = 25  # a dark cavity
        if len(crops) == 0:  # teeth in the upper third
            crop[inside & (ys < top + (bottom - top) / 3)] = 245
        crops.append(crop)
        lips.append(points)
    band = upper_band(np.stack(crops), np.stack(lips))
    assert band[0] >= BARED > band[1] and np.isnan(band[2])
    target = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
    empty = torch.zeros(0)
    data = PairSet(target, target, target, torch.arange(3), empty, empty,
                   torch.from_numpy(np.stack(lips).astype(np.float32)))
    favoured = bared_teeth(data).nonzero()[:, 0]
    assert favoured.tolist() == [0]
    rows = draw_rows(1000, 16, favoured, 0.25, torch.Generator().manual_seed(0))
    assert len(rows) == 16 and (rows[-4:] == 0).all()
    plain = torch.randint(0, 1000, (16,), generator=torch.Generator().manual_seed(0))
    for none in (None, favoured[:0]):
        assert torch.equal(draw_rows(1000, 16, none, 0.25, torch.Generator().manual_seed(0)),
                           plain)
    assert torch.equal(draw_rows(1000, 16, favoured, 0.0, torch.Generator().manual_seed(0)),
                       plain)
