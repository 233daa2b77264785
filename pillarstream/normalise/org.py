"""Team events: membership, team, organization.

These payloads carry no timestamp of their own, so the receive time orders them (it travels with the
envelope, so replays keep it). Removal is a state, not a deletion: the history of who was a member stays.
"""

from __future__ import annotations

from typing import Any

from pillarstream.normalise.context import Incoming, login
from pillarstream.normalise.fields import PayloadError, integer, obj, required_int, required_text, text
from pillarstream.normalise.rows import Facts, OrgMembership, Team, TeamMembership, TeamRepository
from pillarstream.normalise.version import stamp


def _org(ev: Incoming) -> str:
    org = ev.org or text(ev.body, "organization", "login")
    if org is None:
        raise PayloadError(f"{ev.envelope.event} payload has no organization.login")
    return org


def _team_row(ev: Incoming, team: dict[str, Any], *, deleted: bool = False) -> Team:
    row = Team(team_id=required_int(team, "id"), org=_org(ev), slug=text(team, "slug"),
               name=text(team, "name"), privacy=text(team, "privacy"),
               parent_team_id=integer(team, "parent", "id"), deleted=deleted, version="")
    return stamp(row, 1 if deleted else 0, ev.received_at)


def membership(ev: Incoming) -> Facts:
    """Team membership added or removed (``scope`` is always "team")."""
    member = obj(ev.body, "member")
    team = obj(ev.body, "team")
    row = TeamMembership(
        team_id=required_int(team, "id"), user_login=required_text(member, "login"), org=_org(ev),
        user_id=integer(member, "id"), state="removed" if ev.action == "removed" else "added",
        is_bot=ev.is_bot(member), version="",
    )
    return Facts(team_memberships=[stamp(row, 0, ev.received_at)], teams=[_team_row(ev, team)])


def team(ev: Incoming) -> Facts:
    """created, edited, deleted."""
    return Facts(teams=[_team_row(ev, obj(ev.body, "team"), deleted=ev.action == "deleted")])


def team_repository(ev: Incoming) -> Facts:
    """added_to_repository / removed_from_repository: which teams own which repositories."""
    team_obj = obj(ev.body, "team")
    row = TeamRepository(
        team_id=required_int(team_obj, "id"), repo_id=ev.repo_id, org=_org(ev),
        state="removed" if ev.action == "removed_from_repository" else "added",
        permission=text(team_obj, "permission"), version="",
    )
    return Facts(team_repositories=[stamp(row, 0, ev.received_at)], teams=[_team_row(ev, team_obj)])


def org_member(ev: Incoming) -> Facts:
    """member_added, member_removed, member_invited."""
    membership_obj = obj(ev.body, "membership")
    user = obj(membership_obj, "user") or obj(ev.body, "user") or obj(ev.body, "invitation")
    user_login = login(user)
    if user_login is None:
        return Facts()  # an invitation by e-mail names nobody yet
    state = {"member_removed": "removed", "member_invited": "pending"}.get(ev.action or "", None)
    row = OrgMembership(
        org=_org(ev), user_login=user_login, user_id=integer(user, "id"), role=text(membership_obj, "role"),
        state=state or text(membership_obj, "state") or "active", is_bot=ev.is_bot(user), version="",
    )
    return Facts(org_memberships=[stamp(row, 0, ev.received_at)])
