"""A small client for the parts of Superset's REST API the dashboards need: log in, import and export
bundles, look assets up, and ask for chart data.

It logs in with a user name and password (database authentication), then uses the session cookie and a
CSRF token like the web UI does, because Superset protects its import endpoints against CSRF even for
API callers.
"""

from __future__ import annotations

import io
import json
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from adapters.github_client import transport_cause
from dashboards.bundle import Bundle, DatabaseTarget
from pillarstream.errors import PillarstreamError

# A pooled connection that the server closes just as it is reused fails before the request reaches
# Superset ("Remote end closed connection without response"). Such failures of idempotent calls (GET, PUT,
# DELETE) are sent again on a fresh connection; POST is never repeated. Error answers are not retried.
_RECONNECT = Retry(total=3, connect=3, read=2, status=0, other=0, backoff_factor=0.2, raise_on_status=False)


def reconnecting_session(url: str) -> requests.Session:
    session = requests.Session()
    session.mount(url, HTTPAdapter(max_retries=_RECONNECT))
    return session


class SupersetError(PillarstreamError):
    """Superset answered with an error, or could not be reached; the message carries its answer."""

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


def rison(value: Any) -> str:
    """Rison, the URL-friendly JSON Superset's list endpoints take as ``?q=`` (only what we send)."""
    if value is None:
        return "!n"
    if value is True:
        return "!t"
    if value is False:
        return "!f"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        if (
            value
            and all(c.isalnum() or c in "-_./~" for c in value)
            and not value[0].isdigit()
            and value[0] not in "-"
        ):
            return value
        return "'" + value.replace("!", "!!").replace("'", "!'") + "'"
    if isinstance(value, list | tuple):
        return "!(" + ",".join(rison(v) for v in value) + ")"
    if isinstance(value, dict):
        return "(" + ",".join(f"{rison(k)}:{rison(v)}" for k, v in value.items()) + ")"
    raise TypeError(f"cannot encode {type(value).__name__} as rison")


