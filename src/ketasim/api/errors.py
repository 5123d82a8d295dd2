"""Errors as the API answers them: JSON 4xx naming the field, never a traceback or a 5xx."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ketasim.api.security import BusyError
from ketasim.errors import InputError, Problem, problems_from_errors


class ErrorDetail(BaseModel):
    """A 4xx or 503 error other than a validation error."""

    detail: str


def unprocessable(problems: list[Problem], where: str = "body") -> JSONResponse:
    """422 in FastAPI's validation-error shape: ``{"detail": [{"loc", "msg", "type"}]}``."""
    detail = [
        {
            "loc": [where, *[p for p in path.replace("[", ".").replace("]", "").split(".") if p]],
            "msg": msg,
            "type": "value_error",
        }
        for path, msg in problems
    ]
    return JSONResponse(status_code=422, content={"detail": detail})


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDetail, "description": "The body is not valid JSON, or the Host is not served"},
    413: {"model": ErrorDetail, "description": "The body is over max_body_bytes"},
    422: {"description": "Validation error (names the field, the value and what is allowed)"},
    503: {
        "model": ErrorDetail,
        "description": "BusyError: every slot for this kind of request is taken; see Retry-After",
    },
}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every known error into a JSON 4xx/503."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        where = str(errors[0]["loc"][0]) if errors and errors[0].get("loc") else "body"
        body = getattr(exc, "body", None)
        return unprocessable(problems_from_errors(errors, body, skip=1), where)

    @app.exception_handler(InputError)
    async def refused(_request: Request, exc: InputError) -> JSONResponse:
        return unprocessable(exc.problems)

    @app.exception_handler(BusyError)
    async def busy(_request: Request, exc: BusyError) -> JSONResponse:
        return JSONResponse(
            status_code=503, content={"detail": str(exc)}, headers={"Retry-After": str(exc.retry_after_s)}
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": str(exc.detail)}, headers=exc.headers)
