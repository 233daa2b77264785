"""Per-repository flows: pull requests (with reviews and checks), pushes, workflow runs, deployments, issues.

Each flow is one sweep of one declared resource's cursor (backfill/declared.py): the loop around it, the
URLs, parameters, cursor marks and envelope kinds come from the declarations (backfill/resources.py).
Lists sorted newest-first stop at the cursor mark; their first page is asked conditionally, so an
unchanged repository costs a ``304`` (no budget) per list.
Fan-out requests (a pull request's detail, reviews and checks; a deployment's statuses) are made only for
items changed since the mark. Where GitHub gives no way to notice a change (a check run finishing after its
pull request's last update), the SHA stays on a pending list and is asked again on the next run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from backfill.declared import ResourceSweep, newest_first, repository_flow
from backfill.github_api import Page
from backfill.pushes import PUSH_TYPES, ZERO, Graph, plan_pushes, push_payload
from backfill.sweep import RunContext, later
from backfill.timeline import announcements, transitions_by_number
from backfill.windows import iso, needs_split, qualifier, split
from pillarstream.envelope import Envelope, parse_time

Json = dict[str, Any]
PUSH_CHUNK = 50
# Re-read windows: a workflow run created before the mark may still finish or be re-run, a deployment may
# get a new status. GitHub offers no "updated since" filter for either, so recent ones are listed again
# (the list's first page is conditional, so an unchanged window costs nothing).
RUN_LOOKBACK = timedelta(days=3)
DEPLOYMENT_LOOKBACK = timedelta(days=7)
GRAPH_SLACK = timedelta(days=30)  # commits made this long before --since may still land after it


def _server_time(page: Page) -> str:
    """GitHub's clock at the answer (the Date header), so marks do not depend on the local clock."""
    try:
        return iso(parsedate_to_datetime(page.headers["date"]))
    except (KeyError, TypeError, ValueError):
        return iso(page.fetched_at)


def _in_range(ctx: RunContext, moment: str | None) -> bool:
    if moment is None:
        return True
    when = parse_time(moment)
    return (ctx.since is None or when >= ctx.since) and (ctx.until is None or when <= ctx.until)


def _pending(sweep: ResourceSweep) -> set[str]:
    """SHAs whose checks were unfinished: this sweep's list if it is resuming, else the last sweep's."""
    found = sweep.data.get("pending")
    return set(found if found is not None else sweep.marks.get("pending_shas") or [])


def run_repository(ctx: RunContext, repo: Json) -> None:
    from backfill import graphql_flows  # it builds on this module's helpers

    pulls = graphql_flows.pull_requests if ctx.graphql else pull_requests
    for flow in (pulls, pushes, workflow_runs, deployments, issues):
        ctx.check()
        flow(ctx, repo)
    ctx.progress.repository_done()


# --- checks of one SHA ------------------------------------------------------------------------------

def check_envelopes(sweep: ResourceSweep, sha: str, pending: set[str], *,
                    resource: str = "check_runs") -> list[Envelope]:
    """Check runs (all of them, not only the latest per name: flaky checks need the failed ones too) and,
    if selected, check suites of one SHA. A SHA with unfinished runs goes on the pending list."""
    found: list[Envelope] = []
    runs, page = sweep.list_all(resource, sha=sha)
    if page is not None:
        found += [sweep.envelope(run, page, resource) for run in runs]
    if any(run.get("status") != "completed" for run in runs):
        pending.add(sha)
    else:
        pending.discard(sha)
    if sweep.ctx.wants("check_suites"):
        suites, page = sweep.list_all("check_suites", sha=sha)
        if page is not None:
            found += [sweep.envelope(suite, page, "check_suites") for suite in suites]
    return found


def recheck_pending(sweep: ResourceSweep, pending: set[str]) -> None:
    """Ask again for the checks of SHAs whose runs had not finished last time."""
    todo: list[str] = sweep.data.setdefault("recheck", sorted(pending))  # fixed on first entry: resumable
    start = int(sweep.data.get("rechecked", 0))
    for index in range(start, len(todo)):
        sha = todo[index]
        if sweep.ctx.claim_sha(sweep.repo, sha):
            sweep.publish(check_envelopes(sweep, sha, pending))
        sweep.unit_done(rechecked=index + 1, pending=sorted(pending))


# --- pull requests ------------------------------------------------------------------------------------

