"""Version Control Management events: push, pull_request, pull_request_review, create, delete, release,
repository. Payload reference: https://docs.github.com/en/webhooks/webhook-events-and-payloads
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from pillarstream.normalise.context import Incoming, login
from pillarstream.normalise.fields import (
    array,
    checked_int,
    checked_text,
    flag,
    headline,
    integer,
    moment,
    obj,
    parse_moment,
    required_int,
    required_moment,
    required_text,
    text,
)
from pillarstream.normalise.rows import (
    Commit,
    Facts,
    PullRequest,
    PullRequestEvent,
    Push,
    RefEvent,
    Release,
    Repository,
    Review,
)
from pillarstream.normalise.version import stamp

_BRANCH_PREFIX = "refs/heads/"


def repository(ev: Incoming) -> Repository | None:
    """The repository snapshot every repository-scoped payload carries (language, default branch)."""
    repo = obj(ev.body, "repository")
    owner = obj(repo, "owner")
    deleted = ev.envelope.event == "repository" and ev.action == "deleted"
    raw = (repo.get("id"), repo.get("full_name"), repo.get("name"), owner.get("login"), repo.get("language"),
           repo.get("default_branch"), repo.get("private"), repo.get("archived"), repo.get("fork"),
           repo.get("visibility"), repo.get("created_at"), repo.get("updated_at"), repo.get("pushed_at"),
           ev.org, deleted)
    try:
        return _repository_row(raw)
    except TypeError:  # an unhashable value where GitHub sends a scalar: build it uncached
        return _repository_row.__wrapped__(raw)


# Nearly every event of a batch repeats one of a few repository snapshots: build each row once.
@lru_cache(maxsize=4096)
def _repository_row(raw: tuple[Any, ...]) -> Repository | None:
    (repo_id, full_name, name, owner_login, language, default_branch, private, archived, fork, visibility,
     created_at, updated_at, pushed_at, org, deleted) = raw
    if not isinstance(repo_id, int) or isinstance(repo_id, bool) or not isinstance(full_name, str):
        return None
    row = Repository(
        repo_id=checked_int(repo_id, "repository.id"), org=org,
        full_name=checked_text(full_name, "repository.full_name"), name=_str(name, "name"),
        owner_login=_str(owner_login, "owner.login"), language=_str(language, "language"),
        default_branch=_str(default_branch, "default_branch"), private=_bool(private), archived=_bool(archived),
        fork=_bool(fork), visibility=_str(visibility, "visibility"),
        created_at=parse_moment(created_at, "repository.created_at"),
        updated_at=parse_moment(updated_at, "repository.updated_at"), deleted=deleted, version="",
    )
    # Language is re-detected on push without touching updated_at, so the later of the two is the age.
    newest = max((t for t in (row.updated_at, parse_moment(pushed_at, "repository.pushed_at")) if t is not None),
                 default=None)
    return stamp(row, 1 if deleted else 0, newest)


def _str(value: Any, field: str) -> str | None:
    return checked_text(value, f"repository.{field}") if isinstance(value, str) else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def push(ev: Incoming) -> Facts:
    body = ev.body
    repo = obj(body, "repository")
    ref = required_text(body, "ref")
    sender = obj(body, "sender")
    default_branch = text(repo, "default_branch") or text(repo, "master_branch")
    deleted = bool(flag(body, "deleted"))
    to_default = default_branch is not None and ref == _BRANCH_PREFIX + default_branch
    # repository.pushed_at is the time of this push (epoch seconds in push payloads); the head commit's
    # timestamp is only a fallback because it is when the commit was made, not when it landed.
    pushed_at = moment(body, "repository", "pushed_at") or moment(body, "head_commit", "timestamp") or ev.received_at
    raw_commits = [c for c in array(body, "commits") if isinstance(c, dict)]
    head = obj(body, "head_commit")
    if head and all(c.get("id") != head.get("id") for c in raw_commits):
        raw_commits.append(head)  # the webhook lists at most 20 commits; the head is always there
    facts = Facts()
    facts.pushes.append(Push(
        repo_id=ev.repo_id, ref=ref, before_sha=text(body, "before") or "",
        after_sha=text(body, "after") or "", org=ev.org, pushed_at=pushed_at, pusher_login=login(sender),
        pusher_is_bot=ev.is_bot(sender),
        to_default_branch=to_default, created=bool(flag(body, "created")), deleted=deleted,
        forced=bool(flag(body, "forced")), commit_count=len(array(body, "commits")),
    ))
    if ref.startswith(_BRANCH_PREFIX) and not deleted:
        landed = pushed_at if to_default else None
        facts.commits.extend(_commit(ev, c, landed) for c in raw_commits if text(c, "id"))
    return facts


def _commit(ev: Incoming, raw: dict[str, Any], landed: datetime | None) -> Commit:
    """A commit as the push lists it. Its columns depend on the commit alone (not on who pushed it), so
    every push that lists the same SHA yields the same row, apart from the landing time."""
    author = obj(raw, "author")
    username, name, email = text(author, "username"), text(author, "name"), text(author, "email")
    key = username or email or name
    # Commit authors carry no account type: the login (or, without one, the name) decides.
    is_bot = ev.is_bot_login(username) or ev.is_bot_login(name)
    return Commit(
        repo_id=ev.repo_id, sha=required_text(raw, "id"), org=ev.org, committed_at=moment(raw, "timestamp"),
        author_name=name, author_email=email, author_login=username,
        author_key=key.casefold() if key else None, author_is_bot=is_bot,
        message_headline=headline(text(raw, "message")), first_default_push_at=landed,
    )


def pull_request_row(ev: Incoming, pr: dict[str, Any]) -> PullRequest:
    author = obj(pr, "user")
    merged_at = moment(pr, "merged_at")
    row = PullRequest(
        pr_id=required_int(pr, "id"), repo_id=ev.repo_id, org=ev.org, number=required_int(pr, "number", bits=32),
        title=text(pr, "title"), html_url=text(pr, "html_url"), author_login=login(author),
        author_is_bot=ev.is_bot(author), state=text(pr, "state") or "open", draft=flag(pr, "draft"),
        merged=bool(flag(pr, "merged")) or merged_at is not None,
        created_at=required_moment(pr, "created_at"),
        updated_at=required_moment(pr, "updated_at"), closed_at=moment(pr, "closed_at"), merged_at=merged_at,
        merged_by_login=login(obj(pr, "merged_by")), base_ref=text(pr, "base", "ref"),
        head_ref=text(pr, "head", "ref"), head_sha=text(pr, "head", "sha"),
        merge_commit_sha=text(pr, "merge_commit_sha"), additions=integer(pr, "additions", bits=32),
        deletions=integer(pr, "deletions", bits=32), changed_files=integer(pr, "changed_files", bits=32),
        commits=integer(pr, "commits", bits=32), version="",
    )
    return stamp(row, 0, row.updated_at)


def pull_request(ev: Incoming) -> Facts:
    """Every action (opened, edited, synchronize, converted_to_draft, ready_for_review, closed, ...) carries
    the whole pull request; the newest snapshot becomes the state, and each action is kept as a timeline
    event because some metrics need the moment of a transition (ready for review) that state forgets."""
    pr = obj(ev.body, "pull_request")
    row = pull_request_row(ev, pr)
    action = ev.action or "unknown"
    if action == "opened":
        at = row.created_at
    elif action == "closed" and row.closed_at is not None:
        at = row.closed_at
    else:
        at = row.updated_at
    sender = obj(ev.body, "sender")
    event = PullRequestEvent(pr_id=row.pr_id, action=action, occurred_at=at, repo_id=row.repo_id, org=row.org,
                             actor_login=login(sender), actor_is_bot=ev.is_bot(sender), draft=row.draft)
    return Facts(pull_requests=[row], pull_request_events=[event])


def pull_request_review(ev: Incoming) -> Facts:
    """Reviews are facts: submitted once, maybe edited or dismissed later. The pull request snapshot in
    these payloads lacks size fields, so it does not update pull request state."""
    review = obj(ev.body, "review")
    pr = obj(ev.body, "pull_request")
    reviewer = obj(review, "user")
    state = (text(review, "state") or "").lower() or None
    dismissed = ev.action == "dismissed" or state == "dismissed"
    return Facts(pull_request_reviews=[Review(
        review_id=required_int(review, "id"), pr_id=required_int(pr, "id"), repo_id=ev.repo_id, org=ev.org,
        reviewer_login=login(reviewer), reviewer_is_bot=ev.is_bot(reviewer),
        pr_author_login=login(obj(pr, "user")), state=None if state == "dismissed" else state,
        submitted_at=moment(review, "submitted_at"), commit_id=text(review, "commit_id"), dismissed=dismissed,
    )])


def _ref_event(ev: Incoming, action: str) -> Facts:
    sender = obj(ev.body, "sender")
    return Facts(ref_events=[RefEvent(
        delivery_id=ev.envelope.delivery_id, repo_id=ev.repo_id, org=ev.org,
        ref_type=text(ev.body, "ref_type"),
        ref=text(ev.body, "ref"), action=action, actor_login=login(sender), actor_is_bot=ev.is_bot(sender),
        occurred_at=ev.received_at,  # the payload has no time of its own
    )])


def create(ev: Incoming) -> Facts:
    return _ref_event(ev, "created")


def delete(ev: Incoming) -> Facts:
    return _ref_event(ev, "deleted")


def release(ev: Incoming) -> Facts:
    rel = obj(ev.body, "release")
    deleted = ev.action == "deleted"
    row = Release(
        release_id=required_int(rel, "id"), repo_id=ev.repo_id, org=ev.org, tag_name=text(rel, "tag_name"),
        name=text(rel, "name"), draft=flag(rel, "draft"), prerelease=flag(rel, "prerelease"),
        created_at=moment(rel, "created_at"), published_at=moment(rel, "published_at"),
        author_login=login(obj(rel, "author")), deleted=deleted, version="",
    )
    # Releases have no updated_at; the receive time orders edits, and deletion is final.
    return Facts(releases=[stamp(row, 1 if deleted else 0, ev.received_at)])


def repository_event(ev: Incoming) -> Facts:
    """The repository row itself is added for every event (see dispatch); nothing else to record."""
    return Facts()
