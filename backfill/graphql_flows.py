"""Pull requests (with their transitions, reviews and head checks) and the checks of default-branch pushes,
read with GraphQL: one query per page of pull requests instead of four REST requests per pull request.

The same sweep as the REST flow (backfill/flows.py): newest update first down to the cursor's mark, every
answer archived before anything from it is published, progress recorded per published batch, so a run
killed anywhere resumes at the page in flight. GitHub's GraphQL limits are handled here and in
:meth:`GitHubApi.graphql`:

- a query GitHub gives up on (its 10-second timeout, 502/504) is asked again for half the page, down to
  one pull request; after a few good pages the size doubles back;
- a partial answer (a nested field null, with an error naming its path) is completed item by item: the
  missing checks of that pull request from REST, its timeline with a query of its own; any other hole (a
  pull request that came back null) asks the page again. Nothing is published with a silent hole;
- a nested connection that overflows its page (over 40 reviews and transitions, over 5 suites or 20 runs)
  is followed for that pull request only, the same way.
"""

from __future__ import annotations

import logging
from typing import Any

from backfill import graphql_queries as gq
from backfill.declared import ResourceSweep, repository_flow
from backfill.flows import _in_range, _pending, _server_time, check_envelopes, recheck_pending
from backfill.github_api import GraphQLAnswer, GraphQLTooLarge, Page
from backfill.sweep import Sweep, later
from backfill.timeline import announcements, transitions_by_number
from pillarstream.envelope import Envelope
from pillarstream.errors import GitHubAPIError

log = logging.getLogger(__name__)
Json = dict[str, Any]
GROW_AFTER = 3  # good pages at a reduced size before doubling it again
PAGE_RETRIES = 3  # a page whose answer has holes that cannot be filled item by item is asked this often
CHECK_BATCH = 24  # commits per checks query: (1 + 24 x 6) / 100 rounds to 1 point, 25 to 2
_ITEM_FIELDS = ("timelineItems", "commits")


