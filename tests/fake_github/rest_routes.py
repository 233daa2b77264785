"""The history endpoints of the fake GitHub REST API: owners, repositories, commits, activity, pull requests,
reviews, issue events, checks, workflow runs, deployments, issues, members and teams.

Orders, filters and caps follow GitHub's documentation for each endpoint, because the backfill's stopping
rules depend on them (e.g. ``/pulls?sort=updated&direction=desc``, the 1,000-result cap of filtered
workflow-run listings, ``check-runs?filter=latest`` returning one run per name).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fake_github.server import Answer, FakeGitHub, Request, cursor_page, paginate
from tests.fake_github.state import API, Json, RepoState, user

_DETAIL_ONLY = ("merged", "mergeable", "rebaseable", "mergeable_state", "merged_by", "comments",
                "review_comments",
                "maintainer_can_modify", "commits", "additions", "deletions", "changed_files")
NOT_FOUND = Answer(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
WORKFLOW_RUN_CAP = 1000


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _repo(fake: FakeGitHub, req: Request) -> RepoState | None:
    return fake.state.repo(req.params["owner"], req.params["repo"])


def _sorted(items: list[Json], key: str, direction: str) -> list[Json]:
    return sorted(items, key=lambda i: (i.get(key) or "", i.get("id") or 0), reverse=direction == "desc")


# --- owners and repositories --------------------------------------------------------------------------

def rate_limit(fake: FakeGitHub, req: Request) -> Answer:
    h = fake.rate_headers(req.token)
    core = {"limit": int(h["X-RateLimit-Limit"]), "remaining": int(h["X-RateLimit-Remaining"]),
            "reset": int(h["X-RateLimit-Reset"]), "used": int(h["X-RateLimit-Used"])}
    return Answer(200, {"resources": {"core": core}, "rate": core}, counted=False)


def get_user(fake: FakeGitHub, req: Request) -> Answer:
    owner = fake.state.owner(req.params["login"])
    return Answer(200, owner.account()) if owner else NOT_FOUND


def get_authenticated(fake: FakeGitHub, req: Request) -> Answer:
    users = [o for o in fake.state.owners.values() if o.type == "User"]
    return Answer(200, users[0].account() if users else user("backfill-bot", 1))


def get_org(fake: FakeGitHub, req: Request) -> Answer:
    owner = fake.state.owner(req.params["org"])
    if owner is None or owner.type != "Organization":
        return NOT_FOUND
    return Answer(200, owner.account())


def list_repos(fake: FakeGitHub, req: Request) -> Answer:
    owner = fake.state.owner(req.params.get("org") or req.params.get("login") or "")
    if owner is None:
        return NOT_FOUND
    repos = [fake.state.repos[name].repo for name in owner.repos]
    sort = req.query.get("sort", "full_name")
    direction = req.query.get("direction", "asc" if sort == "full_name" else "desc")
    return paginate(fake, req, _sorted(repos, sort if sort != "full_name" else "full_name", direction))


def get_repo(fake: FakeGitHub, req: Request) -> Answer:
    repo = _repo(fake, req)
    return Answer(200, repo.repo) if repo else NOT_FOUND


# --- commits and activity -----------------------------------------------------------------------------

def list_commits(fake: FakeGitHub, req: Request) -> Answer:
    repo = _repo(fake, req)
    if repo is None:
        return NOT_FOUND
    if not repo.commits:
        return Answer(409, {"message": "Git Repository is empty."})
    commits = repo.commits
    ref = req.query.get("sha")
    if ref and ref != repo.repo.get("default_branch"):
        shas = [c["sha"] for c in commits]
        if ref not in shas:
            return Answer(404, {"message": "No commit found for SHA: " + ref})
        commits = commits[shas.index(ref):]
    since, until = _time(req.query.get("since")), _time(req.query.get("until"))
    picked = [c for c in commits
              if (since is None or _time(c["commit"]["committer"]["date"]) >= since)  # type: ignore[operator]
              and (until is None
                   or _time(c["commit"]["committer"]["date"]) <= until)]  # type: ignore[operator]
    return paginate(fake, req, picked)


def compare(fake: FakeGitHub, req: Request) -> Answer:
    """Commits reachable from head and not from base (``git log base..head``), oldest first, at most 250."""
    repo = _repo(fake, req)
    if repo is None:
        return NOT_FOUND
    base, _, head = req.params["spec"].partition("...")
    by_sha = {c["sha"]: c for c in repo.commits}
    if head == repo.repo.get("default_branch") and repo.commits:
        head = repo.commits[0]["sha"]
    if base not in by_sha or head not in by_sha:
        return NOT_FOUND

    def ancestors(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            sha = todo.pop()
            if sha in seen or sha not in by_sha:
                continue
            seen.add(sha)
            todo.extend(p["sha"] for p in by_sha[sha]["parents"])
        return seen

    ahead = ancestors(head) - ancestors(base)
    behind = ancestors(base) - ancestors(head)
    ordered = [c for c in reversed(repo.commits) if c["sha"] in ahead]
    status = ("identical" if not ahead and not behind else "ahead" if not behind
              else "behind" if not ahead else "diverged")
    return Answer(200, {"status": status, "ahead_by": len(ahead), "behind_by": len(behind),
                        "total_commits": len(ahead), "base_commit": by_sha[base], "commits": ordered[:250],
                        "files": []})


def list_activity(fake: FakeGitHub, req: Request) -> Answer:
    repo = _repo(fake, req)
    if repo is None:
        return NOT_FOUND
    items = list(repo.activity)
    ref = req.query.get("ref")
    if ref:
        full = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
        items = [a for a in items if a["ref"] == full]
    if req.query.get("activity_type"):
        items = [a for a in items if a["activity_type"] == req.query["activity_type"]]
    if req.query.get("actor"):
        items = [a for a in items if (a.get("actor") or {}).get("login") == req.query["actor"]]
    if req.query.get("direction") == "asc":
        items.reverse()
    return cursor_page(fake, req, items, param="after")


# --- pull requests ------------------------------------------------------------------------------------

def list_pulls(fake: FakeGitHub, req: Request) -> Answer:
    repo = _repo(fake, req)
    if repo is None:
        return NOT_FOUND
    state = req.query.get("state", "open")
    pulls = [p for p in repo.pulls.values() if state == "all" or p["state"] == state]
    asked = req.query.get("sort", "created")
    sort = "updated_at" if asked == "updated" else "created_at"
    direction = req.query.get("direction", "desc" if asked == "created" else "asc")
    simple = [{k: v for k, v in p.items() if k not in _DETAIL_ONLY} for p in _sorted(pulls, sort, direction)]
    return paginate(fake, req, simple)


def get_pull(fake: FakeGitHub, req: Request) -> Answer:
    repo = _repo(fake, req)
    pull = repo.pulls.get(int(req.params["number"])) if repo else None
    return Answer(200, pull) if pull else NOT_FOUND


def list_reviews(fake: FakeGitHub, req: Request) -> Answer:
    repo = _repo(fake, req)
    number = int(req.params["number"])
    if repo is None or number not in repo.pulls:
        return NOT_FOUND
    return paginate(fake, req, repo.reviews.get(number, []))


def list_pull_commits(fake: FakeGitHub, req: Request) -> Answer:
    repo = _repo(fake, req)
    number = int(req.params["number"])
    if repo is None or number not in repo.pulls:
        return NOT_FOUND
    return paginate(fake, req, repo.pr_commits.get(number, []), cap=250)


def list_issue_events(fake: FakeGitHub, req: Request) -> Answer:
    repo = _repo(fake, req)
    return paginate(fake, req, repo.issue_events) if repo else NOT_FOUND


# --- checks and actions -------------------------------------------------------------------------------

def list_check_runs(fake: FakeGitHub, req: Request) -> Answer:
    repo = _repo(fake, req)
    if repo is None:
        return NOT_FOUND
    runs = sorted(repo.check_runs.get(req.params["ref"], []), key=lambda r: r["id"], reverse=True)
    if req.query.get("filter", "latest") == "latest":
        latest: dict[str, Json] = {}
        for run in runs:  # newest first: the first run of each name is its latest
            latest.setdefault(run["name"], run)
        runs = list(latest.values())
    if req.query.get("check_name"):
        runs = [r for r in runs if r["name"] == req.query["check_name"]]
    return paginate(fake, req, runs, wrap="check_runs")


def list_check_suites(fake: FakeGitHub, req: Request) -> Answer:
    repo = _repo(fake, req)
    if repo is None:
        return NOT_FOUND
    return paginate(fake, req, repo.check_suites.get(req.params["ref"], []), wrap="check_suites")


def _range(text: str) -> tuple[datetime, datetime]:
    """GitHub's search-style date qualifier: ``X``, ``>=X``, ``<=X``, ``>X``, ``<X``, ``X..Y`` with ``*``."""
    low, high = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)

    def bound(value: str, upper: bool) -> datetime:
        if value == "*":
            return high if upper else low
        if "T" in value:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        day = datetime.fromisoformat(value).replace(tzinfo=UTC)
        return day + timedelta(days=1) - timedelta(microseconds=1) if upper else day

    if ".." in text:
        first, _, last = text.partition("..")
        return bound(first, False), bound(last, True)
    comparisons = ((">=", True, True), ("<=", False, True), (">", True, False), ("<", False, False))
    for prefix, lower, inclusive in comparisons:
        if text.startswith(prefix):
            value = bound(text[len(prefix):], not lower if inclusive else lower)
            step = timedelta(seconds=0 if inclusive else 1) if "T" in text else timedelta(0)
            return (value + step, high) if lower else (low, value - step)
    return bound(text, False), bound(text, True)


