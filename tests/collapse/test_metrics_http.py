"""The metrics read (`fleetflame/connection/http.py`) against a real local HTTP server that
misbehaves: a body past the documented cap, one that never ends, a host that never answers.

(It lives here with the other bounded-resources tests of the same issue.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from fleetflame.connection import http
from fleetflame.connection.http import MAX_RESPONSE, HttpError, http_get

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
METRICS = b"# TYPE tile_pid gauge\ntile_pid{kind=\"net\",kind_id=\"0\"} 1234\n"


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    async def wrapped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client hung up first: what these tests want
        finally:
            writer.close()

    server = await asyncio.start_server(wrapped, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        server.close()
        await server.wait_closed()


async def test_a_metrics_page_is_read() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + METRICS)
        await writer.drain()

    async with serving(answer) as url:
        assert await http_get(asyncio.open_connection, url, timeout=10) == METRICS


async def test_a_body_up_to_the_cap_is_read_and_one_byte_more_is_an_error() -> None:
    head = b"HTTP/1.0 200 OK\r\n\r\n"
    for extra, ok in ((0, True), (1, False)):
        body = b"x" * (MAX_RESPONSE - len(head) + extra)

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes = body) -> None:
            writer.write(head + body)
            await writer.drain()

        async with serving(answer) as url:
            if ok:
                assert len(await http_get(asyncio.open_connection, url, timeout=30)) == len(body)
            else:
                with pytest.raises(HttpError, match=r"sent more than 32 MiB, far more than a metrics page"):
                    await http_get(asyncio.open_connection, url, timeout=30)


async def test_an_endless_body_stops_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = 0

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        writer.write(b"HTTP/1.0 200 OK\r\n\r\n")
        while True:
            writer.write(b"y" * 65536)
            sent += 65536
            await writer.drain()

    async with serving(endless) as url:
        with pytest.raises(HttpError, match="more than 32 MiB"):
            await http_get(asyncio.open_connection, url, timeout=60)
    assert MAX_RESPONSE < sent < MAX_RESPONSE + (8 << 20)  # it stopped reading soon after the cap


async def test_a_silent_host_still_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async with serving(silent) as url:
        with pytest.raises(TimeoutError):
            await http_get(asyncio.open_connection, url, timeout=0.5)


async def test_a_huge_status_line_makes_a_short_error() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.0 500 " + b"\x1b[2J" * 100_000 + b"\r\n\r\n")
        await writer.drain()

    async with serving(answer) as url:
        with pytest.raises(HttpError) as err:
            await http_get(asyncio.open_connection, url, timeout=10)
    assert len(str(err.value)) < 400 and "\x1b" not in str(err.value)


def test_the_cap_is_documented_in_the_module() -> None:
    assert http.MAX_RESPONSE == 32 << 20 and "MAX_RESPONSE" in (http.__doc__ or "")