@repository_flow("pulls")
def pull_requests(sweep: ResourceSweep) -> Json:
    ctx, repo = sweep.ctx, sweep.repository
    owner, name = sweep.owner_login, sweep.repo_name
    mark = sweep.mark()
    events_mark = sweep.mark("events_at")
    pending = _pending(sweep)
    data = sweep.data
    most = ctx.graphql_page
    position = sweep.state["walks"].setdefault("graphql", {"after": None, "index": 0, "done": False})
    if "probe" not in data and mark is not None:
        # The REST list's first page, asked with the last run's ETag, says for free (a 304) that nothing
        # changed, and otherwise how many pull requests did: the first query asks for just those. (Not on a
        # first run, which reads everything anyway; the first re-run's probe then costs one request.)
        probe = sweep.fetch(sweep.url(), sweep.params(), resource="pulls", conditional=True)
        assert probe is not None
        listed = probe.items() if probe.status == 200 else []
        changed = sum(1 for item in listed if mark is None or item["updated_at"] > mark)
        data["probe"] = probe.status
        if not changed:
            position["done"] = True
        elif mark and changed < len(listed):
            data["page_size"] = min(most, changed + 1)  # one unchanged pull request ends the walk
        sweep.save()
    while not position["done"]:
        size = min(most, int(data.get("page_size", most)))
        variables = {"owner": owner, "name": name, "first": size, "after": position["after"]}
        try:
            answer, holes = _page(sweep, variables)
        except GraphQLTooLarge as exc:
            if size <= 1:
                raise
            data.update(page_size=max(1, size // 2), good_pages=0)
            sweep.save()
            log.warning("graphql page too large, asking for fewer", extra={
                "repo": repo["full_name"], "was": size, "now": data["page_size"], "error": str(exc)})
            continue
        repository = answer.data.get("repository")
        if repository is None:
            raise GitHubAPIError(f"GraphQL: no repository {owner}/{name}", retriable=False, status=404)
        connection = repository["pullRequests"]
        data.setdefault("listed_at", _server_time(answer.page))
        nodes = connection["nodes"] or []
        stopped = False
        for index in range(int(position.get("index", 0)), len(nodes)):
            node = nodes[index]
            data["top"] = later(data.get("top"), node["updatedAt"])
            if mark and node["updatedAt"] <= mark:
                stopped = True
                break
            if _in_range(ctx, node["updatedAt"]):
                sweep.publish(_one(sweep, node, answer, holes.get(index, set()), mark, events_mark, pending))
            sweep.item_done("graphql", index)
            sweep.unit_done(pending=sorted(pending))
        sweep.commit()
        info = connection["pageInfo"]
        if stopped or not info["hasNextPage"]:
            position["done"] = True
        else:
            position.update(after=info["endCursor"], index=0)
        good = int(data.get("good_pages", 0)) + 1
        if size < most and good >= GROW_AFTER:
            size, good = min(most, size * 2), 0
        data.update(page_size=size, good_pages=good)
        sweep.next_page()
    recheck_pending(sweep, pending)
    return {"updated_at": later(data.get("top"), mark), "events_at": data.get("listed_at") or events_mark,
            "pending_shas": sorted(pending)}


def _page(sweep: Sweep, variables: Json) -> tuple[GraphQLAnswer, dict[int, set[str]]]:
    """A page of pull requests and, per item index, the fields that came back with an error."""
    for _ in range(PAGE_RETRIES):
        answer = sweep.fetch_graphql("PullRequests", gq.PULL_REQUESTS, variables, resource="pulls")
        holes: dict[int, set[str]] = {}
        unrecoverable = []
        for where in answer.missing():
            inside = where[:3] == ["repository", "pullRequests", "nodes"] and len(where) >= 5
            if inside and isinstance(where[3], int) and where[4] in _ITEM_FIELDS:
                holes.setdefault(where[3], set()).add(str(where[4]))
            else:
                unrecoverable.append(where)
        repository = (answer.data or {}).get("repository") or {}
        nodes = (repository.get("pullRequests") or {}).get("nodes") or []
        if any(nodes[i] is None for i in holes if i < len(nodes)):  # a non-null field failed: the item is gone
            unrecoverable.append(["repository", "pullRequests", "nodes"])
        if not unrecoverable:
            if holes:
                log.warning("graphql partial answer, completing it", extra={
                    "repo": sweep.repo, "items": sorted(holes), "fields": sorted(set().union(*holes.values()))})
            return answer, holes
        log.warning("graphql answer with holes, asking again", extra={"repo": sweep.repo,
                                                                      "paths": unrecoverable[:5]})
        sweep.next_page()  # forget the archived copy: the next ask goes to GitHub
    raise GitHubAPIError(f"GraphQL PullRequests for {sweep.repo}: answers kept coming back incomplete",
                         retriable=True)


def _one(sweep: ResourceSweep, node: Json, answer: GraphQLAnswer, holes: set[str], mark: str | None,
         events_mark: str | None, pending: set[str]) -> list[Envelope]:
    ctx = sweep.ctx
    page = answer.page
    detail = gq.pull_request(node)
    number = detail["number"]
    timeline = node.get("timelineItems") or {}
    if "timelineItems" in holes or (timeline.get("pageInfo") or {}).get("hasNextPage"):
        raw = _timeline(sweep, number)
    else:
        raw = timeline.get("nodes") or []
    raw = [n for n in raw if n]
    events = [e for e in (gq.issue_event(n, number) for n in raw)
              if e and (events_mark is None or e["created_at"] > events_mark)]
    transitions = transitions_by_number(events).get(number, [])
    opened = mark is None or detail["created_at"] > mark
    found = [sweep.envelope(a.pull_request, page, action=a.action, sender=a.sender, id_suffix=f".{a.action}")
             for a in announcements(detail, transitions, include_opened=opened)]
    if ctx.wants("reviews"):
        reviews = [gq.review(n) for n in raw if n.get("__typename") == "PullRequestReview"]
        found += [sweep.envelope(r, page, "reviews", extra={"pull_request": detail}) for r in reviews
                  if r.get("state") != "PENDING" and r.get("submitted_at")]
    if ctx.wants("pr_commits"):  # archived for later use; no warehouse table reads them
        sweep.list_all("pr_commits", number=number)
    sha = detail["head"]["sha"]
    if sha and ctx.wants("check_runs") and ctx.claim_sha(sweep.repo, sha):
        head = gq.head_commit(node)
        runs, overflow = gq.check_runs(head)
        if "commits" in holes or overflow or not head or head.get("oid") != sha or ctx.wants("check_suites"):
            found += check_envelopes(sweep, sha, pending)  # REST, for this commit only
        else:
            found += [sweep.envelope(run, page, "check_runs") for run in runs]
            _note_pending(pending, sha, runs)
    return found


def _timeline(sweep: ResourceSweep, number: int) -> list[Json]:
    """Every transition of one pull request, when the page's first 20 were not all (or came back null)."""
    found: list[Json] = []
    after: str | None = None
    while True:
        variables = {"owner": sweep.owner_login, "name": sweep.repo_name, "number": number, "after": after}
        answer = sweep.fetch_graphql("Timeline", gq.TIMELINE_QUERY, variables, resource="pulls", unit=True)
        if answer.missing():
            raise GitHubAPIError(f"GraphQL Timeline of {sweep.repo}#{number}: incomplete answer", retriable=True)
        items = ((answer.data.get("repository") or {}).get("pullRequest") or {}).get("timelineItems") or {}
        found += items.get("nodes") or []
        if not (items.get("pageInfo") or {}).get("hasNextPage"):
            return found
        after = items["pageInfo"]["endCursor"]


def _note_pending(pending: set[str], sha: str, runs: list[Json]) -> None:
    """A commit with runs still queued or in progress is asked again by the next run."""
    if any(run.get("status") != "completed" for run in runs):
        pending.add(sha)
    else:
        pending.discard(sha)


def push_checks(sweep: ResourceSweep, heads: list[str], pending: set[str]) -> None:
    """Check runs of default-branch push heads, ``CHECK_BATCH`` commits per query (resumable by batch)."""
    start = int(sweep.data.get("checked", 0))
    for first in range(start, len(heads), CHECK_BATCH):
        batch = [sha for sha in heads[first:first + CHECK_BATCH] if sweep.ctx.claim_sha(sweep.repo, sha)]
        if batch:
            variables: Json = {"owner": sweep.owner_login, "name": sweep.repo_name,
                               **{f"s{i}": sha for i, sha in enumerate(batch)}}
            answer = sweep.fetch_graphql(f"Checks{len(batch)}", gq.checks_by_commit(len(batch)), variables,
                                         resource="push_checks", unit=True)
            repository = answer.data.get("repository") or {}
            broken = {int(str(p[1])[1:]) for p in answer.missing() if len(p) > 1 and str(p[1]).startswith("c")}
            found: list[Envelope] = []
            for i, sha in enumerate(batch):
                runs, overflow = gq.check_runs(repository.get(f"c{i}"))
                if i in broken or overflow:
                    found += check_envelopes(sweep, sha, pending, resource="push_checks")
                else:
                    found += [sweep.envelope(run, answer.page, "push_checks") for run in runs]
                    _note_pending(pending, sha, runs)
            sweep.publish(found)
        sweep.unit_done(checked=min(len(heads), first + CHECK_BATCH), pending=sorted(pending))


def deployment_statuses(sweep: Sweep, deployments: list[Json]
                        ) -> dict[int, tuple[list[Json], Page | None]]:
    """The statuses (oldest first) of a page of deployments in one ``nodes(ids:)`` query, and the answer they
    came in, by deployment id. A deployment whose statuses overflow the query's first page or came back with
    an error is completed with a query of its own; one that is gone (null, no error) has none, as REST's 404."""
    wanted = [d for d in deployments if d.get("node_id")]
    if not wanted:
        return {}
    answer = sweep.fetch_graphql("DeploymentStatuses", gq.DEPLOYMENT_STATUSES,
                                 {"ids": [d["node_id"] for d in wanted]}, resource="deployment_statuses")
    gone = {int(e["path"][1]) for e in answer.errors if e.get("type") == "NOT_FOUND"
            and len(e.get("path") or []) == 2 and e["path"][0] == "nodes"}  # deleted since the list: as a 404
    broken = {int(p[1]) for p in answer.missing() if len(p) > 1 and p[0] == "nodes" and isinstance(p[1], int)}
    broken -= gone
    nodes = answer.data.get("nodes") or []
    found: dict[int, tuple[list[Json], Page | None]] = {}
    for index, dep in enumerate(wanted):
        node = nodes[index] if index < len(nodes) else None
        connection = (node or {}).get("statuses") or {}
        page: Page | None = answer.page
        if index in broken or (node is not None and not connection):
            raw, page = _statuses(sweep, dep["node_id"], None)
        elif node is None:
            raw, page = [], None
        else:
            raw = list(connection.get("nodes") or [])
            info = connection.get("pageInfo") or {}
            if info.get("hasNextPage"):
                raw += _statuses(sweep, dep["node_id"], info.get("endCursor"))[0]
        statuses = [gq.deployment_status(n) for n in raw if n]
        found[dep["id"]] = (sorted(statuses, key=lambda s: s["created_at"]), page)
    return found


def _statuses(sweep: Sweep, node_id: str, after: str | None) -> tuple[list[Json], Page]:
    """One deployment's statuses from ``after`` on, page by page (an overflow or a hole in the batch)."""
    found: list[Json] = []
    first: Page | None = None
    while True:
        answer = sweep.fetch_graphql("MoreStatuses", gq.MORE_STATUSES, {"id": node_id, "after": after},
                                     resource="deployment_statuses")
        first = first or answer.page
        if answer.errors and all(e.get("type") == "NOT_FOUND" for e in answer.errors):
            return found, first  # deleted since it was listed: as REST's 404
        if answer.missing():
            raise GitHubAPIError(f"GraphQL statuses of deployment {node_id}: incomplete answer", retriable=True)
        statuses = (answer.data.get("node") or {}).get("statuses") or {}
        found += statuses.get("nodes") or []
        info = statuses.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return found, first
        after = info["endCursor"]


__all__ = ["deployment_statuses", "pull_requests", "push_checks"]
