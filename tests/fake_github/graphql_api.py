"""``POST /graphql`` of the fake GitHub: queries are parsed, validated and executed against GitHub's public
schema (tests/fixtures/graphql/schema.graphql, octokit/graphql-schema) with graphql-core, so a query GitHub
would reject fails here too. Resolvers read the same state as the REST routes (tests/fake_github/state.py).

What the fake does as GitHub documents it
(https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api):

- every connection needs ``first`` or ``last`` (1..100); at most 500,000 nodes per query;
- points: one request per connection to fill, each assumed to reach its ``first``/``last``, summed, divided
  by 100 and rounded (at least 1); charged to the token's GraphQL budget (separate from REST's), shown in
  ``rateLimit {cost remaining resetAt}`` and the ``x-ratelimit-*`` headers (resource ``graphql``);
- a spent budget answers HTTP 200 with ``errors: [{type: RATE_LIMITED}]``;
- a query over :attr:`GraphQLFake.timeout_nodes` nodes takes too long: 502, as GitHub's 10-second timeout;
- injected partial results: a nested field comes back ``null`` with an error whose ``path`` names it.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    execute,
    get_named_type,
    parse,
    validate,
    value_from_ast_untyped,
)

from tests.fake_github.state import Json, RepoState

if TYPE_CHECKING:
    from tests.fake_github.server import Answer, FakeGitHub, Request

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "graphql" / "schema.graphql"
MAX_PAGE = 100
MAX_NODES = 500_000
TIMEOUT_MESSAGE = ("Something went wrong while executing your query. This may be the result of a timeout, or "
                   "it could be a GitHub bug.")
_schema: GraphQLSchema | None = None
_schema_lock = threading.Lock()


def schema() -> GraphQLSchema:
    """GitHub's schema. ``assume_valid_sdl``: the published file repeats two field definitions, which
    strict SDL validation rejects; queries are still validated in full."""
    global _schema
    with _schema_lock:
        if _schema is None:
            _schema = build_schema(SCHEMA_FILE.read_text(encoding="utf-8"), assume_valid_sdl=True)
        return _schema


@dataclass
class Points:
    limit: int
    remaining: int
    reset: int


@dataclass
class GraphQLFake:
    """GraphQL-specific knobs and figures of one fake server."""

    limit: int = 5000
    window_s: int = 3600
    timeout_nodes: int = 200_000  # a query asking for more nodes than this "takes over 10 s": 502
    partial: list[str] = field(default_factory=list)  # fields to fail once each, next queries (see handle)
    budgets: dict[str, Points] = field(default_factory=dict)
    log: list[tuple[int, int, int]] = field(default_factory=list)  # (status, cost, nodes) per query
    operations: Counter[str] = field(default_factory=Counter)  # answered queries per operation name

    def budget(self, key: str) -> Points:
        now = int(time.time())
        found = self.budgets.get(key)
        if found is None or now >= found.reset:
            found = Points(self.limit, self.limit, now + self.window_s)
            self.budgets[key] = found
        return found

    def points(self) -> int:
        return sum(cost for status, cost, _ in self.log if status == 200)


@dataclass
class Size:
    requests: int = 0
    nodes: int = 0
    problems: list[str] = field(default_factory=list)


def measure(document: Any, operation: OperationDefinitionNode, variables: Json, types: GraphQLSchema) -> Size:
    """GitHub's published cost inputs: connections to fill (each up to first/last) and nodes asked."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    size = Size()

    def walk(selection_set: SelectionSetNode | None, parent: Any, multiplier: int) -> None:
        if selection_set is None:
            return
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                name = sel.name.value
                if name.startswith("__") or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                    continue
                definition = parent.fields.get(name)
                if definition is None:
                    continue
                named = get_named_type(definition.type)
                child = multiplier
                if name == "nodes" and parent is types.query_type:  # nodes(ids: [...]): one object per id
                    args = {a.name.value: value_from_ast_untyped(a.value, variables) for a in sel.arguments}
                    child = multiplier * len(args.get("ids") or [])
                if named.name.endswith("Connection") and "first" in definition.args:
                    args = {a.name.value: value_from_ast_untyped(a.value, variables) for a in sel.arguments}
                    page = args.get("first") if args.get("first") is not None else args.get("last")
                    if page is None:
                        size.problems.append(f"You must provide a `first` or `last` value to properly paginate "
                                             f"the `{name}` connection.")
                        page = MAX_PAGE
                    elif not 1 <= int(page) <= MAX_PAGE:
                        size.problems.append(f"Requesting {page} records on the `{name}` connection exceeds "
                                             f"the `first`/`last` limit of {MAX_PAGE} records.")
                    size.requests += multiplier
                    child = multiplier * int(page)
                    size.nodes += child
                walk(sel.selection_set, named, child)
            elif isinstance(sel, InlineFragmentNode):
                target = types.get_type(sel.type_condition.name.value) if sel.type_condition else parent
                walk(sel.selection_set, target, multiplier)
            elif isinstance(sel, FragmentSpreadNode):
                fragment = fragments[sel.name.value]
                walk(fragment.selection_set, types.get_type(fragment.type_condition.name.value), multiplier)

    walk(operation.selection_set, types.query_type, 1)
    return size


