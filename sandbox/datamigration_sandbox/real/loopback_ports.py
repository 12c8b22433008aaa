"""Free TCP ports on 127.0.0.1, taken together so they differ from each other."""

from __future__ import annotations

import contextlib
import socket


def free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def free_port_pair() -> int:
    """A free port P whose neighbour P+1 is free too (Weaviate derives the cluster data port
    from the gossip port and the raft RPC port from the raft port: P+1 each)."""
    for _ in range(50):
        (port,) = free_ports(1)
        if port >= 65535:
            continue
        with contextlib.ExitStack() as stack:
            try:
                for candidate in (port, port + 1):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
        return port
    raise OSError("no two adjacent free ports on 127.0.0.1")
