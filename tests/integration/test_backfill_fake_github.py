"""The fake GitHub itself (for the backfill and the webhook reconciler): pagination, ETags, faults, rate
limits, and hooks whose deliveries and redeliveries really reach the receiver, signed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from github import Auth, Github

from tests.fake_github.fixtures import TOKEN
from tests.fake_github.history import rest_state
from tests.fake_github.server import FakeGitHub
from tests.scenario import acme_history

pytestmark = pytest.mark.integration
HEADERS = {"Authorization": f"token {TOKEN}"}


class Receiver:
    """A webhook endpoint that records what it got and answers with the next status in ``answers``."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.answers.pop(0) if outer.answers else 202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/github"


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture()
def acme() -> Iterator[FakeGitHub]:
    with FakeGitHub(rest_state(acme_history()), tokens=(TOKEN,)) as fake:
        yield fake


def test_link_pagination_etags_and_the_request_log(acme):
    first = requests.get(f"{acme.url}/repos/acme/api/commits", params={"per_page": 3}, headers=HEADERS,
                         timeout=5)
    assert first.status_code == 200 and len(first.json()) == 3 and 'rel="next"' in first.headers["Link"]
    following = requests.get(first.links["next"]["url"], headers=HEADERS, timeout=5)
    assert len(following.json()) == 3
    assert {c["sha"] for c in following.json()}.isdisjoint(c["sha"] for c in first.json())
    again = requests.get(f"{acme.url}/repos/acme/api/commits", params={"per_page": 3},
                         headers={**HEADERS, "If-None-Match": first.headers["ETag"]}, timeout=5)
    assert again.status_code == 304
    assert again.headers["X-RateLimit-Remaining"] == following.headers["X-RateLimit-Remaining"]
    assert acme.counts()["GET /repos/acme/api/commits"] == 3 and acme.counted() == 2
    assert requests.get(f"{acme.url}/orgs/acme", timeout=5).status_code == 401  # no token


def test_faults_and_the_primary_limit(acme):
    acme.inject(r"/pulls$", "transient")
    acme.inject(r"/pulls$", "secondary429", retry_after=7)
    acme.inject(r"/pulls$", "primary", reset_in=60)
    url = f"{acme.url}/repos/acme/api/pulls"
    answers = [requests.get(url, headers=HEADERS, timeout=5) for _ in range(4)]
    assert [a.status_code for a in answers] == [502, 429, 403, 403]
    assert answers[1].headers["Retry-After"] == "7"
    assert answers[2].headers["X-RateLimit-Remaining"] == "0"
    assert int(answers[3].headers["X-RateLimit-Reset"]) >= int(answers[2].headers["X-RateLimit-Reset"])
    assert "API rate limit exceeded" in answers[3].json()["message"]


def test_hooks_deliveries_and_redeliveries_through_pygithub(acme, receiver):
    gh = Github(base_url=acme.url, auth=Auth.Token(TOKEN), retry=None, seconds_between_requests=None,
                seconds_between_writes=None)
    org = gh.get_organization("acme")
    hook = org.create_hook("web", {"url": receiver.url, "content_type": "json", "secret": "s3cret"},
                           ["push", "pull_request"], True)
    assert [h.id for h in org.get_hooks()] == [hook.id] and hook.config["secret"] == "********"
    hook.ping()
    receiver.answers = [503]  # this one fails; the redelivery below succeeds
    acme.deliver("acme", "push", {"ref": "refs/heads/main", "repository": {"id": 1001}})
    acme.deliver("acme", "issues", {"action": "opened"})  # not subscribed: not sent
    log = list(org.get_hook_deliveries(hook.id))
    assert [(d.event, d.status_code, d.redelivery) for d in log] == [("push", 503, False),
                                                                     ("ping", 202, False)]
    detail = org.get_hook_delivery(hook.id, log[0].id)
    assert detail.request.payload == {"ref": "refs/heads/main", "repository": {"id": 1001}}
    gh.requester.requestJsonAndCheck("POST", f"{hook.url}/deliveries/{log[0].id}/attempts")
    newest = next(iter(org.get_hook_deliveries(hook.id)))
    assert (newest.guid, newest.status_code, newest.redelivery) == (log[0].guid, 202, True)
    (first_headers, first_body), (again_headers, again_body) = receiver.got[-2], receiver.got[-1]
    assert first_headers["x-github-delivery"] == again_headers["x-github-delivery"]
    assert first_body == again_body
    expected = "sha256=" + hmac.new(b"s3cret", again_body, hashlib.sha256).hexdigest()
    assert again_headers["x-hub-signature-256"] == expected and again_headers["x-github-event"] == "push"
    hook.edit("web", {"url": receiver.url, "content_type": "form"}, events=["issues"], active=True)
    acme.deliver("acme", "issues", {"action": "opened"})
    assert receiver.got[-1][0]["content-type"] == "application/x-www-form-urlencoded"


def test_repository_hooks_and_paged_delivery_log(acme, receiver):
    created = requests.post(f"{acme.url}/repos/acme/api/hooks", headers=HEADERS, timeout=5, json={
        "name": "web", "config": {"url": receiver.url, "content_type": "json",
                                  "secret": "x"}, "events": ["*"]})
    assert created.status_code == 201 and created.json()["type"] == "Repository"
    for n in range(5):
        acme.deliver("acme/api", "push", json.dumps({"n": n}).encode())
    url = f"{acme.url}/repos/acme/api/hooks/{created.json()['id']}/deliveries"
    seen, pages = [], 0
    while url:
        page = requests.get(url, params={"per_page": 2} if pages == 0 else None, headers=HEADERS, timeout=5)
        seen += [d["id"] for d in page.json()]
        url, pages = page.links.get("next", {}).get("url"), pages + 1
    assert pages == 3 and seen == sorted(seen, reverse=True) and len(set(seen)) == 5
