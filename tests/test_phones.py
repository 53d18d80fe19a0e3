"""The articulation measure: English phones without a transcript, lips closed at /p b m/."""

from __future__ import annotations

import numpy as np
from conftest import ASSETS

from vasa.evaluation.phones import Phone, bilabial_closure, phone_segments
from vasa.io import load_audio


def test_phones_of_the_bundled_address():
    """'...this week...' style broadcast English: a sensible phone rate and bilabials found."""
    audio = load_audio(ASSETS / "obama_address_8s.mp4", 16000)
    phones = phone_segments(audio)
    rate = len(phones) / (len(audio) / 16000)
    assert 5 < rate < 20  # phones per second of read speech
    assert sum(p.label in ("P", "B", "M") for p in phones) >= 3
    assert all(0 <= p.start < p.end <= len(audio) / 16000 + 0.05 for p in phones)


def test_bilabial_closure_counts_closed_lips_at_bilabials():
    opening = np.full(100, 0.08)
    phones = [Phone("M", 0.40, 0.48), Phone("AA", 0.5, 0.7), Phone("B", 2.0, 2.08)]
    assert bilabial_closure(opening, phones) == 0.0  # never closed
    opening[10:13] = 0.0  # closed during the /m/
    assert bilabial_closure(opening, phones) == 0.5
    opening[50:52] = 0.001
    assert bilabial_closure(opening, phones) == 1.0
    found = np.ones(100, bool)
    found[49:54] = False  # the tracker lost the /b/: not counted either way
    assert bilabial_closure(opening, phones, found) == 1.0
    assert bilabial_closure(opening, [Phone("AA", 0.1, 0.3)]) is None


def test_phone_ratio_reads_a_value_at_the_labelled_phones():
    """The rounding measure: the mouth's width at /u o w/ over its median, tracked frames only."""
    from vasa.evaluation.phones import ROUNDED, phone_ratio

    width = np.full(100, 0.6)
    phones = [Phone("UW", 0.40, 0.48), Phone("AA", 0.5, 0.7), Phone("W", 2.0, 2.08)]
    assert phone_ratio(width, phones, ROUNDED) == 1.0  # never narrows
    width[10:12] = width[50:52] = 0.48
    assert np.isclose(phone_ratio(width, phones, ROUNDED), 0.8)
    found = np.ones(100, bool)
    found[10:12] = found[50:52] = False  # not seen where it narrows
    assert phone_ratio(width, phones, ROUNDED, found) is None  # no tracked frame there
    assert phone_ratio(width, [Phone("AA", 0.5, 0.7)], ROUNDED) is None