class SupersetClient:
    def __init__(self, url: str, username: str, password: str, *, timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self._session: requests.Session | None = None

    # -- plumbing ---------------------------------------------------------------------------------

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/health", timeout=3).status_code == 200
        except requests.RequestException:
            return False

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = self._login()
        return self._session

    def _login(self) -> requests.Session:
        session = reconnecting_session(self.url)
        try:
            answer = session.post(
                f"{self.url}/api/v1/security/login",
                timeout=self.timeout,
                json={
                    "username": self.username,
                    "password": self.password,
                    "provider": "db",
                    "refresh": False,
                },
            )
            if answer.status_code != 200:
                raise SupersetError(
                    f"login as {self.username!r} at {self.url} failed: HTTP {answer.status_code} "
                    f"{answer.text[:300]}"
                )
            session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
            csrf = self._check(
                session.get(f"{self.url}/api/v1/security/csrf_token/", timeout=self.timeout), "csrf_token"
            )
        except requests.RequestException as exc:
            raise SupersetError(f"cannot reach Superset at {self.url} ({transport_cause(exc)})",
                                retriable=True) from exc
        # Superset checks the Referer on CSRF-protected requests over HTTPS; harmless over HTTP.
        session.headers.update({"X-CSRFToken": csrf.json()["result"], "Referer": self.url})
        return session

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One API call; an unreachable Superset or an error answer raises :class:`SupersetError`."""
        try:
            answer = self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise SupersetError(f"{method} {path} at {self.url}: {transport_cause(exc)}", retriable=True) from exc
        return self._check(answer, f"{method} {path}")

    def _check(self, answer: requests.Response, what: str) -> requests.Response:
        if answer.status_code >= 400:
            raise SupersetError(
                f"{what}: HTTP {answer.status_code} {answer.text[:2000]}", retriable=answer.status_code >= 500
            )
        return answer

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def post(self, path: str, payload: Any) -> Any:
        return self.request("POST", path, json=payload).json()

    def put(self, path: str, payload: Any) -> Any:
        return self.request("PUT", path, json=payload).json()

    def list_all(
        self, resource: str, columns: list[str], filters: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """Every row of a list endpoint (``/api/v1/<resource>/``), page by page."""
        rows: list[dict[str, Any]] = []
        page = 0
        while True:
            query: dict[str, Any] = {"columns": columns, "page": page, "page_size": 100}
            if filters:
                query["filters"] = filters
            answer = self.get(f"/api/v1/{resource}/", q=rison(query))
            rows += answer["result"]
            if len(rows) >= answer["count"] or not answer["result"]:
                return rows
            page += 1

    # -- bundles ----------------------------------------------------------------------------------

    def import_bundle(
        self, bundle: Bundle, target: DatabaseTarget, *, refresh_seconds: int | None = None
    ) -> None:
        """Creates or overwrites every database, dataset, chart and dashboard of the bundle (by UUID)."""
        data = bundle.to_zip(target, refresh_seconds=refresh_seconds)
        passwords = {bundle.database_file: target.password} if target.password else {}
        self.request(
            "POST",
            "/api/v1/assets/import/",
            files={"bundle": ("pillarstream.zip", io.BytesIO(data), "application/zip")},
            data={"passwords": json.dumps(passwords)},
        )

    def database_uri(self, database_uuid: str) -> str | None:
        """The (password-masked) SQLAlchemy URI of the database with this UUID, if Superset has it."""
        for row in self.list_all("database", ["id", "uuid"]):
            if str(row.get("uuid")) == database_uuid:
                uri = self.get(f"/api/v1/database/{row['id']}/connection")["result"]["sqlalchemy_uri"]
                return str(uri)
        return None

    def export_bundle(self, bundle: Bundle, *, extra_dashboards: list[str] | None = None) -> list[bytes]:
        """Export ZIPs of the bundle's dashboards (with their charts, datasets and database), any
        ``extra_dashboards`` (slugs or ids), and every dataset on the bundle's database, including ones
        made in the UI that no chart uses yet."""
        wanted = set(bundle.by_uuid("dashboards"))
        dashboard_ids = [
            row["id"] for row in self.list_all("dashboard", ["id", "uuid"]) if str(row["uuid"]) in wanted
        ]
        dashboard_ids += [
            self.get(f"/api/v1/dashboard/{ref}")["result"]["id"] for ref in extra_dashboards or []
        ]
        database_ids = [
            row["id"]
            for row in self.list_all("database", ["id", "uuid"])
            if str(row["uuid"]) == bundle.database_uuid
        ]
        dataset_ids = [
            row["id"]
            for row in self.list_all("dataset", ["id", "database.id"])
            if row["database"]["id"] in database_ids
        ]
        blobs = []
        if dashboard_ids:
            blobs.append(self.export_zip("dashboard", sorted(set(dashboard_ids))))
        if dataset_ids:
            blobs.append(self.export_zip("dataset", dataset_ids))
        return blobs

    def export_zip(self, resource: str, ids: list[int]) -> bytes:
        """A Superset export ZIP of ``resource`` (dashboard, dataset, chart) objects with these ids."""
        return self.request("GET", f"/api/v1/{resource}/export/", params={"q": rison(ids)}).content

    def dashboard_url(self, id_or_slug: int | str, filter_values: dict[str, Any] | None = None) -> str:
        """The dashboard's URL; with ``filter_values`` (native filter id → value) a permalink that opens it
        with those filter values instead of the defaults."""
        if not filter_values:
            return f"{self.url}/superset/dashboard/{id_or_slug}/"
        dashboard = self.get(f"/api/v1/dashboard/{id_or_slug}")["result"]
        masks = {}
        for native in json.loads(dashboard["json_metadata"]).get("native_filter_configuration", []):
            if native["id"] not in filter_values:
                continue
            value = filter_values[native["id"]]
            if native["filterType"] == "filter_time":
                extra = {"time_range": value}
            else:
                column = native["targets"][0]["column"]["name"]
                value = value if isinstance(value, list) else [value]
                extra = {"filters": [{"col": column, "op": "IN", "val": value}]}
            masks[native["id"]] = {
                "id": native["id"],
                "extraFormData": extra,
                "filterState": {"value": value},
                "ownState": {},
            }
        answer = self.post(
            f"/api/v1/dashboard/{dashboard['id']}/permalink",
            {"dataMask": masks, "activeTabs": [], "urlParams": []},
        )
        return str(answer["url"])

    # -- data -------------------------------------------------------------------------------------

    def chart_data(self, query_context: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.post("/api/v1/chart/data", query_context)
        return result
