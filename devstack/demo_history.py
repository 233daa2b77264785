"""A recent history of one organisation for `pillarstream demo`, so every dashboard has something to show.

Built from the real GitHub payloads bundled in ``pillarstream/demo_deliveries`` (octokit/webhooks
examples): each delivery is one of them with its identities, repository, organisation and times rewritten.
The story, for the organisation ``Octocoders`` and two repositories, each owned by a team (the teams come
first, so every day's figures also count for its team), on each of the last ``DAYS`` days (times relative to
now, so Superset's default last-28-days view covers it): a push of two commits to the default branch, a pull
request opened, reviewed by a colleague and merged, check runs (one flaky: a failure then a success on the same
commit every third day), a CI workflow run of the pushed head (failed every fifth day), a production deployment
of the pushed head (a failed attempt first every fourth day); and two incidents, opened and closed a few hours
later. A ``team`` delivery's team is GitHub's REST example of a team (``rest.list-teams.json``), renamed.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

ORG = "Octocoders"
DAYS = 21
PEOPLE = [("Codertocat", 21031067), ("octocat", 583231), ("monalisa", 2), ("hubot", 480938)]
REPOS = [(186853002, "Hello-World", "Python"), (186853003, "Hello-Service", "Go")]
TEAMS = [(3100001, "web", "Web"), (3100002, "services", "Services")]  # the owners of REPOS, in that order
INCIDENT_DAYS = (12, 3)  # days ago


def templates() -> dict[str, dict[str, Any]]:
    """The bundled payloads by file name without ``.json`` (``push``, ``push.to-default-branch``, ...)."""
    folder = resources.files("pillarstream") / "demo_deliveries"
    return {item.name.removesuffix(".json"): json.loads(item.read_bytes())
            for item in folder.iterdir() if item.name.endswith(".json") and not item.name.startswith("rest.")}


def team_template() -> dict[str, Any]:
    """GitHub's REST example of a team: a ``team`` delivery carries the same object."""
    teams: list[dict[str, Any]] = json.loads(
        (resources.files("pillarstream") / "demo_deliveries" / "rest.list-teams.json").read_bytes())
    return teams[0]


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - a made-up commit id, not security


