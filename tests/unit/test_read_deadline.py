"""The body-read deadline cuts a read that waits too long, and leaves alone a socket whose read finished."""

import socket
import time

import pytest

from receiver.read_deadline import ReadDeadlines

pytestmark = pytest.mark.unit


def test_a_stalled_read_returns_at_the_deadline():
    deadlines = ReadDeadlines()
    server, client = socket.socketpair()
    with server, client:
        client.sendall(b"part of a body")
        started = time.monotonic()
        with deadlines.reading(server, 0.3) as deadline:
            received = server.recv(100)
            assert server.recv(100) == b""  # the blocked read ends: the read side was shut down
        assert received == b"part of a body"
        assert deadline is not None and deadline.expired
        assert 0.25 < time.monotonic() - started < 2
        server.sendall(b"HTTP/1.1 408")  # only reads were shut down: the answer can still be written
        assert client.recv(100) == b"HTTP/1.1 408"


def test_a_read_that_finished_in_time_leaves_the_connection_usable():
    deadlines = ReadDeadlines()
    server, client = socket.socketpair()
    with server, client:
        client.sendall(b"whole body")
        with deadlines.reading(server, 0.2) as deadline:
            assert server.recv(100) == b"whole body"
        time.sleep(0.4)  # past the deadline: nothing may touch the socket now
        assert deadline is not None and not deadline.expired
        client.sendall(b"next request")
        assert server.recv(100) == b"next request"


def test_without_a_socket_nothing_is_armed():
    with ReadDeadlines().reading(None, 0.01) as deadline:
        assert deadline is None
