"""``/api/validation``: observed vs predicted for every published target."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from ketasim.api.context import Context, context
from ketasim.api.errors import ERRORS
from ketasim.api.jobs import ValidationPending
from ketasim.trials.validation import ValidationReport

router = APIRouter(prefix="/api", tags=["validation"])
Ctx = Annotated[Context, Depends(context)]


@router.get(
    "/validation",
    response_model=ValidationReport,
    responses={202: {"model": ValidationPending, "description": "Being computed; see Retry-After"}, **ERRORS},
)
def validation(ctx: Ctx, n: Annotated[int | None, Query(ge=20, le=5000)] = None) -> Any:
    """The ``ketasim validate`` result for this server's parameters (default ``n``: the
    server's).  Computed once in the background (202 with progress meanwhile), then served
    from memory and from the disk cache."""
    size = n if n is not None else ctx.limits.validation_n
    if size > ctx.limits.max_validation_n:
        return JSONResponse(
            status_code=422,
            content={
                "detail": [{"loc": ["query", "n"], "msg": f"{size} is over max_validation_n", "type": "value_error"}]
            },
        )
    result = ctx.validation.get(size)
    if isinstance(result, ValidationPending):
        return JSONResponse(
            status_code=202, content=result.model_dump(), headers={"Retry-After": str(ctx.limits.retry_after_s)}
        )
    return result
