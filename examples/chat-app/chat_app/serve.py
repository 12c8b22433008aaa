"""Runs the chat service until SIGTERM/SIGINT: what the sample Deployment's container runs."""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import signal

from aiohttp import web

from chat_app.chat_store import ChatStore
from chat_app.http_api import DRAINING, build_app
from chat_app.settings import AppSettings
from datamigration_operator.dualwrite.modes import ModeSource

log = logging.getLogger("chat-app")
# A request follows its connection within microseconds on a pod's network; this is ample.
ACCEPTED_GRACE_SECONDS = 0.5
# A shutdown still running this long after the serving delay dumps every thread's stack into
# the pod log: a hang shows where it is before the grace period's SIGKILL erases it.
SLOW_SHUTDOWN_SECONDS = 3.0


async def serve(settings: AppSettings) -> None:
    mode = ModeSource.from_env()
    store = ChatStore(settings, mode).start()
    mode.on_change(lambda old, new: log.info("migration mode %s -> %s", old, new))
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Weaviate call otherwise
    app = build_app(store)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        # reuse_port: during a rolling update the new pod may bind while the old one serves
        # (in the sandbox both share 127.0.0.1; the kernel spreads connections)
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=True)
        await site.start()
        log.info(
            "chat app on %s:%d, database %s, mode %s, DataMigration %s",
            settings.host,
            settings.port,
            settings.database,
            mode.current(),
            settings.migration,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        # Kubernetes removes the pod from its Service while SIGTERM arrives: fail readiness and
        # keep serving a moment so no request meets a closed port (terminationGracePeriodSeconds
        # must cover this delay).
        app[DRAINING].set()
        faulthandler.dump_traceback_later(settings.shutdown_delay + SLOW_SHUTDOWN_SECONDS)
        log.info("SIGTERM: serving %.1f s more while traffic moves away", settings.shutdown_delay)
        await asyncio.sleep(settings.shutdown_delay)
        # Stop listening first, then let the connections accepted just before send their
        # request: closing them at once (aiohttp's cleanup closes every connection without a
        # request in progress) would fail requests already on their way.
        await site.stop()
        await asyncio.sleep(ACCEPTED_GRACE_SECONDS)
        log.info(
            "stopping; %d outbox entries wait for the next start", store.outbox()["outboxDepth"]
        )
    finally:
        await runner.cleanup()
        store.close()
        faulthandler.cancel_dump_traceback_later()
