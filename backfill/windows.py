"""Created-date windows for workflow runs.

A filtered workflow-run listing returns at most 1,000 runs however many pages are asked for
(https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-repository), while its
``total_count`` says how many matched. A window whose count is over the cap is split in two halves by time
and each half asked again, down to one second. Pure functions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

RESULT_CAP = 1000
ONE_SECOND = timedelta(seconds=1)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def qualifier(low: datetime, high: datetime | None) -> str:
    """The ``created`` query value: both ends inclusive, or open-ended (stable, so its ETag can match)."""
    return f">={iso(low)}" if high is None else f"{iso(low)}..{iso(high)}"


def needs_split(total_count: int, low: datetime, high: datetime | None) -> bool:
    return total_count > RESULT_CAP and (high is None or high - low > ONE_SECOND)


def split(low: datetime, high: datetime) -> list[tuple[datetime, datetime]]:
    """Two halves covering ``[low, high]`` at second resolution, newest first (the order runs are listed)."""
    low, high = low.replace(microsecond=0), high.replace(microsecond=0)
    middle = low + (high - low) / 2
    middle = middle.replace(microsecond=0)
    return [(middle + ONE_SECOND, high), (low, middle)]
