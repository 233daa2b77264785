"""The end days whose windows a set of changed days is part of: each day and the 27 after it, merged into
ranges per scope so the rebuild's delete and insert read them once."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from stream_processors.windows import end_day_ranges, rebuild_plan

pytestmark = pytest.mark.unit
D = date(2024, 3, 1)


def days(*offsets: int) -> list[date]:
    return [D + timedelta(days=o) for o in offsets]


def test_a_day_reaches_27_days_ahead():
    assert end_day_ranges(days(0)) == [(D, D + timedelta(days=27))]


def test_overlapping_and_adjacent_days_merge_and_distant_ones_do_not():
    assert end_day_ranges(days(5, 0, 27, 28)) == [(D, D + timedelta(days=55))]
    assert end_day_ranges(days(0, 29)) == [(D, D + timedelta(days=27)),
                                           (D + timedelta(days=29), D + timedelta(days=56))]


def test_ranges_are_clipped_to_the_span_being_built():
    lo, hi = D + timedelta(days=10), D + timedelta(days=20)
    assert end_day_ranges(days(0, 15), lo, hi) == [(lo, hi)]
    assert end_day_ranges(days(-30), lo, hi) == []


def test_a_plan_keeps_every_key_and_one_set_of_ranges_per_scope():
    keys = [("repository", "o", "1", D), ("repository", "o", "1", D + timedelta(days=3)),
            ("organisation", "o", "", D)]
    plan = rebuild_plan(keys)
    assert plan.key_params["days"] == [D, D + timedelta(days=3), D]
    assert list(zip(plan.range_params["r_grains"], plan.range_params["r_firsts"], plan.range_params["r_lasts"],
                    strict=True)) == [("organisation", D, D + timedelta(days=27)),
                                      ("repository", D, D + timedelta(days=30))]
