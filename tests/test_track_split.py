"""Split tracking (`track_video(split=True)`): two trackers at once give, frame for frame, what
one tracker going through the whole video gives, whether the second takes over or not."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ASSETS

import vasa.tracking.video as tv
from vasa.io import read_frames

CLIP = ASSETS / "obama_address_8s.mp4"  # 200 frames: long enough to be split


@pytest.fixture(scope="module")
def one_tracker():
    return tv.track_video(CLIP, fps=25.0, split=False)


def _same(a: tv.TrackedVideo, b: tv.TrackedVideo) -> bool:
    return (np.array_equal(a.motion.pose, b.motion.pose)
            and np.array_equal(a.motion.dynamics, b.motion.dynamics)
            and np.array_equal(a.found, b.found) and a.frame_size == b.frame_size)


def test_two_trackers_give_what_one_gives(one_tracker, monkeypatch):
    handed = []
    init = tv._Handover.__call__

    def spy(self, i):
        stop = init(self, i)
        if stop:
            handed.append(i)
        return stop

    monkeypatch.setattr(tv._Handover, "__call__", spy)
    assert _same(tv.track_video(CLIP, fps=25.0), one_tracker)
    assert handed and handed[0] < 150  # the second tracker did take over


def test_where_the_second_never_agrees_the_first_goes_on_alone(one_tracker, monkeypatch):
    monkeypatch.setattr(tv, "HANDOVER_FRAMES", 10**6)
    assert _same(tv.track_video(CLIP, fps=25.0), one_tracker)


def test_read_frames_from_a_start_frame():
    full = list(read_frames(CLIP, fps=25.0))
    tail = list(read_frames(CLIP, fps=25.0, start=190))
    assert len(tail) == 10 and all(np.array_equal(a, b) for a, b in zip(full[190:], tail))
    with pytest.raises(ValueError, match="start needs fps"):
        read_frames(CLIP, start=5)


def test_a_tracker_without_blendshapes_finds_the_same_landmarks(astronaut):
    """Motion and probes read landmarks only, so they skip the blendshape model: the
    landmarks are the same to the bit, in video mode and on a still."""
    from vasa.tracking import FaceLandmarker

    frames = [f for _, f in zip(range(30), read_frames(CLIP, fps=25.0))] + [astronaut.image]
    found = {}
    for blendshapes in (True, False):
        with (FaceLandmarker(max_faces=2, video=True, blendshapes=blendshapes) as video,
              FaceLandmarker(blendshapes=blendshapes) as still):
            faces = [video.track(f, i / 25.0) for i, f in enumerate(frames[:-1])]
            faces.append(still.detect(frames[-1]))
        assert all(len(f) == 1 for f in faces)
        assert all(len(f[0].blendshapes) == (52 if blendshapes else 0) for f in faces)
        found[blendshapes] = np.stack([f[0].landmarks for f in faces])
    assert np.array_equal(found[True], found[False])
