"""Run the review server until Ctrl-C (or SIGTERM), then stop every review app it started."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from serve.server import ReviewServer, ServeSettings


async def _serve(settings: ServeSettings, host: str, port: int, ready: Callable[[], None]) -> None:
    server = ReviewServer(settings)
    runner = web.AppRunner(server.application(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        ready()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(number, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def serve_forever(settings: ServeSettings, host: str, port: int, ready: Callable[[], None]) -> None:
    logging.getLogger("draftgate.serve").setLevel(logging.INFO)
    asyncio.run(_serve(settings, host, port, ready))
