"""A Deployment's sandbox pods share one port on 127.0.0.1 (SO_REUSEPORT: the kernel spreads
connections among them), which stands in for its Service.

A real Service stops routing to a terminating pod; here, the pod's listener closing resets the
connections still queued on it, and a client sees "server disconnected" on a request the app
never read. Linux (5.14 and later) hands them to another listener of the port instead when
net.ipv4.tcp_migrate_req is 1: the sandbox turns it on where it may (root), the closest
stand-in for a Service dropping the endpoint. Only SO_REUSEPORT listeners are affected.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

MIGRATE_REQUESTS: Final = Path("/proc/sys/net/ipv4/tcp_migrate_req")


def hand_over_queued_connections(setting: Path = MIGRATE_REQUESTS) -> bool:
    """True when a closing listener's queued connections go to the port's other listeners."""
    try:
        if setting.read_text().strip() != "1":
            setting.write_text("1\n")
    except OSError as error:
        log.warning(
            "cannot turn on %s (%s): a rolled sandbox pod may reset connections queued on it",
            setting,
            error,
        )
        return False
    return True
