"""GraphQL queries of the backfill, and their nodes turned into the REST/webhook shapes the envelopes carry.

One query per page of pull requests (newest update first) brings what REST needs four requests per pull
request for: size fields, the commit count, the timeline's reviews and draft/ready/closed/reopened/merged
events, and the head commit's check suites with every check run (``checkType: ALL``: flaky-check detection
needs the failed run beside the later success). GitHub charges ``(1 + 8 × page) / 100`` points, rounded
(one connection for the page, then per pull request its commits, the head's suites, a runs connection per
suite (5) and the timeline): 8 points for 100 pull requests. Reviews come in the timeline (as
``PullRequestReview`` items) rather than a ``reviews`` connection of their own, which would cost one more.
Deployment statuses come for a whole REST page of deployments in one ``nodes(ids:)`` query: one point
instead of one request per deployment.

Webhooks carry GitHub's database ids, so nodes are read with ``databaseId``; states and conclusions are
lower-cased as REST has them; a bot's login gets REST's ``[bot]`` suffix back. The converted objects carry
every field the warehouse normalisers read, so a GraphQL backfill builds the same rows (and the same delivery
ids) as a REST one.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]
NESTED = 20  # check runs per suite in the page query
TIMELINE = 40  # reviews and transitions per pull request in the page query
SUITES = 5  # check suites per commit (GitHub Actions makes one per workflow run)

_ACTOR = "__typename login ... on User { databaseId url } ... on Bot { databaseId url }"
_CHECK_SUITES = f"""
checkSuites(first: {SUITES}) {{
  pageInfo {{ hasNextPage }}
  nodes {{
    databaseId status conclusion createdAt updatedAt
    app {{ slug name databaseId }}
    checkRuns(first: {NESTED}, filterBy: {{checkType: ALL}}) {{
      pageInfo {{ hasNextPage }}
      nodes {{ databaseId name status conclusion startedAt completedAt url }}
    }}
  }}
}}"""
TIMELINE_TYPES = ("[PULL_REQUEST_REVIEW, READY_FOR_REVIEW_EVENT, CONVERT_TO_DRAFT_EVENT, CLOSED_EVENT, "
                  "REOPENED_EVENT, MERGED_EVENT]")
_TIMELINE_NODES = f"""
nodes {{
  __typename
  ... on PullRequestReview {{ databaseId state submittedAt url body author {{ {_ACTOR} }} commit {{ oid }} }}
  ... on ReadyForReviewEvent {{ createdAt actor {{ {_ACTOR} }} }}
  ... on ConvertToDraftEvent {{ createdAt actor {{ {_ACTOR} }} }}
  ... on ClosedEvent {{ createdAt actor {{ {_ACTOR} }} }}
  ... on ReopenedEvent {{ createdAt actor {{ {_ACTOR} }} }}
  ... on MergedEvent {{ createdAt actor {{ {_ACTOR} }} }}
}}"""

PULL_REQUESTS = f"""
query PullRequests($owner: String!, $name: String!, $first: Int!, $after: String) {{
  rateLimit {{ cost remaining resetAt limit }}
  repository(owner: $owner, name: $name) {{
    pullRequests(first: $first, after: $after, orderBy: {{field: UPDATED_AT, direction: DESC}}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        id databaseId number title url state isDraft merged createdAt updatedAt closedAt mergedAt
        author {{ {_ACTOR} }}
        mergedBy {{ {_ACTOR} }}
        baseRefName headRefName headRefOid
        mergeCommit {{ oid }}
        potentialMergeCommit {{ oid }}
        additions deletions changedFiles
        commits(last: 1) {{ totalCount nodes {{ commit {{ oid {_CHECK_SUITES} }} }} }}
        timelineItems(first: {TIMELINE}, itemTypes: {TIMELINE_TYPES}) {{
          pageInfo {{ hasNextPage endCursor }}
          {_TIMELINE_NODES}
        }}
      }}
    }}
  }}
}}"""

TIMELINE_QUERY = f"""
query Timeline($owner: String!, $name: String!, $number: Int!, $after: String) {{
  rateLimit {{ cost remaining resetAt limit }}
  repository(owner: $owner, name: $name) {{
    pullRequest(number: $number) {{
      timelineItems(first: 100, after: $after, itemTypes: {TIMELINE_TYPES}) {{
        pageInfo {{ hasNextPage endCursor }}
        {_TIMELINE_NODES}
      }}
    }}
  }}
}}"""


STATUSES = 20  # statuses per deployment in the batch query (a deployment has a handful)
_STATUS_NODES = f"""
pageInfo {{ hasNextPage endCursor }}
nodes {{ id state description environment environmentUrl logUrl createdAt updatedAt creator {{ {_ACTOR} }} }}"""
DEPLOYMENT_STATUSES = f"""
query DeploymentStatuses($ids: [ID!]!) {{
  rateLimit {{ cost remaining resetAt limit }}
  nodes(ids: $ids) {{
    ... on Deployment {{ id statuses(first: {STATUSES}) {{ {_STATUS_NODES} }} }}
  }}
}}"""
MORE_STATUSES = f"""
query MoreStatuses($id: ID!, $after: String) {{
  rateLimit {{ cost remaining resetAt limit }}
  node(id: $id) {{
    ... on Deployment {{ id statuses(first: 100, after: $after) {{ {_STATUS_NODES} }} }}
  }}
}}"""


def checks_by_commit(count: int) -> str:
    """Check suites and runs of ``count`` commits in one query (aliases c0, c1 ...; variables $s0 ...)."""
    params = ", ".join(f"$s{i}: GitObjectID!" for i in range(count))
    parts = "\n".join(f"c{i}: object(oid: $s{i}) {{ ... on Commit {{ oid {_CHECK_SUITES} }} }}" for i in range(count))
    return (f"query Checks($owner: String!, $name: String!, {params}) {{\n"
            f"  rateLimit {{ cost remaining resetAt limit }}\n"
            f"  repository(owner: $owner, name: $name) {{\n{parts}\n  }}\n}}")


# --- nodes → REST shapes ---------------------------------------------------------------------------------

def user(actor: Json | None) -> Json | None:
    """An actor as REST's simple user: ``login`` (bots with ``[bot]``), ``id`` and ``type``."""
    if not actor:
        return None
    bot = actor.get("__typename") == "Bot"
    login = str(actor.get("login") or "")
    return {"login": f"{login}[bot]" if bot and not login.endswith("[bot]") else login,
            "id": actor.get("databaseId"), "type": "Bot" if bot else "User", "html_url": actor.get("url")}


