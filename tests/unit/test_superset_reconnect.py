"""The Superset client against a server that drops a kept-alive connection without answering, as a
server does when its keep-alive timer fires just as the client reuses the connection."""

import socket
import threading

import pytest
import requests

from dashboards.client import reconnecting_session

pytestmark = pytest.mark.unit


class DroppingServer:
    """Closes its first connection after reading a request; answers 200 on every later one."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        for index in range(3):
            conn, _ = self.listener.accept()
            with conn:
                self.requests.append(conn.recv(65536).split(b" ", 1)[0])
                if index > 0:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")


def test_an_idempotent_call_on_a_dropped_connection_is_sent_again():
    server = DroppingServer()
    answer = reconnecting_session(server.url).put(f"{server.url}/api/v1/chart/44", json={}, timeout=5)
    assert answer.status_code == 200 and server.requests == [b"PUT", b"PUT"]


def test_a_post_is_never_sent_twice():
    server = DroppingServer()
    with pytest.raises(requests.ConnectionError):
        reconnecting_session(server.url).post(f"{server.url}/api/v1/dashboard/import/", data=b"x", timeout=5)
    assert server.requests == [b"POST"]