@repository_flow("pulls")
def pull_requests(sweep: ResourceSweep) -> Json:
    """Changed pull requests (newest update first, down to the mark), then the transitions since the last
    sweep from issue events, then per pull request its detail, reviews and head checks."""
    ctx = sweep.ctx
    mark = sweep.mark()
    events_mark = sweep.mark("events_at")
    for page, items, _ in sweep.walk("list", sweep.url(), sweep.params(), resource="pulls",
                                     conditional="first"):
        if page.status == 304:
            sweep.stop_walk("list")
            break
        sweep.data.setdefault("listed_at", _server_time(page))
        if mark and any(item["updated_at"] <= mark for item in items):
            sweep.stop_walk("list")
    listed = [item for page in sweep.pages("list") if page.status == 200 for item in page.items()]
    changed = [item for item in listed
               if (mark is None or item["updated_at"] > mark) and _in_range(ctx, item["updated_at"])]
    top = max((item["updated_at"] for item in listed), default=None)
    if changed:
        # Transitions since the last sweep. Read after the list: a transition made meanwhile bumps its pull
        # request past this sweep's mark, and the next sweep reads events from when this list was read.
        for _page, items, _ in sweep.walk("events", sweep.url("issue_events"), sweep.params("issue_events"),
                                         resource="issue_events"):
            if events_mark and any(event["created_at"] <= events_mark for event in items):
                sweep.stop_walk("events")
    events = [event for page in sweep.pages("events") for event in page.items()
              if events_mark is None or event["created_at"] > events_mark]
    transitions = transitions_by_number(events)
    pending = _pending(sweep)
    for index in range(int(sweep.data.get("done", 0)), len(changed)):
        item = changed[index]
        opened = mark is None or item["created_at"] > mark
        sweep.publish(_one_pull_request(sweep, item, transitions.get(item["number"], []), opened, pending))
        sweep.unit_done(done=index + 1, pending=sorted(pending))
    recheck_pending(sweep, pending)
    return {"updated_at": later(top, mark), "events_at": sweep.data.get("listed_at") or events_mark,
            "pending_shas": sorted(pending)}


def _one_pull_request(sweep: ResourceSweep, item: Json, transitions: list[Any], opened: bool,
                      pending: set[str]) -> list[Envelope]:
    ctx = sweep.ctx
    number = item["number"]
    page = sweep.fetch(sweep.url("pull_detail", number=number), resource="pull_detail", unit=True,
                       missing_ok=True)
    if page is None:
        return []
    detail = page.data
    found = [sweep.envelope(a.pull_request, page, action=a.action, sender=a.sender, id_suffix=f".{a.action}")
             for a in announcements(detail, transitions, include_opened=opened)]
    if ctx.wants("reviews"):
        reviews, rpage = sweep.list_all("reviews", number=number)
        if rpage is not None:
            found += [sweep.envelope(review, rpage, "reviews", extra={"pull_request": detail})
                      for review in reviews
                      if review.get("state") != "PENDING" and review.get("submitted_at")]
    if ctx.wants("pr_commits"):  # archived for later use; no warehouse table reads them
        sweep.list_all("pr_commits", number=number)
    sha = (detail.get("head") or {}).get("sha")
    if sha and ctx.wants("check_runs") and ctx.claim_sha(sweep.repo, sha):
        found += check_envelopes(sweep, sha, pending)
    return found


# --- pushes -------------------------------------------------------------------------------------------

