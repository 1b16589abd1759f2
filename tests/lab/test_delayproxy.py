"""The delay proxy: the round trip it adds, what a connection costs, bytes kept whole and in order."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncssh
import pytest

from .delayproxy import parse_route
from .fleet import DELAYPROXY, LabFleet

MakeLab = Callable[..., LabFleet]
DELAY_MS = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo everything; at end of stream, say how many bytes came, then close."""
    total = 0
    while data := await reader.read(1 << 16):
        total += len(data)
        writer.write(data)
        await writer.drain()
    writer.write(f"\nEOF after {total}\n".encode())
    await writer.drain()
    writer.close()


async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Speak first, as sshd does."""
    writer.write(b"hello\n")
    await writer.drain()
    await reader.read()
    writer.close()


class Proxied:
    def __init__(self, listen: int, proc: asyncio.subprocess.Process) -> None:
        self.listen, self.proc = listen, proc

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.listen, limit=1 << 20)


async def start_proxy(target_port: int, delay_ms: float = DELAY_MS) -> Proxied:
    listen = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(DELAYPROXY), "--delay-ms", str(delay_ms), "--realtime",
        f"127.0.0.1:{listen}=127.0.0.1:{target_port}", stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 10) == b"ready\n"
    return Proxied(listen, proc)


@pytest.fixture
async def proxied_echo() -> AsyncIterator[Proxied]:
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    proxy = await start_proxy(server.sockets[0].getsockname()[1])
    try:
        yield proxy
    finally:
        proxy.proc.terminate()
        assert await asyncio.wait_for(proxy.proc.wait(), 10) == 0
        server.close()


async def round_trips(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      count: int = 25) -> list[float]:
    trips = []
    for i in range(count):
        began = time.perf_counter()
        writer.write(b"%d\n" % i)
        assert await reader.readline() == b"%d\n" % i
        trips.append((time.perf_counter() - began) * 1e3)
    return trips


async def test_round_trip_is_twice_the_delay(proxied_echo: Proxied) -> None:
    reader, writer = await proxied_echo.connect()
    await round_trips(reader, writer, 1)       # the first bytes also pay for the handshake
    trips = await round_trips(reader, writer)
    writer.close()
    # The same echo server without the proxy: what this (shared, busy) machine adds anyway.
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
    direct = await round_trips(reader, writer)
    writer.close()
    server.close()
    added = statistics.median(trips) - statistics.median(direct)
    print(f"round trips through a {DELAY_MS} ms proxy: min {min(trips):.1f}, "
          f"median {statistics.median(trips):.1f}, max {max(trips):.1f} ms; direct: median "
          f"{statistics.median(direct):.2f} ms")
    assert min(trips) >= 2 * DELAY_MS - 0.5       # never shorter than the link
    assert 2 * DELAY_MS - 0.5 <= added <= 2 * DELAY_MS + 4, added   # within a few ms of it


async def test_connecting_costs_the_handshake() -> None:
    """A server that speaks first is heard 2 round trips after connect(), as over a real link
    (SYN, SYN-ACK, ACK reach the server at 1.5 RTT; its first bytes take another 0.5)."""
    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    proxy = await start_proxy(server.sockets[0].getsockname()[1])
    try:
        began = time.perf_counter()
        reader, writer = await proxy.connect()
        assert await reader.readline() == b"hello\n"
        took = (time.perf_counter() - began) * 1e3
        writer.close()
        assert 4 * DELAY_MS - 0.5 <= took <= 4 * DELAY_MS + 20, took
    finally:
        proxy.proc.terminate()
        await proxy.proc.wait()
        server.close()


async def test_bytes_arrive_whole_and_in_order(proxied_echo: Proxied) -> None:
    payload = os.urandom(24 << 20)
    reader, writer = await proxied_echo.connect()

    async def send() -> None:
        for i in range(0, len(payload), 1 << 20):
            writer.write(payload[i:i + (1 << 20)])
            await writer.drain()
        writer.write_eof()          # a half-close travels through too: the echo answers after it

    began = time.perf_counter()
    sending = asyncio.ensure_future(send())
    back = await asyncio.wait_for(reader.read(-1), 120)
    took = time.perf_counter() - began
    await sending
    writer.close()
    assert back[:len(payload)] == payload
    assert hashlib.sha256(back[:len(payload)]).digest() == hashlib.sha256(payload).digest()
    assert back[len(payload):] == f"\nEOF after {len(payload)}\n".encode()
    print(f"24 MB there and back through the proxy in {took:.2f} s "
          f"({2 * len(payload) / took / 1e6:.0f} MB/s both ways)")
    assert took < 20, "the proxy must not limit bandwidth much"


async def test_a_dead_target_closes_the_client() -> None:
    proxy = await start_proxy(free_port())    # nothing listens there
    try:
        reader, writer = await proxy.connect()
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
    finally:
        proxy.proc.terminate()
        await proxy.proc.wait()


def test_bad_routes_are_refused_in_one_line() -> None:
    assert parse_route("127.0.0.2:2300=127.0.0.2:2200") == (("127.0.0.2", 2300),
                                                            ("127.0.0.2", 2200))
    for bad in ("127.0.0.2:2300", "127.0.0.2:x=127.0.0.2:2200", "127.0.0.2:2300=:22",
                "a:70000=b:1"):
        with pytest.raises(ValueError):
            parse_route(bad)
    done = subprocess.run([sys.executable, str(DELAYPROXY), "--delay-ms", "5", "nonsense"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "delayproxy: route 'nonsense' is not LISTEN_ADDR:PORT=TARGET_ADDR:PORT"]


@pytest.mark.lab
@pytest.mark.root
async def test_lab_hosts_behind_the_proxy(make_lab: MakeLab, tmp_path: Path) -> None:
    lab = make_lab(2, addr_base=84, load=0, rtt_ms=2 * DELAY_MS)
    assert lab.proxy_pid is not None and lab.proxy_pid != os.getpid()
    lines = lab.known_hosts.read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == ["[127.0.0.84]:2200", "[127.0.0.84]:2300",
                                               "[127.0.0.85]:2200", "[127.0.0.85]:2300"]
    inventory = lab.write_inventory(tmp_path / "inv.yml", proxied=True)
    assert "ansible_port: 2300" in inventory.read_text()

    assert lab.ssh("lab01", "echo direct", check=True).stdout == "direct\n"
    assert lab.ssh("lab01", "echo proxied", proxied=True, check=True).stdout == "proxied\n"

    host = lab.host("lab02")
    began = time.perf_counter()
    async with asyncssh.connect(host.addr, port=host.proxy_port, username="root",
                                known_hosts=str(lab.known_hosts),
                                client_keys=[str(lab.client_key)]) as conn:
        connected = time.perf_counter() - began
        began = time.perf_counter()
        assert (await conn.run("echo hi", check=True)).stdout == "hi\n"
        command = time.perf_counter() - began
    # asyncssh: TCP handshake and banners (2 round trips), key exchange, service request and
    # authentication (at least 1 each): >= 4;
    # a command: open a channel, exec, output and close: >= 2.
    print(f"through a {2 * DELAY_MS} ms RTT: connect {connected * 1e3:.0f} ms, "
          f"one command {command * 1e3:.0f} ms")
    assert connected >= 4 * 2 * DELAY_MS / 1e3 and command >= 2 * 2 * DELAY_MS / 1e3
