"""A TCP proxy that delays every byte by a fixed time each way: a long link, on loopback.

    python delayproxy.py --delay-ms 50 --routes FILE     # FILE: LISTEN_ADDR:PORT=TARGET:PORT lines
    python delayproxy.py --delay-ms 50 127.0.0.2:2300=127.0.0.2:2200 ...

This kernel has no `tc netem`, so the lab's slow link is this process: one listener per lab host,
forwarding to that host's sshd (tests/lab/fleet.py: LabFleet(rtt_ms=...) or start_proxy).
Written by hand because no maintained library does it: proxies on PyPI forward or shape
bandwidth, none adds latency while keeping order.

* Every chunk read on one side is written to the other side `delay` after it arrived, in order,
  and end-of-stream (a half-close) travels the same way, so a round trip costs 2 x delay.
* A new connection reaches the target 1.5 round trips after the client connected, and the
  client's first bytes are held as if sent one round trip after connecting: what the TCP
  handshake costs on a real link, which a local connect() does not.
* No bandwidth limit beyond what one asyncio thread moves (hundreds of MB/s); at most
  BUFFER_LIMIT bytes wait in each direction, then reading from that side pauses (TCP back-pressure).

It prints `ready` on stdout once every listener is bound and runs until SIGTERM or SIGINT. It is
a process of its own so that its CPU never counts as the measured program's. Standard library
only: it starts in a few tens of milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections import deque
from collections.abc import Sequence
from pathlib import Path

CHUNK = 256 << 10
BUFFER_LIMIT = 64 << 20


class Pipe:
    """One direction of one connection: each chunk read from `src` is written `delay` later."""

    def __init__(self, src: asyncio.StreamReader, delay: float, not_before: float) -> None:
        self.src, self.delay = src, delay
        self.not_before = not_before      # loop time before which nothing counts as sent
        self.queue: deque[tuple[float, bytes]] = deque()   # (due time, data); b"" is EOF
        self.queued = 0
        self.arrived = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()

    async def read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.room.wait()
            data = await self.src.read(CHUNK)
            self.queue.append((max(loop.time(), self.not_before) + self.delay, data))
            self.queued += len(data)
            if self.queued > BUFFER_LIMIT:
                self.room.clear()
            self.arrived.set()
            if not data:
                return

    async def write(self, dst: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self.queue:
                self.arrived.clear()
                await self.arrived.wait()
            due, data = self.queue.popleft()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if dst.can_write_eof():
                    dst.write_eof()
                return
            dst.write(data)
            await dst.drain()
            self.queued -= len(data)
            if self.queued <= BUFFER_LIMIT:
                self.room.set()


class Route:
    def __init__(self, target: tuple[str, int], delay: float) -> None:
        self.target, self.delay = target, delay

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        # Bytes from the client count as sent once its handshake would have finished (1 RTT);
        # the target hears of the connection when the handshake's last packet lands (1.5 RTT).
        to_server = Pipe(client_r, self.delay, accepted + 2 * self.delay)
        tasks = [asyncio.ensure_future(to_server.read())]
        try:
            await asyncio.sleep(3 * self.delay)
            up_r, up_w = await asyncio.open_connection(*self.target, limit=CHUNK)
        except (OSError, asyncio.CancelledError):
            tasks[0].cancel()
            client_w.close()
            return
        to_client = Pipe(up_r, self.delay, 0.0)
        tasks += [asyncio.ensure_future(to_server.write(up_w)),
                  asyncio.ensure_future(to_client.read()),
                  asyncio.ensure_future(to_client.write(client_w))]
        try:
            await _until_both_ends_closed(tasks)
        except asyncio.CancelledError:
            pass        # the proxy is stopping: the connection just drops, as a link would
        finally:
            for task in tasks:
                task.cancel()
            for w in (client_w, up_w):
                w.close()


async def _until_both_ends_closed(tasks: Sequence[asyncio.Future[None]]) -> None:
    """Wait until both directions delivered their end of stream, or one side broke."""
    pending = set(tasks)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception() is not None:   # a reset: the other direction is over too
                return


def parse_route(text: str) -> tuple[tuple[str, int], tuple[str, int]]:
    listen, sep, target = text.strip().partition("=")
    if not sep:
        raise ValueError(f"route {text!r} is not LISTEN_ADDR:PORT=TARGET_ADDR:PORT")

    def addr(part: str) -> tuple[str, int]:
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"route {text!r}: {part!r} is not ADDR:PORT")
        return host, int(port)

    return addr(listen), addr(target)


async def serve(routes: list[tuple[tuple[str, int], tuple[str, int]]], delay: float) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers = []
    for (host, port), target in routes:
        route = Route(target, delay)
        servers.append(await asyncio.start_server(route.handle, host, port, backlog=1024,
                                                  reuse_address=True, limit=CHUNK))
    print("ready", flush=True)
    await stop.wait()
    for server in servers:
        server.close()


def realtime() -> None:
    """Wake up on time even on a busy machine.

    A real link's delay is spent in the kernel's network path, ahead of every user process; on
    a shared 2-core machine with a load of 20, a proxy at normal priority wakes up ~4 ms late on
    each of the two hops of a round trip. SCHED_RR at the lowest real-time priority brings that
    to about a millisecond; the kernel's real-time throttle (95% of each second) still bounds
    what a busy proxy can take from everything else.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(1))
    except (PermissionError, AttributeError, OSError) as exc:
        print(f"delayproxy: staying at normal priority ({exc})", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=float, required=True, help="one-way delay, ms")
    ap.add_argument("--routes", type=Path, help="file of LISTEN_ADDR:PORT=TARGET_ADDR:PORT lines")
    ap.add_argument("--realtime", action="store_true",
                    help="run at real-time priority (SCHED_RR 1) if allowed: see realtime()")
    ap.add_argument("route", nargs="*", help="LISTEN_ADDR:PORT=TARGET_ADDR:PORT")
    args = ap.parse_args(argv)
    if args.realtime:
        realtime()
    lines = list(args.route)
    if args.routes:
        lines += [ln for ln in args.routes.read_text().splitlines() if ln.strip()]
    try:
        routes = [parse_route(line) for line in lines]
    except ValueError as exc:
        sys.exit(f"delayproxy: {exc}")
    if not routes or args.delay_ms < 0:
        sys.exit("delayproxy: give at least one route and a delay >= 0")
    try:
        asyncio.run(serve(routes, args.delay_ms / 1000))
    except OSError as exc:
        sys.exit(f"delayproxy: cannot listen: {exc}")


if __name__ == "__main__":
    main()
