"""Reading a request's body: bounded in size and in time, and every way it can go wrong is the client's (4xx).

gunicorn raises its parse errors for a malformed chunked body (``InvalidChunkSize``,
``ChunkMissingTerminator``, ``NoMoreData``, ...) from the read itself, inside the application; they end
here as 400 instead of a 500 with a traceback. Under gunicorn the read has a deadline (see
:mod:`receiver.read_deadline`); the Flask test client has no socket, so there it has none.
"""

from __future__ import annotations

from flask import Request
from gunicorn.http.errors import NoMoreData, ParseException
from werkzeug.exceptions import ClientDisconnected

from pillarstream.errors import DeliveryRejected
from receiver.read_deadline import ReadDeadlines

_DEADLINES = ReadDeadlines()  # one watchdog thread per process, started on first use


def read_body(request: Request, *, limit: int, timeout_s: float) -> bytes:
    """The raw body: 413 over ``limit`` bytes, 408 when not received within ``timeout_s``, 400 when
    malformed or shorter than its Content-Length."""
    with _DEADLINES.reading(request.environ.get("gunicorn.socket"), timeout_s) as deadline:
        try:
            body = _bounded_body(request, limit)
        except (ParseException, NoMoreData, ClientDisconnected, OSError) as exc:
            if deadline is not None and deadline.expired:
                raise DeliveryRejected(408, f"body not received within {timeout_s:g} s") from exc
            raise DeliveryRejected(400, f"malformed or truncated body: {type(exc).__name__}") from exc
    # A cut read may also come back short without an error (gunicorn returns what it had).
    if deadline is not None and deadline.expired:
        raise DeliveryRejected(408, f"body not received within {timeout_s:g} s")
    if request.content_length is not None and len(body) != request.content_length:
        raise DeliveryRejected(400, "body shorter than its Content-Length")
    return body


def _bounded_body(request: Request, limit: int) -> bytes:
    """Never more than ``limit`` bytes in memory; chunked bodies (no Content-Length) too."""
    if request.content_length is not None:
        if request.content_length > limit:
            raise DeliveryRejected(413, f"body over {limit} bytes")
        return request.get_data(cache=False)
    data: bytes = request.environ["wsgi.input"].read(limit + 1)
    if len(data) > limit:
        raise DeliveryRejected(413, f"body over {limit} bytes")
    return data
