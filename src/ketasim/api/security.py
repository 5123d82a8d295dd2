"""What stands between the network and the app: a Host allow-list (DNS rebinding), security
headers on every response, a body-size limit enforced on the bytes actually received (a
streamed, chunked body included), and a gate that turns heavy requests away with 503 and
``Retry-After`` instead of queueing them.

Written as plain ASGI middleware (no buffering of responses), outermost first:
``HostAllowList → SecurityHeaders → BodyLimit → app``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import ipaddress
import json
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ketasim.io.files import RepeatedKeyError, unique_keys

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing (RFC 9110 §9.2.1): answered whatever page sent them."""
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
"""The Host headers the server answers by default: loopback only."""
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make browsers send "Origin: null" on our own forms
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")
"""Sent on responses served over HTTPS (ASVS 9.1.1; a year, without subdomains: the
deployment's other hosts are not this app's to bind)."""
_HOST_NAME = re.compile(
    r"^(\*\.)?([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def check_host_pattern(pattern: str) -> bool:
    """True for a host name, an IP address, or ``*.domain``."""
    try:
        ipaddress.ip_address(pattern)
        return True
    except ValueError:
        return bool(_HOST_NAME.match(pattern)) and len(pattern) <= 253


def _host_of(header: str) -> str:
    """The host part of a Host header (``[::1]:8000`` → ``::1``, ``a.b:80`` → ``a.b``)."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


async def _json(send: Send, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HostAllowList:
    """400 for a Host header not on the list (loopback by default; ``*.example.org`` allowed),
    and 403 for a state-changing request whose ``Origin`` is not on it (a browser names the
    page a form or script was sent from: another site's page is refused before any cookie or
    token is read, which covers the sign-in form too; ASVS 4.2.2)."""

    def __init__(self, app: ASGIApp, hosts: Sequence[str]) -> None:
        self.app = app
        self.exact = {h.lower() for h in hosts if not h.startswith("*.")}
        self.suffixes = tuple(h[1:].lower() for h in hosts if h.startswith("*."))

    def allowed(self, host: str) -> bool:
        """True when ``host`` (without port) may be served."""
        h = host.lower()
        return h in self.exact or any(h.endswith(s) for s in self.suffixes)

    def origin_allowed(self, origin: str) -> bool:
        """True for an ``Origin`` header whose host may be served (``null`` never is)."""
        try:
            host = urlsplit(origin).hostname
        except ValueError:
            return False
        return origin != "null" and host is not None and self.allowed(host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or [])
            host = _host_of(headers.get(b"host", b"").decode("latin-1"))
            if not self.allowed(host):
                if scope["type"] == "http":
                    await _json(send, 400, f"Host {host!r} is not served here (configure allowed hosts)")
                return
            origin = headers.get(b"origin")
            unsafe = scope["type"] == "websocket" or scope.get("method") not in SAFE_METHODS
            if unsafe and origin is not None and not self.origin_allowed(origin.decode("latin-1")):
                if scope["type"] == "http":
                    await _json(send, 403, "a request from another site's page is refused (Origin not served here)")
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """CSP, X-Frame-Options, nosniff, Referrer-Policy and friends on every response; API
    responses (``/api``) are also never cached (they may hold patient data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = str(scope.get("path", "")).startswith("/api/")
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"server"]
                headers += HEADERS
                if no_store:
                    headers.append((b"cache-control", b"no-store"))
                if https:
                    headers.append(HSTS)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyTooLargeError(HTTPException):
    """The request body went over the limit while it was being received (an HTTP 413, so
    that the app's error handler answers it wherever the body is read)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body is over the limit max_body_bytes = {max_bytes}")


class BodyLimit:
    """413 for a body over ``max_bytes``: refused at once when Content-Length says so, else
    counted as it arrives (a chunked body cannot slip through)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self, size: str) -> str:
        return f"request body of {size} bytes is over the limit max_body_bytes = {self.max_bytes}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _json(send, 413 if length.isdigit() else 400, self._message(length.decode("latin-1")))
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except BodyTooLargeError as err:
            if not started:
                await _json(send, 413, str(err.detail))


class UniqueJsonKeys:
    """422 for a JSON body that gives a key twice in one object (which value was meant? JSON
    parsers keep the last silently; RFC 8259 §4 says names SHOULD be unique). The body is read
    whole — :class:`BodyLimit`, outside, bounds it — and handed on unchanged; a body that is
    not valid JSON is left to the route's own answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        if b"json" not in headers.get(b"content-type", b"").lower():
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        twice = _repeated_key(body)
        if twice is not None:
            await _json(send, 422, f"the key {twice!r} appears twice in one JSON object (which value was meant?)")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _repeated_key(body: bytes) -> str | None:
    """The first key given twice in one object of a JSON body, or None (also for bodies that
    are not JSON: the route answers those)."""
    try:
        json.loads(body, object_pairs_hook=unique_keys)
    except RepeatedKeyError as err:
        return err.key
    except (ValueError, RecursionError):
        return None
    return None


_libc: Any = None
if ctypes.util.find_library("c"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c"))
        _libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        _libc = None


def release_memory() -> None:
    """Give freed heap memory back to the operating system (glibc ``malloc_trim``), so that
    a heavy request's arrays do not stay resident after it."""
    if _libc is not None:
        _libc.malloc_trim(0)


class BusyError(Exception):
    """Every slot of a :class:`Gate` is taken."""

    def __init__(self, what: str, slots: int, retry_after_s: int) -> None:
        self.what, self.slots, self.retry_after_s = what, slots, retry_after_s
        super().__init__(f"{slots} {what} requests are already running (limit); retry in {retry_after_s} s")


class Gate:
    """At most ``slots`` heavy requests at once; the next one is refused at once
    (:class:`BusyError` → 503 with Retry-After) rather than queued with its memory."""

    def __init__(self, what: str, slots: int, retry_after_s: int = 5) -> None:
        self.what, self.slots, self.retry_after_s = what, slots, retry_after_s
        self._semaphore = threading.BoundedSemaphore(slots)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot for the block, or raise :class:`BusyError`; memory is released after."""
        if not self._semaphore.acquire(blocking=False):
            raise BusyError(self.what, self.slots, self.retry_after_s)
        try:
            yield
        finally:
            self._semaphore.release()
            release_memory()