def _headers(points: Points) -> dict[str, str]:
    return {"X-RateLimit-Limit": str(points.limit), "X-RateLimit-Remaining": str(points.remaining),
            "X-RateLimit-Reset": str(points.reset), "X-RateLimit-Used": str(points.limit - points.remaining),
            "X-RateLimit-Resource": "graphql"}


def handle(fake: FakeGitHub, req: Request) -> Answer:
    from tests.fake_github.server import Answer

    gql: GraphQLFake = fake.graphql
    try:
        body = req.json()
        query, variables = str(body["query"]), dict(body.get("variables") or {})
    except (ValueError, KeyError, TypeError):
        return Answer(400, {"message": "Problems parsing JSON"}, counted=False)
    types = schema()
    try:
        document = parse(query)
    except GraphQLError as exc:
        return Answer(200, {"errors": [exc.formatted]}, counted=False)
    invalid = validate(types, document)
    if invalid:
        return Answer(200, {"errors": [e.formatted for e in invalid]}, counted=False)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    size = measure(document, operation, variables, types)
    if size.problems:
        return Answer(200, {"errors": [{"type": "MISSING_PAGINATION_BOUNDARIES", "message": p}
                                       for p in size.problems]}, counted=False)
    if size.nodes > MAX_NODES:
        return Answer(200, {"errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED",
                                        "message": f"This query requests up to {size.nodes} possible nodes "
                                                   f"which exceeds the maximum limit of {MAX_NODES}."}]},
                      counted=False)
    cost = max(1, round(size.requests / 100))
    with fake.lock:
        points = gql.budget(fake.budget_key(req.token))
        if points.remaining < cost:
            gql.log.append((200, 0, size.nodes))
            return Answer(200, {"errors": [{"type": "RATE_LIMITED", "code": "graphql_rate_limit",
                                            "message": "API rate limit already exceeded for user ID 1."}]},
                          {**_headers(points), "X-RateLimit-Remaining": "0"}, counted=False)
        if size.nodes > gql.timeout_nodes:
            gql.log.append((502, 0, size.nodes))
            return Answer(502, {"data": None, "errors": [{"message": TIMEOUT_MESSAGE}]}, counted=False)
        points.remaining -= cost
        fail = None
        if gql.partial:  # "field" fails in the next query, "Operation:field" in the next query of that name
            operation_name, _, failing = gql.partial[0].rpartition(":")
            if operation_name in ("", operation.name.value if operation.name else ""):
                fail = failing
                gql.partial.pop(0)
        context = {"fake": fake, "cost": cost, "points": points, "nodes": size.nodes, "fail": fail}
        gql.log.append((200, cost, size.nodes))
        gql.operations[operation.name.value if operation.name else ""] += 1
        headers = _headers(points)
    result = execute(types, document, root_value={}, context_value=context, variable_values=variables,
                     field_resolver=_resolve, type_resolver=_type_of)
    answer: Json = {"data": result.data}
    if result.errors:
        # GitHub names an error's kind at the top level ("type": "NOT_FOUND"), not in extensions.
        answer["errors"] = [{**e.formatted, **({"type": e.extensions["type"]} if "type" in (e.extensions or {})
                                                else {})} for e in result.errors]
    return Answer(200, answer, headers, counted=False)


