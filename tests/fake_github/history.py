"""One history, two views: tests/scenario/ renders a :class:`History` as webhook deliveries; this module
renders the same history as the REST state GitHub would serve once it had all happened.

Objects that the webhook payloads also carry (repositories, pull requests, deployments) are built with the
scenario's own helpers, so both views agree on every field the warehouse reads; REST-only shapes (commits
with parents, activity, issue events, reviews with upper-case states, check runs listed per SHA) follow
tests/fixtures/rest/*.json.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime

from tests import scenario as sc
from tests.fake_github.state import API, Json, OwnerState, RepoState, RestState

ZERO = "0" * 40
_APP = {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"}


def rest_state(history: sc.History, *, owner: str = sc.ORG, owner_id: int = sc.ORG_ID) -> RestState:
    state = RestState()
    org = state.add_owner(owner, owner_id, "Organization")
    ids = itertools.count(70_000_001)
    last_push: dict[int, datetime] = {}
    for push in history.pushes:
        last_push[push.repo.id] = max(last_push.get(push.repo.id, push.at), push.at)
    repos: dict[int, RepoState] = {}
    for repo in history.repos:
        data = sc._repo(repo)
        if repo.id in last_push:
            data["pushed_at"] = sc._iso(last_push[repo.id])
        repos[repo.id] = state.add_repo(org, data)
    _commits_and_activity(history, repos, ids)
    _pull_requests(history, repos, ids)
    _checks(history, repos)
    _workflow_runs(history, repos)
    _deployments(history, repos)
    _issues(history, repos, ids)
    _organisation(history, org)
    return state


def _person(commit: sc.Commit) -> Json:
    return {"name": commit.author.login,
            "email": f"{commit.author.id}+{commit.author.login}@users.noreply.github.com",
            "date": sc._iso(commit.committed_at)}


def rest_commit(commit: sc.Commit, repo: sc.Repo, parents: list[str]) -> Json:
    url = f"{API}/repos/{repo.full_name}/commits/{commit.sha}"
    return {
        "url": url, "sha": commit.sha, "node_id": f"C_{commit.sha[:12]}",
        "html_url": f"https://github.com/{repo.full_name}/commit/{commit.sha}",
        "comments_url": f"{url}/comments",
        "commit": {"url": f"{API}/repos/{repo.full_name}/git/commits/{commit.sha}", "author": _person(commit),
                   "committer": _person(commit), "message": commit.message,
                   "tree": {"url": f"{API}/repos/{repo.full_name}/git/trees/{sc.sha('tree-' + commit.name)}",
                            "sha": sc.sha(f"tree-{commit.name}")},
                   "comment_count": 0,
                   "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                    "payload": None}},
        "author": sc._user(commit.author), "committer": sc._user(commit.author),
        "parents": [{"url": f"{API}/repos/{repo.full_name}/commits/{p}", "sha": p,
                     "html_url": f"https://github.com/{repo.full_name}/commit/{p}"} for p in parents],
    }


def _commits_and_activity(history: sc.History, repos: dict[int, RepoState],
                          ids: itertools.count[int]) -> None:
    """Parents as git would have them: a commit's parent is what its branch pointed at when it was first
    pushed (a new branch starts at the default branch's head), and a commit first pushed right after an
    existing one that it brings onto the branch is a merge of the two."""
    landed: dict[int, list[Json]] = defaultdict(list)
    parents: dict[tuple[int, str], list[str]] = {}
    on_default: set[tuple[int, str]] = set()
    heads: dict[int, str] = {}  # the default branch's head so far
    activity: dict[int, list[tuple[datetime, Json]]] = defaultdict(list)
    for push in sorted(history.pushes, key=lambda p: p.at):
        rid = push.repo.id
        before = push.before if push.before != ZERO else heads.get(rid, ZERO)
        previous: str | None = None
        introduced: set[str] = set()
        for commit in push.commits:
            if (rid, commit.sha) not in parents:
                if previous is None:
                    first = [before]
                elif previous not in introduced and previous != before:
                    first = [before, previous]  # merges a commit that came from another branch
                else:
                    first = [previous]
                parents[(rid, commit.sha)] = [p for p in first if p != ZERO]
                introduced.add(commit.sha)
            previous = commit.sha
        if push.branch == push.repo.default_branch:
            for commit in push.commits:
                if (rid, commit.sha) not in on_default:
                    on_default.add((rid, commit.sha))
                    landed[rid].append(rest_commit(commit, push.repo, parents[(rid, commit.sha)]))
            heads[rid] = push.commits[-1].sha
        kind = "branch_creation" if push.before == ZERO else "push"
        activity[push.repo.id].append((push.at, {
            "id": next(ids), "node_id": f"RA_{push.repo.id}_{len(activity[push.repo.id])}",
            "before": push.before,
            "after": push.commits[-1].sha, "ref": f"refs/heads/{push.branch}", "timestamp": sc._iso(push.at),
            "activity_type": kind, "actor": sc._user(push.pusher)}))
    for repo, ref, _created, deleted in history.branches:
        tip = next((p.commits[-1].sha for p in sorted(history.pushes, key=lambda p: p.at, reverse=True)
                    if p.repo == repo and p.branch == ref), ZERO)
        activity[repo.id].append((deleted, {
            "id": next(ids), "node_id": f"RA_{repo.id}_del_{ref}", "before": tip, "after": ZERO,
            "ref": f"refs/heads/{ref}", "timestamp": sc._iso(deleted), "activity_type": "branch_deletion",
            "actor": sc._user(sc.BOB)}))
    for repo_id, state in repos.items():
        state.commits = list(reversed(landed[repo_id]))
        state.activity = [item for _, item in sorted(activity[repo_id], key=lambda a: (a[0], a[1]["id"]),
                                                     reverse=True)]


_TRANSITIONS = {"ready_for_review": "ready_for_review", "converted_to_draft": "convert_to_draft",
                "closed": "closed", "reopened": "reopened"}


def _issue_ref(number: int, title: str, repo: sc.Repo, issue_id: int, pull: bool) -> Json:
    ref: Json = {"id": issue_id, "node_id": f"I_{issue_id}", "number": number, "title": title,
                 "url": f"{API}/repos/{repo.full_name}/issues/{number}",
                 "html_url": f"https://github.com/{repo.full_name}/{'pull' if pull else 'issues'}/{number}"}
    if pull:
        ref["pull_request"] = {"url": f"{API}/repos/{repo.full_name}/pulls/{number}",
                               "html_url": f"https://github.com/{repo.full_name}/pull/{number}"}
    return ref


def _event(ids: itertools.count[int], repo: sc.Repo, event: str, actor: sc.User, at: datetime, issue: Json,
           **extra: object) -> tuple[datetime, Json]:
    event_id = next(ids)
    return at, {"id": event_id, "node_id": f"IE_{event_id}",
                "url": f"{API}/repos/{repo.full_name}/issues/events/{event_id}",
                "actor": sc._user(actor), "event": event, "commit_id": None, "commit_url": None,
                "created_at": sc._iso(at), "issue": issue, "performed_via_github_app": None, **extra}


def _pull_requests(history: sc.History, repos: dict[int, RepoState], ids: itertools.count[int]) -> None:
    events: dict[int, list[tuple[datetime, Json]]] = defaultdict(list)
    for pr in history.pull_requests:
        state = repos[pr.repo.id]
        detail = sc._pr_snapshot(pr, len(pr.steps) - 1)
        state.pulls[pr.number] = detail
        state.pr_commits[pr.number] = [rest_commit(pr.head, pr.repo, [])]
        issue_id = pr.id + 50_000_000
        ref = _issue_ref(pr.number, pr.title, pr.repo, issue_id, pull=True)
        for step in pr.steps:
            if step.action == "closed" and step.merged:
                events[pr.repo.id].append(_event(ids, pr.repo, "merged", step.actor, step.at, ref,
                                                 commit_id=detail["merge_commit_sha"]))
            if step.action in _TRANSITIONS:
                events[pr.repo.id].append(_event(ids, pr.repo, _TRANSITIONS[step.action], step.actor,
                                                 step.at, ref))
        state.issues.append({
            **ref, "user": sc._user(pr.author), "labels": [], "state": detail["state"], "locked": False,
            "assignee": None, "assignees": [], "milestone": None, "comments": 0,
            "created_at": detail["created_at"],
            "updated_at": detail["updated_at"], "closed_at": detail["closed_at"],
            "author_association": "MEMBER",
            "body": None, "pull_request": {**ref["pull_request"], "merged_at": detail["merged_at"]}})
    for review in sorted(history.reviews, key=lambda r: (r.at, r.id)):
        pr = review.pr
        repo = pr.repo.full_name
        repos[pr.repo.id].reviews.setdefault(pr.number, []).append({
            "id": review.id, "node_id": f"PRR_{review.id}", "user": sc._user(review.reviewer), "body": None,
            "state": "DISMISSED" if review.dismissed_at else review.state.upper(),
            "html_url": f"https://github.com/{repo}/pull/{pr.number}#pullrequestreview-{review.id}",
            "pull_request_url": f"{API}/repos/{repo}/pulls/{pr.number}", "author_association": "MEMBER",
            "_links": {"html": {"href": f"https://github.com/{repo}/pull/{pr.number}#pullrequestreview-{review.id}"},
                       "pull_request": {"href": f"{API}/repos/{repo}/pulls/{pr.number}"}},
            "submitted_at": sc._iso(review.at), "commit_id": pr.head.sha})
    for issue in history.issues:
        ref = _issue_ref(issue.number, issue.title, issue.repo, issue.id, pull=False)
        for change in issue.steps:
            if change.action == "labeled" and change.label:
                events[issue.repo.id].append(_event(ids, issue.repo, "labeled", issue.author, change.at, ref,
                                                    label={"name": change.label, "color": "d73a4a"}))
            elif change.action in ("closed", "reopened"):
                events[issue.repo.id].append(_event(ids, issue.repo, change.action, issue.author, change.at,
                                                    ref))
    for repo_id, state in repos.items():
        state.issue_events = [e for _, e in sorted(events[repo_id], key=lambda e: (e[0], e[1]["id"]),
                                                   reverse=True)]


def _checks(history: sc.History, repos: dict[int, RepoState]) -> None:
    suites: dict[int, list[sc.CheckRun]] = defaultdict(list)
    for run in history.check_runs:
        suites[run.suite_id].append(run)
        full = run.repo.full_name
        repos[run.repo.id].check_runs.setdefault(run.head.sha, []).append({
            "id": run.id, "node_id": f"CR_{run.id}", "head_sha": run.head.sha, "external_id": "",
            "url": f"{API}/repos/{full}/check-runs/{run.id}",
            "html_url": f"https://github.com/{full}/runs/{run.id}",
            "details_url": f"https://github.com/{full}/runs/{run.id}", "status": "completed",
            "conclusion": run.conclusion, "started_at": sc._iso(run.started_at),
            "completed_at": sc._iso(run.completed_at),
            "output": {"title": None, "summary": None, "text": None, "annotations_count": 0,
                       "annotations_url": f"{API}/repos/{full}/check-runs/{run.id}/annotations"},
            "name": run.name, "check_suite": {"id": run.suite_id}, "app": dict(_APP), "pull_requests": []})
    for suite_id, members in sorted(suites.items()):
        failed = any(r.conclusion in ("failure", "timed_out") for r in members)
        head = members[0].head.sha
        repos[members[0].repo.id].check_suites.setdefault(head, []).append({
            "id": suite_id, "node_id": f"CS_{suite_id}", "head_branch": "main", "head_sha": head,
            "status": "completed", "conclusion": "failure" if failed else "success",
            "url": f"{API}/repos/{members[0].repo.full_name}/check-suites/{suite_id}", "before": None,
            "after": head,
            "pull_requests": [], "app": dict(_APP), "created_at": sc._iso(min(r.started_at for r in members)),
            "updated_at": sc._iso(max(r.completed_at for r in members)),
            "latest_check_runs_count": len(members)})


def _workflow_runs(history: sc.History, repos: dict[int, RepoState]) -> None:
    for run in history.workflow_runs:
        last = run.attempts[-1]
        full = run.repo.full_name
        repos[run.repo.id].workflow_runs.append({
            "id": run.id, "name": run.name, "node_id": f"WR_{run.id}", "head_branch": "main",
            "head_sha": run.head.sha, "path": ".github/workflows/ci.yml", "display_title": run.name,
            "run_number": run.id % 1000, "event": "push", "status": "completed",
            "conclusion": last.conclusion,
            "workflow_id": 77, "check_suite_id": 200_000 + run.id,
            "url": f"{API}/repos/{full}/actions/runs/{run.id}",
            "html_url": f"https://github.com/{full}/actions/runs/{run.id}", "pull_requests": [],
            "created_at": sc._iso(run.attempts[0].started_at), "updated_at": sc._iso(last.completed_at),
            "actor": sc._user(run.actor), "triggering_actor": sc._user(run.actor),
            "run_attempt": len(run.attempts),
            "run_started_at": sc._iso(last.started_at)})
    for state in repos.values():
        state.workflow_runs.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)


def _deployments(history: sc.History, repos: dict[int, RepoState]) -> None:
    for dep in history.deployments:
        state = repos[dep.repo.id]
        updated = max(s.at for s in dep.statuses) if dep.statuses else dep.created_at
        state.deployments.append(sc._deployment_body(dep, updated))
        url = f"{API}/repos/{dep.repo.full_name}/deployments/{dep.id}"
        state.statuses[dep.id] = [
            {"url": f"{url}/statuses/{s.id}", "id": s.id, "node_id": f"DES_{s.id}", "state": s.state,
             "creator": sc._user(dep.creator), "description": "", "environment": dep.environment,
             "target_url": "", "log_url": "", "environment_url": "", "deployment_url": url,
             "repository_url": f"{API}/repos/{dep.repo.full_name}", "created_at": sc._iso(s.at),
             "updated_at": sc._iso(s.at)}
            for s in sorted(dep.statuses, key=lambda s: (s.at, s.id), reverse=True)]
    for state in repos.values():
        state.deployments.sort(key=lambda d: d["id"], reverse=True)


def _issues(history: sc.History, repos: dict[int, RepoState], ids: itertools.count[int]) -> None:
    for issue in history.issues:
        labels, state, closed_at = list(issue.labels), "open", None
        for step in issue.steps:
            if step.action == "labeled" and step.label:
                labels.append(step.label)
            elif step.action == "closed":
                state, closed_at = "closed", step.at
            elif step.action == "reopened":
                state, closed_at = "open", None
        repos[issue.repo.id].issues.append({
            **_issue_ref(issue.number, issue.title, issue.repo, issue.id, pull=False),
            "user": sc._user(issue.author),
            "labels": [{"id": int(sc.sha(n)[:8], 16), "name": n, "color": "d73a4a",
                        "default": False} for n in labels],
            "state": state, "locked": False, "assignee": None, "assignees": [], "milestone": None,
            "comments": 0,
            "created_at": sc._iso(issue.steps[0].at), "updated_at": sc._iso(issue.steps[-1].at),
            "closed_at": sc._iso(closed_at) if closed_at else None, "author_association": "MEMBER",
            "body": None})


def _organisation(history: sc.History, org: OwnerState) -> None:
    """Membership as it stands after every organisation event of the history."""
    for ev in sorted(history.org_events, key=lambda e: e.at):
        slug = ev.team[1] if ev.team else None
        if ev.team and slug and ev.action in ("created", "added",
                                              "added_to_repository") and slug not in org.teams:
            team_id = ev.team[0]
            org.teams[slug] = {"id": team_id, "node_id": f"T_{team_id}", "url": f"{API}/teams/{team_id}",
                               "html_url": f"https://github.com/orgs/{org.login}/teams/{slug}", "name": slug,
                               "slug": slug, "description": None, "privacy": "closed",
                               "notification_setting": "notifications_enabled", "permission": "push",
                               "members_url": f"{API}/teams/{team_id}/members{{/member}}",
                               "repositories_url": f"{API}/teams/{team_id}/repos", "parent": None}
        if ev.event == "organization" and ev.user:
            if ev.action == "member_added":
                org.members[ev.user.login] = (sc._user(ev.user), "member")
            elif ev.action == "member_removed":
                org.members.pop(ev.user.login, None)
        elif ev.event == "team" and slug:
            if ev.action == "deleted":
                org.teams.pop(slug, None)
            elif ev.action == "added_to_repository" and ev.repo:
                org.team_repos.setdefault(slug, []).append((ev.repo.full_name, "push"))
            elif ev.action == "removed_from_repository" and ev.repo:
                org.team_repos[slug] = [r for r in org.team_repos.get(slug, []) if r[0] != ev.repo.full_name]
        elif ev.event == "membership" and slug and ev.user:
            members = org.team_members.setdefault(slug, [])
            if ev.action == "added" and all(m["login"] != ev.user.login for m in members):
                members.append(sc._user(ev.user))
            elif ev.action == "removed":
                org.team_members[slug] = [m for m in members if m["login"] != ev.user.login]