class _History:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.t = templates()
        self.org = self.t["pull_request"]["organization"]
        self.deliveries: list[tuple[datetime, str, dict[str, Any]]] = []
        self.heads = {repo_id: _sha(f"root-{repo_id}") for repo_id, _, _ in REPOS}

    def user(self, index: int) -> dict[str, Any]:
        login, user_id = PEOPLE[index % len(PEOPLE)]
        user: dict[str, Any] = copy.deepcopy(self.t["pull_request"]["sender"])
        user.update(login=login, id=user_id, type="User", node_id=f"demo-user-{user_id}",
                    html_url=f"https://github.com/{login}")
        return user

    def repository(self, repo: tuple[int, str, str], at: datetime) -> dict[str, Any]:
        repo_id, name, language = repo
        body: dict[str, Any] = copy.deepcopy(self.t["pull_request"]["repository"])
        body.update(id=repo_id, name=name, full_name=f"{ORG}/{name}", language=language, private=False,
                    default_branch="master", updated_at=_time(at), pushed_at=_time(at),
                    html_url=f"https://github.com/{ORG}/{name}", node_id=f"demo-repo-{repo_id}")
        body["owner"] = copy.deepcopy(self.org) | {"type": "Organization"}
        return body

    def add(self, at: datetime, event: str, template: str | None, repo: tuple[int, str, str], sender: int,
            **fields: Any) -> dict[str, Any]:
        body = copy.deepcopy(self.t[template]) if template else {}
        body.update(fields, repository=self.repository(repo, at), organization=copy.deepcopy(self.org),
                    sender=self.user(sender))
        self.deliveries.append((at, event, body))
        return body

    def day(self, ago: int, r: int, repo: tuple[int, str, str]) -> None:
        repo_id, name, _ = repo
        # Events of a day span eight hours ending two hours ago today, so none lies in the future.
        base = self.now - timedelta(days=ago, hours=10) + timedelta(minutes=37 * r)
        author, reviewer = ago + r, ago + r + 1

        commits = []
        for k in range(2):
            sha = _sha(f"{repo_id}-{ago}-{k}")
            person = self.user(author)
            commit = copy.deepcopy(self.t["push.to-default-branch"]["commits"][0])
            commit.update(id=sha, tree_id=_sha(f"tree-{sha}"), message=f"Change {k + 1} of day -{ago}",
                          timestamp=_time(base + timedelta(minutes=5 * k)),
                          url=f"https://github.com/{ORG}/{name}/commit/{sha}",
                          author={"name": person["login"], "username": person["login"],
                                  "email": f"{person['id']}+{person['login']}@users.noreply.github.com"})
            commit["committer"] = dict(commit["author"])
            commits.append(commit)
        before, self.heads[repo_id] = self.heads[repo_id], commits[-1]["id"]
        self.add(base + timedelta(minutes=10), "push", "push.to-default-branch", repo, author,
                 ref="refs/heads/master", before=before, after=commits[-1]["id"], commits=commits,
                 head_commit=commits[-1], created=False, deleted=False, forced=False,
                 compare=f"https://github.com/{ORG}/{name}/compare/{before[:12]}...{commits[-1]['id'][:12]}",
                 pusher={"name": self.user(author)["login"], "email": commits[-1]["author"]["email"]})

        number = 100 + ago * 2 + r
        opened, reviewed, merged = (base + timedelta(minutes=15), base + timedelta(minutes=15 + 40 + 20 * (ago % 4)),
                                    base + timedelta(hours=3 + ago % 3))
        pr = copy.deepcopy(self.t["pull_request"]["pull_request"])
        head = _sha(f"pr-{repo_id}-{number}")
        pr.update(id=900000 + repo_id % 1000 * 1000 + number, number=number, title=f"Improve {name} (#{number})",
                  user=self.user(author), state="open", draft=False, created_at=_time(opened),
                  updated_at=_time(opened), closed_at=None, merged_at=None, merged=False,
                  additions=10 + 7 * (ago % 5), deletions=3 + ago % 4, changed_files=1 + ago % 3,
                  html_url=f"https://github.com/{ORG}/{name}/pull/{number}", requested_reviewers=[],
                  labels=[], assignees=[], assignee=None, milestone=None)
        pr["head"] = copy.deepcopy(pr["head"]) | {"sha": head, "ref": f"change-{number}"}
        pr["base"] = copy.deepcopy(pr["base"]) | {"sha": before, "ref": "master"}
        self.add(opened, "pull_request", "pull_request", repo, author, action="opened", number=number,
                 pull_request=copy.deepcopy(pr))

        review = copy.deepcopy(self.t["pull_request_review"]["review"])
        review.update(id=700000 + repo_id % 1000 * 1000 + number, user=self.user(reviewer), state="approved",
                      submitted_at=_time(reviewed), commit_id=head, body="Looks good")
        self.add(reviewed, "pull_request_review", "pull_request_review", repo, reviewer, action="submitted",
                 review=review, pull_request=copy.deepcopy(pr) | {"updated_at": _time(reviewed)})

        for k, (check, conclusions) in enumerate([("lint", ["success"]),
                                                   ("tests", ["failure", "success"] if ago % 3 == 0 else ["success"])]):
            for attempt, conclusion in enumerate(conclusions):
                started = opened + timedelta(minutes=2 + 10 * attempt + k)
                run = copy.deepcopy(self.t["check_run"]["check_run"])
                run.update(id=500000 + repo_id % 1000 * 10000 + number * 10 + k * 3 + attempt, name=check,
                           head_sha=head, status="completed", conclusion=conclusion, started_at=_time(started),
                           completed_at=_time(started + timedelta(minutes=3 + ago % 5)), pull_requests=[])
                self.add(started + timedelta(minutes=4), "check_run", "check_run", repo, 1, action="completed",
                         check_run=run)

        pr.update(state="closed", merged=True, merged_at=_time(merged), closed_at=_time(merged),
                  updated_at=_time(merged), merge_commit_sha=_sha(f"merge-{repo_id}-{number}"))
        self.add(merged, "pull_request", "pull_request", repo, reviewer, action="closed", number=number,
                 pull_request=pr)

        workflow = copy.deepcopy(self.t["workflow_run"]["workflow_run"])
        run_id = 600000 + repo_id % 1000 * 1000 + ago
        ran = base + timedelta(minutes=12)
        workflow.update(id=run_id, node_id=f"demo-run-{run_id}", name="CI", display_title=commits[-1]["message"],
                        event="push", head_branch="master", head_sha=self.heads[repo_id], status="completed",
                        conclusion="failure" if ago % 5 == 2 else "success", run_number=1000 - ago, run_attempt=1,
                        created_at=_time(ran), run_started_at=_time(ran),
                        updated_at=_time(ran + timedelta(minutes=6 + ago % 4)), pull_requests=[],
                        html_url=f"https://github.com/{ORG}/{name}/actions/runs/{run_id}",
                        actor=self.user(author), triggering_actor=self.user(author))
        workflow["head_commit"] = copy.deepcopy(workflow["head_commit"]) | {
            "id": self.heads[repo_id], "tree_id": commits[-1]["tree_id"], "message": commits[-1]["message"],
            "timestamp": commits[-1]["timestamp"]}
        workflow["repository"] = workflow["head_repository"] = self.repository(repo, ran)
        self.add(ran + timedelta(minutes=6 + ago % 4), "workflow_run", "workflow_run", repo, author,
                 action="completed", workflow_run=workflow,
                 workflow=copy.deepcopy(self.t["workflow_run"]["workflow"]) | {"name": "CI"})

        deployment = copy.deepcopy(self.t["deployment_status"]["deployment"])
        deployed = merged + timedelta(minutes=30)
        deployment.update(id=300000 + repo_id % 1000 * 1000 + ago, sha=self.heads[repo_id], ref="master",
                          environment="production", original_environment="production",
                          creator=self.user(author), created_at=_time(deployed), updated_at=_time(deployed))
        for attempt, state in enumerate(["failure", "success"] if ago % 4 == 0 else ["success"]):
            at = deployed + timedelta(minutes=10 * attempt)
            status = copy.deepcopy(self.t["deployment_status"]["deployment_status"])
            status_id = 400000 + repo_id % 1000 * 10000 + ago * 10 + attempt
            status.update(id=status_id, node_id=f"demo-status-{status_id}", state=state,
                          environment="production", creator=self.user(author), created_at=_time(at),
                          updated_at=_time(at))
            self.add(at, "deployment_status", "deployment_status", repo, author, action="created",
                     deployment_status=status, deployment=deployment | {"updated_at": _time(at)})

    def team_owns(self, at: datetime, team: tuple[int, str, str], repo: tuple[int, str, str]) -> None:
        team_id, slug, name = team
        body = copy.deepcopy(team_template())
        body.update(id=team_id, node_id=f"demo-team-{team_id}", name=name, slug=slug, description=f"{name} team",
                    permission="push", parent=None, url=f"https://api.github.com/teams/{team_id}",
                    html_url=f"https://github.com/orgs/{ORG}/teams/{slug}",
                    members_url=f"https://api.github.com/teams/{team_id}/members{{/member}}",
                    repositories_url=f"https://api.github.com/teams/{team_id}/repos")
        # A team delivery is its action, the team, and the usual repository, organisation and sender.
        self.add(at, "team", None, repo, 0, action="added_to_repository", team=body)

    def incident(self, ago: int, number: int) -> None:
        repo = REPOS[0]
        opened = self.now - timedelta(days=ago, hours=6)
        issue = copy.deepcopy(self.t["issues"]["issue"])
        label = copy.deepcopy(issue["labels"][0]) | {"name": "incident", "id": 1362930000 + number}
        issue.update(id=800000 + number, number=number, title=f"Checkout errors (incident {number})",
                     user=self.user(number), labels=[label], state="open", created_at=_time(opened),
                     updated_at=_time(opened), closed_at=None, assignee=None, assignees=[], milestone=None)
        self.add(opened, "issues", "issues", repo, number, action="opened", issue=copy.deepcopy(issue))
        closed = opened + timedelta(hours=2 + number % 3)
        issue.update(state="closed", closed_at=_time(closed), updated_at=_time(closed))
        self.add(closed, "issues", "issues", repo, number, action="closed", issue=issue)


def demo_history(now: datetime | None = None, days: int = DAYS) -> list[tuple[str, bytes]]:
    """(event, body) pairs in the order they happened, all of organisation ``ORG``, ending before ``now``."""
    history = _History(now or datetime.now(UTC))
    for team, repo in zip(TEAMS, REPOS, strict=True):
        history.team_owns(history.now - timedelta(days=days + 1), team, repo)
    for ago in range(days - 1, -1, -1):
        for r, repo in enumerate(REPOS):
            history.day(ago, r, repo)
    for number, ago in enumerate(INCIDENT_DAYS, start=1):
        history.incident(ago, number)
    ping = history.t["ping"] | {"organization": history.org}
    ordered = sorted(history.deliveries, key=lambda item: item[0])
    return [("ping", json.dumps(ping).encode())] + [(event, json.dumps(body).encode()) for _, event, body in ordered]