def list_workflow_runs(fake: FakeGitHub, req: Request) -> Answer:
    repo = _repo(fake, req)
    if repo is None:
        return NOT_FOUND
    runs = list(repo.workflow_runs)
    filtered = False
    if req.query.get("created"):
        low, high = _range(req.query["created"])
        runs = [r for r in runs if low <= _time(r["created_at"]) <= high]  # type: ignore[operator]
        filtered = True
    for name in ("head_sha", "event", "status"):
        if req.query.get(name):
            runs = [r for r in runs if r.get(name) == req.query[name]]
            filtered = True
    # "This endpoint will return up to 1,000 results for each search when using the following parameters:
    # actor, branch, check_suite_id, created, event, head_sha, status." total_count is still the full count.
    capped = filtered or getattr(fake, "cap_unfiltered_runs", False)
    return paginate(fake, req, runs, wrap="workflow_runs",
                    cap=getattr(fake, "workflow_run_cap", WORKFLOW_RUN_CAP) if capped else None)


# --- deployments and issues ---------------------------------------------------------------------------

def list_deployments(fake: FakeGitHub, req: Request) -> Answer:
    repo = _repo(fake, req)
    if repo is None:
        return NOT_FOUND
    items = [d for d in repo.deployments
             if all(not req.query.get(k) or d.get(k) == req.query[k]
                    for k in ("sha", "ref", "task", "environment"))]
    return paginate(fake, req, items)