# --- resolvers --------------------------------------------------------------------------------------------

def _type_of(value: Any, info: GraphQLResolveInfo, abstract: Any) -> str:
    return str(value["__typename"])


def _resolve(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    resolver = RESOLVERS.get((info.parent_type.name, info.field_name))
    if resolver is not None:
        return resolver(source, info, **args)
    if isinstance(source, dict):
        return source.get(info.field_name)
    return None


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _index(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1])
    except (ValueError, IndexError) as exc:
        raise GraphQLError(f"`{cursor}` does not appear to be a valid cursor.") from exc


def connection(items: list[Any], first: int | None = None, after: str | None = None, last: int | None = None,
               before: str | None = None, **_: Any) -> Json:
    start, end = 0, len(items)
    if (a := _index(after)) is not None:
        start = a + 1
    if (b := _index(before)) is not None:
        end = b
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    chosen = list(range(start, end))
    return {"totalCount": len(items), "nodes": [items[i] for i in chosen],
            "edges": [{"node": items[i], "cursor": _cursor(i)} for i in chosen],
            "pageInfo": {"hasNextPage": end < len(items), "hasPreviousPage": start > 0,
                         "startCursor": _cursor(chosen[0]) if chosen else None,
                         "endCursor": _cursor(chosen[-1]) if chosen else None}}


def _failing(info: GraphQLResolveInfo) -> None:
    """An injected partial result: this field is null, with an error naming it (GitHub's way)."""
    context = info.context
    if context.get("fail") == info.field_name:
        context["fail"] = None
        raise GraphQLError(f"Something went wrong while resolving `{info.field_name}`; try again.")


def actor(user: Json | None) -> Json | None:
    if not user:
        return None
    bot = user.get("type") == "Bot"
    return {"__typename": "Bot" if bot else "User", "login": str(user["login"]).removesuffix("[bot]"),
            "databaseId": user.get("id"), "url": user.get("html_url")}


def _upper(value: str | None) -> str | None:
    return value.upper() if value else None


def _when(text: str | None) -> str | None:
    return text


def pull_request(repo: RepoState, pr: Json) -> Json:
    merged = bool(pr.get("merged_at"))
    return {"__typename": "PullRequest", "_repo": repo, "_rest": pr, "id": pr.get("node_id"),
            "databaseId": pr["id"], "fullDatabaseId": str(pr["id"]), "number": pr["number"],
            "title": pr["title"], "url": pr["html_url"], "permalink": pr["html_url"],
            "state": "MERGED" if merged else str(pr["state"]).upper(), "isDraft": bool(pr.get("draft")),
            "createdAt": pr["created_at"], "updatedAt": pr["updated_at"], "closedAt": pr.get("closed_at"),
            "mergedAt": pr.get("merged_at"), "merged": merged, "closed": pr["state"] == "closed",
            "author": actor(pr.get("user")), "mergedBy": actor(pr.get("merged_by")),
            "baseRefName": pr["base"]["ref"], "headRefName": pr["head"]["ref"], "headRefOid": pr["head"]["sha"],
            "mergeCommit": commit(repo, pr["merge_commit_sha"]) if pr.get("merge_commit_sha") and merged else None,
            "potentialMergeCommit": commit(repo, pr["merge_commit_sha"])
            if pr.get("merge_commit_sha") and not merged else None,
            "additions": pr.get("additions", 0), "deletions": pr.get("deletions", 0),
            "changedFiles": pr.get("changed_files", 0)}


