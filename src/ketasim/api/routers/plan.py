"""The planner's endpoints: ``/api/plan`` and its HTML report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from ketasim.api.context import Context, context
from ketasim.api.errors import ERRORS
from ketasim.clinic.patient import PatientFile
from ketasim.clinic.plan import Plan, plan_patient

router = APIRouter(prefix="/api", tags=["planner"])
Ctx = Annotated[Context, Depends(context)]


@router.post("/plan", response_model=Plan, responses=ERRORS)
def plan(body: PatientFile, ctx: Ctx) -> Plan:
    """The ``ketasim plan`` result for a patient (body: a patient file, docs/planner.md)."""
    with ctx.heavy.slot():
        return plan_patient(body, copies=ctx.limits.forecast_copies, params=ctx.params)


@router.post(
    "/plan/report",
    response_model=None,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "HTML"}, **ERRORS},
)
def plan_report(body: PatientFile, ctx: Ctx) -> HTMLResponse:
    """The plan as the self-contained HTML report of ``ketasim plan --report``."""
    from ketasim.reporting.html import plan_html

    with ctx.heavy.slot():
        doc = plan_patient(body, copies=ctx.limits.forecast_copies, params=ctx.params)
        return HTMLResponse(plan_html(body, doc, ctx.params))
