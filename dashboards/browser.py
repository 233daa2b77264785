"""Drives Debian's headless Chromium through Playwright to look at Superset dashboards as a person would.

This file runs under Superset's own virtualenv (which holds the ``playwright`` package, installed by
``scripts/superset.sh --browser``), never the project's: :class:`dashboards.render.Browser` starts it as a
child process and talks to it with one JSON object per line on stdin/stdout. Playwright drives
``/usr/bin/chromium``; it never downloads a browser.

Commands (each answered with one JSON line, ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``):
  login {url, username, password}      log in through Superset's login form
  open {url, charts, timeout}          load a dashboard, wait until ``charts`` chart-data answers arrived
                                       and every chart finished loading; report errors
  responses {charts, timeout}          wait until ``charts`` charts answered again (an auto-refresh)
  big_numbers {}                       the text of every Big Number chart, by chart title
  screenshot {path}                    a full-page PNG
  quit {}
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, Response, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
# What Superset shows in place of a chart that failed; none of them may be on a healthy dashboard.
ERROR_SELECTORS = [
    '[data-test="chart-container"] [role="alert"]',
    ".ant-alert-error",
    '[data-test="error-tooltip"]',
    ".chart-container .alert-danger",
]


def _local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost", "::1")


class Session:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.answers: list[dict[str, Any]] = []
        page.on("response", self._on_response)
        # Superset's pages reference web fonts on the internet; this machine (and CI) may not reach it,
        # and a hanging request would hold the page's load event. Only the Superset under test is asked.
        page.route("**/*", lambda route: route.continue_() if _local(route.request.url) else route.abort())

    def _on_response(self, response: Response) -> None:
        if "/api/v1/chart/data" not in response.url or response.request.method != "POST":
            return
        request = response.request.post_data_json or {}
        form_data = request.get("form_data") or {}
        # Native filters ask for their options through the same endpoint; only charts have a slice id.
        entry: dict[str, Any] = {
            "chart": form_data.get("slice_id"),
            "viz_type": form_data.get("viz_type"),
            "status": response.status,
            "errors": [],
            "rowcount": 0,
            "data": [],
        }
        try:
            for result in response.json().get("result", []):
                if result.get("error"):
                    entry["errors"].append(result["error"])
                entry["rowcount"] += result.get("rowcount") or 0
                entry["data"].append(result.get("data", [])[-40:])
        except Exception as exc:  # noqa: BLE001 - an unreadable answer is itself the finding
            entry["errors"].append(f"unreadable answer: {exc}")
        self.answers.append(entry)

    def _charts_answered(self, since: int = 0) -> int:
        return len({a["chart"] for a in self.answers[since:] if a["chart"] is not None})

    def login(self, url: str, username: str, password: str) -> dict[str, Any]:
        self.page.goto(f"{url.rstrip('/')}/login/", wait_until="domcontentloaded")
        self.page.fill('[data-test="username-input"]', username)
        self.page.fill('[data-test="password-input"]', password)
        self.page.click('[data-test="login-button"]')
        self.page.wait_for_url(lambda u: "/login" not in u, timeout=60_000, wait_until="commit")
        return {}

    def _wait_answers(self, charts: int, timeout: float, since: int = 0) -> None:
        """Until ``charts`` distinct charts have answers (after answer number ``since``)."""
        deadline = time.monotonic() + timeout
        while self._charts_answered(since) < charts:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self._charts_answered(since)} of {charts} charts answered after {timeout:.0f}s"
                )
            self.page.wait_for_timeout(250)

    def _settle(self, timeout: float) -> None:
        """Until no chart shows a loading spinner, and then a moment for the charts to paint."""
        deadline = time.monotonic() + timeout
        while self.page.locator('[data-test="loading-indicator"], .loading').count() > 0:
            if time.monotonic() > deadline:
                raise TimeoutError("charts still loading")
            self.page.wait_for_timeout(250)
        self.page.wait_for_timeout(1500)

    def _dom_errors(self) -> list[str]:
        found = []
        for selector in ERROR_SELECTORS:
            found += [text.strip()[:300] for text in self.page.locator(selector).all_inner_texts()]
        return found

    def open(self, url: str, charts: int, timeout: float = 120) -> dict[str, Any]:
        # Leave the previous page first, so none of its late answers is counted for this one.
        self.page.goto("about:blank")
        self.page.wait_for_timeout(500)
        self.answers.clear()
        self.page.goto(url, wait_until="domcontentloaded")
        self._wait_answers(charts, timeout)
        self._settle(timeout)
        return {"answers": self.answers, "dom_errors": self._dom_errors(), "url": self.page.url}

    def responses(self, charts: int, timeout: float = 120) -> dict[str, Any]:
        start = len(self.answers)
        self._wait_answers(charts, timeout, since=start)
        self._settle(timeout)
        return {"answers": self.answers[start:], "dom_errors": self._dom_errors()}

    def big_numbers(self) -> dict[str, Any]:
        values = self.page.evaluate("""() => {
            const out = {};
            const holders = document.querySelectorAll('[data-test="dashboard-component-chart-holder"]');
            for (const holder of holders) {
                const number = holder.querySelector('.header-line');
                const title = holder.querySelector('[data-test="editable-title"], .header-title');
                if (number && title) out[title.textContent.trim()] = number.textContent.trim();
            }
            return out;
        }""")
        return {"values": values}

    def screenshot(self, path: str) -> dict[str, Any]:
        self.page.screenshot(path=path, full_page=True)
        return {"path": path}


def main() -> int:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1000}, device_scale_factor=1)
        session = Session(page)
        print(json.dumps({"ok": True, "ready": True}), flush=True)
        for line in sys.stdin:
            request = json.loads(line)
            command = request.pop("cmd")
            if command == "quit":
                break
            try:
                answer = {"ok": True, **getattr(session, command)(**request)}
            except Exception as exc:  # noqa: BLE001 - reported to the caller, which decides
                answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(answer, default=str), flush=True)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