def commit(repo: RepoState, sha: str) -> Json:
    return {"__typename": "Commit", "oid": sha, "_repo": repo, "id": f"C_{sha[:12]}"}


def _repository(source: Any, info: GraphQLResolveInfo, owner: str, name: str, **_: Any) -> Any:
    repo = info.context["fake"].state.repo(owner, name)
    if repo is None:
        raise GraphQLError(f"Could not resolve to a Repository with the name '{owner}/{name}'.")
    return {"__typename": "Repository", "_repo": repo, "databaseId": repo.repo["id"],
            "nameWithOwner": repo.full_name, "name": repo.repo["name"], "id": repo.repo.get("node_id")}


def _rate_limit(source: Any, info: GraphQLResolveInfo, **_: Any) -> Json:
    points: Points = info.context["points"]
    return {"cost": info.context["cost"], "limit": points.limit, "remaining": points.remaining,
            "used": points.limit - points.remaining, "nodeCount": info.context["nodes"],
            "resetAt": datetime.fromtimestamp(points.reset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _pull_requests(source: Json, info: GraphQLResolveInfo, orderBy: Json | None = None,  # noqa: N803
                   states: list[str] | None = None, **args: Any) -> Json:
    _failing(info)
    repo: RepoState = source["_repo"]
    nodes = [pull_request(repo, pr) for pr in repo.pulls.values()]
    if states:
        nodes = [n for n in nodes if n["state"] in states]
    order = orderBy or {"field": "CREATED_AT", "direction": "ASC"}
    key = {"UPDATED_AT": "updatedAt", "CREATED_AT": "createdAt"}.get(order["field"], "createdAt")
    nodes.sort(key=lambda n: (n[key], n["databaseId"]), reverse=order.get("direction") == "DESC")
    return connection(nodes, **args)


def _pull_request(source: Json, info: GraphQLResolveInfo, number: int) -> Json | None:
    repo: RepoState = source["_repo"]
    pr = repo.pulls.get(number)
    return pull_request(repo, pr) if pr else None


def _object(source: Json, info: GraphQLResolveInfo, oid: str | None = None, expression: str | None = None) -> Any:
    repo: RepoState = source["_repo"]
    known = oid in repo.check_runs or any(c["sha"] == oid for c in repo.commits) or any(
        p["head"]["sha"] == oid for p in repo.pulls.values())
    return commit(repo, str(oid)) if oid and known else None


def review_nodes(repo: RepoState, number: int) -> list[Json]:
    return [{"__typename": "PullRequestReview", "databaseId": r["id"], "fullDatabaseId": str(r["id"]),
             "id": r.get("node_id"), "state": r["state"], "submittedAt": r.get("submitted_at"),
             "createdAt": r.get("submitted_at"), "url": r.get("html_url"), "author": actor(r.get("user")),
             "body": r.get("body") or "", "commit": commit(repo, r["commit_id"]) if r.get("commit_id") else None}
            for r in repo.reviews.get(number, [])]


def _reviews(source: Json, info: GraphQLResolveInfo, **args: Any) -> Json:
    _failing(info)
    return connection(review_nodes(source["_repo"], source["number"]), **args)


_TIMELINE = {"ready_for_review": "ReadyForReviewEvent", "convert_to_draft": "ConvertToDraftEvent",
             "closed": "ClosedEvent", "reopened": "ReopenedEvent", "merged": "MergedEvent"}
_ITEM_TYPES = {"PullRequestReview": "PULL_REQUEST_REVIEW", "ReadyForReviewEvent": "READY_FOR_REVIEW_EVENT",
               "ConvertToDraftEvent": "CONVERT_TO_DRAFT_EVENT", "ClosedEvent": "CLOSED_EVENT",
               "ReopenedEvent": "REOPENED_EVENT", "MergedEvent": "MERGED_EVENT"}


def _timeline_items(source: Json, info: GraphQLResolveInfo, itemTypes: list[str] | None = None,  # noqa: N803
                    **args: Any) -> Json:
    _failing(info)
    repo: RepoState = source["_repo"]
    events = sorted((e for e in repo.issue_events if (e.get("issue") or {}).get("number") == source["number"]
                     and "pull_request" in (e.get("issue") or {}) and e["event"] in _TIMELINE),
                    key=lambda e: (e["created_at"], e["id"]))
    items = [{"__typename": _TIMELINE[e["event"]], "id": e.get("node_id"), "createdAt": e["created_at"],
              "actor": actor(e.get("actor")), "url": e.get("url")} for e in events]
    items = sorted(items + review_nodes(repo, source["number"]), key=lambda i: i["createdAt"] or "")
    if itemTypes:
        items = [i for i in items if _ITEM_TYPES[i["__typename"]] in itemTypes]
    found = connection(items, **args)
    found["filteredCount"] = len(items)
    found["pageCount"] = len(found["nodes"])
    found["updatedAt"] = source["updatedAt"]
    return found


def _pr_commits(source: Json, info: GraphQLResolveInfo, **args: Any) -> Json:
    repo: RepoState = source["_repo"]
    rest = source["_rest"]
    listed = repo.pr_commits.get(source["number"]) or []
    shas = [c["sha"] for c in listed if c["sha"] != rest["head"]["sha"]] + [rest["head"]["sha"]]
    found = connection([{"__typename": "PullRequestCommit", "commit": commit(repo, sha)} for sha in shas], **args)
    found["totalCount"] = int(rest.get("commits") or len(shas))  # the pull request's own count
    return found


def _check_suites(source: Json, info: GraphQLResolveInfo, **args: Any) -> Json:
    """The suites of a commit: those its check runs belong to (the scenario reuses a suite id across
    commits, so they are grouped from the runs rather than read from the REST suite list)."""
    _failing(info)
    repo: RepoState = source["_repo"]
    sha = source["oid"]
    described = {s["id"]: s for suites in repo.check_suites.values() for s in suites}
    ids = sorted({(r.get("check_suite") or {}).get("id") for r in repo.check_runs.get(sha, [])} - {None})
    suites = []
    for suite_id in ids:
        s = described.get(suite_id, {"id": suite_id})
        app = s.get("app") or next((r.get("app") for r in repo.check_runs[sha]
                                    if (r.get("check_suite") or {}).get("id") == suite_id), None)
        suites.append({"__typename": "CheckSuite", "_repo": repo, "_sha": sha, "databaseId": suite_id,
                       "id": s.get("node_id"), "status": _upper(s.get("status")),
                       "conclusion": _upper(s.get("conclusion")), "createdAt": s.get("created_at"),
                       "updatedAt": s.get("updated_at"),
                       "app": {"__typename": "App", "slug": app["slug"], "name": app["name"],
                               "databaseId": app["id"]} if app else None,
                       "commit": commit(repo, sha)})
    return connection(suites, **args)


def _check_runs(source: Json, info: GraphQLResolveInfo, filterBy: Json | None = None,  # noqa: N803
                **args: Any) -> Json:
    _failing(info)
    repo: RepoState = source["_repo"]
    runs = [r for r in repo.check_runs.get(source["_sha"], []) if (r.get("check_suite") or {}).get("id")
            == source["databaseId"]]
    if (filterBy or {}).get("checkType", "LATEST") == "LATEST":  # GitHub's default: the latest run per name
        latest: dict[str, Json] = {}
        for run in sorted(runs, key=lambda r: (r.get("started_at") or "", r["id"])):
            latest[run["name"]] = run
        runs = list(latest.values())
    nodes = [{"__typename": "CheckRun", "databaseId": r["id"], "id": r.get("node_id"), "name": r["name"],
              "status": _upper(r.get("status")), "conclusion": _upper(r.get("conclusion")),
              "startedAt": r.get("started_at"), "completedAt": r.get("completed_at"), "url": r.get("html_url"),
              "permalink": r.get("html_url"), "detailsUrl": r.get("details_url"),
              "externalId": r.get("external_id")}
             for r in sorted(runs, key=lambda r: r["id"])]
    return connection(nodes, **args)


def deployment(repo: RepoState, dep: Json) -> Json:
    return {"__typename": "Deployment", "_repo": repo, "_rest": dep, "id": dep["node_id"],
            "databaseId": dep["id"], "commitOid": dep["sha"], "createdAt": dep["created_at"],
            "updatedAt": dep["updated_at"], "environment": dep.get("environment"),
            "originalEnvironment": dep.get("original_environment"), "task": dep.get("task"),
            "description": dep.get("description"), "creator": actor(dep.get("creator"))}


def _find_node(fake: FakeGitHub, node_id: str) -> Json | None:
    """The object a node id names (deployments are what the backfill asks for by id)."""
    for repo in fake.state.repos.values():
        for dep in repo.deployments:
            if dep.get("node_id") == node_id:
                return deployment(repo, dep)
    return None


def _node(source: Any, info: GraphQLResolveInfo, id: str) -> Json | None:  # noqa: A002 - GitHub's name
    found = _find_node(info.context["fake"], id)
    if found is None:
        raise _not_found(id)
    return found


def _nodes(source: Any, info: GraphQLResolveInfo, ids: list[str]) -> list[Json | None]:
    """As GitHub: an id that names nothing is null in its place, with an error naming its index."""
    fake = info.context["fake"]
    return [_find_node(fake, node_id) or _not_found(node_id) for node_id in ids]


def _not_found(node_id: str) -> GraphQLError:
    return GraphQLError(f"Could not resolve to a node with the global id of '{node_id}'",
                        extensions={"type": "NOT_FOUND"})


def _deployment_statuses(source: Json, info: GraphQLResolveInfo, **args: Any) -> Json:
    """A deployment's statuses, oldest first."""
    _failing(info)
    repo: RepoState = source["_repo"]
    listed = sorted(repo.statuses.get(source["databaseId"], []), key=lambda s: (s["created_at"], s["id"]))
    nodes = [{"__typename": "DeploymentStatus", "id": st["node_id"], "state": _upper(st.get("state")),
              "description": st.get("description"), "environment": st.get("environment"),
              "environmentUrl": st.get("environment_url") or None, "logUrl": st.get("log_url") or None,
              "createdAt": st["created_at"], "updatedAt": st.get("updated_at"),
              "creator": actor(st.get("creator"))} for st in listed]
    return connection(nodes, **args)


RESOLVERS: dict[tuple[str, str], Any] = {
    ("Query", "node"): _node,
    ("Query", "nodes"): _nodes,
    ("Deployment", "statuses"): _deployment_statuses,
    ("Query", "repository"): _repository,
    ("Query", "rateLimit"): _rate_limit,
    ("Repository", "pullRequests"): _pull_requests,
    ("Repository", "pullRequest"): _pull_request,
    ("Repository", "object"): _object,
    ("PullRequest", "reviews"): _reviews,
    ("PullRequest", "timelineItems"): _timeline_items,
    ("PullRequest", "commits"): _pr_commits,
    ("Commit", "checkSuites"): _check_suites,
    ("CheckSuite", "checkRuns"): _check_runs,
}

ROUTES: list[tuple[str, str, Any]] = [("POST", r"/graphql", handle), ("POST", r"/api/graphql", handle)]

__all__ = ["ROUTES", "GraphQLFake", "connection", "json", "schema"]
