"""Virtual-trial jobs: submit, poll, cancel, download the rows; the published examples."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel

from ketasim.api.context import Context, context
from ketasim.api.errors import ERRORS, ErrorDetail, unprocessable
from ketasim.api.jobs import JobState
from ketasim.io.data import packaged, read_packaged_yaml
from ketasim.trials.design import TrialDesign, check_doses

router = APIRouter(prefix="/api", tags=["trials"])
Ctx = Annotated[Context, Depends(context)]


class JobCreated(BaseModel):
    """``POST /api/trials``."""

    job_id: str


def _no_job(job_id: str, finished: str = "") -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": f"no {finished}trial job {job_id!r}"})


@router.post("/trials", response_model=JobCreated, status_code=202, responses=ERRORS)
def submit_trial(body: TrialDesign, ctx: Ctx) -> Any:
    """Start a virtual trial (body: a design, docs/trials.md); poll ``GET /api/trials/{job_id}``."""
    check_doses(body)
    limits = ctx.limits
    courses = body.n_per_arm * len(body.arms) * body.replicates
    if courses > limits.max_patient_courses:
        return unprocessable(
            [
                (
                    "n_per_arm",
                    f"{courses} patient-courses is over the limit max_patient_courses = {limits.max_patient_courses}",
                )
            ]
        )
    job = ctx.jobs.submit(body)
    if job is None:
        return JSONResponse(
            status_code=503,
            content={"detail": f"{limits.max_running_jobs} trials are already running (limit max_running_jobs)"},
            headers={"Retry-After": str(limits.retry_after_s)},
        )
    return JSONResponse(status_code=202, content={"job_id": job.id})


@router.get("/trials/{job_id}", response_model=JobState, responses={404: {"model": ErrorDetail}})
def trial_state(job_id: str, ctx: Ctx) -> Any:
    """Status, progress 0–1 and, when done, the ``ketasim trial`` result."""
    job = ctx.jobs.get(job_id)
    return _no_job(job_id) if job is None else job.state()


@router.delete("/trials/{job_id}", response_model=JobState, responses={404: {"model": ErrorDetail}})
def cancel_trial(job_id: str, ctx: Ctx) -> Any:
    """Cancel a queued or running trial (its slot is free at once), or forget a finished one."""
    job = ctx.jobs.cancel(job_id)
    return _no_job(job_id) if job is None else job.state()


@router.get(
    "/trials/{job_id}/parquet",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/vnd.apache.parquet": {}}, "description": "Parquet rows"},
        404: {"model": ErrorDetail},
    },
)
def trial_rows(job_id: str, ctx: Ctx) -> Any:
    """The per-patient, per-assessment rows of a finished trial (Parquet)."""
    job = ctx.jobs.get(job_id)
    if job is None or job.parquet is None or not job.parquet.exists():
        return _no_job(job_id, "finished ")
    return FileResponse(job.parquet, media_type="application/vnd.apache.parquet", filename=f"trial-{job_id}.parquet")


@router.get("/trials-examples")
def trial_examples() -> dict[str, Any]:
    """The published designs of ``examples/trials`` (name → design)."""
    return {
        p.name.removesuffix(".yaml"): read_packaged_yaml(f"examples/trials/{p.name}")
        for p in sorted(packaged("examples/trials").iterdir(), key=lambda q: q.name)
        if p.name.endswith(".yaml")
    }
