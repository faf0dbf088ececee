"""The ports the rendezvous tests hand to servers: never one the kernel may give another socket meanwhile
(its automatic range), never one in use, never the same one to two tests at once."""

from __future__ import annotations

import socket

import pytest

from tests import ports


def test_a_reserved_port_lies_outside_the_kernels_automatic_range_and_is_free():
    low, high = ports.ephemeral_range()
    with ports.reserved_port() as port:
        assert not low <= port <= high and port >= ports.LOWEST
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))  # free for the server it is meant for


def test_two_reservations_held_at_once_never_share_a_port(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ports, "candidates", lambda: [ports.LOWEST + 7, ports.LOWEST + 8])
    with ports.reserved_port() as first, ports.reserved_port() as second:
        assert first != second


def test_a_port_something_listens_on_is_passed_over(monkeypatch: pytest.MonkeyPatch):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        monkeypatch.setattr(ports, "candidates", lambda: [taken, ports.LOWEST + 9])
        with ports.reserved_port() as port:
            assert port == ports.LOWEST + 9
