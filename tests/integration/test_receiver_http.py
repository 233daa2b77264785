"""The receiver under gunicorn, over real HTTP: hostile requests are refused and no worker dies."""

from __future__ import annotations

import socket

import pytest
import requests

from tests.harness import fixture_bytes, signed_headers

pytestmark = pytest.mark.integration


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        return sock.recv(4096)


def test_hostile_http_is_refused_without_killing_workers(pipeline):
    pipeline.start_receiver(workers=1, threads=4)
    receiver = pipeline.children["receiver"]
    url = f"{pipeline.url}/webhooks/github"
    body = fixture_bytes("webhooks/push/payload.json")

    huge_header = signed_headers(pipeline.secret, body, "push")
    huge_header["X-Padding"] = "p" * 20_000
    assert requests.post(url, data=body, headers=huge_header, timeout=10).status_code == 431  # gunicorn: too large

    def endless():
        yield b'{"pad": "'
        for _ in range(40):  # 40 MiB, chunked: no Content-Length to refuse up front
            yield b"x" * 2**20
    chunked = signed_headers(pipeline.secret, b"", "push")
    assert requests.post(url, data=endless(), headers=chunked, timeout=30).status_code == 413

    declared = signed_headers(pipeline.secret, b"", "push")
    declared["Content-Length"] = str(30 * 2**20)
    assert raw_request(pipeline.port, b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in declared.items()).encode() + b"\r\n{").startswith(b"HTTP/1.1 413")

    assert raw_request(pipeline.port, b"\x16\x03\x01garbage\r\n\r\n").startswith(b"HTTP/1.1 400")

    assert pipeline.post("push", body).status_code == 202
    assert receiver.alive()
    assert "Worker exiting" not in receiver.tail(200) and "WORKER TIMEOUT" not in receiver.tail(200)
