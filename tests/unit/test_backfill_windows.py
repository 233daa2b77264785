from datetime import UTC, datetime, timedelta

import pytest

from backfill.windows import ONE_SECOND, RESULT_CAP, needs_split, qualifier, split

pytestmark = pytest.mark.unit
LOW, HIGH = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 31, 12, 0, 1, tzinfo=UTC)


def test_qualifiers_are_inclusive_ranges_or_open_ended():
    assert qualifier(LOW, HIGH) == "2024-01-01T00:00:00Z..2024-01-31T12:00:01Z"
    assert qualifier(LOW, None) == ">=2024-01-01T00:00:00Z"


def test_halves_cover_the_window_without_overlap_newest_first():
    (newer_low, newer_high), (older_low, older_high) = split(LOW, HIGH)
    assert (older_low, newer_high) == (LOW, HIGH)
    assert newer_low == older_high + ONE_SECOND and older_low < older_high < newer_low <= newer_high


def test_repeated_splitting_reaches_one_second_and_stops():
    windows = [(LOW, LOW + timedelta(seconds=5))]
    for _ in range(6):
        windows = [half for w in windows for half in (split(*w) if needs_split(RESULT_CAP + 1, *w) else [w])]
    assert all(high - low <= ONE_SECOND for low, high in windows)
    assert not needs_split(RESULT_CAP + 1, LOW, LOW + ONE_SECOND)
    assert not needs_split(RESULT_CAP, LOW, HIGH) and needs_split(RESULT_CAP + 1, LOW, None)
