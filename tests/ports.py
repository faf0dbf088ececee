"""Ports for servers the tests start and cannot ask for port 0 (a rendezvous every process must know
in advance: torch's MASTER_PORT, msrun's master port, slurmctld's).

Picking a port with bind(port 0), closing it and handing it on is racy: the kernel gives that same
port to the next socket that binds or connects without one (gloo's pair sockets, an HTTP client), and
the rendezvous then fails with "address already in use". The kernel draws those ports only from
`ip_local_port_range` (32768-60999 by default), so a port outside that range is never handed out
behind our back; a lock file per port keeps two tests (or two suites on one machine) from choosing
the same one, and the port is checked free when chosen."""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

LOCKS = Path(tempfile.gettempdir()) / "dlpick-test-ports"
LOWEST = 20000  # below: the well-known and registered services a machine may run


def ephemeral_range() -> tuple[int, int]:
    """The kernel's automatic port range (Linux); the IANA default elsewhere."""
    try:
        low, high = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return 49152, 65535
    return low, high


def candidates() -> list[int]:
    low, high = ephemeral_range()
    ports = [p for p in range(LOWEST, 65536) if not low <= p <= high]
    random.shuffle(ports)
    return ports


def _bindable(port: int) -> bool:
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "0.0.0.0")):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                return False
    return True


@contextlib.contextmanager
def reserved_port() -> Iterator[int]:
    """A free TCP port outside the kernel's automatic range, locked against other tests until exit."""
    LOCKS.mkdir(exist_ok=True)
    for port in candidates()[:2000]:
        handle = os.open(LOCKS / f"{port}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            continue
        try:
            if _bindable(port):
                yield port
                return
        finally:
            os.close(handle)  # closing the descriptor releases the lock
    raise RuntimeError("no free port outside the automatic range")