def _lower(value: Any) -> str | None:
    return str(value).lower() if value else None


def pull_request(node: Json) -> Json:
    """A pull-request node as ``GET /pulls/{n}`` (the fields webhooks and the normaliser share)."""
    merged = bool(node.get("merged"))
    merge = (node.get("mergeCommit") if merged else node.get("potentialMergeCommit")) or {}
    head = head_commit(node) or {}
    return {"id": node["databaseId"], "node_id": node.get("id"), "number": node["number"],
            "title": node.get("title"), "html_url": node.get("url"),
            "state": "open" if node.get("state") == "OPEN" else "closed", "draft": bool(node.get("isDraft")),
            "merged": merged, "created_at": node["createdAt"], "updated_at": node["updatedAt"],
            "closed_at": node.get("closedAt"), "merged_at": node.get("mergedAt"),
            "user": user(node.get("author")), "merged_by": user(node.get("mergedBy")),
            "base": {"ref": node.get("baseRefName")},
            "head": {"ref": node.get("headRefName"), "sha": node.get("headRefOid") or head.get("oid")},
            "merge_commit_sha": merge.get("oid"), "additions": node.get("additions"),
            "deletions": node.get("deletions"), "changed_files": node.get("changedFiles"),
            "commits": (node.get("commits") or {}).get("totalCount")}


def head_commit(node: Json) -> Json | None:
    commits = ((node.get("commits") or {}).get("nodes")) or []
    return (commits[-1] or {}).get("commit") if commits else None


def review(node: Json) -> Json:
    return {"id": node["databaseId"], "user": user(node.get("author")), "state": node.get("state"),
            "submitted_at": node.get("submittedAt"), "html_url": node.get("url"), "body": node.get("body"),
            "commit_id": (node.get("commit") or {}).get("oid")}


_EVENTS = {"ReadyForReviewEvent": "ready_for_review", "ConvertToDraftEvent": "convert_to_draft",
           "ClosedEvent": "closed", "ReopenedEvent": "reopened", "MergedEvent": "merged"}


def issue_event(node: Json, number: int) -> Json | None:
    """A timeline event as the repository's issue events list it (what backfill/timeline.py reads)."""
    kind = _EVENTS.get(str(node.get("__typename")))
    if kind is None:
        return None
    return {"event": kind, "created_at": node["createdAt"], "actor": user(node.get("actor")),
            "issue": {"number": number, "pull_request": {}}}


def deployment_status(node: Json) -> Json:
    """A status node as ``GET /deployments/{id}/statuses`` lists it, without ``id`` (GraphQL has no database
    id for a status): the warehouse keys statuses by ``node_id``, which every source carries."""
    return {"node_id": node["id"], "state": _lower(node.get("state")), "description": node.get("description"),
            "environment": node.get("environment"), "environment_url": node.get("environmentUrl"),
            "log_url": node.get("logUrl"), "created_at": node["createdAt"], "updated_at": node.get("updatedAt"),
            "creator": user(node.get("creator"))}


def check_runs(commit: Json | None) -> tuple[list[Json], bool]:
    """A commit's check runs as ``GET /commits/{sha}/check-runs?filter=all`` lists them, and whether a
    connection overflowed (then REST is asked for that commit)."""
    if not commit:
        return [], False
    suites = commit.get("checkSuites") or {}
    overflow = bool((suites.get("pageInfo") or {}).get("hasNextPage"))
    runs = []
    for suite in suites.get("nodes") or []:
        connection = suite.get("checkRuns") or {}
        overflow |= bool((connection.get("pageInfo") or {}).get("hasNextPage"))
        app = suite.get("app") or {}
        for run in connection.get("nodes") or []:
            runs.append({"id": run["databaseId"], "name": run["name"], "head_sha": commit["oid"],
                         "status": _lower(run.get("status")), "conclusion": _lower(run.get("conclusion")),
                         "started_at": run.get("startedAt"), "completed_at": run.get("completedAt"),
                         "html_url": run.get("url"), "check_suite": {"id": suite.get("databaseId")},
                         "app": {"slug": app.get("slug"), "name": app.get("name"), "id": app.get("databaseId")}
                         if app else None})
    return runs, overflow