@repository_flow("commits")
def pushes(sweep: ResourceSweep) -> Json:
    """Pushes since the mark from repository activity, their commits from the default branch's graph, and
    the checks of each default-branch push head."""
    ctx, repo = sweep.ctx, sweep.repository
    default = repo.get("default_branch") or "main"
    mark = sweep.mark("activity_at")
    head_mark = sweep.marks.get("head")
    for page, items, _ in sweep.walk("activity", sweep.url("activity"), sweep.params("activity"),
                                     resource="activity", conditional="first", missing_ok=True):
        if page.status == 304:
            sweep.stop_walk("activity")
            break
        if mark and any(item["timestamp"] <= mark for item in items):
            sweep.stop_walk("activity")
    activity_pages = sweep.pages("activity")
    supported = bool(activity_pages) or sweep.marks.get("activity") == "supported"
    source: dict[Any, Page] = {}
    activities: list[Json] = []
    for page in activity_pages:
        for item in page.items() if page.status == 200 else []:
            if (mark is None or item["timestamp"] > mark) and _in_range(ctx, item["timestamp"]):
                activities.append(item)
                source[item["id"]] = page
    top = max((i["timestamp"] for p in activity_pages if p.status == 200 for i in p.items()), default=None)
    default_pushes = sorted((a for a in activities if a["ref"] == f"refs/heads/{default}"
                             and a.get("activity_type") in PUSH_TYPES and a["after"] != ZERO),
                            key=lambda a: a["timestamp"])
    # The graph ends at the newest push we know of, so every commit in it has its push in `activities`;
    # without the activity endpoint (older GitHub Enterprise Server) it ends at the branch.
    head = default_pushes[-1]["after"] if default_pushes else (None if supported and head_mark else default)
    commits = _graph_commits(sweep, head, head_mark) if head and head != head_mark else []
    graph_page = next(iter(sweep.pages("graph")), None)
    plans = [p for p in plan_pushes(activities, Graph(commits), default)
             if _in_range(ctx, p.activity["timestamp"])]
    for start in range(int(sweep.data.get("pushed", 0)), len(plans), PUSH_CHUNK):
        batch = []
        for plan in plans[start:start + PUSH_CHUNK]:
            origin = source.get(plan.activity.get("id")) or graph_page
            assert origin is not None  # a plan comes from an activity or from the graph
            a = plan.activity
            batch.append(sweep.envelope(a, origin, "activity", payload=push_payload(plan, repo, ctx.organization),
                                        object_id=f"{repo['id']}:{a['ref']}:{a['before']}:{a['after']}"))
        sweep.publish(batch)
        sweep.unit_done(pushed=start + len(batch))
    pending = _pending(sweep)
    wanted = ctx.wants("push_checks")
    heads = list(dict.fromkeys(p.after for p in plans if p.to_default and not p.fallback and wanted))
    if ctx.graphql:
        from backfill.graphql_flows import push_checks

        push_checks(sweep, heads, pending)
    else:
        for index in range(int(sweep.data.get("checked", 0)), len(heads)):
            if ctx.claim_sha(sweep.repo, heads[index]):
                sweep.publish(check_envelopes(sweep, heads[index], pending, resource="push_checks"))
            sweep.unit_done(checked=index + 1, pending=sorted(pending))
    recheck_pending(sweep, pending)
    return {"activity_at": later(top, mark), "head": head or head_mark, "pending_shas": sorted(pending),
            "activity": "supported" if supported else "missing"}


def _graph_commits(sweep: ResourceSweep, head: str, head_mark: str | None) -> list[Json]:
    """The default branch's new commits: since the last head by a compare, else the whole branch (from
    ``--since`` minus some slack)."""
    ctx = sweep.ctx
    if head_mark and not sweep.state["walks"].get("graph"):
        page = sweep.fetch(sweep.url("compare", base=head_mark, head=head), resource="compare", phase="graph",
                           missing_ok=True)
        data = page.data if page is not None else None
        if data and len(data.get("commits") or []) >= int(data.get("total_commits") or 0):
            return list(data["commits"])
        sweep.state["pages"]["graph"] = []  # truncated or gone (force push): list the branch instead
    since = iso(ctx.since - GRAPH_SLACK) if ctx.since else None
    for _ in sweep.walk("graph", sweep.url("commits"), sweep.params("commits", sha=head, since=since),
                        resource="commits", missing_ok=True):
        pass
    return [c for page in sweep.pages("graph") for c in page.items()]


# --- workflow runs --------------------------------------------------------------------------------------

