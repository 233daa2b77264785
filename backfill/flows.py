"""Per-repository flows: pull requests (with reviews and checks), pushes, workflow runs, deployments, issues.

Each flow is one sweep of one cursor (backfill/sweep.py). Lists sorted newest-first stop at the cursor mark;
their first page is asked conditionally, so an unchanged repository costs a ``304`` (no budget) per list.
Fan-out requests (a pull request's detail, reviews and checks; a deployment's statuses) are made only for
items changed since the mark. Where GitHub gives no way to notice a change (a check run finishing after its
pull request's last update), the SHA stays on a pending list and is asked again on the next run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from backfill.envelopes import envelope
from backfill.github_api import Page
from backfill.pushes import PUSH_TYPES, ZERO, Graph, plan_pushes, push_payload
from backfill.resources import BY_NAME, path
from backfill.sweep import RunContext, Sweep, later
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


def _params(resource: str, **extra: object) -> Json:
    return {**BY_NAME[resource].params, **{k: v for k, v in extra.items() if v is not None}}


def _names(repo: Json) -> tuple[str, str]:
    owner, _, name = str(repo["full_name"]).partition("/")
    return owner, name


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


def _pending(sweep: Sweep) -> set[str]:
    """SHAs whose checks were unfinished: this sweep's list if it is resuming, else the last sweep's."""
    found = sweep.data.get("pending")
    return set(found if found is not None else sweep.marks.get("pending_shas") or [])


def _mark(sweep: Sweep, name: str, ctx: RunContext) -> str | None:
    found = sweep.marks.get(name)
    return str(found) if found else (iso(ctx.since) if ctx.since else None)


def _env(ctx: RunContext, kind: str, item: Json, page: Page, repo: Json | None, **kw: Any) -> Envelope:
    return envelope(kind, item, received_at=page.fetched_at, repository=repo, organization=ctx.organization,
                    provenance=page.archived_as, **kw)


def run_repository(ctx: RunContext, repo: Json) -> None:
    from backfill import graphql_flows  # it builds on this module's helpers

    pulls = graphql_flows.pull_requests if ctx.graphql else pull_requests
    for flow in (pulls, pushes, workflow_runs, deployments, issues):
        ctx.check()
        flow(ctx, repo)
    ctx.progress.repository_done()


# --- checks of one SHA ------------------------------------------------------------------------------

def check_envelopes(ctx: RunContext, sweep: Sweep, repo: Json, sha: str, pending: set[str], *,
                    resource: str = "check_runs") -> list[Envelope]:
    """Check runs (all of them, not only the latest per name: flaky checks need the failed ones too) and,
    if selected, check suites of one SHA. A SHA with unfinished runs goes on the pending list."""
    owner, name = _names(repo)
    found: list[Envelope] = []
    runs, page = sweep.fetch_all(path(resource, owner=owner, repo=name, sha=sha), _params(resource),
                                 resource=resource, items_key="check_runs", missing_ok=True)
    if page is not None:
        found += [_env(ctx, "check_run", run, page, repo) for run in runs]
    if any(run.get("status") != "completed" for run in runs):
        pending.add(sha)
    else:
        pending.discard(sha)
    if ctx.wants("check_suites"):
        suites, page = sweep.fetch_all(path("check_suites", owner=owner, repo=name, sha=sha),
                                       _params("check_suites"), resource="check_suites",
                                       items_key="check_suites",
                                       missing_ok=True)
        if page is not None:
            found += [_env(ctx, "check_suite", suite, page, repo) for suite in suites]
    return found


def recheck_pending(ctx: RunContext, sweep: Sweep, repo: Json, pending: set[str]) -> None:
    """Ask again for the checks of SHAs whose runs had not finished last time."""
    todo: list[str] = sweep.data.setdefault("recheck", sorted(pending))  # fixed on first entry: resumable
    start = int(sweep.data.get("rechecked", 0))
    for index in range(start, len(todo)):
        sha = todo[index]
        if ctx.claim_sha(repo["full_name"], sha):
            sweep.publish(check_envelopes(ctx, sweep, repo, sha, pending))
        sweep.unit_done(rechecked=index + 1, pending=sorted(pending))


# --- pull requests ------------------------------------------------------------------------------------

def pull_requests(ctx: RunContext, repo: Json) -> None:
    """Changed pull requests (newest update first, down to the mark), then the transitions since the last
    sweep from issue events, then per pull request its detail, reviews and head checks."""
    if not ctx.wants("pulls"):
        return
    owner, name = _names(repo)
    sweep = Sweep(ctx, repo["full_name"], "pulls")
    mark = _mark(sweep, "updated_at", ctx)
    events_mark = _mark(sweep, "events_at", ctx)
    for page, items, _ in sweep.walk("list", path("pulls", owner=owner, repo=name), _params("pulls"),
                                     resource="pulls", conditional="first"):
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
        for _page, items, _ in sweep.walk("events", path("issue_events", owner=owner, repo=name),
                                         _params("issue_events"), resource="issue_events"):
            if events_mark and any(event["created_at"] <= events_mark for event in items):
                sweep.stop_walk("events")
    events = [event for page in sweep.pages("events") for event in page.items()
              if events_mark is None or event["created_at"] > events_mark]
    transitions = transitions_by_number(events)
    pending = _pending(sweep)
    for index in range(int(sweep.data.get("done", 0)), len(changed)):
        item = changed[index]
        opened = mark is None or item["created_at"] > mark
        sweep.publish(_one_pull_request(ctx, sweep, repo, item, transitions.get(item["number"], []), opened,
                                        pending))
        sweep.unit_done(done=index + 1, pending=sorted(pending))
    recheck_pending(ctx, sweep, repo, pending)
    sweep.finish({"updated_at": later(top, mark), "events_at": sweep.data.get("listed_at") or events_mark,
                  "pending_shas": sorted(pending)})


def _one_pull_request(ctx: RunContext, sweep: Sweep, repo: Json, item: Json, transitions: list[Any],
                      opened: bool, pending: set[str]) -> list[Envelope]:
    owner, name = _names(repo)
    number = item["number"]
    page = sweep.fetch(path("pull_detail", owner=owner, repo=name, number=number), resource="pull_detail",
                       unit=True, missing_ok=True)
    if page is None:
        return []
    detail = page.data
    found = [_env(ctx, "pull_request", a.pull_request, page, repo, action=a.action, sender=a.sender,
                  id_suffix=f".{a.action}")
             for a in announcements(detail, transitions, include_opened=opened)]
    if ctx.wants("reviews"):
        reviews, rpage = sweep.fetch_all(path("reviews", owner=owner, repo=name, number=number),
                                         _params("reviews"),
                                         resource="reviews", missing_ok=True)
        if rpage is not None:
            found += [_env(ctx, "review", review, rpage, repo, extra={"pull_request": detail})
                      for review in reviews
                      if review.get("state") != "PENDING" and review.get("submitted_at")]
    if ctx.wants("pr_commits"):  # archived for later use; no warehouse table reads them
        sweep.fetch_all(path("pr_commits", owner=owner, repo=name, number=number), _params("pr_commits"),
                        resource="pr_commits", missing_ok=True)
    sha = (detail.get("head") or {}).get("sha")
    if sha and ctx.wants("check_runs") and ctx.claim_sha(repo["full_name"], sha):
        found += check_envelopes(ctx, sweep, repo, sha, pending)
    return found


# --- pushes -------------------------------------------------------------------------------------------

def pushes(ctx: RunContext, repo: Json) -> None:
    """Pushes since the mark from repository activity, their commits from the default branch's graph, and
    the checks of each default-branch push head."""
    if not ctx.wants("commits"):
        return
    owner, name = _names(repo)
    full = repo["full_name"]
    default = repo.get("default_branch") or "main"
    sweep = Sweep(ctx, full, "commits")
    mark = _mark(sweep, "activity_at", ctx)
    head_mark = sweep.marks.get("head")
    for page, items, _ in sweep.walk("activity", path("activity", owner=owner, repo=name),
                                     _params("activity"),
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
    commits = _graph_commits(ctx, sweep, repo, head, head_mark) if head and head != head_mark else []
    graph_page = next(iter(sweep.pages("graph")), None)
    plans = [p for p in plan_pushes(activities, Graph(commits), default)
             if _in_range(ctx, p.activity["timestamp"])]
    for start in range(int(sweep.data.get("pushed", 0)), len(plans), PUSH_CHUNK):
        batch = []
        for plan in plans[start:start + PUSH_CHUNK]:
            origin = source.get(plan.activity.get("id")) or graph_page
            assert origin is not None  # a plan comes from an activity or from the graph
            a = plan.activity
            batch.append(_env(ctx, "push", a, origin, repo,
                              payload=push_payload(plan, repo, ctx.organization),
                              object_id=f"{repo['id']}:{a['ref']}:{a['before']}:{a['after']}"))
        sweep.publish(batch)
        sweep.unit_done(pushed=start + len(batch))
    pending = _pending(sweep)
    wanted = ctx.wants("push_checks")
    heads = list(dict.fromkeys(p.after for p in plans if p.to_default and not p.fallback and wanted))
    if ctx.graphql:
        from backfill.graphql_flows import push_checks

        push_checks(ctx, sweep, repo, heads, pending)
    else:
        for index in range(int(sweep.data.get("checked", 0)), len(heads)):
            if ctx.claim_sha(full, heads[index]):
                sweep.publish(check_envelopes(ctx, sweep, repo, heads[index], pending, resource="push_checks"))
            sweep.unit_done(checked=index + 1, pending=sorted(pending))
    recheck_pending(ctx, sweep, repo, pending)
    sweep.finish({"activity_at": later(top, mark), "head": head or head_mark, "pending_shas": sorted(pending),
                  "activity": "supported" if supported else "missing"})


def _graph_commits(ctx: RunContext, sweep: Sweep, repo: Json, head: str, head_mark: str | None) -> list[Json]:
    """The default branch's new commits: since the last head by a compare, else the whole branch (from
    ``--since`` minus some slack)."""
    owner, name = _names(repo)
    if head_mark and not sweep.state["walks"].get("graph"):
        page = sweep.fetch(path("compare", owner=owner, repo=name, base=head_mark, head=head),
                           resource="compare",
                           phase="graph", missing_ok=True)
        data = page.data if page is not None else None
        if data and len(data.get("commits") or []) >= int(data.get("total_commits") or 0):
            return list(data["commits"])
        sweep.state["pages"]["graph"] = []  # truncated or gone (force push): list the branch instead
    since = iso(ctx.since - GRAPH_SLACK) if ctx.since else None
    for _ in sweep.walk("graph", path("commits", owner=owner, repo=name),
                        _params("commits", sha=head, since=since), resource="commits", missing_ok=True):
        pass
    return [c for page in sweep.pages("graph") for c in page.items()]


# --- workflow runs --------------------------------------------------------------------------------------

def workflow_runs(ctx: RunContext, repo: Json) -> None:
    """Runs newest first, down to a few days before the mark (the latest attempt of each run).

    The unfiltered listing's first page has a stable URL, so an unchanged repository answers 304. Where a
    listing stops short of its ``total_count`` (GitHub caps filtered listings at 1,000 results), the rest is
    read in created-date windows, each split in two while it is over the cap.
    """
    if not ctx.wants("workflow_runs"):
        return
    owner, name = _names(repo)
    url = path("workflow_runs", owner=owner, repo=name)
    sweep = Sweep(ctx, repo["full_name"], "workflow_runs")
    mark, updated_mark = sweep.marks.get("created_at"), sweep.marks.get("updated_at")
    floors = [parse_time(mark) - RUN_LOOKBACK if mark else None, ctx.since]
    floor = max((f for f in floors if f is not None), default=None)
    data = sweep.data

    def publish(page: Page, runs: list[Json]) -> None:
        chosen = [r for r in runs if (updated_mark is None or r["updated_at"] > updated_mark)
                  and (floor is None or parse_time(r["created_at"]) >= floor)
                  and _in_range(ctx, r["created_at"])]
        sweep.publish([_env(ctx, "workflow_run", run, page, repo,
                            extra={"workflow": {"id": run.get("workflow_id"), "name": run.get("name"),
                                                "path": run.get("path")}}) for run in chosen])
        data["top"] = later(data.get("top"), max((r["created_at"] for r in runs), default=None))
        data["updated"] = later(data.get("updated"), max((r["updated_at"] for r in runs), default=None))

    for page, items, start in sweep.walk("recent", url, _params("workflow_runs"), resource="workflow_runs",
                                         conditional="first", items_key="workflow_runs"):
        if page.status == 304:
            sweep.stop_walk("recent")
            break
        publish(page, items[start:])
        if items:
            data["oldest"] = items[-1]["created_at"]
            sweep.item_done("recent", len(items) - 1)
        seen = sum(len(p.items("workflow_runs")) for p in sweep.pages("recent"))
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
        params = _params("workflow_runs", created=qualifier(low, high))
        for page, items, start in sweep.walk(phase, url, params, resource="workflow_runs",
                                             items_key="workflow_runs"):
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
    sweep.finish({"created_at": later(data.get("top"), mark),
                  "updated_at": later(data.get("updated"), updated_mark)})


# --- deployments --------------------------------------------------------------------------------------

def deployments(ctx: RunContext, repo: Json) -> None:
    """Deployments changed since the mark (a new status moves ``updated_at``), each with its statuses: per
    deployment from REST, or with GraphQL for a whole page of deployments in one query."""
    if not ctx.wants("deployments"):
        return
    owner, name = _names(repo)
    sweep = Sweep(ctx, repo["full_name"], "deployments")
    mark = _mark(sweep, "updated_at", ctx)
    floors = [parse_time(mark) - DEPLOYMENT_LOOKBACK if mark else None, ctx.since]
    floor = max((f for f in floors if f is not None), default=None)
    for page, items, start in sweep.walk("list", path("deployments", owner=owner, repo=name),
                                         _params("deployments"),
                                         resource="deployments", conditional="first"):
        if page.status == 304:
            sweep.stop_walk("list")
            break
        recent = [d for d in items if floor is None or parse_time(d["created_at"]) >= floor]
        changed = [d for d in recent if (mark is None or d["updated_at"] > mark) and _in_range(ctx, d["created_at"])]
        if ctx.graphql:
            from backfill.graphql_flows import deployment_statuses

            statuses = deployment_statuses(ctx, sweep, changed)  # the whole page's: the same query on a resume
        for index in range(start, len(items)):
            dep = items[index]
            if floor is not None and parse_time(dep["created_at"]) < floor:
                sweep.stop_walk("list")
                break
            sweep.data["top"] = later(sweep.data.get("top"), dep.get("updated_at"))
            if (mark is None or dep["updated_at"] > mark) and _in_range(ctx, dep["created_at"]):
                if ctx.graphql:
                    found, spage = statuses.get(dep["id"], ([], None))
                else:
                    url = path("deployment_statuses", owner=owner, repo=name, id=dep["id"])
                    listed, spage = sweep.fetch_all(url, _params("deployment_statuses"),
                                                    resource="deployment_statuses", missing_ok=True)
                    found = list(reversed(listed))  # listed newest first
                sweep.publish([_env(ctx, "deployment", dep, page, repo)] +
                              ([_env(ctx, "deployment_status", s, spage, repo, extra={"deployment": dep})
                                for s in found] if spage is not None else []))
            sweep.item_done("list", index)
    sweep.finish({"updated_at": later(sweep.data.get("top"), mark)})


# --- issues -------------------------------------------------------------------------------------------

def issues(ctx: RunContext, repo: Json) -> None:
    """Issues updated since the mark, newest update first (a stable first page: 304 when nothing changed)."""
    if not ctx.wants("issues"):
        return
    owner, name = _names(repo)
    sweep = Sweep(ctx, repo["full_name"], "issues")
    mark = _mark(sweep, "updated_at", ctx)
    for page, items, start in sweep.walk("list", path("issues", owner=owner, repo=name), _params("issues"),
                                         resource="issues", conditional="first"):
        if page.status == 304:
            sweep.stop_walk("list")
            break
        fresh = [i for i in items[start:] if mark is None or i["updated_at"] > mark]
        chosen = [i for i in fresh if "pull_request" not in i and _in_range(ctx, i["updated_at"])]
        sweep.publish([_env(ctx, "issue", i, page, repo) for i in chosen])  # pull requests come with `pulls`
        sweep.data["top"] = later(sweep.data.get("top"), max((i["updated_at"] for i in items), default=None))
        if items:
            sweep.item_done("list", len(items) - 1)
        if len(fresh) < len(items) - start:
            sweep.stop_walk("list")
    sweep.finish({"updated_at": later(sweep.data.get("top"), mark)})


def utc_now() -> datetime:
    return datetime.now(UTC)
