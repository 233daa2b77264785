"""GraphQL nodes become the REST shapes the envelopes carry (pure conversions)."""

from datetime import UTC, datetime

import pytest

from backfill import graphql_queries as gq
from backfill.envelopes import envelope
from pillarstream.normalise import normalise
from stream_processors.warehouse import default_config

pytestmark = pytest.mark.unit


def test_a_bot_gets_its_rest_login_back_and_people_stay_people():
    assert gq.user({"__typename": "Bot", "login": "dependabot", "databaseId": 49699333}) == {
        "login": "dependabot[bot]", "id": 49699333, "type": "Bot", "html_url": None}
    assert gq.user({"__typename": "User", "login": "alice", "databaseId": 1})["type"] == "User"
    assert gq.user(None) is None


def test_pull_request_fields_the_warehouse_reads():
    node = {"databaseId": 7, "number": 3, "title": "T", "url": "https://github.com/a/b/pull/3", "state": "MERGED",
            "isDraft": False, "merged": True, "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-02T00:00:00Z",
            "closedAt": "2024-01-02T00:00:00Z", "mergedAt": "2024-01-02T00:00:00Z",
            "author": {"__typename": "User", "login": "alice", "databaseId": 1},
            "mergedBy": {"__typename": "User", "login": "bob", "databaseId": 2},
            "baseRefName": "main", "headRefName": "feature", "headRefOid": "h" * 40,
            "mergeCommit": {"oid": "m" * 40}, "potentialMergeCommit": None,
            "additions": 10, "deletions": 2, "changedFiles": 3, "commits": {"totalCount": 4, "nodes": []}}
    pr = gq.pull_request(node)
    assert (pr["id"], pr["state"], pr["merged"], pr["merge_commit_sha"], pr["commits"], pr["changed_files"]) == (
        7, "closed", True, "m" * 40, 4, 3)
    assert pr["head"] == {"ref": "feature", "sha": "h" * 40} and pr["merged_by"]["login"] == "bob"
    opened = gq.pull_request({**node, "state": "OPEN", "merged": False, "mergeCommit": None,
                              "potentialMergeCommit": {"oid": "p" * 40}})
    assert opened["state"] == "open" and opened["merge_commit_sha"] == "p" * 40  # REST's test merge commit


def test_check_runs_of_a_commit_and_overflow():
    suite = {"databaseId": 11, "app": {"slug": "github-actions", "name": "GitHub Actions", "databaseId": 15368},
             "checkRuns": {"pageInfo": {"hasNextPage": False},
                           "nodes": [{"databaseId": 5, "name": "test", "status": "COMPLETED",
                                      "conclusion": "TIMED_OUT", "startedAt": "s", "completedAt": "c",
                                      "url": "u"}]}}
    commit = {"oid": "a" * 40, "checkSuites": {"pageInfo": {"hasNextPage": False}, "nodes": [suite]}}
    runs, overflow = gq.check_runs(commit)
    assert not overflow and runs == [{"id": 5, "name": "test", "head_sha": "a" * 40, "status": "completed",
                                      "conclusion": "timed_out", "started_at": "s", "completed_at": "c",
                                      "html_url": "u", "check_suite": {"id": 11},
                                      "app": {"slug": "github-actions", "name": "GitHub Actions", "id": 15368}}]
    suite["checkRuns"]["pageInfo"]["hasNextPage"] = True
    assert gq.check_runs(commit)[1] is True  # more than a page of runs: REST is asked for this commit


def test_timeline_events_become_issue_events():
    event = gq.issue_event({"__typename": "ReadyForReviewEvent", "createdAt": "t",
                            "actor": {"__typename": "User", "login": "a"}}, 9)
    assert event is not None and (event["event"], event["issue"]["number"]) == ("ready_for_review", 9)
    assert gq.issue_event({"__typename": "PullRequestReview"}, 9) is None


def test_a_deployment_status_is_named_by_its_node_id_and_makes_the_rest_row():


    node = {"id": "DES_kwDOA", "state": "IN_PROGRESS", "description": "", "environment": "production",
            "environmentUrl": None, "logUrl": None, "createdAt": "2024-01-01T00:00:00Z",
            "updatedAt": "2024-01-01T00:00:00Z", "creator": {"__typename": "User", "login": "alice", "databaseId": 1}}
    status = gq.deployment_status(node)
    assert "id" not in status and status["node_id"] == "DES_kwDOA" and status["state"] == "in_progress"
    deployment = {"id": 9, "sha": "a" * 40, "environment": "production", "created_at": "2024-01-01T00:00:00Z",
                  "updated_at": "2024-01-01T00:00:00Z"}
    repository = {"id": 1, "full_name": "acme/api", "name": "api"}
    from_graphql = envelope("deployment_status", status, received_at=datetime(2024, 1, 2, tzinfo=UTC),
                            repository=repository, organization=None, extra={"deployment": deployment})
    from_rest = envelope("deployment_status", {**status, "id": 77}, received_at=datetime(2024, 1, 3, tzinfo=UTC),
                         repository=repository, organization=None, extra={"deployment": deployment})
    assert from_graphql.delivery_id == from_rest.delivery_id  # one delivery, whichever path read it
    [row] = normalise(from_graphql, default_config()).deployment_statuses
    [rest_row] = normalise(from_rest, default_config()).deployment_statuses
    assert row == rest_row._replace(status_id=None) and row.node_id == "DES_kwDOA"
