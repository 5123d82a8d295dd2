"""The HTTP API and the web app: one FastAPI app (``ketasim serve``).

Every endpoint returns the typed result of its CLI command (the schema at ``/openapi.json``
shows them).  Bad input is a JSON 4xx naming the field, the value and what is allowed; a
request over a limit (:class:`Limits`) is a 413, 422 or 503 with Retry-After naming it.  The
app answers only the Host headers on its allow-list, sets security headers on every
response, and counts the body bytes it receives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from ketasim import DISCLAIMER, __version__
from ketasim._memory import one_heap
from ketasim.api import errors
from ketasim.api.context import Context
from ketasim.api.jobs import JobManager, ValidationStore
from ketasim.api.limits import Limits, default_cache_dir
from ketasim.api.routers import model, pages, plan, trials, validation
from ketasim.api.security import BodyLimit, Gate, HostAllowList, SecurityHeaders, UniqueJsonKeys
from ketasim.params import ParameterSet, default_parameters


def create_app(limits: Limits | None = None, params: ParameterSet | None = None, registry: Any = None) -> Any:
    """The app (an ASGI callable): API under ``/api``, pages at ``/``, ``/how``, ``/plan``,
    ``/trial``, ``/validation``, API documentation at ``/docs``.  ``params``: the parameter
    set every endpoint uses (default: the packaged one).  ``registry`` (a
    :class:`ketasim.registry.Registry`): the clinic's pages under ``/clinic``."""
    one_heap()  # so that a request's memory is returned after it (ketasim._memory)
    lim = limits or Limits()
    p = params or default_parameters()
    jobs = JobManager(p, lim.max_running_jobs, lim.max_stored_jobs, lim.max_run_seconds)
    store = ValidationStore(p, lim.cache_dir if lim.cache_dir is not None else default_cache_dir())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()

    api = FastAPI(
        title="ketasim",
        version=__version__,
        description=f"Mechanistic simulator of ketamine and esketamine, dose to symptoms. {DISCLAIMER}",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    api.state.ketasim = Context(
        limits=lim,
        params=p,
        jobs=jobs,
        heavy=Gate("heavy", lim.max_heavy_requests, lim.retry_after_s),
        validation=store,
    )
    errors.install(api)
    for r in (model.router, plan.router, trials.router, validation.router):
        api.include_router(r)

    def job_methods(job_id: str) -> JSONResponse:
        # GET and DELETE share this path; without this route the router's 405 would list only GET
        return JSONResponse(status_code=405, content={"detail": "Method Not Allowed"}, headers={"Allow": "GET, DELETE"})

    api.add_api_route(
        "/api/trials/{job_id}",
        job_methods,
        methods=["POST", "PUT", "PATCH", "OPTIONS", "TRACE"],
        include_in_schema=False,
    )
    api.include_router(pages.router())
    if registry is not None:
        from ketasim.api.routers import clinic, clinic_api
        from ketasim.api.throttle import LoginThrottle

        throttle = LoginThrottle(lim.sign_ins_per_minute)  # one window for the pages and the API
        api.include_router(clinic.router(registry, throttle))
        api.include_router(clinic_api.router(registry, throttle))
        clinic.install_errors(api)
    api.mount("/static", StaticFiles(directory=str(pages.WEB_STATIC)), name="static")
    wrapped: ASGIApp = HostAllowList(
        SecurityHeaders(BodyLimit(UniqueJsonKeys(api), lim.max_body_bytes)), lim.allowed_hosts
    )
    return _Served(wrapped, api)


class _Served:
    """The wrapped ASGI app, with the FastAPI app's ``state`` and ``openapi`` reachable."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self._app, self.api = app, api
        self.state = api.state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI schema."""
        return self.api.openapi()
