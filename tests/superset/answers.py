"""What the dashboards must show for the scenario (tests/scenario/), at D3.

The headline charts show 28-day windows. The whole history lies in D1..D3, so the 28-day window ending on
D3 covers all of it: counts are the sums of the scenario's daily answers, and every 7-day answer the
scenario gives for D3 is also the 28-day answer. The few figures the scenario does not list for a window
are worked out by hand below from the story in tests/scenario/, not by code.
"""

from __future__ import annotations

from tests.scenario import D1, D2, D3, EXPECTED_DAILY, EXPECTED_WINDOWS, ORG

ALL_REPOS, ALL_LANGS, ALL_TEAMS = "All repositories", "All languages", "All teams"
# Dashboard filter values that show the organisation's figures over the scenario's days.
SCENARIO_RANGE = "2024-02-08 : 2024-03-07"  # 28 days ending on D3 (the end is exclusive)
ORG_FILTERS = {"org": [ORG], "repository": [ALL_REPOS], "language": [ALL_LANGS], "team": [ALL_TEAMS]}


def _sum(repo: str | None, metric: str) -> float:
    return sum(EXPECTED_DAILY.get((day, ORG, repo, metric), 0) for day in (D1, D2, D3))


# metric → its 28-day figure at D3 for the organisation.
HEADLINE_AT_D3: dict[str, float] = {
    # counts: the sum of the daily answers
    "prs_merged": _sum(None, "prs_merged"),  # 4
    "commits": _sum(None, "commits"),  # 8
    "check_runs_completed": _sum(None, "check_runs_completed"),  # 10
    "flaky_checks": _sum(None, "flaky_checks"),  # 2
    "deployments": EXPECTED_WINDOWS[(D3, ORG, None, "deployments", 28)],
    "reviews_submitted": EXPECTED_WINDOWS[(D3, ORG, None, "reviews_submitted", 7)],
    # every merge happened on D2, so the window's median is D2's
    "pr_cycle_time_hours_p50": EXPECTED_DAILY[(D2, ORG, None, "pr_cycle_time_hours_p50")],
    "pr_pickup_time_hours_p50": EXPECTED_WINDOWS[(D3, ORG, None, "pr_pickup_time_hours_p50", 28)],
    "change_failure_rate": EXPECTED_WINDOWS[(D3, ORG, None, "change_failure_rate", 7)],
    "lead_time_hours_p50": EXPECTED_WINDOWS[(D3, ORG, None, "lead_time_hours_p50", 7)],
    "time_to_restore_hours_p50": EXPECTED_WINDOWS[(D3, ORG, None, "time_to_restore_hours_p50", 7)],
    "active_contributors": EXPECTED_WINDOWS[(D3, ORG, None, "active_contributors", 7)],
    # by hand: decisive check runs D1 3 of 4 succeeded, D2 1 of 2 (neutral left out), D3 2 of 3
    "check_success_rate": (3 + 1 + 2) / (4 + 2 + 3),
    # by hand: workflow runs D1 success, D2 success + cancelled, D3 failure
    "workflow_success_rate": 2 / 4,
    # by hand: peer reviewers alice, carol (D1), bob (D2, D3)
    "reviewers_active": 3,
    # by hand: peer reviews alice 2 (7002, 7101), bob 2 (7004, 7005), carol 1 (7003)
    "review_load_top_share": 2 / 5,
}

# (filter values, metric) → 28-day figure at D3 for one repository or one language.
GRAIN_AT_D3: list[tuple[dict[str, list[str]], str, float]] = [
    (
        {"repository": ["acme/api"]},
        "check_success_rate",
        EXPECTED_WINDOWS[(D3, ORG, "acme/api", "check_success_rate", 7)],
    ),
    (
        {"repository": ["acme/api"]},
        "review_load_top_share",
        EXPECTED_WINDOWS[(D3, ORG, "acme/api", "review_load_top_share", 28)],
    ),
    # acme/api is the only Python repository: its language's figures are its own
    (
        {"language": ["Python"]},
        "check_success_rate",
        EXPECTED_WINDOWS[(D3, ORG, "acme/api", "check_success_rate", 7)],
    ),
    ({"repository": ["acme/web"]}, "prs_merged", _sum("acme/web", "prs_merged")),
    ({"language": ["TypeScript"]}, "deployments", _sum("acme/web", "deployments")),
    ({"repository": ["acme/api"], "language": ["Python"]}, "commits", _sum("acme/api", "commits")),
]