def list_statuses(fake: FakeGitHub, req: Request) -> Answer:
    repo = _repo(fake, req)
    dep_id = int(req.params["id"])
    if repo is None or all(d["id"] != dep_id for d in repo.deployments):
        return NOT_FOUND
    return paginate(fake, req, repo.statuses.get(dep_id, []))


def list_issues(fake: FakeGitHub, req: Request) -> Answer:
    repo = _repo(fake, req)
    if repo is None:
        return NOT_FOUND
    state = req.query.get("state", "open")
    items = [i for i in repo.issues if state == "all" or i["state"] == state]
    since = _time(req.query.get("since"))
    if since is not None:
        items = [i for i in items if _time(i["updated_at"]) >= since]  # type: ignore[operator]
    sort = "updated_at" if req.query.get("sort") == "updated" else "created_at"
    return paginate(fake, req, _sorted(items, sort, req.query.get("direction", "desc")))


# --- organisation membership ----------------------------------------------------------------------------

def list_members(fake: FakeGitHub, req: Request) -> Answer:
    owner = fake.state.owner(req.params["org"])
    if owner is None or owner.type != "Organization":
        return NOT_FOUND
    role = req.query.get("role", "all")
    members = [u for u, r in owner.members.values() if role == "all" or r == role]
    return paginate(fake, req, sorted(members, key=lambda u: u["id"]))