@repository_flow("workflow_runs")
def workflow_runs(sweep: ResourceSweep) -> Json:
    """Runs newest first, down to a few days before the mark (the latest attempt of each run).

    The unfiltered listing's first page has a stable URL, so an unchanged repository answers 304. Where a
    listing stops short of its ``total_count`` (GitHub caps filtered listings at 1,000 results), the rest is
    read in created-date windows, each split in two while it is over the cap.
    """
    ctx, repo = sweep.ctx, sweep.repository
    url = sweep.url()
    mark, updated_mark = sweep.marks.get("created_at"), sweep.marks.get("updated_at")
    floors = [parse_time(mark) - RUN_LOOKBACK if mark else None, ctx.since]
    floor = max((f for f in floors if f is not None), default=None)
    data = sweep.data

    def publish(page: Page, runs: list[Json]) -> None:
        chosen = [r for r in runs if (updated_mark is None or r["updated_at"] > updated_mark)
                  and (floor is None or parse_time(r["created_at"]) >= floor)
                  and _in_range(ctx, r["created_at"])]
        sweep.publish([sweep.envelope(run, page, extra={"workflow": {
            "id": run.get("workflow_id"), "name": run.get("name"), "path": run.get("path")}}) for run in chosen])
        data["top"] = later(data.get("top"), max((r["created_at"] for r in runs), default=None))
        data["updated"] = later(data.get("updated"), max((r["updated_at"] for r in runs), default=None))

    for page, items, start in sweep.walk("recent", url, sweep.params(), resource="workflow_runs",
                                         conditional="first"):
        if page.status == 304:
            sweep.stop_walk("recent")
            break
        publish(page, items[start:])
        if items:
            data["oldest"] = items[-1]["created_at"]
            sweep.item_done("recent", len(items) - 1)
        seen = sum(len(p.items(sweep.declared.items_key)) for p in sweep.pages("recent"))
        if floor is not None and items and parse_time(items[-1]["created_at"]) < floor:
            sweep.stop_walk("recent")
        elif not page.link("next") and seen < int((page.data or {}).get("total_count") or 0):
            # The listing ended before its total: capped. The rest comes in created-date windows.
            low = floor or parse_time(repo.get("created_at") or "2008-01-01T00:00:00Z")
            high = parse_time(data["oldest"]) - timedelta(seconds=1)
            if high >= low:
                data.setdefault("windows", [[iso(low), iso(high)]])
    windows: list[list[str]] = data.get("windows", [])
    while windows:
        first, last = windows[0]
        phase = f"runs {first}..{last}"
        replaced = False
        low, high = parse_time(first), parse_time(last)
        params = sweep.params(created=qualifier(low, high))
        for page, items, start in sweep.walk(phase, url, params, resource="workflow_runs"):
            total = int((page.data or {}).get("total_count") or 0)
            if sweep.state["walks"][phase]["first"] and needs_split(total, low, high):
                windows[0:1] = [[iso(a), iso(b)] for a, b in split(low, high)]
                sweep.stop_walk(phase)
                replaced = True
                break
            publish(page, items[start:])
            if items:
                sweep.item_done(phase, len(items) - 1)
        if not replaced:
            windows.pop(0)
        sweep.save()
    return {"created_at": later(data.get("top"), mark), "updated_at": later(data.get("updated"), updated_mark)}


# --- deployments --------------------------------------------------------------------------------------

@repository_flow("deployments")
def deployments(sweep: ResourceSweep) -> Json:
    """Deployments changed since the mark (a new status moves ``updated_at``), each with its statuses: per
    deployment from REST, or with GraphQL for a whole page of deployments in one query."""
    ctx = sweep.ctx
    mark = sweep.mark()
    floors = [parse_time(mark) - DEPLOYMENT_LOOKBACK if mark else None, ctx.since]
    floor = max((f for f in floors if f is not None), default=None)
    by_page: dict[str | None, Any] = {}

    def changed(dep: Json) -> bool:
        return (mark is None or dep["updated_at"] > mark) and _in_range(ctx, dep["created_at"])

    def publish(page: Page, dep: Json) -> list[Envelope]:
        if not changed(dep):
            return []
        if ctx.graphql:
            from backfill.graphql_flows import deployment_statuses

            if page.archived_as not in by_page:  # the whole page's in one query: the same one on a resume
                recent = [d for d in page.items() if floor is None or parse_time(d["created_at"]) >= floor]
                by_page[page.archived_as] = deployment_statuses(sweep, [d for d in recent if changed(d)])
            found, spage = by_page[page.archived_as].get(dep["id"], ([], None))
        else:
            listed, spage = sweep.list_all("deployment_statuses", id=dep["id"])
            found = list(reversed(listed))  # listed newest first
        return [sweep.envelope(dep, page)] + ([sweep.envelope(s, spage, "deployment_statuses",
                                                              extra={"deployment": dep}) for s in found]
                                              if spage is not None else [])

    top = newest_first(sweep, stop=lambda d: floor is not None and parse_time(d["created_at"]) < floor,
                       publish=publish)
    return {"updated_at": later(top, mark)}


# --- issues -------------------------------------------------------------------------------------------

@repository_flow("issues")
def issues(sweep: ResourceSweep) -> Json:
    """Issues updated since the mark, newest update first (a stable first page: 304 when nothing changed).
    Pull requests, which the endpoint lists too, come with ``pulls``."""
    mark = sweep.mark()

    def publish(page: Page, issue: Json) -> list[Envelope]:
        wanted = "pull_request" not in issue and _in_range(sweep.ctx, issue["updated_at"])
        return [sweep.envelope(issue, page)] if wanted else []

    top = newest_first(sweep, stop=lambda issue: mark is not None and issue["updated_at"] <= mark,
                       publish=publish)
    return {"updated_at": later(top, mark)}


def utc_now() -> datetime:
    return datetime.now(UTC)
