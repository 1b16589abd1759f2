"""A minimal HTTP/1.0 GET over any asyncio stream pair: an SSH forwarded channel or a local socket.

The metrics endpoint is read from the host itself, so the host needs no curl and the control
machine no route to the validator's metrics port. The host answers: at most MAX_RESPONSE bytes
of it are read, within the timeout, and more is an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

Opener = Callable[[str, int], Awaitable[tuple[Any, Any]]]

# A Firedancer metrics page is a few hundred kB (a gauge or a few histogram lines per tile and
# metric); 32 MiB is far above any, and small enough to hold for every host of a fleet at once.
MAX_RESPONSE = 32 << 20
READ_SIZE = 1 << 16


class HttpError(Exception):
    pass


def split_url(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise HttpError(f"metrics URL {url!r} is not an http://HOST:PORT/PATH URL")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, parts.port or 80, path


async def http_get(open_stream: Opener, url: str, timeout: float) -> bytes:
    host, port, path = split_url(url)
    async with asyncio.timeout(timeout):
        try:
            reader, writer = await open_stream(host, port)
        except (OSError, Exception) as exc:  # asyncssh raises ChannelOpenError, not OSError
            raise HttpError(f"cannot connect to {host}:{port}: {exc}") from exc
        try:
            request = f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nAccept: text/plain\r\n\r\n"
            writer.write(request.encode())
            response = bytearray()
            while chunk := await reader.read(READ_SIZE):
                response += chunk
                if len(response) > MAX_RESPONSE:
                    raise HttpError(
                        f"{url} sent more than {MAX_RESPONSE >> 20} MiB, far more than a metrics page: "
                        "check that metrics_url is the validator's Prometheus endpoint"
                    )
        finally:
            writer.close()
    head, sep, body = bytes(response).partition(b"\r\n\r\n")
    if not sep:
        raise HttpError(f"{url}: not an HTTP response")
    status_line = head.split(b"\r\n", 1)[0][:200].decode(errors="replace")  # (a host's line: for a message)
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or fields[1] != "200":
        raise HttpError(f"{url} answered {status_line!r}")
    return body