def list_teams(fake: FakeGitHub, req: Request) -> Answer:
    owner = fake.state.owner(req.params["org"])
    if owner is None or owner.type != "Organization":
        return NOT_FOUND
    return paginate(fake, req, sorted(owner.teams.values(), key=lambda t: t["id"]))


def list_team_members(fake: FakeGitHub, req: Request) -> Answer:
    owner = fake.state.owner(req.params["org"])
    if owner is None or req.params["slug"] not in owner.teams:
        return NOT_FOUND
    return paginate(fake, req, owner.team_members.get(req.params["slug"], []))


_PERMISSIONS = ("pull", "triage", "push", "maintain", "admin")
_ROLE_NAMES = {"pull": "read", "triage": "triage", "push": "write", "maintain": "maintain", "admin": "admin"}


def list_team_repos(fake: FakeGitHub, req: Request) -> Answer:
    owner = fake.state.owner(req.params["org"])
    if owner is None or req.params["slug"] not in owner.teams:
        return NOT_FOUND
    items = []
    for full_name, permission in owner.team_repos.get(req.params["slug"], []):
        rank = _PERMISSIONS.index(permission)
        items.append({**fake.state.repos[full_name].repo, "role_name": _ROLE_NAMES[permission],
                      "permissions": {p: i <= rank for i, p in enumerate(_PERMISSIONS)}})
    return paginate(fake, req, items)


_OWNER = r"(?P<owner>[^/]+)/(?P<repo>[^/]+)"
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", r"/rate_limit", rate_limit),
    ("GET", r"/user", get_authenticated),
    ("GET", r"/users/(?P<login>[^/]+)", get_user),
    ("GET", r"/users/(?P<login>[^/]+)/repos", list_repos),
    ("GET", r"/orgs/(?P<org>[^/]+)", get_org),
    ("GET", r"/orgs/(?P<org>[^/]+)/repos", list_repos),
    ("GET", r"/orgs/(?P<org>[^/]+)/members", list_members),
    ("GET", r"/orgs/(?P<org>[^/]+)/teams", list_teams),
    ("GET", r"/orgs/(?P<org>[^/]+)/teams/(?P<slug>[^/]+)/members", list_team_members),
    ("GET", r"/orgs/(?P<org>[^/]+)/teams/(?P<slug>[^/]+)/repos", list_team_repos),
    ("GET", rf"/repos/{_OWNER}", get_repo),
    ("GET", rf"/repos/{_OWNER}/commits", list_commits),
    ("GET", rf"/repos/{_OWNER}/compare/(?P<spec>[^/]+)", compare),
    ("GET", rf"/repos/{_OWNER}/activity", list_activity),
    ("GET", rf"/repos/{_OWNER}/pulls", list_pulls),
    ("GET", rf"/repos/{_OWNER}/pulls/(?P<number>\d+)", get_pull),
    ("GET", rf"/repos/{_OWNER}/pulls/(?P<number>\d+)/reviews", list_reviews),
    ("GET", rf"/repos/{_OWNER}/pulls/(?P<number>\d+)/commits", list_pull_commits),
    ("GET", rf"/repos/{_OWNER}/issues/events", list_issue_events),
    ("GET", rf"/repos/{_OWNER}/commits/(?P<ref>[^/]+)/check-runs", list_check_runs),
    ("GET", rf"/repos/{_OWNER}/commits/(?P<ref>[^/]+)/check-suites", list_check_suites),
    ("GET", rf"/repos/{_OWNER}/actions/runs", list_workflow_runs),
    ("GET", rf"/repos/{_OWNER}/deployments", list_deployments),
    ("GET", rf"/repos/{_OWNER}/deployments/(?P<id>\d+)/statuses", list_statuses),
    ("GET", rf"/repos/{_OWNER}/issues", list_issues),
]

__all__ = ["API", "ROUTES"]
