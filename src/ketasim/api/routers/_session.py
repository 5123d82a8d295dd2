"""The registry's sign-in session as both clinic routers carry it (the pages under
``/clinic`` and the JSON API under ``/api/clinic`` share it): a random token in one
HttpOnly, SameSite=Strict cookie, Secure over HTTPS, path ``/`` (ASVS 3.4.1–3.4.3)."""

from __future__ import annotations

from fastapi import Request, Response

from ketasim.registry import Actor, Registry

COOKIE = "ks_session"


def set_cookie(response: Response, request: Request, value: str, name: str = COOKIE) -> None:
    """Set a session-like cookie (the session's, or the sign-in form's CSRF token)."""
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/")


def live_session(registry: Registry, request: Request) -> tuple[Actor, str] | None:
    """(actor, CSRF token) of the request's live session, or None."""
    token = request.cookies.get(COOKIE)
    return registry.resume(token) if token else None
