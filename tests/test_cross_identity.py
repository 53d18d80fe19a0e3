"""The cross-identity protocol's arithmetic: ratios to the real video, medians over speeches then
portraits, ranges, and tables with n/a where a ratio has nothing to divide by."""

from __future__ import annotations

import pytest

from vasa.evaluation import cross_identity as ci


def measures(mean: float, std: float, corr: float | None = 0.4, blinks: float | None = 15.0
             ) -> dict:
    return {"opening_mean": mean, "opening_std": std, "envelope_corr": corr,
            "envelope_lag": 1, "crossed_share": 0.0, "opening_silence": 0.01,
            "opening_speech": mean, "blinks_per_min": blinks, "blink_ms": 150.0,
            "delta_p": 0.4, "s_c": 1.0, "frames": 150, "lost": 0}


def test_relative_divides_by_the_real_speaker_where_it_can():
    real = measures(0.08, 0.04)
    r = ci.relative(measures(0.04, 0.04, corr=0.2), real)
    assert r["open_mean_x"] == pytest.approx(0.5) and r["open_std_x"] == pytest.approx(1.0)
    assert r["corr_x"] == pytest.approx(0.5) and r["corr"] == 0.2 and r["lag"] == 1
    weak = ci.relative(measures(0.04, 0.04), measures(0.08, 0.04, corr=0.05))
    assert weak["corr_x"] is None  # the real mouth barely follows its voice: no ratio
    assert ci.relative(measures(0.04, 0.04, corr=None), real)["corr_x"] is None


def test_medians_over_speeches_then_portraits_with_the_range():
    real = measures(0.08, 0.04)
    per = {
        "closed": ci.per_portrait({"a": ci.relative(measures(0.02, 0.01, blinks=0.0), real),
                                   "b": ci.relative(measures(0.04, 0.01, blinks=0.0), real),
                                   "c": {"error": "no face"}}),
        "open": ci.per_portrait({"a": ci.relative(measures(0.24, 0.04), real)}),
        "median": ci.per_portrait({"a": ci.relative(measures(0.08, 0.04), real)}),
    }
    assert per["closed"]["open_mean_x"] == pytest.approx(0.375)
    assert per["closed"]["failed"] == 1 and per["closed"]["speeches"] == 2
    s = ci.summarise(per)
    assert s["open_mean_x"] == pytest.approx(1.0)
    assert s["open_mean_x_range"] == pytest.approx([0.375, 3.0])
    assert s["within_half_to_2x"] == 1  # only the median mouth has both ratios in 0.5-2x
    assert s["blinks_min"] == 0.0 and s["pairs"] == 4 and s["failed"] == 1
    table = "\n".join(ci.method_table({"m": s}))
    assert "1.00 [0.38, 3.00]" in table and "1/3" in table
    rows = "\n".join(ci.portrait_table({"m": per}, {k: "closed" for k in per}))
    assert rows.count("| m |") == 3
    real_rows = "\n".join(ci.real_table([("a", "A", "French", 6.0)], {"a": real}))
    assert "| a | A | French | 6.0 | 0.080 | 0.040 |" in real_rows
    # The open mouth's inside, where it was read (here on no video: n/a), medians like the rest.
    assert "| n/a / n/a |" in table
    dark = ci.relative(measures(0.08, 0.04) | {"inside_wide": 0.4, "inside_middling": 1.1}, real)
    assert (dark["inside_wide"], dark["inside_mid"]) == (0.4, 1.1)
    row = ci.method_table({"m": ci.summarise({"p": ci.per_portrait({"a": dark})})})[-1]
    assert row.endswith("| 0.40 / 1.10 |")
